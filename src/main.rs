//! `wirebook`: drives the engine with a generated market-data stream.
//!
//! Until the network client and the embedded simulator arrive, the default run
//! generates a seeded stream for several markets (random-walk books, with
//! gaps, duplicates, crossed deltas, `resync_required` and malformed frames
//! mixed in), feeds it through the parser and the book store exactly as the
//! client will, answers the store's resync requests with fresh snapshots, and
//! reads the books from another thread. It needs no key and no network.
//!
//! Usage: `wirebook [FRAMES] [MARKETS]` (defaults 2,000,000 and 8).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wirebook::{BookSnapshot, BookState, BookStore, FrameParser, StoreConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// xorshift64*: a small seeded generator (reproducible runs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The true book of one generated market: sizes per tick (0.01 grid), bids below 0.50.
struct Market {
    id: String,
    seq: u64,
    mid: u32,
    bids: [u32; 100],
    asks: [u32; 100],
}

impl Market {
    fn new(i: usize, rng: &mut Rng) -> Market {
        let mut m = Market {
            id: format!("sim:{i}"),
            seq: 1,
            mid: 50,
            bids: [0; 100],
            asks: [0; 100],
        };
        for t in 1..50 {
            m.bids[t] = (rng.below(50) + 1) as u32 * 10;
            m.asks[100 - t] = (rng.below(50) + 1) as u32 * 10;
        }
        m
    }

    fn snapshot(&self) -> Vec<u8> {
        let bids: Vec<String> = (1..100)
            .rev()
            .filter(|&t| self.bids[t] > 0)
            .map(|t| format!("[0.{t:02},{}]", self.bids[t]))
            .collect();
        let asks: Vec<String> = (1..100)
            .filter(|&t| self.asks[t] > 0)
            .map(|t| format!("[0.{t:02},{}]", self.asks[t]))
            .collect();
        format!(
            r#"{{"type":"orderbook","parsec_id":"{}","outcome":"yes","tick_size":0.01,"kind":"snapshot","bids":[{}],"asks":[{}],"server_seq":{},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000}}"#,
            self.id,
            bids.join(","),
            asks.join(","),
            self.seq
        )
        .into_bytes()
    }

    /// A random-walk step: two level changes near the middle, never crossing.
    fn delta(&mut self, rng: &mut Rng) -> Vec<u8> {
        self.seq += 1;
        if rng.below(10) == 0 {
            self.mid = (self.mid as i32 + rng.below(3) as i32 - 1).clamp(20, 80) as u32;
        }
        let mut changes = Vec::with_capacity(4);
        for _ in 0..2 {
            let bid = rng.below(2) == 0;
            let t = if bid {
                self.mid - 1 - rng.below(10) as u32
            } else {
                self.mid + 1 + rng.below(10) as u32
            } as usize;
            let size = if rng.below(4) == 0 {
                0
            } else {
                (rng.below(50) + 1) as u32 * 10
            };
            // Levels of the other side at or through this price go first, so the book never crosses.
            let (own, other, side, other_side) = if bid {
                (&mut self.bids, &mut self.asks, "bid", "ask")
            } else {
                (&mut self.asks, &mut self.bids, "ask", "bid")
            };
            let through: Vec<usize> = if bid {
                (1..=t).collect()
            } else {
                (t..100).collect()
            };
            for o in through {
                if size > 0 && other[o] > 0 {
                    other[o] = 0;
                    changes.push(format!(
                        r#"{{"side":"{other_side}","price":0.{o:02},"size":0}}"#
                    ));
                }
            }
            own[t] = size;
            changes.push(format!(
                r#"{{"side":"{side}","price":0.{t:02},"size":{size}}}"#
            ));
        }
        format!(
            r#"{{"type":"orderbook_delta","parsec_id":"{}","outcome":"yes","changes":[{}],"server_seq":{},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000}}"#,
            self.id,
            changes.join(","),
            self.seq
        )
        .into_bytes()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let frames: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let markets: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8).max(1);

