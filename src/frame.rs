//! Typed server frames of both protocols (PROTOCOL.md A3 and B2).
//!
//! A [`Frame`] borrows its strings from the WebSocket message buffer and its
//! arrays (levels, changes, odds rows) from the reused scratch space of the
//! [`FrameParser`](crate::FrameParser) that produced it: parsing allocates
//! nothing once the scratch space has grown to the largest frame seen.

use crate::price::{Price, Size};

/// Side of a book level.
///
/// ```
/// use wirebook::{Frame, FrameParser, Side};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[{"side":"ask","price":0.66,"size":0}],"server_seq":2}"#.to_vec();
/// let Ok(Frame::Delta(d)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!(d.changes[0].side, Side::Ask);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy orders, best (highest) first.
    Bid,
    /// Sell orders, best (lowest) first.
    Ask,
}

/// One price level: a price and the total size resting there.
///
/// ```
/// use wirebook::{Level, Price, Size};
/// let l = Level::new(Price::parse(b"0.65").unwrap(), Size::parse(b"900").unwrap());
/// assert_eq!(l.price.to_string(), "0.65");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    /// Price of the level.
    pub price: Price,
    /// Total size at that price; never zero inside a book.
    pub size: Size,
}

impl Level {
    /// A level.
    ///
    /// ```
    /// # use wirebook::{Level, Price, Size};
    /// assert_eq!(Level::new(Price::ONE, Size::ZERO).size, Size::ZERO);
    /// ```
    pub const fn new(price: Price, size: Size) -> Level {
        Level { price, size }
    }
}

/// One change of an `orderbook_delta`: the level's new absolute size (0 removes it).
///
/// ```
/// use wirebook::{Change, Price, Side, Size};
/// let c = Change { side: Side::Ask, price: Price::ONE, size: Size::ZERO };
/// assert!(c.size.is_zero());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Change {
    /// Which side of the book.
    pub side: Side,
    /// Price of the level.
    pub price: Price,
    /// New absolute size; zero removes the level.
    pub size: Size,
}

/// `book_state` as the server reports it (PROTOCOL.md A3).
///
/// ```
/// use wirebook::{Frame, FrameParser, WireBookState};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[],"server_seq":3,"book_state":"needs_refresh"}"#.to_vec();
/// let Ok(Frame::Delta(d)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!(d.book_state, Some(WireBookState::NeedsRefresh));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireBookState {
    /// The server's book is current.
    Fresh,
    /// No update within `stale_after_ms`.
    Stale,
    /// The server says the book is corrupt: the client must resync (rule A4.4).
    NeedsRefresh,
}

/// `feed_state`: the health of Parsec's own link to the venue.
///
/// ```
/// use wirebook::{FeedState, Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[],"server_seq":3,"feed_state":"disconnected"}"#.to_vec();
/// let Ok(Frame::Delta(d)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!(d.feed_state, Some(FeedState::Disconnected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FeedState {
    /// Upstream link is fine.
    Healthy,
    /// Upstream link is degraded.
    Degraded,
    /// Upstream link is down.
    Disconnected,
}

/// The market fields every market-scoped Parsec frame carries.
///
/// `outcome` is `"yes"` when a book's frame omits it (a Yes/No market,
/// PROTOCOL.md A2), and empty when a `resync_required` or `slow_reader`
/// does: that notice is for every outcome of the market.
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:KXBTC-26MAR10","changes":[],"server_seq":2}"#.to_vec();
/// let Ok(Frame::Delta(d)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((d.market.parsec_id, d.market.outcome, d.market.exchange), ("kalshi:KXBTC-26MAR10", "yes", None));
/// let mut msg = br#"{"type":"resync_required","parsec_id":"kalshi:KXBTC-26MAR10"}"#.to_vec();
/// let Ok(Frame::ResyncRequired(m)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!(m.outcome, "");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarketRef<'a> {
    /// `exchange:market_id`, e.g. `kalshi:KXBTC-26MAR10`.
    pub parsec_id: &'a str,
    /// Outcome name as sent (matched case-insensitively, rule A4.6).
    pub outcome: &'a str,
    /// Venue, when sent.
    pub exchange: Option<&'a str>,
    /// Venue market id, when sent.
    pub market_id: Option<&'a str>,
    /// Venue token id, when sent (may be empty).
    pub token_id: Option<&'a str>,
}

