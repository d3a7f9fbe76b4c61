//! End to end over loopback: the simulator floods deltas (flood mode: two
//! changes each, as fast as the socket takes them) and a client receives,
//! parses, applies and publishes them. `wirebook` is the `ParsecClient` as
//! configured by default (per-stage latency recorded), `wirebook_no_latency`
//! the same with `ClientConfig::latency` off;
//! `baseline` is a client written the usual way: tokio-tungstenite +
//! serde_json + `BTreeMap` books behind a `parking_lot::RwLock`.
//!
//! Each iteration is one frame applied; criterion reports the time per frame
//! (and frames per second with `Throughput::Elements`). A line at the end
//! prints the ratio of the two medians measured in the same run.
//!
//! Run: `cargo bench --bench end_to_end`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wirebook::client::{ClientConfig, ParsecClient, Subscription};
use wirebook::sim::{SimConfig, Simulator};
use wirebook::BookReader;

use common::BaseStore;

const MARKETS: usize = 4;

fn flood_sim() -> Simulator {
    Simulator::start(SimConfig {
        markets: MARKETS,
        rate_hz: 0.0,
        flood: true,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

/// Waits (sleeping, so the two cores stay with the server and the client)
/// until `progress` has advanced by `iters`.
fn time_frames(iters: u64, progress: &dyn Fn() -> u64) -> Duration {
    let start = progress();
    let t = Instant::now();
    while progress() < start + iters {
        // A reconnect starts the books' seqs over (lower): the sum would not
        // reach its mark for ages.
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no progress: did the client reconnect?"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    t.elapsed()
}

/// Waits (sleeping) until `done`; a bench that waits two minutes is broken
/// (a reconnect starts the books' seqs over, lower), so it says so.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "waited two minutes for {what}: did the client reconnect?"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Frames applied so far: the sum of the books' sequence numbers (read
/// through the seqlock), which each delta advances by one.
fn applied(readers: &[BookReader]) -> u64 {
    readers.iter().map(|r| r.snapshot(0).seq).sum()
}

/// The usual client: one task reading the socket, serde_json into owned
/// structs, BTreeMap books behind RwLocks, a counter of frames applied.
fn baseline_client(
    url: String,
    progress: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .unwrap();
            ws.send(Message::text(r#"{"type":"auth","api_key":"pk_bench"}"#))
                .await
                .unwrap();
            let markets: Vec<String> = (0..MARKETS)
                .flat_map(|i| {
                    ["yes", "no"].map(|o| format!(r#"{{"parsec_id":"sim:{i}","outcome":"{o}"}}"#))
                })
                .collect();
            let sub = format!(
                r#"{{"type":"subscribe","markets":[{}]}}"#,
                markets.join(",")
            );
            ws.send(Message::text(sub)).await.unwrap();
            let mut store = BaseStore::default();
            while let Some(Ok(msg)) = ws.next().await {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Message::Text(t) = msg {
                    store.ingest(t.as_bytes());
                    progress.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    })
}

/// One client under test with its own simulator (paused while another is measured).
struct Setup {
    name: &'static str,
    sim: Simulator,
    progress: Box<dyn Fn() -> u64>,
    /// Keeps the client alive (and stops the baseline's thread on drop).
    _guard: Box<dyn std::any::Any>,
}

impl Setup {
    fn wirebook(name: &'static str, latency: bool) -> Setup {
        let sim = flood_sim();
        let mut config = ClientConfig::new(sim.url(), "pk_bench");
        config.latency = latency;
        for i in 0..MARKETS {
            for o in ["yes", "no"] {
                config = config.subscribe(Subscription::new(format!("sim:{i}")).outcome(o));
            }
        }
        let client = ParsecClient::connect(config).expect("connects");
        let readers = client.books();
        until("every book fresh", || {
            readers
                .iter()
                .all(|r| r.snapshot(0).state == wirebook::BookState::Fresh)
        });
        Setup {
            name,
            sim,
            progress: Box::new(move || applied(&readers)),
            _guard: Box::new(client),
        }
    }

    fn baseline() -> Setup {
        struct Stop(Arc<AtomicBool>);
        impl Drop for Stop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let sim = flood_sim();
        let (progress, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        // The thread ends at the first message after `stop` (or when the simulator closes).
        let _handle = baseline_client(sim.url(), progress.clone(), stop.clone());
        until("the baseline's first frames", || {
            progress.load(Ordering::Relaxed) >= 1_000
        });
        Setup {
            name: "baseline",
            sim,
            progress: Box::new(move || progress.load(Ordering::Relaxed)),
            _guard: Box::new(Stop(stop)),
        }
    }

    /// Pauses the flood and waits until the client has drained its socket.
    fn pause(&self) {
        self.sim.pause(true);
        let mut last = (self.progress)();
        loop {
            std::thread::sleep(Duration::from_millis(5));
            let now = (self.progress)();
            if now == last {
                return;
            }
            last = now;
        }
    }

    /// Resumes the flood and waits until frames arrive again.
    fn resume(&self) {
        let start = (self.progress)();
        self.sim.pause(false);
        until("frames after a resume", || {
            (self.progress)() >= start + 1_000
        });
    }

    /// Nanoseconds a frame over the next `frames` frames.
    fn measure(&self, frames: u64) -> f64 {
        time_frames(frames, &*self.progress).as_secs_f64() * 1e9 / frames as f64
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn end_to_end(c: &mut Criterion) {
    let setups = [
        Setup::wirebook("wirebook", true),
        Setup::wirebook("wirebook_no_latency", false),
        Setup::baseline(),
    ];
    for s in &setups {
        s.pause();
    }
    let mut g = c.benchmark_group("end_to_end");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(8));
    if std::env::var_os("WIREBOOK_E2E_QUICK").is_some() {
        // Only the interleaved rounds matter (e.g. while trying changes).
        g.sample_size(10)
            .measurement_time(Duration::from_millis(200))
            .warm_up_time(Duration::from_millis(100));
    }
    for s in &setups {
        s.resume();
        g.bench_function(s.name, |b| {
            b.iter_custom(|iters| time_frames(iters, &*s.progress))
        });
        s.pause();
    }
    g.finish();

    // Criterion measures the three one after the other, seconds apart, and
    // this host's speed drifts by up to 2x over that. Short rounds that
    // alternate between them see the same drift; the ratio of their medians
    // is the figure to compare with the target.
    const ROUNDS: usize = 15;
    let frames: u64 = std::env::var("WIREBOOK_E2E_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let mut times = vec![Vec::with_capacity(ROUNDS); setups.len()];
    for _ in 0..ROUNDS {
        for (s, t) in setups.iter().zip(&mut times) {
            s.resume();
            t.push(s.measure(frames));
            s.pause();
        }
    }
    let m: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    println!(
        "end_to_end interleaved ({ROUNDS} rounds of {frames} frames each, medians): wirebook {:.0} ns/frame ({:.0} frames/s), without latency recording {:.0} ns/frame, baseline {:.0} ns/frame; baseline/wirebook = {:.2}x ({:.2}x without recording)",
        m[0],
        1e9 / m[0],
        m[1],
        m[2],
        m[2] / m[0],
        m[2] / m[1]
    );
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
