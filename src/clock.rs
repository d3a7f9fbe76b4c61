//! The engine's clock: monotonic nanoseconds since the first call in this
//! process, read from the TSC through `quanta` (about 8 ns a read here,
//! against 27 ns for `std::time::Instant::now`; the receive path stamps each
//! frame up to four times for per-stage latency). Where the TSC is unusable,
//! quanta falls back to the OS's monotonic clock.
//!
//! Books record the local time of their last applied frame with it, and
//! staleness (PROTOCOL.md A4.8) is judged against it, by `BookStore::poll` or
//! by a reader's `read_into_at`, so every side must use this one clock.

use std::sync::OnceLock;

struct EngineClock {
    clock: quanta::Clock,
    /// Raw reading at the first call.
    start: u64,
    /// Wall time (ns since the Unix epoch) at the first call.
    wall_start_ns: u64,
}

static CLOCK: OnceLock<EngineClock> = OnceLock::new();

fn engine() -> &'static EngineClock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        let wall_start_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        EngineClock {
            clock,
            start,
            wall_start_ns,
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

/// The wall time (ns since the Unix epoch) of an engine time: the wall clock
/// read once at the first call, advanced by the engine clock (so it never
/// jumps, and costs no second clock read per frame).
///
/// ```
/// let now = wirebook::clock::now_ns();
/// assert!(wirebook::clock::wall_ns(now) > 1_700_000_000_000_000_000);
/// ```
#[inline]
pub fn wall_ns(engine_ns: u64) -> u64 {
    engine().wall_start_ns.saturating_add(engine_ns)
}

/// Wall-clock milliseconds since the Unix epoch (the protocols' `ts_ms`).
///
/// ```
/// assert!(wirebook::clock::epoch_ms() > 1_700_000_000_000);
/// ```
pub fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
