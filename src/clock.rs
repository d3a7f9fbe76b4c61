//! The engine's clock: monotonic nanoseconds since the first call in this process.
//!
//! Books record the local time of their last applied frame with it, and
//! staleness (PROTOCOL.md A4.8) is judged against it, by `BookStore::poll` or
//! by a reader's `read_into_at`, so every side must use this one clock.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since the process first asked (never 0 after the first call).
///
/// ```
/// let a = wirebook::clock::now_ns();
/// let b = wirebook::clock::now_ns();
/// assert!(b >= a);
/// ```
#[inline]
pub fn now_ns() -> u64 {
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
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
