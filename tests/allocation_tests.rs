//! The steady-state path (frame in, book updated, snapshot published, snapshot
//! read) allocates nothing, resyncs included (gap, resync request written,
//! deltas buffered, snapshot, replay): proven with a counting global allocator.
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

/// `frames` with a resync of every book in every 1000-frame cycle, as the
/// server answers one: the book's delta just before its snapshot (seq S) is
/// lost, so the next one (S+1) is a gap; S+1 to S+3 arrive while it resyncs
/// (buffered), then the snapshot S, after which they are replayed.
fn with_resyncs(frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let market = |f: &[u8]| {
        let at = f.windows(13).position(|w| w == b"polymarket:0x").unwrap() + 13;
        usize::from_str_radix(std::str::from_utf8(&f[at..at + 4]).unwrap(), 16).unwrap()
    };
    let is_snapshot = |f: &[u8]| f.starts_with(br#"{"type":"orderbook","#);
    // Each frame's place in the new order (its index, or just after another's); None drops it.
    let mut place: Vec<Option<(usize, usize)>> = (0..frames.len()).map(|i| Some((i, 0))).collect();
    for (i, f) in frames.iter().enumerate() {
        if !is_snapshot(f) {
            continue;
        }
        let m = market(f);
        let of_book = |j: &usize| market(&frames[*j]) == m && !is_snapshot(&frames[*j]);
        let before = (0..i).rev().find(of_book);
        let after: Vec<usize> = (i + 1..frames.len()).filter(of_book).take(3).collect();
        if let (Some(lost), [.., third]) = (before, after.as_slice()) {
            if after.len() == 3 {
                place[lost] = None;
                place[i] = Some((*third, 1));
            }
        }
    }
    let mut order: Vec<((usize, usize), Vec<u8>)> = place
        .into_iter()
        .zip(frames)
        .filter_map(|(p, f)| Some((p?, f)))
        .collect();
    order.sort_by_key(|(p, _)| *p);
    order.into_iter().map(|(_, f)| f).collect()
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

    let mut writer = wirebook::FrameWriter::new();
    let mut sent = 0usize;
    let mut direct = 0usize;
    // Warm-up and measured window: the second continues the first's
    // sequences; both hold resyncs (gap, buffering, replay).
    let mut all = with_resyncs(frames(126_000));
    let mut measured = all.split_off(20_000);
    let mut warm = all;
    let mut run = |frames: &mut [Vec<u8>], store: &mut BookStore, count: bool| {
        COUNTING.store(count, Ordering::SeqCst);
        for (i, buf) in frames.iter_mut().enumerate() {
            let now = wirebook::clock::now_ns();
            // Both entry points: `ingest` (every frame built) and
            // `apply_message` (a learned market's delta straight to its book).
            let outcome = if i.is_multiple_of(2) {
                store.ingest(&mut parser, buf, now).expect("valid frame").1
            } else {
                let (applied, frame) = store
                    .apply_message(&mut parser, buf, now)
                    .expect("valid frame");
                direct += usize::from(count && frame.is_none());
                applied
            };
            assert!(
                matches!(
                    outcome,
                    Applied::Delta | Applied::Snapshot | Applied::Gap | Applied::Buffered
                ),
                "{outcome:?}"
            );
            while let Some(req) = store.next_resync(now) {
                // As the client sends it: written into the writer's reused buffer.
                sent += writer
                    .resync(&req.key.parsec_id, Some(&req.key.outcome))
                    .len();
            }
            readers[i % MARKETS].read_into(10, &mut snap);
        }
        COUNTING.store(false, Ordering::SeqCst);
    };
    run(&mut warm, &mut store, false);
    let before = store.counters();
    assert!(before.replayed > 0, "the warm-up went through a resync");
    run(&mut measured, &mut store, true);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    let after = store.counters();
    let deltas = after.deltas - before.deltas;
    assert!(deltas >= 100_000, "{deltas} deltas applied while counting");
    assert!(after.gaps - before.gaps >= 100, "{after:?}");
    assert!(after.replayed - before.replayed >= 300, "{after:?}");
    assert_eq!(
        after.discarded, 0,
        "every buffered delta continued its snapshot"
    );
    assert_eq!(after.crossed, 0);
    assert!(sent > 0);
    assert!(direct >= 40_000, "{direct} deltas applied without a frame");
    assert_eq!(
        allocations,
        0,
        "allocations while applying {deltas} deltas and {} resyncs after warm-up",
        after.gaps - before.gaps
    );
}
