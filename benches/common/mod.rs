//! Frame builders and the naive baseline shared by the benches.
//!
//! The baseline is a book engine written the usual way: serde_json into owned
//! structs (f64 numbers, `String`s), one `BTreeMap<price, size>` per side, a
//! `HashMap` of books, each behind a `parking_lot::RwLock` that readers share.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Deserialize;

/// The median of `v` (sorts it).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Times `iters` runs of `f` in ns per run.
pub fn per_op(iters: usize, mut f: impl FnMut()) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// `rounds` rounds alternating `a` then `b` (each returns its time): the
/// medians of `a`'s and `b`'s times and of their per-round ratio `b / a`, so
/// the host's slow swings in speed hit both sides alike.
pub fn interleave(
    rounds: usize,
    mut a: impl FnMut() -> f64,
    mut b: impl FnMut() -> f64,
) -> (f64, f64, f64) {
    let (mut ta, mut tb, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let x = a();
        let y = b();
        ta.push(x);
        tb.push(y);
        r.push(y / x);
    }
    (median(&mut ta), median(&mut tb), median(&mut r))
}

/// The delta hot path, interleaved with the baseline: each of `rounds`
/// rounds applies the whole 4,096-delta stream of `venue` after a fresh
/// snapshot. The medians (wirebook, baseline, ratio), in ns a delta.
pub fn hot_path_delta(venue: Venue, rounds: usize) -> (f64, f64, f64) {
    use std::hint::black_box;
    use std::time::Instant;
    const BASE: u64 = 1_000;
    let frames = delta_stream_of(venue, BASE, 4096);
    let mut mine = frames.clone();
    let mut store = wirebook_store();
    let mut parser = wirebook::FrameParser::new();
    let mut base = BaseStore::default();
    let row = interleave(
        rounds,
        || {
            store
                .ingest(&mut parser, &mut snapshot_of(venue, BASE, 50), 1)
                .unwrap();
            let start = Instant::now();
            for f in mine.iter_mut() {
                black_box(store.apply_message(&mut parser, f, 1).is_ok());
            }
            start.elapsed().as_nanos() as f64 / frames.len() as f64
        },
        || {
            base.ingest(&snapshot_of(venue, BASE, 50));
            let start = Instant::now();
            for f in &frames {
                base.ingest(black_box(f));
            }
            start.elapsed().as_nanos() as f64 / frames.len() as f64
        },
    );
    assert_eq!(store.counters().gaps, 0);
    assert_eq!(store.counters().deltas, rounds as u64 * 4096);
    assert_eq!(base.gaps, 0);
    row
}

/// A store as the client builds it, with per-stage timing (the store's
/// apply stamp) when `timed`.
pub fn timed_store(timed: bool) -> wirebook::BookStore {
    wirebook::BookStore::new(wirebook::StoreConfig {
        stage_timing: timed,
        ..wirebook::StoreConfig::default()
    })
}

/// One frame through the receive path as the client runs it: a clock read
/// for the store, parse, apply, publish; with `latency`, also the parsed and
/// published stamps and the recorder (the store must be a `timed_store(true)`).
#[inline(always)]
pub fn ingest_timed(
    store: &mut wirebook::BookStore,
    parser: &mut wirebook::FrameParser,
    buf: &mut [u8],
    latency: Option<&mut wirebook::latency::LatencyRecorder>,
) {
    use wirebook::clock;
    let read = clock::now_ns();
    let Ok(frame) = parser.parse(buf) else {
        return;
    };
    match latency {
        Some(latency) => {
            let parsed = clock::now_ns();
            store.apply(&frame, read);
            let published = clock::now_ns();
            let stamps =
                wirebook::latency::Stamps::applied(read, parsed, store.applied_ns(), published);
            latency.record_frame(&frame, &stamps, clock::wall_ns(read) / 1_000_000);
        }
        None => {
            std::hint::black_box(store.apply(&frame, read));
        }
    }
}

