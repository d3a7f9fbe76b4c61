//! The fast path: one forward scan specialised to `orderbook`, `orderbook_delta`
//! and `odds_update`.
//!
//! It validates every byte it passes (skipped values included), so whatever it
//! accepts is valid JSON and valid UTF-8; it records strings as spans of the
//! buffer, recognises keys by their length and first eight bytes, and reads
//! plain decimals straight into fixed-point integers (exponents and long
//! fractions take the exact [`Decimal`] route). On anything it does not fully
//! understand it returns `None` and the general path takes the frame.

use super::text::{self, Validated};
use super::{parlay_timestamp_ms, Scratch};
use crate::frame::{
    BookFrame, Change, DeltaBody, DeltaFrame, FeedState, Frame, Level, Line, MarketRef, OddsFrame,
    OddsRows, RawOddsRow, RowAction, Side, Span, WireBookState,
};
use crate::price::{Decimal, Price, Size, UNITS_PER_ONE};

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
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fields {
    kind: Option<Kind>,
    parsec_id: Option<Span>,
    outcome: Option<Span>,
    exchange: Option<Span>,
    market_id: Option<Span>,
    token_id: Option<Span>,
    title: Option<Span>,
    /// An escaped title, decoded into `Scratch::text` (start, length).
    title_text: Option<(u32, u32)>,
    server_seq: Option<u64>,
    stale_after_ms: Option<u64>,
    exchange_ts_ms: Option<u64>,
    ingest_ts_ms: Option<u64>,
    book_state: Option<WireBookState>,
    feed_state: Option<FeedState>,
    tick_size: Option<Price>,
    min_order_size: Option<Size>,
    sport_key: Option<Span>,
    timestamp_ms: Option<u64>,
    count: Option<u64>,
    coalesced: Option<bool>,
    truncated: Option<bool>,
    since: Option<u64>,
    /// A top-level `kind` other than "snapshot" (an `orderbook` with one
    /// goes to the general path, which refuses it).
    other_kind: bool,
    /// Bit per known key seen (duplicates go to the general path).
    seen: u32,
    proof: Option<Validated>,
    /// The [`MarketToken`] of the variant whose runs read the frame (0: none).
    market_token: MarketToken,
}

/// Names the market (`parsec_id` and `outcome`, byte for byte) of every frame
/// read through one build of a variant's runs, whose bytes fix both strings:
/// the store maps it to the market's book without hashing or comparing the
/// strings. Unique in the process (never reused, not even by another parser),
/// so a token seen before always means the same two strings. 0: no token.
pub(crate) type MarketToken = u64;

