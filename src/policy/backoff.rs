//! Retry backoff after failed issuances.
//!
//! cert-manager's trigger controller (`pkg/controller/certificates/trigger/trigger_controller.go`,
//! `shouldBackoffReissuingOnFailure`) waits `base * 2^(n-1)` after the last failure, where `n` is
//! `status.failedIssuanceAttempts`, capped at a maximum (1h and 32h there). certsmith starts at
//! 5 minutes, because a first retry an hour later is a known pain (cert-manager#7416), and keeps
//! the 32h cap. The rest is as in cert-manager: no `lastFailureTime` means no backoff; a missing or
//! non-positive attempt count waits `base`; the wait never falls below `base` nor rises above the
//! cap; the wait counts from `lastFailureTime`.

use std::time::Duration;

use jiff::Timestamp;

/// First retry delay by default.
pub const DEFAULT_BASE: Duration = Duration::from_secs(5 * 60);
/// Longest retry delay by default.
pub const DEFAULT_CAP: Duration = Duration::from_secs(32 * 60 * 60);

/// A backoff setting that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    #[error("the first retry delay must be longer than zero")]
    ZeroBase,
    #[error("the longest retry delay ({cap:?}) must not be shorter than the first ({base:?})")]
    CapBelowBase { base: Duration, cap: Duration },
}

/// Exponential backoff: `base * 2^(n-1)` after `n` failed attempts, at most `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: DEFAULT_BASE,
            cap: DEFAULT_CAP,
        }
    }
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Result<Self, BackoffError> {
        if base.is_zero() {
            return Err(BackoffError::ZeroBase);
        }
        if cap < base {
            return Err(BackoffError::CapBelowBase { base, cap });
        }
        Ok(Backoff { base, cap })
    }

    pub fn base(&self) -> Duration {
        self.base
    }

    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// How long to wait after the last failure, given `status.failedIssuanceAttempts`.
    pub fn delay(&self, failed_attempts: Option<i32>) -> Duration {
        let n = match failed_attempts {
            Some(n) if n > 0 => n,
            // Unknown (older status) or a hand-edited non-positive count: the first delay.
            _ => return self.base,
        };
        // 2^(n-1) overflows u32 from n = 33; any such delay is past the cap anyway.
        let factor = 1u32.checked_shl((n - 1) as u32).unwrap_or(u32::MAX);
        match self.base.checked_mul(factor) {
            Some(d) if d <= self.cap => d.max(self.base),
            _ => self.cap,
        }
    }

    /// When the next issuance may be tried, after a failure at `last_failure`.
    pub fn next_retry(&self, last_failure: Timestamp, failed_attempts: Option<i32>) -> Timestamp {
        let delay = self.delay(failed_attempts);
        last_failure
            .checked_add(delay)
            .unwrap_or(jiff::Timestamp::MAX)
    }

    /// `Some(next retry)` while issuance is backed off at `now`, `None` when it may go ahead.
    /// `last_failure` and `failed_attempts` are `status.lastFailureTime` and
    /// `status.failedIssuanceAttempts`.
    pub fn backed_off_until(
        &self,
        last_failure: Option<Timestamp>,
        failed_attempts: Option<i32>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let next = self.next_retry(last_failure?, failed_attempts);
        (now < next).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60;
    const HOUR: u64 = 3600;

    #[test]
    fn delay_table() {
        let b = Backoff::default();
        let table: &[(Option<i32>, u64)] = &[
            (None, 5 * MIN),
            (Some(-3), 5 * MIN),
            (Some(0), 5 * MIN),
            (Some(1), 5 * MIN),
            (Some(2), 10 * MIN),
            (Some(3), 20 * MIN),
            (Some(4), 40 * MIN),
            (Some(5), 80 * MIN),
            (Some(6), 160 * MIN),
            (Some(7), 320 * MIN),
            (Some(8), 640 * MIN),
            (Some(9), 1280 * MIN),
            // 2560 minutes is more than 32h.
            (Some(10), 32 * HOUR),
            (Some(11), 32 * HOUR),
            (Some(32), 32 * HOUR),
            (Some(33), 32 * HOUR),
            (Some(64), 32 * HOUR),
            (Some(i32::MAX), 32 * HOUR),
        ];
        for &(n, want) in table {
            assert_eq!(b.delay(n), Duration::from_secs(want), "n={n:?}");
        }
    }

    #[test]
    fn cert_manager_settings() {
        let b = Backoff::new(Duration::from_secs(HOUR), Duration::from_secs(32 * HOUR)).unwrap();
        let table: &[(i32, u64)] = &[(1, 1), (2, 2), (3, 4), (5, 16), (6, 32), (7, 32)];
        for &(n, hours) in table {
            assert_eq!(b.delay(Some(n)), Duration::from_secs(hours * HOUR), "n={n}");
        }
    }

    #[test]
    fn cap_equal_to_base() {
        let b = Backoff::new(Duration::from_secs(MIN), Duration::from_secs(MIN)).unwrap();
        for n in [None, Some(1), Some(2), Some(40)] {
            assert_eq!(b.delay(n), Duration::from_secs(MIN));
        }
    }

    #[test]
    fn invalid_settings() {
        assert_eq!(
            Backoff::new(Duration::ZERO, DEFAULT_CAP),
            Err(BackoffError::ZeroBase)
        );
        assert_eq!(
            Backoff::new(DEFAULT_CAP, DEFAULT_BASE),
            Err(BackoffError::CapBelowBase {
                base: DEFAULT_CAP,
                cap: DEFAULT_BASE
            })
        );
    }

    #[test]
    fn backed_off_until_table() {
        let b = Backoff::default();
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        let failed = ts("2026-05-01T10:00:00Z");
        // (lastFailureTime, failedIssuanceAttempts, now, want)
        type Case = (
            Option<Timestamp>,
            Option<i32>,
            &'static str,
            Option<&'static str>,
        );
        let table: &[Case] = &[
            (None, Some(3), "2026-05-01T10:00:00Z", None),
            (
                Some(failed),
                Some(1),
                "2026-05-01T10:00:00Z",
                Some("2026-05-01T10:05:00Z"),
            ),
            (
                Some(failed),
                Some(1),
                "2026-05-01T10:04:59Z",
                Some("2026-05-01T10:05:00Z"),
            ),
            // Exactly at the retry time: go ahead (cert-manager: elapsed >= delay).
            (Some(failed), Some(1), "2026-05-01T10:05:00Z", None),
            (Some(failed), Some(1), "2026-05-02T00:00:00Z", None),
            (
                Some(failed),
                Some(3),
                "2026-05-01T10:10:00Z",
                Some("2026-05-01T10:20:00Z"),
            ),
            (
                Some(failed),
                None,
                "2026-05-01T10:01:00Z",
                Some("2026-05-01T10:05:00Z"),
            ),
            (
                Some(failed),
                Some(20),
                "2026-05-02T17:59:59Z",
                Some("2026-05-02T18:00:00Z"),
            ),
            // A clock behind the failure time still waits for the full delay from it.
            (
                Some(failed),
                Some(1),
                "2026-05-01T09:00:00Z",
                Some("2026-05-01T10:05:00Z"),
            ),
        ];
        for &(last, n, now, want) in table {
            assert_eq!(
                b.backed_off_until(last, n, ts(now)),
                want.map(ts),
                "last={last:?} n={n:?} now={now}"
            );
        }
    }
}
