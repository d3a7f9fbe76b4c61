//! From a WebSocket message buffer to a typed [`Frame`].
//!
//! Two parsers share one entry point, [`FrameParser::parse`]:
//!
//! - the **fast path** ([`FrameParser::parse_fast`]), a single forward scan
//!   specialised to the hot frames (`orderbook`, `orderbook_delta`,
//!   `odds_update`) that reads decimal digits straight into fixed-point
//!   integers. It accepts a frame only when it understood every byte of it;
//!   anything else (another type, an escaped string, a duplicate key, a
//!   number it cannot place exactly, a syntax error) falls through to
//! - the **general path** ([`FrameParser::parse_general`]), simd-json's tape
//!   parser with reused buffers, which handles every frame of PROTOCOL.md A3
//!   and B2 and produces the typed [`ParseError`] for bad input.
//!
//! The general path is also the fast path's oracle: on every input the fast
//! path accepts, both must produce the same frame (fuzz target
//! `parse_differential`). Numbers agree exactly up to 15 significant digits
//! (beyond that the general path sees an `f64`; the fast path stays exact).

mod fast;
mod general;
mod text;

pub(crate) use fast::{bytes_equal, MarketToken};

use crate::frame::{Change, Frame, Level, RawOddsRow};
use crate::price::NumberError;

/// Largest frame the parser accepts (16 MiB); larger ones are rejected
/// before any work, so a hostile peer cannot make the parser allocate without bound.
///
/// ```
/// use wirebook::{FrameParser, ParseError, MAX_FRAME_LEN};
/// assert_eq!(MAX_FRAME_LEN, 16 << 20);
/// let mut big = vec![b' '; MAX_FRAME_LEN + 1];
/// let err = FrameParser::new().parse(&mut big).unwrap_err();
/// assert_eq!(err, ParseError::TooLarge { len: MAX_FRAME_LEN + 1 });
/// ```
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Frames above this size (PROTOCOL.md's are kilobytes) grow the parser's
/// buffers to their size: simd-json's tape and indexes to several times it.
/// Those buffers are released before the next frame, so one outsized frame
/// does not keep that memory for the life of the connection.
const RETAIN_FRAME_LEN: usize = 1 << 20;

/// Why a frame could not be parsed. The frame is skipped; nothing else is lost.
///
/// ```
/// use wirebook::{FrameParser, ParseError};
/// let mut p = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"a:b","outcome":"yes","changes":[{"side":"middle","price":0.5,"size":1}],"server_seq":2}"#.to_vec();
/// let err = p.parse(&mut msg).unwrap_err();
/// assert_eq!(err, ParseError::BadValue { field: "side" });
/// assert_eq!(err.to_string(), r#"field "side" has an invalid value"#);
/// assert!(!err.is_ignorable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The message was empty. Count it and go on.
    #[error("empty frame")]
    Empty,
    /// The message is larger than [`MAX_FRAME_LEN`]. Count it and go on.
    #[error("frame of {len} bytes exceeds the limit")]
    TooLarge {
        /// Length of the message.
        len: usize,
    },
    /// Not valid JSON (truncated, garbage, NaN, too deep, bad UTF-8). Count it and go on.
    #[error("invalid JSON{}: {detail}", offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    InvalidJson {
        /// Byte offset where the JSON parser stopped, when it says: its first
        /// pass, which finds unclosed strings, raw control characters in
        /// strings and invalid UTF-8, gives none.
        offset: Option<usize>,
        /// What the JSON parser found wrong.
        detail: String,
    },
    /// Valid JSON but not an object at the top level. Count it and go on.
    #[error("frame is not a JSON object")]
    NotAnObject,
    /// The object has no string `type`. Count it and go on.
    #[error("frame has no \"type\" field")]
    MissingType,
    /// A `type` this crate does not know. Ignore it (forward compatibility): not an error of the peer.
    #[error("unknown frame type {type_name:?}")]
    UnknownType {
        /// The `type` value (cut to 64 bytes).
        type_name: String,
    },
    /// A required field is absent. Count it and go on.
    #[error("missing field {field:?}")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// A field has the wrong JSON type. Count it and go on.
    #[error("field {field:?} should be {expected}")]
    WrongType {
        /// The field's name.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A field's number cannot be a price, size or integer of ours. Count it and go on.
    #[error("field {field:?}: {error}")]
    BadNumber {
        /// The field's name.
        field: &'static str,
        /// What is wrong with the number.
        error: NumberError,
    },
    /// A field's string is not one of the allowed words (e.g. `side` other than bid/ask).
    #[error("field {field:?} has an invalid value")]
    BadValue {
        /// The field's name.
        field: &'static str,
    },
}