/// `orderbook` (kind `snapshot`): the full book, replacing whatever the client had.
///
/// ```
/// use wirebook::{Frame, FrameParser, Price};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","tick_size":0.001,"kind":"snapshot","bids":[[0.455,3],[0.45,120]],"asks":[[0.461,7.25]],"server_seq":1}"#.to_vec();
/// let Ok(Frame::Book(b)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((b.bids.len(), b.asks.len(), b.server_seq), (2, 1, 1));
/// assert_eq!(b.tick_size, Some(Price::parse(b"0.001").unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookFrame<'a> {
    /// Which book.
    pub market: MarketRef<'a>,
    /// Bids as sent (best first per the protocol; the book re-sorts if not).
    pub bids: &'a [Level],
    /// Asks as sent (best first per the protocol).
    pub asks: &'a [Level],
    /// The book's sequence number from now on.
    pub server_seq: u64,
    /// Server's view of the book.
    pub book_state: Option<WireBookState>,
    /// Server's view of its upstream.
    pub feed_state: Option<FeedState>,
    /// After this long without a frame the book reads `Stale`.
    pub stale_after_ms: Option<u64>,
    /// Price grid of the book.
    pub tick_size: Option<Price>,
    /// Minimum order size, when the venue has one.
    pub min_order_size: Option<Size>,
    /// Market title (may contain escapes, so may come via the general parser).
    pub title: Option<&'a str>,
    /// Venue timestamp, epoch ms.
    pub exchange_ts_ms: Option<u64>,
    /// Parsec ingest timestamp, epoch ms.
    pub ingest_ts_ms: Option<u64>,
}

/// `orderbook_delta`: absolute sizes per level, applied in array order.
///
/// ```
/// use wirebook::{Book, Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[{"side":"bid","price":0.65,"size":900.0},{"side":"ask","price":0.66,"size":0}],"server_seq":1235}"#.to_vec();
/// let Ok(Frame::Delta(d)) = p.parse(&mut msg) else { panic!() };
/// let mut book = Book::new(8);
/// book.apply_changes(d.changes).unwrap();
/// assert_eq!((d.server_seq, book.best_bid().unwrap().price.to_string()), (1235, "0.65".to_string()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaFrame<'a> {
    /// Which book.
    pub market: MarketRef<'a>,
    /// Changes in array order.
    pub changes: &'a [Change],
    /// Sequence number of this delta.
    pub server_seq: u64,
    /// Server's view of the book; `needs_refresh` acts as a gap.
    pub book_state: Option<WireBookState>,
    /// Server's view of its upstream.
    pub feed_state: Option<FeedState>,
    /// After this long without a frame the book reads `Stale`.
    pub stale_after_ms: Option<u64>,
    /// Venue timestamp, epoch ms.
    pub exchange_ts_ms: Option<u64>,
    /// Parsec ingest timestamp, epoch ms.
    pub ingest_ts_ms: Option<u64>,
}

/// A delta's body: everything the store applies besides the market, from a
/// [`DeltaFrame`] or straight from the parser's fields (no `Frame` built).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeltaBody<'a> {
    pub(crate) changes: &'a [Change],
    pub(crate) server_seq: u64,
    pub(crate) book_state: Option<WireBookState>,
    pub(crate) feed_state: Option<FeedState>,
    pub(crate) stale_after_ms: Option<u64>,
    pub(crate) exchange_ts_ms: Option<u64>,
    pub(crate) ingest_ts_ms: Option<u64>,
}

