//! Per-stage latency of the receive path, recorded into HDR histograms
//! (`hdrhistogram`), cheap enough to leave on in production.
//!
//! Stages, each a difference of two stamps on the engine clock
//! ([`clock::now_ns`](crate::clock::now_ns), the TSC through `quanta`):
//!
//! - `parse`: message out of the socket → frame parsed;
//! - `apply`: parsed → book changed (just before publishing);
//! - `publish`: changed → published to readers through the seqlock;
//! - `total`: message out of the socket → published;
//!
//! and two wire-side clocks against the local receive time (epoch ms, so
//! subject to the clock offset between the venue, Parsec and this host):
//!
//! - `exchange_to_receive`: the frame's `exchange_ts_ms` → received;
//! - `ingest_to_receive`: the frame's `ingest_ts_ms` → received.
//!
//! Histograms keep two significant digits (values within 1 %) from 1 ns to
//! 60 s; recording allocates nothing.
//!
//! ```
//! use wirebook::latency::{LatencyRecorder, Stage, Stamps};
//! let mut rec = LatencyRecorder::new();
//! rec.record(&Stamps { read: 1_000, parsed: 1_150, applied: 1_200, published: 1_260 });
//! rec.record_wire(1_700_000_000_010, Some(1_700_000_000_000), Some(1_700_000_000_004));
//! let report = rec.report();
//! assert_eq!(report.get(Stage::Total).count, 1);
//! assert!(report.get(Stage::Parse).p50.as_nanos().abs_diff(150) <= 2);
//! assert!(report.get(Stage::IngestToReceive).p50.as_millis().abs_diff(6) <= 1);
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

/// A stage of the receive path, or a wire clock against the receive time.
///
/// ```
/// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
/// let mut rec = LatencyRecorder::new();
/// rec.record(&Stamps { read: 0, parsed: 100, applied: 130, published: 150 });
/// let report = rec.report();
/// assert!(report.get(Stage::Parse).p50.as_nanos().abs_diff(100) <= 1);
/// assert_eq!(report.get(Stage::ExchangeToReceive).count, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Socket → parsed.
    Parse,
    /// Parsed → book changed.
    Apply,
    /// Changed → published to readers.
    Publish,
    /// Socket → published.
    Total,
    /// `exchange_ts_ms` → received (wall clocks of two hosts).
    ExchangeToReceive,
    /// `ingest_ts_ms` → received (wall clocks of two hosts).
    IngestToReceive,
}

impl Stage {
    /// Every stage, in report order.
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage};
    /// let report = LatencyRecorder::new().report();
    /// for stage in Stage::ALL {
    ///     assert_eq!(report.get(stage).count, 0);
    /// }
    /// assert_eq!(Stage::ALL.map(Stage::name)[3], "total");
    /// ```
    pub const ALL: [Stage; 6] = [
        Stage::Parse,
        Stage::Apply,
        Stage::Publish,
        Stage::Total,
        Stage::ExchangeToReceive,
        Stage::IngestToReceive,
    ];

    /// Its name in reports and JSON.
    ///
    /// ```
    /// assert_eq!(wirebook::latency::Stage::IngestToReceive.name(), "ingest_to_receive");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Apply => "apply",
            Stage::Publish => "publish",
            Stage::Total => "total",
            Stage::ExchangeToReceive => "exchange_to_receive",
            Stage::IngestToReceive => "ingest_to_receive",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Engine-clock stamps (ns) of one frame's way through the receive path.
///
/// ```
/// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
/// let stamps = Stamps { read: 1_000, parsed: 1_100, applied: 1_120, published: 1_150 };
/// let mut rec = LatencyRecorder::new();
/// rec.record(&stamps);
/// assert!(rec.report().get(Stage::Total).max.as_nanos().abs_diff(150) <= 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    /// The message came out of the socket.
    pub read: u64,
    /// The frame was parsed.
    pub parsed: u64,
    /// The book was changed, before publishing.
    pub applied: u64,
    /// The book was published.
    pub published: u64,
}

