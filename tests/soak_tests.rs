//! A bounded soak: 50 markets, every fault at random rates, for
//! `WIREBOOK_SOAK_SECS` seconds (30 by default). Nothing panics (on any
//! thread: client, simulator sessions), live heap memory stays flat, and every
//! book ends equal to the simulator's truth.
//!
//! This file holds one test: the allocator and the panic hook are the process's.

mod net;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use net::{all_books, assert_converges, config, wait_until};
use wirebook::client::{ClientConfig, ParsecClient};
use wirebook::sim::{Fault, FaultRates, SimConfig, Simulator};
use wirebook::BookState;

/// Tracks live heap bytes.
struct Tracking;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call forwards to the system allocator unchanged; the counter is a side effect.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

static PANICS: AtomicU64 = AtomicU64::new(0);

#[test]
fn soak_with_every_fault_over_fifty_markets() {
    let secs: u64 = std::env::var("WIREBOOK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    let faults = FaultRates::all(0.002)
        .with(Fault::Disconnect, 0.0002)
        .with(Fault::Silence, 0.0001);
    // Not `net::simulator`, which turns the truth log on: a log of every
    // frame's checksum per book (up to 100,000 entries each) is memory this
    // test would count as the client's (25 MiB in a 10-minute run).
    let sim = Simulator::start(SimConfig {
        markets: 50,
        rate_hz: 2_000.0,
        depth: 20,
        seed: 42,
        silence: Duration::from_secs(3),
        faults,
        record_truth: false,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let mut cfg: ClientConfig = all_books(50)
        .into_iter()
        .fold(config(&sim, "pk_soak"), ClientConfig::subscribe);
    cfg.dead_after = Duration::from_secs(1);
    let client = ParsecClient::connect(cfg).expect("connects");
    let mut events = client.events();

    let start = Instant::now();
    let warm = Duration::from_secs(secs / 3);
    let mut baseline: Option<i64> = None;
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(250));
        // Drain the events like a user would (they must not pile up).
        while events.try_recv().is_some() {}
        let live = LIVE.load(Ordering::Relaxed);
        if start.elapsed() >= warm {
            baseline.get_or_insert(live);
            samples.push(live);
        }
    }
    let stats = sim.stats();
    sim.set_faults(FaultRates::none());
    // Let every lost delta show as a gap before the walk stops.
    std::thread::sleep(Duration::from_millis(500));
    assert_converges(&sim, &client, 50, Duration::from_secs(30));
    let c = client.counters();
    eprintln!("soak: {secs}s, {c:#?}\nsimulator: {stats:?}");

    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "nothing panics");
    assert!(c.frames > 1_000 * secs / 2, "frames flowed: {}", c.frames);
    assert!(
        c.store.gaps > 0 && c.store.duplicates > 0 && c.store.parse_errors > 0,
        "faults happened: {c:#?}"
    );
    assert!(
        stats.fault(Fault::Disconnect) > 0 || secs < 30,
        "disconnects happened"
    );
    assert_eq!(c.rate_limited, 0, "the pacer kept under the limit");
    let base = baseline.expect("sampled");
    let max = samples.iter().copied().max().unwrap_or(base);
    let third = samples.len() / 3;
    let thirds: Vec<i64> = samples
        .chunks(third.max(1))
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect();
    eprintln!(
        "live heap: {base} bytes after warm-up, at most {max} after; maxima by thirds {thirds:?}"
    );
    assert!(
        max - base < 4 << 20,
        "live heap grew by {} bytes after warm-up",
        max - base
    );
    if let [.., middle, last] = thirds[..] {
        assert!(
            last - middle < 1 << 20,
            "live heap keeps growing: maxima by thirds {thirds:?}"
        );
    }
    assert!(wait_until(Duration::from_secs(1), || client
        .books()
        .iter()
        .all(|b| b.snapshot(1).state != BookState::Resyncing)));
    drop(client);
}
