//! Times for people: `in 89d 23h`, `5m ago`.

use jiff::{SignedDuration, Timestamp};

/// A duration in its two largest units: `89d 23h`, `3h 5m`, `42s`.
pub fn short_duration(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) if seconds == 0 => format!("{m}m"),
        (0, 0, m) => format!("{m}m {seconds}s"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// `at` relative to `now`: `in 3h 5m` or `3h 5m ago`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let d = at.duration_since(now);
    if d.is_negative() {
        format!("{} ago", short_duration(d))
    } else {
        format!("in {}", short_duration(d))
    }
}

/// `2026-11-21T16:54:50Z (in 3h 5m)`, seconds precision.
pub fn stamp(at: Timestamp, now: Timestamp) -> String {
    format!("{} ({})", seconds(at), relative(at, now))
}

/// RFC 3339 to the second.
pub fn seconds(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second())
        .unwrap_or(at)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table = [
            (0, "0s"),
            (42, "42s"),
            (300, "5m"),
            (301, "5m 1s"),
            (3600, "1h"),
            (3 * 3600 + 5 * 60 + 9, "3h 5m"),
            (86_400, "1d"),
            (89 * 86_400 + 23 * 3600 + 59, "89d 23h"),
            (-90, "1m 30s"),
        ];
        for (secs, want) in table {
            assert_eq!(short_duration(SignedDuration::from_secs(secs)), want);
        }
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-01-01T02:00:00.7Z".parse().unwrap();
        assert_eq!(relative(later, now), "in 2h");
        assert_eq!(relative(now, later), "2h ago");
        assert_eq!(stamp(later, now), "2026-01-01T02:00:00Z (in 2h)");
    }
}
