//! The simulator's side of the wire: server frames written into one reused
//! buffer, client frames read with simd-json's value API (they are rare).

use std::fmt::Write as _;

use simd_json::prelude::*;

use super::market::Style;
use crate::encode::push_json_str;
use crate::frame::{Change, Level, Side, TradeSide};
use crate::price::{Price, Size};

/// One market selector of a client `subscribe` / `unsubscribe` frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    pub(crate) parsec_id: Option<String>,
    pub(crate) exchange: Option<String>,
    pub(crate) market_id: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) depth: Option<u64>,
}

/// A client frame as the simulator understands it (its `Debug` hides the
/// key and the token).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Auth {
        key: String,
    },
    AuthTerminal {
        token: String,
    },
    Subscribe {
        markets: Vec<Selector>,
        addresses: Vec<(String, String)>,
    },
    Unsubscribe {
        markets: Vec<Selector>,
        addresses: Vec<(String, String)>,
    },
    Resync {
        parsec_id: String,
        outcome: Option<String>,
    },
    /// Valid JSON with a `type` the server does not know.
    Unknown,
    /// Not a JSON object with a string `type`, or a known type with bad fields.
    Malformed,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Auth { .. } => f
                .debug_struct("Auth")
                .field("key", &format_args!("<redacted>"))
                .finish(),
            Request::AuthTerminal { .. } => f
                .debug_struct("AuthTerminal")
                .field("token", &format_args!("<redacted>"))
                .finish(),
            Request::Subscribe { markets, addresses } => f
                .debug_struct("Subscribe")
                .field("markets", markets)
                .field("addresses", addresses)
                .finish(),
            Request::Unsubscribe { markets, addresses } => f
                .debug_struct("Unsubscribe")
                .field("markets", markets)
                .field("addresses", addresses)
                .finish(),
            Request::Resync { parsec_id, outcome } => f
                .debug_struct("Resync")
                .field("parsec_id", parsec_id)
                .field("outcome", outcome)
                .finish(),
            Request::Unknown => f.write_str("Unknown"),
            Request::Malformed => f.write_str("Malformed"),
        }
    }
}

impl Request {
    /// Whether the frame counts against the control-frame limit (PROTOCOL.md A2).
    pub(crate) fn is_control(&self) -> bool {
        matches!(
            self,
            Request::Subscribe { .. } | Request::Unsubscribe { .. } | Request::Resync { .. }
        )
    }
}

fn string_of(v: &simd_json::BorrowedValue<'_>, key: &str) -> Option<String> {
    v.get(key).and_then(|s| s.as_str()).map(str::to_owned)
}

/// `markets` is required (PROTOCOL.md A2), though it may be empty (a frame
/// that only watches wallets).
fn selectors(v: &simd_json::BorrowedValue<'_>) -> Option<Vec<Selector>> {
    let list = v.get("markets")?.as_array()?;
    list.iter()
        .map(|m| {
            m.as_object()?;
            Some(Selector {
                parsec_id: string_of(m, "parsec_id"),
                exchange: string_of(m, "exchange"),
                market_id: string_of(m, "market_id"),
                outcome: string_of(m, "outcome"),
                depth: m.get("depth").and_then(|d| d.as_u64()),
            })
        })
        .collect()
}

fn addresses(v: &simd_json::BorrowedValue<'_>) -> Option<Vec<(String, String)>> {
    let Some(list) = v.get("addresses") else {
        return Some(Vec::new());
    };
    list.as_array()?
        .iter()
        .map(|a| Some((string_of(a, "exchange")?, string_of(a, "address")?)))
        .collect()
}

/// Reads one client frame (the buffer is parsed in place).
pub(crate) fn read_request(buf: &mut [u8]) -> Request {
    let Ok(v) = simd_json::to_borrowed_value(buf) else {
        return Request::Malformed;
    };
    if v.as_object().is_none() {
        return Request::Malformed;
    }
    let Some(kind) = v.get("type").and_then(|t| t.as_str()) else {
        return Request::Malformed;
    };
    let parsed = match kind {
        "auth" => string_of(&v, "api_key").map(|key| Request::Auth { key }),
        "auth_terminal" => string_of(&v, "token").map(|token| Request::AuthTerminal { token }),
        "subscribe" => selectors(&v)
            .zip(addresses(&v))
            .map(|(markets, addresses)| Request::Subscribe { markets, addresses }),
        "unsubscribe" => selectors(&v)
            .zip(addresses(&v))
            .map(|(markets, addresses)| Request::Unsubscribe { markets, addresses }),
        "resync" => string_of(&v, "parsec_id").map(|parsec_id| Request::Resync {
            parsec_id,
            outcome: string_of(&v, "outcome"),
        }),
        _ => Some(Request::Unknown),
    };
    parsed.unwrap_or(Request::Malformed)
}

