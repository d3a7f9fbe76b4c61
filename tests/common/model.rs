//! A reference model of the Parsec server and of what the client's books must
//! be, shared by the property test, the `book_ops` fuzz target and the fuzz
//! corpus test.
//!
//! The model server keeps the true book of two markets as `BTreeMap`s (the
//! naive, obviously-right representation) with its history by sequence number.
//! Operations generate real deltas and deliver them to a `BookStore`, or
//! disturb the stream: drop one (a gap), deliver one twice, swap two, inject
//! `resync_required`, replace a delta by a corrupt one that crosses the book,
//! send an unsolicited snapshot, answer the store's resync requests with
//! snapshots, or let time pass. After every delivered frame every published
//! snapshot is checked: sorted, no zero levels, never crossed while `Fresh`,
//! and equal to the true book at its sequence number whenever it is `Fresh`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use wirebook::{
    BookReader, BookSnapshot, BookState, BookStore, FrameParser, Side, Size, StoreConfig,
};

pub const BOOKS: usize = 2;
const IDS: [&str; BOOKS] = ["kalshi:MODEL-A", "polymarket:0xmodel"];
const SEC: u64 = 1_000_000_000;

/// One step of a stream.
#[derive(Debug, Clone)]
pub enum Op {
    /// A real delta, delivered. Changes: (is_bid, tick 1..=49, size 0..=4; 0 removes).
    Delta {
        book: usize,
        changes: Vec<(bool, u8, u8)>,
    },
    /// A real delta, lost on the way (a gap).
    Drop {
        book: usize,
        changes: Vec<(bool, u8, u8)>,
    },
    /// The last delivered frame of the book, delivered again.
    Duplicate { book: usize },
    /// Two real deltas, delivered in swapped order.
    Reorder { book: usize },
    /// The server says the book is corrupt.
    ResyncRequired { book: usize },
    /// A real delta replaced on the wire by one that crosses the book.
    Crossed { book: usize },
    /// An unsolicited snapshot of the true book.
    Snapshot { book: usize },
    /// The server answers every resync request the store has made, with a
    /// snapshot `lag` deltas old (so deltas delivered since are replayed).
    Answer { lag: u8 },
    /// Time passes (staleness, resync timeouts).
    Wait { seconds: u8 },
}

impl Op {
    /// Decodes operations from raw bytes (for the fuzzer); stops when bytes run out.
    pub fn decode(data: &[u8]) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut it = data.iter().copied();
        while let Some(code) = it.next() {
            let book = usize::from(code >> 4) % BOOKS;
            let op = match code % 9 {
                0 | 1 => {
                    let n = it.next().unwrap_or(1) % 4 + 1;
                    let changes = (0..n)
                        .map_while(|_| {
                            let b = it.next()?;
                            Some((b & 1 == 0, b / 5 % 49 + 1, b % 5))
                        })
                        .collect();
                    if code % 9 == 0 {
                        Op::Delta { book, changes }
                    } else {
                        Op::Drop { book, changes }
                    }
                }
                2 => Op::Duplicate { book },
                3 => Op::Reorder { book },
                4 => Op::ResyncRequired { book },
                5 => Op::Crossed { book },
                6 => Op::Snapshot { book },
                7 => Op::Answer {
                    lag: it.next().unwrap_or(0) % 4,
                },
                _ => Op::Wait {
                    seconds: it.next().unwrap_or(0) % 8,
                },
            };
            ops.push(op);
        }
        ops
    }
}

/// Bids (best first) and asks (best first) as (price units, size units).
type Levels = (Vec<(u32, u64)>, Vec<(u32, u64)>);

#[derive(Debug, Default, Clone)]
struct Truth {
    seq: u64,
    bids: BTreeMap<u32, u64>,
    asks: BTreeMap<u32, u64>,
    history: HashMap<u64, Levels>,
    last_delivered: Option<Vec<u8>>,
}

/// Ticks of 0.01: bids live on 0.01..=0.49, asks on 0.51..=0.99, so the true book never crosses.
fn tick_units(is_bid: bool, tick: u8) -> u32 {
    let t = u32::from(tick.clamp(1, 49));
    if is_bid {
        t * 1_000_000
    } else {
        (100 - t) * 1_000_000
    }
}

