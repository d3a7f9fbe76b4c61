//! Fixed workloads for instruction counting (`benches/callgrind.sh` runs each
//! under `valgrind --tool=callgrind`). Counts are repeatable on a noisy
//! machine, so they show regressions that times hide.
//!
//! `cargo bench --bench instructions -- WORKLOAD` runs one workload once:
//! `delta`, `delta-baseline`, `snapshot`, `snapshot-baseline`, `read`, `read-baseline`,
//! `replay`, `replay-baseline` (the fixed capture `tests/data/capture/sim.cap`),
//! `record` (the latency recorder alone; `record-setup` makes up the same
//! stamps without recording them).
//! Without an argument it lists them (and does nothing, so `cargo bench` stays quick).

mod common;

use std::hint::black_box;

use common::{
    base_read, delta_stream, ingest_timed, interleaved_stream, snapshot, timed_store,
    wirebook_store, BaseStore,
};
use wirebook::{BookSnapshot, FrameParser};

const BASE_SEQ: u64 = 1_000;
const ID: &str = "polymarket:0x1234abcd";
/// Operations per workload (the script divides by these).
const DELTAS: usize = 4096 * 25;
const SNAPSHOTS: usize = 2_000;
const READS: usize = 200_000;
const INTERLEAVED: usize = 100_000;

/// The fixed capture of `tests/data/capture/sim.cap` (a simulator session
/// with gaps, duplicates and malformed frames), read into memory.
fn capture() -> Vec<wirebook::capture::CapturedFrame> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/capture/sim.cap");
    let file = std::fs::read(path).expect("tests/data/capture/sim.cap");
    wirebook::capture::CaptureReader::new(&file[..])
        .expect("a capture")
        .collect::<Result<_, _>>()
        .expect("a whole capture")
}

