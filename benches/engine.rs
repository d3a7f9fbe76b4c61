//! The core engine beside a naive baseline, in the same run.
//!
//! Groups (each with `wirebook` and `baseline`): `parse_delta`,
//! `parse_snapshot`, `hot_path_delta`, `hot_path_snapshot`, `read_depth10`
//! (a writer thread updating the same book), plus `read_depth10_uncontended`,
//! `read_depth` (cost against the depth asked for) and `book_update` (the
//! level container alone, against `BTreeMap`), and `latency_recording` (the
//! delta hot path with per-stage latency recording `off` and `on`).
//!
//! Run: `cargo bench --bench engine`.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use wirebook::{BookSnapshot, BookStore, FrameParser, StoreConfig};

use common::{
    base_read, delta, delta_stream, ingest_timed, snapshot, timed_store, wirebook_store, BaseFrame,
    BaseStore,
};

const ID: &str = "polymarket:0x1234abcd";
const BASE_SEQ: u64 = 1_000;
const CHUNK: usize = 4096;
const NOW: u64 = 1_000_000_000;

/// A parse group: wirebook, the serde_json baseline, and simd-json alone
/// (the general path, for the README's choice of a specialised fast path).
fn parse_group(c: &mut Criterion, name: &str, frame: Vec<u8>) {
    let mut g = c.benchmark_group(name);
    let mut buf = frame;
    let mut parser = FrameParser::new();
    g.bench_function("wirebook", |b| {
        b.iter(|| {
            black_box(parser.parse(black_box(&mut buf)).is_ok());
        })
    });
    g.bench_function("baseline", |b| {
        b.iter(|| black_box(serde_json::from_slice::<BaseFrame>(black_box(&buf)).is_ok()))
    });
    let mut general = FrameParser::new();
    let mut copy = Vec::with_capacity(buf.len());
    g.bench_function("simd_json", |b| {
        b.iter(|| {
            // simd-json unescapes in place: parse a fresh copy (no allocation).
            copy.clear();
            copy.extend_from_slice(&buf);
            black_box(general.parse_general(black_box(&mut copy)).is_ok());
        })
    });
    g.finish();
}

fn parse_delta(c: &mut Criterion) {
    parse_group(c, "parse_delta", delta(1235, (45, 900), (46, 0)));
}

fn parse_snapshot(c: &mut Criterion) {
    parse_group(c, "parse_snapshot", snapshot(BASE_SEQ, 50));
}

/// Times `iters` frames of the delta stream, resetting the book with an
/// (untimed) snapshot every `CHUNK` frames so sequence numbers always continue.
fn hot_path_delta(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot_path_delta");
    let frames = delta_stream(BASE_SEQ, CHUNK);
    g.bench_function("wirebook", |b| {
        b.iter_custom(|iters| {
            let mut store = wirebook_store();
            let mut parser = FrameParser::new();
            let mut frames = frames.clone();
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let mut snap = snapshot(BASE_SEQ, 50);
                store.ingest(&mut parser, &mut snap, NOW).unwrap();
                let n = (iters - done).min(CHUNK as u64) as usize;
                let start = Instant::now();
                for f in &mut frames[..n] {
                    black_box(store.apply_message(&mut parser, f, NOW).is_ok());
                }
                total += start.elapsed();
                done += n as u64;
            }
            assert_eq!(store.counters().gaps, 0);
            total
        })
    });
    g.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let mut store = BaseStore::default();
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                store.ingest(&snapshot(BASE_SEQ, 50));
                let n = (iters - done).min(CHUNK as u64) as usize;
                let start = Instant::now();
                for f in &frames[..n] {
                    store.ingest(black_box(f));
                }
                total += start.elapsed();
                done += n as u64;
            }
            assert_eq!(store.gaps, 0);
            total
        })
    });
    g.finish();
}