/// Identity of a simulated book on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BookId<'a> {
    pub(crate) parsec_id: &'a str,
    pub(crate) market_id: &'a str,
    pub(crate) outcome: &'a str,
    /// `""` for a venue without token ids.
    pub(crate) token_id: &'a str,
}

/// The names of simulated book `key` (market, outcome) as its market's
/// [`Style`] writes them.
#[derive(Debug, Clone)]
pub(crate) struct BookNames {
    parsec_id: String,
    market_id: String,
    token_id: String,
    outcome: &'static str,
}

impl BookNames {
    pub(crate) fn of(key: (u32, u8)) -> BookNames {
        let style = Style::of(key.0);
        let market_id = key.0.to_string();
        BookNames {
            parsec_id: format!("sim:{market_id}"),
            market_id,
            token_id: style.token_id(key.0, key.1),
            outcome: style.outcomes[usize::from(key.1 & 1)],
        }
    }

    pub(crate) fn id(&self) -> BookId<'_> {
        BookId {
            parsec_id: &self.parsec_id,
            market_id: &self.market_id,
            outcome: self.outcome,
            token_id: &self.token_id,
        }
    }
}

/// What a book frame says of the book and of Parsec's link to its venue
/// (`book_state`, `feed_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// `fresh`, `healthy`.
    Healthy,
    /// The venue's stream is failing (after an `error` 2003): `stale`,
    /// `degraded`; the frame's changes are still exact.
    Outage,
    /// `needs_refresh`, `disconnected`: a delta goes out with no changes
    /// (its changes are lost), as PROTOCOL.md's example.
    NeedsRefresh,
}

impl Condition {
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Condition::Healthy => ("fresh", "healthy"),
            Condition::Outage => ("stale", "degraded"),
            Condition::NeedsRefresh => ("needs_refresh", "disconnected"),
        }
    }
}

/// Writes server frames of PROTOCOL.md A3 into one reused buffer.
#[derive(Debug, Default)]
pub(crate) struct ServerWriter {
    buf: String,
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Bid => "bid",
        Side::Ask => "ask",
    }
}

impl ServerWriter {
    fn start(&mut self, kind: &str) -> &mut String {
        self.buf.clear();
        self.buf.push_str("{\"type\":\"");
        self.buf.push_str(kind);
        self.buf.push('"');
        &mut self.buf
    }

    fn market(&mut self, id: BookId<'_>) {
        let b = &mut self.buf;
        b.push_str(",\"parsec_id\":");
        push_json_str(b, id.parsec_id);
        b.push_str(",\"exchange\":\"sim\",\"outcome\":");
        push_json_str(b, id.outcome);
        b.push_str(",\"token_id\":");
        push_json_str(b, id.token_id);
        b.push_str(",\"market_id\":");
        push_json_str(b, id.market_id);
    }

