//! Latency recording allocates nothing on the hot path: parse, apply with
//! stage timing, publish, and record every stage and both wire clocks, for
//! 100 000 frames after warm-up, under a counting global allocator.
//!
//! One test in this file: the allocator is the process's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wirebook::latency::{LatencyRecorder, Stamps};
use wirebook::{clock, BookStore, FrameParser, StoreConfig};

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

fn delta(seq: u64, size: u64) -> Vec<u8> {
    format!(
        r#"{{"type":"orderbook_delta","parsec_id":"kalshi:X","exchange":"kalshi","outcome":"yes","token_id":"","market_id":"X","changes":[{{"side":"bid","price":0.45,"size":{size}}},{{"side":"ask","price":0.47,"size":{}}}],"server_seq":{seq},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":1763000000000,"ingest_ts_ms":1763000000004}}"#,
        size + 1
    )
    .into_bytes()
}

#[test]
fn latency_recording_allocates_nothing_on_the_hot_path() {
    let mut store = BookStore::new(StoreConfig {
        stage_timing: true,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    let mut latency = LatencyRecorder::new();
    let mut snap = br#"{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","bids":[[0.45,10],[0.44,5]],"asks":[[0.47,5]],"server_seq":1}"#.to_vec();
    store
        .ingest(&mut parser, &mut snap, clock::now_ns())
        .unwrap();
    let frames: Vec<Vec<u8>> = (2..100_102u64).map(|s| delta(s, 1 + s % 50)).collect();
    let mut buf = Vec::with_capacity(1024);
    let mut run = |range: std::ops::Range<usize>, latency: &mut LatencyRecorder| {
        for f in &frames[range] {
            buf.clear();
            buf.extend_from_slice(f);
            let read = clock::now_ns();
            let frame = parser.parse(&mut buf).unwrap();
            let parsed = clock::now_ns();
            store.apply(&frame, read);
            let published = clock::now_ns();
            let stamps = Stamps::applied(read, parsed, store.applied_ns(), published);
            latency.record_frame(&frame, &stamps, clock::wall_ns(read) / 1_000_000);
        }
    };
    run(0..100, &mut latency);
    COUNTING.store(true, Ordering::SeqCst);
    run(100..frames.len(), &mut latency);
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "allocations while recording latency"
    );
    let report = latency.report();
    assert_eq!(
        report.get(wirebook::latency::Stage::Total).count,
        frames.len() as u64
    );
    assert_eq!(store.counters().deltas, frames.len() as u64);
}