/// The store every bench uses: 50 levels a side published (the protocol's default depth).
pub fn wirebook_store() -> wirebook::BookStore {
    wirebook::BookStore::new(wirebook::StoreConfig {
        depth: 50,
        ..wirebook::StoreConfig::default()
    })
}

/// A Polymarket-shaped delta like PROTOCOL.md's example: two changes, every
/// field; prices are hundredths (`bid.0 = 45` is 0.45).
pub fn delta(seq: u64, bid: (u32, u32), ask: (u32, u32)) -> Vec<u8> {
    delta_frame(
        seq,
        &format!("0.{:02}", bid.0),
        u64::from(bid.1),
        &format!("0.{:02}", ask.0),
        u64::from(ask.1),
    )
}

/// The delta of [`delta`] and [`delta_stream`], with prices as written.
fn delta_frame(
    seq: u64,
    bid_price: &str,
    bid_size: u64,
    ask_price: &str,
    ask_size: u64,
) -> Vec<u8> {
    delta_frame_of(
        Venue::Polymarket,
        seq,
        bid_price,
        bid_size,
        ask_price,
        ask_size,
    )
}

/// Where a bench market trades: the identifying fields differ in length (a
/// Polymarket delta is 423 bytes, a Kalshi one 379).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    /// `polymarket:0x1234abcd`, with a 46-digit token id.
    Polymarket,
    /// `kalshi:KXBTC-26MAR10`, with an empty token id (as Kalshi books have).
    Kalshi,
}

impl Venue {
    /// The frame's identifying fields, between `"type"` and the book.
    fn market_fields(self) -> &'static str {
        match self {
            Venue::Polymarket => {
                r#""parsec_id":"polymarket:0x1234abcd","exchange":"polymarket","outcome":"Yes","token_id":"2174263314346390629056905015582624153306727273","market_id":"0x1234abcd""#
            }
            Venue::Kalshi => {
                r#""parsec_id":"kalshi:KXBTC-26MAR10","exchange":"kalshi","outcome":"yes","token_id":"","market_id":"KXBTC-26MAR10""#
            }
        }
    }

    /// The book's `parsec_id`.
    pub fn parsec_id(self) -> &'static str {
        match self {
            Venue::Polymarket => "polymarket:0x1234abcd",
            Venue::Kalshi => "kalshi:KXBTC-26MAR10",
        }
    }
}

fn delta_frame_of(
    venue: Venue,
    seq: u64,
    bid_price: &str,
    bid_size: u64,
    ask_price: &str,
    ask_size: u64,
) -> Vec<u8> {
    format!(
        r#"{{"type":"orderbook_delta",{},"changes":[{{"side":"bid","price":{bid_price},"size":{bid_size}.5}},{{"side":"ask","price":{ask_price},"size":{ask_size}.0}}],"server_seq":{seq},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":1707044096100,"ingest_ts_ms":1707044096105}}"#,
        venue.market_fields()
    )
    .into_bytes()
}

/// A snapshot with `levels` levels a side on a 0.001 grid (best first).
pub fn snapshot(seq: u64, levels: usize) -> Vec<u8> {
    snapshot_of(Venue::Polymarket, seq, levels)
}

/// [`snapshot`] of `venue`'s market.
pub fn snapshot_of(venue: Venue, seq: u64, levels: usize) -> Vec<u8> {
    let bids: Vec<_> = (0..levels)
        .map(|i| format!("[0.{:03},{}.25]", 499 - i, 100 + i * 7))
        .collect();
    let asks: Vec<_> = (0..levels)
        .map(|i| format!("[0.{:03},{}.5]", 501 + i, 90 + i * 5))
        .collect();
    format!(
        r#"{{"type":"orderbook",{},"tick_size":0.001,"min_order_size":5,"kind":"snapshot","bids":[{}],"asks":[{}],"server_seq":{seq},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":1707044096000,"ingest_ts_ms":1707044096005}}"#,
        venue.market_fields(),
        bids.join(","),
        asks.join(",")
    )
    .into_bytes()
}

