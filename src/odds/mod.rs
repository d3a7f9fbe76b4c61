//! The Parlay odds board (PROTOCOL.md part B): one quote per (event_id,
//! bookmaker, market_key, outcome, point), filled from `initial_state`,
//! updated from `odds_update`, with the best price across bookmakers and
//! edge alerts.
//!
//! Rows come in two shapes (B2) and are normalised here:
//!
//! - **flat**: one quote, `price_american` at (`market_key`, `outcome`, `point`);
//! - **grouped**: each present price is one quote: `home_ml` / `away_ml` are
//!   `h2h` quotes on the home and away team; `over_price` / `under_price` are
//!   `Over` / `Under` at `line` (or `total` on a game row) of the row's
//!   `market_key` (`totals` on a game row), followed by the `player` on a
//!   prop (`Over Jayson Tatum`, as the flat shape names it). Spread and total
//!   lines on a grouped game row carry no price of their own and make no quote.
//!
//! `action: remove` removes the quotes the row names; a remove row that names
//! only the event and bookmaker (and perhaps `kind` or `market_key`) removes
//! all of that bookmaker's quotes of the event of that kind or market (a
//! quote's kind: [`QuoteKey::is_prop`]). A diff-mode row
//! (only changed fields plus identifiers) updates just the prices it carries.
//! Odds are exact integers ([`AmericanOdds`]) with conversion to implied
//! probability and to the crate's [`Price`], so sportsbook quotes and Parsec
//! prediction-market prices compare directly.
//!
//! ```
//! use wirebook::odds::{AmericanOdds, OddsBoard};
//! use wirebook::{Frame, FrameParser};
//! let mut board = OddsBoard::new();
//! let mut parser = FrameParser::new();
//! let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","timestamp":1779999999,"count":2,"data":[
//!   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
//!   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140}]}"#.to_vec();
//! let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
//! board.replace(&state);
//! let best = board.best("e1", "h2h", "Boston Celtics", None).unwrap();
//! assert_eq!((best.key.bookmaker.as_ref(), best.price), ("fanduel", AmericanOdds::new(-140).unwrap()));
//! assert_eq!(best.price.implied().to_string(), "0.58333333");
//! ```

mod alert;

use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashTable;

use crate::frame::{Line, OddsFrame, OddsRow, RowAction};
use crate::price::{Price, UNITS_PER_ONE};

pub use alert::{EdgeAlert, EdgeAlerts};

/// American odds (`-110`, `+150`), exact. Valid odds are at most -100 or at
/// least +100 (`+100` and `-100` are both even money).
///
/// ```
/// use wirebook::odds::AmericanOdds;
/// let favourite = AmericanOdds::new(-150).unwrap();
/// let underdog = AmericanOdds::new(130).unwrap();
/// assert_eq!((favourite.to_string(), underdog.to_string()), ("-150".to_owned(), "+130".to_owned()));
/// assert!(favourite.implied() > underdog.implied()); // 0.6 against 0.43478261
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AmericanOdds(i32);

/// Odds strictly between -100 and +100 are not American odds.
///
/// ```
/// use wirebook::odds::{AmericanOdds, OddsError};
/// let err = AmericanOdds::new(50).unwrap_err();
/// assert_eq!(err, OddsError(50));
/// assert_eq!(err.to_string(), "50 is not American odds (must be <= -100 or >= +100)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not American odds (must be <= -100 or >= +100)")]
pub struct OddsError(pub i32);

impl AmericanOdds {
    /// Validated odds.
    ///
    /// ```
    /// use wirebook::odds::AmericanOdds;
    /// assert!(AmericanOdds::new(-110).is_ok());
    /// assert!(AmericanOdds::new(50).is_err());
    /// ```
    pub fn new(odds: i32) -> Result<AmericanOdds, OddsError> {
        if odds <= -100 || odds >= 100 {
            Ok(AmericanOdds(odds))
        } else {
            Err(OddsError(odds))
        }
    }

    /// The number on the wire.
    ///
    /// ```
    /// use wirebook::odds::AmericanOdds;
    /// assert_eq!(AmericanOdds::new(-110).unwrap().get(), -110);
    /// assert_eq!(AmericanOdds::new(250).unwrap().get(), 250);
    /// ```
    pub fn get(self) -> i32 {
        self.0
    }

    /// Implied probability as a [`Price`], rounded half up to 1e-8:
    /// 100 / (odds + 100) for positive odds, -odds / (-odds + 100) for negative ones.
    ///
    /// ```
    /// use wirebook::odds::AmericanOdds;
    /// assert_eq!(AmericanOdds::new(150).unwrap().implied().to_string(), "0.4");
    /// assert_eq!(AmericanOdds::new(-110).unwrap().implied().to_string(), "0.52380952");
    /// ```
    pub fn implied(self) -> Price {
        let o = i64::from(self.0);
        let (num, den) = if o > 0 {
            (100, o + 100)
        } else {
            (-o, -o + 100)
        };
        let units = (num as u128 * u128::from(UNITS_PER_ONE) * 2 + den as u128) / (2 * den as u128);
        // num < den always, so 0 < units < 1e8.
        Price::from_units(units.max(1) as u64).unwrap_or(Price::ONE)
    }

