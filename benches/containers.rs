//! The level container, chosen by measurement: wirebook's sorted arrays
//! against a tick-indexed ladder and a pair of `BTreeMap`s, on the delta
//! stream's changes (already parsed), each delta followed by a read of the
//! top 10 levels of both sides (what publishing a depth-10 book reads).
//!
//! The tick-indexed ladder is a prototype written here to measure the
//! alternative the issue names: one size per tick of the price grid, the
//! best tick tracked, an update O(1) (unless it empties the best tick, which
//! then scans for the next), the top N found by walking ticks from the best.
//! Two grids: the bench's 0.001 grid, where the 50 levels a side sit on
//! adjacent ticks, and a 0.0001 grid with the same prices, where nine empty
//! ticks lie between levels (PROTOCOL.md's grids go down to 0.0001).
//!
//! Rounds alternate between the three, so the host's swings in speed hit all
//! of them; medians over the rounds, in ns a delta.
//!
//! Run: `cargo bench --bench containers` (about 15 s).

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use common::{delta_stream, median, snapshot};
use wirebook::{Book, Change, Frame, FrameParser, Level, Side};

const BASE_SEQ: u64 = 1_000;
const ROUNDS: usize = 41;
const DEPTH: usize = 10;
/// Price units (1e-8) in one.
const ONE: u64 = 100_000_000;

/// One side of a tick-indexed ladder: `sizes[t]` is the size at tick `t`
/// (price `t * tick`), 0 for none.
struct TickSide {
    sizes: Vec<u64>,
    tick: u64,
    bid: bool,
    /// The best tick with a size (meaningless while `levels` is 0).
    best: usize,
    levels: usize,
}

impl TickSide {
    fn new(tick: u64, bid: bool) -> TickSide {
        TickSide {
            sizes: vec![0; (ONE / tick) as usize + 1],
            tick,
            bid,
            best: 0,
            levels: 0,
        }
    }

    fn clear(&mut self) {
        self.sizes.iter_mut().for_each(|s| *s = 0);
        self.levels = 0;
    }

    fn better(&self, a: usize, b: usize) -> bool {
        if self.bid {
            a > b
        } else {
            a < b
        }
    }

    /// Sets the size at `price` (units); `false` off the grid.
    #[inline]
    fn set(&mut self, price: u64, size: u64) -> bool {
        if !price.is_multiple_of(self.tick) {
            return false;
        }
        let t = (price / self.tick) as usize;
        let Some(slot) = self.sizes.get_mut(t) else {
            return false;
        };
        let old = std::mem::replace(slot, size);
        match (old == 0, size == 0) {
            (true, false) => {
                if self.levels == 0 || self.better(t, self.best) {
                    self.best = t;
                }
                self.levels += 1;
            }
            (false, true) => {
                self.levels -= 1;
                if t == self.best && self.levels > 0 {
                    self.best = self.next_from(t).unwrap_or(t);
                }
            }
            _ => {}
        }
        true
    }

    /// The first tick with a size after `t`, towards the worse end.
    #[inline]
    fn next_from(&self, t: usize) -> Option<usize> {
        if self.bid {
            self.sizes.get(..t)?.iter().rposition(|&s| s != 0)
        } else {
            let from = t + 1;
            Some(from + self.sizes.get(from..)?.iter().position(|&s| s != 0)?)
        }
    }

    /// The top `out.len()` levels, best first, as (price units, size units).
    #[inline]
    fn top(&self, out: &mut [(u64, u64)]) -> usize {
        if self.levels == 0 {
            return 0;
        }
        let tick = self.tick;
        let mut n = 0;
        let mut put = |t: usize, s: u64| {
            out[n] = (t as u64 * tick, s);
            n += 1;
            n == out.len()
        };
        // One loop per direction, over the slice from the best tick on: no
        // direction test or bounds check per tick.
        if self.bid {
            let ticks = &self.sizes[..=self.best];
            for (t, &s) in ticks.iter().enumerate().rev() {
                if s != 0 && put(t, s) {
                    break;
                }
            }
        } else {
            let ticks = &self.sizes[self.best..];
            for (t, &s) in ticks.iter().enumerate() {
                if s != 0 && put(self.best + t, s) {
                    break;
                }
            }
        }
        n
    }
}

/// The top `out.len()` levels of a sorted-array side, best first.
#[inline]
fn top_sorted(levels: &[Level], out: &mut [(u64, u64)]) -> usize {
    let n = levels.len().min(out.len());
    for (o, l) in out.iter_mut().zip(levels.iter().rev()) {
        *o = (u64::from(l.price.units()), l.size.units());
    }
    n
}

/// The delta stream's changes in deltas of two, and the snapshot's sides.
fn workload() -> (Vec<Change>, Vec<Level>, Vec<Level>) {
    let mut parser = FrameParser::new();
    let mut changes = Vec::new();
    for mut f in delta_stream(BASE_SEQ, 4096) {
        if let Ok(Frame::Delta(d)) = parser.parse(&mut f) {
            assert_eq!(d.changes.len(), 2);
            changes.extend_from_slice(d.changes);
        }
    }
    let mut snap = snapshot(BASE_SEQ, 50);
    match parser.parse(&mut snap) {
        Ok(Frame::Book(b)) => (changes, b.bids.to_vec(), b.asks.to_vec()),
        _ => unreachable!("the bench snapshot parses"),
    }
}