/// `count` deltas continuing a snapshot at `base` (from [`snapshot`]): each
/// sets one bid and one ask level at a depth below the top drawn from a
/// geometric distribution (mean about 2.3 ticks), as real books update mostly
/// at the top; one ask in three is a removal. The snapshot's grid (0.001).
pub fn delta_stream(base: u64, count: usize) -> Vec<Vec<u8>> {
    delta_stream_of(Venue::Polymarket, base, count)
}

/// [`delta_stream`] for `venue`'s market (the same changes).
pub fn delta_stream_of(venue: Venue, base: u64, count: usize) -> Vec<Vec<u8>> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut depth = move |r: u64| {
        // Geometric: P(k) = 0.3 * 0.7^k, capped at 49.
        let mut k = 0u32;
        let mut v = r;
        while k < 49 && v % 10 >= 3 {
            k += 1;
            v /= 10;
            if v == 0 {
                v = next();
            }
        }
        k
    };
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    (0..count)
        .map(|i| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let bid_price = 499 - depth(rng);
            let ask_price = 501 + depth(rng.rotate_left(17));
            let bid_size = (rng >> 8) % 500 + 1;
            let ask_size = (rng >> 24) % 3 * 100;
            delta_frame_of(
                venue,
                base + 1 + i as u64,
                &format!("0.{bid_price:03}"),
                bid_size,
                &format!("0.{ask_price:03}"),
                ask_size,
            )
        })
        .collect()
}

// ---------------------------------------------------------------- baseline

/// A frame as serde_json sees it: owned strings, f64 numbers.
#[derive(Debug, Deserialize)]
pub struct BaseFrame {
    #[serde(rename = "type")]
    pub kind: String,
    pub parsec_id: Option<String>,
    pub outcome: Option<String>,
    pub exchange: Option<String>,
    pub market_id: Option<String>,
    pub token_id: Option<String>,
    #[serde(default)]
    pub bids: Vec<(f64, f64)>,
    #[serde(default)]
    pub asks: Vec<(f64, f64)>,
    #[serde(default)]
    pub changes: Vec<BaseChange>,
    pub server_seq: Option<u64>,
    pub book_state: Option<String>,
    pub feed_state: Option<String>,
    pub stale_after_ms: Option<u64>,
    pub tick_size: Option<f64>,
    pub exchange_ts_ms: Option<u64>,
    pub ingest_ts_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct BaseChange {
    pub side: String,
    pub price: f64,
    pub size: f64,
}

#[derive(Debug, Default)]
pub struct BaseBook {
    pub seq: u64,
    pub bids: BTreeMap<u64, f64>,
    pub asks: BTreeMap<u64, f64>,
}

fn key(price: f64) -> u64 {
    (price * 1e8).round() as u64
}

/// The usual store: books by owned key, each behind a RwLock.
#[derive(Default)]
pub struct BaseStore {
    pub books: HashMap<(String, String), Arc<RwLock<BaseBook>>>,
    pub gaps: u64,
}

impl BaseStore {
    pub fn apply(&mut self, frame: &BaseFrame) {
        let (Some(id), Some(seq)) = (&frame.parsec_id, frame.server_seq) else {
            return;
        };
        let outcome = frame.outcome.as_deref().unwrap_or("yes").to_lowercase();
        let book = self.books.entry((id.clone(), outcome)).or_default().clone();
        let mut b = book.write();
        match frame.kind.as_str() {
            "orderbook" => {
                b.bids = frame
                    .bids
                    .iter()
                    .map(|(p, s)| (key(*p), *s))
                    .filter(|l| l.1 > 0.0)
                    .collect();
                b.asks = frame
                    .asks
                    .iter()
                    .map(|(p, s)| (key(*p), *s))
                    .filter(|l| l.1 > 0.0)
                    .collect();
                b.seq = seq;
            }
            "orderbook_delta" => {
                if seq != b.seq + 1 {
                    self.gaps += 1;
                    return;
                }
                b.seq = seq;
                for c in &frame.changes {
                    let side = if c.side == "bid" {
                        &mut b.bids
                    } else {
                        &mut b.asks
                    };
                    if c.size == 0.0 {
                        side.remove(&key(c.price));
                    } else {
                        side.insert(key(c.price), c.size);
                    }
                }
            }
            _ => {}
        }
    }

