//! Edge alerts (PROTOCOL.md B4): a quote whose implied probability moved by
//! at least a threshold since its previous price.

use std::time::Duration;

use super::{elapsed, AmericanOdds, Move, OddsBoard, QuoteKey};
use crate::price::UNITS_PER_ONE;

/// A price move at or over the threshold.
///
/// ```
/// use wirebook::odds::{EdgeAlerts, OddsBoard};
/// use wirebook::{Frame, FrameParser};
/// let (mut board, mut parser, mut moves) = (OddsBoard::new(), FrameParser::new(), Vec::new());
/// for price in [-110, -150] {
///     let mut msg = format!(r#"{{"type":"odds_update","data":[{{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":{price}}}]}}"#).into_bytes();
///     let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
///     moves = board.update(&update).to_vec();
/// }
/// let mut fired = Vec::new();
/// EdgeAlerts::new(0.02).check(&board, &moves, &mut fired);
/// let alert = &fired[0];
/// assert_eq!((&*alert.key.outcome, alert.old.get(), alert.new.get()), ("Boston Celtics", -110, -150));
/// assert_eq!(alert.moved_units, i64::from(alert.new.implied().units()) - i64::from(alert.old.implied().units()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeAlert {
    /// The quote.
    pub key: QuoteKey,
    /// Its price before.
    pub old: AmericanOdds,
    /// Its price now.
    pub new: AmericanOdds,
    /// The move of the implied probability, in units of 1e-8 (positive: shorter odds).
    pub moved_units: i64,
    /// Time between the two prices, where both are stamped.
    pub elapsed: Option<Duration>,
}

impl EdgeAlert {
    /// The move in implied-probability points (0.03 = 3 points).
    ///
    /// ```
    /// use wirebook::odds::{EdgeAlerts, OddsBoard};
    /// use wirebook::{Frame, FrameParser};
    /// let (mut board, mut parser, mut moves) = (OddsBoard::new(), FrameParser::new(), Vec::new());
    /// for price in [-110, -150] {
    ///     let mut msg = format!(r#"{{"type":"odds_update","data":[{{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":{price}}}]}}"#).into_bytes();
    ///     let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    ///     moves = board.update(&update).to_vec();
    /// }
    /// let mut fired = Vec::new();
    /// EdgeAlerts::new(0.02).check(&board, &moves, &mut fired);
    /// let moved = fired[0].moved(); // -110 (52.38 %) to -150 (60 %): 7.6 points
    /// assert!(moved > 0.076 && moved < 0.077);
    /// ```
    pub fn moved(&self) -> f64 {
        self.moved_units as f64 / UNITS_PER_ONE as f64
    }
}

/// Fires [`EdgeAlert`]s: compares each moved quote's old and new implied
/// probability (two integer divisions a move; nothing when nothing moved).
///
/// ```
/// use wirebook::odds::{EdgeAlerts, OddsBoard};
/// use wirebook::{Frame, FrameParser};
/// let mut board = OddsBoard::new();
/// let mut parser = FrameParser::new();
/// let alerts = EdgeAlerts::new(0.02);
/// for (i, price) in [-110, -150].iter().enumerate() {
///     let mut msg = format!(r#"{{"type":"odds_update","timestamp":{},"data":[{{"event_id":"e","bookmaker":"b","market_key":"h2h","outcome":"X","price_american":{price}}}]}}"#, 1_779_999_990 + i).into_bytes();
///     let Ok(Frame::OddsUpdate(u)) = parser.parse(&mut msg) else { panic!() };
///     let mut fired = Vec::new();
///     let moves = board.update(&u).to_vec();
///     alerts.check(&board, &moves, &mut fired);
///     if i == 1 {
///         assert_eq!((fired[0].old.get(), fired[0].new.get()), (-110, -150));
///         assert!(fired[0].moved() > 0.07);
///         assert_eq!(fired[0].elapsed, Some(std::time::Duration::from_secs(1)));
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeAlerts {
    threshold_units: u64,
}

impl EdgeAlerts {
    /// Alerts on moves of at least `points` of implied probability (0.02 = 2 points).
    ///
    /// ```
    /// use wirebook::odds::{EdgeAlerts, OddsBoard};
    /// use wirebook::{Frame, FrameParser};
    /// let (mut board, mut parser, mut moves) = (OddsBoard::new(), FrameParser::new(), Vec::new());
    /// for price in [-110, -150] {
    ///     let mut msg = format!(r#"{{"type":"odds_update","data":[{{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":{price}}}]}}"#).into_bytes();
    ///     let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    ///     moves = board.update(&update).to_vec();
    /// }
    /// for (points, fires) in [(0.05, true), (0.10, false)] {
    ///     let mut fired = Vec::new();
    ///     EdgeAlerts::new(points).check(&board, &moves, &mut fired);
    ///     assert_eq!(!fired.is_empty(), fires, "threshold {points}");
    /// }
    /// ```
    pub fn new(points: f64) -> EdgeAlerts {
        let units = if points.is_finite() {
            (points.abs() * UNITS_PER_ONE as f64).round() as u64
        } else {
            u64::MAX
        };
        EdgeAlerts {
            threshold_units: units.max(1),
        }
    }

    /// Appends an alert to `out` for each move at or over the threshold.
    ///
    /// ```
    /// use wirebook::odds::{EdgeAlerts, OddsBoard};
    /// use wirebook::{Frame, FrameParser};
    /// let (mut board, mut parser, mut fired) = (OddsBoard::new(), FrameParser::new(), Vec::new());
    /// let alerts = EdgeAlerts::new(0.02);
    /// for price in [-110, -112, -125] {
    ///     let mut msg = format!(r#"{{"type":"odds_update","data":[{{"event_id":"e1","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":{price}}}]}}"#).into_bytes();
    ///     let Ok(Frame::OddsUpdate(update)) = parser.parse(&mut msg) else { panic!() };
    ///     let moves = board.update(&update).to_vec();
    ///     alerts.check(&board, &moves, &mut fired);
    /// }
    /// // A new quote has nothing to compare; -110 -> -112 moves 0.45 points; -112 -> -125 moves 2.7.
    /// assert_eq!(fired.iter().map(|a| (a.old.get(), a.new.get())).collect::<Vec<_>>(), [(-112, -125)]);
    /// ```
    pub fn check(&self, board: &OddsBoard, moves: &[Move], out: &mut Vec<EdgeAlert>) {
        for m in moves {
            let (Some(old), Some(q)) = (m.old, board.quote_of(m)) else {
                continue;
            };
            let moved = i64::from(q.price.implied().units()) - i64::from(old.implied().units());
            if moved.unsigned_abs() >= self.threshold_units {
                out.push(EdgeAlert {
                    key: q.key.clone(),
                    old,
                    new: q.price,
                    moved_units: moved,
                    elapsed: elapsed(m.old_ms, q.updated_ms),
                });
            }
        }
    }
}