    /// Implied probability as a float (for display).
    ///
    /// ```
    /// use wirebook::odds::AmericanOdds;
    /// let p = AmericanOdds::new(150).unwrap().implied_f64(); // 100 / (150 + 100)
    /// assert!((p - 0.4).abs() < 1e-9);
    /// ```
    pub fn implied_f64(self) -> f64 {
        self.implied().to_f64()
    }

    /// The American odds of a probability, rounded to the nearest integer
    /// (a Parsec price as a sportsbook would quote it).
    ///
    /// ```
    /// use wirebook::odds::AmericanOdds;
    /// use wirebook::Price;
    /// let p = Price::from_units(40_000_000).unwrap(); // 0.4
    /// assert_eq!(AmericanOdds::from_probability(p).get(), 150);
    /// assert_eq!(AmericanOdds::from_probability(AmericanOdds::new(-110).unwrap().implied()).get(), -110);
    /// ```
    pub fn from_probability(p: Price) -> AmericanOdds {
        let p = u64::from(p.units()).clamp(1, UNITS_PER_ONE - 1) as f64 / UNITS_PER_ONE as f64;
        // Even money (0.5) is written +100.
        let odds = if p <= 0.5 {
            100.0 * (1.0 - p) / p
        } else {
            -100.0 * p / (1.0 - p)
        };
        let odds = odds.round().clamp(i32::MIN as f64, i32::MAX as f64) as i32;
        AmericanOdds(if odds > -100 && odds < 100 { 100 } else { odds })
    }
}

impl std::fmt::Display for AmericanOdds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:+}", self.0)
    }
}

/// What a quote is of.
///
/// ```
/// use wirebook::odds::OddsBoard;
/// use wirebook::{Frame, FrameParser, Line};
/// let mut parser = FrameParser::new();
/// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"fanduel","market_key":"spreads","outcome":"New York Knicks","price_american":105,"point":3.5}]}"#.to_vec();
/// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
/// let mut board = OddsBoard::new();
/// board.update(&update);
/// let key = &board.quotes().next().unwrap().key;
/// assert_eq!((&*key.bookmaker, &*key.market_key, &*key.outcome), ("fanduel", "spreads", "New York Knicks"));
/// assert_eq!(key.point, Some(Line::parse(b"3.5").unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuoteKey {
    /// Event.
    pub event_id: Arc<str>,
    /// Sportsbook.
    pub bookmaker: Arc<str>,
    /// Market (`h2h`, `spreads`, `totals`, `player_points`, ...).
    pub market_key: Arc<str>,
    /// Outcome (a team, `Over`, `Under Jayson Tatum`, ...).
    pub outcome: Arc<str>,
    /// The line, where the market has one.
    pub point: Option<Line>,
}

impl QuoteKey {
    /// Whether the quote is of a player's prop rather than of the game. By
    /// its market first: a player's (`player_points`, `batter_hits`,
    /// `pitcher_strikeouts`, and their `alternate_` forms) is a prop; a
    /// game's (`h2h`, `spreads`, `totals`, `team_totals`, their `alternate_`
    /// and period forms such as `h2h_q1`) is not, whatever its outcome says
    /// (a team total may be named `Over Boston Celtics`). Another market is
    /// a prop if its outcome names a player (`Over Jayson Tatum`, as grouped
    /// prop rows are normalised).
    ///
    /// ```
    /// use wirebook::odds::QuoteKey;
    /// let key = |market: &str, outcome: &str| QuoteKey {
    ///     event_id: "e1".into(),
    ///     bookmaker: "fanduel".into(),
    ///     market_key: market.into(),
    ///     outcome: outcome.into(),
    ///     point: None,
    /// };
    /// assert!(key("player_points", "Over Jayson Tatum").is_prop());
    /// assert!(key("player_anytime_td", "Josh Allen").is_prop());
    /// assert!(key("player_points_rebounds", "Under Jayson Tatum").is_prop());
    /// assert!(!key("team_totals", "Over").is_prop());
    /// assert!(!key("alternate_team_totals", "Over Boston Celtics").is_prop());
    /// assert!(!key("h2h_q1", "Boston Celtics").is_prop());
    /// assert!(key("anytime_goal", "Over David Pastrnak").is_prop()); // by its outcome
    /// ```
    pub fn is_prop(&self) -> bool {
        const PLAYER_MARKETS: [&str; 3] = ["player_", "batter_", "pitcher_"];
        const GAME_MARKETS: [&str; 4] = ["h2h", "spreads", "totals", "team_totals"];
        let market = self
            .market_key
            .strip_prefix("alternate_")
            .unwrap_or(&self.market_key);
        if PLAYER_MARKETS.iter().any(|m| market.starts_with(m)) {
            return true;
        }
        // `h2h`, `h2h_q1`, `h2h_3_way`, `totals_h1`, ...
        let game = |m: &&str| {
            market
                .strip_prefix(*m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
        };
        if GAME_MARKETS.iter().any(game) {
            return false;
        }
        outcome_player(&self.outcome).is_some_and(|p| !p.is_empty())
    }

    fn matches(&self, k: &KeyRef<'_>) -> bool {
        same_but_line(self, k) && self.point == k.point
    }
}

/// The player an over/under outcome names (`Over Jayson Tatum`: `Jayson
/// Tatum`), as grouped prop rows are normalised.
fn outcome_player(outcome: &str) -> Option<&str> {
    outcome
        .strip_prefix("Over ")
        .or_else(|| outcome.strip_prefix("Under "))
}

/// A key borrowed from a frame.
#[derive(Debug, Clone, Copy)]
struct KeyRef<'a> {
    event_id: &'a str,
    bookmaker: &'a str,
    market_key: &'a str,
    outcome: &'a str,
    point: Option<Line>,
}