impl ParseError {
    /// Whether the frame should merely be ignored (an unknown `type`), not counted as malformed.
    ///
    /// ```
    /// use wirebook::FrameParser;
    /// let mut p = FrameParser::new();
    /// let err = p.parse(&mut br#"{"type":"new_thing"}"#.to_vec()).unwrap_err();
    /// assert!(err.is_ignorable());
    /// ```
    pub fn is_ignorable(&self) -> bool {
        matches!(self, ParseError::UnknownType { .. })
    }

    /// Byte offset of the error in the frame, where known.
    ///
    /// ```
    /// use wirebook::FrameParser;
    /// let mut p = FrameParser::new();
    /// let err = p.parse(&mut br#"{"type":"heartbeat","ts_ms":}"#.to_vec()).unwrap_err();
    /// assert_eq!(err.offset(), Some(28));
    /// // A string cut off: found before any position is known.
    /// let err = p.parse(&mut br#"{"type":"heart"#.to_vec()).unwrap_err();
    /// assert_eq!(err.offset(), None);
    /// ```
    pub fn offset(&self) -> Option<usize> {
        match self {
            ParseError::InvalidJson { offset, .. } => *offset,
            _ => None,
        }
    }
}

/// Scratch arrays a frame borrows from; reused across frames.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) bids: Vec<Level>,
    pub(crate) asks: Vec<Level>,
    pub(crate) changes: Vec<Change>,
    pub(crate) rows: Vec<RawOddsRow>,
    /// Text the general path copies out of the tape: odds-row strings, `wallet_activity.data`.
    pub(crate) text: Vec<u8>,
    /// A `wallet_activity` frame's `data` as it came, copied before the
    /// general parser rewrites the buffer.
    pub(crate) raw: Vec<u8>,
}

/// Value spans reserved for the generic scan's record of one frame.
const RECORDED: usize = 32;

impl Scratch {
    /// Room for typical frames (deeper ones grow it once).
    fn new() -> Scratch {
        Scratch {
            bids: Vec::with_capacity(128),
            asks: Vec::with_capacity(128),
            changes: Vec::with_capacity(64),
            rows: Vec::with_capacity(64),
            text: Vec::new(),
            raw: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.changes.clear();
        self.rows.clear();
        self.text.clear();
        self.raw.clear();
    }
}

/// Counts of frames by parser, for tuning and for the README's justification.
///
/// ```
/// use wirebook::{FrameParser, ParserStats};
/// let mut p = FrameParser::new();
/// let mut delta = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[{"side":"bid","price":0.65,"size":900.0}],"server_seq":7}"#.to_vec();
/// let mut auth = br#"{"type":"auth_ok","customer_id":"cust_1"}"#.to_vec();
/// assert!(p.parse(&mut delta).is_ok());
/// assert!(p.parse(&mut auth).is_ok());
/// let stats: ParserStats = p.stats();
/// assert_eq!((stats.fast, stats.general), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParserStats {
    /// Frames the fast path accepted (by a learned template or by its generic scan).
    pub fast: u64,
    /// Of those, frames read by a learned template.
    pub template: u64,
    /// Of those, frames read through the template's remembered strings of
    /// their market (a few long compares; the rest went slot by slot).
    pub remembered: u64,
    /// Frames handed to simd-json (successfully or not).
    pub general: u64,
}

