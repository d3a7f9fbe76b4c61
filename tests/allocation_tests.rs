//! The steady-state path (frame in, book updated, snapshot published, snapshot
//! read) allocates nothing: proven with a counting global allocator.
//!
//! This file holds one test so no other test allocates on another thread while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wirebook::{Applied, BookSnapshot, BookStore, FrameParser, StoreConfig};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call forwards to the system allocator unchanged; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MARKETS: usize = 8;

/// A realistic stream: 8 books, deltas of 1 to 4 changes that insert, update
/// and remove levels around the top, and a 50-level snapshot every 1000 frames.
fn frames(count: usize) -> Vec<Vec<u8>> {
    let mut seqs = [0u64; MARKETS];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..count)
        .map(|i| {
            let m = i % MARKETS;
            seqs[m] += 1;
            let seq = seqs[m];
            if i % 1000 < MARKETS {
                let bids: Vec<_> = (0..50).map(|k| format!("[0.{:02},{}.5]", 49 - k % 49, k + 1)).collect();
                let asks: Vec<_> = (0..50).map(|k| format!("[0.{:02},{}]", 51 + k % 49, k + 2)).collect();
                return format!(
                    r#"{{"type":"orderbook","parsec_id":"polymarket:0x{m:04x}","outcome":"Yes","token_id":"2174","market_id":"0x{m:04x}","tick_size":0.01,"bids":[{}],"asks":[{}],"server_seq":{seq},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000}}"#,
                    bids.join(","),
                    asks.join(",")
                )
                .into_bytes();
            }
            let n = next() % 4 + 1;
            let changes: Vec<_> = (0..n)
                .map(|_| {
                    let r = next();
                    let bid = r & 1 == 0;
                    let tick = if bid { 30 + (r >> 8) % 20 } else { 51 + (r >> 8) % 20 };
                    let size = (r >> 16) % 4 * 125;
                    format!(
                        r#"{{"side":"{}","price":0.{tick:02},"size":{}.{}}}"#,
                        if bid { "bid" } else { "ask" },
                        size / 100,
                        size % 100
                    )
                })
                .collect();
            format!(
                r#"{{"type":"orderbook_delta","parsec_id":"polymarket:0x{m:04x}","exchange":"polymarket","outcome":"Yes","token_id":"2174","market_id":"0x{m:04x}","changes":[{}],"server_seq":{seq},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":1707044096100,"ingest_ts_ms":1707044096105}}"#,
                changes.join(",")
            )
            .into_bytes()
        })
        .collect()
}

#[test]
fn steady_state_path_allocates_nothing() {
    // The counter itself works: one deliberate allocation is seen.
    COUNTING.store(true, Ordering::SeqCst);
    let probe = std::hint::black_box(Vec::<u8>::with_capacity(16));
    COUNTING.store(false, Ordering::SeqCst);
    drop(probe);
    assert_eq!(
        ALLOCATIONS.swap(0, Ordering::SeqCst),
        1,
        "the counting allocator counts"
    );

    let mut store = BookStore::new(StoreConfig {
        depth: 50,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    let readers: Vec<_> = (0..MARKETS)
        .map(|m| {
            store
                .track(&format!("polymarket:0x{m:04x}"), "yes")
                .unwrap()
        })
        .collect();
    let mut snap = BookSnapshot::with_depth(50);

    let warm = frames(20_000);
    let mut measured = frames(120_000);
    let measured = measured.split_off(20_000); // continues the sequence of `warm`
    let mut warm = warm;
    let mut applied = 0u64;
    let mut run = |frames: &mut [Vec<u8>], store: &mut BookStore, count: bool| {
        COUNTING.store(count, Ordering::SeqCst);
        for (i, buf) in frames.iter_mut().enumerate() {
            let now = wirebook::clock::now_ns();
            let (_, outcome) = store.ingest(&mut parser, buf, now).expect("valid frame");
            assert!(
                matches!(outcome, Applied::Delta | Applied::Snapshot),
                "{outcome:?}"
            );
            applied += 1;
            readers[i % MARKETS].read_into(10, &mut snap);
        }
        COUNTING.store(false, Ordering::SeqCst);
    };
    run(&mut warm, &mut store, false);
    let mut measured = measured;
    run(&mut measured, &mut store, true);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(applied, 120_000);
    assert!(store.counters().deltas >= 99_000, "{:?}", store.counters());
    assert_eq!(
        allocations, 0,
        "allocations during 100 000 frames after warm-up"
    );
}