impl<'a> DeltaFrame<'a> {
    /// The frame's body.
    #[inline(always)]
    pub(crate) fn body(&self) -> DeltaBody<'a> {
        DeltaBody {
            changes: self.changes,
            server_seq: self.server_seq,
            book_state: self.book_state,
            feed_state: self.feed_state,
            stale_after_ms: self.stale_after_ms,
            exchange_ts_ms: self.exchange_ts_ms,
            ingest_ts_ms: self.ingest_ts_ms,
        }
    }
}

/// Kind of an `activity` frame.
///
/// ```
/// use wirebook::{ActivityKind, Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"activity","parsec_id":"kalshi:X","kind":"fill","price":0.455,"size":3}"#.to_vec();
/// let Ok(Frame::Activity(a)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!(a.kind, ActivityKind::Fill);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    /// A public trade.
    Trade,
    /// One of the account's own fills.
    Fill,
}

/// Direction of a trade or fill.
///
/// ```
/// use wirebook::{Frame, FrameParser, TradeSide};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"activity","parsec_id":"kalshi:X","kind":"trade","price":0.65,"size":100,"side":"buy","aggressor_side":"sell"}"#.to_vec();
/// let Ok(Frame::Activity(a)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((a.side, a.aggressor_side), (Some(TradeSide::Buy), Some(TradeSide::Sell)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeSide {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// `activity`: a public trade or an own fill.
///
/// ```
/// use wirebook::{Frame, FrameParser, Price, Size};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"activity","parsec_id":"polymarket:0x1234abcd","outcome":"Yes","kind":"trade","price":0.65,"size":100.0,"trade_id":"trade_123","server_seq":1236}"#.to_vec();
/// let Ok(Frame::Activity(a)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((a.price, a.size), (Price::parse(b"0.65").unwrap(), Size::parse(b"100").unwrap()));
/// assert_eq!((a.trade_id, a.server_seq), (Some("trade_123"), Some(1236)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityFrame<'a> {
    /// Which book.
    pub market: MarketRef<'a>,
    /// Trade or fill.
    pub kind: ActivityKind,
    /// Execution price.
    pub price: Price,
    /// Executed size.
    pub size: Size,
    /// Side, when sent.
    pub side: Option<TradeSide>,
    /// Aggressor side, when sent.
    pub aggressor_side: Option<TradeSide>,
    /// Trade id, when sent.
    pub trade_id: Option<&'a str>,
    /// Fill id, when sent.
    pub fill_id: Option<&'a str>,
    /// Order id, when sent.
    pub order_id: Option<&'a str>,
    /// `maker` or `taker`, when sent.
    pub liquidity_role: Option<&'a str>,
    /// Upstream channel.
    pub source_channel: Option<&'a str>,
    /// Sequence number (see rule A4.5 on whether it shares the book's counter).
    pub server_seq: Option<u64>,
    /// Server's view of its upstream.
    pub feed_state: Option<FeedState>,
    /// Venue timestamp, epoch ms.
    pub exchange_ts_ms: Option<u64>,
    /// Parsec ingest timestamp, epoch ms.
    pub ingest_ts_ms: Option<u64>,
}

/// `wallet_activity`: full snapshot of a watched wallet; `data` is kept as JSON text.
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"wallet_activity","exchange":"polymarket","address":"0xabc1","data":{"open_orders":[]}}"#.to_vec();
/// let Ok(Frame::WalletActivity(w)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((w.exchange, w.address), ("polymarket", "0xabc1"));
/// assert!(w.data.contains("open_orders"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletActivityFrame<'a> {
    /// Venue.
    pub exchange: &'a str,
    /// Wallet address.
    pub address: &'a str,
    /// The venue-specific `data` object, as JSON text.
    pub data: &'a str,
}