impl Stamps {
    /// Stamps of a frame the store applied, given the store's apply stamp
    /// ([`BookStore::applied_ns`](crate::BookStore::applied_ns)): a frame that
    /// published nothing (a duplicate, say) left an older stamp, so its apply
    /// stage ends when it was published.
    ///
    /// ```
    /// let s = wirebook::latency::Stamps::applied(10, 20, 5, 40);
    /// assert_eq!((s.applied, s.published), (40, 40));
    /// ```
    #[inline]
    pub fn applied(read: u64, parsed: u64, store_applied_ns: u64, published: u64) -> Stamps {
        let applied = if store_applied_ns >= parsed {
            store_applied_ns
        } else {
            published
        };
        Stamps {
            read,
            parsed,
            applied,
            published,
        }
    }
}

/// Percentiles of one stage.
///
/// ```
/// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
/// let mut rec = LatencyRecorder::new();
/// for ns in [100, 110, 120, 130] {
///     rec.record(&Stamps { read: 0, parsed: ns, applied: ns, published: ns });
/// }
/// let parse = rec.report().get(Stage::Parse);
/// assert_eq!(parse.count, 4);
/// assert!(parse.p50 <= parse.p99 && parse.max.as_nanos().abs_diff(130) <= 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Largest.
    pub max: Duration,
}

impl LatencySummary {
    fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let q = |q: f64| Duration::from_nanos(h.value_at_quantile(q));
        LatencySummary {
            count: h.len(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: Duration::from_nanos(h.max()),
        }
    }
}

/// Percentiles of every stage.
///
/// ```
/// use wirebook::latency::{LatencyRecorder, Stage};
/// let mut rec = LatencyRecorder::new();
/// rec.record_wire(1_000, Some(1_005), Some(990)); // the venue's clock is 5 ms ahead
/// let report = rec.report();
/// assert_eq!((report.clock_skewed, report.get(Stage::IngestToReceive).count), (1, 1));
/// assert!(report.to_json().ends_with(r#""clock_skewed":1}"#));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencyReport {
    summaries: [LatencySummary; 6],
    /// Wire-clock differences that came out negative (the remote clock ahead of ours); not in the histograms.
    pub clock_skewed: u64,
}

impl LatencyReport {
    /// One stage's percentiles.
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage};
    /// let mut rec = LatencyRecorder::new();
    /// rec.record_wire(1_700_000_000_010, Some(1_700_000_000_000), None);
    /// let s = rec.report().get(Stage::ExchangeToReceive);
    /// assert_eq!(s.count, 1);
    /// assert!(s.p50.as_millis().abs_diff(10) <= 1);
    /// ```
    pub fn get(&self, stage: Stage) -> LatencySummary {
        self.summaries[stage.index()]
    }

    /// `{"parse":{"count":..,"p50_ns":..,...},...,"clock_skewed":..}`.
    ///
    /// ```
    /// let json = wirebook::latency::LatencyRecorder::new().report().to_json();
    /// assert!(json.starts_with(r#"{"parse":{"count":0,"p50_ns":0"#));
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for s in Stage::ALL {
            let l = self.get(s);
            let _ = write!(
                out,
                "\"{}\":{{\"count\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"max_ns\":{}}},",
                s.name(),
                l.count,
                l.p50.as_nanos(),
                l.p90.as_nanos(),
                l.p99.as_nanos(),
                l.p999.as_nanos(),
                l.max.as_nanos()
            );
        }
        let _ = write!(out, "\"clock_skewed\":{}}}", self.clock_skewed);
        out
    }
}