    pub fn ingest(&mut self, buf: &[u8]) {
        if let Ok(frame) = serde_json::from_slice::<BaseFrame>(buf) {
            self.apply(&frame);
        }
    }

    pub fn book(&self, id: &str, outcome: &str) -> Arc<RwLock<BaseBook>> {
        self.books[&(id.to_owned(), outcome.to_lowercase())].clone()
    }
}

/// Copies the top `depth` levels a side under the read lock.
pub fn base_read(book: &RwLock<BaseBook>, depth: usize, out: &mut Vec<(u64, f64)>) -> u64 {
    let b = book.read();
    out.clear();
    out.extend(b.bids.iter().rev().take(depth).map(|(p, s)| (*p, *s)));
    out.extend(b.asks.iter().take(depth).map(|(p, s)| (*p, *s)));
    b.seq
}

/// Books of the interleaved workload: 4 markets, `yes` and `no`.
pub const INTERLEAVED_BOOKS: usize = 8;

/// The simulator's flood over [`INTERLEAVED_BOOKS`] books, round robin: a
/// snapshot per book (20 levels a side, seq 10^12), then `count` deltas of
/// one or two changes near the top, with 13-digit seqs and timestamps as the
/// simulator writes them (what `end_to_end` parses, without the socket).
pub fn interleaved_stream(count: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    const SEQ: u64 = 1_000_000_000_000;
    let id = |b: usize| (b / 2, if b.is_multiple_of(2) { "yes" } else { "no" });
    let prefix = |b: usize, kind: &str| {
        let (m, o) = id(b);
        format!(
            r#"{{"type":"{kind}","parsec_id":"sim:{m}","exchange":"sim","outcome":"{o}","token_id":"","market_id":"{m}","#
        )
    };
    let snapshots = (0..INTERLEAVED_BOOKS)
        .map(|b| {
            let bids: Vec<_> = (0..20).map(|i| format!("[0.{},{}]", 49 - i, 100 + i)).collect();
            let asks: Vec<_> = (0..20).map(|i| format!("[0.{},{}]", 51 + i, 90 + i)).collect();
            format!(
                r#"{}"tick_size":0.01,"bids":[{}],"asks":[{}],"server_seq":{SEQ},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":1795302710496,"ingest_ts_ms":1795302710499}}"#,
                prefix(b, "orderbook"),
                bids.join(","),
                asks.join(",")
            )
            .into_bytes()
        })
        .collect();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let deltas = (0..count)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = i % INTERLEAVED_BOOKS;
            let seq = SEQ + 1 + (i / INTERLEAVED_BOOKS) as u64;
            let bid = format!(
                r#"{{"side":"bid","price":0.{},"size":{}}}"#,
                49 - x % 5,
                x % 1000 + 1
            );
            let ask = format!(
                r#"{{"side":"ask","price":0.{},"size":{}.5}}"#,
                51 + (x >> 8) % 5,
                (x >> 16) % 1000
            );
            let changes = if x.is_multiple_of(3) { bid } else { format!("{bid},{ask}") };
            format!(
                r#"{}"changes":[{changes}],"server_seq":{seq},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":{},"ingest_ts_ms":{}}}"#,
                prefix(b, "orderbook_delta"),
                1_795_302_710_496 + i as u64 / 100,
                1_795_302_710_499 + i as u64 / 100,
            )
            .into_bytes()
        })
        .collect();
    (snapshots, deltas)
}
