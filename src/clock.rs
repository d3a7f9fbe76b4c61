//! The engine's clock: monotonic nanoseconds since the first call in this
//! process, read from the TSC through `quanta` (about 8 ns a read here,
//! against 27 ns for `std::time::Instant::now`; the receive path stamps each
//! frame up to four times for per-stage latency). Where the TSC is unusable,
//! quanta falls back to the OS's monotonic clock.
//!
//! Books record the local time of their last applied frame with it, and
//! staleness (PROTOCOL.md A4.8) is judged against it, by `BookStore::poll` or
//! by a reader's `read_into_at`, so every side must use this one clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

struct EngineClock {
    clock: quanta::Clock,
    /// Raw reading at the first call.
    start: u64,
    /// Wall time (ns since the Unix epoch) minus engine time, as of the last
    /// re-anchoring (see [`wall_ns`]).
    wall_offset_ns: AtomicU64,
    /// Engine time at which the offset is next read again.
    reanchor_at_ns: AtomicU64,
}

/// How often [`wall_ns`] re-reads the wall clock. The engine clock's rate
/// is calibrated, not exact: here it ran 190 ppm slow against the system
/// clock, so a wall time anchored once fell 3.5 ms behind in 20 s (and the
/// wire-clock latency of frames stamped by a server on the same host went
/// negative). Re-anchoring every second keeps the error under ~0.2 ms.
const REANCHOR_NS: u64 = 1_000_000_000;

fn system_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

static CLOCK: OnceLock<EngineClock> = OnceLock::new();

fn engine() -> &'static EngineClock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        EngineClock {
            clock,
            start,
            wall_offset_ns: AtomicU64::new(system_ns()),
            reanchor_at_ns: AtomicU64::new(REANCHOR_NS),
        }
    })
}

/// Monotonic nanoseconds since the process first asked.
///
/// ```
/// let a = wirebook::clock::now_ns();
/// let b = wirebook::clock::now_ns();
/// assert!(b >= a);
/// ```
#[inline]
pub fn now_ns() -> u64 {
    let c = engine();
    c.clock.delta_as_nanos(c.start, c.clock.raw())
}

/// The wall time (ns since the Unix epoch) of an engine time: the engine
/// time plus an offset to the wall clock, which is read again once a second
/// (the engine clock's calibrated rate drifts from it by a few hundred ppm).
/// Between re-readings it costs no clock read; at one it may step by the
/// drift, or by a change of the system clock.
///
/// ```
/// let now = wirebook::clock::now_ns();
/// assert!(wirebook::clock::wall_ns(now) > 1_700_000_000_000_000_000);
/// ```
#[inline]
pub fn wall_ns(engine_ns: u64) -> u64 {
    let c = engine();
    if engine_ns >= c.reanchor_at_ns.load(Ordering::Relaxed) {
        reanchor(c);
    }
    c.wall_offset_ns
        .load(Ordering::Relaxed)
        .saturating_add(engine_ns)
}

#[cold]
fn reanchor(c: &EngineClock) {
    let now = c.clock.delta_as_nanos(c.start, c.clock.raw());
    c.wall_offset_ns
        .store(system_ns().saturating_sub(now), Ordering::Relaxed);
    c.reanchor_at_ns
        .store(now.saturating_add(REANCHOR_NS), Ordering::Relaxed);
}

/// Wall-clock milliseconds since the Unix epoch (the protocols' `ts_ms`).
///
/// ```
/// assert!(wirebook::clock::epoch_ms() > 1_700_000_000_000);
/// ```
pub fn epoch_ms() -> u64 {
    system_ns() / 1_000_000
}
