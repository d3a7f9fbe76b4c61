//! One order book: bids and asks as sorted arrays of levels.
//!
//! Each side is a `Vec<Level>` kept sorted **worst first**, so the best level
//! is the last element: updates near the top of the book (the common case)
//! shift few elements, and the top N levels are the last N. Prediction-market
//! books are shallow (at most 100 levels a side are subscribed), where a sorted
//! array beats a tree on every operation (see the README's measurements).
//! Capacity is reserved up front, so steady-state updates never allocate.

use crate::frame::{Change, Level, Side};
use crate::price::{Price, Size};
use crate::sweep::Sweep;

/// Hard bound on levels per side; a delta that would exceed it is corruption.
///
/// ```
/// use wirebook::{Ladder, Price, Side, Size, MAX_LEVELS_PER_SIDE};
/// let mut bids = Ladder::new(Side::Bid, 8);
/// for u in 1..=MAX_LEVELS_PER_SIDE as u64 {
///     bids.set(Price::from_units(u).unwrap(), Size::from_units(1)).unwrap();
/// }
/// assert_eq!(bids.len(), 4096);
/// assert!(bids.set(Price::ONE, Size::from_units(1)).is_err());
/// ```
pub const MAX_LEVELS_PER_SIDE: usize = 4096;

/// Why the book refused a change.
///
/// ```
/// use wirebook::{Book, BookError, Level, Price, Size, MAX_LEVELS_PER_SIDE};
/// let lv = |u| Level::new(Price::from_units(u).unwrap(), Size::from_units(1));
/// let deep: Vec<Level> = (1..=MAX_LEVELS_PER_SIDE as u64 + 1).rev().map(lv).collect();
/// let err = Book::new(8).replace(&deep, &[]).unwrap_err();
/// assert_eq!(err, BookError::TooDeep { max: MAX_LEVELS_PER_SIDE });
/// assert_eq!(err.to_string(), "book side would exceed 4096 levels");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BookError {
    /// The side would exceed [`MAX_LEVELS_PER_SIDE`]: treat the book as corrupt and resync.
    #[error("book side would exceed {max} levels")]
    TooDeep {
        /// The bound.
        max: usize,
    },
}

/// One side of a book, sorted worst first (best last).
///
/// ```
/// use wirebook::{Ladder, Price, Side, Size};
/// let mut asks = Ladder::new(Side::Ask, 8);
/// for u in [47, 45, 46] {
///     asks.set(Price::from_units(u).unwrap(), Size::from_units(1)).unwrap();
/// }
/// assert_eq!(asks.best().unwrap().price.units(), 45);
/// assert_eq!(asks.worst_first().last().unwrap().price.units(), 45);
/// ```
#[derive(Debug, Clone)]
pub struct Ladder {
    side: Side,
    /// XOR mask that turns a price into the sort key: 0 for bids (higher is
    /// better), all ones for asks (lower is better). Branch-free comparisons.
    flip: u32,
    levels: Vec<Level>,
}

impl Ladder {
    /// An empty side with room for `capacity` levels.
    ///
    /// ```
    /// use wirebook::{Ladder, Side};
    /// assert!(Ladder::new(Side::Bid, 100).is_empty());
    /// ```
    pub fn new(side: Side, capacity: usize) -> Ladder {
        Ladder {
            side,
            flip: match side {
                Side::Bid => 0,
                Side::Ask => u32::MAX,
            },
            levels: Vec::with_capacity(capacity),
        }
    }

    /// Sort key: ascending key = worse to better.
    #[inline(always)]
    fn key(&self, price: Price) -> u32 {
        price.units() ^ self.flip
    }