    fn levels(&mut self, name: &str, levels: &[Level]) {
        let b = &mut self.buf;
        let _ = write!(b, ",\"{name}\":[");
        for (i, l) in levels.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(b, "{sep}[{},{}]", l.price, l.size);
        }
        b.push(']');
    }

    fn times(&mut self, ts_ms: u64) {
        let _ = write!(
            self.buf,
            ",\"exchange_ts_ms\":{},\"ingest_ts_ms\":{}",
            ts_ms.saturating_sub(3),
            ts_ms
        );
    }

    /// An `orderbook` snapshot on a grid of `tick_size`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn orderbook(
        &mut self,
        id: BookId<'_>,
        tick_size: Price,
        bids: &[Level],
        asks: &[Level],
        seq: u64,
        condition: Condition,
        stale_after_ms: u64,
        ts_ms: u64,
    ) -> &str {
        self.start("orderbook");
        self.market(id);
        let _ = write!(self.buf, ",\"tick_size\":{tick_size},\"min_order_size\":1,\"kind\":\"snapshot\",\"title\":\"Simulated market {}\"", id.market_id);
        self.levels("bids", bids);
        self.levels("asks", asks);
        let (state, feed) = condition.words();
        let _ = write!(
            self.buf,
            ",\"book_state\":\"{state}\",\"server_seq\":{seq},\"feed_state\":\"{feed}\",\"stale_after_ms\":{stale_after_ms}"
        );
        self.times(ts_ms);
        self.buf.push('}');
        &self.buf
    }

    /// `,"changes":[` and a delta's changes (the caller closes the array).
    /// A book needing a refresh carries no changes and a disconnected feed,
    /// as PROTOCOL.md's example: its changes are lost (the client must
    /// resync to see them).
    fn changes(&mut self, changes: &[Change], condition: Condition) {
        self.buf.push_str(",\"changes\":[");
        let changes = match condition {
            Condition::NeedsRefresh => &[][..],
            _ => changes,
        };
        for (i, c) in changes.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                self.buf,
                "{sep}{{\"side\":\"{}\",\"price\":{},\"size\":{}}}",
                side_name(c.side),
                c.price,
                c.size
            );
        }
    }

    /// An `orderbook_delta` (with no changes under [`Condition::NeedsRefresh`]).
    pub(crate) fn delta(
        &mut self,
        id: BookId<'_>,
        changes: &[Change],
        seq: u64,
        stale_after_ms: u64,
        condition: Condition,
        ts_ms: u64,
    ) -> &str {
        self.start("orderbook_delta");
        self.market(id);
        self.changes(changes, condition);
        let (state, feed) = condition.words();
        let _ = write!(
            self.buf,
            "],\"server_seq\":{seq},\"book_state\":\"{state}\",\"feed_state\":\"{feed}\",\"stale_after_ms\":{stale_after_ms}"
        );
        self.times(ts_ms);
        self.buf.push('}');
        &self.buf
    }

    /// An `orderbook_delta` with only `type`, `parsec_id`, `outcome`,
    /// `changes` and `server_seq`, as the protocol's minimal example delta
    /// (`tests/data/parsec/orderbook_delta_minimal.json`); `book_state` and
    /// `feed_state` only when the book is not fresh and healthy.
    pub(crate) fn minimal_delta(
        &mut self,
        id: BookId<'_>,
        changes: &[Change],
        seq: u64,
        condition: Condition,
    ) -> &str {
        let b = self.start("orderbook_delta");
        b.push_str(",\"parsec_id\":");
        push_json_str(b, id.parsec_id);
        b.push_str(",\"outcome\":");
        push_json_str(b, id.outcome);
        self.changes(changes, condition);
        let _ = write!(self.buf, "],\"server_seq\":{seq}");
        if condition != Condition::Healthy {
            let (state, feed) = condition.words();
            let _ = write!(
                self.buf,
                ",\"book_state\":\"{state}\",\"feed_state\":\"{feed}\""
            );
        }
        self.buf.push('}');
        &self.buf
    }

    /// An `activity` frame: a public trade, or (`fill`) one of the account's own fills.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn activity(
        &mut self,
        id: BookId<'_>,
        fill: bool,
        serial: u64,
        price: Price,
        size: Size,
        side: TradeSide,
        seq: u64,
        condition: Condition,
        ts_ms: u64,
    ) -> &str {
        self.start("activity");
        self.market(id);
        let side = match side {
            TradeSide::Buy => "buy",
            TradeSide::Sell => "sell",
        };
        if fill {
            let _ = write!(
                self.buf,
                ",\"kind\":\"fill\",\"price\":{price},\"size\":{size},\"fill_id\":\"fill_{serial}\",\"order_id\":\"ord_{serial}\",\"side\":\"{side}\",\"liquidity_role\":\"maker\",\"source_channel\":\"sim_user_fill\""
            );
        } else {
            let _ = write!(
                self.buf,
                ",\"kind\":\"trade\",\"price\":{price},\"size\":{size},\"trade_id\":\"trade_{serial}\",\"side\":\"{side}\",\"aggressor_side\":\"{side}\",\"source_channel\":\"sim_trades\""
            );
        }
        let (_, feed) = condition.words();
        let _ = write!(self.buf, ",\"server_seq\":{seq},\"feed_state\":\"{feed}\"");
        self.times(ts_ms);
        self.buf.push('}');
        &self.buf
    }

    /// `resync_required` or `slow_reader` for one book.
    pub(crate) fn book_notice(&mut self, kind: &str, parsec_id: &str, outcome: &str) -> &str {
        self.start(kind);
        self.buf.push_str(",\"parsec_id\":");
        push_json_str(&mut self.buf, parsec_id);
        self.buf.push_str(",\"outcome\":");
        push_json_str(&mut self.buf, outcome);
        self.buf.push('}');
        &self.buf
    }

    /// A `heartbeat`.
    pub(crate) fn heartbeat(&mut self, ts_ms: u64) -> &str {
        self.start("heartbeat");
        let _ = write!(self.buf, ",\"ts_ms\":{ts_ms}}}");
        &self.buf
    }

    /// An `error` (PROTOCOL.md A5), naming a market where it concerns one.
    pub(crate) fn error(&mut self, code: u32, message: &str, parsec_id: Option<&str>) -> &str {
        self.start("error");
        let _ = write!(self.buf, ",\"code\":{code},\"message\":");
        push_json_str(&mut self.buf, message);
        if let Some(id) = parsec_id {
            self.buf.push_str(",\"parsec_id\":");
            push_json_str(&mut self.buf, id);
        }
        self.buf.push('}');
        &self.buf
    }

    /// `auth_ok`.
    pub(crate) fn auth_ok(&mut self, customer_id: &str) -> &str {
        self.start("auth_ok");
        self.buf.push_str(",\"customer_id\":");
        push_json_str(&mut self.buf, customer_id);
        self.buf.push('}');
        &self.buf
    }

    /// `auth_error` 1002.
    pub(crate) fn auth_error(&mut self) -> &str {
        self.start("auth_error");
        self.buf
            .push_str(",\"code\":1002,\"message\":\"invalid api key\"}");
        &self.buf
    }

    /// A `wallet_activity` snapshot of a watched wallet.
    pub(crate) fn wallet(&mut self, exchange: &str, address: &str, serial: u64) -> &str {
        self.start("wallet_activity");
        self.buf.push_str(",\"exchange\":");
        push_json_str(&mut self.buf, exchange);
        self.buf.push_str(",\"address\":");
        push_json_str(&mut self.buf, address);
        let _ = write!(
            self.buf,
            ",\"data\":{{\"positions\":[{{\"market_id\":\"0\",\"size\":{}.5}}],\"open_orders\":[],\"serial\":{serial}}}}}",
            serial % 100
        );
        &self.buf
    }
}