/// Parses server frames of both protocols, reusing its buffers across calls.
///
/// ```
/// use wirebook::{Frame, FrameParser};
/// let mut parser = FrameParser::new();
/// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes",
///     "changes":[{"side":"bid","price":0.65,"size":900.0}],"server_seq":7}"#.to_vec();
/// let Frame::Delta(d) = parser.parse(&mut msg).unwrap() else { panic!() };
/// assert_eq!((d.market.parsec_id, d.server_seq, d.changes.len()), ("kalshi:X", 7, 1));
/// ```
pub struct FrameParser {
    scratch: Scratch,
    general: general::GeneralParser,
    stats: ParserStats,
    /// Frame shapes learned by the fast path, most recently used tracked by `tick`.
    templates: Vec<fast::Template>,
    /// Where the values lay in the frame the generic scan just read.
    recorded: Vec<fast::ValueSpan>,
    /// What the fast path found in the current frame.
    fields: fast::Fields,
    tick: u64,
    /// The last frame was over [`RETAIN_FRAME_LEN`]: release the buffers it grew.
    outsized: bool,
}

/// How many frame shapes the fast path remembers.
const MAX_TEMPLATES: usize = 8;

/// Most values, and most bytes between them (keys, punctuation, whitespace),
/// of a frame whose shape is learned (PROTOCOL.md's have about 15 values and
/// a few hundred such bytes).
const MAX_TEMPLATE_VALUES: usize = 64;
const MAX_TEMPLATE_LITERALS: usize = 4096;

impl Default for FrameParser {
    fn default() -> Self {
        FrameParser::new()
    }
}

