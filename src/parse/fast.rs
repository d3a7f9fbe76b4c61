//! The fast path: one forward scan specialised to `orderbook`, `orderbook_delta`
//! and `odds_update`.
//!
//! It validates every byte it passes (skipped values included), so whatever it
//! accepts is valid JSON; it records strings as spans of the buffer and reads
//! numbers straight into fixed-point integers. On anything it does not fully
//! understand it returns `None` and the general path takes the frame.

use super::{parlay_timestamp_ms, Scratch};
use crate::frame::{
    resolve, BookFrame, Change, DeltaFrame, FeedState, Frame, Level, Line, MarketRef, OddsFrame,
    OddsRows, RawOddsRow, RowAction, Side, Span, WireBookState,
};
use crate::price::{Decimal, Price, Size};

/// Deepest nesting the fast path skips through (simd-json takes deeper frames).
const MAX_SKIP_DEPTH: u32 = 64;

/// The hot frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Book,
    Delta,
    OddsUpdate,
}

/// Everything the scan found, as owned values and spans (no borrow of the buffer).
#[derive(Debug, Default)]
pub(crate) struct Fields {
    kind: Option<Kind>,
    parsec_id: Option<Span>,
    outcome: Option<Span>,
    exchange: Option<Span>,
    market_id: Option<Span>,
    token_id: Option<Span>,
    title: Option<Span>,
    server_seq: Option<u64>,
    stale_after_ms: Option<u64>,
    exchange_ts_ms: Option<u64>,
    ingest_ts_ms: Option<u64>,
    book_state: Option<WireBookState>,
    feed_state: Option<FeedState>,
    tick_size: Option<Price>,
    min_order_size: Option<Size>,
    has_bids: bool,
    has_asks: bool,
    has_changes: bool,
    has_data: bool,
    sport_key: Option<Span>,
    timestamp_ms: Option<u64>,
    count: Option<u64>,
    coalesced: Option<bool>,
    truncated: Option<bool>,
}

impl Fields {
    /// Builds the frame; only called after `scan` accepted, so every span is valid UTF-8.
    pub(crate) fn into_frame<'a>(self, buf: &'a [u8], scratch: &'a Scratch) -> Frame<'a> {
        let s = |span: Option<Span>| span.map(|sp| resolve(buf, sp));
        match self.kind {
            Some(Kind::OddsUpdate) => Frame::OddsUpdate(OddsFrame {
                sport_key: s(self.sport_key).unwrap_or(""),
                timestamp_ms: self.timestamp_ms,
                count: self.count,
                rows: OddsRows {
                    buf,
                    rows: &scratch.rows,
                },
                rejected_rows: 0,
                truncated: self.truncated,
                coalesced: self.coalesced,
            }),
            kind => {
                let market = MarketRef {
                    parsec_id: s(self.parsec_id).unwrap_or(""),
                    outcome: s(self.outcome).unwrap_or("yes"),
                    exchange: s(self.exchange),
                    market_id: s(self.market_id),
                    token_id: s(self.token_id),
                };
                let server_seq = self.server_seq.unwrap_or(0);
                if kind == Some(Kind::Book) {
                    Frame::Book(BookFrame {
                        market,
                        bids: &scratch.bids,
                        asks: &scratch.asks,
                        server_seq,
                        book_state: self.book_state,
                        feed_state: self.feed_state,
                        stale_after_ms: self.stale_after_ms,
                        tick_size: self.tick_size,
                        min_order_size: self.min_order_size,
                        title: s(self.title),
                        exchange_ts_ms: self.exchange_ts_ms,
                        ingest_ts_ms: self.ingest_ts_ms,
                    })
                } else {
                    Frame::Delta(DeltaFrame {
                        market,
                        changes: &scratch.changes,
                        server_seq,
                        book_state: self.book_state,
                        feed_state: self.feed_state,
                        stale_after_ms: self.stale_after_ms,
                        exchange_ts_ms: self.exchange_ts_ms,
                        ingest_ts_ms: self.ingest_ts_ms,
                    })
                }
            }
        }
    }
}