/// The prototype reads the same top levels as wirebook's book after every
/// delta of the stream, on both grids.
fn verify(changes: &[Change], bids: &[Level], asks: &[Level]) {
    let mut book = Book::new(64);
    book.replace(bids, asks).unwrap();
    for tick in [ONE / 1_000, ONE / 10_000] {
        let mut sides = [TickSide::new(tick, true), TickSide::new(tick, false)];
        for (side, levels) in sides.iter_mut().zip([bids, asks]) {
            for l in levels {
                assert!(side.set(u64::from(l.price.units()), l.size.units()));
            }
        }
        let mut book = book.clone();
        for pair in changes.chunks(2) {
            book.apply_changes(pair).unwrap();
            for ch in pair {
                let side = &mut sides[usize::from(ch.side == Side::Ask)];
                assert!(side.set(u64::from(ch.price.units()), ch.size.units()));
            }
            for (side, ladder) in sides.iter().zip([book.bids(), book.asks()]) {
                let (mut a, mut b) = ([(0, 0); DEPTH], [(0, 0); DEPTH]);
                let n = side.top(&mut a);
                assert_eq!(n, top_sorted(ladder.worst_first(), &mut b));
                assert_eq!(a[..n], b[..n]);
            }
        }
    }
}

fn main() {
    let (changes, bids, asks) = workload();
    let (changes, bids, asks) = (&changes[..], &bids[..], &asks[..]);
    let deltas = changes.len() / 2;
    verify(changes, bids, asks);

    let mut book = Book::new(64);
    let mut out = [(0u64, 0u64); DEPTH];
    let mut sorted = |read: bool| {
        book.replace(bids, asks).unwrap();
        let start = Instant::now();
        for pair in changes.chunks(2) {
            black_box(book.apply_changes(pair).is_ok());
            if read {
                // The levels read are kept (`black_box(&out)`), not just their count.
                black_box(top_sorted(book.bids().worst_first(), &mut out));
                black_box(&out);
                black_box(top_sorted(book.asks().worst_first(), &mut out));
                black_box(&out);
            }
        }
        start.elapsed().as_nanos() as f64 / deltas as f64
    };

    let tick_ladder = |tick: u64| {
        let mut sides = [TickSide::new(tick, true), TickSide::new(tick, false)];
        let mut out = [(0u64, 0u64); DEPTH];
        move |read: bool| {
            for (side, levels) in sides.iter_mut().zip([bids, asks]) {
                side.clear();
                for l in levels.iter() {
                    side.set(u64::from(l.price.units()), l.size.units());
                }
            }
            let start = Instant::now();
            for pair in changes.chunks(2) {
                for ch in pair {
                    let side = &mut sides[usize::from(ch.side == Side::Ask)];
                    black_box(side.set(u64::from(ch.price.units()), ch.size.units()));
                }
                if read {
                    black_box(sides[0].top(&mut out));
                    black_box(&out);
                    black_box(sides[1].top(&mut out));
                    black_box(&out);
                }
            }
            start.elapsed().as_nanos() as f64 / deltas as f64
        }
    };
    let mut ticks_1e3 = tick_ladder(ONE / 1_000);
    let mut ticks_1e4 = tick_ladder(ONE / 10_000);

    let mut maps: [BTreeMap<u32, u64>; 2] = [BTreeMap::new(), BTreeMap::new()];
    let mut out = [(0u64, 0u64); DEPTH];
    let mut btree = |read: bool| {
        for (side, levels) in maps.iter_mut().zip([bids, asks]) {
            *side = levels
                .iter()
                .map(|l| (l.price.units(), l.size.units()))
                .collect();
        }
        let start = Instant::now();
        for pair in changes.chunks(2) {
            for ch in pair {
                let side = &mut maps[usize::from(ch.side == Side::Ask)];
                if ch.size.is_zero() {
                    side.remove(&ch.price.units());
                } else {
                    side.insert(ch.price.units(), ch.size.units());
                }
            }
            if read {
                for (o, (p, s)) in out.iter_mut().zip(maps[0].iter().rev()) {
                    *o = (u64::from(*p), *s);
                }
                black_box(&out);
                for (o, (p, s)) in out.iter_mut().zip(maps[1].iter()) {
                    *o = (u64::from(*p), *s);
                }
                black_box(&out);
            }
        }
        start.elapsed().as_nanos() as f64 / deltas as f64
    };

    // [container][read]: updates alone, and updates with the top-10 reads.
    let mut times: [[Vec<f64>; 2]; 4] = Default::default();
    for _ in 0..ROUNDS {
        for read in [false, true] {
            let r = usize::from(read);
            times[0][r].push(sorted(read));
            times[1][r].push(ticks_1e3(read));
            times[2][r].push(ticks_1e4(read));
            times[3][r].push(btree(read));
        }
    }
    let names = [
        "sorted_array (wirebook)",
        "tick_ladder, 0.001 grid",
        "tick_ladder, 0.0001 grid",
        "btreemap",
    ];
    println!(
        "{:<26} {:>14} {:>20}",
        "container", "updates ns", "updates + top 10 ns"
    );
    for (name, [updates, read]) in names.iter().zip(times.iter_mut()) {
        println!(
            "{name:<26} {:>14.1} {:>20.1}",
            median(updates),
            median(read)
        );
    }
    println!(
        "(a delta's 2 changes, alone and then with the top {DEPTH} levels of both sides read; \
         medians of {ROUNDS} rounds of {deltas} deltas)"
    );
}