/// One price quote.
///
/// ```
/// use wirebook::odds::{AmericanOdds, OddsBoard};
/// use wirebook::{Frame, FrameParser};
/// let mut parser = FrameParser::new();
/// let mut msg = br#"{"type":"odds_update","sport_key":"basketball_nba","timestamp":1780000001,"data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-160}]}"#.to_vec();
/// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
/// let mut board = OddsBoard::new();
/// board.update(&update);
/// let quote = board.get("e1", "draftkings", "h2h", "Boston Celtics", None).unwrap();
/// assert_eq!(quote.price, AmericanOdds::new(-160).unwrap());
/// assert_eq!(quote.updated_ms, Some(1_780_000_001_000)); // the frame's timestamp, in ms
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// What it is of.
    pub key: QuoteKey,
    /// The price.
    pub price: AmericanOdds,
    /// When the bookmaker last moved it (epoch ms), where known.
    pub updated_ms: Option<u64>,
}

/// What one quote update did, for alerts.
///
/// ```
/// use wirebook::odds::{AmericanOdds, OddsBoard};
/// use wirebook::{Frame, FrameParser};
/// let (mut board, mut parser, mut moves) = (OddsBoard::new(), FrameParser::new(), Vec::new());
/// for price in [-110, -150] {
///     let mut msg = format!(r#"{{"type":"odds_update","data":[{{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":{price}}}]}}"#).into_bytes();
///     let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
///     moves = board.update(&update).to_vec();
/// }
/// assert_eq!(moves[0].old, Some(AmericanOdds::new(-110).unwrap()));
/// assert_eq!(board.quote_of(&moves[0]).unwrap().price.get(), -150);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// Index of the quote in the board.
    index: usize,
    /// The price before, if the quote existed.
    pub old: Option<AmericanOdds>,
    /// Its time before.
    pub old_ms: Option<u64>,
}

/// Counts of what the board did.
///
/// ```
/// use wirebook::odds::OddsBoard;
/// use wirebook::{Frame, FrameParser};
/// let mut parser = FrameParser::new();
/// let mut msg = br#"{"type":"odds_update","data":[
///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
///   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":50}]}"#.to_vec();
/// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
/// let mut board = OddsBoard::new();
/// board.update(&update);
/// let c = board.counters(); // +50 is not American odds: counted and skipped
/// assert_eq!((c.upserts, c.invalid_odds, c.removals, board.len()), (1, 1, 0, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BoardCounters {
    /// Quotes inserted or changed.
    pub upserts: u64,
    /// Quotes removed.
    pub removals: u64,
    /// Prices that are not American odds (skipped).
    pub invalid_odds: u64,
    /// Rows that make no quote (no price, no outcome).
    pub empty_rows: u64,
    /// New quotes not taken: the board already held [`MAX_QUOTES`], or a
    /// field of the key was longer than [`MAX_QUOTE_KEY_LEN`] bytes.
    pub refused: u64,
    /// Over/under prices of grouped rows that came without a line while the
    /// board knew none for them (skipped: a quote at no line stands for no
    /// line the book offers).
    pub no_line: u64,
}

/// Most quotes a board holds: a sport's whole board is far smaller, and a
/// peer must not make it grow without bound (new quotes beyond it are
/// refused and counted in [`BoardCounters::refused`]; known ones still move).
///
/// ```
/// assert!(wirebook::odds::MAX_QUOTES >= 100_000);
/// ```
pub const MAX_QUOTES: usize = 250_000;