/// Six HDR histograms, one per [`Stage`].
///
/// Recording is exact but does not go into the histograms value by value
/// (about 65 instructions a record, four to six records a frame):
///
/// - the four engine-clock stages are counted first in a plain array indexed
///   by the value in ns (1 to 2,047 ns; larger values go straight in), a
///   bounds check and an increment;
/// - the two wire-clock stages are in whole milliseconds, so consecutive
///   frames mostly repeat their values: a repeat is counted in a pending run.
///
/// Both go into the histograms with their counts when the recorder is read
/// ([`report`](Self::report), [`add`](Self::add)), which gives the same
/// histograms as recording every value.
///
/// ```
/// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
/// let mut rec = LatencyRecorder::new();
/// for ns in [100, 200, 300] {
///     rec.record(&Stamps { read: 0, parsed: ns, applied: ns, published: ns });
/// }
/// let parse = rec.report().get(Stage::Parse);
/// assert_eq!(parse.count, 3);
/// assert!(parse.max.as_nanos().abs_diff(300) <= 3);
/// ```
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    hists: [Histogram<u64>; 6],
    clock_skewed: u64,
    /// Counts of the engine-clock stages' values below [`FRONT_NS`] not yet in
    /// their histograms: `front[stage * FRONT_NS + ns]`.
    front: Box<[u32]>,
    /// Whether `front` holds any count.
    front_used: bool,
    /// A value of each wire stage not yet in its histogram, and how many times.
    wire_runs: [WireRun; 2],
}

/// Values (ns) of the engine-clock stages counted in the recorder's plain
/// array before they go into the histograms: a frame's stages on the receive
/// path are tens to hundreds of ns (32 KiB for the four stages).
const FRONT_NS: usize = 2048;

/// The engine-clock stages, which are counted in the front array.
const CLOCK_STAGES: [Stage; 4] = [Stage::Parse, Stage::Apply, Stage::Publish, Stage::Total];

/// Adds the counts of `front` (laid out as `LatencyRecorder::front`) to `hists`.
fn record_front(hists: &mut [Histogram<u64>; 6], front: &[u32]) {
    for (stage, counts) in CLOCK_STAGES.iter().zip(front.chunks_exact(FRONT_NS)) {
        for (ns, &n) in counts.iter().enumerate() {
            if n != 0 {
                hists[stage.index()].saturating_record_n(ns as u64, u64::from(n));
            }
        }
    }
}

/// A value repeated `count` times, not yet recorded.
#[derive(Debug, Clone, Copy, Default)]
struct WireRun {
    value: u64,
    count: u64,
}

const WIRE_STAGES: [Stage; 2] = [Stage::ExchangeToReceive, Stage::IngestToReceive];

