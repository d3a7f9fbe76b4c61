//! Replay of a capture at max speed: the simulator's random walk over 50
//! markets (100 books, snapshots and deltas that insert, move and remove
//! levels, trades, heartbeats), recorded by a `ParsecClient`, then fed
//! through wirebook's parser and store, and through the baseline
//! (serde_json + `BTreeMap` + `RwLock`), in the same run. Criterion reports
//! time per pass and frames per second (`Throughput::Elements`).
//!
//! Run: `cargo bench --bench replay` (records the capture first, a few seconds).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wirebook::capture::{CaptureReader, CapturedFrame};
use wirebook::client::{ClientConfig, ParsecClient, Subscription};
use wirebook::sim::{SimConfig, Simulator};
use wirebook::{BookStore, FrameParser, StoreConfig};

use common::BaseStore;

const MARKETS: usize = 50;
const FRAMES: u64 = 100_000;

/// Records at least `FRAMES` frames of the simulator's walk.
fn record() -> Vec<CapturedFrame> {
    let path = std::env::temp_dir().join(format!("wirebook-bench-{}.cap", std::process::id()));
    let sim = Simulator::start(SimConfig {
        markets: MARKETS,
        rate_hz: 40_000.0,
        seed: 7,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let mut config = ClientConfig::new(sim.url(), "pk_bench").record(&path);
    for id in sim.markets() {
        for outcome in ["yes", "no"] {
            config = config.subscribe(Subscription::new(id.clone()).outcome(outcome));
        }
    }
    let client = ParsecClient::connect(config).expect("connects");
    while client.counters().frames < FRAMES {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(client);
    let file = std::fs::read(&path).expect("the capture");
    let _ = std::fs::remove_file(&path);
    CaptureReader::new(&file[..])
        .expect("a capture")
        .map_while(Result::ok)
        .collect()
}

fn replay(c: &mut Criterion) {
    let frames = record();
    let bytes: usize = frames.iter().map(|f| f.payload.len()).sum();
    println!(
        "replay: {} frames, {} bytes, {MARKETS} markets",
        frames.len(),
        bytes
    );
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    let mut buf = Vec::with_capacity(64 * 1024);
    g.bench_function("wirebook", |b| {
        b.iter(|| {
            let mut store = BookStore::new(StoreConfig::default());
            let mut parser = FrameParser::new();
            for f in &frames {
                buf.clear();
                buf.extend_from_slice(&f.payload);
                black_box(store.ingest(&mut parser, &mut buf, f.received_ns).is_ok());
            }
            black_box(store.counters())
        })
    });
    g.bench_function("baseline", |b| {
        b.iter(|| {
            let mut store = BaseStore::default();
            for f in &frames {
                store.ingest(&f.payload);
            }
            black_box(store.gaps)
        })
    });
    g.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