/// Longest event id, bookmaker, market key or outcome of a quote (bytes).
///
/// ```
/// use wirebook::odds::{OddsBoard, MAX_QUOTE_KEY_LEN};
/// use wirebook::{Frame, FrameParser};
/// let long = "e".repeat(MAX_QUOTE_KEY_LEN + 1);
/// let mut msg = format!(r#"{{"type":"odds_update","data":[{{"event_id":"{long}","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140}}]}}"#).into_bytes();
/// let mut parser = FrameParser::new();
/// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
/// let mut board = OddsBoard::new();
/// board.update(&update);
/// assert_eq!((board.len(), board.counters().refused), (0, 1));
/// ```
pub const MAX_QUOTE_KEY_LEN: usize = 256;

/// All quotes of one stream.
///
/// ```
/// use wirebook::odds::OddsBoard;
/// use wirebook::{Frame, FrameParser};
/// let (mut board, mut parser) = (OddsBoard::new(), FrameParser::new());
/// for msg in [
///     r#"{"type":"initial_state","sport_key":"basketball_nba","data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150}]}"#,
///     r#"{"type":"odds_update","sport_key":"basketball_nba","data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-160}]}"#,
/// ] {
///     let mut buf = msg.as_bytes().to_vec();
///     match parser.parse(&mut buf) {
///         Ok(Frame::InitialState(state)) => board.replace(&state),
///         Ok(Frame::OddsUpdate(update)) => { board.update(&update); }
///         other => panic!("not odds: {other:?}"),
///     }
/// }
/// assert_eq!(board.len(), 1);
/// assert_eq!(board.get("e1", "draftkings", "h2h", "Boston Celtics", None).unwrap().price.get(), -160);
/// ```
#[derive(Debug, Default)]
pub struct OddsBoard {
    quotes: Vec<Option<Quote>>,
    free: Vec<usize>,
    /// Slots freed by the frame being applied: reused from the next frame on,
    /// so a [`Move`]'s index names one quote for the whole frame (a quote
    /// moved, then removed, then another added in one frame must not pair
    /// the first one's old price with the second).
    freed: Vec<usize>,
    index: HashTable<usize>,
    /// The over/under quotes of grouped rows, by event, bookmaker, market
    /// and outcome without the line: a grouped row carries the bookmaker's
    /// one current line of each (`total`, or a prop's `line`), so a row at
    /// another line replaces the quote, and a diff row that leaves the line
    /// out updates it where it is (alternate markets, which hold several
    /// lines, are not kept here).
    lines: HashTable<usize>,
    hasher: foldhash::fast::FixedState,
    counters: BoardCounters,
    /// Moves of the last frame applied (reused).
    moves: Vec<Move>,
    live: usize,
}

fn hash_key(h: &foldhash::fast::FixedState, k: &KeyRef<'_>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut s = h.build_hasher();
    k.event_id.hash(&mut s);
    k.bookmaker.hash(&mut s);
    k.market_key.hash(&mut s);
    k.outcome.hash(&mut s);
    k.point.hash(&mut s);
    s.finish()
}

/// [`hash_key`] without the line (for `OddsBoard::lines`).
fn hash_line(h: &foldhash::fast::FixedState, k: &KeyRef<'_>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut s = h.build_hasher();
    k.event_id.hash(&mut s);
    k.bookmaker.hash(&mut s);
    k.market_key.hash(&mut s);
    k.outcome.hash(&mut s);
    s.finish()
}

/// Whether `q` is the quote `k` names, whatever the line.
fn same_but_line(q: &QuoteKey, k: &KeyRef<'_>) -> bool {
    &*q.event_id == k.event_id
        && &*q.bookmaker == k.bookmaker
        && &*q.market_key == k.market_key
        && &*q.outcome == k.outcome
}

fn key_ref(q: &QuoteKey) -> KeyRef<'_> {
    KeyRef {
        event_id: &q.event_id,
        bookmaker: &q.bookmaker,
        market_key: &q.market_key,
        outcome: &q.outcome,
        point: q.point,
    }
}

/// One normalised price of a row.
#[derive(Debug, Clone, Copy)]
struct Priced<'a> {
    market_key: &'a str,
    outcome: Outcome<'a>,
    point: Option<Line>,
    price: Option<i32>,
}

/// Outcome text, possibly `player side`.
#[derive(Debug, Clone, Copy)]
enum Outcome<'a> {
    Text(&'a str),
    Player(&'a str, &'static str),
}

impl OddsBoard {
    /// An empty board.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// let board = OddsBoard::new();
    /// assert!(board.is_empty() && board.best_all().is_empty());
    /// ```
    pub fn new() -> OddsBoard {
        OddsBoard::default()
    }

    /// Quotes on the board.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"spreads","outcome":"New York Knicks","price_american":105,"point":3.5}]}"#.to_vec();
    /// let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.replace(&state);
    /// assert_eq!(board.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the board is empty.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut board = OddsBoard::new();
    /// assert!(board.is_empty());
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    /// board.update(&update);
    /// assert!(!board.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// What the board did so far.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","action":"remove"}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.update(&update);
    /// let c = board.counters();
    /// assert_eq!((c.upserts, c.removals, board.len()), (1, 1, 0));
    /// ```
    pub fn counters(&self) -> BoardCounters {
        self.counters
    }

