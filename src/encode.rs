//! Client frames (PROTOCOL.md A2 and B2), written into one reused buffer.
//!
//! The buffer may hold an API key after [`FrameWriter::auth`], so the writer's
//! `Debug` never shows its contents.

use std::fmt;
use std::fmt::Write as _;

/// One market of a `subscribe` or `unsubscribe` frame.
///
/// ```
/// use wirebook::MarketSelector;
/// let m = MarketSelector::parsec_id("kalshi:KXBTC-26MAR10").outcome("yes").depth(10);
/// assert_eq!(m.to_string(), r#"{"parsec_id":"kalshi:KXBTC-26MAR10","outcome":"yes","depth":10}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketSelector<'a> {
    id: MarketId<'a>,
    outcome: Option<&'a str>,
    depth: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarketId<'a> {
    Parsec(&'a str),
    Venue {
        exchange: &'a str,
        market_id: &'a str,
    },
}

impl<'a> MarketSelector<'a> {
    /// A market by `parsec_id` (`exchange:market_id`).
    ///
    /// ```
    /// use wirebook::MarketSelector;
    /// assert_eq!(MarketSelector::parsec_id("kalshi:X").to_string(), r#"{"parsec_id":"kalshi:X"}"#);
    /// ```
    pub fn parsec_id(parsec_id: &'a str) -> Self {
        MarketSelector {
            id: MarketId::Parsec(parsec_id),
            outcome: None,
            depth: None,
        }
    }

    /// A market by exchange and venue market id.
    ///
    /// ```
    /// use wirebook::MarketSelector;
    /// let m = MarketSelector::venue("polymarket", "0x12");
    /// assert_eq!(m.to_string(), r#"{"exchange":"polymarket","market_id":"0x12"}"#);
    /// ```
    pub fn venue(exchange: &'a str, market_id: &'a str) -> Self {
        MarketSelector {
            id: MarketId::Venue {
                exchange,
                market_id,
            },
            outcome: None,
            depth: None,
        }
    }

    /// The outcome (optional for Yes/No markets, required for categorical ones).
    ///
    /// ```
    /// use wirebook::MarketSelector;
    /// let m = MarketSelector::parsec_id("polymarket:0x1").outcome("No");
    /// assert!(m.to_string().contains(r#""outcome":"No""#));
    /// ```
    pub fn outcome(mut self, outcome: &'a str) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Levels per side (the server clamps to the tier's maximum).
    ///
    /// ```
    /// use wirebook::MarketSelector;
    /// assert!(MarketSelector::parsec_id("a:b").depth(10).to_string().ends_with(r#""depth":10}"#));
    /// ```
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }

    fn write(&self, out: &mut String, with_depth: bool) {
        out.push('{');
        match self.id {
            MarketId::Parsec(id) => {
                out.push_str("\"parsec_id\":");
                push_json_str(out, id);
            }
            MarketId::Venue {
                exchange,
                market_id,
            } => {
                out.push_str("\"exchange\":");
                push_json_str(out, exchange);
                out.push_str(",\"market_id\":");
                push_json_str(out, market_id);
            }
        }
        if let Some(o) = self.outcome {
            out.push_str(",\"outcome\":");
            push_json_str(out, o);
        }
        if let (true, Some(d)) = (with_depth, self.depth) {
            let _ = write!(out, ",\"depth\":{d}");
        }
        out.push('}');
    }
}

impl fmt::Display for MarketSelector<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s, true);
        f.write_str(&s)
    }
}

/// Appends `s` as a JSON string literal.
///
/// ```
/// let mut out = String::new();
/// wirebook::encode::push_json_str(&mut out, "a\"b\n");
/// assert_eq!(out, r#""a\"b\n""#);
/// ```
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes client frames into a reused buffer; each method returns the frame text.
///
/// ```
/// use wirebook::{FrameWriter, MarketSelector};
/// let mut w = FrameWriter::new();
/// assert_eq!(w.resync("kalshi:X", Some("yes")), r#"{"type":"resync","parsec_id":"kalshi:X","outcome":"yes"}"#);
/// let sub = w.subscribe(&[MarketSelector::parsec_id("kalshi:X").depth(10)], &[]);
/// assert_eq!(sub, r#"{"type":"subscribe","markets":[{"parsec_id":"kalshi:X","depth":10}]}"#);
/// let auth = w.auth("pk_secret").to_owned();
/// assert!(!format!("{w:?}").contains("pk_secret"));
/// # assert!(auth.contains("pk_secret"));
/// ```
#[derive(Default)]
pub struct FrameWriter {
    buf: String,
}

