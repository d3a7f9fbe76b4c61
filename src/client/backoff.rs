//! Reconnect delays: exponential with jitter (PROTOCOL.md A5, rule on closes).

use std::time::Duration;

/// Reconnect delays: `initial`, doubling per failed attempt, capped at `max`,
/// each shortened by a random part of up to `jitter` (0..=1) so that many
/// clients do not reconnect in step.
///
/// ```
/// use std::time::Duration;
/// use wirebook::client::Backoff;
/// let b = Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(30), jitter: 0.0 };
/// assert_eq!(b.delay(0, 0.5), Duration::from_secs(1));
/// assert_eq!(b.delay(3, 0.5), Duration::from_secs(8));
/// assert_eq!(b.delay(10, 0.5), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first reconnect.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Fraction of each delay that is random (0 = none).
    pub jitter: f64,
}

impl Default for Backoff {
    /// 1 s doubling to 30 s, up to a quarter of each delay random.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: 0.25,
        }
    }
}

impl Backoff {
    /// The delay before reconnect attempt `attempt` (0-based), given a
    /// uniform random `draw` in [0, 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wirebook::client::Backoff::default();
    /// let d = b.delay(1, 0.999);
    /// assert!(d <= Duration::from_secs(2) && d >= Duration::from_millis(1_500));
    /// ```
    pub fn delay(&self, attempt: u32, draw: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        base.mul_f64(1.0 - jitter * draw.clamp(0.0, 1.0))
    }
}