    /// Forgets every quote.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.update(&update);
    /// board.clear();
    /// assert!(board.is_empty() && board.get("e1", "draftkings", "h2h", "Boston Celtics", None).is_none());
    /// assert_eq!(board.counters().upserts, 1); // the counters are kept
    /// ```
    pub fn clear(&mut self) {
        self.quotes.clear();
        self.free.clear();
        self.freed.clear();
        self.index.clear();
        self.lines.clear();
        self.live = 0;
    }

    /// `initial_state`: the board becomes exactly the frame's rows.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let (mut board, mut parser) = (OddsBoard::new(), FrameParser::new());
    /// let mut old = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut old) else { panic!() };
    /// board.update(&update);
    /// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[{"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140}]}"#.to_vec();
    /// let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
    /// board.replace(&state); // draftkings' quote is not in the new state: gone
    /// assert_eq!(board.quotes().map(|q| &*q.key.bookmaker).collect::<Vec<_>>(), ["fanduel"]);
    /// ```
    pub fn replace(&mut self, frame: &OddsFrame<'_>) {
        self.clear();
        self.update(frame);
    }

    /// `odds_update` (or `initial_state` rows on top of the board): each row
    /// upserts or removes its quotes. Returns what moved, for alerts.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","sport_key":"basketball_nba","data":[
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// let moves = board.update(&update);
    /// assert_eq!(moves.len(), 2);
    /// assert!(moves.iter().all(|m| m.old.is_none())); // both quotes are new
    /// ```
    pub fn update(&mut self, frame: &OddsFrame<'_>) -> &[Move] {
        self.moves.clear();
        self.free.append(&mut self.freed);
        for row in frame.rows.iter() {
            self.apply_row(&row, frame.timestamp_ms);
        }
        &self.moves
    }

    /// The quote of a move.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// let moves = board.update(&update).to_vec();
    /// let quote = board.quote_of(&moves[0]).unwrap();
    /// assert_eq!((&*quote.key.bookmaker, quote.price.get()), ("draftkings", -150));
    /// ```
    pub fn quote_of(&self, m: &Move) -> Option<&Quote> {
        self.quotes.get(m.index)?.as_ref()
    }

    /// Whether a row takes quotes off the board: `action: remove`, or
    /// `available: false` (with prices or without).
    fn removes(row: &OddsRow<'_>) -> bool {
        row.action == Some(RowAction::Remove) || row.available == Some(false)
    }

