//! What taking liquidity from a book would cost: the levels an order of a
//! given size walks, best first, in exact fixed point.
//!
//! A bot reading a prediction market asks "what does buying 500 YES cost
//! right now, and at what average price?". [`Sweep::walk`] answers it from
//! any run of levels, best first; [`crate::BookSnapshot::buy`] and
//! [`crate::BookSnapshot::sell`] answer it from a reader's copy of a book.
//! The arithmetic is exact: a price (units of 1e-8) times a size (units of
//! 1e-8) is summed in a `u128` of units of 1e-16, which holds any book.

use crate::frame::Level;
use crate::price::{scaled_to_f64, Price, Size, DECIMALS, UNITS_PER_ONE};

/// Units of [`Sweep::notional`] in one unit of price times one of size (1e16).
///
/// ```
/// use wirebook::sweep::NOTIONAL_UNITS_PER_ONE;
/// assert_eq!(NOTIONAL_UNITS_PER_ONE, 10_000_000_000_000_000);
/// ```
pub const NOTIONAL_UNITS_PER_ONE: u128 = (UNITS_PER_ONE as u128) * (UNITS_PER_ONE as u128);

/// The result of walking one side of a book, best level first, to fill a size.
///
/// ```
/// use wirebook::{Level, Price, Size, Sweep};
/// let level = |p: &str, s: &str| Level {
///     price: Price::parse(p.as_bytes()).unwrap(),
///     size: Size::parse(s.as_bytes()).unwrap(),
/// };
/// // Buying 15 from asks of 10 at 0.47 and 20 at 0.48: 10 x 0.47 + 5 x 0.48 = 7.10.
/// let asks = [level("0.47", "10"), level("0.48", "20")];
/// let sweep = Sweep::walk(asks, Size::parse(b"15").unwrap());
/// assert!(sweep.is_complete());
/// assert_eq!(sweep.levels_taken, 2);
/// assert_eq!(sweep.worst_price, Some(Price::parse(b"0.48").unwrap()));
/// assert_eq!(sweep.notional, 71 * wirebook::sweep::NOTIONAL_UNITS_PER_ONE / 10);
/// assert_eq!(sweep.cost(), 7.1); // the nearest float to 7.10
/// assert_eq!(sweep.average_price(), Some(Price::parse(b"0.47333333").unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sweep {
    /// The size asked for.
    pub wanted: Size,
    /// How much of it the levels held: less than `wanted` when they ran out.
    pub filled: Size,
    /// The sum of price times size over the levels taken, exact, in units of
    /// 1e-16 ([`NOTIONAL_UNITS_PER_ONE`] to one): price units times size units.
    pub notional: u128,
    /// How many levels were taken from, the last one possibly in part.
    pub levels_taken: usize,
    /// The worst price taken (the last level's). When the sweep is complete,
    /// where a limit order for the whole size would have to be placed to fill at once.
    pub worst_price: Option<Price>,
}

impl Sweep {
    /// Walks `levels` (best first) taking up to `size`.
    ///
    /// ```
    /// use wirebook::{Size, Sweep};
    /// let none = Sweep::walk([], Size::parse(b"5").unwrap());
    /// assert_eq!((none.filled, none.levels_taken, none.worst_price), (Size::ZERO, 0, None));
    /// assert!(!none.is_complete());
    /// ```
    pub fn walk(levels: impl IntoIterator<Item = Level>, size: Size) -> Sweep {
        let mut left = size.units();
        let mut sweep = Sweep {
            wanted: size,
            ..Sweep::default()
        };
        for level in levels {
            if left == 0 {
                break;
            }
            let take = level.size.units().min(left);
            if take == 0 {
                continue;
            }
            left -= take;
            sweep.notional += u128::from(level.price.units()) * u128::from(take);
            sweep.levels_taken += 1;
            sweep.worst_price = Some(level.price);
        }
        sweep.filled = Size::from_units(size.units() - left);
        sweep
    }

