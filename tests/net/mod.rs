//! Helpers of the network tests: a simulator, a client configured for fast
//! tests, convergence to the simulator's truth, and a watchdog that checks
//! no book ever reads `Fresh` while it differs from the truth at its seq.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wirebook::client::{Backoff, ClientConfig, ParsecClient, Subscription};
use wirebook::sim::{checksum, SimConfig, Simulator};
use wirebook::{BookReader, BookState};

/// A simulator that records its truth at every seq.
pub fn simulator(config: SimConfig) -> Arc<Simulator> {
    Arc::new(
        Simulator::start(SimConfig {
            record_truth: true,
            ..config
        })
        .expect("simulator starts"),
    )
}

/// A client configuration for tests: quick reconnects and liveness.
pub fn config(sim: &Simulator, key: &str) -> ClientConfig {
    let mut c = ClientConfig::new(sim.url(), key);
    if let Some(cert) = sim.certificate_der() {
        c = c.trust(cert);
    }
    c.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(500),
        jitter: 0.5,
    };
    c.dead_after = Duration::from_secs(2);
    c.ping_interval = Duration::from_millis(500);
    c.connect_timeout = Duration::from_secs(5);
    c.auth_timeout = Duration::from_secs(5);
    c
}

/// Subscriptions to both outcomes of the first `n` markets.
pub fn all_books(n: usize) -> Vec<Subscription> {
    (0..n)
        .flat_map(|i| ["yes", "no"].map(|o| Subscription::new(format!("sim:{i}")).outcome(o)))
        .collect()
}

/// Polls `f` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// What differs between a client's book and the simulator's truth (None: equal and Fresh).
pub fn difference(sim: &Simulator, reader: &BookReader, depth: usize) -> Option<String> {
    let snap = reader.snapshot(depth);
    let (bids, asks) = sim.truth(reader.parsec_id(), reader.outcome(), depth)?;
    // Stale is a quiet book (the walk is paused), still the truth.
    if !matches!(snap.state, BookState::Fresh | BookState::Stale) {
        return Some(format!(
            "{} {}: {:?} at seq {}",
            reader.parsec_id(),
            reader.outcome(),
            snap.state,
            snap.seq
        ));
    }
    if snap.bids != bids || snap.asks != asks {
        return Some(format!(
            "{} {} at seq {}: bids {:?} vs truth {:?}; asks {:?} vs truth {:?}",
            reader.parsec_id(),
            reader.outcome(),
            snap.seq,
            snap.bids,
            bids,
            snap.asks,
            asks
        ));
    }
    None
}

/// Pauses the random walk and waits until every book of the client is
/// `Fresh` and equal to the truth. Panics with the differences otherwise.
pub fn assert_converges(sim: &Simulator, client: &ParsecClient, depth: usize, timeout: Duration) {
    sim.pause(true);
    let books = client.books();
    assert!(!books.is_empty(), "the client has books");
    let ok = wait_until(timeout, || {
        books.iter().all(|r| difference(sim, r, depth).is_none())
    });
    if !ok {
        let diffs: Vec<String> = books
            .iter()
            .filter_map(|r| difference(sim, r, depth))
            .collect();
        panic!(
            "books did not converge to the truth: {diffs:#?}\ncounters: {:#?}",
            client.counters()
        );
    }
    // Counters reach the handle every 50 ms.
    std::thread::sleep(Duration::from_millis(150));
}

/// A thread reading every book as fast as it can: whenever a book reads
/// `Fresh`, its levels must be the truth at its seq.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(u64, Vec<String>)>>,
}

impl Watchdog {
    pub fn start(sim: Arc<Simulator>, readers: Vec<BookReader>, depth: usize) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut checked = 0u64;
            let mut wrong = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                for r in &readers {
                    let snap = r.snapshot(depth);
                    // Stale is a quiet book (the walk is paused), still the truth.
                    if !matches!(snap.state, BookState::Fresh | BookState::Stale) {
                        continue;
                    }
                    if let Some(truth) = sim.truth_at(r.parsec_id(), r.outcome(), snap.seq) {
                        checked += 1;
                        if checksum(&snap.bids, &snap.asks) != truth && wrong.len() < 10 {
                            wrong.push(format!(
                                "{} {} Fresh at seq {} but wrong",
                                r.parsec_id(),
                                r.outcome(),
                                snap.seq
                            ));
                        }
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            (checked, wrong)
        });
        Watchdog {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the watchdog; panics if a book read `Fresh` while wrong.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let (checked, wrong) = self.thread.take().unwrap().join().unwrap();
        assert!(wrong.is_empty(), "books read Fresh while wrong: {wrong:#?}");
        assert!(checked > 0, "the watchdog checked some Fresh reads");
        checked
    }
}