fn fmt_units(units: u64) -> String {
    format!("{}.{:08}", units / 100_000_000, units % 100_000_000)
}

pub struct Model {
    pub store: BookStore,
    parser: FrameParser,
    truth: Vec<Truth>,
    readers: Vec<BookReader>,
    snap: BookSnapshot,
    now: u64,
    /// Snapshots checked while Fresh (so a test can tell it checked something).
    pub fresh_checks: u64,
    /// Levels a side the store publishes (books deeper than this publish their top).
    depth: usize,
    /// Frames delivered.
    delivered: u64,
    /// Deltas `apply_message` took straight to their books (no frame built).
    pub direct: u64,
}

impl Model {
    pub fn new() -> Model {
        Model::with_depth(100)
    }

    /// A model whose store publishes `depth` levels a side.
    pub fn with_depth(depth: usize) -> Model {
        let mut store = BookStore::new(StoreConfig {
            depth,
            resync_buffer: 8,
            ..StoreConfig::default()
        });
        let readers = IDS
            .iter()
            .map(|id| store.track(id, "yes").unwrap())
            .collect();
        let mut m = Model {
            store,
            parser: FrameParser::new(),
            truth: vec![Truth::default(); BOOKS],
            readers,
            snap: BookSnapshot::with_depth(100),
            now: SEC,
            fresh_checks: 0,
            depth,
            delivered: 0,
            direct: 0,
        };
        for book in 0..BOOKS {
            m.truth[book].seq = 100 * (book as u64 + 1);
            m.record(book);
            m.deliver_snapshot(book, 0);
        }
        m
    }

    fn record(&mut self, book: usize) {
        let t = &mut self.truth[book];
        let bids = t.bids.iter().rev().map(|(p, s)| (*p, *s)).collect();
        let asks = t.asks.iter().map(|(p, s)| (*p, *s)).collect();
        t.history.insert(t.seq, (bids, asks));
    }

    /// Advances the true book by one delta and returns its frame.
    fn next_delta(&mut self, book: usize, changes: &[(bool, u8, u8)]) -> Vec<u8> {
        let t = &mut self.truth[book];
        t.seq += 1;
        let mut parts = Vec::new();
        for &(is_bid, tick, size) in changes {
            let price = tick_units(is_bid, tick);
            let size_units = u64::from(size) * 50_000_000; // multiples of 0.5
            let side = if is_bid { &mut t.bids } else { &mut t.asks };
            if size_units == 0 {
                side.remove(&price);
            } else {
                side.insert(price, size_units);
            }
            parts.push(format!(
                r#"{{"side":"{}","price":{},"size":{}}}"#,
                if is_bid { "bid" } else { "ask" },
                fmt_units(u64::from(price)),
                fmt_units(size_units)
            ));
        }
        let seq = t.seq;
        self.record(book);
        format!(
            r#"{{"type":"orderbook_delta","parsec_id":"{}","outcome":"Yes","changes":[{}],"server_seq":{seq},"stale_after_ms":5000}}"#,
            IDS[book],
            parts.join(",")
        )
        .into_bytes()
    }

    fn snapshot_frame(&self, book: usize, lag: u8) -> Vec<u8> {
        let t = &self.truth[book];
        let mut seq = t.seq;
        for _ in 0..lag {
            if t.history.contains_key(&(seq - 1)) {
                seq -= 1;
            }
        }
        let (bids, asks) = &t.history[&seq];
        let side = |levels: &[(u32, u64)]| {
            levels
                .iter()
                .map(|(p, s)| format!("[{},{}]", fmt_units(u64::from(*p)), fmt_units(*s)))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            r#"{{"type":"orderbook","parsec_id":"{}","outcome":"yes","kind":"snapshot","bids":[{}],"asks":[{}],"server_seq":{seq},"book_state":"fresh","stale_after_ms":5000}}"#,
            IDS[book],
            side(bids),
            side(asks),
        )
        .into_bytes()
    }

    fn deliver_snapshot(&mut self, book: usize, lag: u8) {
        let frame = self.snapshot_frame(book, lag);
        self.deliver(book, frame);
    }