    fn prices<'r>(row: &OddsRow<'r>, out: &mut [Option<Priced<'r>>; 4]) {
        *out = [None; 4];
        let removes = Self::removes(row);
        if let (Some(market_key), Some(outcome)) = (row.market_key, row.outcome) {
            // Flat shape.
            out[0] = Some(Priced {
                market_key,
                outcome: Outcome::Text(outcome),
                point: row.point,
                price: row.price_american,
            });
            return;
        }
        let game = row.kind != Some("prop") && row.player.is_none();
        if let Some(home) = row.home_team {
            // Team names identify the row; a moneyline is named by its price.
            if row.home_ml.is_some() {
                out[0] = Some(Priced {
                    market_key: "h2h",
                    outcome: Outcome::Text(home),
                    point: None,
                    price: row.home_ml,
                });
            }
        }
        if let Some(away) = row.away_team {
            if row.away_ml.is_some() {
                out[1] = Some(Priced {
                    market_key: "h2h",
                    outcome: Outcome::Text(away),
                    point: None,
                    price: row.away_ml,
                });
            }
        }
        let market = row.market_key.unwrap_or(if game { "totals" } else { "" });
        let line = row.line.or(if game { row.total } else { None });
        let side = |name: &'static str| match row.player {
            Some(p) => Outcome::Player(p, name),
            None => Outcome::Text(name),
        };
        // A remove row names an over/under quote by its price field, or both
        // sides by the line alone (with neither, `remove_matching` takes its
        // whole scope). Any other row with a line names both sides too: a
        // side without a price there has moved off its old line (see
        // `OddsBoard::lines`).
        let named = line.is_some()
            && if removes {
                row.over_price.is_none() && row.under_price.is_none()
            } else {
                !market.starts_with("alternate")
            };
        if !market.is_empty() {
            if row.over_price.is_some() || named {
                out[2] = Some(Priced {
                    market_key: market,
                    outcome: side("Over"),
                    point: line,
                    price: row.over_price,
                });
            }
            if row.under_price.is_some() || named {
                out[3] = Some(Priced {
                    market_key: market,
                    outcome: side("Under"),
                    point: line,
                    price: row.under_price,
                });
            }
        }
    }

    fn apply_row(&mut self, row: &OddsRow<'_>, frame_ms: Option<u64>) {
        let mut prices = [None; 4];
        Self::prices(row, &mut prices);
        let removes = Self::removes(row);
        if !removes && prices.iter().flatten().all(|p| p.price.is_none()) {
            // It makes no quote (a line alone may still move quotes off theirs).
            self.counters.empty_rows += 1;
        }
        if prices.iter().all(Option::is_none) {
            if removes {
                self.remove_matching(row);
            }
            return;
        }
        let when = row.timestamp_ms.or(row.last_update_ms).or(frame_ms);
        let mut text = String::new();
        for (slot, p) in prices.into_iter().enumerate() {
            let Some(p) = p else { continue };
            // Slots 2 and 3: a grouped row's over and under, at its one line.
            let main_line = slot >= 2 && !p.market_key.starts_with("alternate");
            let outcome: &str = match p.outcome {
                Outcome::Text(t) => t,
                Outcome::Player(player, side) => {
                    text.clear();
                    text.push_str(side);
                    text.push(' ');
                    text.push_str(player);
                    &text
                }
            };
            let mut key = KeyRef {
                event_id: row.event_id,
                bookmaker: row.bookmaker,
                market_key: p.market_key,
                outcome,
                point: p.point,
            };
            if main_line && key.point.is_none() {
                // A row that leaves the line out (a diff row, or a remove
                // row naming a side by its price) means the current one.
                key.point = self.current_line(&key);
            }
            if removes {
                self.remove(&key);
                continue;
            }
            if main_line && key.point.is_none() && p.price.is_some() {
                self.counters.no_line += 1;
                continue;
            }
            // A side at a new line leaves its old line, with a price or not
            // (a missing quote is safer than one at a line the book has left).
            let line_hash = main_line.then(|| self.move_line(&mut key));
            let Some(raw) = p.price else { continue };
            let Ok(price) = AmericanOdds::new(raw) else {
                self.counters.invalid_odds += 1;
                continue;
            };
            let Some(i) = self.upsert(&key, price, when) else {
                continue;
            };
            if let Some(hash) = line_hash {
                self.note_line(hash, i);
            }
        }
    }

    fn find(&self, key: &KeyRef<'_>, hash: u64) -> Option<usize> {
        self.index
            .find(hash, |&i| {
                self.quotes[i].as_ref().is_some_and(|q| q.key.matches(key))
            })
            .copied()
    }

    /// Before a grouped row's over or under is written at `key`: the quote
    /// at the bookmaker's current line of it is removed if the row's line
    /// differs (the line moved), or gives the row its line if the row has
    /// none (a diff row that left the unchanged line out). Returns the
    /// key's hash in `lines`.
    fn move_line(&mut self, key: &mut KeyRef<'_>) -> u64 {
        let hash = hash_line(&self.hasher, key);
        let Some(q) = self.line_quote(key, hash) else {
            return hash;
        };
        if key.point == q.key.point {
            return hash; // the common case: a new price at the same line
        }
        match key.point {
            None => key.point = q.key.point,
            Some(_) => {
                let current = q.key.clone();
                self.remove(&key_ref(&current));
            }
        }
        hash
    }

    /// The current line of the over/under `key` names (whatever its line):
    /// its own quote's, or else its other side's (a grouped row has one line
    /// for both), if the board has either.
    fn current_line(&self, key: &KeyRef<'_>) -> Option<Line> {
        let of = |k: &KeyRef<'_>| self.line_quote(k, hash_line(&self.hasher, k))?.key.point;
        of(key).or_else(|| {
            let other = match key.outcome.split_once(' ') {
                Some(("Over", player)) => format!("Under {player}"),
                Some(("Under", player)) => format!("Over {player}"),
                _ if key.outcome == "Over" => "Under".to_owned(),
                _ if key.outcome == "Under" => "Over".to_owned(),
                _ => return None,
            };
            of(&KeyRef {
                outcome: &other,
                ..*key
            })
        })
    }

    /// The quote `lines` holds for `key` whatever its line (`hash`: the key's there).
    fn line_quote(&self, key: &KeyRef<'_>, hash: u64) -> Option<&Quote> {
        let quotes = &self.quotes;
        let i = *self.lines.find(hash, |&i| {
            quotes[i]
                .as_ref()
                .is_some_and(|q| same_but_line(&q.key, key))
        })?;
        quotes[i].as_ref()
    }

    /// Notes quote `i` as its over/under's current line (`hash`: its key's in `lines`).
    fn note_line(&mut self, hash: u64, i: usize) {
        if self.lines.find(hash, |&j| j == i).is_some() {
            return;
        }
        let (quotes, hasher) = (&self.quotes, &self.hasher);
        self.lines.insert_unique(hash, i, |&j| {
            quotes[j]
                .as_ref()
                .map_or(0, |q| hash_line(hasher, &key_ref(&q.key)))
        });
    }

    /// Writes a quote's price; returns its index (`None`: a new quote the
    /// board has no room for, or whose key is too long, counted in `refused`).
    fn upsert(
        &mut self,
        key: &KeyRef<'_>,
        price: AmericanOdds,
        when: Option<u64>,
    ) -> Option<usize> {
        let hash = hash_key(&self.hasher, key);
        if let Some(i) = self.find(key, hash) {
            self.counters.upserts += 1;
            let q = self.quotes[i].as_mut().expect("indexed quotes exist");
            let (old, old_ms) = (q.price, q.updated_ms);
            if old == price {
                q.updated_ms = when.or(q.updated_ms);
                return Some(i);
            }
            q.price = price;
            q.updated_ms = when.or(q.updated_ms);
            self.moves.push(Move {
                index: i,
                old: Some(old),
                old_ms,
            });
            return Some(i);
        }
        let long = [key.event_id, key.bookmaker, key.market_key, key.outcome]
            .iter()
            .any(|f| f.len() > MAX_QUOTE_KEY_LEN);
        if self.live >= MAX_QUOTES || long {
            self.counters.refused += 1;
            return None;
        }
        self.counters.upserts += 1;
        let quote = Quote {
            key: QuoteKey {
                event_id: key.event_id.into(),
                bookmaker: key.bookmaker.into(),
                market_key: key.market_key.into(),
                outcome: key.outcome.into(),
                point: key.point,
            },
            price,
            updated_ms: when,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.quotes[i] = Some(quote);
                i
            }
            None => {
                self.quotes.push(Some(quote));
                self.quotes.len() - 1
            }
        };
        let (quotes, hasher) = (&self.quotes, &self.hasher);
        self.index.insert_unique(hash, i, |&j| {
            quotes[j]
                .as_ref()
                .map_or(0, |q| hash_key(hasher, &key_ref(&q.key)))
        });
        self.live += 1;
        self.moves.push(Move {
            index: i,
            old: None,
            old_ms: None,
        });
        Some(i)
    }

    fn remove(&mut self, key: &KeyRef<'_>) {
        let hash = hash_key(&self.hasher, key);
        let Some(i) = self.find(key, hash) else {
            return;
        };
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        if let Ok(entry) = self
            .lines
            .find_entry(hash_line(&self.hasher, key), |&j| j == i)
        {
            entry.remove();
        }
        self.quotes[i] = None;
        self.freed.push(i);
        self.live -= 1;
        self.counters.removals += 1;
    }

    /// A remove row naming only event and bookmaker (and perhaps kind,
    /// market or player: a player's row removes only that player's quotes).
    fn remove_matching(&mut self, row: &OddsRow<'_>) {
        // A row without `kind` is of a prop if it names a player, of a game
        // if it names the teams (as `prices` reads it), else of both.
        let kind = row.kind.or(if row.player.is_some() {
            Some("prop")
        } else if row.home_team.is_some() || row.away_team.is_some() {
            Some("game")
        } else {
            None
        });
        let doomed: Vec<QuoteKey> = self
            .quotes()
            .filter(|q| &*q.key.event_id == row.event_id && &*q.key.bookmaker == row.bookmaker)
            .filter(|q| row.market_key.is_none_or(|m| &*q.key.market_key == m))
            .filter(|q| match kind {
                Some("game") => !q.key.is_prop(),
                Some("prop") => q.key.is_prop(),
                _ => true,
            })
            .filter(|q| {
                row.player
                    .is_none_or(|p| outcome_player(&q.key.outcome) == Some(p))
            })
            .map(|q| q.key.clone())
            .collect();
        for k in &doomed {
            self.remove(&key_ref(k));
        }
    }

    /// A quote.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser, Line};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"odds_update","data":[{"event_id":"e1","bookmaker":"fanduel","market_key":"spreads","outcome":"New York Knicks","price_american":105,"point":3.5}]}"#.to_vec();
    /// let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.update(&update);
    /// let q = board.get("e1", "fanduel", "spreads", "New York Knicks", Some(Line::parse(b"3.5").unwrap()));
    /// assert_eq!(q.unwrap().price.get(), 105);
    /// assert!(board.get("e1", "fanduel", "spreads", "New York Knicks", Some(Line::parse(b"4.5").unwrap())).is_none());
    /// ```
    pub fn get(
        &self,
        event_id: &str,
        bookmaker: &str,
        market_key: &str,
        outcome: &str,
        point: Option<Line>,
    ) -> Option<&Quote> {
        let key = KeyRef {
            event_id,
            bookmaker,
            market_key,
            outcome,
            point,
        };
        let i = self.find(&key, hash_key(&self.hasher, &key))?;
        self.quotes[i].as_ref()
    }

    /// Every quote, in no particular order.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140},
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150}]}"#.to_vec();
    /// let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.replace(&state);
    /// let mut books: Vec<&str> = board.quotes().map(|q| &*q.key.bookmaker).collect();
    /// books.sort();
    /// assert_eq!(books, ["draftkings", "fanduel"]);
    /// ```
    pub fn quotes(&self) -> impl Iterator<Item = &Quote> + '_ {
        self.quotes.iter().flatten()
    }

    /// Quotes of one event.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140},
    ///   {"event_id":"e2","bookmaker":"draftkings","market_key":"h2h","outcome":"Denver Nuggets","price_american":120}]}"#.to_vec();
    /// let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.replace(&state);
    /// let e1 = board.event("e1");
    /// assert!(e1.len() == 2 && e1.iter().all(|q| &*q.key.event_id == "e1"));
    /// ```
    pub fn event(&self, event_id: &str) -> Vec<Quote> {
        self.quotes()
            .filter(|q| &*q.key.event_id == event_id)
            .cloned()
            .collect()
    }

    /// The best price for a bettor (the lowest implied probability) across
    /// bookmakers for (event, market, outcome, point).
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser, Line};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"totals","outcome":"Over","price_american":-110,"point":219.5},
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"totals","outcome":"Over","price_american":-105,"point":219.5}]}"#.to_vec();
    /// let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.replace(&state);
    /// let best = board.best("e1", "totals", "Over", Some(Line::parse(b"219.5").unwrap())).unwrap();
    /// assert_eq!((&*best.key.bookmaker, best.price.get()), ("fanduel", -105)); // 0.51219512 < 0.52380952
    /// ```
    pub fn best(
        &self,
        event_id: &str,
        market_key: &str,
        outcome: &str,
        point: Option<Line>,
    ) -> Option<&Quote> {
        best_among(
            self.quotes().filter(|q| &*q.key.event_id == event_id),
            market_key,
            outcome,
            point,
        )
    }

    /// The best price of every (event, market, outcome, point) on the board.
    ///
    /// ```
    /// use wirebook::odds::OddsBoard;
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"initial_state","sport_key":"basketball_nba","data":[
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-150},
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"Boston Celtics","price_american":-140},
    ///   {"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"New York Knicks","price_american":130},
    ///   {"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"New York Knicks","price_american":120}]}"#.to_vec();
    /// let Ok(Frame::InitialState(state)) = parser.parse(&mut msg) else { panic!() };
    /// let mut board = OddsBoard::new();
    /// board.replace(&state);
    /// let best: Vec<(&str, &str, i32)> = board.best_all().into_iter()
    ///     .map(|q| (&*q.key.outcome, &*q.key.bookmaker, q.price.get())).collect();
    /// assert_eq!(best, [("Boston Celtics", "fanduel", -140), ("New York Knicks", "draftkings", 130)]);
    /// ```
    pub fn best_all(&self) -> Vec<&Quote> {
        best_of(self.quotes())
    }
}