/// `error` (PROTOCOL.md A5).
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"error","code":2002,"message":"market not found","parsec_id":"kalshi:NOPE"}"#.to_vec();
/// let Ok(Frame::Error(e)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((e.code, e.message, e.parsec_id), (2002, "market not found", Some("kalshi:NOPE")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFrame<'a> {
    /// Error code (1001, 2001, 2002, 2003, 2005, 3001, 3002, ...).
    pub code: u32,
    /// Human-readable message.
    pub message: &'a str,
    /// The market it concerns, when it concerns one.
    pub parsec_id: Option<&'a str>,
}

/// Parlay `connected`: the first frame of a session (PROTOCOL.md B2).
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"connected","sport_key":"basketball_nba","timestamp":1779999999,"tier":"business","min_push_interval_s":1.0,"push_mode":"coalesced","diff_mode":false}"#.to_vec();
/// let Ok(Frame::Connected(c)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((c.sport_key, c.tier, c.push_mode), ("basketball_nba", "business", Some("coalesced")));
/// assert_eq!((c.timestamp_ms, c.min_push_interval_ms), (Some(1_779_999_999_000), Some(1000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectedFrame<'a> {
    /// Sport of the stream.
    pub sport_key: &'a str,
    /// Server time, epoch ms.
    pub timestamp_ms: Option<u64>,
    /// `business`, `enterprise` or `scale`.
    pub tier: &'a str,
    /// `raw` or `coalesced`.
    pub push_mode: Option<&'a str>,
    /// Coalesce window in milliseconds.
    pub min_push_interval_ms: Option<u64>,
    /// Whether rows carry only changed fields.
    pub diff_mode: bool,
}

/// What a grouped row asks of its quotes.
///
/// ```
/// use wirebook::{Frame, FrameParser, RowAction};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"odds_update","data":[{"kind":"game","bookmaker":"draftkings","event_id":"e1","action":"remove"}]}"#.to_vec();
/// let Ok(Frame::OddsUpdate(u)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!(u.rows.iter().next().unwrap().action, Some(RowAction::Remove));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowAction {
    /// Insert or replace.
    Upsert,
    /// Remove the quotes of this row.
    Remove,
}

/// A signed decimal line (spread, total, prop line) in units of 1e-8.
///
/// ```
/// use wirebook::Line;
/// assert_eq!(Line::parse(b"-3.5").unwrap().units(), -350_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Line(i64);

impl Line {
    /// A line from fixed-point units.
    ///
    /// ```
    /// # use wirebook::Line;
    /// assert_eq!(Line::from_units(5).units(), 5);
    /// ```
    pub const fn from_units(units: i64) -> Line {
        Line(units)
    }

    /// Fixed-point units (1e-8).
    ///
    /// ```
    /// # use wirebook::Line;
    /// assert_eq!(Line::parse(b"219.5").unwrap().units(), 21_950_000_000);
    /// ```
    pub const fn units(self) -> i64 {
        self.0
    }

    /// Parses a line from JSON number text.
    ///
    /// ```
    /// # use wirebook::Line;
    /// assert!(Line::parse(b"x").is_err());
    /// ```
    pub fn parse(text: &[u8]) -> Result<Line, crate::NumberError> {
        Line::from_decimal(crate::Decimal::parse(text)?)
    }

    /// A line from a parsed decimal.
    ///
    /// ```
    /// # use wirebook::{Decimal, Line};
    /// assert_eq!(Line::from_decimal(Decimal::parse(b"27.5").unwrap()).unwrap().units(), 2_750_000_000);
    /// ```
    pub fn from_decimal(d: crate::Decimal) -> Result<Line, crate::NumberError> {
        let magnitude = crate::Decimal {
            negative: false,
            ..d
        }
        .to_units()?;
        let units = i64::try_from(magnitude).map_err(|_| crate::NumberError::OutOfRange)?;
        Ok(Line(if d.negative { -units } else { units }))
    }
}