/// Malformed frames the simulator injects, in turn (all valid UTF-8 but the last,
/// which goes out as a binary message).
pub(crate) const MALFORMED: &[&[u8]] = &[
    br#"{"type":"orderbook_delta","parsec_id":"sim:0","changes":[{"side":"bid","pri"#,
    br#"{"type":"orderbook_delta","parsec_id":"sim:0","outcome":"yes","changes":[],"server_seq":"seven"}"#,
    br#"{"type":"orderbook_delta","parsec_id":"sim:0","outcome":"yes","changes":[{"side":"bid","price":NaN,"size":1}],"server_seq":1}"#,
    br#"{"type":"orderbook","parsec_id":"sim:0","outcome":"yes","bids":[[1e999,1]],"asks":[],"server_seq":1}"#,
    b"[1,2,3]",
    b"not json at all",
    b"\x00\xff\xfe garbage \x80",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, FrameParser};

    #[test]
    fn a_minimal_delta_is_written_as_the_protocols_minimal_example() {
        let mut w = ServerWriter::default();
        let names = BookNames::of((5, 1));
        let change = Change {
            side: Side::Ask,
            price: Price::from_units(46_100_000).unwrap(),
            size: Size::ZERO,
        };
        let text = w
            .minimal_delta(names.id(), &[change], 2, Condition::Healthy)
            .to_owned();
        assert_eq!(
            text,
            r#"{"type":"orderbook_delta","parsec_id":"sim:5","outcome":"No","changes":[{"side":"ask","price":0.461,"size":0}],"server_seq":2}"#
        );
        let refresh = w
            .minimal_delta(names.id(), &[change], 3, Condition::NeedsRefresh)
            .to_owned();
        assert!(refresh.ends_with(
            r#""changes":[],"server_seq":3,"book_state":"needs_refresh","feed_state":"disconnected"}"#
        ));
        let mut buf = refresh.into_bytes();
        assert!(matches!(
            FrameParser::new().parse(&mut buf),
            Ok(Frame::Delta(_))
        ));
    }

    #[test]
    fn every_server_frame_the_simulator_writes_parses_back() {
        let mut w = ServerWriter::default();
        let mut p = FrameParser::new();
        let names = BookNames::of((5, 1));
        let id = names.id();
        let l = |p: u64, s: u64| Level::new(Price::from_units(p).unwrap(), Size::from_units(s));
        let frames: Vec<String> = vec![
            w.orderbook(
                id,
                Style::of(5).tick_size(),
                &[l(45_000_000, 150_000_000)],
                &[l(47_010_000, 5)],
                9,
                Condition::Outage,
                5000,
                1,
            )
            .to_owned(),
            w.delta(
                id,
                &[Change {
                    side: Side::Ask,
                    price: Price::from_units(47_000_000).unwrap(),
                    size: Size::ZERO,
                }],
                10,
                5000,
                Condition::NeedsRefresh,
                2,
            )
            .to_owned(),
            w.activity(
                id,
                true,
                4,
                Price::from_units(1_000_000).unwrap(),
                Size::from_units(7),
                TradeSide::Buy,
                11,
                Condition::Outage,
                3,
            )
            .to_owned(),
            w.book_notice("slow_reader", "sim:3", "yes").to_owned(),
            w.heartbeat(5).to_owned(),
            w.error(2002, "market not found", Some("sim:99")).to_owned(),
            w.auth_ok("cust_sim").to_owned(),
            w.auth_error().to_owned(),
            w.wallet("polymarket", "0xabc", 3).to_owned(),
        ];
        let mut kinds = Vec::new();
        for f in frames {
            let mut buf = f.clone().into_bytes();
            let frame = p.parse(&mut buf).unwrap_or_else(|e| panic!("{e}: {f}"));
            kinds.push(frame.type_name());
            if let Frame::Delta(d) = &frame {
                // A book needing a refresh: no changes, its feed disconnected.
                assert_eq!((d.server_seq, d.changes.len()), (10, 0));
                assert_eq!(d.book_state, Some(crate::WireBookState::NeedsRefresh));
                assert_eq!(d.feed_state, Some(crate::FeedState::Disconnected));
            }
            if let Frame::Book(b) = &frame {
                // Market 5 is Polymarket-like: its grid, spelling and token ids.
                assert_eq!(
                    b.tick_size.map(|t| t.to_string()).as_deref(),
                    Some("0.0001")
                );
                assert_eq!((b.market.parsec_id, b.market.outcome), ("sim:5", "No"));
                assert_eq!(b.market.token_id.map(str::len), Some(39));
                assert_eq!(b.asks[0].price.to_string(), "0.4701");
                assert_eq!(b.book_state, Some(crate::WireBookState::Stale));
                assert_eq!(b.feed_state, Some(crate::FeedState::Degraded));
            }
        }
        assert_eq!(kinds.len(), 9);
    }

    #[test]
    fn injected_malformed_frames_are_parse_errors() {
        let mut p = FrameParser::new();
        for m in MALFORMED {
            assert!(
                p.parse(&mut m.to_vec()).is_err(),
                "{}",
                String::from_utf8_lossy(m)
            );
        }
    }

    #[test]
    fn client_frames_the_crate_writes_are_understood() {
        let mut w = crate::FrameWriter::new();
        let sel = [
            crate::MarketSelector::parsec_id("sim:1")
                .outcome("no")
                .depth(10),
            crate::MarketSelector::venue("sim", "2"),
        ];
        let mut buf = w
            .subscribe(&sel, &[("polymarket", "0xabc")])
            .as_bytes()
            .to_vec();
        let Request::Subscribe { markets, addresses } = read_request(&mut buf) else {
            panic!()
        };
        assert_eq!(markets[0].parsec_id.as_deref(), Some("sim:1"));
        assert_eq!(
            (markets[0].outcome.as_deref(), markets[0].depth),
            (Some("no"), Some(10))
        );
        assert_eq!(
            (
                markets[1].exchange.as_deref(),
                markets[1].market_id.as_deref()
            ),
            (Some("sim"), Some("2"))
        );
        assert_eq!(
            addresses,
            vec![("polymarket".to_owned(), "0xabc".to_owned())]
        );
        let mut buf = w.auth("pk_x").as_bytes().to_vec();
        let auth = read_request(&mut buf);
        assert_eq!(auth, Request::Auth { key: "pk_x".into() });
        assert_eq!(format!("{auth:?}"), "Auth { key: <redacted> }");
        let mut buf = w.resync("sim:1", None).as_bytes().to_vec();
        assert!(read_request(&mut buf).is_control());
        assert_eq!(
            read_request(&mut b"{\"type\":1}".to_vec()),
            Request::Malformed
        );
        assert_eq!(
            read_request(&mut b"{\"type\":\"hello\"}".to_vec()),
            Request::Unknown
        );
    }
}
