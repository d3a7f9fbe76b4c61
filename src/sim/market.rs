//! The simulator's markets: seeded random-walk books, the truth every
//! session's deltas are computed from.

use crate::frame::{Change, Level, Side, TradeSide};
use crate::price::{Price, Size, UNITS_PER_ONE};

/// How a simulated market looks on the wire: the conventions of the venue
/// it imitates (PROTOCOL.md A3). Market `k` takes style `k % 3`, so any run
/// of three markets covers every grid and both spellings of the outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    /// Units of the price grid (`tick_size`).
    pub(crate) tick: u64,
    /// The two outcomes as this venue spells them (A4.6: matched ignoring case).
    pub(crate) outcomes: [&'static str; 2],
    /// Whether the market's outcomes carry a `token_id` (Polymarket's do;
    /// Kalshi's is `""`).
    pub(crate) tokens: bool,
}

/// Kalshi-like: cents, lowercase outcomes, no token ids.
const CENTS: Style = Style {
    tick: UNITS_PER_ONE / 100,
    outcomes: super::OUTCOMES,
    tokens: false,
};

/// The styles markets take in turn: cents; a 0.001 grid; Polymarket-like
/// (its finest grid, 0.0001, capitalised outcomes, long numeric token ids).
const STYLES: [Style; 3] = [
    CENTS,
    Style {
        tick: UNITS_PER_ONE / 1_000,
        ..CENTS
    },
    Style {
        tick: UNITS_PER_ONE / 10_000,
        outcomes: ["Yes", "No"],
        tokens: true,
    },
];

impl Style {
    /// The style of market `market`.
    pub(crate) fn of(market: u32) -> Style {
        STYLES[market as usize % STYLES.len()]
    }

    /// The `tick_size` as a price.
    pub(crate) fn tick_size(self) -> Price {
        Price::from_units(self.tick).expect("every grid's tick is a price")
    }

    /// The `token_id` of an outcome of market `market`: a 39-digit decimal
    /// (as Polymarket's ERC-1155 ids are written, if shorter), or `""`.
    pub(crate) fn token_id(self, market: u32, outcome: u8) -> String {
        if !self.tokens {
            return String::new();
        }
        let k = u64::from(market) * 2 + u64::from(outcome);
        const E19: u64 = 10_000_000_000_000_000_000;
        let hi = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) % E19;
        let lo = k.wrapping_mul(0x2545_f491_4f6c_dd1d) % E19;
        format!("{}{hi:019}{lo:019}", 1 + k % 9)
    }
}

/// One outcome's true book, best first on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrueBook {
    pub(crate) bids: Vec<Level>,
    pub(crate) asks: Vec<Level>,
    depth: usize,
    /// Units of the price grid.
    tick: u64,
    /// Ticks strictly inside (0, 1): prices are one tick ..= 1 - one tick
    /// (1 is never quoted).
    ticks: u64,
}

/// A trade printed by a random-walk step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Print {
    pub(crate) price: Price,
    pub(crate) size: Size,
    pub(crate) side: TradeSide,
}

/// Sizes are whole or half contracts, 0.5 ..= 500.
fn random_size(rng: &mut fastrand::Rng) -> Size {
    Size::from_units(rng.u64(1..=1000) * (UNITS_PER_ONE / 2))
}

impl TrueBook {
    /// A book around a random mid on a grid of `tick` units, `depth` levels
    /// a side (fewer near the edges).
    pub(crate) fn new(rng: &mut fastrand::Rng, depth: usize, tick: u64) -> TrueBook {
        let depth = depth.clamp(1, 48);
        let ticks = UNITS_PER_ONE / tick - 1;
        let mid = rng.u64((ticks + 1) * 35 / 100..=(ticks + 1) * 65 / 100);
        let mut b = TrueBook {
            bids: Vec::with_capacity(depth),
            asks: Vec::with_capacity(depth),
            depth,
            tick,
            ticks,
        };
        for i in 0..depth as u64 {
            if mid > i + 1 {
                let price = b.price_at(mid - 1 - i);
                b.bids.push(Level::new(price, random_size(rng)));
            }
            if mid + 1 + i <= ticks {
                let price = b.price_at(mid + 1 + i);
                b.asks.push(Level::new(price, random_size(rng)));
            }
        }
        b
    }

    fn price_at(&self, tick: u64) -> Price {
        Price::from_units(tick * self.tick).expect("ticks 1..ticks are prices")
    }

