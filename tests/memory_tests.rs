//! Memory a hostile or unusual frame can make the parser keep: an outsized
//! frame (still under `MAX_FRAME_LEN`) grows the parser's buffers, simd-json's
//! tape to many times the frame, while it is parsed; the next frame gives
//! that memory back. Measured with a global allocator that tracks live bytes.
//!
//! This file holds one test so no other test allocates on another thread while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use wirebook::{BookStore, FrameParser, StoreConfig};

struct Tracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call forwards to the system allocator unchanged; the counters are a side effect.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

const ID: &str = "kalshi:MEM";
const MIB: usize = 1 << 20;

fn snapshot(seq: u64, levels: usize) -> Vec<u8> {
    let bids: Vec<String> = (0..levels)
        .map(|i| format!("[0.{:04},1]", 4_999 - i % 4_000))
        .collect();
    format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[{}],"asks":[[0.9,1]],"server_seq":{seq}}}"#,
        bids.join(",")
    )
    .into_bytes()
}

fn delta(seq: u64, padding: usize) -> Vec<u8> {
    format!(
        r#"{{"type":"orderbook_delta",{}"parsec_id":"{ID}","outcome":"yes","changes":[{{"side":"bid","price":0.4,"size":{seq}}}],"server_seq":{seq}}}"#,
        " ".repeat(padding)
    )
    .into_bytes()
}

/// A frame only simd-json reads (not a hot type), of about `len` bytes of
/// small values: its tape needs a node for each.
fn heartbeat(len: usize) -> Vec<u8> {
    let pad = vec!["0"; len / 2].join(",");
    format!(r#"{{"type":"heartbeat","ts_ms":1,"pad":[{pad}]}}"#).into_bytes()
}

#[test]
fn an_outsized_frame_does_not_keep_its_memory() {
    let mut store = BookStore::new(StoreConfig::default());
    let mut parser = FrameParser::new();
    let mut spare = Vec::new();
    let mut seq = 1;
    store.track(ID, "yes").unwrap();
    store
        .ingest(&mut parser, &mut snapshot(seq, 10), 1)
        .unwrap();
    // Warm up every path the outsized frames take, with frames of normal size.
    for _ in 0..100 {
        seq += 1;
        store.ingest(&mut parser, &mut delta(seq, 0), 1).unwrap();
        parser.parse(&mut heartbeat(64)).unwrap();
        parser.parse_shared(&heartbeat(64), &mut spare).unwrap();
    }
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);

    // Each outsized kind once (built when its turn comes, so the others'
    // bytes do not count), then a normal frame of each route.
    let kinds = [
        "a deep snapshot (fast path)",
        "a delta padded with whitespace (fast path)",
        "4 MiB of small values (simd-json)",
        "the same, shared (simd-json, a copy)",
    ];
    for (i, what) in kinds.into_iter().enumerate() {
        let mut frame = match i {
            0 => snapshot(seq + 1, 300_000),
            1 => delta(seq + 1, 4 * MIB),
            _ => heartbeat(4 * MIB),
        };
        assert!(frame.len() > 2 * MIB, "{what}");
        let parsed = if i == 3 {
            parser.parse_shared(&frame, &mut spare).is_ok()
        } else {
            parser.parse(&mut frame).is_ok()
        };
        assert!(parsed, "{what} parses");
        drop(frame);
        seq += 1;
        store.ingest(&mut parser, &mut delta(seq, 0), 1).unwrap();
        parser.parse(&mut heartbeat(64)).unwrap();
        parser.parse_shared(&heartbeat(64), &mut spare).unwrap();
        let after = LIVE.load(Ordering::Relaxed);
        assert!(
            after <= before + MIB / 4,
            "after {what}: {} KiB more live than before",
            (after - before) / 1024
        );
    }
    let peak = PEAK.load(Ordering::Relaxed);
    assert!(
        peak > before + 16 * MIB,
        "the outsized frames did grow the buffers while parsed: peak {} MiB over",
        (peak - before) / MIB
    );
}
