//! When a certificate is due for renewal, computed exactly as cert-manager's `RenewalTime`
//! (`pkg/util/pki/renewaltime.go`) does without ARI or renewal windows:
//!
//! 1. `renewBefore`, if `0 < renewBefore < actual lifetime`;
//! 2. else `renewBeforePercentage`, if in `(0, 100)`: renew when that share of the lifetime remains;
//! 3. else a third of the lifetime before `notAfter` (at two thirds of it).
//!
//! The actual lifetime is the issued certificate's `notAfter - notBefore`, not `spec.duration`:
//! issuers may shorten it. The result is truncated to the second, because it is stored in
//! `status.renewalTime` (a second-resolution timestamp) and compared again later; a sub-second
//! remainder would make the renewal check run just before its time and find nothing to do.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::CertificateSpec;
use crate::pki::duration::{DurationError, parse_duration};

/// A spec whose renewal settings cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenewalError {
    #[error("spec.renewBefore {value:?} is not a valid duration: {source}")]
    InvalidRenewBefore {
        value: String,
        #[source]
        source: DurationError,
    },
}

/// The renewal time of a certificate valid from `not_before` to `not_after`.
///
/// `renew_before` and `renew_before_percentage` are the Certificate's `spec.renewBefore` and
/// `spec.renewBeforePercentage`; values outside their usable ranges fall through to the next
/// rule, as in cert-manager.
pub fn renewal_time(
    not_before: Timestamp,
    not_after: Timestamp,
    renew_before: Option<Duration>,
    renew_before_percentage: Option<i32>,
) -> Timestamp {
    // Go's time.Duration arithmetic: int64 nanoseconds, saturating on subtraction.
    let lifetime = clamp_i64(not_after.as_nanosecond() - not_before.as_nanosecond());
    let renew_before_ns = match (renew_before, renew_before_percentage) {
        (Some(rb), _) if rb.as_nanos() > 0 && rb.as_nanos() < lifetime_u128(lifetime) => {
            rb.as_nanos() as i64
        }
        (_, Some(pct)) if pct > 0 && pct < 100 => {
            // cert-manager computes this in float64 (to avoid int64 overflow); so do we, to
            // round the same way.
            (lifetime as f64 * f64::from(pct) / 100.0) as i64
        }
        _ => lifetime / 3,
    };
    let renew_at = not_after.as_nanosecond() - i128::from(renew_before_ns);
    truncate_to_second(renew_at).unwrap_or(not_after)
}

