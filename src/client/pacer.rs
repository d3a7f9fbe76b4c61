//! Pacing of control frames (PROTOCOL.md A2: subscribe, unsubscribe and
//! resync together at most 3 per second and connection).
//!
//! A token bucket holding one token, refilled at `rate` per second: with the
//! default 2.5/s, any one-second window holds at most 3 frames (one from the
//! full bucket and 2.5 refills), and a frame delayed on the way by up to
//! 0.2 s still cannot make a fourth. The rate is capped at 2.8/s: at 3/s
//! four frames fit in 0.999 s, so the least jitter on the way made a fourth
//! in the server's second (3001); at 2.8/s four frames span 1.07 s. After an
//! `error` 3001 the bucket is emptied and closed for a second.

use std::time::{Duration, Instant};

/// Most frames a second the pacer lets through, whatever is configured.
const MAX_RATE: f64 = 2.8;

/// A token bucket of capacity one.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    interval: Duration,
    /// When the next token is available.
    ready_at: Option<Instant>,
}

impl Pacer {
    /// A pacer of `rate` frames per second (clamped to 0.1 ..= 2.8).
    pub(crate) fn new(rate: f64) -> Pacer {
        let rate = if rate.is_nan() {
            2.5
        } else {
            rate.clamp(0.1, MAX_RATE)
        };
        Pacer {
            interval: Duration::from_secs_f64(1.0 / rate),
            ready_at: None,
        }
    }

    /// Takes the token if it is there.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        match self.ready_at {
            Some(t) if now < t => false,
            _ => {
                self.ready_at = Some(now + self.interval);
                true
            }
        }
    }

    /// When a token will be there (`None`: now).
    pub(crate) fn ready_at(&self, now: Instant) -> Option<Instant> {
        self.ready_at.filter(|&t| t > now)
    }

    /// The server said 3001: wait a full second more before the next frame.
    pub(crate) fn back_off(&mut self, now: Instant) {
        let until = now + Duration::from_secs(1) + self.interval;
        self.ready_at = Some(self.ready_at.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_one_second_window_holds_more_than_three_frames_even_with_jitter() {
        for rate in [2.5, 3.0, 10.0, 1.0] {
            let mut p = Pacer::new(rate);
            let start = Instant::now();
            let mut sent = Vec::new();
            // Someone asks every millisecond for five seconds.
            for ms in 0..5_000u64 {
                let now = start + Duration::from_millis(ms);
                if p.try_take(now) {
                    sent.push(now);
                }
            }
            // The first of four frames may arrive up to 50 ms late and the
            // last on time, so four sent within 1.05 s may land within one
            // second at the server.
            for (i, &t) in sent.iter().enumerate() {
                let in_window = sent[i..]
                    .iter()
                    .take_while(|&&u| u < t + Duration::from_millis(1_050))
                    .count();
                assert!(
                    in_window <= 3,
                    "rate {rate}: {in_window} frames in one second"
                );
            }
            assert!(
                sent.len() as f64 >= rate.min(MAX_RATE) * 5.0 - 1.0,
                "rate {rate}: the pacer lets frames through"
            );
        }
    }

    #[test]
    fn after_3001_nothing_goes_out_for_a_second() {
        let mut p = Pacer::new(2.5);
        let now = Instant::now();
        assert!(p.try_take(now));
        p.back_off(now);
        assert!(!p.try_take(now + Duration::from_millis(999)));
        assert!(p.try_take(now + Duration::from_millis(1_500)));
    }
}