/// Where a string lies in the frame buffer (strings of odds rows are stored as spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// One odds row in either shape of PROTOCOL.md B2, strings as spans of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RawOddsRow {
    pub(crate) event_id: Option<Span>,
    pub(crate) bookmaker: Option<Span>,
    pub(crate) market_key: Option<Span>,
    pub(crate) outcome: Option<Span>,
    pub(crate) price_american: Option<i32>,
    pub(crate) point: Option<Line>,
    pub(crate) timestamp_ms: Option<u64>,
    pub(crate) kind: Option<Span>,
    pub(crate) home_team: Option<Span>,
    pub(crate) away_team: Option<Span>,
    pub(crate) commence_time: Option<Span>,
    pub(crate) last_update_ms: Option<u64>,
    pub(crate) home_ml: Option<i32>,
    pub(crate) away_ml: Option<i32>,
    pub(crate) home_spread: Option<Line>,
    pub(crate) away_spread: Option<Line>,
    pub(crate) total: Option<Line>,
    pub(crate) player: Option<Span>,
    pub(crate) line: Option<Line>,
    pub(crate) over_price: Option<i32>,
    pub(crate) under_price: Option<i32>,
    pub(crate) action: Option<RowAction>,
    pub(crate) available: Option<bool>,
}

/// One odds row of `initial_state` or `odds_update`, in either published shape.
///
/// Flat rows fill `market_key`, `outcome`, `price_american` and `point`; grouped
/// rows fill the team, moneyline, spread, total and prop fields. Turning rows
/// into one quote per (event, bookmaker, market, outcome, point) is the odds
/// board's job.
///
/// ```
/// use wirebook::{Frame, FrameParser, Line};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"fanduel","market_key":"spreads","outcome":"New York Knicks","price_american":105,"point":3.5}]}"#.to_vec();
/// let Ok(Frame::OddsUpdate(u)) = p.parse(&mut msg) else { panic!() };
/// let row = u.rows.iter().next().unwrap();
/// assert_eq!((row.bookmaker, row.market_key, row.price_american), ("fanduel", Some("spreads"), Some(105)));
/// assert_eq!(row.point, Some(Line::parse(b"3.5").unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct OddsRow<'a> {
    pub event_id: &'a str,
    pub bookmaker: &'a str,
    pub market_key: Option<&'a str>,
    pub outcome: Option<&'a str>,
    /// American odds, e.g. -110 or +150.
    pub price_american: Option<i32>,
    pub point: Option<Line>,
    pub timestamp_ms: Option<u64>,
    /// `game` or `prop` (grouped shape).
    pub kind: Option<&'a str>,
    pub home_team: Option<&'a str>,
    pub away_team: Option<&'a str>,
    pub commence_time: Option<&'a str>,
    pub last_update_ms: Option<u64>,
    pub home_ml: Option<i32>,
    pub away_ml: Option<i32>,
    pub home_spread: Option<Line>,
    pub away_spread: Option<Line>,
    pub total: Option<Line>,
    pub player: Option<&'a str>,
    pub line: Option<Line>,
    pub over_price: Option<i32>,
    pub under_price: Option<i32>,
    pub action: Option<RowAction>,
    pub available: Option<bool>,
}

/// The rows of an odds frame; iterate to get [`OddsRow`]s.
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[{"event_id":"e1","bookmaker":"draftkings","price_american":-150},{"event_id":"e1","bookmaker":"pinnacle","price_american":-115}]}"#.to_vec();
/// let Ok(Frame::InitialState(s)) = p.parse(&mut msg) else { panic!() };
/// let books: Vec<&str> = s.rows.iter().map(|r| r.bookmaker).collect();
/// assert_eq!(books, ["draftkings", "pinnacle"]);
/// ```
#[derive(Clone, Copy)]
pub struct OddsRows<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) rows: &'a [RawOddsRow],
}

