//! Exponential backoff with jitter, as gRPC's connection backoff
//! (<https://github.com/grpc/grpc/blob/master/doc/connection-backoff.md>), which gRFC A17 uses
//! for health-check retries.

use std::time::Duration;

/// How long to wait before each retry: `initial`, then `multiplier` times longer each time, up
/// to `max`, each wait spread by ± `jitter` of itself.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// How much longer each wait is than the one before.
    pub multiplier: f64,
    /// The share by which each wait is spread at random, each way.
    pub jitter: f64,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// gRPC's: 1 s, × 1.6, ± 20 %, at most 120 s.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// gRPC's backoff starting at `initial` (and at most 120 s).
    pub fn starting_at(initial: Duration) -> Self {
        Backoff {
            initial,
            ..Backoff::default()
        }
    }

    /// The wait before retry number `attempt` (1 for the first), jittered.
    pub(crate) fn wait(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = (self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent))
            .min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = 1.0 + jitter * (2.0 * fastrand::f64() - 1.0);
        Duration::try_from_secs_f64(base * spread).unwrap_or(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_multiplier_within_the_jitter_up_to_the_max() {
        let backoff = Backoff::default();
        for attempt in 1..=20 {
            let wait = backoff.wait(attempt).as_secs_f64();
            let base = (1.6f64.powi(attempt as i32 - 1)).min(120.0);
            assert!(
                wait >= base * 0.8 - 1e-9 && wait <= base * 1.2 + 1e-9,
                "{attempt}: {wait}"
            );
        }
        // With a multiplier of 1.6 and ± 20 %, each wait is longer than the one before.
        for attempt in 1..7 {
            assert!(backoff.wait(attempt + 1) > backoff.wait(attempt));
        }
    }
}