    /// Number of levels.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// assert_eq!(Ladder::new(Side::Ask, 4).len(), 0);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the side is empty.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// assert!(Ladder::new(Side::Ask, 4).is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// The best level.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side, Price, Size};
    /// let mut l = Ladder::new(Side::Bid, 4);
    /// l.set(Price::from_units(10).unwrap(), Size::from_units(1)).unwrap();
    /// l.set(Price::from_units(20).unwrap(), Size::from_units(1)).unwrap();
    /// assert_eq!(l.best().unwrap().price.units(), 20);
    /// ```
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.levels.last().copied()
    }

    /// Level at `depth` from the top (0 = best).
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// assert!(Ladder::new(Side::Bid, 1).at(0).is_none());
    /// ```
    #[inline]
    pub fn at(&self, depth: usize) -> Option<Level> {
        let n = self.levels.len();
        if depth < n {
            Some(self.levels[n - 1 - depth])
        } else {
            None
        }
    }

    /// Levels worst first (the storage order; the best is last).
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// assert!(Ladder::new(Side::Bid, 1).worst_first().is_empty());
    /// ```
    #[inline]
    pub fn worst_first(&self) -> &[Level] {
        &self.levels
    }

    /// Levels best first.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// assert_eq!(Ladder::new(Side::Bid, 1).iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Level> + '_ {
        self.levels.iter().rev().copied()
    }

    /// What taking `size` from this side at once would take, best level
    /// first (buying from asks, selling into bids).
    ///
    /// ```
    /// # use wirebook::{Ladder, Price, Side, Size};
    /// let mut asks = Ladder::new(Side::Ask, 4);
    /// asks.set(Price::parse(b"0.5").unwrap(), Size::parse(b"2").unwrap()).unwrap();
    /// asks.set(Price::parse(b"0.6").unwrap(), Size::parse(b"2").unwrap()).unwrap();
    /// let sweep = asks.sweep(Size::parse(b"3").unwrap());
    /// assert_eq!((sweep.levels_taken, sweep.notional), (2, 16 * wirebook::sweep::NOTIONAL_UNITS_PER_ONE / 10));
    /// ```
    pub fn sweep(&self, size: Size) -> Sweep {
        Sweep::walk(self.iter(), size)
    }

    /// Sets a level's absolute size (zero removes it). Returns the storage
    /// indices (worst first, see [`worst_first`](Self::worst_first)) whose
    /// levels changed: one index for a new size, that index and every level
    /// above it (towards the best) for an insert or a removal, so a change
    /// near the top of the book touches few; `None` if nothing changed.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side, Price, Size};
    /// let mut l = Ladder::new(Side::Ask, 4);
    /// let p = Price::from_units(50).unwrap();
    /// assert_eq!(l.set(p, Size::from_units(3)), Ok(Some(0..usize::MAX)));
    /// assert_eq!(l.set(p, Size::from_units(4)), Ok(Some(0..1)));
    /// assert_eq!(l.set(p, Size::ZERO), Ok(Some(0..usize::MAX)));
    /// assert_eq!(l.set(p, Size::ZERO), Ok(None));
    /// ```
    #[inline]
    pub fn set(
        &mut self,
        price: Price,
        size: Size,
    ) -> Result<Option<std::ops::Range<usize>>, BookError> {
        let key = self.key(price);
        let n = self.levels.len();
        let found = self.find(key);
        match (found, size.is_zero()) {
            (Ok(i), true) => {
                self.levels.remove(i);
                Ok(Some(i..usize::MAX))
            }
            (Ok(i), false) => {
                self.levels[i].size = size;
                Ok(Some(i..i + 1))
            }
            (Err(_), true) => Ok(None),
            (Err(i), false) => {
                if n >= MAX_LEVELS_PER_SIDE {
                    return Err(BookError::TooDeep {
                        max: MAX_LEVELS_PER_SIDE,
                    });
                }
                self.levels.insert(i, Level { price, size });
                Ok(Some(i..usize::MAX))
            }
        }
    }

    #[inline(always)]
    fn key_of(&self, l: &Level) -> u32 {
        self.key(l.price)
    }

    /// Where `key` is (`Ok`) or would go (`Err`), like `binary_search`.
    /// Most updates touch the best few levels, which are at the end. Their
    /// depth is random, so a search that stops at the first level it passes
    /// mispredicts its exit on most changes: the best eight are counted
    /// without a branch instead, and only a change below them bisects the rest.
    #[inline(always)]
    fn find(&self, key: u32) -> Result<usize, usize> {
        const TOP: usize = 8;
        let n = self.levels.len();
        let Some((rest, top)) = self.levels.split_last_chunk::<TOP>() else {
            return self.levels.binary_search_by(|l| self.key_of(l).cmp(&key));
        };
        // The top eight are ascending: the ones above `key` are the last
        // `above`, and the one below them (none if all eight are) is the
        // only one that can equal it.
        let above: usize = top.iter().map(|l| usize::from(self.key_of(l) > key)).sum();
        match top.get(TOP.wrapping_sub(above + 1)) {
            Some(l) if self.key_of(l) == key => Ok(n - above - 1),
            Some(_) => Err(n - above),
            None => rest.binary_search_by(|l| self.key_of(l).cmp(&key)),
        }
    }

    /// Replaces the side with `levels` (any order; zero sizes dropped; for a
    /// repeated price the last one wins).
    ///
    /// ```
    /// # use wirebook::{Ladder, Level, Side, Price, Size};
    /// let mut l = Ladder::new(Side::Bid, 4);
    /// let lv = |p, s| Level::new(Price::from_units(p).unwrap(), Size::from_units(s));
    /// l.replace(&[lv(30, 1), lv(20, 0), lv(10, 2)]).unwrap();
    /// assert_eq!(l.iter().map(|l| l.price.units()).collect::<Vec<_>>(), vec![30, 10]);
    /// ```
    pub fn replace(&mut self, levels: &[Level]) -> Result<(), BookError> {
        self.levels.clear();
        // Refused before anything is stored, so that a huge side (a frame
        // may hold a million levels) never grows the book's storage.
        if levels.len() > MAX_LEVELS_PER_SIDE
            && levels.iter().filter(|l| !l.size.is_zero()).count() > MAX_LEVELS_PER_SIDE
        {
            return Err(BookError::TooDeep {
                max: MAX_LEVELS_PER_SIDE,
            });
        }
        // Sent best first: push in reverse and check the order on the way.
        let mut sorted = true;
        let mut prev: Option<u32> = None;
        for l in levels.iter().rev() {
            if l.size.is_zero() {
                continue;
            }
            let k = self.key(l.price);
            if prev.is_some_and(|p| p >= k) {
                sorted = false;
            }
            prev = Some(k);
            self.levels.push(*l);
        }
        if !sorted {
            // Rare: a server that does not sort, or repeats a price (`set`
            // refuses a level past the bound).
            self.levels.clear();
            for l in levels {
                if let Err(e) = self.set(l.price, l.size) {
                    self.levels.clear();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Removes every level.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// let mut l = Ladder::new(Side::Bid, 1);
    /// l.clear();
    /// assert!(l.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Which side this is.
    ///
    /// ```
    /// # use wirebook::{Ladder, Side};
    /// assert_eq!(Ladder::new(Side::Ask, 1).side(), Side::Ask);
    /// ```
    pub fn side(&self) -> Side {
        self.side
    }

    #[cfg(debug_assertions)]
    fn check(&self) {
        for w in self.levels.windows(2) {
            debug_assert!(self.key_of(&w[0]) < self.key_of(&w[1]), "ladder not sorted");
        }
        debug_assert!(self.levels.iter().all(|l| !l.size.is_zero()), "zero level");
    }
}

/// An order book: two ladders.
///
/// ```
/// use wirebook::{Book, Change, Price, Side, Size};
/// let mut book = Book::new(64);
/// let p = |s: &str| Price::parse(s.as_bytes()).unwrap();
/// book.apply_changes(&[
///     Change { side: Side::Bid, price: p("0.45"), size: Size::parse(b"10").unwrap() },
///     Change { side: Side::Ask, price: p("0.47"), size: Size::parse(b"5").unwrap() },
/// ]).unwrap();
/// assert_eq!(book.best_bid().unwrap().price, p("0.45"));
/// assert!(!book.is_crossed());
/// ```
#[derive(Debug, Clone)]
pub struct Book {
    bids: Ladder,
    asks: Ladder,
}

/// Storage index ranges (worst first, as [`Ladder::worst_first`]) of each
/// side whose levels changed, so a publisher rewrites only those.
///
/// ```
/// use wirebook::{Book, Change, Dirty, Price, Side, Size};
/// let mut book = Book::new(4);
/// let bid = Change { side: Side::Bid, price: Price::ONE, size: Size::from_units(1) };
/// let dirty: Dirty = book.apply_changes(&[bid]).unwrap();
/// assert_eq!(dirty, Dirty { bids: Some(0..usize::MAX), asks: None });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dirty {
    /// Changed bid indices, if any (`end` may be `usize::MAX`: up to the best level).
    pub bids: Option<std::ops::Range<usize>>,
    /// Changed ask indices, if any.
    pub asks: Option<std::ops::Range<usize>>,
}

impl Dirty {
    /// Everything changed.
    ///
    /// ```
    /// use wirebook::Dirty;
    /// assert_eq!(Dirty::ALL.bids, Some(0..usize::MAX));
    /// assert_eq!(Dirty::ALL.asks, Some(0..usize::MAX));
    /// assert_ne!(Dirty::ALL, Dirty::default());
    /// ```
    pub const ALL: Dirty = Dirty {
        bids: Some(0..usize::MAX),
        asks: Some(0..usize::MAX),
    };

    fn mark(&mut self, side: Side, depths: std::ops::Range<usize>) {
        let slot = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        *slot = Some(match slot.take() {
            Some(r) => r.start.min(depths.start)..r.end.max(depths.end),
            None => depths,
        });
    }
}

impl Book {
    /// An empty book with room for `capacity` levels a side.
    ///
    /// ```
    /// assert!(wirebook::Book::new(10).best_ask().is_none());
    /// ```
    pub fn new(capacity: usize) -> Book {
        Book {
            bids: Ladder::new(Side::Bid, capacity),
            asks: Ladder::new(Side::Ask, capacity),
        }
    }

    /// Bids, best (highest) first.
    ///
    /// ```
    /// assert!(wirebook::Book::new(1).bids().is_empty());
    /// ```
    pub fn bids(&self) -> &Ladder {
        &self.bids
    }

    /// Asks, best (lowest) first.
    ///
    /// ```
    /// assert!(wirebook::Book::new(1).asks().is_empty());
    /// ```
    pub fn asks(&self) -> &Ladder {
        &self.asks
    }

    /// Best bid.
    ///
    /// ```
    /// assert!(wirebook::Book::new(1).best_bid().is_none());
    /// ```
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    /// Best ask.
    ///
    /// ```
    /// assert!(wirebook::Book::new(1).best_ask().is_none());
    /// ```
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    /// Whether best bid >= best ask (corruption per PROTOCOL.md A4.9).
    ///
    /// ```
    /// assert!(!wirebook::Book::new(1).is_crossed());
    /// ```
    pub fn is_crossed(&self) -> bool {
        match (self.bids.best(), self.asks.best()) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        }
    }

    /// Replaces both sides (a snapshot).
    ///
    /// ```
    /// # use wirebook::{Book, Level, Price, Size};
    /// let mut b = Book::new(4);
    /// b.replace(&[Level::new(Price::ONE, Size::from_units(1))], &[]).unwrap();
    /// assert_eq!(b.bids().len(), 1);
    /// ```
    pub fn replace(&mut self, bids: &[Level], asks: &[Level]) -> Result<(), BookError> {
        let r = self
            .bids
            .replace(bids)
            .and_then(|_| self.asks.replace(asks));
        if r.is_err() {
            self.clear();
        }
        self.check();
        r
    }

    /// Applies changes in array order; returns which storage indices changed.
    ///
    /// ```
    /// # use wirebook::{Book, Change, Price, Side, Size};
    /// let mut b = Book::new(4);
    /// let d = b.apply_changes(&[Change { side: Side::Ask, price: Price::ONE, size: Size::from_units(2) }]).unwrap();
    /// assert_eq!(d.asks, Some(0..usize::MAX));
    /// ```
    #[inline]
    pub fn apply_changes(&mut self, changes: &[Change]) -> Result<Dirty, BookError> {
        let mut dirty = Dirty::default();
        for c in changes {
            let ladder = match c.side {
                Side::Bid => &mut self.bids,
                Side::Ask => &mut self.asks,
            };
            if let Some(depths) = ladder.set(c.price, c.size)? {
                dirty.mark(c.side, depths);
            }
        }
        self.check();
        Ok(dirty)
    }

    /// Removes every level of both sides.
    ///
    /// ```
    /// let mut b = wirebook::Book::new(1);
    /// b.clear();
    /// ```
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    #[inline]
    fn check(&self) {
        #[cfg(debug_assertions)]
        {
            self.bids.check();
            self.asks.check();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(units: u64) -> Price {
        Price::from_units(units).unwrap()
    }

    #[test]
    fn insert_update_remove_keep_best_first() {
        let mut l = Ladder::new(Side::Bid, 8);
        for (price, size) in [(50, 1), (70, 2), (60, 3), (70, 4)] {
            l.set(p(price), Size::from_units(size)).unwrap();
        }
        let got: Vec<_> = l
            .iter()
            .map(|l| (l.price.units(), l.size.units()))
            .collect();
        assert_eq!(got, vec![(70, 4), (60, 3), (50, 1)]);
        l.set(p(60), Size::ZERO).unwrap();
        assert_eq!(
            l.iter().map(|l| l.price.units()).collect::<Vec<_>>(),
            [70, 50]
        );
    }

    #[test]
    fn asks_sort_lowest_first() {
        let mut l = Ladder::new(Side::Ask, 8);
        for price in [70, 50, 60] {
            l.set(p(price), Size::from_units(1)).unwrap();
        }
        assert_eq!(
            l.iter().map(|l| l.price.units()).collect::<Vec<_>>(),
            [50, 60, 70]
        );
        assert_eq!(l.at(1).unwrap().price.units(), 60);
    }

    #[test]
    fn dirty_range_starts_at_the_lowest_index_changed() {
        let mut b = Book::new(8);
        let lv = |u, s| Level::new(p(u), Size::from_units(s));
        b.replace(&[lv(50, 1), lv(40, 1), lv(30, 1)], &[lv(60, 1)])
            .unwrap();
        let d = b
            .apply_changes(&[
                Change {
                    side: Side::Bid,
                    price: p(30),
                    size: Size::from_units(9),
                },
                Change {
                    side: Side::Bid,
                    price: p(45),
                    size: Size::from_units(9),
                },
            ])
            .unwrap();
        // Worst first: 30 is index 0, the new 45 goes in at index 2.
        assert_eq!(
            d,
            Dirty {
                bids: Some(0..usize::MAX),
                asks: None
            }
        );
        let d = b
            .apply_changes(&[Change {
                side: Side::Bid,
                price: p(40),
                size: Size::from_units(7),
            }])
            .unwrap();
        assert_eq!(d.bids, Some(1..2), "a new size rewrites one level");
    }

    #[test]
    fn unsorted_snapshot_is_sorted_and_deduplicated() {
        let mut b = Book::new(8);
        let lv = |u, s| Level::new(p(u), Size::from_units(s));
        b.replace(&[lv(40, 1), lv(50, 2), lv(40, 3)], &[]).unwrap();
        let got: Vec<_> = b
            .bids()
            .iter()
            .map(|l| (l.price.units(), l.size.units()))
            .collect();
        assert_eq!(got, vec![(50, 2), (40, 3)]);
    }

    #[test]
    fn search_agrees_with_binary_search_at_every_depth() {
        // Both sides, every size from empty to past the counted top eight,
        // every price on and between the levels and beyond both ends.
        for side in [Side::Bid, Side::Ask] {
            for size in 0..=20u64 {
                let mut l = Ladder::new(side, 16);
                for u in 1..=size {
                    l.set(p(u * 10), Size::from_units(1)).unwrap();
                }
                assert_eq!(l.len(), size as usize);
                for key_units in 5..=215 {
                    let key = l.key(p(key_units));
                    let want = l.levels.binary_search_by(|x| l.key_of(x).cmp(&key));
                    assert_eq!(
                        l.find(key),
                        want,
                        "{side:?}, {size} levels, price {key_units}"
                    );
                }
            }
        }
    }

    #[test]
    fn inserts_and_removals_at_every_depth_keep_the_order() {
        for at in 0..20u64 {
            let mut l = Ladder::new(Side::Bid, 4);
            for u in (10..=200).step_by(10) {
                l.set(p(u), Size::from_units(1)).unwrap();
            }
            let price = 205 - at * 10; // between two levels, `at` from the top
            let sorted = |l: &Ladder| {
                l.iter()
                    .zip(l.iter().skip(1))
                    .all(|(a, b)| a.price > b.price)
            };
            l.set(p(price), Size::from_units(2)).unwrap();
            assert!(sorted(&l));
            assert_eq!(l.len(), 21);
            l.set(p(price), Size::ZERO).unwrap();
            l.set(p(200 - at * 10), Size::ZERO).unwrap();
            assert!(sorted(&l));
            assert_eq!(l.len(), 19);
            assert!(l.iter().all(|x| x.price != p(200 - at * 10)));
        }
    }

    #[test]
    fn crossed_book_is_detected() {
        let mut b = Book::new(8);
        let lv = |u| Level::new(p(u), Size::from_units(1));
        b.replace(&[lv(50)], &[lv(50)]).unwrap();
        assert!(b.is_crossed());
    }

    #[test]
    fn side_depth_is_bounded() {
        let mut l = Ladder::new(Side::Bid, 8);
        for u in 1..=MAX_LEVELS_PER_SIDE as u64 {
            l.set(p(u), Size::from_units(1)).unwrap();
        }
        assert_eq!(
            l.set(p(999_999), Size::from_units(1)),
            Err(BookError::TooDeep {
                max: MAX_LEVELS_PER_SIDE
            })
        );
    }

    #[test]
    fn a_side_past_the_bound_is_refused_before_it_is_stored() {
        let lv = |u| Level::new(p(u), Size::from_units(1));
        let deep: Vec<Level> = (1..=MAX_LEVELS_PER_SIDE as u64 * 4).rev().map(lv).collect();
        let mut l = Ladder::new(Side::Bid, 8);
        assert_eq!(
            l.replace(&deep),
            Err(BookError::TooDeep {
                max: MAX_LEVELS_PER_SIDE
            })
        );
        assert!(l.is_empty());
        assert!(
            l.levels.capacity() < MAX_LEVELS_PER_SIDE,
            "storage did not grow"
        );
        // Unsorted and too deep: refused by `set`, and the side left empty.
        let mut shuffled = deep.clone();
        shuffled.swap(0, 1);
        assert!(l.replace(&shuffled).is_err());
        assert!(l.is_empty());
        // Zero sizes do not count towards the bound.
        let mut sparse: Vec<Level> = deep
            .iter()
            .map(|x| Level::new(x.price, Size::ZERO))
            .collect();
        sparse[7].size = Size::from_units(1);
        assert_eq!(l.replace(&sparse), Ok(()));
        assert_eq!(l.len(), 1);
    }
}