impl std::fmt::Debug for FrameParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameParser")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl FrameParser {
    /// A parser with buffers sized for typical frames; they grow to the largest frame seen.
    ///
    /// ```
    /// let parser = wirebook::FrameParser::new();
    /// assert_eq!(parser.stats().fast, 0);
    /// ```
    pub fn new() -> FrameParser {
        FrameParser {
            scratch: Scratch::new(),
            general: general::GeneralParser::new(),
            stats: ParserStats::default(),
            templates: Vec::with_capacity(MAX_TEMPLATES),
            recorded: Vec::with_capacity(RECORDED),
            fields: fast::Fields::default(),
            tick: 0,
            outsized: false,
        }
    }

    /// Checks a frame's length before any work: `TooLarge` over
    /// [`MAX_FRAME_LEN`]; first releases what the last frame grew if it was
    /// outsized.
    #[inline(always)]
    fn admit(&mut self, len: usize) -> Result<(), ParseError> {
        if self.outsized {
            self.release();
        }
        if len > MAX_FRAME_LEN {
            return Err(ParseError::TooLarge { len });
        }
        self.outsized = len > RETAIN_FRAME_LEN;
        Ok(())
    }

    /// Back to the buffers of a new parser (the learned shapes stay: each
    /// holds only a frame's literals, bounded when it is learned).
    #[cold]
    #[inline(never)]
    fn release(&mut self) {
        self.outsized = false;
        self.scratch = Scratch::new();
        self.general = general::GeneralParser::new();
        self.recorded = Vec::with_capacity(RECORDED);
    }

    /// Parses one message: fast path first, simd-json when the fast path declines.
    ///
    /// The buffer is mutable because simd-json unescapes strings in place.
    ///
    /// ```
    /// use wirebook::{Frame, FrameParser, ParseError};
    /// let mut parser = FrameParser::new();
    /// let err = parser.parse(&mut b"hello".to_vec()).unwrap_err();
    /// assert!(matches!(err, ParseError::InvalidJson { .. }));
    /// ```
    #[inline(always)]
    pub fn parse<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Frame<'a>, ParseError> {
        self.parse_marked(buf).0
    }

    /// [`parse`](Self::parse), with the frame's market token when a learned
    /// market's runs read it (0 otherwise): the store finds the book by it.
    #[inline(always)]
    pub(crate) fn parse_marked<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> (Result<Frame<'a>, ParseError>, MarketToken) {
        match self.scan_marked(buf) {
            Ok(true) => self.scanned(buf),
            Ok(false) => (self.general_marked(buf), 0),
            Err(e) => (Err(e), 0),
        }
    }

    /// Parses a message that cannot be written to (a WebSocket library's
    /// shared buffer): the fast path reads it where it lies; only a frame it
    /// declines is copied into `spare` (reused) for simd-json, which parses in place.
    ///
    /// ```
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut spare = Vec::new();
    /// let msg = br#"{"type":"heartbeat","ts_ms":5}"#;
    /// assert!(matches!(parser.parse_shared(msg, &mut spare), Ok(Frame::Heartbeat { ts_ms: Some(5) })));
    /// ```
    pub fn parse_shared<'a>(
        &'a mut self,
        buf: &'a [u8],
        spare: &'a mut Vec<u8>,
    ) -> Result<Frame<'a>, ParseError> {
        self.parse_shared_marked(buf, spare).0
    }

    /// [`parse_shared`](Self::parse_shared) with the frame's market token, as
    /// [`parse_marked`](Self::parse_marked).
    #[inline]
    pub(crate) fn parse_shared_marked<'a>(
        &'a mut self,
        buf: &'a [u8],
        spare: &'a mut Vec<u8>,
    ) -> (Result<Frame<'a>, ParseError>, MarketToken) {
        match self.scan_marked(buf) {
            Ok(true) => self.scanned(buf),
            Ok(false) => (self.general_shared(buf, spare), 0),
            Err(e) => (Err(e), 0),
        }
    }

    /// After [`scan_marked`](Self::scan_marked) declined a buffer that
    /// cannot be written to: a copy in `spare` (reused) parsed by simd-json.
    #[inline(never)]
    pub(crate) fn general_shared<'a>(
        &'a mut self,
        buf: &[u8],
        spare: &'a mut Vec<u8>,
    ) -> Result<Frame<'a>, ParseError> {
        self.stats.general += 1;
        if spare.capacity() > RETAIN_FRAME_LEN.max(buf.len()) {
            // An outsized frame's copy is not kept either.
            *spare = Vec::new();
        }
        spare.clear();
        spare.extend_from_slice(buf);
        self.general_admitted(spare)
    }

    /// Parses with the fast path only; `None` where it declines (it never errors).
    ///
    /// ```
    /// use wirebook::FrameParser;
    /// let mut parser = FrameParser::new();
    /// assert!(parser.parse_fast(br#"{"type":"auth_ok"}"#).is_none());
    /// ```
    pub fn parse_fast<'a>(&'a mut self, buf: &'a [u8]) -> Option<Frame<'a>> {
        self.admit(buf.len()).ok()?;
        self.scan_fast(buf)?;
        Some(self.fields.frame(buf, &self.scratch))
    }

    /// The first step of the store's own hot path: admits and scans `buf`
    /// with the fast path; `Ok(false)` where it declines (then
    /// [`general_marked`](Self::general_marked)).
    #[inline(always)]
    pub(crate) fn scan_marked(&mut self, buf: &[u8]) -> Result<bool, ParseError> {
        self.admit(buf.len())?;
        Ok(self.scan_fast(buf).is_some())
    }

    /// After [`scan_marked`](Self::scan_marked) read a frame: the body of a
    /// delta whose market's runs read it, with the market's token (no
    /// [`Frame`] built); `None` for any other frame.
    #[inline(always)]
    pub(crate) fn marked_delta(&self) -> Option<(MarketToken, crate::frame::DeltaBody<'_>)> {
        self.fields.marked_delta(&self.scratch)
    }

    /// After [`scan_marked`](Self::scan_marked) declined: the general parse.
    #[inline(never)]
    pub(crate) fn general_marked<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> Result<Frame<'a>, ParseError> {
        self.stats.general += 1;
        self.general_admitted(buf)
    }

    /// The frame the fast path (or [`scan_marked`](Self::scan_marked)) just
    /// accepted in `buf`, with its market token.
    #[inline(always)]
    pub(crate) fn scanned<'a>(
        &'a self,
        buf: &'a [u8],
    ) -> (Result<Frame<'a>, ParseError>, MarketToken) {
        (
            Ok(self.fields.frame(buf, &self.scratch)),
            self.fields.market_token(),
        )
    }

    /// The fast path: learned shapes first, then the generic scan (which
    /// learns the shape of what it accepts).
    #[inline]
    fn scan_fast(&mut self, buf: &[u8]) -> Option<()> {
        self.tick += 1;
        self.scratch.clear();
        for i in 0..self.templates.len() {
            let t = &mut self.templates[i];
            if let Some(remembered) = t.scan(buf, &mut self.scratch, &mut self.fields) {
                t.last_used = self.tick;
                self.stats.fast += 1;
                self.stats.template += 1;
                self.stats.remembered += u64::from(remembered);
                // Most recently used first: a stream of one frame type (deltas)
                // tries its own template before the others.
                if i > 0 {
                    self.templates.swap(i - 1, i);
                }
                return Some(());
            }
            self.scratch.clear();
        }
        self.recorded.clear();
        fast::scan(
            buf,
            &mut self.scratch,
            &mut self.fields,
            Some(&mut self.recorded),
        )?;
        self.stats.fast += 1;
        self.learn(buf);
        Some(())
    }

    /// Remembers the shape the generic scan just read, replacing the least
    /// recently used one when full (reusing its buffers).
    fn learn(&mut self, buf: &[u8]) {
        // A shape is worth learning for small, repeated frames; bounding it
        // bounds what the templates keep (their literals) too.
        let values: usize = self.recorded.iter().map(fast::ValueSpan::len).sum();
        if self.recorded.len() > MAX_TEMPLATE_VALUES
            || buf.len().saturating_sub(values) > MAX_TEMPLATE_LITERALS
        {
            return;
        }
        let slot = if self.templates.len() < MAX_TEMPLATES {
            self.templates.push(fast::Template::default());
            self.templates.len() - 1
        } else {
            (0..self.templates.len())
                .min_by_key(|&i| self.templates[i].last_used)
                .unwrap_or(0)
        };
        let t = &mut self.templates[slot];
        t.learn(buf, &self.recorded, &self.fields);
        t.last_used = self.tick;
    }

    /// Parses with simd-json only (the oracle of the fast path).
    ///
    /// ```
    /// use wirebook::{Frame, FrameParser};
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"auth_ok","customer_id":"cust_1"}"#.to_vec();
    /// assert!(matches!(parser.parse_general(&mut msg), Ok(Frame::AuthOk { .. })));
    /// ```
    pub fn parse_general<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Frame<'a>, ParseError> {
        self.admit(buf.len())?;
        self.general_admitted(buf)
    }

    /// simd-json on a frame [`admit`](Self::admit) has let through.
    fn general_admitted<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Frame<'a>, ParseError> {
        self.scratch.clear();
        self.general.parse(buf, &mut self.scratch)
    }

    /// How many frames each path handled.
    ///
    /// ```
    /// let mut parser = wirebook::FrameParser::new();
    /// let _ = parser.parse(&mut br#"{"type":"heartbeat","ts_ms":1}"#.to_vec());
    /// assert_eq!(parser.stats().general, 1);
    /// ```
    pub fn stats(&self) -> ParserStats {
        self.stats
    }
}

