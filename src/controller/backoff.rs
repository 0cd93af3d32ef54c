//! Per-object retry delays after transient errors: 1 s, doubling, capped at 5 minutes; reset
//! by the next successful reconcile. ACME self-checks wait on their own, shorter schedule
//! (`ErrorBackoff::self_checks`). (Failed issuance has its own, persisted backoff in
//! `policy::backoff`.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Retry delays keyed by object (kind/namespace/name).
#[derive(Debug)]
pub struct ErrorBackoff {
    base: Duration,
    cap: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Default for ErrorBackoff {
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(300))
    }
}

impl ErrorBackoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The schedule of an ACME challenge's self-check while the solver is not visible yet:
    /// 250 ms, doubling, at most 5 s. A solver usually appears within a second or two; a
    /// 1 s doubling schedule checked at 1, 3, 7, 15 s and so added up to 8 s to an issuance
    /// whose solver was up at 3.1 s. Each check is one local HTTP GET or DNS query.
    pub fn self_checks() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(5))
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn next(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// A delay as a person reads it: `250ms`, `4s`.
pub fn describe(delay: Duration) -> String {
    if delay < Duration::from_secs(1) {
        format!("{}ms", delay.as_millis())
    } else {
        format!("{}s", delay.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_checks_start_fast_and_cap_at_five_seconds() {
        let b = ErrorBackoff::self_checks();
        let delays: Vec<String> = (0..7).map(|_| describe(b.next("c"))).collect();
        assert_eq!(delays, ["250ms", "500ms", "1s", "2s", "4s", "5s", "5s"]);
    }

    #[test]
    fn doubles_per_object_and_resets() {
        let b = ErrorBackoff::default();
        let delays: Vec<u64> = (0..11).map(|_| b.next("a").as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(b.next("b").as_secs(), 1, "objects back off independently");
        b.reset("a");
        assert_eq!(b.next("a").as_secs(), 1);
    }
}