    fn deliver(&mut self, book: usize, frame: Vec<u8>) {
        self.truth[book].last_delivered = Some(frame.clone());
        let mut buf = frame;
        // Both entry points into one store, frame about: `ingest` builds
        // every frame, `apply_message` sends the deltas of learned markets
        // straight to their books.
        self.delivered += 1;
        let read = if self.delivered.is_multiple_of(2) {
            self.store
                .ingest(&mut self.parser, &mut buf, self.now)
                .map(|(_, applied)| applied)
        } else {
            self.store
                .apply_message(&mut self.parser, &mut buf, self.now)
                .map(|(applied, frame)| {
                    self.direct += u64::from(frame.is_none());
                    applied
                })
        };
        if let Err(e) = read {
            panic!("model frames always parse: {e}");
        }
        self.check();
    }

    pub fn run(&mut self, op: &Op) {
        match op {
            Op::Delta { book, changes } => {
                let f = self.next_delta(*book, changes);
                self.deliver(*book, f);
            }
            Op::Drop { book, changes } => {
                let _lost = self.next_delta(*book, changes);
            }
            Op::Duplicate { book } => {
                if let Some(f) = self.truth[*book].last_delivered.clone() {
                    self.deliver(*book, f);
                }
            }
            Op::Reorder { book } => {
                let a = self.next_delta(*book, &[(true, 7, 1)]);
                let b = self.next_delta(*book, &[(false, 9, 2)]);
                self.deliver(*book, b);
                self.deliver(*book, a);
            }
            Op::ResyncRequired { book } => {
                let f = format!(
                    r#"{{"type":"resync_required","parsec_id":"{}","outcome":"YES"}}"#,
                    IDS[*book]
                );
                self.deliver(*book, f.into_bytes());
            }
            Op::Crossed { book } => {
                let _real = self.next_delta(*book, &[(true, 3, 1)]);
                let seq = self.truth[*book].seq;
                let corrupt = format!(
                    r#"{{"type":"orderbook_delta","parsec_id":"{}","outcome":"yes","changes":[{{"side":"bid","price":0.6,"size":1}},{{"side":"ask","price":0.55,"size":1}}],"server_seq":{seq}}}"#,
                    IDS[*book]
                );
                self.deliver(*book, corrupt.into_bytes());
            }
            Op::Snapshot { book } => self.deliver_snapshot(*book, 0),
            Op::Answer { lag } => {
                // A resync answered with a bad book is held back a while
                // (100 ms, doubling): time passes until it goes out.
                for _ in 0..60 {
                    if self.store.queued_resyncs() > 0 || self.store.resyncing().next().is_none() {
                        break;
                    }
                    self.now += SEC / 10;
                    self.store.poll(self.now);
                }
                let mut asked = Vec::new();
                while let Some(req) = self.store.next_resync(self.now) {
                    let book = IDS
                        .iter()
                        .position(|id| **id == *req.key.parsec_id)
                        .expect("request names a model book");
                    assert!(
                        !asked.contains(&book),
                        "two resyncs outstanding for {}",
                        IDS[book]
                    );
                    asked.push(book);
                }
                for book in asked {
                    self.deliver_snapshot(book, *lag);
                }
            }
            Op::Wait { seconds } => {
                self.now += u64::from(*seconds) * SEC;
                self.store.poll(self.now);
                self.check();
            }
        }
    }