    /// Whether the levels held the whole size.
    ///
    /// ```
    /// use wirebook::{Size, Sweep};
    /// assert!(Sweep::walk([], Size::ZERO).is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.filled == self.wanted
    }

    /// The average price of what was filled (notional over size), rounded to
    /// the nearest unit of 1e-8 (halves up); `None` if nothing was filled.
    ///
    /// ```
    /// use wirebook::{Level, Price, Size, Sweep};
    /// let at = |p: &str| Level { price: Price::parse(p.as_bytes()).unwrap(), size: Size::parse(b"1").unwrap() };
    /// let sweep = Sweep::walk([at("0.3"), at("0.4")], Size::parse(b"2").unwrap());
    /// assert_eq!(sweep.average_price(), Some(Price::parse(b"0.35").unwrap()));
    /// ```
    pub fn average_price(&self) -> Option<Price> {
        let filled = u128::from(self.filled.units());
        if filled == 0 {
            return None;
        }
        // Between the best and the worst price taken: a valid price.
        let units = (self.notional + filled / 2) / filled;
        Price::from_units(u64::try_from(units).ok()?).ok()
    }

    /// What the whole filled size costs (buying) or brings in (selling), in
    /// the market's currency: the exact [`notional`](Self::notional) as the
    /// nearest float, at the edge (correctly rounded at every size).
    ///
    /// ```
    /// use wirebook::{Level, Price, Size, Sweep};
    /// let l = Level { price: Price::parse(b"0.25").unwrap(), size: Size::parse(b"8").unwrap() };
    /// assert_eq!(Sweep::walk([l], Size::parse(b"4").unwrap()).cost(), 1.0);
    /// ```
    pub fn cost(&self) -> f64 {
        scaled_to_f64(self.notional, 2 * DECIMALS)
    }
}

/// The total size of `levels` (best first) at `limit` or better, where
/// `better(price, limit)` says whether a price is at least as good; at most
/// `Size::MAX` (a sum beyond it, about 1.8e11, saturates).
pub(crate) fn size_through(
    levels: &[Level],
    limit: Price,
    better: impl Fn(Price, Price) -> bool,
) -> Size {
    let units = levels
        .iter()
        .take_while(|l| better(l.price, limit))
        .fold(0u64, |sum, l| sum.saturating_add(l.size.units()));
    Size::from_units(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(p: &str, s: &str) -> Level {
        Level {
            price: Price::parse(p.as_bytes()).unwrap(),
            size: Size::parse(s.as_bytes()).unwrap(),
        }
    }

    fn size(s: &str) -> Size {
        Size::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn a_sweep_stops_at_the_size_taking_the_last_level_in_part() {
        let asks = [level("0.5", "2"), level("0.6", "3"), level("0.7", "100")];
        let s = Sweep::walk(asks, size("4"));
        assert_eq!((s.filled, s.levels_taken), (size("4"), 2));
        assert_eq!(s.worst_price, Some(Price::parse(b"0.6").unwrap()));
        // 2 x 0.5 + 2 x 0.6 = 2.2
        assert_eq!(s.notional, 22 * NOTIONAL_UNITS_PER_ONE / 10);
        assert_eq!(s.cost(), 2.2);
        assert_eq!(s.average_price(), Some(Price::parse(b"0.55").unwrap()));
    }

    #[test]
    fn a_sweep_past_the_levels_fills_what_they_hold() {
        let bids = [level("0.45", "1.5"), level("0.44", "0.25")];
        let s = Sweep::walk(bids, size("10"));
        assert!(!s.is_complete());
        assert_eq!((s.filled, s.levels_taken), (size("1.75"), 2));
        assert_eq!(s.worst_price, Some(Price::parse(b"0.44").unwrap()));
    }

    #[test]
    fn fractional_sizes_and_fine_prices_stay_exact() {
        // 0.00000001 x 0.00000001 is one unit of the notional.
        let s = Sweep::walk([level("0.00000001", "0.00000001")], size("1"));
        assert_eq!(s.notional, 1);
        assert_eq!(s.average_price(), Some(Price::from_units(1).unwrap()));
        // The largest sizes do not overflow.
        let big = [Level {
            price: Price::ONE,
            size: Size::MAX,
        }; 3];
        let s = Sweep::walk(big, Size::MAX);
        assert_eq!(s.filled, Size::MAX);
        assert_eq!(s.average_price(), Some(Price::ONE));
    }

    #[test]
    fn empty_levels_are_skipped_and_zero_size_takes_nothing() {
        let s = Sweep::walk([level("0.5", "0"), level("0.6", "1")], size("1"));
        assert_eq!(
            (s.levels_taken, s.worst_price),
            (1, Some(Price::parse(b"0.6").unwrap()))
        );
        let none = Sweep::walk([level("0.5", "1")], Size::ZERO);
        assert!(none.is_complete());
        assert_eq!((none.levels_taken, none.average_price()), (0, None));
    }

    #[test]
    fn size_through_a_limit_counts_the_levels_at_or_better() {
        let asks = [level("0.5", "2"), level("0.6", "3"), level("0.7", "4")];
        let at_most = |p: Price, limit: Price| p <= limit;
        let limit = |p: &str| Price::parse(p.as_bytes()).unwrap();
        assert_eq!(size_through(&asks, limit("0.6"), at_most), size("5"));
        assert_eq!(size_through(&asks, limit("0.65"), at_most), size("5"));
        assert_eq!(size_through(&asks, limit("0.4"), at_most), Size::ZERO);
        assert_eq!(size_through(&asks, Price::ONE, at_most), size("9"));
    }
}