    let mut rng = Rng(0x5eed_f00d_b00c);
    let mut store = BookStore::new(StoreConfig {
        depth: 10,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    let mut truth: Vec<Market> = (0..markets).map(|i| Market::new(i, &mut rng)).collect();
    let readers: Vec<_> = truth
        .iter()
        .map(|m| store.track(&m.id, "yes").expect("room for the books"))
        .collect();
    println!(
        "wirebook: {frames} generated frames over {markets} markets (sim:0 .. sim:{}), faults on",
        markets - 1
    );

    // A reader on another thread takes snapshots the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, reads, readers) = (stop.clone(), reads.clone(), readers.clone());
        std::thread::spawn(move || {
            let mut snap = BookSnapshot::with_depth(10);
            let mut fresh_crossed = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for r in &readers {
                    r.read_into(10, &mut snap);
                    if snap.state == BookState::Fresh {
                        if let (Some(b), Some(a)) = (snap.best_bid(), snap.best_ask()) {
                            fresh_crossed += u64::from(b.price >= a.price);
                        }
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
            fresh_crossed
        })
    };

    for (m, market) in truth.iter().enumerate() {
        let mut snap = market.snapshot();
        let _ = store.ingest(&mut parser, &mut snap, wirebook::clock::now_ns());
        let _ = m;
    }

    let start = Instant::now();
    let mut busy = Duration::ZERO;
    let mut last_report = Instant::now();
    for i in 0..frames {
        let m = rng.below(markets as u64) as usize;
        let fault = rng.below(10_000);
        let mut frame = match fault {
            // A lost delta: the next one shows a gap.
            0..=2 => {
                truth[m].delta(&mut rng);
                continue;
            }
            // A malformed frame: counted and skipped.
            3 => b"{\"type\":\"orderbook_delta\",\"parsec_id\":\"sim:".to_vec(),
            // The server says the book is corrupt.
            4 => format!(
                r#"{{"type":"resync_required","parsec_id":"{}","outcome":"YES"}}"#,
                truth[m].id
            )
            .into_bytes(),
            // A crossed (corrupt) delta in place of the real one.
            5 => {
                truth[m].delta(&mut rng);
                format!(
                    r#"{{"type":"orderbook_delta","parsec_id":"{}","outcome":"yes","changes":[{{"side":"bid","price":0.99,"size":1}}],"server_seq":{}}}"#,
                    truth[m].id, truth[m].seq
                )
                .into_bytes()
            }
            _ => truth[m].delta(&mut rng),
        };
        let duplicate = (fault == 6).then(|| frame.clone());
        let t0 = Instant::now();
        let _ = store.ingest(&mut parser, &mut frame, wirebook::clock::now_ns());
        if let Some(mut again) = duplicate {
            let _ = store.ingest(&mut parser, &mut again, wirebook::clock::now_ns());
        }
        busy += t0.elapsed();
        // The stand-in server answers resync requests with snapshots.
        while let Some(req) = store.next_resync(wirebook::clock::now_ns()) {
            if let Some(market) = truth.iter().find(|t| *t.id == *req.key.parsec_id) {
                let mut snap = market.snapshot();
                let _ = store.ingest(&mut parser, &mut snap, wirebook::clock::now_ns());
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let c = store.counters();
            println!(
                "{i:>10} frames  deltas {}  gaps {}  resyncs {}  duplicates {}  crossed {}  parse errors {}",
                c.deltas, c.gaps, c.resyncs, c.duplicates, c.crossed, c.parse_errors
            );
        }
    }
    let wall = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let fresh_crossed = reader.join().unwrap_or(0);

    let c = store.counters();
    println!("\nsummary after {:.2?}:", wall);
    println!(
        "  frames in: {frames}, parse+apply+publish {:.0} ns/frame on average",
        busy.as_nanos() as f64 / frames.max(1) as f64
    );
    println!(
        "  deltas {}  snapshots {}  gaps {}  resyncs {}  duplicates {}  crossed {}  replayed {}  parse errors {}",
        c.deltas, c.snapshots, c.gaps, c.resyncs, c.duplicates, c.crossed, c.replayed, c.parse_errors
    );
    println!(
        "  reader thread: {} snapshots, {} crossed while fresh",
        reads.load(Ordering::Relaxed),
        fresh_crossed
    );
    let mut snap = BookSnapshot::with_depth(5);
    readers[0].read_into(5, &mut snap);
    println!(
        "  {} {} seq {}: best bid {} best ask {}",
        readers[0].parsec_id(),
        snap.state.as_str(),
        snap.seq,
        snap.best_bid()
            .map_or("-".into(), |l| format!("{}@{}", l.size, l.price)),
        snap.best_ask()
            .map_or("-".into(), |l| format!("{}@{}", l.size, l.price)),
    );
}