fn hot_path_snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot_path_snapshot");
    let mut buf = snapshot(BASE_SEQ, 50);
    let mut store = wirebook_store();
    let mut parser = FrameParser::new();
    g.bench_function("wirebook", |b| {
        b.iter(|| {
            black_box(
                store
                    .apply_message(&mut parser, black_box(&mut buf), NOW)
                    .is_ok(),
            )
        })
    });
    let mut base = BaseStore::default();
    g.bench_function("baseline", |b| b.iter(|| base.ingest(black_box(&buf))));
    g.finish();
}

/// A writer thread applying the delta stream to the book forever (until stopped).
fn wirebook_writer(stop: Arc<AtomicBool>) -> (wirebook::BookReader, std::thread::JoinHandle<u64>) {
    let mut store = wirebook_store();
    let mut parser = FrameParser::new();
    let mut snap = snapshot(BASE_SEQ, 50);
    store.ingest(&mut parser, &mut snap, NOW).unwrap();
    let reader = store.reader(ID, "yes").unwrap();
    let handle = std::thread::spawn(move || {
        let mut frames = delta_stream(BASE_SEQ, CHUNK);
        let mut applied = 0;
        while !stop.load(Ordering::Relaxed) {
            let mut snap = snapshot(BASE_SEQ, 50);
            store.ingest(&mut parser, &mut snap, NOW).unwrap();
            for f in &mut frames {
                store.ingest(&mut parser, f, NOW).unwrap();
            }
            applied += CHUNK as u64;
        }
        applied
    });
    (reader, handle)
}

fn baseline_writer(
    stop: Arc<AtomicBool>,
) -> (
    Arc<parking_lot::RwLock<common::BaseBook>>,
    std::thread::JoinHandle<u64>,
) {
    let mut store = BaseStore::default();
    store.ingest(&snapshot(BASE_SEQ, 50));
    let book = store.book(ID, "Yes");
    let handle = std::thread::spawn(move || {
        let frames = delta_stream(BASE_SEQ, CHUNK);
        let snap = snapshot(BASE_SEQ, 50);
        let mut applied = 0;
        while !stop.load(Ordering::Relaxed) {
            store.ingest(&snap);
            for f in &frames {
                store.ingest(f);
            }
            applied += CHUNK as u64;
        }
        applied
    });
    (book, handle)
}