    /// Checks every book's published snapshot against the invariants and the truth.
    pub fn check(&mut self) {
        #[allow(clippy::needless_range_loop)] // book indexes three parallel arrays
        for book in 0..BOOKS {
            self.readers[book].read_into_at(100, &mut self.snap, self.now);
            let depth = self.depth;
            let s = &self.snap;
            let bids: Vec<_> = s
                .bids
                .iter()
                .map(|l| (l.price.units(), l.size.units()))
                .collect();
            let asks: Vec<_> = s
                .asks
                .iter()
                .map(|l| (l.price.units(), l.size.units()))
                .collect();
            assert!(
                bids.windows(2).all(|w| w[0].0 > w[1].0),
                "bids not sorted best first: {bids:?}"
            );
            assert!(
                asks.windows(2).all(|w| w[0].0 < w[1].0),
                "asks not sorted best first: {asks:?}"
            );
            assert!(
                bids.iter().chain(&asks).all(|l| l.1 != 0),
                "a zero-size level was published"
            );
            if s.state == BookState::Fresh {
                if let (Some(b), Some(a)) = (bids.first(), asks.first()) {
                    assert!(b.0 < a.0, "crossed book while Fresh: bid {b:?} ask {a:?}");
                }
                let truth = self.truth[book]
                    .history
                    .get(&s.seq)
                    .unwrap_or_else(|| panic!("Fresh at seq {} the server never had", s.seq));
                let top = |side: &Vec<(u32, u64)>| side[..side.len().min(depth)].to_vec();
                assert_eq!(
                    (&bids, &asks),
                    (&top(&truth.0), &top(&truth.1)),
                    "Fresh book {} differs from the truth at seq {}",
                    IDS[book],
                    s.seq
                );
                check_sweeps(s, &top(&truth.0), &top(&truth.1));
                self.fresh_checks += 1;
            }
        }
    }
}

/// The reader-side figures of a Fresh snapshot (spread, mid, the cost of
/// taking a size, the size through a price) against the truth's levels,
/// computed another way: prefix sums instead of a walk.
fn check_sweeps(s: &BookSnapshot, bids: &[(u32, u64)], asks: &[(u32, u64)]) {
    match (bids.first(), asks.first()) {
        (Some(b), Some(a)) => {
            assert_eq!(s.spread().map(|p| p.units()), Some(a.0 - b.0));
            assert_eq!(s.mid().map(|p| p.units()), Some((a.0 + b.0) / 2));
        }
        _ => assert_eq!((s.spread(), s.mid()), (None, None)),
    }
    for (levels, side) in [(bids, Side::Bid), (asks, Side::Ask)] {
        // cum[k]: the size of the best k levels.
        let cum: Vec<u64> = std::iter::once(0)
            .chain(levels.iter().scan(0u64, |sum, l| {
                *sum += l.1;
                Some(*sum)
            }))
            .collect();
        let total = *cum.last().unwrap_or(&0);
        for want in [1, total / 3, total.saturating_sub(1), total, total + 5] {
            let sweep = match side {
                Side::Bid => s.sell(Size::from_units(want)),
                Side::Ask => s.buy(Size::from_units(want)),
            };
            let filled = want.min(total);
            // Levels wholly taken: those whose running total stays within `filled`.
            let whole = cum.iter().skip(1).take_while(|&&c| c <= filled).count();
            let mut notional: u128 = levels[..whole]
                .iter()
                .map(|l| u128::from(l.0) * u128::from(l.1))
                .sum();
            let rest = filled - cum[whole];
            let mut touched = whole;
            if rest > 0 {
                notional += u128::from(levels[whole].0) * u128::from(rest);
                touched += 1;
            }
            assert_eq!(sweep.filled.units(), filled, "{side:?} {want}");
            assert_eq!(sweep.notional, notional, "{side:?} {want}");
            assert_eq!(sweep.levels_taken, touched, "{side:?} {want}");
            assert_eq!(sweep.is_complete(), want <= total);
            assert_eq!(
                sweep.worst_price.map(|p| p.units()),
                touched.checked_sub(1).map(|k| levels[k].0)
            );
            let f = u128::from(filled);
            let average = (f > 0).then(|| ((notional + f / 2) / f) as u32);
            assert_eq!(sweep.average_price().map(|p| p.units()), average);
            if let Some(avg) = average {
                let (best, worst) = (levels[0].0, levels[touched - 1].0);
                assert!(avg >= best.min(worst) && avg <= best.max(worst));
            }
            // The nearest float to the exact notional, by the standard parser.
            let cost: f64 = format!("{notional}e-16").parse().unwrap();
            assert_eq!(sweep.cost(), cost, "{side:?} {want}");
        }
        for (k, level) in levels.iter().enumerate() {
            let price = wirebook::Price::from_units(u64::from(level.0)).unwrap();
            assert_eq!(s.size_at_or_better(side, price).units(), cum[k + 1]);
        }
    }
}