/// Parlay `timestamp` values are epoch seconds (possibly fractional) in the
/// published examples; a value of 1e11 or more can only be milliseconds, so it
/// is taken as such (the safe reading, recorded in the README).
pub(crate) fn parlay_timestamp_ms(d: crate::Decimal) -> Option<u64> {
    let whole = round_to_u64(d)?;
    if whole >= 100_000_000_000 {
        Some(whole)
    } else {
        seconds_to_ms(d)
    }
}

/// `d` seconds in whole milliseconds, rounded half up.
pub(crate) fn seconds_to_ms(d: crate::Decimal) -> Option<u64> {
    round_to_u64(crate::Decimal {
        exponent: d.exponent.checked_add(3)?,
        ..d
    })
}

fn round_to_u64(d: crate::Decimal) -> Option<u64> {
    if d.negative && d.mantissa != 0 {
        return None;
    }
    if d.exponent >= 0 {
        if d.inexact && d.exponent > 0 {
            return None; // a digit dropped above the unit: past u64::MAX
        }
        d.mantissa
            .checked_mul(10u64.checked_pow(d.exponent as u32)?)
    } else {
        match 10u64.checked_pow(d.exponent.unsigned_abs()) {
            Some(div) => {
                let (q, r) = (d.mantissa / div, d.mantissa % div);
                Some(q + u64::from(r >= div - r))
            }
            None => Some(0),
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary (wire text
/// kept past its frame, so that a peer cannot make it megabytes).
pub(crate) fn clipped(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `type_name` of an unknown frame, cut to 64 bytes on a character boundary.
pub(crate) fn unknown_type(type_name: &str) -> ParseError {
    ParseError::UnknownType {
        type_name: clipped(type_name, 64).to_owned(),
    }
}

#[cfg(test)]
mod tests;