impl fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameWriter")
            .field("len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl FrameWriter {
    /// A writer with an empty buffer.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.odds_unsubscribe(), r#"{"type":"unsubscribe"}"#);
    /// ```
    pub fn new() -> FrameWriter {
        FrameWriter {
            buf: String::with_capacity(256),
        }
    }

    fn start(&mut self, type_name: &str) -> &mut String {
        self.buf.clear();
        self.buf.push_str("{\"type\":\"");
        self.buf.push_str(type_name);
        self.buf.push('"');
        &mut self.buf
    }

    /// `{"type":"auth","api_key":KEY}`.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.auth("pk_x"), r#"{"type":"auth","api_key":"pk_x"}"#);
    /// ```
    pub fn auth(&mut self, api_key: &str) -> &str {
        let b = self.start("auth");
        b.push_str(",\"api_key\":");
        push_json_str(b, api_key);
        b.push('}');
        &self.buf
    }

    /// `{"type":"auth_terminal","token":T}`.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.auth_terminal("t"), r#"{"type":"auth_terminal","token":"t"}"#);
    /// ```
    pub fn auth_terminal(&mut self, token: &str) -> &str {
        let b = self.start("auth_terminal");
        b.push_str(",\"token\":");
        push_json_str(b, token);
        b.push('}');
        &self.buf
    }

    /// A `subscribe` frame with many markets and wallet addresses `(exchange, address)`.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.subscribe(&[], &[("polymarket", "0xabc")]),
    ///     r#"{"type":"subscribe","markets":[],"addresses":[{"exchange":"polymarket","address":"0xabc"}]}"#);
    /// ```
    pub fn subscribe(
        &mut self,
        markets: &[MarketSelector<'_>],
        addresses: &[(&str, &str)],
    ) -> &str {
        let b = self.start("subscribe");
        write_markets(b, markets, true);
        if !addresses.is_empty() {
            write_addresses(b, addresses);
        }
        b.push('}');
        &self.buf
    }

    /// An `unsubscribe` frame (depth is not sent).
    ///
    /// ```
    /// use wirebook::{FrameWriter, MarketSelector};
    /// let mut w = FrameWriter::new();
    /// assert_eq!(w.unsubscribe(&[MarketSelector::parsec_id("a:b").depth(5)], &[]),
    ///     r#"{"type":"unsubscribe","markets":[{"parsec_id":"a:b"}]}"#);
    /// ```
    pub fn unsubscribe(
        &mut self,
        markets: &[MarketSelector<'_>],
        addresses: &[(&str, &str)],
    ) -> &str {
        let b = self.start("unsubscribe");
        write_markets(b, markets, false);
        if !addresses.is_empty() {
            write_addresses(b, addresses);
        }
        b.push('}');
        &self.buf
    }

    /// A `resync` request for one book.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.resync("a:b", None), r#"{"type":"resync","parsec_id":"a:b"}"#);
    /// ```
    pub fn resync(&mut self, parsec_id: &str, outcome: Option<&str>) -> &str {
        let b = self.start("resync");
        b.push_str(",\"parsec_id\":");
        push_json_str(b, parsec_id);
        if let Some(o) = outcome {
            b.push_str(",\"outcome\":");
            push_json_str(b, o);
        }
        b.push('}');
        &self.buf
    }

    /// Parlay `{"type":"subscribe","event_id":ID}`.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.odds_subscribe("e1"), r#"{"type":"subscribe","event_id":"e1"}"#);
    /// ```
    pub fn odds_subscribe(&mut self, event_id: &str) -> &str {
        let b = self.start("subscribe");
        b.push_str(",\"event_id\":");
        push_json_str(b, event_id);
        b.push('}');
        &self.buf
    }

    /// Parlay `{"type":"unsubscribe"}`.
    ///
    /// ```
    /// let mut w = wirebook::FrameWriter::new();
    /// assert_eq!(w.odds_unsubscribe(), r#"{"type":"unsubscribe"}"#);
    /// ```
    pub fn odds_unsubscribe(&mut self) -> &str {
        self.start("unsubscribe").push('}');
        &self.buf
    }
}

/// `markets`, with each selector's depth or without. Not optional in
/// PROTOCOL.md A2: always written, empty when a frame is for wallets alone.
fn write_markets(b: &mut String, markets: &[MarketSelector<'_>], depth: bool) {
    b.push_str(",\"markets\":[");
    for (i, m) in markets.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        m.write(b, depth);
    }
    b.push(']');
}

fn write_addresses(b: &mut String, addresses: &[(&str, &str)]) {
    b.push_str(",\"addresses\":[");
    for (i, (exchange, address)) in addresses.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        b.push_str("{\"exchange\":");
        push_json_str(b, exchange);
        b.push_str(",\"address\":");
        push_json_str(b, address);
        b.push('}');
    }
    b.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use simd_json::prelude::*;

    /// The frame parsed back by simd-json (so it is valid JSON).
    fn parsed(frame: &str) -> simd_json::OwnedValue {
        let mut bytes = frame.as_bytes().to_vec();
        simd_json::to_owned_value(&mut bytes).unwrap_or_else(|e| panic!("{frame}: {e}"))
    }

    /// Strings a user or a server could hand the writer.
    const HOSTILE: [&str; 4] = ["plain:X", "quo\"te\\back", "ctl\u{1}\n\t\r", "ünï:€ 🎲"];

    #[test]
    fn every_frame_is_valid_json_whose_strings_round_trip() {
        let mut w = FrameWriter::new();
        for s in HOSTILE {
            let v = parsed(w.auth(s));
            assert_eq!(
                (v["type"].as_str(), v["api_key"].as_str()),
                (Some("auth"), Some(s))
            );
            let v = parsed(w.resync(s, Some(s)));
            assert_eq!(
                (v["parsec_id"].as_str(), v["outcome"].as_str()),
                (Some(s), Some(s))
            );
            assert!(parsed(w.resync(s, None)).get("outcome").is_none());
            let v = parsed(w.odds_subscribe(s));
            assert_eq!(v["event_id"].as_str(), Some(s));
        }
    }

    #[test]
    fn a_subscribe_batch_carries_every_market_and_wallet_in_order() {
        let mut w = FrameWriter::new();
        let mut markets: Vec<MarketSelector<'_>> = HOSTILE
            .iter()
            .enumerate()
            .map(|(i, s)| MarketSelector::parsec_id(s).outcome(s).depth(i as u32 + 1))
            .collect();
        markets.push(MarketSelector::venue("polymarket", HOSTILE[1]));
        let wallets = [("polymarket", HOSTILE[2]), ("kalshi", "0xabc")];
        let v = parsed(w.subscribe(&markets, &wallets));
        assert_eq!(v["type"].as_str(), Some("subscribe"));
        let got = v["markets"].as_array().unwrap();
        assert_eq!(got.len(), 5);
        for (i, s) in HOSTILE.iter().enumerate() {
            assert_eq!(got[i]["parsec_id"].as_str(), Some(*s));
            assert_eq!(got[i]["outcome"].as_str(), Some(*s));
            assert_eq!(got[i]["depth"].as_u64(), Some(i as u64 + 1));
        }
        assert_eq!(got[4]["exchange"].as_str(), Some("polymarket"));
        assert_eq!(got[4]["market_id"].as_str(), Some(HOSTILE[1]));
        let addresses = v["addresses"].as_array().unwrap();
        assert_eq!(addresses[0]["address"].as_str(), Some(HOSTILE[2]));
        assert_eq!(addresses[1]["exchange"].as_str(), Some("kalshi"));

        // Unsubscribe: the same markets, no depth.
        let v = parsed(w.unsubscribe(&markets, &wallets));
        let got = v["markets"].as_array().unwrap();
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|m| m.get("depth").is_none()));
        assert_eq!(got[3]["parsec_id"].as_str(), Some(HOSTILE[3]));
        // The buffer is reused: a short frame after a long one is whole.
        assert_eq!(w.odds_unsubscribe(), r#"{"type":"unsubscribe"}"#);
    }
}
