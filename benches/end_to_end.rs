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
        std::thread::sleep(Duration::from_micros(200));
    }
    t.elapsed()
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

fn end_to_end(c: &mut Criterion) {
    let mut g = c.benchmark_group("end_to_end");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(8));
    let mut medians = [0.0f64; 3];

    // The client as configured by default (per-stage latency recorded), then without recording.
    for (i, (name, latency)) in [("wirebook", true), ("wirebook_no_latency", false)]
        .into_iter()
        .enumerate()
    {
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
        while readers
            .iter()
            .any(|r| r.snapshot(0).state != wirebook::BookState::Fresh)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let progress = || applied(&readers);
        let t = time_frames(200_000, &progress);
        medians[i] = t.as_secs_f64() * 1e9 / 200_000.0;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| time_frames(iters, &progress))
        });
        drop(client);
    }
    {
        let sim = flood_sim();
        let (progress, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let handle = baseline_client(sim.url(), progress.clone(), stop.clone());
        let count = || progress.load(Ordering::Relaxed);
        while count() < 1_000 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let t = time_frames(200_000, &count);
        medians[2] = t.as_secs_f64() * 1e9 / 200_000.0;
        g.bench_function("baseline", |b| {
            b.iter_custom(|iters| time_frames(iters, &count))
        });
        stop.store(true, Ordering::Relaxed);
        drop(sim);
        let _ = handle.join();
    }
    g.finish();
    println!(
        "end_to_end warm-up pass: wirebook {:.0} ns/frame ({:.0} frames/s), without latency recording {:.0} ns/frame, baseline {:.0} ns/frame; baseline/wirebook = {:.2}x ({:.2}x without recording)",
        medians[0],
        1e9 / medians[0],
        medians[1],
        medians[2],
        medians[2] / medians[0],
        medians[2] / medians[1]
    );
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