    fn tick_of(&self, p: Price) -> u64 {
        u64::from(p.units()) / self.tick
    }

    fn side(&mut self, side: Side) -> &mut Vec<Level> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// One random-walk step; returns what changed (absolute sizes, 0 removes)
    /// and, sometimes, a trade.
    pub(crate) fn step(
        &mut self,
        rng: &mut fastrand::Rng,
        changes: &mut Vec<Change>,
    ) -> Option<Print> {
        changes.clear();
        let side = if rng.bool() { Side::Bid } else { Side::Ask };
        let roll = rng.u32(0..100);
        let len = self.side(side).len();
        if roll < 55 && len > 0 {
            // Resize a level, most often near the top.
            let reach = 1 + rng.usize(0..len);
            let i = rng.usize(0..reach);
            let size = random_size(rng);
            let lvl = &mut self.side(side)[i];
            lvl.size = size;
            changes.push(Change {
                side,
                price: lvl.price,
                size,
            });
            None
        } else if roll < 70 && len > 1 {
            // Pull a level.
            let i = rng.usize(0..len);
            let lvl = self.side(side).remove(i);
            changes.push(Change {
                side,
                price: lvl.price,
                size: Size::ZERO,
            });
            None
        } else if roll < 85 {
            // A trade lifts the best level of one side (a print).
            let lvl = *self.side(side).first()?;
            let traded = Size::from_units(rng.u64(1..=lvl.size.units().max(1)));
            let left = Size::from_units(lvl.size.units() - traded.units().min(lvl.size.units()));
            if left.units() == 0 && len > 1 {
                self.side(side).remove(0);
            } else if left.units() > 0 {
                self.side(side)[0].size = left;
            } else {
                return None;
            }
            changes.push(Change {
                side,
                price: lvl.price,
                size: left,
            });
            Some(Print {
                price: lvl.price,
                size: traded,
                side: if side == Side::Bid {
                    TradeSide::Sell
                } else {
                    TradeSide::Buy
                },
            })
        } else {
            // Add a level at a free tick inside the spread or behind the book.
            let (best_bid, best_ask) = (
                self.bids.first().map_or(0, |l| self.tick_of(l.price)),
                self.asks
                    .first()
                    .map_or(self.ticks + 1, |l| self.tick_of(l.price)),
            );
            if len >= self.depth {
                return None;
            }
            let tick = match side {
                Side::Bid if best_bid + 1 < best_ask => {
                    rng.u64(best_bid.saturating_sub(3).max(1)..best_ask)
                }
                Side::Ask if best_bid + 1 < best_ask => {
                    rng.u64(best_bid + 1..=(best_ask + 3).min(self.ticks))
                }
                _ => return None,
            };
            if (side == Side::Bid && tick >= best_ask) || (side == Side::Ask && tick <= best_bid) {
                return None;
            }
            let price = self.price_at(tick);
            let size = random_size(rng);
            let levels = self.side(side);
            let pos = levels.iter().position(|l| match side {
                Side::Bid => l.price <= price,
                Side::Ask => l.price >= price,
            });
            match pos {
                Some(i) if levels[i].price == price => levels[i].size = size,
                Some(i) => levels.insert(i, Level::new(price, size)),
                None => levels.push(Level::new(price, size)),
            }
            changes.push(Change { side, price, size });
            None
        }
    }

    /// Changes that turn `view` (the top levels a subscriber has) into this
    /// book's top `depth` levels, and updates `view`. Empty when nothing visible moved.
    pub(crate) fn diff_into(&self, depth: usize, view: &mut View, out: &mut Vec<Change>) {
        out.clear();
        diff_side(
            Side::Bid,
            &view.bids,
            &self.bids[..self.bids.len().min(depth)],
            out,
        );
        diff_side(
            Side::Ask,
            &view.asks,
            &self.asks[..self.asks.len().min(depth)],
            out,
        );
        view.bids.clear();
        view.bids
            .extend_from_slice(&self.bids[..self.bids.len().min(depth)]);
        view.asks.clear();
        view.asks
            .extend_from_slice(&self.asks[..self.asks.len().min(depth)]);
    }
}

/// Sets the size of the level at `c.price` where there is one (flood mode
/// changes only sizes at existing prices).
fn set_size_in(levels: &mut [Level], c: &Change) {
    if let Some(l) = levels.iter_mut().find(|l| l.price == c.price) {
        l.size = c.size;
    }
}