/// Records the pending `run` of wire stage `k` into its histogram.
fn record_wire_run(hists: &mut [Histogram<u64>; 6], k: usize, run: WireRun) {
    if run.count == 0 {
        return;
    }
    if let Some(stage) = WIRE_STAGES.get(k) {
        hists[stage.index()].saturating_record_n(run.value, run.count);
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

const NS_PER_MS: u64 = 1_000_000;

impl LatencyRecorder {
    /// Empty histograms (1 ns to 60 s, two significant digits).
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage};
    /// let rec = LatencyRecorder::new();
    /// assert!(rec.is_empty());
    /// assert_eq!(rec.report().get(Stage::Total).count, 0);
    /// ```
    pub fn new() -> LatencyRecorder {
        let h =
            || Histogram::new_with_bounds(1, 60_000_000_000, 2).expect("static bounds are valid");
        LatencyRecorder {
            hists: std::array::from_fn(|_| h()),
            clock_skewed: 0,
            front: vec![0; CLOCK_STAGES.len() * FRONT_NS].into_boxed_slice(),
            front_used: false,
            wire_runs: [WireRun::default(); 2],
        }
    }

    /// Counts `ns` for wire stage `k` of [`WIRE_STAGES`]: in the pending run
    /// if it repeats its value, else the run goes into the histogram first.
    #[inline]
    fn put_wire(&mut self, k: usize, ns: u64) {
        let ns = ns.max(1);
        let Some(run) = self.wire_runs.get_mut(k) else {
            return;
        };
        if run.value == ns {
            run.count += 1;
            return;
        }
        let done = std::mem::replace(
            run,
            WireRun {
                value: ns,
                count: 1,
            },
        );
        record_wire_run(&mut self.hists, k, done);
    }

    /// Records the pending wire runs and front counts into their histograms.
    fn flush(&mut self) {
        for (k, run) in self.wire_runs.iter_mut().enumerate() {
            record_wire_run(&mut self.hists, k, std::mem::take(run));
        }
        if self.front_used {
            record_front(&mut self.hists, &self.front);
            self.front.fill(0);
            self.front_used = false;
        }
    }

    /// Whether values are counted that are not in the histograms yet.
    fn has_pending(&self) -> bool {
        self.front_used || self.wire_runs.iter().any(|r| r.count > 0)
    }

    /// Counts `ns` for engine-clock stage `stage` (the clock stages come
    /// first in [`Stage`], so its index is also its place in the front
    /// array): there when it is small and its count has room, else in the
    /// histogram.
    #[inline(always)]
    fn put(&mut self, stage: Stage, ns: u64) {
        let ns = ns.max(1);
        if ns < FRONT_NS as u64 {
            if let Some(n) = self.front.get_mut(stage.index() * FRONT_NS + ns as usize) {
                if *n < u32::MAX {
                    *n += 1;
                    self.front_used = true;
                    return;
                }
            }
        }
        self.hists[stage.index()].saturating_record(ns);
    }

    /// Records one frame's stages.
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
    /// let mut rec = LatencyRecorder::new();
    /// rec.record(&Stamps { read: 1_000, parsed: 1_100, applied: 1_120, published: 1_150 });
    /// let r = rec.report();
    /// assert!(r.get(Stage::Apply).p50.as_nanos().abs_diff(20) <= 1);
    /// assert!(r.get(Stage::Total).p50.as_nanos().abs_diff(150) <= 1);
    /// ```
    #[inline]
    pub fn record(&mut self, s: &Stamps) {
        self.put(Stage::Parse, s.parsed.saturating_sub(s.read));
        self.put(Stage::Apply, s.applied.saturating_sub(s.parsed));
        self.put(Stage::Publish, s.published.saturating_sub(s.applied));
        self.put(Stage::Total, s.published.saturating_sub(s.read));
    }

    /// Records the frame's wire clocks against its local receive time (epoch ms).
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage};
    /// let mut rec = LatencyRecorder::new();
    /// rec.record_wire(1_000, Some(1_005), Some(990));
    /// let r = rec.report();
    /// assert_eq!((r.clock_skewed, r.get(Stage::ExchangeToReceive).count), (1, 0));
    /// assert_eq!(r.get(Stage::IngestToReceive).count, 1);
    /// ```
    #[inline]
    pub fn record_wire(
        &mut self,
        received_ms: u64,
        exchange_ts_ms: Option<u64>,
        ingest_ts_ms: Option<u64>,
    ) {
        for (k, ts) in [exchange_ts_ms, ingest_ts_ms].into_iter().enumerate() {
            match ts {
                Some(t) if t <= received_ms => {
                    self.put_wire(k, (received_ms - t).saturating_mul(NS_PER_MS))
                }
                Some(_) => self.clock_skewed += 1,
                None => {}
            }
        }
    }

    /// Records a parsed frame: its stages, and for `orderbook` and
    /// `orderbook_delta` its wire clocks against `received_ms` (epoch ms).
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
    /// let mut p = wirebook::FrameParser::new();
    /// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[],"server_seq":2,"exchange_ts_ms":1707044096100,"ingest_ts_ms":1707044096105}"#.to_vec();
    /// let frame = p.parse(&mut msg).unwrap();
    /// let mut rec = LatencyRecorder::new();
    /// rec.record_frame(&frame, &Stamps { read: 0, parsed: 100, applied: 120, published: 150 }, 1_707_044_096_110);
    /// assert_eq!(rec.report().get(Stage::IngestToReceive).count, 1);
    /// ```
    #[inline]
    pub fn record_frame(&mut self, frame: &crate::Frame<'_>, stamps: &Stamps, received_ms: u64) {
        self.record(stamps);
        let (exchange, ingest) = match frame {
            crate::Frame::Delta(d) => (d.exchange_ts_ms, d.ingest_ts_ms),
            crate::Frame::Book(b) => (b.exchange_ts_ms, b.ingest_ts_ms),
            _ => return,
        };
        self.record_wire(received_ms, exchange, ingest);
    }

    /// Adds another recorder's values (to merge a thread's into a shared one).
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
    /// let (mut total, mut thread) = (LatencyRecorder::new(), LatencyRecorder::new());
    /// thread.record(&Stamps { read: 0, parsed: 10, applied: 20, published: 30 });
    /// total.add(&thread);
    /// total.add(&thread);
    /// assert_eq!(total.report().get(Stage::Total).count, 2);
    /// ```
    pub fn add(&mut self, other: &LatencyRecorder) {
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            let _ = a.add(b);
        }
        for (k, run) in other.wire_runs.iter().enumerate() {
            record_wire_run(&mut self.hists, k, *run);
        }
        if other.front_used {
            record_front(&mut self.hists, &other.front);
        }
        self.clock_skewed += other.clock_skewed;
    }

    /// Forgets everything recorded.
    ///
    /// ```
    /// let mut rec = wirebook::latency::LatencyRecorder::new();
    /// rec.record_wire(1_000, Some(1_005), None);
    /// assert!(!rec.is_empty());
    /// rec.reset();
    /// assert!(rec.is_empty());
    /// ```
    pub fn reset(&mut self) {
        for h in &mut self.hists {
            h.reset();
        }
        self.wire_runs = [WireRun::default(); 2];
        if self.front_used {
            self.front.fill(0);
            self.front_used = false;
        }
        self.clock_skewed = 0;
    }

    /// Whether nothing was recorded.
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stamps};
    /// let mut rec = LatencyRecorder::new();
    /// assert!(rec.is_empty());
    /// rec.record(&Stamps::default());
    /// assert!(!rec.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.hists.iter().all(Histogram::is_empty) && !self.has_pending() && self.clock_skewed == 0
    }

    /// Percentiles of every stage.
    ///
    /// ```
    /// use wirebook::latency::{LatencyRecorder, Stage, Stamps};
    /// let mut rec = LatencyRecorder::new();
    /// rec.record(&Stamps { read: 0, parsed: 40, applied: 50, published: 60 });
    /// let report = rec.report();
    /// assert_eq!(report.get(Stage::Publish).count, 1);
    /// assert!(report.get(Stage::Total).max.as_nanos().abs_diff(60) <= 1);
    /// ```
    pub fn report(&self) -> LatencyReport {
        if self.has_pending() {
            // A recorder read while it records: a copy takes the pending counts.
            let mut flushed = self.clone();
            flushed.flush();
            return flushed.report();
        }
        LatencyReport {
            summaries: std::array::from_fn(|i| LatencySummary::of(&self.hists[i])),
            clock_skewed: self.clock_skewed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_the_differences_of_the_stamps() {
        let mut rec = LatencyRecorder::new();
        for i in 0..1000u64 {
            rec.record(&Stamps {
                read: 0,
                parsed: 100 + i,
                applied: 300 + i,
                published: 350 + i,
            });
        }
        let r = rec.report();
        let near =
            |d: Duration, ns: u64| d.as_nanos().abs_diff(u128::from(ns)) <= u128::from(ns / 50 + 1);
        assert!(
            near(r.get(Stage::Parse).p50, 600),
            "{:?}",
            r.get(Stage::Parse)
        );
        assert!(near(r.get(Stage::Apply).p50, 200));
        assert!(near(r.get(Stage::Publish).p50, 50));
        assert!(near(r.get(Stage::Total).max, 1349));
        assert_eq!(r.get(Stage::ExchangeToReceive).count, 0);
    }

    #[test]
    fn a_remote_clock_ahead_of_ours_is_counted_not_recorded() {
        let mut rec = LatencyRecorder::new();
        rec.record_wire(1_000, Some(1_005), Some(990));
        let r = rec.report();
        assert_eq!(
            (r.clock_skewed, r.get(Stage::ExchangeToReceive).count),
            (1, 0)
        );
        assert_eq!(r.get(Stage::IngestToReceive).count, 1);
        let mut total = LatencyRecorder::new();
        total.add(&rec);
        total.add(&rec);
        assert_eq!(total.report().clock_skewed, 2);
        total.reset();
        assert!(total.is_empty());
    }

    /// Engine-clock stages are counted in the front array first; whenever
    /// the recorder is read (report, add) it holds exactly what histograms
    /// fed every value hold, for values below and above the array's range,
    /// and a count at its limit sends further values straight in.
    #[test]
    fn front_counts_record_exactly_every_value() {
        let mut rec = LatencyRecorder::new();
        let mut plain: [Histogram<u64>; 4] = std::array::from_fn(|_| {
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap()
        });
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..50_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly small stages, some beyond the front array, a few zero.
            let read = 1_000_000 + i * 10_000;
            let parsed = read + x % 700;
            let applied = parsed + (x >> 16) % if i % 97 == 0 { 50_000 } else { 300 };
            let published = applied + (x >> 32) % 2_100;
            let stamps = Stamps {
                read,
                parsed,
                applied,
                published,
            };
            rec.record(&stamps);
            for (h, ns) in plain.iter_mut().zip([
                parsed - read,
                applied - parsed,
                published - applied,
                published - read,
            ]) {
                h.record(ns.max(1)).unwrap();
            }
            if i == 20_000 {
                // A count at its limit: the next value of that stage and ns
                // goes into the histogram directly.
                let at = rec.front.iter().position(|&n| n > 0).unwrap();
                let (stage, ns) = (at / FRONT_NS, at % FRONT_NS);
                rec.hists[CLOCK_STAGES[stage].index()].reset();
                rec.front.fill(0);
                rec.front[at] = u32::MAX - 1;
                rec.put(CLOCK_STAGES[stage], ns as u64);
                rec.put(CLOCK_STAGES[stage], ns as u64);
                assert_eq!(rec.front[at], u32::MAX);
                assert_eq!(rec.hists[CLOCK_STAGES[stage].index()].len(), 1);
                // Back to counting what `plain` holds.
                rec = LatencyRecorder::new();
                for h in &mut plain {
                    h.reset();
                }
            }
            if i % 9_973 == 0 {
                assert!(!rec.is_empty());
                let r = rec.report();
                let mut merged = LatencyRecorder::new();
                merged.add(&rec);
                assert!(!merged.front_used, "add records into the histograms");
                for (stage, h) in CLOCK_STAGES.iter().zip(&plain) {
                    assert_eq!(r.get(*stage), LatencySummary::of(h), "{stage:?} at {i}");
                    assert_eq!(merged.report().get(*stage), LatencySummary::of(h));
                }
            }
        }
        assert!(rec.front_used);
        rec.reset();
        assert!(rec.is_empty());
        assert!(rec.front.iter().all(|&n| n == 0));
    }

    /// Wire values are counted in runs of repeats; whenever the recorder is
    /// read (report, add, is_empty) it holds exactly what a histogram fed
    /// every value holds.
    #[test]
    fn wire_runs_record_exactly_every_value() {
        let mut rec = LatencyRecorder::new();
        let mut plain = [
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap(),
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap(),
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut received = 1_700_000_000_000u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Runs of repeats, changes, and now and then no clock at all.
            if x.is_multiple_of(7) {
                received += 1;
            }
            let exchange = (!x.is_multiple_of(11)).then(|| received - x % 3);
            let ingest = Some(received - (i / 500) % 2);
            rec.record_wire(received, exchange, ingest);
            for (h, ts) in plain.iter_mut().zip([exchange, ingest]) {
                if let Some(t) = ts {
                    h.record(((received - t) * NS_PER_MS).max(1)).unwrap();
                }
            }
            if i % 4_999 == 0 {
                assert!(!rec.is_empty());
                let r = rec.report();
                let mut merged = LatencyRecorder::new();
                merged.add(&rec);
                for (stage, h) in WIRE_STAGES.iter().zip(&plain) {
                    assert_eq!(r.get(*stage), LatencySummary::of(h), "{stage:?} at {i}");
                    assert_eq!(merged.report().get(*stage), LatencySummary::of(h));
                }
            }
        }
        let mut only_wire = LatencyRecorder::new();
        only_wire.record_wire(10, Some(9), None);
        assert!(!only_wire.is_empty());
        only_wire.reset();
        assert!(only_wire.is_empty());
    }
}