/// [`renewal_time`] with the renewal settings of a Certificate spec.
pub fn renewal_time_for_spec(
    not_before: Timestamp,
    not_after: Timestamp,
    spec: &CertificateSpec,
) -> Result<Timestamp, RenewalError> {
    let renew_before = spec
        .renew_before
        .as_deref()
        .map(|value| {
            parse_duration(value).map_err(|source| RenewalError::InvalidRenewBefore {
                value: value.to_owned(),
                source,
            })
        })
        .transpose()?;
    Ok(renewal_time(
        not_before,
        not_after,
        renew_before,
        spec.renew_before_percentage,
    ))
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A negative lifetime is shorter than any renewBefore.
fn lifetime_u128(lifetime: i64) -> u128 {
    u128::try_from(lifetime).unwrap_or(0)
}

/// Rounds down to a whole second (Go's `Time.Truncate(time.Second)`).
fn truncate_to_second(nanos: i128) -> Option<Timestamp> {
    let seconds = nanos.div_euclid(1_000_000_000);
    Timestamp::from_second(i64::try_from(seconds).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const MIN: u64 = 60;
    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;

    /// (name, notBefore, notAfter, renewBefore, renewBeforePercentage, want)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Option<Duration>,
        Option<i32>,
        &'static str,
    );

    #[test]
    fn renewal_time_table() {
        let secs = Duration::from_secs;
        let table: &[Case] = &[
            (
                "default: a third of 90 days before expiry",
                "2026-01-01T00:00:00Z",
                "2026-04-01T00:00:00Z",
                None,
                None,
                "2026-03-02T00:00:00Z",
            ),
            (
                "default truncates to the second (1h/3 = 20m)",
                "2026-01-01T00:00:00Z",
                "2026-01-01T01:00:00Z",
                None,
                None,
                "2026-01-01T00:40:00Z",
            ),
            (
                "default on 100s: 33.333s before, truncated down",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:01:40Z",
                None,
                None,
                "2026-01-01T00:01:06Z",
            ),
            (
                "renewBefore within lifetime",
                "2026-01-01T00:00:00Z",
                "2026-04-01T00:00:00Z",
                Some(secs(30 * DAY)),
                None,
                "2026-03-02T00:00:00Z",
            ),
            (
                "renewBefore 5m",
                "2026-01-01T00:00:00Z",
                "2026-01-01T01:00:00Z",
                Some(secs(5 * MIN)),
                None,
                "2026-01-01T00:55:00Z",
            ),
            (
                "renewBefore equal to lifetime falls back to default",
                "2026-01-01T00:00:00Z",
                "2026-01-01T03:00:00Z",
                Some(secs(3 * HOUR)),
                None,
                "2026-01-01T02:00:00Z",
            ),
            (
                "renewBefore longer than lifetime falls back to default",
                "2026-01-01T00:00:00Z",
                "2026-01-01T03:00:00Z",
                Some(secs(30 * DAY)),
                None,
                "2026-01-01T02:00:00Z",
            ),
            (
                "renewBefore longer than lifetime falls back to the percentage",
                "2026-01-01T00:00:00Z",
                "2026-01-01T10:00:00Z",
                Some(secs(30 * DAY)),
                Some(10),
                "2026-01-01T09:00:00Z",
            ),
            (
                "renewBefore zero falls back to default",
                "2026-01-01T00:00:00Z",
                "2026-01-01T03:00:00Z",
                Some(Duration::ZERO),
                None,
                "2026-01-01T02:00:00Z",
            ),
            (
                "percentage: renew when 25% of the lifetime remains",
                "2026-01-01T00:00:00Z",
                "2026-01-05T00:00:00Z",
                None,
                Some(25),
                "2026-01-04T00:00:00Z",
            ),
            (
                "percentage 1",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:01:40Z",
                None,
                Some(1),
                "2026-01-01T00:01:39Z",
            ),
            (
                "percentage 99 on 100s, truncated",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:01:40Z",
                None,
                Some(99),
                "2026-01-01T00:00:01Z",
            ),
            (
                "percentage 0 falls back to default",
                "2026-01-01T00:00:00Z",
                "2026-01-01T03:00:00Z",
                None,
                Some(0),
                "2026-01-01T02:00:00Z",
            ),
            (
                "percentage 100 falls back to default",
                "2026-01-01T00:00:00Z",
                "2026-01-01T03:00:00Z",
                None,
                Some(100),
                "2026-01-01T02:00:00Z",
            ),
            (
                "negative percentage falls back to default",
                "2026-01-01T00:00:00Z",
                "2026-01-01T03:00:00Z",
                None,
                Some(-5),
                "2026-01-01T02:00:00Z",
            ),
            (
                "sub-second validity bounds are truncated",
                "2026-01-01T00:00:00.9Z",
                "2026-01-01T03:00:00.9Z",
                None,
                None,
                "2026-01-01T02:00:00Z",
            ),
            (
                "lifetime of the issued certificate, not spec.duration: 30 days",
                "2026-01-01T00:00:00Z",
                "2026-01-31T00:00:00Z",
                None,
                None,
                "2026-01-21T00:00:00Z",
            ),
            (
                "zero lifetime renews at notAfter",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                Some(secs(HOUR)),
                None,
                "2026-01-01T00:00:00Z",
            ),
        ];
        for &(name, nb, na, rb, pct, want) in table {
            assert_eq!(renewal_time(ts(nb), ts(na), rb, pct), ts(want), "{name}");
        }
    }

    #[test]
    fn percentage_on_a_long_lifetime_does_not_overflow() {
        // 250 years at 99% overflows int64 nanoseconds if multiplied before dividing.
        let nb = ts("2000-01-01T00:00:00Z");
        let na = ts("2250-01-01T00:00:00Z");
        let got = renewal_time(nb, na, None, Some(99));
        assert!(got > nb && got < ts("2003-01-01T00:00:00Z"), "{got}");
    }

    #[test]
    fn spec_helper_parses_renew_before() {
        let nb = ts("2026-01-01T00:00:00Z");
        let na = ts("2026-04-01T00:00:00Z");
        let mut spec = CertificateSpec {
            renew_before: Some("720h".into()),
            ..Default::default()
        };
        assert_eq!(
            renewal_time_for_spec(nb, na, &spec),
            Ok(ts("2026-03-02T00:00:00Z"))
        );
        spec.renew_before = None;
        spec.renew_before_percentage = Some(50);
        assert_eq!(
            renewal_time_for_spec(nb, na, &spec),
            Ok(ts("2026-02-15T00:00:00Z"))
        );
        spec.renew_before = Some("30d".into());
        let err = renewal_time_for_spec(nb, na, &spec).unwrap_err();
        assert!(
            err.to_string().contains("spec.renewBefore \"30d\""),
            "{err}"
        );
    }
}