impl TrueBook {
    /// Flood mode: sets a size at an existing price.
    pub(crate) fn set_size(&mut self, c: &Change) {
        set_size_in(self.side(c.side), c);
    }
}

/// The levels one subscriber has been sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) bids: Vec<Level>,
    pub(crate) asks: Vec<Level>,
}

impl View {
    /// Flood mode: sets a size at an existing price.
    pub(crate) fn set_size(&mut self, c: &Change) {
        match c.side {
            Side::Bid => set_size_in(&mut self.bids, c),
            Side::Ask => set_size_in(&mut self.asks, c),
        }
    }

    /// The view after a snapshot of `book` at `depth`.
    pub(crate) fn of(book: &TrueBook, depth: usize) -> View {
        View {
            bids: book.bids[..book.bids.len().min(depth)].to_vec(),
            asks: book.asks[..book.asks.len().min(depth)].to_vec(),
        }
    }
}

fn diff_side(side: Side, old: &[Level], new: &[Level], out: &mut Vec<Change>) {
    for o in old {
        if !new.iter().any(|n| n.price == o.price) {
            out.push(Change {
                side,
                price: o.price,
                size: Size::ZERO,
            });
        }
    }
    for n in new {
        if !old.iter().any(|o| o == n) {
            out.push(Change {
                side,
                price: n.price,
                size: n.size,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(b: &TrueBook) {
        assert!(
            b.bids.windows(2).all(|w| w[0].price > w[1].price),
            "bids sorted best first"
        );
        assert!(
            b.asks.windows(2).all(|w| w[0].price < w[1].price),
            "asks sorted best first"
        );
        assert!(
            b.bids.iter().chain(&b.asks).all(|l| l.size.units() > 0),
            "no zero levels"
        );
        if let (Some(bb), Some(ba)) = (b.bids.first(), b.asks.first()) {
            assert!(bb.price < ba.price, "never crossed");
        }
    }

    #[test]
    fn random_walk_keeps_the_book_sorted_uncrossed_and_within_depth() {
        for market in 0..3 {
            walk(Style::of(market).tick);
        }
    }

    fn walk(tick: u64) {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut b = TrueBook::new(&mut rng, 20, tick);
        let mut changes = Vec::new();
        let mut view = View::of(&b, 5);
        let mut mirror = crate::Book::new(64);
        mirror.replace(&b.bids, &b.asks).unwrap();
        for _ in 0..20_000 {
            b.step(&mut rng, &mut changes);
            check(&b);
            assert!(b
                .bids
                .iter()
                .chain(&b.asks)
                .all(|l| u64::from(l.price.units()) % tick == 0));
            assert!(b.bids.len() <= 20 && b.asks.len() <= 20);
            mirror.apply_changes(&changes).unwrap();
        }
        assert_eq!(mirror.bids().iter().collect::<Vec<_>>(), b.bids);
        assert_eq!(mirror.asks().iter().collect::<Vec<_>>(), b.asks);
        // A depth-5 view follows the top five levels through diffs.
        let mut top = crate::Book::new(64);
        top.replace(&view.bids, &view.asks).unwrap();
        for _ in 0..5_000 {
            b.step(&mut rng, &mut changes);
            b.diff_into(5, &mut view, &mut changes);
            top.apply_changes(&changes).unwrap();
            assert_eq!(top.bids().iter().collect::<Vec<_>>(), view.bids);
            assert_eq!(top.asks().iter().collect::<Vec<_>>(), view.asks);
        }
        assert_eq!(view, View::of(&b, 5));
    }

    #[test]
    fn the_three_styles_cover_every_grid_and_both_spellings() {
        let ticks: Vec<String> = (0..3)
            .map(|m| Style::of(m).tick_size().to_string())
            .collect();
        assert_eq!(ticks, ["0.01", "0.001", "0.0001"]);
        assert_eq!(Style::of(3), Style::of(0));
        assert_eq!(Style::of(2).outcomes, ["Yes", "No"]);
        assert_eq!(Style::of(0).token_id(0, 0), "");
        let (a, b) = (Style::of(2).token_id(2, 0), Style::of(2).token_id(2, 1));
        assert_eq!(a.len(), 39);
        assert!(a.bytes().all(|c| c.is_ascii_digit()) && a != b);
    }
}
