//! `wirebook replay FILE`: a capture through the same parser and store.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use wirebook::capture::{CaptureError, CaptureReader};
use wirebook::latency::{LatencyRecorder, Stamps};
use wirebook::{
    clock, Applied, BookSnapshot, BookStore, Counters, Frame, FrameParser, StoreConfig,
};

use crate::json::book_line;

/// Slowest and fastest replay factors.
const MIN_FACTOR: f64 = 0.001;
const MAX_FACTOR: f64 = 1e6;

/// Longest wait for one frame: a longer silence in the capture (or a
/// corrupt time in it) is cut to this, so a replay never hangs for years.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as it goes.
    Max,
    /// The captured pace times a factor (`1x` is real time).
    Factor(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Speed, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.strip_suffix('x').and_then(|f| f.parse::<f64>().ok()) {
            Some(f) if (MIN_FACTOR..=MAX_FACTOR).contains(&f) => Ok(Speed::Factor(f)),
            _ => Err(format!(
                "{s:?}: expected max or a factor from {MIN_FACTOR}x to {MAX_FACTOR}x, such as 1x or 10x"
            )),
        }
    }
}

/// `{"counters":{...}}`.
pub fn counters_json(c: &Counters) -> String {
    let mut out = String::from("{\"counters\":{");
    let fields = [
        ("snapshots", c.snapshots),
        ("deltas", c.deltas),
        ("duplicates", c.duplicates),
        ("gaps", c.gaps),
        ("resyncs", c.resyncs),
        ("resync_retries", c.resync_retries),
        ("buffered", c.buffered),
        ("buffer_overflows", c.buffer_overflows),
        ("replayed", c.replayed),
        ("discarded", c.discarded),
        ("behind_after_replay", c.behind_after_replay),
        ("behind_accepted", c.behind_accepted),
        ("dropped_before_snapshot", c.dropped_before_snapshot),
        ("crossed", c.crossed),
        ("parse_errors", c.parse_errors),
        ("ignored", c.ignored),
        ("untracked", c.untracked),
        ("resync_required", c.resync_required),
        ("slow_reader", c.slow_reader),
        ("needs_refresh", c.needs_refresh),
    ];
    for (i, (name, v)) in fields.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(out, "{sep}\"{name}\":{v}");
    }
    out.push_str("}}");
    out
}

/// Replays `path`; book lines (with `json`) go to standard output as they change.
pub fn run(path: &std::path::Path, speed: Speed, json: bool, depth: usize) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = CaptureReader::new(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let depth = depth.clamp(1, wirebook::MAX_DEPTH);
    let mut store = BookStore::new(StoreConfig {
        stage_timing: true,
        depth,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    let mut latency = LatencyRecorder::new();
    let mut buf = Vec::new();
    let mut snap = BookSnapshot::with_depth(depth);
    let mut line = String::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut first_ns, started) = (None, Instant::now());
    // Captured silence cut by `MAX_WAIT`, taken off every later frame's due time.
    let mut skipped = Duration::ZERO;
    let mut next_poll = 0u64;
    let mut frames = 0u64;
    let mut truncated = None;
    for item in reader {
        let captured = match item {
            Ok(f) => f,
            Err(e @ CaptureError::Truncated { .. }) => {
                truncated = Some(e);
                break;
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        frames += 1;
        let t = captured.received_ns;
        let first = *first_ns.get_or_insert(t);
        if let Speed::Factor(f) = speed {
            let due = Duration::from_nanos(((t.saturating_sub(first)) as f64 / f) as u64)
                .saturating_sub(skipped);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                let cut = wait.saturating_sub(MAX_WAIT);
                skipped += cut;
                std::thread::sleep(wait - cut);
            }
        }
        // Staleness is judged on the captured clock, so a replay is deterministic.
        if t >= next_poll {
            store.poll(t);
            // Saturating: `t` is read from the file, which may hold anything.
            next_poll = t.saturating_add(100_000_000);
        }
        buf.clear();
        buf.extend_from_slice(&captured.payload);
        let read = clock::now_ns();
        let frame = match parser.parse(&mut buf) {
            Ok(frame) => frame,
            Err(e) => {
                store.record_parse_error(&e);
                continue;
            }
        };
        let parsed = clock::now_ns();
        let applied = store.apply(&frame, t);
        let published = clock::now_ns();
        let book = match &frame {
            Frame::Book(b) => Some(b.market),
            Frame::Delta(d) => Some(d.market),
            Frame::ResyncRequired(m) | Frame::SlowReader(m) => Some(*m),
            _ => None,
        };
        let Some(market) = book else {
            continue;
        };
        if matches!(frame, Frame::Book(_) | Frame::Delta(_)) {
            let stamps = Stamps::applied(read, parsed, store.applied_ns(), published);
            latency.record_frame(&frame, &stamps, t / 1_000_000);
        }
        if json && matches!(applied, Applied::Snapshot | Applied::Delta | Applied::Gap) {
            // A notice without an outcome is for every book of its market.
            let readers: Vec<_> = if market.outcome.is_empty() {
                store
                    .readers()
                    .filter(|r| r.parsec_id() == market.parsec_id)
                    .cloned()
                    .collect()
            } else {
                store
                    .reader(market.parsec_id, market.outcome)
                    .into_iter()
                    .collect()
            };
            for r in readers {
                r.read_into(depth, &mut snap);
                book_line(&mut line, r.parsec_id(), r.outcome(), &snap);
                if writeln!(out, "{line}").is_err() {
                    return Ok(());
                }
            }
        }
    }
    let counters = store.counters();
    let report = latency.report();
    if json {
        let _ = writeln!(out, "{}", counters_json(&counters));
        let _ = writeln!(out, "{{\"latency\":{}}}", report.to_json());
    } else {
        let _ = writeln!(
            out,
            "replayed {frames} frames from {} in {:.2}s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
        for r in store.readers() {
            r.read_into(5, &mut snap);
            let px = |l: Option<wirebook::Level>| {
                l.map_or("-".to_owned(), |l| format!("{} x {}", l.price, l.size))
            };
            let _ = writeln!(
                out,
                "  {} {}: {} seq {} bid {} ask {}",
                r.parsec_id(),
                r.outcome(),
                snap.state.as_str(),
                snap.seq,
                px(snap.best_bid()),
                px(snap.best_ask())
            );
        }
        let _ = writeln!(out, "{}", counters_json(&counters));
        let _ = writeln!(out, "latency by stage:");
        for l in crate::view::stages_text(&report) {
            let _ = writeln!(out, "  {l}");
        }
    }
    let _ = out.flush();
    if let Some(e) = truncated {
        eprintln!("wirebook: warning: {e}; replayed the {frames} frames before the cut");
    }
    Ok(())
}