impl<'a> OddsRows<'a> {
    /// Number of valid rows.
    ///
    /// ```
    /// use wirebook::{Frame, FrameParser};
    /// let mut p = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e","bookmaker":"b","price_american":-110}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(u)) = p.parse(&mut msg) else { panic!() };
    /// assert_eq!(u.rows.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no valid rows.
    ///
    /// ```
    /// use wirebook::{Frame, FrameParser};
    /// let mut p = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e","bookmaker":"b","price_american":-110}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(u)) = p.parse(&mut msg) else { panic!() };
    /// assert!(!u.rows.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows in frame order.
    ///
    /// ```
    /// use wirebook::{Frame, FrameParser};
    /// let mut p = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e","bookmaker":"b","price_american":-110}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(u)) = p.parse(&mut msg) else { panic!() };
    /// assert_eq!(u.rows.iter().next().unwrap().price_american, Some(-110));
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = OddsRow<'a>> + 'a {
        let buf = self.buf;
        self.rows.iter().map(move |raw| resolve_row(buf, raw))
    }
}

/// Rows are equal when they read the same, wherever their strings are stored.
impl PartialEq for OddsRows<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for OddsRows<'_> {}

impl std::fmt::Debug for OddsRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

pub(crate) fn resolve(buf: &[u8], span: Span) -> &str {
    let start = span.start as usize;
    buf.get(start..start + span.len as usize)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

fn resolve_row<'a>(buf: &'a [u8], r: &RawOddsRow) -> OddsRow<'a> {
    let s = |span: Option<Span>| span.map(|sp| resolve(buf, sp));
    OddsRow {
        event_id: s(r.event_id).unwrap_or(""),
        bookmaker: s(r.bookmaker).unwrap_or(""),
        market_key: s(r.market_key),
        outcome: s(r.outcome),
        price_american: r.price_american,
        point: r.point,
        timestamp_ms: r.timestamp_ms,
        kind: s(r.kind),
        home_team: s(r.home_team),
        away_team: s(r.away_team),
        commence_time: s(r.commence_time),
        last_update_ms: r.last_update_ms,
        home_ml: r.home_ml,
        away_ml: r.away_ml,
        home_spread: r.home_spread,
        away_spread: r.away_spread,
        total: r.total,
        player: s(r.player),
        line: r.line,
        over_price: r.over_price,
        under_price: r.under_price,
        action: r.action,
        available: r.available,
    }
}

/// `initial_state` or `odds_update` (PROTOCOL.md B2).
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"odds_update","sport_key":"basketball_nba","timestamp":1780000001,"data":[{"event_id":"e1","bookmaker":"draftkings","price_american":-160},{"bookmaker":"fanduel"}],"coalesced":true}"#.to_vec();
/// let Ok(Frame::OddsUpdate(u)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((u.sport_key, u.timestamp_ms, u.coalesced), ("basketball_nba", Some(1_780_000_001_000), Some(true)));
/// assert_eq!((u.rows.len(), u.rejected_rows), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OddsFrame<'a> {
    /// Sport of the stream.
    pub sport_key: &'a str,
    /// Server time, epoch ms.
    pub timestamp_ms: Option<u64>,
    /// Row count the server claims.
    pub count: Option<u64>,
    /// The valid rows.
    pub rows: OddsRows<'a>,
    /// Rows that were skipped because a field was missing or of the wrong type.
    pub rejected_rows: u32,
    /// `initial_state`: whether the server cut the state at 500 rows.
    pub truncated: Option<bool>,
    /// `odds_update`: whether the rows were coalesced.
    pub coalesced: Option<bool>,
    /// `initial_state` of a resumed connection: the `since` the server
    /// honoured (epoch ms); its rows are then the changes since that time.
    pub since_ms: Option<u64>,
}