/// The best quote for a bettor among `quotes` on (market, outcome, point).
pub(crate) fn best_among<'q>(
    quotes: impl IntoIterator<Item = &'q Quote>,
    market_key: &str,
    outcome: &str,
    point: Option<Line>,
) -> Option<&'q Quote> {
    quotes
        .into_iter()
        .filter(|q| {
            &*q.key.market_key == market_key && &*q.key.outcome == outcome && q.key.point == point
        })
        .min_by(|a, b| rank(a).cmp(&rank(b)))
}

/// How good a price is for a bettor: lower implied probability first (ties
/// by bookmaker name, so the choice is stable).
fn rank(q: &Quote) -> (Price, &str) {
    (q.price.implied(), &q.key.bookmaker)
}

/// The best quote (lowest implied probability) of every (event, market,
/// outcome, point) among `quotes`, sorted by those.
///
/// ```
/// let board = wirebook::odds::OddsBoard::new();
/// assert!(wirebook::odds::best_of(board.quotes()).is_empty());
/// ```
pub fn best_of<'q>(quotes: impl IntoIterator<Item = &'q Quote>) -> Vec<&'q Quote> {
    let mut best: std::collections::HashMap<(&str, &str, &str, Option<Line>), &Quote> =
        std::collections::HashMap::new();
    for q in quotes {
        let k = (
            &*q.key.event_id,
            &*q.key.market_key,
            &*q.key.outcome,
            q.key.point,
        );
        let e = best.entry(k).or_insert(q);
        if rank(q) < rank(e) {
            *e = q;
        }
    }
    let mut v: Vec<&Quote> = best.into_values().collect();
    v.sort_by(|a, b| {
        (
            &a.key.event_id,
            &a.key.market_key,
            &a.key.outcome,
            a.key.point,
        )
            .cmp(&(
                &b.key.event_id,
                &b.key.market_key,
                &b.key.outcome,
                b.key.point,
            ))
    });
    v
}

/// Elapsed time between two epoch-ms stamps, where both are known.
pub(crate) fn elapsed(old_ms: Option<u64>, new_ms: Option<u64>) -> Option<Duration> {
    Some(Duration::from_millis(new_ms?.checked_sub(old_ms?)?))
}

#[cfg(test)]
mod tests;