fn read_depth10(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_depth10");
    let stop = Arc::new(AtomicBool::new(false));
    let (reader, writer) = wirebook_writer(stop.clone());
    let mut snap = BookSnapshot::with_depth(10);
    g.bench_function("wirebook", |b| {
        b.iter(|| {
            reader.read_into(10, &mut snap);
            black_box(snap.seq)
        })
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let (book, writer) = baseline_writer(stop.clone());
    let mut out = Vec::with_capacity(20);
    g.bench_function("baseline", |b| {
        b.iter(|| black_box(base_read(&book, 10, &mut out)))
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    g.finish();
}

fn read_depth10_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_depth10_uncontended");
    let mut store = wirebook_store();
    let mut parser = FrameParser::new();
    store
        .ingest(&mut parser, &mut snapshot(BASE_SEQ, 50), NOW)
        .unwrap();
    let reader = store.reader(ID, "yes").unwrap();
    let mut snap = BookSnapshot::with_depth(10);
    g.bench_function("wirebook", |b| {
        b.iter(|| {
            reader.read_into(10, &mut snap);
            black_box(snap.seq)
        })
    });
    let mut base = BaseStore::default();
    base.ingest(&snapshot(BASE_SEQ, 50));
    let book = base.book(ID, "yes");
    let mut out = Vec::with_capacity(20);
    g.bench_function("baseline", |b| {
        b.iter(|| black_box(base_read(&book, 10, &mut out)))
    });
    g.finish();
}

/// Cost against the depth asked for, on a 100-level book.
fn read_depth(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_depth");
    let mut store = BookStore::new(StoreConfig {
        depth: 100,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    store
        .ingest(&mut parser, &mut snapshot(BASE_SEQ, 100), NOW)
        .unwrap();
    let reader = store.reader(ID, "yes").unwrap();
    let mut snap = BookSnapshot::with_depth(100);
    for depth in [1usize, 10, 50, 100] {
        g.bench_with_input(BenchmarkId::new("wirebook", depth), &depth, |b, &d| {
            b.iter(|| {
                reader.read_into(d, &mut snap);
                black_box(snap.seq)
            })
        });
    }
    g.finish();
}

/// The level container alone: the delta stream's changes, already parsed,
/// applied to wirebook's sorted arrays and to a pair of `BTreeMap`s.
fn book_update(c: &mut Criterion) {
    use std::collections::BTreeMap;
    use wirebook::{Book, Change, Frame, Level, Side};

    let mut parser = FrameParser::new();
    let mut changes: Vec<Change> = Vec::new();
    for mut f in delta_stream(BASE_SEQ, CHUNK) {
        if let Ok(Frame::Delta(d)) = parser.parse(&mut f) {
            changes.extend_from_slice(d.changes);
        }
    }
    let mut snap = snapshot(BASE_SEQ, 50);
    let (bids, asks): (Vec<Level>, Vec<Level>) = match parser.parse(&mut snap) {
        Ok(Frame::Book(b)) => (b.bids.to_vec(), b.asks.to_vec()),
        _ => unreachable!("the bench snapshot parses"),
    };
    let mut g = c.benchmark_group("book_update");
    g.bench_function("wirebook", |b| {
        let mut book = Book::new(64);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                book.replace(&bids, &asks).unwrap();
                let n = (iters - done).min(changes.len() as u64) as usize;
                let start = Instant::now();
                for pair in changes[..n].chunks(2) {
                    black_box(book.apply_changes(pair).is_ok());
                }
                total += start.elapsed();
                done += n as u64;
            }
            total
        })
    });
    g.bench_function("baseline", |b| {
        let mut sides: [BTreeMap<u32, u64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                sides[0] = bids
                    .iter()
                    .map(|l| (l.price.units(), l.size.units()))
                    .collect();
                sides[1] = asks
                    .iter()
                    .map(|l| (l.price.units(), l.size.units()))
                    .collect();
                let n = (iters - done).min(changes.len() as u64) as usize;
                let start = Instant::now();
                for ch in &changes[..n] {
                    let side = &mut sides[usize::from(ch.side == Side::Ask)];
                    if ch.size.is_zero() {
                        side.remove(&ch.price.units());
                    } else {
                        side.insert(ch.price.units(), ch.size.units());
                    }
                }
                black_box(&sides);
                total += start.elapsed();
                done += n as u64;
            }
            total
        })
    });
    g.finish();
}

fn config_criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// The delta hot path as the client runs it, with per-stage latency
/// recording off (one clock read a frame, for the store) and on (four clock
/// reads, the store's apply stamp, six histogram records).
fn latency_recording(c: &mut Criterion) {
    use wirebook::latency::LatencyRecorder;
    let mut g = c.benchmark_group("latency_recording");
    let frames = delta_stream(BASE_SEQ, CHUNK);
    for on in [false, true] {
        g.bench_function(if on { "on" } else { "off" }, |b| {
            b.iter_custom(|iters| {
                let mut store = timed_store(on);
                let mut parser = FrameParser::new();
                let mut latency = LatencyRecorder::new();
                let mut frames = frames.clone();
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let mut snap = snapshot(BASE_SEQ, 50);
                    store.ingest(&mut parser, &mut snap, NOW).unwrap();
                    let n = (iters - done).min(CHUNK as u64) as usize;
                    let start = Instant::now();
                    for f in &mut frames[..n] {
                        ingest_timed(&mut store, &mut parser, f, on.then_some(&mut latency));
                    }
                    total += start.elapsed();
                    done += n as u64;
                }
                black_box(latency.report());
                total
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = engine;
    config = config_criterion();
    targets = parse_delta, parse_snapshot, hot_path_delta, hot_path_snapshot,
        read_depth10, read_depth10_uncontended, read_depth, book_update, latency_recording
}
criterion_main!(engine);