/// The next [`MarketToken`] handed to a variant build (builds are rare: a
/// market's first frames, or its strings changing).
static NEXT_MARKET_TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_market_token() -> MarketToken {
    NEXT_MARKET_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

const SEEN_BIDS: u32 = 1 << 15;
const SEEN_ASKS: u32 = 1 << 16;
const SEEN_CHANGES: u32 = 1 << 17;
const SEEN_DATA: u32 = 1 << 22;

impl Fields {
    /// The market token of the frame just scanned (0: none).
    #[inline(always)]
    pub(crate) fn market_token(&self) -> MarketToken {
        self.market_token
    }

    /// The body of a delta read through runs that fixed its market, with
    /// the market's token; `None` for any other frame. Only after `scan`.
    #[inline(always)]
    pub(crate) fn marked_delta<'a>(
        &self,
        scratch: &'a Scratch,
    ) -> Option<(MarketToken, DeltaBody<'a>)> {
        if self.kind != Some(Kind::Delta) || self.market_token == 0 {
            return None;
        }
        Some((
            self.market_token,
            DeltaBody {
                changes: &scratch.changes,
                server_seq: self.server_seq.unwrap_or(0),
                book_state: self.book_state,
                feed_state: self.feed_state,
                stale_after_ms: self.stale_after_ms,
                exchange_ts_ms: self.exchange_ts_ms,
                ingest_ts_ms: self.ingest_ts_ms,
            },
        ))
    }

    /// Builds the frame; only called after `scan` accepted `buf`.
    #[inline(always)]
    pub(crate) fn frame<'a>(&self, buf: &'a [u8], scratch: &'a Scratch) -> Frame<'a> {
        let text = match self.proof {
            Some(proof) => text::as_str(buf, proof),
            None => std::str::from_utf8(buf).unwrap_or(""),
        };
        let s = |span: Option<Span>| {
            span.and_then(|sp| text.get(sp.start as usize..(sp.start + sp.len) as usize))
        };
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
                since_ms: self.since,
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
                        title: match self.title_text {
                            Some((start, len)) => scratch
                                .text
                                .get(start as usize..(start + len) as usize)
                                .and_then(|t| std::str::from_utf8(t).ok()),
                            None => s(self.title),
                        },
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

/// The first eight bytes of a key as a little-endian word (zero-padded).
const fn word(key: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < key.len() && i < 8 {
        w |= (key[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

macro_rules! keys {
    ($($name:ident = $text:literal;)*) => {
        $(const $name: (usize, u64) = ($text.len(), word($text));)*
    };
}

keys! {
    K_TYPE = b"type";
    K_PARSEC_ID = b"parsec_id";
    K_OUTCOME = b"outcome";
    K_EXCHANGE = b"exchange";
    K_MARKET_ID = b"market_id";
    K_TOKEN_ID = b"token_id";
    K_TITLE = b"title";
    K_SERVER_SEQ = b"server_seq";
    K_STALE_AFTER_MS = b"stale_after_ms";
    K_EXCHANGE_TS_MS = b"exchange_ts_ms";
    K_INGEST_TS_MS = b"ingest_ts_ms";
    K_BOOK_STATE = b"book_state";
    K_FEED_STATE = b"feed_state";
    K_TICK_SIZE = b"tick_size";
    K_MIN_ORDER_SIZE = b"min_order_size";
    K_BIDS = b"bids";
    K_ASKS = b"asks";
    K_CHANGES = b"changes";
    K_SPORT_KEY = b"sport_key";
    K_TIMESTAMP = b"timestamp";
    K_COUNT = b"count";
    K_COALESCED = b"coalesced";
    K_TRUNCATED = b"truncated";
    K_DATA = b"data";
    K_SINCE = b"since";
    K_KIND = b"kind";
    K_SIDE = b"side";
    K_PRICE = b"price";
    K_SIZE = b"size";
}

/// Which field a top-level key names: the bit it sets in `Fields::seen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Field {
    Type = 0,
    ParsecId = 1,
    Outcome = 2,
    Exchange = 3,
    MarketId = 4,
    TokenId = 5,
    Title = 6,
    ServerSeq = 7,
    StaleAfterMs = 8,
    ExchangeTsMs = 9,
    IngestTsMs = 10,
    BookState = 11,
    FeedState = 12,
    TickSize = 13,
    MinOrderSize = 14,
    Bids = 15,
    Asks = 16,
    Changes = 17,
    SportKey = 18,
    Timestamp = 19,
    Count = 20,
    Coalesced = 21,
    Data = 22,
    Truncated = 23,
    Since = 24,
    /// `kind`: an `orderbook` with another than "snapshot" goes to the
    /// general path, which refuses it (other frames carry none to check).
    Kind = 25,
    /// Any other key: its value is skipped (and validated).
    Unknown = 31,
}

impl Field {
    /// Numbers that stay the same from frame to frame of a market (its
    /// grid, its minimum order, its staleness bound): a template folds
    /// them into its runs, as it does the market's strings.
    #[inline(always)]
    fn is_stable_number(self) -> bool {
        matches!(
            self,
            Field::StaleAfterMs | Field::TickSize | Field::MinOrderSize
        )
    }
}

/// Where one value lay in a scanned frame (for learning its template).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueSpan {
    start: u32,
    end: u32,
    field: Field,
}

impl ValueSpan {
    /// The value's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }
}

/// Where the top-level `data` value of a `wallet_activity` frame lies, read
/// before the general parser rewrites escapes in place (PROTOCOL.md keeps
/// `data` as raw JSON, which the parsed tape no longer is). `None` for any
/// other type, or a frame this walk does not read (an escaped key or type,
/// invalid JSON): the general parser decides then. The first `data` key
/// wins. Walks only as far as it must: a frame whose `type` comes first and
/// is another ends there.
pub(crate) fn wallet_data_span(buf: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut c = Cursor { buf, pos: 0 };
    c.ws();
    c.eat(b'{')?;
    let (mut wallet, mut data) = (false, None);
    loop {
        c.ws();
        let key = c.string()?;
        c.ws();
        c.eat(b':')?;
        c.ws();
        let start = c.pos;
        match c.slice(key) {
            b"type" => {
                let kind = c.string()?;
                if c.slice(kind) != b"wallet_activity" {
                    return None;
                }
                wallet = true;
            }
            b"data" if data.is_none() => {
                c.skip_raw()?;
                data = Some(start..c.pos);
            }
            _ => c.skip_raw()?,
        }
        if wallet && data.is_some() {
            return data;
        }
        c.ws();
        if c.next()? != b',' {
            return None;
        }
    }
}

/// Scans a whole frame; `None` hands it to the general path. With `record`,
/// also notes where each value lay, so the frame's shape can become a template.
pub(crate) fn scan(
    buf: &[u8],
    scratch: &mut Scratch,
    f: &mut Fields,
    mut record: Option<&mut Vec<ValueSpan>>,
) -> Option<()> {
    let mut c = Cursor { buf, pos: 0 };
    *f = Fields::default();
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.peek()? == b'}' {
        return None; // no type
    }
    loop {
        let key = c.key()?;
        c.ws();
        let field = c.field(key);
        let start = c.pos;
        if field == Field::Type {
            let t = c.string()?;
            f.kind = Some(match c.slice(t) {
                b"orderbook_delta" => Kind::Delta,
                b"orderbook" => Kind::Book,
                b"odds_update" => Kind::OddsUpdate,
                _ => return None,
            });
            f.mark(Field::Type)?;
        } else {
            value(&mut c, field, f, scratch)?;
            if let Some(r) = record.as_deref_mut() {
                r.push(ValueSpan {
                    start: u32::try_from(start).ok()?,
                    end: u32::try_from(c.pos).ok()?,
                    field,
                });
            }
        }
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    c.ws();
    if c.pos != buf.len() {
        return None;
    }
    f.finish(buf)
}

impl Fields {
    /// Nothing read yet of a frame of a template's shape (its type and its fields' bits known).
    #[inline(always)]
    fn of_shape(kind: Option<Kind>, seen: u32) -> Fields {
        Fields {
            kind,
            seen,
            ..Fields::default()
        }
    }

    /// Sets a field's bit; `None` if it was already set (a duplicate key).
    #[inline(always)]
    fn mark(&mut self, field: Field) -> Option<()> {
        if field == Field::Unknown {
            return Some(());
        }
        let bit = 1u32 << field as u32;
        if self.seen & bit != 0 {
            return None; // duplicate key: let the general path decide
        }
        self.seen |= bit;
        Some(())
    }

    /// Checks the frame has what its type requires and attaches the UTF-8 proof.
    #[inline(always)]
    fn finish(&mut self, buf: &[u8]) -> Option<()> {
        let complete = match self.kind? {
            Kind::Book => {
                !self.other_kind
                    && self.parsec_id.is_some()
                    && self.server_seq.is_some()
                    && self.seen & (SEEN_BIDS | SEEN_ASKS) == SEEN_BIDS | SEEN_ASKS
            }
            Kind::Delta => {
                self.parsec_id.is_some()
                    && self.server_seq.is_some()
                    && self.seen & SEEN_CHANGES != 0
            }
            Kind::OddsUpdate => self.seen & SEEN_DATA != 0,
        };
        if !complete {
            return None;
        }
        self.proof = Some(Validated::new_after_full_scan(buf));
        Some(())
    }
}

/// Parses the value of `field` at the cursor into `f` (the same code for the
/// generic scan and for templates, so both accept exactly the same values).
#[inline(always)]
fn value(c: &mut Cursor<'_>, field: Field, f: &mut Fields, scratch: &mut Scratch) -> Option<()> {
    value_unmarked(c, field, f, scratch)?;
    f.mark(field)
}

/// [`value`] without noting the field as seen (a template's fields are
/// distinct by construction; it sets all their bits at once).
#[inline(always)]
fn value_unmarked(
    c: &mut Cursor<'_>,
    field: Field,
    f: &mut Fields,
    scratch: &mut Scratch,
) -> Option<()> {
    match field {
        Field::Type => return None, // only as part of a template's literal
        Field::ParsecId | Field::Outcome | Field::SportKey => {
            let span = c.string()?;
            apply_string(c, field, span, f)?;
        }
        Field::Title if c.peek()? == b'"' => {
            // Titles are free text and often escaped (quotes, \u2019 from
            // ASCII-only serialisers): decode them here rather than leave the
            // whole snapshot to the slow path.
            let start = c.pos;
            match c.string() {
                Some(span) => f.title = Some(span),
                None => {
                    c.pos = start;
                    f.title_text = Some(c.detached(|c| c.escaped_string(&mut scratch.text))?);
                }
            }
        }
        Field::Exchange
        | Field::MarketId
        | Field::TokenId
        | Field::Title
        | Field::BookState
        | Field::FeedState
        | Field::Kind => {
            if !c.null()? {
                let span = c.string()?;
                apply_string(c, field, span, f)?;
            }
        }
        Field::ServerSeq => f.server_seq = Some(c.u64()?),
        Field::ExchangeTsMs => f.exchange_ts_ms = c.opt_u64()?,
        Field::IngestTsMs => f.ingest_ts_ms = c.opt_u64()?,
        Field::StaleAfterMs | Field::TickSize | Field::MinOrderSize => {
            stable_value(c, field, f)?;
        }
        Field::Bids => c.detached(|c| c.levels(&mut scratch.bids))?,
        Field::Asks => c.detached(|c| c.levels(&mut scratch.asks))?,
        Field::Changes => c.detached(|c| c.changes(&mut scratch.changes))?,
        Field::Timestamp => {
            f.timestamp_ms = if c.null()? {
                None
            } else {
                Some(c.detached(|c| parlay_timestamp_ms(c.number()?))?)
            }
        }
        Field::Count => f.count = c.opt_u64()?,
        Field::Coalesced => f.coalesced = c.opt(Cursor::boolean)?,
        Field::Truncated => f.truncated = c.opt(Cursor::boolean)?,
        Field::Since => f.since = c.opt_u64()?,
        Field::Data => {
            if c.peek()? != b'[' {
                return None;
            }
            c.detached(|c| c.rows(&mut scratch.rows))?;
        }
        Field::Unknown => c.detached(|c| c.skip(0))?,
    }
    Some(())
}

/// The value of a stable number field (`text`: its bytes as written, the
/// whole of them) into `f`; `None` if `text` is not one such value.
fn stable_number(text: &[u8], field: Field, f: &mut Fields) -> Option<()> {
    let mut c = Cursor { buf: text, pos: 0 };
    stable_value(&mut c, field, f)?;
    (c.pos == text.len()).then_some(())
}

/// The value of a stable number field (see [`Field::is_stable_number`]) at
/// the cursor into `f`; `None` for a bad value or another field.
#[inline(always)]
fn stable_value(c: &mut Cursor<'_>, field: Field, f: &mut Fields) -> Option<()> {
    match field {
        Field::StaleAfterMs => f.stale_after_ms = c.opt_u64()?,
        Field::TickSize => {
            f.tick_size = if c.null()? {
                None
            } else {
                Some(Price::from_units(c.units()?).ok()?)
            }
        }
        Field::MinOrderSize => {
            f.min_order_size = if c.null()? {
                None
            } else {
                Some(Size::from_units(c.units()?))
            }
        }
        _ => return None,
    }
    Some(())
}

/// Stores a string value of a string-typed field (`None` for other fields).
/// Used for freshly scanned strings and for memo hits alike.
#[inline(always)]
fn apply_string(c: &Cursor<'_>, field: Field, span: Span, f: &mut Fields) -> Option<()> {
    apply_string_text(c.slice(span), field, span, f)
}

/// [`apply_string`] with the string's bytes (`text`, at `span`) given.
#[inline(always)]
fn apply_string_text(text: &[u8], field: Field, span: Span, f: &mut Fields) -> Option<()> {
    match field {
        Field::ParsecId => f.parsec_id = Some(span),
        Field::Outcome => f.outcome = Some(span),
        Field::SportKey => f.sport_key = Some(span),
        Field::Exchange => f.exchange = Some(span),
        Field::MarketId => f.market_id = Some(span),
        Field::TokenId => f.token_id = Some(span),
        Field::Title => f.title = Some(span),
        Field::BookState => {
            f.book_state = match text {
                b"fresh" => Some(WireBookState::Fresh),
                b"stale" => Some(WireBookState::Stale),
                b"needs_refresh" => Some(WireBookState::NeedsRefresh),
                _ => None,
            }
        }
        Field::FeedState => {
            f.feed_state = match text {
                b"healthy" => Some(FeedState::Healthy),
                b"degraded" => Some(FeedState::Degraded),
                b"disconnected" => Some(FeedState::Disconnected),
                _ => None,
            }
        }
        Field::Kind => f.other_kind = text != b"snapshot",
        // A string where nobody reads the field: nothing to store.
        Field::Unknown => {}
        _ => return None,
    }
    Some(())
}

/// Longest string value a template remembers per slot.
const MAX_MEMO: usize = 128;

/// One value of a template.
#[derive(Debug, Clone)]
struct Slot {
    /// Where the literal before this value ends in `Template::bytes`.
    lit_end: u32,
    field: Field,
    /// The last value seen here, already validated: a string's contents, or
    /// for a stable number's field (see [`Field::is_stable_number`], whose
    /// value the slot scan accepts only as a number or `null`) its bytes as written.
    memo: Vec<u8>,
    /// Whether `memo` holds one (an empty string is a value too: Kalshi's `token_id`).
    remembered: bool,
}

impl Slot {
    /// Whether the slot remembers a string (its contents between quotes).
    #[inline(always)]
    fn remembers_string(&self) -> bool {
        self.remembered && !self.field.is_stable_number()
    }
}

/// The first eight digits of an integer (as bytes and as their value), which
/// the next frame's integer in the same place most likely starts with too.
#[derive(Debug, Default, Clone, Copy)]
struct Leading {
    /// The eight ASCII digits as a little-endian word (0: none yet).
    word: u64,
    value: u64,
}

/// A stretch of a template's expected bytes: literals with the remembered
/// string values between them, up to the next value that must be parsed.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// End of the run in `Template::expected`.
    end: u32,
    /// The remembered strings inside the run: `Template::run_memos[memo_from..memo_to]`.
    memo_from: u32,
    memo_to: u32,
    /// The field of the value that follows the run (`None` after the last run).
    value: Option<Field>,
    /// For an integer: its first eight digits in this market's last frame.
    leading: Leading,
}

/// A remembered string inside a run: its field, and where its contents lie
/// from the run's start.
#[derive(Debug, Clone, Copy)]
struct RunMemo {
    field: Field,
    offset: u32,
    len: u32,
}

/// Most misses of a variant between its rebuilds when rebuilding keeps failing.
const MAX_REBUILD_AFTER: u32 = 1024;

/// Variants of a template's runs (one per market, by a hash of the bytes
/// where the market's ids are), in sets of four: a market may use any of its
/// set's four, found by a tag (more bits of the same hash), so up to four
/// markets that hash to one set all get theirs, each at the first try.
const VARIANTS: usize = 32;
const VALID_TAG: u16 = 0x100;
const WAYS: usize = 4;
const SETS: usize = VARIANTS / WAYS;

/// Most bytes of the market's ids hashed to choose a variant (a real
/// Polymarket `parsec_id` is 77 bytes; its `outcome` follows the exchange).
const MAX_KEY_LEN: usize = 128;

/// The runs of one market (or of whatever strings a frame had when they were built).
#[derive(Debug, Default, Clone)]
struct RunSet {
    /// Literals and remembered strings, run after run.
    expected: Vec<u8>,
    runs: Vec<Run>,
    run_memos: Vec<RunMemo>,
    /// The fields every frame read through these runs starts from: the
    /// shape's, with the remembered strings that need no per-frame work
    /// already applied (the first run's, whose spans are at fixed offsets
    /// from the frame's start, and `book_state` and `feed_state`, whose
    /// values are parsed once here); `run_memos` holds only the rest. Its
    /// market token is this build's when the runs fix `parsec_id` and `outcome`.
    base: Fields,
    /// Frames read through these runs since they were built.
    hits: u32,
    /// Frames that missed since they were built (or last hit).
    misses: u32,
    /// Misses before the next rebuild: doubles while builds go unused.
    rebuild_after: u32,
    /// `Template::clock` at the last build or hit (the older of a set's two is replaced).
    used: u64,
}

/// A frame shape learned from a frame the generic scan accepted: the literal
/// bytes between values (keys, punctuation, whitespace and the `type` value)
/// and which field each value is. A frame of the same shape is then read by
/// comparing the literals word by word and parsing only the values.
///
/// String values that repeat (the market's ids, `book_state`, ...) are
/// folded into the literals: a frame of a market seen before is then a few
/// long comparisons ("runs") and the numbers between them. Each market gets
/// its own runs (a variant, chosen by a hash of the bytes where its ids are),
/// so markets interleaved frame by frame all take this route. A run that
/// differs (new strings, or two markets sharing a variant) hands the frame
/// to the slot-by-slot scan, whose strings then rebuild the variant, less
/// and less often while rebuilding does not pay.
#[derive(Debug, Default, Clone)]
pub(crate) struct Template {
    kind: Option<Kind>,
    /// Every literal, concatenated.
    bytes: Vec<u8>,
    /// One per value, in frame order.
    slots: Vec<Slot>,
    /// `Fields::seen` of every frame of this shape (its fields are distinct).
    seen: u32,
    /// For least-recently-used replacement.
    pub(crate) last_used: u64,
    variants: Vec<RunSet>,
    /// `VALID_TAG | tag` of each built variant (0: unbuilt, or built before
    /// the template was last learned), side by side
    /// so that finding a frame's variant reads one cache line, not four
    /// `RunSet`s.
    way_tags: [u16; VARIANTS],
    /// Where the hashed bytes start (the first value, a string) and how
    /// many there are (0: a single variant); decided at the first build.
    key_at: u32,
    key_len: u32,
    key_decided: bool,
    /// Frames scanned (for `RunSet::used`).
    clock: u64,
}

impl Template {
    /// Learns the shape of `buf`, which `scan` just accepted with `values` recorded.
    pub(crate) fn learn(&mut self, buf: &[u8], values: &[ValueSpan], fields: &Fields) {
        self.kind = fields.kind;
        self.seen = fields.seen;
        self.bytes.clear();
        let mut n = 0;
        let mut from = 0usize;
        for v in values {
            let (start, end) = (v.start as usize, v.end as usize);
            self.bytes
                .extend_from_slice(buf.get(from..start).unwrap_or(&[]));
            let lit_end = self.bytes.len() as u32;
            // Reuse the slots' memo buffers (no allocation once warmed up).
            match self.slots.get_mut(n) {
                Some(slot) => {
                    slot.lit_end = lit_end;
                    slot.field = v.field;
                    slot.memo.clear();
                    slot.remembered = false;
                }
                None => self.slots.push(Slot {
                    lit_end,
                    field: v.field,
                    memo: Vec::new(),
                    remembered: false,
                }),
            }
            n += 1;
            from = end;
        }
        self.slots.truncate(n);
        self.bytes.extend_from_slice(buf.get(from..).unwrap_or(&[]));
        // The next frame goes slot by slot, remembering its strings; its runs follow.
        self.way_tags = [0; VARIANTS];
        self.key_decided = false;
        self.key_at = 0;
        self.key_len = 0;
    }

    /// The first variant of the set for the frame in `buf`, and the tag of
    /// its market.
    #[inline(always)]
    fn variant_of(&self, buf: &[u8]) -> (usize, u8) {
        let (at, len) = (self.key_at as usize, self.key_len as usize);
        if len < 8 {
            return (0, 0);
        }
        // 32 bytes a step: four words mixed by rotations (independent of
        // the running hash) and folded in with one rotate and xor, so the
        // dependency chain is a step per 32 bytes; then the rest a word at a
        // time, the last word overlapping. A collision only costs speed (two
        // markets sharing a set of variants).
        let Some(key) = buf.get(at..at + len) else {
            return (0, 0);
        };
        let (steps, rest) = key.as_chunks::<32>();
        let mut h = 0u64;
        for step in steps {
            let (a, b) = step.split_at(16);
            let w = |half: &[u8], k: usize| load(half, k).unwrap_or(0);
            let mixed = w(a, 0)
                ^ w(a, 8).rotate_left(17)
                ^ w(b, 0).rotate_left(29)
                ^ w(b, 8).rotate_left(41);
            h = h.rotate_left(11) ^ mixed;
        }
        let mut i = 0;
        while i + 8 < rest.len() {
            h = h.rotate_left(11) ^ load(rest, i).unwrap_or(0);
            i += 8;
        }
        h = h.rotate_left(11) ^ load(key, len - 8).unwrap_or(0);
        // The top bits of the product depend on every bit of `h`.
        // A full finalizer (MurmurHash3's): a product alone carries a
        // difference only upwards, so two keys differing in high bits only
        // (one digit at the end) shared their tag.
        let mut mixed = h ^ (h >> 33);
        mixed = mixed.wrapping_mul(0xff51_afd7_ed55_8ccd);
        mixed ^= mixed >> 33;
        mixed = mixed.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        mixed ^= mixed >> 33;
        let set = (mixed >> (64 - SETS.trailing_zeros())) as usize;
        (WAYS * set, (mixed >> 32) as u8)
    }

    /// Whether variant `v` has been built since the template was learned.
    #[inline(always)]
    fn built(&self, v: usize) -> bool {
        self.way_tags.get(v).is_some_and(|&t| t != 0)
    }

    /// The built variant of the set from `first` whose tag is `tag`.
    #[inline(always)]
    fn way_of(&self, first: usize, tag: u8) -> Option<usize> {
        let want = VALID_TAG | u16::from(tag);
        (first..first + WAYS).find(|&v| self.way_tags.get(v) == Some(&want))
    }

    /// Folds the slots' memos (the strings of the frame in `buf`, just read
    /// slot by slot from its start) into the literals of its variant.
    fn build(&mut self, buf: &[u8]) {
        if !self.key_decided {
            self.key_decided = true;
            // The market's strings open the frame: hash the stretch of them
            // (up to the first value that is not a remembered string).
            if let Some(first) = self.slots.first().filter(|s| s.remembers_string()) {
                let at = first.lit_end as usize;
                let mut end = at;
                let mut lit = at;
                for slot in &self.slots {
                    if !slot.remembers_string() {
                        break;
                    }
                    end += slot.lit_end as usize - lit + slot.memo.len() + 2;
                    lit = slot.lit_end as usize;
                }
                let len = (end - at).min(MAX_KEY_LEN);
                if len >= 8 {
                    self.key_at = at as u32;
                    self.key_len = len as u32;
                }
            }
        }
        let (first, tag) = self.variant_of(buf);
        if self.variants.len() < VARIANTS {
            self.variants.resize_with(VARIANTS, RunSet::default);
        }
        let v = self.replaced(first, tag);
        let was_built = self.built(v);
        let set = &mut self.variants[v];
        if was_built && set.hits == 0 {
            set.rebuild_after = (set.rebuild_after * 2).clamp(1, MAX_REBUILD_AFTER);
        }
        set.expected.clear();
        set.runs.clear();
        set.run_memos.clear();
        set.base = Fields::of_shape(self.kind, self.seen);
        let mut lit = 0usize;
        let mut run_start = 0usize;
        let mut memo_from = 0u32;
        for slot in &self.slots {
            let lit_end = slot.lit_end as usize;
            set.expected
                .extend_from_slice(self.bytes.get(lit..lit_end).unwrap_or(&[]));
            lit = lit_end;
            if !slot.remembered {
                set.runs.push(Run {
                    end: set.expected.len() as u32,
                    memo_from,
                    memo_to: set.run_memos.len() as u32,
                    value: Some(slot.field),
                    leading: Leading::default(),
                });
                run_start = set.expected.len();
                memo_from = set.run_memos.len() as u32;
            } else if slot.field.is_stable_number() {
                // A stable number, as written: its value is the shape's in
                // every frame these runs read (the runs compare its bytes,
                // and the literal after it starts with a byte no number has).
                if stable_number(&slot.memo, slot.field, &mut set.base).is_none() {
                    // Unreachable (the slot scan read these bytes): leave
                    // the variant unbuilt, every frame then goes slot by slot.
                    if let Some(t) = self.way_tags.get_mut(v) {
                        *t = 0;
                    }
                    return;
                }
                set.expected.extend_from_slice(&slot.memo);
            } else {
                let memo = RunMemo {
                    field: slot.field,
                    offset: (set.expected.len() - run_start + 1) as u32,
                    len: slot.memo.len() as u32,
                };
                // In the first run (from the frame's start) the span is the
                // same in every frame; a state's value does not need one.
                let fixed = set.runs.is_empty()
                    || matches!(
                        slot.field,
                        Field::BookState | Field::FeedState | Field::Kind
                    );
                let span = Span {
                    start: memo.offset,
                    len: memo.len,
                };
                let folded = fixed
                    && apply_string_text(&slot.memo, slot.field, span, &mut set.base).is_some();
                if !folded {
                    set.run_memos.push(memo);
                }
                set.expected.push(b'"');
                set.expected.extend_from_slice(&slot.memo);
                set.expected.push(b'"');
            }
        }
        set.expected
            .extend_from_slice(self.bytes.get(lit..).unwrap_or(&[]));
        // The runs fix the market when they compare its strings' bytes: a
        // `parsec_id` (and `outcome`, if the shape has one) remembered, not
        // read as a value. A new token per build: a rebuild may hold other strings.
        let market = |field: Field| self.slots.iter().filter(move |s| s.field == field);
        let names_market = market(Field::ParsecId).count() == 1
            && market(Field::ParsecId)
                .chain(market(Field::Outcome))
                .all(Slot::remembers_string);
        set.base.market_token = if names_market { next_market_token() } else { 0 };
        set.runs.push(Run {
            end: set.expected.len() as u32,
            memo_from,
            memo_to: set.run_memos.len() as u32,
            value: None,
            leading: Leading::default(),
        });
        if let Some(t) = self.way_tags.get_mut(v) {
            *t = VALID_TAG | u16::from(tag);
        }
        set.hits = 0;
        set.misses = 0;
        set.used = self.clock;
    }

    /// Which variant of the set from `first` a new build for the market
    /// tagged `tag` replaces: the market's own (its strings changed), else
    /// an unbuilt one, else the least recently used.
    fn replaced(&self, first: usize, tag: u8) -> usize {
        if let Some(v) = self.way_of(first, tag) {
            return v;
        }
        let ways = first..first + WAYS;
        let used = |v: &usize| {
            self.variants
                .get(*v)
                .filter(|_| self.built(*v))
                .map(|set| set.used)
        };
        ways.clone()
            .find(|v| used(v).is_none())
            .or_else(|| ways.min_by_key(|v| used(v).unwrap_or(0)))
            .unwrap_or(first)
    }

    /// Reads a frame of this shape; `None` if the frame has another shape or
    /// a bad value, else whether its market's runs read it.
    #[inline]
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        scratch: &mut Scratch,
        f: &mut Fields,
    ) -> Option<bool> {
        self.clock += 1;
        let (first, tag) = self.variant_of(buf);
        if let Some(v) = self.way_of(first, tag) {
            if self.read_runs(v, buf, scratch, f).is_some() {
                return Some(true);
            }
            scratch.clear();
        }
        // Slot by slot from the start (the strings of the whole frame are
        // then in the slots' memos, ready to build its variant).
        self.scan_slots(buf, scratch, f)?;
        let v = self.replaced(first, tag);
        let was_built = self.built(v);
        let due = match self.variants.get_mut(v) {
            Some(set) if was_built => {
                set.misses += 1;
                set.misses >= set.rebuild_after
            }
            _ => true,
        };
        if due {
            self.build(buf);
        }
        Some(false)
    }

    /// Reads the frame through variant `v`'s runs.
    #[inline(always)]
    fn read_runs(
        &mut self,
        v: usize,
        buf: &[u8],
        scratch: &mut Scratch,
        f: &mut Fields,
    ) -> Option<()> {
        let Template {
            variants, clock, ..
        } = self;
        let set = variants.get_mut(v)?;
        // One block copy (`Fields` is plain data): the derived `clone_from`
        // copied it field by field, about 90 instructions a frame.
        *f = set.base;
        let RunSet {
            expected,
            runs,
            run_memos,
            ..
        } = &mut *set;
        let mut c = Cursor { buf, pos: 0 };
        let mut exp = 0usize;
        for run in runs.iter_mut() {
            let want = expected.get(exp..run.end as usize)?;
            if !prefix_equal(buf, c.pos, want) {
                return None;
            }
            let start = c.pos;
            for m in run_memos.get(run.memo_from as usize..run.memo_to as usize)? {
                let span = Span {
                    start: u32::try_from(start + m.offset as usize).ok()?,
                    len: m.len,
                };
                apply_string(&c, m.field, span, f)?;
            }
            c.pos = start + want.len();
            exp = run.end as usize;
            if let Some(field) = run.value {
                match field {
                    // Sequence numbers and epoch times keep their leading digits
                    // from frame to frame (per market: each variant has its
                    // own): those are compared, not read.
                    Field::ServerSeq | Field::ExchangeTsMs | Field::IngestTsMs => {
                        match c.u64_prefixed(&mut run.leading) {
                            Some(v) => match field {
                                Field::ServerSeq => f.server_seq = Some(v),
                                Field::ExchangeTsMs => f.exchange_ts_ms = Some(v),
                                _ => f.ingest_ts_ms = Some(v),
                            },
                            None => value_unmarked(&mut c, field, f, scratch)?,
                        }
                    }
                    _ => value_unmarked(&mut c, field, f, scratch)?,
                }
            }
        }
        if c.pos != buf.len() {
            return None;
        }
        f.finish(buf)?;
        set.hits = set.hits.saturating_add(1);
        set.misses = 0;
        set.rebuild_after = 1;
        set.used = *clock;
        Some(())
    }

    /// The slot-by-slot scan, remembering string values in the slots.
    #[inline(never)]
    fn scan_slots(&mut self, buf: &[u8], scratch: &mut Scratch, f: &mut Fields) -> Option<()> {
        *f = Fields::of_shape(self.kind, self.seen);
        let mut c = Cursor { buf, pos: 0 };
        let mut lit = 0usize;
        for slot in self.slots.iter_mut() {
            let field = slot.field;
            c.literal_bytes(self.bytes.get(lit..slot.lit_end as usize)?)?;
            lit = slot.lit_end as usize;
            if slot.remembers_string() {
                if let Some(span) = c.memo_string(&slot.memo) {
                    apply_string(&c, field, span, f)?;
                    continue;
                }
            }
            let start = c.pos;
            value_unmarked(&mut c, field, f, scratch)?;
            // Remember a string value for the next frame of this shape (only
            // one without escapes: a memo hit stands for the raw bytes as the value).
            slot.remembered = false;
            if field.is_stable_number() {
                // Its value was a number or `null` (a string is refused above).
                if let Some(raw) = buf.get(start..c.pos).filter(|r| r.len() <= MAX_MEMO) {
                    slot.memo.clear();
                    slot.memo.extend_from_slice(raw);
                    slot.remembered = true;
                }
            } else if buf.get(start) == Some(&b'"') && c.pos - start <= MAX_MEMO + 2 {
                if let Some(text) = buf.get(start + 1..c.pos - 1) {
                    if !text.contains(&b'\\') {
                        slot.memo.clear();
                        slot.memo.extend_from_slice(text);
                        slot.remembered = true;
                    }
                }
            }
        }
        c.literal_bytes(self.bytes.get(lit..)?)?;
        if c.pos != buf.len() {
            return None;
        }
        f.finish(buf)
    }
}

/// Whether `buf[pos..]` starts with `want`, compared a word at a time and
/// stopping at the first word that differs.
#[inline(always)]
fn prefix_equal(buf: &[u8], pos: usize, want: &[u8]) -> bool {
    let n = want.len();
    let Some(here) = buf.get(pos..pos + n) else {
        return false;
    };
    if n < 8 {
        return bytes_equal(here, want);
    }
    // 32 bytes a step as fixed-size arrays (vector compares), stopping at
    // the first step that differs; then words, the last one overlapping.
    let (here_steps, _) = here.as_chunks::<32>();
    let (want_steps, _) = want.as_chunks::<32>();
    for (a, b) in here_steps.iter().zip(want_steps) {
        if a != b {
            return false;
        }
    }
    let mut i = n - n % 32;
    while i + 8 < n {
        if load(here, i) != load(want, i) {
            return false;
        }
        i += 8;
    }
    load(here, n - 8) == load(want, n - 8)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` that is `"`, `\`, a control character or
/// non-ASCII. Exact for the lowest flagged byte (borrows only run upwards),
/// which is the only one used.
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    let quote = w ^ (LO * u64::from(b'"'));
    let backslash = w ^ (LO * u64::from(b'\\'));
    let has_quote = quote.wrapping_sub(LO) & !quote;
    let has_backslash = backslash.wrapping_sub(LO) & !backslash;
    let control = w.wrapping_sub(LO * 0x20) & !w;
    (has_quote | has_backslash | control | w) & HI
}

/// Whether two slices are equal, compared a word at a time (no `memcmp` call).
#[inline(always)]
pub(crate) fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut diff = 0u64;
        let mut i = 0;
        while i + 8 < n {
            diff |= load(a, i).unwrap_or(0) ^ load(b, i).unwrap_or(0);
            i += 8;
        }
        // The last (possibly overlapping) word covers the remainder.
        diff |= load(a, n - 8).unwrap_or(0) ^ load(b, n - 8).unwrap_or(1);
        diff == 0
    } else {
        let mut diff = 0u8;
        for i in 0..n {
            diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(1);
        }
        diff == 0
    }
}

#[inline(always)]
fn load(s: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = s.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Length of the run at the start of `s` free of `"`, `\` and control
/// characters (up to the first of them or the end), and whether it is all
/// ASCII. Scans eight bytes at a time.
#[inline(always)]
fn plain_run(s: &[u8]) -> (usize, bool) {
    let mut i = 0;
    let mut ascii = true;
    loop {
        if let Some(w) = load(s, i) {
            let flagged = special_bytes(w);
            if flagged == 0 {
                i += 8;
                continue;
            }
            i += (flagged.trailing_zeros() / 8) as usize;
        }
        match s.get(i) {
            None | Some(b'"' | b'\\' | 0..=0x1f) => return (i, ascii),
            Some(0x80..) => {
                ascii = false;
                i += 1;
            }
            Some(_) => i += 1,
        }
    }
}

/// `[price,size]` at `b[i..]` with plain decimals and no whitespace: the level
/// and where it ends. `None` for anything else (the caller takes the general route).
#[inline(always)]
fn level_compact(b: &[u8], i: usize) -> Option<(Level, usize)> {
    match b.get(i..).and_then(<[u8]>::first_chunk::<LEVEL_WINDOW>) {
        Some(w) => {
            let (level, end) = level_in(w, 0)?;
            Some((level, i + end))
        }
        None => level_in(b, i),
    }
}

/// Level slots made at a time ahead of the level reader.
const LEVEL_CHUNK: usize = 64;

/// Where [`compact_levels`] stopped short of the array's end.
#[derive(Debug, Clone, Copy)]
enum LevelStop {
    /// At a level it does not read (whitespace, an exponent, a long number).
    Level(usize),
    /// After a level, at a byte other than `,` or `]` (whitespace).
    Separator(usize),
}

/// Compact levels (`[price,size]`, each followed by `,` or `]`) from
/// `b[pos..]` into `out`, as long as they come: `Ok` with the position after
/// the array's `]`, or where a level or separator the general steps must
/// read begins.
#[inline(always)]
fn compact_levels(b: &[u8], mut pos: usize, out: &mut Vec<Level>) -> Result<usize, LevelStop> {
    loop {
        // Room is made outside the loop that fills it: with no call that
        // could grow `out` inside, its length stays in a register.
        out.reserve(LEVEL_CHUNK);
        while out.len() < out.capacity() {
            let Some((level, end)) = level_compact(b, pos) else {
                return Err(LevelStop::Level(pos));
            };
            out.push(level);
            match b.get(end) {
                Some(b',') => pos = end + 1,
                Some(b']') => return Ok(end + 1),
                _ => return Err(LevelStop::Separator(end)),
            }
        }
    }
}

/// Bytes that hold any compact level (`[`, 11 + 1 + 8 digits twice, `,`, `]`).
const LEVEL_WINDOW: usize = 44;

#[inline(always)]
fn level_in(b: &[u8], i: usize) -> Option<(Level, usize)> {
    if *b.get(i)? != b'[' {
        return None;
    }
    // The `,` and `]` checks reject an exponent too: no check for one here.
    let (price, j) = price_digits(b, i + 1)?;
    if *b.get(j)? != b',' {
        return None;
    }
    let (size, k) = decimal_digits(b, j + 1)?;
    if *b.get(k)? != b']' {
        return None;
    }
    let level = Level {
        price: Price::from_units(price).ok()?,
        size: Size::from_units(size),
    };
    Some((level, k + 1))
}

/// A change in the documented layout (`{"side":"bid","price":P,"size":S}`, no
/// whitespace) at `b[i..]`: the change and where it ends. `None` for any other
/// (the caller reads it as a generic object, which accepts the same values).
// The same shape as `level_compact`, on purpose: one generic function taking
// the reader measured worse (a closure passed in was not inlined: 21,620
// instructions a snapshot parse against 13,480; with a shared `window`
// helper instead, 13,580).
#[inline(always)]
fn change_compact(b: &[u8], i: usize) -> Option<(Change, usize)> {
    match b.get(i..).and_then(<[u8]>::first_chunk::<CHANGE_WINDOW>) {
        Some(w) => {
            let (change, end) = change_in(w, 0)?;
            Some((change, i + end))
        }
        None => change_in(b, i),
    }
}

/// Bytes that hold any compact change: 22 before the price, two plain
/// numbers of 20 bytes, `,"size":` and `}`. Within them the reader's bounds
/// checks fold away against a constant length.
const CHANGE_WINDOW: usize = 72;

/// `{"side":"bid","price":` (22 bytes) is three word compares (the last two
/// words overlap), `,"size":` one.
#[inline(always)]
fn change_in(b: &[u8], at: usize) -> Option<(Change, usize)> {
    const OPEN: u64 = word(br#"{"side":"#);
    const BID: u64 = word(br#""bid","p"#);
    const ASK: u64 = word(br#""ask","p"#);
    const PRICE: u64 = word(br#""price":"#);
    const SIZE: u64 = word(br#","size":"#);
    let (open, middle, price_key) = (load(b, at)?, load(b, at + 8)?, load(b, at + 14)?);
    if open != OPEN || price_key != PRICE {
        return None;
    }
    let side = match middle {
        BID => Side::Bid,
        ASK => Side::Ask,
        _ => return None,
    };
    // The `,"size":` and `}` checks reject an exponent too: no check for one here.
    let (price, j) = price_digits(b, at + 22)?;
    let price = Price::from_units(price).ok()?;
    if load(b, j)? != SIZE {
        return None;
    }
    let (size, k) = decimal_digits(b, j + 8)?;
    if *b.get(k)? != b'}' {
        return None;
    }
    let change = Change {
        side,
        price,
        size: Size::from_units(size),
    };
    Some((change, k + 1))
}

/// [`decimal_digits`] for a price: most are `0.` and a few digits, read here
/// without the integer part's loop.
#[inline(always)]
fn price_digits(b: &[u8], i: usize) -> Option<(u64, usize)> {
    if b.get(i..i + 2) == Some(b"0.") {
        return fraction_units(b, i + 2);
    }
    decimal_digits(b, i)
}

/// A plain decimal (`D+` or `D+.D+`, at most 11 and 8 digits, no sign or
/// exponent) at `b[i..]` in fixed-point units, and where it ends; `None` for
/// any other number (the general route reads it, with the same result).
#[inline(always)]
fn plain_units(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let (units, end) = decimal_digits(b, i)?;
    match b.get(end) {
        Some(b'e' | b'E') => None, // an exponent: the general route reads it
        _ => Some((units, end)),
    }
}

/// [`plain_units`] without the check for an exponent after the digits: for
/// callers that check the next byte themselves.
#[inline(always)]
// Measured (callgrind): reading the digits a word at a time (SWAR) costs
// more than this byte loop for the 1-to-6-digit numbers of real frames, twice.
fn decimal_digits(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let first = *b.get(i)?;
    if first.wrapping_sub(b'0') > 9 {
        return None;
    }
    let (int, mut j) = digit_run(b, i, 11)?;
    if first == b'0' && j - i > 1 {
        return None; // leading zero
    }
    // At most 11 integer digits: no overflow here nor below.
    let mut units = int * UNITS_PER_ONE;
    if b.get(j) == Some(&b'.') {
        let (frac, end) = fraction_units(b, j + 1)?;
        units += frac;
        j = end;
    }
    Some((units, j))
}

/// The digits of a fraction at `b[i..]` (one to eight) in units, and where
/// they end. Each digit is multiplied by its place's weight, which does not
/// depend on how many digits follow: the products are independent of each
/// other and no scaling waits for the last digit (a running `v * 10 + d`
/// and a scale by the count made one chain of them).
#[inline(always)]
fn fraction_units(b: &[u8], i: usize) -> Option<(u64, usize)> {
    const PLACE: [u64; 8] = [10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let mut units = 0u64;
    let mut k = 0;
    while k < PLACE.len() {
        let Some(&c) = b.get(i + k) else { break };
        let d = u64::from(c).wrapping_sub(u64::from(b'0'));
        if d > 9 {
            break;
        }
        units += d * PLACE[k];
        k += 1;
    }
    if k == 0 || (k == PLACE.len() && b.get(i + k).is_some_and(u8::is_ascii_digit)) {
        return None; // no digit, or more than the units hold
    }
    Some((units, i + k))
}

/// The digits at `b[i..]`: their value and where they end; `None` beyond `max`
/// digits (at most 19). Bounding the count inside the loop measured faster
/// than after it.
#[inline(always)]
fn digit_run(b: &[u8], i: usize, max: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    let mut j = i;
    while let Some(&c) = b.get(j) {
        // Widened before the subtraction: no second zero-extension per digit.
        let d = u64::from(c).wrapping_sub(u64::from(b'0'));
        if d > 9 {
            break;
        }
        // Wrapping: a digit past `max` may overflow, and is rejected just below.
        v = v.wrapping_mul(10).wrapping_add(d);
        j += 1;
        if j - i > max {
            return None;
        }
    }
    Some((v, j))
}

/// The digits at `b[i..]` when there are at most seven (the tail of a
/// number whose first eight digits matched a remembered word): their value
/// and count, read as one word (it may start up to seven bytes before `i`,
/// which the caller has read). `None` for eight digits or more, or when
/// `b` ends at `i`.
#[inline(always)]
fn digits_after(b: &[u8], i: usize) -> Option<(u64, usize)> {
    // The word ends at the buffer's end at the latest; the bytes before `i`
    // it then holds are shifted out (zero bytes come in, which end the digits).
    let at = i.min(b.len().checked_sub(8)?);
    let skip = i - at;
    if skip >= 8 {
        return None;
    }
    let x = load(b, at)? >> (8 * skip);
    let d = x.wrapping_sub(LO * u64::from(b'0'));
    // High bit set in each byte that is not a digit; exact for the lowest
    // one (carries and borrows only run upwards), which is the only one used.
    let not_digit = (x.wrapping_add(LO * 0x46) | d) & HI;
    if not_digit == 0 {
        return None; // eight digits or more: the plain route reads them
    }
    let k = (not_digit.trailing_zeros() / 8) as usize;
    if k == 0 {
        return Some((0, 0));
    }
    Some((eight_digits(d << (8 * (8 - k))), k))
}

/// The value of eight digits (0 to 9 each) in a word, the first in the
/// lowest byte (leading zeros allowed).
#[inline(always)]
fn eight_digits(d: u64) -> u64 {
    // Pairs, then fours, then the eight (the well-known SWAR reduction).
    let pairs = d.wrapping_mul(10).wrapping_add(d >> 8) & 0x00ff_00ff_00ff_00ff;
    let fours = pairs.wrapping_mul(100).wrapping_add(pairs >> 16) & 0x0000_ffff_0000_ffff;
    fours.wrapping_mul(10_000).wrapping_add(fours >> 32) & 0xffff_ffff
}

/// The exact route for numbers the fast digit loop does not take (signs,
/// exponents, long fractions): units and bytes used.
#[cold]
#[inline(never)]
fn units_slow(text: &[u8]) -> Option<(u64, usize)> {
    let (d, used) = Decimal::parse_prefix(text)?;
    Some((d.to_units().ok()?, used))
}

/// A key: its span, length and first eight bytes.
#[derive(Clone, Copy)]
struct Key {
    span: Span,
    len: usize,
    word: u64,
}

const POW10: [u64; 9] = [
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

struct Cursor<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    /// The field a top-level key names, by its length and first word.
    #[inline(always)]
    fn field(&self, key: Key) -> Field {
        match (key.len, key.word) {
            K_TYPE => Field::Type,
            K_PARSEC_ID if self.tail_is(key, b"parsec_id") => Field::ParsecId,
            K_OUTCOME => Field::Outcome,
            K_EXCHANGE => Field::Exchange,
            K_MARKET_ID if self.tail_is(key, b"market_id") => Field::MarketId,
            K_TOKEN_ID => Field::TokenId,
            K_TITLE => Field::Title,
            K_SERVER_SEQ if self.tail_is(key, b"server_seq") => Field::ServerSeq,
            K_STALE_AFTER_MS if self.tail_is(key, b"stale_after_ms") => Field::StaleAfterMs,
            K_EXCHANGE_TS_MS if self.tail_is(key, b"exchange_ts_ms") => Field::ExchangeTsMs,
            K_INGEST_TS_MS if self.tail_is(key, b"ingest_ts_ms") => Field::IngestTsMs,
            K_BOOK_STATE if self.tail_is(key, b"book_state") => Field::BookState,
            K_FEED_STATE if self.tail_is(key, b"feed_state") => Field::FeedState,
            K_TICK_SIZE if self.tail_is(key, b"tick_size") => Field::TickSize,
            K_MIN_ORDER_SIZE if self.tail_is(key, b"min_order_size") => Field::MinOrderSize,
            K_BIDS => Field::Bids,
            K_ASKS => Field::Asks,
            K_CHANGES => Field::Changes,
            K_SPORT_KEY if self.tail_is(key, b"sport_key") => Field::SportKey,
            K_TIMESTAMP if self.tail_is(key, b"timestamp") => Field::Timestamp,
            K_COUNT => Field::Count,
            K_COALESCED if self.tail_is(key, b"coalesced") => Field::Coalesced,
            K_TRUNCATED if self.tail_is(key, b"truncated") => Field::Truncated,
            K_DATA => Field::Data,
            K_SINCE => Field::Since,
            K_KIND => Field::Kind,
            _ => Field::Unknown,
        }
    }

    /// Runs an out-of-line parser on a copy of the cursor, so this cursor's
    /// address never escapes and its position can stay in a register.
    #[inline(always)]
    fn detached<T>(&mut self, f: impl FnOnce(&mut Cursor<'b>) -> Option<T>) -> Option<T> {
        let mut copy = Cursor {
            buf: self.buf,
            pos: self.pos,
        };
        let out = f(&mut copy);
        self.pos = copy.pos;
        out
    }

    /// The next bytes equal `lit` (compared a word at a time); advances past them.
    #[inline(always)]
    fn literal_bytes(&mut self, lit: &[u8]) -> Option<()> {
        let n = lit.len();
        let here = self.buf.get(self.pos..self.pos + n)?;
        if bytes_equal(here, lit) {
            self.pos += n;
            Some(())
        } else {
            None
        }
    }

    /// A string equal to `memo` (bytes validated when the memo was taken):
    /// `"` + memo + `"` at the cursor. Returns its span and advances.
    #[inline(always)]
    fn memo_string(&mut self, memo: &[u8]) -> Option<Span> {
        let start = self.pos + 1;
        let end = start + memo.len();
        if self.buf.get(self.pos) != Some(&b'"') || self.buf.get(end) != Some(&b'"') {
            return None;
        }
        if !bytes_equal(self.buf.get(start..end)?, memo) {
            return None;
        }
        self.pos = end + 1;
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(memo.len()).ok()?,
        })
    }

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
        self.buf
            .get(start..start + span.len as usize)
            .unwrap_or(&[])
    }

    /// Whether a long key's bytes after the first eight are `name`'s.
    #[inline(always)]
    fn tail_is(&self, key: Key, name: &[u8]) -> bool {
        self.slice(key.span).get(8..) == name.get(8..)
    }

    /// A string without escapes; returns its span (contents only).
    #[inline(always)]
    fn string(&mut self) -> Option<Span> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let rest = self.buf.get(start..)?;
        let (len, ascii) = plain_run(rest);
        if rest.get(len) != Some(&b'"') {
            return None; // escape, control character or no closing quote
        }
        if !ascii {
            std::str::from_utf8(self.buf.get(start..start + len)?).ok()?;
        }
        self.pos = start + len + 1;
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(len).ok()?,
        })
    }

    /// An object key followed by `:`.
    #[inline(always)]
    fn key(&mut self) -> Option<Key> {
        let span = self.string()?;
        let len = span.len as usize;
        let start = span.start as usize;
        let word = match load(self.buf, start) {
            Some(w) if len >= 8 => w,
            Some(w) => w & ((1u64 << (8 * len)) - 1),
            None => word(self.slice(span)),
        };
        self.ws();
        self.eat(b':')?;
        Some(Key { span, len, word })
    }

    /// `null` → `Some(true)`; anything else → `Some(false)` without moving.
    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    // `opt_string` and `opt_u64` spell out what `opt(Cursor::string)` does:
    // measured (callgrind), the generic form costs ~130 instructions more per
    // delta, as it inlines worse on the hot path.
    #[inline(always)]
    fn opt_string(&mut self) -> Option<Option<Span>> {
        if self.null()? {
            Some(None)
        } else {
            self.string().map(Some)
        }
    }

    #[inline(always)]
    fn opt_u64(&mut self) -> Option<Option<u64>> {
        if self.null()? {
            Some(None)
        } else {
            self.u64().map(Some)
        }
    }

    /// `null` → `Some(None)`; otherwise the value parsed by `f`.
    #[inline(always)]
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
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

    /// A non-negative JSON number in fixed-point units (1e-8).
    ///
    /// Plain decimals with at most 11 integer and 8 fraction digits are read
    /// here; anything else (sign, exponent, more digits) takes the exact
    /// [`Decimal`] route, so both give the same units.
    #[inline(always)]
    fn units(&mut self) -> Option<u64> {
        let read = plain_units(self.buf, self.pos);
        self.take_units(read)
    }

    /// Advances past what a fast reader read, or reads by the exact route.
    #[inline(always)]
    fn take_units(&mut self, read: Option<(u64, usize)>) -> Option<u64> {
        match read {
            Some((units, end)) => {
                self.pos = end;
                Some(units)
            }
            None => self.units_slow(),
        }
    }

    #[inline(always)]
    fn units_slow(&mut self) -> Option<u64> {
        let (units, used) = units_slow(self.buf.get(self.pos..)?)?;
        self.pos += used;
        Some(units)
    }

    /// [`u64`](Self::u64), skipping the first eight digits when they are
    /// those of `leading` (and remembering them when they are not); `None`
    /// where [`u64`](Self::u64) might decide otherwise (it then reads the value).
    #[inline(always)]
    fn u64_prefixed(&mut self, leading: &mut Leading) -> Option<u64> {
        let b = self.buf;
        let i = self.pos;
        let w = load(b, i)?;
        if leading.word != 0 && w == leading.word {
            // The digits after the remembered eight: at most seven more
            // (then at most 15 in all, no overflow), read as one word.
            let (tail, k) = digits_after(b, i + 8)?;
            let j = i + 8 + k;
            if let Some(b'.' | b'e' | b'E') = b.get(j) {
                return None;
            }
            self.pos = j;
            return Some(leading.value * POW10.get(8 - k)? + tail);
        }
        // Read as `u64` reads any integer (a short one, a book's sequence
        // number mostly, is then not read a second time); from eight to 16
        // digits, the first eight are remembered for the next frame.
        let v = self.u64()?;
        let n = self.pos - i;
        // `POW10[16 - n]` is 10^(n - 8): the first eight digits stay.
        let scale = (8..=16).contains(&n).then(|| POW10.get(16 - n)).flatten();
        if let Some(scale) = scale {
            *leading = Leading {
                word: w,
                value: v / scale,
            };
        }
        Some(v)
    }

    /// An unsigned integer in plain integer syntax (no sign, fraction or exponent).
    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        let b = self.buf;
        let i = self.pos;
        // Up to 19 digits always fit; longer ones are left to the general path.
        let (v, j) = digit_run(b, i, 19)?;
        if j == i || (j - i > 1 && b.get(i) == Some(&b'0')) {
            return None; // no digits, or a leading zero
        }
        if let Some(b'.' | b'e' | b'E') = b.get(j) {
            return None;
        }
        self.pos = j;
        Some(v)
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
    #[inline(never)]
    fn levels(&mut self, out: &mut Vec<Level>) -> Option<()> {
        self.detached(|c| c.levels_here(out))
    }

    #[inline(always)]
    fn levels_here(&mut self, out: &mut Vec<Level>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            // The compact layout `[price,size]` directly; anything else
            // (whitespace, exponents, long numbers) through the general steps.
            match compact_levels(self.buf, self.pos, out) {
                Ok(end) => {
                    self.pos = end;
                    return Some(());
                }
                Err(LevelStop::Level(at)) => {
                    self.pos = at;
                    self.ws();
                    out.push(self.level_general()?);
                }
                Err(LevelStop::Separator(at)) => self.pos = at,
            }
            self.ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    #[inline(never)]
    fn level_general(&mut self) -> Option<Level> {
        self.eat(b'[')?;
        self.ws();
        let price = Price::from_units(self.units()?).ok()?;
        self.ws();
        self.eat(b',')?;
        self.ws();
        let size = Size::from_units(self.units()?);
        self.ws();
        self.eat(b']')?;
        Some(Level { price, size })
    }

    /// `[{"side":..,"price":..,"size":..},...]` into `out`.
    #[inline(never)]
    fn changes(&mut self, out: &mut Vec<Change>) -> Option<()> {
        self.detached(|c| c.changes_here(out))
    }

    #[inline(always)]
    fn changes_here(&mut self, out: &mut Vec<Change>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let change = self.detached(Cursor::change)?;
            out.push(change);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// One change object: the documented layout (`side`, `price`, `size`,
    /// no whitespace) is matched literally; any other goes through the
    /// generic object parse, which accepts the same values.
    #[inline(always)]
    fn change(&mut self) -> Option<Change> {
        let start = self.pos;
        if let Some(change) = self.change_canonical() {
            return Some(change);
        }
        self.pos = start;
        self.change_generic()
    }

    /// The documented layout, read by [`change_compact`].
    #[inline(always)]
    fn change_canonical(&mut self) -> Option<Change> {
        let (change, end) = change_compact(self.buf, self.pos)?;
        self.pos = end;
        Some(change)
    }

    fn change_generic(&mut self) -> Option<Change> {
        self.eat(b'{')?;
        self.ws();
        let (mut side, mut price, mut size) = (None, None, None);
        loop {
            let key = self.key()?;
            self.ws();
            match (key.len, key.word) {
                K_SIDE if side.is_none() => {
                    let s = self.string()?;
                    side = Some(match self.slice(s) {
                        b"bid" => Side::Bid,
                        b"ask" => Side::Ask,
                        _ => return None,
                    });
                }
                K_PRICE if price.is_none() => {
                    price = Some(Price::from_units(self.units()?).ok()?);
                }
                K_SIZE if size.is_none() => {
                    size = Some(Size::from_units(self.units()?));
                }
                K_SIDE | K_PRICE | K_SIZE => return None,
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
            let key = self.key()?.span;
            let key = self.slice(key);
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
                    r.last_update_ms = self.opt_u64()?;
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
                let start = self.pos;
                let d = self.number()?;
                let text = self.buf.get(start..self.pos)?;
                if !text.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    // simd-json rejects integers beyond 64 bits.
                    return if d.negative {
                        let v = d.magnitude_u64()?;
                        (v <= 1 << 63).then_some(())
                    } else {
                        d.to_u64().map(|_| ())
                    };
                }
                // Magnitudes simd-json could turn into infinities or reject stay with it.
                let digits = if d.mantissa == 0 {
                    1
                } else {
                    d.mantissa.ilog10() as i32 + 1
                };
                (d.exponent.saturating_add(digits).unsigned_abs() < 300).then_some(())
            }
        }
    }

    /// Skips one value by its brackets and strings alone, accepting what
    /// the general parser validates after it (integers past 64 bits, any
    /// escape).
    fn skip_raw(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.next()? {
                b'"' => loop {
                    match self.next()? {
                        b'"' => break,
                        b'\\' => {
                            self.next()?;
                        }
                        _ => {}
                    }
                },
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.checked_sub(1)?,
                _ if depth == 0 => {
                    // A scalar: up to the next delimiter.
                    while !matches!(
                        self.peek()?,
                        b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'
                    ) {
                        self.pos += 1;
                    }
                    return Some(());
                }
                _ => {}
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// A string with escapes, decoded into `out`: its (start, length) there.
    /// `None` on a bad escape, a lone surrogate, a control character or bad UTF-8.
    #[inline(never)]
    fn escaped_string(&mut self, out: &mut Vec<u8>) -> Option<(u32, u32)> {
        self.eat(b'"')?;
        let start = out.len();
        loop {
            let rest = self.buf.get(self.pos..)?;
            let (len, ascii) = plain_run(rest);
            let run = rest.get(..len)?;
            if !ascii {
                std::str::from_utf8(run).ok()?;
            }
            out.extend_from_slice(run);
            self.pos += len;
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let byte = match self.next()? {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) {
                                // A high surrogate must be followed by a low one.
                                self.literal(b"\\u")?;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return None;
                                }
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            let c = char::from_u32(code)?; // rejects lone low surrogates
                            let mut utf8 = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                            continue;
                        }
                        _ => return None,
                    };
                    out.push(byte);
                }
                _ => return None, // a control character
            }
        }
        Some((
            u32::try_from(start).ok()?,
            u32::try_from(out.len() - start).ok()?,
        ))
    }

    /// Four hex digits of a `\u` escape.
    #[inline(always)]
    fn hex4(&mut self) -> Option<u32> {
        let hex = self.buf.get(self.pos..self.pos + 4)?;
        let mut v = 0u32;
        for &h in hex {
            v = v * 16 + char::from(h).to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    /// Skips a string, escapes included (validated, not decoded).
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut ascii = true;
        loop {
            // Plain runs go eight bytes at a time.
            let (len, run_ascii) = plain_run(self.buf.get(self.pos..)?);
            ascii &= run_ascii;
            self.pos += len;
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
                _ => return None, // a control character
            }
        }
        if !ascii {
            std::str::from_utf8(&self.buf[start..self.pos - 1]).ok()?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integers that share their first digits with the one before (and some
    /// that do not, are too long, have a leading zero or a fraction): where
    /// the remembered route gives a value it is the plain route's, and it
    /// gives one for most of them.
    #[test]
    fn remembered_leading_digits_read_like_the_plain_route() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut leading = Leading::default();
        let (mut agreed, mut total) = (0, 0);
        let mut ts = 1_795_302_710_496u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ts += x % 50;
            let text = match x % 16 {
                0 => format!("{}", x % 1000),
                1 => format!("0{}", ts),
                2 => format!("{}", x),
                3 => format!("{}.5", ts),
                4 => format!("{}e3", ts),
                5 => format!("{}{}", ts, ts),
                6 => format!("{}", 99_999_999 + i % 3),
                _ => format!("{ts}"),
            };
            for tail in [",", "}", ""] {
                let buf = format!("{text}{tail}");
                let mut plain = Cursor {
                    buf: buf.as_bytes(),
                    pos: 0,
                };
                let want = plain.u64().map(|v| (v, plain.pos));
                let mut c = Cursor {
                    buf: buf.as_bytes(),
                    pos: 0,
                };
                let got = c.u64_prefixed(&mut leading).map(|v| (v, c.pos));
                total += 1;
                if got.is_some() {
                    assert_eq!(got, want, "{buf}");
                    agreed += 1;
                }
            }
        }
        assert!(agreed * 2 > total, "{agreed} of {total}");
    }

    /// The word-at-a-time tail reader agrees with a digit loop for every
    /// count of digits, every byte after them and every distance to the
    /// buffer's end (where its word starts before the digits).
    #[test]
    fn digits_after_reads_like_a_digit_loop() {
        let digits = b"9876543210";
        for k in 0..=9usize {
            for after in (0..=255u8).map(Some).chain([None]) {
                for before in [8usize, 9, 12] {
                    let mut buf = vec![b'1'; before];
                    buf.extend_from_slice(&digits[..k]);
                    buf.extend(after);
                    let tail = &buf[before..];
                    let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
                    let value = tail[..n]
                        .iter()
                        .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
                    // Eight digits or more, or no byte at all after the eight: declined.
                    let want = (n < 8 && !tail.is_empty()).then_some((value, n));
                    assert_eq!(
                        digits_after(&buf, before),
                        want,
                        "k={k} after={after:?} before={before}"
                    );
                }
            }
        }
        assert_eq!(eight_digits(0x0908_0706_0504_0302), 23_456_789);
    }

    #[test]
    fn prices_read_like_any_decimal() {
        for text in [
            "0.5]",
            "0.123]",
            "0.12345678]",
            "0.123456789]",
            "0.]",
            "0.5e2]",
            "0.5E2]",
            "0]",
            "1]",
            "1.0]",
            "00.5]",
            "0.05,",
            "0.5",
            "0.",
            "1.5]",
            "0.0]",
        ] {
            let b = text.as_bytes();
            assert_eq!(price_digits(b, 0), decimal_digits(b, 0), "{text}");
        }
    }

    #[test]
    fn bytes_equal_sees_every_difference_at_every_length() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8)
                .map(|i| i.wrapping_mul(7).wrapping_add(1))
                .collect();
            assert!(bytes_equal(&a, &a.clone()), "n={n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!bytes_equal(&a, &b), "n={n} difference at {at}");
            }
            assert!(
                !bytes_equal(&a, &[a.as_slice(), b"x"].concat()),
                "lengths differ"
            );
        }
    }
}