/// Parlay `stream_status`: a coverage diagnostic without odds.
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"stream_status","sport_key":"basketball_nba","bookmaker":"pinnacle","status":"degraded","reason":"fixture_unresolved"}"#.to_vec();
/// let Ok(Frame::StreamStatus(s)) = p.parse(&mut msg) else { panic!() };
/// assert_eq!((s.bookmaker, s.status), (Some("pinnacle"), Some("degraded")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStatusFrame<'a> {
    /// Sport, when sent.
    pub sport_key: Option<&'a str>,
    /// Bookmaker concerned.
    pub bookmaker: Option<&'a str>,
    /// Status word (e.g. `degraded`).
    pub status: Option<&'a str>,
    /// Reason, when sent.
    pub reason: Option<&'a str>,
}

/// A server frame of either protocol.
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut parser = FrameParser::new();
/// let mut buf = br#"{"type":"heartbeat","ts_ms":1708123456400}"#.to_vec();
/// match parser.parse(&mut buf).unwrap() {
///     Frame::Heartbeat { ts_ms } => assert_eq!(ts_ms, Some(1708123456400)),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// Parsec `orderbook` snapshot.
    Book(BookFrame<'a>),
    /// Parsec `orderbook_delta`.
    Delta(DeltaFrame<'a>),
    /// Parsec `activity` (trade or fill).
    Activity(ActivityFrame<'a>),
    /// Parsec `wallet_activity`.
    WalletActivity(WalletActivityFrame<'a>),
    /// `heartbeat` of either protocol; Parsec's `ts_ms` or Parlay's `timestamp`, in ms.
    Heartbeat {
        /// Server clock, epoch ms.
        ts_ms: Option<u64>,
    },
    /// Parsec `resync_required`: the book is corrupt until a new snapshot.
    ResyncRequired(MarketRef<'a>),
    /// Parsec `slow_reader`: updates of this book may have been lost.
    SlowReader(MarketRef<'a>),
    /// Parsec `error`.
    Error(ErrorFrame<'a>),
    /// Parsec `auth_ok`.
    AuthOk {
        /// Account id.
        customer_id: Option<&'a str>,
    },
    /// Parsec `auth_error`: fatal, do not reconnect.
    AuthError {
        /// Error code (1002).
        code: u32,
        /// Message.
        message: &'a str,
    },
    /// Parlay `connected`.
    Connected(ConnectedFrame<'a>),
    /// Parlay `initial_state`.
    InitialState(OddsFrame<'a>),
    /// Parlay `odds_update`.
    OddsUpdate(OddsFrame<'a>),
    /// Parlay `subscribed`.
    Subscribed {
        /// The event now filtered to.
        event_id: &'a str,
        /// Server time, epoch ms.
        timestamp_ms: Option<u64>,
    },
    /// Parlay `unsubscribed`.
    Unsubscribed {
        /// Server time, epoch ms.
        timestamp_ms: Option<u64>,
    },
    /// Parlay `stream_status`.
    StreamStatus(StreamStatusFrame<'a>),
}

impl Frame<'_> {
    /// The `type` string of this frame on the wire.
    ///
    /// ```
    /// # use wirebook::Frame;
    /// assert_eq!(Frame::Heartbeat { ts_ms: None }.type_name(), "heartbeat");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Frame::Book(_) => "orderbook",
            Frame::Delta(_) => "orderbook_delta",
            Frame::Activity(_) => "activity",
            Frame::WalletActivity(_) => "wallet_activity",
            Frame::Heartbeat { .. } => "heartbeat",
            Frame::ResyncRequired(_) => "resync_required",
            Frame::SlowReader(_) => "slow_reader",
            Frame::Error(_) => "error",
            Frame::AuthOk { .. } => "auth_ok",
            Frame::AuthError { .. } => "auth_error",
            Frame::Connected(_) => "connected",
            Frame::InitialState(_) => "initial_state",
            Frame::OddsUpdate(_) => "odds_update",
            Frame::Subscribed { .. } => "subscribed",
            Frame::Unsubscribed { .. } => "unsubscribed",
            Frame::StreamStatus(_) => "stream_status",
        }
    }
}