/// `default`, or `WIREBOOK_ITERS` when set (longer runs for `perf record`).
fn iters(default: usize) -> usize {
    std::env::var("WIREBOOK_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let workload = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    match workload.as_str() {
        "delta" => {
            let mut store = wirebook_store();
            let mut parser = FrameParser::new();
            let mut frames = delta_stream(BASE_SEQ, 4096);
            for _ in 0..iters(DELTAS) / 4096 {
                store
                    .ingest(&mut parser, &mut snapshot(BASE_SEQ, 50), 1)
                    .unwrap();
                for f in &mut frames {
                    black_box(store.apply_message(&mut parser, f, 1).is_ok());
                }
            }
        }
        "delta-latency" => {
            // The delta hot path as the client runs it with per-stage latency on.
            use wirebook::latency::LatencyRecorder;
            let mut store = timed_store(true);
            let mut parser = FrameParser::new();
            let mut latency = LatencyRecorder::new();
            let mut frames = delta_stream(BASE_SEQ, 4096);
            for _ in 0..iters(DELTAS) / 4096 {
                store
                    .ingest(&mut parser, &mut snapshot(BASE_SEQ, 50), 1)
                    .unwrap();
                for f in &mut frames {
                    ingest_timed(&mut store, &mut parser, f, Some(&mut latency));
                }
            }
            black_box(latency.report());
        }
        "record" | "record-setup" => {
            // The latency recorder alone, on stamps like a client's (tens to
            // hundreds of ns a stage; under valgrind the real clock's would be
            // ~50x larger), wire clocks repeating for a few frames.
            use wirebook::latency::{LatencyRecorder, Stamps};
            let mut latency = LatencyRecorder::new();
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for i in 0..iters(DELTAS) as u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let read = i * 1_000;
                let parsed = read + 120 + x % 180;
                let applied = parsed + 30 + (x >> 20) % 90;
                let published = applied + 20 + (x >> 40) % 60;
                let stamps = Stamps {
                    read,
                    parsed,
                    applied,
                    published,
                };
                let ms = 1_707_044_096_000 + i / 8;
                if workload == "record" {
                    latency.record(black_box(&stamps));
                    latency.record_wire(ms + 5, Some(ms), Some(ms + 4));
                } else {
                    // Making up the stamps alone, taken off the count.
                    black_box((&stamps, ms));
                }
            }
            black_box(latency.report());
        }
        "delta-baseline" => {
            let mut base = BaseStore::default();
            let frames = delta_stream(BASE_SEQ, 4096);
            for _ in 0..iters(DELTAS) / 4096 {
                base.ingest(&snapshot(BASE_SEQ, 50));
                for f in &frames {
                    base.ingest(black_box(f));
                }
            }
        }
        "snapshot" => {
            let mut store = wirebook_store();
            let mut parser = FrameParser::new();
            let mut buf = snapshot(BASE_SEQ, 50);
            for _ in 0..SNAPSHOTS {
                black_box(store.ingest(&mut parser, &mut buf, 1).is_ok());
            }
        }
        "parse-snapshot" => {
            // Parsing alone (the `parse_snapshot` group); WIREBOOK_ITERS repeats
            // it for a sampling profiler.
            let mut parser = FrameParser::new();
            let mut buf = snapshot(BASE_SEQ, 50);
            for _ in 0..iters(SNAPSHOTS) {
                black_box(parser.parse(black_box(&mut buf)).is_ok());
            }
        }
        "snapshot-baseline" => {
            let mut base = BaseStore::default();
            let buf = snapshot(BASE_SEQ, 50);
            for _ in 0..SNAPSHOTS {
                base.ingest(black_box(&buf));
            }
        }
        "read" => {
            let mut store = wirebook_store();
            store
                .ingest(&mut FrameParser::new(), &mut snapshot(BASE_SEQ, 50), 1)
                .unwrap();
            let reader = store.reader(ID, "yes").unwrap();
            let mut snap = BookSnapshot::with_depth(10);
            for _ in 0..READS {
                reader.read_into(10, &mut snap);
                black_box(snap.seq);
            }
        }
        "read-baseline" => {
            let mut base = BaseStore::default();
            base.ingest(&snapshot(BASE_SEQ, 50));
            let book = base.book(ID, "yes");
            let mut out = Vec::with_capacity(20);
            for _ in 0..READS {
                black_box(base_read(&book, 10, &mut out));
            }
        }
        "replay" => {
            let frames = capture();
            let mut store = wirebook::BookStore::new(wirebook::StoreConfig::default());
            let mut parser = FrameParser::new();
            let mut buf = Vec::with_capacity(64 * 1024);
            for f in &frames {
                buf.clear();
                buf.extend_from_slice(&f.payload);
                black_box(store.ingest(&mut parser, &mut buf, f.received_ns).is_ok());
            }
        }
        "replay-baseline" => {
            let frames = capture();
            let mut base = BaseStore::default();
            for f in &frames {
                base.ingest(&f.payload);
            }
            black_box(base.gaps);
        }
        "interleaved" => {
            let (snapshots, mut deltas) = interleaved_stream(INTERLEAVED);
            let mut store = wirebook::BookStore::new(wirebook::StoreConfig::default());
            let mut parser = FrameParser::new();
            for mut s in snapshots {
                store.ingest(&mut parser, &mut s, 1).unwrap();
            }
            for f in &mut deltas {
                black_box(store.apply_message(&mut parser, f, 1).is_ok());
            }
            assert_eq!(store.counters().gaps, 0);
            if std::env::var_os("WIREBOOK_STATS").is_some() {
                eprintln!("{:?}", parser.stats());
            }
        }
        "interleaved-baseline" => {
            let (snapshots, deltas) = interleaved_stream(INTERLEAVED);
            let mut base = BaseStore::default();
            for s in &snapshots {
                base.ingest(s);
            }
            for f in &deltas {
                base.ingest(black_box(f));
            }
            assert_eq!(base.gaps, 0);
        }
        "interleaved-setup" => {
            black_box(interleaved_stream(INTERLEAVED));
        }
        "replay-frames" => println!("{}", capture().len()),
        _ => println!(
            "workloads: delta delta-baseline snapshot snapshot-baseline read read-baseline \
             replay replay-baseline interleaved interleaved-baseline interleaved-setup record record-setup \
             (run benches/callgrind.sh)"
        ),
    }
}
