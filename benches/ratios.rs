//! Interleaved ratios: wirebook against the baseline, alternating in short
//! rounds so that the host's slow swings in speed hit both sides alike.
//!
//! Criterion (`benches/engine.rs`) measures each function for seconds at a
//! time; on a shared, noisy machine the baseline and wirebook may then run at
//! different clock speeds and their ratio drifts between runs. Here every round
//! times a batch of wirebook then a batch of the baseline, and the table shows
//! medians over the rounds and the median of the per-round ratios.
//!
//! Run: `cargo bench --bench ratios` (about 30 s).

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{
    base_read, delta, delta_stream, ingest_timed, median, per_op, snapshot, timed_store,
    wirebook_store, BaseFrame, BaseStore, Venue,
};
use wirebook::latency::LatencyRecorder;
use wirebook::{BookSnapshot, FrameParser};

const ROUNDS: usize = 41;
const BASE_SEQ: u64 = 1_000;
const ID: &str = "polymarket:0x1234abcd";

struct Row {
    group: &'static str,
    wirebook: f64,
    baseline: f64,
    ratio: f64,
}

fn interleave(
    group: &'static str,
    wirebook: impl FnMut() -> f64,
    baseline: impl FnMut() -> f64,
) -> Row {
    let (wirebook, baseline, ratio) = common::interleave(ROUNDS, wirebook, baseline);
    Row {
        group,
        wirebook,
        baseline,
        ratio,
    }
}

/// wirebook's parser against serde_json on one frame, `iters` parses a round.
fn parse_row(group: &'static str, frame: Vec<u8>, iters: usize) -> Row {
    let mut buf = frame;
    let copy = buf.clone();
    let mut parser = FrameParser::new();
    interleave(
        group,
        || {
            per_op(iters, || {
                black_box(parser.parse(black_box(&mut buf)).is_ok());
            })
        },
        || {
            per_op(iters, || {
                black_box(serde_json::from_slice::<BaseFrame>(black_box(&copy)).is_ok());
            })
        },
    )
}

fn main() {
    let mut rows = Vec::new();

    rows.push(parse_row(
        "parse_delta",
        delta(1235, (45, 900), (46, 0)),
        20_000,
    ));
    rows.push(parse_row("parse_snapshot", snapshot(BASE_SEQ, 50), 2_000));

    // hot_path_delta: each round applies the whole stream after a fresh snapshot.
    let (wirebook, baseline, ratio) = common::hot_path_delta(Venue::Polymarket, ROUNDS);
    rows.push(Row {
        group: "hot_path_delta",
        wirebook,
        baseline,
        ratio,
    });

    // hot_path_snapshot
    {
        let mut buf = snapshot(BASE_SEQ, 50);
        let copy = buf.clone();
        let mut store = wirebook_store();
        let mut parser = FrameParser::new();
        let mut base = BaseStore::default();
        rows.push(interleave(
            "hot_path_snapshot",
            || {
                per_op(2_000, || {
                    black_box(store.apply_message(&mut parser, &mut buf, 1).is_ok());
                })
            },
            || per_op(2_000, || base.ingest(black_box(&copy))),
        ));
    }

    // read_depth10_uncontended
    {
        let mut store = wirebook_store();
        let mut parser = FrameParser::new();
        store
            .ingest(&mut parser, &mut snapshot(BASE_SEQ, 50), 1)
            .unwrap();
        let reader = store.reader(ID, "yes").unwrap();
        let mut snap = BookSnapshot::with_depth(10);
        let mut base = BaseStore::default();
        base.ingest(&snapshot(BASE_SEQ, 50));
        let book = base.book(ID, "yes");
        let mut out = Vec::with_capacity(20);
        rows.push(interleave(
            "read_depth10_uncontended",
            || {
                per_op(100_000, || {
                    reader.read_into(10, &mut snap);
                    black_box(snap.seq);
                })
            },
            || {
                per_op(100_000, || {
                    black_box(base_read(&book, 10, &mut out));
                })
            },
        ));
    }

    println!(
        "{:<26} {:>12} {:>12} {:>8}",
        "group", "wirebook ns", "baseline ns", "ratio"
    );
    for r in &rows {
        println!(
            "{:<26} {:>12.1} {:>12.1} {:>7.1}x",
            r.group, r.wirebook, r.baseline, r.ratio
        );
    }

    // The cost of per-stage latency recording on the delta hot path, as the
    // client runs it: recording off (one clock read a frame, for the store)
    // against on (four clock reads and the recorder), interleaved like the rows.
    let frames = delta_stream(BASE_SEQ, 4096);
    let mut off = Recording::new(false, &frames);
    let mut on = Recording::new(true, &frames);
    let (mut t_off, mut t_on, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let a = off.round();
        let b = on.round();
        t_off.push(a);
        t_on.push(b);
        extra.push(b - a);
    }
    println!(
        "{:<26} {:>12.1} {:>12.1} {:>+7.1} ns a delta (recording off, on, added)",
        "latency_recording",
        median(&mut t_off),
        median(&mut t_on),
        median(&mut extra)
    );
}

/// The delta hot path with per-stage latency recording on or off.
struct Recording {
    on: bool,
    store: wirebook::BookStore,
    parser: FrameParser,
    latency: LatencyRecorder,
    frames: Vec<Vec<u8>>,
}

impl Recording {
    fn new(on: bool, frames: &[Vec<u8>]) -> Recording {
        Recording {
            on,
            store: timed_store(on),
            parser: FrameParser::new(),
            latency: LatencyRecorder::new(),
            frames: frames.to_vec(),
        }
    }

    /// The whole stream after a fresh snapshot: ns a delta.
    fn round(&mut self) -> f64 {
        self.store
            .ingest(&mut self.parser, &mut snapshot(BASE_SEQ, 50), 1)
            .unwrap();
        let start = Instant::now();
        for f in self.frames.iter_mut() {
            let latency = self.on.then_some(&mut self.latency);
            ingest_timed(&mut self.store, &mut self.parser, f, latency);
        }
        let ns = start.elapsed().as_nanos() as f64 / self.frames.len() as f64;
        black_box(self.latency.report());
        ns
    }
}