/// Scans a whole frame; `None` hands it to the general path.
pub(crate) fn scan(buf: &[u8], scratch: &mut Scratch) -> Option<Fields> {
    let mut c = Cursor { buf, pos: 0 };
    let mut f = Fields::default();
    let mut seen: u32 = 0;
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.peek()? != b'}' {
        loop {
            let key = c.key()?;
            c.ws();
            let bit = match key {
                b"type" => {
                    let t = c.string()?;
                    f.kind = Some(match c.slice(t) {
                        b"orderbook_delta" => Kind::Delta,
                        b"orderbook" => Kind::Book,
                        b"odds_update" => Kind::OddsUpdate,
                        _ => return None,
                    });
                    0
                }
                b"parsec_id" => {
                    f.parsec_id = Some(c.string()?);
                    1
                }
                b"outcome" => {
                    f.outcome = Some(c.string()?);
                    2
                }
                b"exchange" => {
                    f.exchange = c.opt_string()?;
                    3
                }
                b"market_id" => {
                    f.market_id = c.opt_string()?;
                    4
                }
                b"token_id" => {
                    f.token_id = c.opt_string()?;
                    5
                }
                b"title" => {
                    f.title = c.opt_string()?;
                    6
                }
                b"server_seq" => {
                    f.server_seq = Some(c.u64()?);
                    7
                }
                b"stale_after_ms" => {
                    f.stale_after_ms = c.opt(Cursor::u64)?;
                    8
                }
                b"exchange_ts_ms" => {
                    f.exchange_ts_ms = c.opt(Cursor::u64)?;
                    9
                }
                b"ingest_ts_ms" => {
                    f.ingest_ts_ms = c.opt(Cursor::u64)?;
                    10
                }
                b"book_state" => {
                    f.book_state = c
                        .opt(|c| {
                            let s = c.string()?;
                            Some(match c.slice(s) {
                                b"fresh" => Some(WireBookState::Fresh),
                                b"stale" => Some(WireBookState::Stale),
                                b"needs_refresh" => Some(WireBookState::NeedsRefresh),
                                _ => None,
                            })
                        })?
                        .flatten();
                    11
                }
                b"feed_state" => {
                    f.feed_state = c
                        .opt(|c| {
                            let s = c.string()?;
                            Some(match c.slice(s) {
                                b"healthy" => Some(FeedState::Healthy),
                                b"degraded" => Some(FeedState::Degraded),
                                b"disconnected" => Some(FeedState::Disconnected),
                                _ => None,
                            })
                        })?
                        .flatten();
                    12
                }
                b"tick_size" => {
                    f.tick_size = c.opt(|c| Price::from_decimal(c.number()?).ok())?;
                    13
                }
                b"min_order_size" => {
                    f.min_order_size = c.opt(|c| Size::from_decimal(c.number()?).ok())?;
                    14
                }
                b"bids" => {
                    c.levels(&mut scratch.bids)?;
                    f.has_bids = true;
                    15
                }
                b"asks" => {
                    c.levels(&mut scratch.asks)?;
                    f.has_asks = true;
                    16
                }
                b"changes" => {
                    c.changes(&mut scratch.changes)?;
                    f.has_changes = true;
                    17
                }
                b"sport_key" => {
                    f.sport_key = Some(c.string()?);
                    18
                }
                b"timestamp" => {
                    f.timestamp_ms = c.opt(|c| parlay_timestamp_ms(c.number()?))?;
                    19
                }
                b"count" => {
                    f.count = c.opt(Cursor::u64)?;
                    20
                }
                b"coalesced" => {
                    f.coalesced = c.opt(Cursor::boolean)?;
                    21
                }
                b"truncated" => {
                    f.truncated = c.opt(Cursor::boolean)?;
                    23
                }
                b"data" => {
                    if c.peek()? != b'[' {
                        return None;
                    }
                    c.rows(&mut scratch.rows)?;
                    f.has_data = true;
                    22
                }
                _ => {
                    c.skip(0)?;
                    31
                }
            };
            if bit != 31 {
                if seen & (1 << bit) != 0 {
                    return None; // duplicate key: let the general path decide
                }
                seen |= 1 << bit;
            }
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    } else {
        c.pos += 1;
    }
    c.ws();
    if c.pos != buf.len() {
        return None;
    }
    let complete = match f.kind? {
        Kind::Book => f.parsec_id.is_some() && f.server_seq.is_some() && f.has_bids && f.has_asks,
        Kind::Delta => f.parsec_id.is_some() && f.server_seq.is_some() && f.has_changes,
        Kind::OddsUpdate => f.has_data,
    };
    complete.then_some(f)
}

struct Cursor<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline(always)]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn slice(&self, span: Span) -> &'b [u8] {
        let start = span.start as usize;
        &self.buf[start..start + span.len as usize]
    }

    /// A string without escapes; returns its span (contents only).
    #[inline(always)]
    fn string(&mut self) -> Option<Span> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let rest = self.buf.get(start..)?;
        let mut high = 0u8;
        let mut len = None;
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'"' => {
                    len = Some(i);
                    break;
                }
                b'\\' | 0..=0x1f => return None,
                _ => high |= b,
            }
        }
        let len = len?;
        if high >= 0x80 {
            std::str::from_utf8(&rest[..len]).ok()?;
        }
        self.pos = start + len + 1;
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(len).ok()?,
        })
    }

    /// An object key followed by `:`.
    #[inline(always)]
    fn key(&mut self) -> Option<&'b [u8]> {
        let span = self.string()?;
        self.ws();
        self.eat(b':')?;
        Some(self.slice(span))
    }

    #[inline(always)]
    fn opt_string(&mut self) -> Option<Option<Span>> {
        self.opt(Cursor::string)
    }

    /// `null` → `Some(None)`; otherwise the value parsed by `f`.
    #[inline(always)]
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(None)
        } else {
            f(self).map(Some)
        }
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.buf.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    #[inline(always)]
    fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| true),
            b'f' => self.literal(b"false").map(|_| false),
            _ => None,
        }
    }

    #[inline(always)]
    fn number(&mut self) -> Option<Decimal> {
        let (d, used) = Decimal::parse_prefix(self.buf.get(self.pos..)?)?;
        self.pos += used;
        Some(d)
    }

    /// An unsigned integer in plain integer syntax (no sign, fraction or exponent).
    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 || (digits > 1 && self.buf[start] == b'0') {
            return None;
        }
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(v),
        }
    }

    /// A signed integer in plain integer syntax that fits an `i32` (American odds).
    #[inline(always)]
    fn i32(&mut self) -> Option<i32> {
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let v = i64::try_from(self.u64()?).ok()?;
        i32::try_from(if negative { -v } else { v }).ok()
    }

    #[inline(always)]
    fn line(&mut self) -> Option<Line> {
        Line::from_decimal(self.number()?).ok()
    }

    /// `[[price,size],...]` into `out`.
    fn levels(&mut self, out: &mut Vec<Level>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.eat(b'[')?;
            self.ws();
            let price = Price::from_decimal(self.number()?).ok()?;
            self.ws();
            self.eat(b',')?;
            self.ws();
            let size = Size::from_decimal(self.number()?).ok()?;
            self.ws();
            self.eat(b']')?;
            out.push(Level { price, size });
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// `[{"side":..,"price":..,"size":..},...]` into `out`.
    fn changes(&mut self, out: &mut Vec<Change>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            out.push(self.change()?);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn change(&mut self) -> Option<Change> {
        self.eat(b'{')?;
        self.ws();
        let (mut side, mut price, mut size) = (None, None, None);
        if self.peek()? == b'}' {
            return None;
        }
        loop {
            let key = self.key()?;
            self.ws();
            match key {
                b"side" if side.is_none() => {
                    let s = self.string()?;
                    side = Some(match self.slice(s) {
                        b"bid" => Side::Bid,
                        b"ask" => Side::Ask,
                        _ => return None,
                    });
                }
                b"price" if price.is_none() => {
                    price = Some(Price::from_decimal(self.number()?).ok()?);
                }
                b"size" if size.is_none() => {
                    size = Some(Size::from_decimal(self.number()?).ok()?);
                }
                b"side" | b"price" | b"size" => return None,
                _ => self.skip(1)?,
            }
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => break,
                _ => return None,
            }
        }
        Some(Change {
            side: side?,
            price: price?,
            size: size?,
        })
    }

    /// `[{row},...]` into `out` (both row shapes of PROTOCOL.md B2).
    fn rows(&mut self, out: &mut Vec<RawOddsRow>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            out.push(self.row()?);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn row(&mut self) -> Option<RawOddsRow> {
        self.eat(b'{')?;
        self.ws();
        let mut r = RawOddsRow::default();
        let mut seen: u32 = 0;
        if self.peek()? == b'}' {
            return None;
        }
        loop {
            let key = self.key()?;
            self.ws();
            let bit = match key {
                b"event_id" => {
                    r.event_id = Some(self.string()?);
                    0
                }
                b"bookmaker" => {
                    r.bookmaker = Some(self.string()?);
                    1
                }
                b"market_key" => {
                    r.market_key = self.opt_string()?;
                    2
                }
                b"outcome" => {
                    r.outcome = self.opt_string()?;
                    3
                }
                b"price_american" => {
                    r.price_american = self.opt(Cursor::i32)?;
                    4
                }
                b"point" => {
                    r.point = self.opt(Cursor::line)?;
                    5
                }
                b"timestamp" => {
                    r.timestamp_ms = self.opt(|c| parlay_timestamp_ms(c.number()?))?;
                    6
                }
                b"kind" => {
                    r.kind = self.opt_string()?;
                    7
                }
                b"home_team" => {
                    r.home_team = self.opt_string()?;
                    8
                }
                b"away_team" => {
                    r.away_team = self.opt_string()?;
                    9
                }
                b"commence_time" => {
                    r.commence_time = self.opt_string()?;
                    10
                }
                b"last_update" => {
                    r.last_update_ms = self.opt(Cursor::u64)?;
                    11
                }
                b"home_ml" => {
                    r.home_ml = self.opt(Cursor::i32)?;
                    12
                }
                b"away_ml" => {
                    r.away_ml = self.opt(Cursor::i32)?;
                    13
                }
                b"home_spread" => {
                    r.home_spread = self.opt(Cursor::line)?;
                    14
                }
                b"away_spread" => {
                    r.away_spread = self.opt(Cursor::line)?;
                    15
                }
                b"total" => {
                    r.total = self.opt(Cursor::line)?;
                    16
                }
                b"player" => {
                    r.player = self.opt_string()?;
                    17
                }
                b"line" => {
                    r.line = self.opt(Cursor::line)?;
                    18
                }
                b"over_price" => {
                    r.over_price = self.opt(Cursor::i32)?;
                    19
                }
                b"under_price" => {
                    r.under_price = self.opt(Cursor::i32)?;
                    20
                }
                b"action" => {
                    r.action = self.opt(|c| {
                        let s = c.string()?;
                        match c.slice(s) {
                            b"upsert" => Some(RowAction::Upsert),
                            b"remove" => Some(RowAction::Remove),
                            _ => None,
                        }
                    })?;
                    21
                }
                b"available" => {
                    r.available = self.opt(Cursor::boolean)?;
                    22
                }
                _ => {
                    self.skip(2)?;
                    31
                }
            };
            if bit != 31 {
                if seen & (1 << bit) != 0 {
                    return None;
                }
                seen |= 1 << bit;
            }
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => break,
                _ => return None,
            }
        }
        (r.event_id.is_some() && r.bookmaker.is_some()).then_some(r)
    }

    /// Skips (and validates) any JSON value.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_SKIP_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                self.pos += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip_string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => {
                let d = self.number()?;
                // Numbers simd-json would reject or read differently stay with it.
                (d.exponent.unsigned_abs() < 300).then_some(())
            }
        }
    }

    /// Skips a string, escapes included (validated, not decoded).
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut high = 0u8;
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let hex = self.buf.get(self.pos..self.pos + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        // Surrogates need pairing rules: leave them to simd-json.
                        if matches!(hex[0], b'd' | b'D') && !matches!(hex[1], b'0'..=b'7') {
                            return None;
                        }
                        self.pos += 4;
                    }
                    _ => return None,
                },
                0..=0x1f => return None,
                b => high |= b,
            }
        }
        if high >= 0x80 {
            std::str::from_utf8(&self.buf[start..self.pos - 1]).ok()?;
        }
        Some(())
    }
}
