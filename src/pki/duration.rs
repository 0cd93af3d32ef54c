//! Go duration strings, as cert-manager accepts them in `spec.duration`, `spec.renewBefore` and
//! the `cert-manager.io/duration` / `renew-before` annotations: a sequence of decimal numbers,
//! each with an optional fraction and a unit (`2160h`, `90m`, `1h30m`, `1.5h`, `300ms`).
//! Units: `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`, `h`. There are no days.
//!
//! Parsing follows Go's `time.ParseDuration` (the parser behind cert-manager's
//! `metav1.Duration`), including its rounding of fractions and its range (at most
//! `2562047h47m16.854775807s`), except that negative durations are refused: no field that takes a
//! duration accepts one. Formatting follows Go's `time.Duration.String` (`2160h0m0s`).
//!
//! The type is [`std::time::Duration`] rather than `jiff::SignedDuration`: it cannot be negative,
//! which is exactly the rule above, so callers never re-check the sign, and `jiff::Timestamp`
//! arithmetic takes it as it is.

use std::time::Duration;

/// Largest duration Go's `time.Duration` (an `i64` of nanoseconds) holds.
pub const MAX: Duration = Duration::from_nanos(i64::MAX as u64);

/// Why a string is not a Go duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration: write a number with a unit, such as 2160h or 90m")]
    Empty,
    #[error("invalid duration {input:?}: negative durations are not allowed")]
    Negative { input: String },
    #[error(
        "invalid duration {input:?}: expected numbers each followed by a unit (ns, us, ms, s, m, h), such as 1h30m"
    )]
    Syntax { input: String },
    #[error("invalid duration {input:?}: a number lacks its unit (ns, us, ms, s, m or h)")]
    MissingUnit { input: String },
    #[error(
        "invalid duration {input:?}: unknown unit {unit:?} (use ns, us, ms, s, m or h; there is no unit for days: write 24h per day)"
    )]
    UnknownUnit { input: String, unit: String },
    #[error(
        "invalid duration {input:?}: longer than the largest duration, 2562047h47m16.854775807s"
    )]
    Overflow { input: String },
}

/// Nanoseconds per unit, as in Go's `unitMap`.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

const LIMIT: u64 = 1 << 63;

/// Parses a Go duration string. See the module documentation for the accepted syntax.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let syntax = || DurationError::Syntax {
        input: input.to_owned(),
    };
    let overflow = || DurationError::Overflow {
        input: input.to_owned(),
    };

    let mut s = input.as_bytes();
    let mut negative = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        negative = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(if input.is_empty() {
            DurationError::Empty
        } else {
            syntax()
        });
    }

    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(syntax());
        }
        // Integer part: overflow here is an error, as in Go.
        let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut whole: u64 = 0;
        for &c in &s[..digits] {
            if whole > LIMIT / 10 {
                return Err(overflow());
            }
            whole = whole * 10 + u64::from(c - b'0');
            if whole > LIMIT {
                return Err(overflow());
            }
        }
        s = &s[digits..];
        let had_whole = digits > 0;

        // Fraction: digits beyond what fits are dropped, as in Go.
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut had_fraction = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
            had_fraction = digits > 0;
            let mut full = false;
            for &c in &s[..digits] {
                if full {
                    continue;
                }
                if fraction > (LIMIT - 1) / 10 {
                    full = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(c - b'0');
                if next > LIMIT {
                    full = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            s = &s[digits..];
        }
        if !had_whole && !had_fraction {
            return Err(syntax());
        }

        // Unit: everything up to the next digit or '.'.
        let unit_len = s
            .iter()
            .take_while(|&&c| c != b'.' && !c.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit {
                input: input.to_owned(),
            });
        }
        let unit_bytes = &s[..unit_len];
        s = &s[unit_len..];
        let unit_str = String::from_utf8_lossy(unit_bytes);
        let unit = unit_nanos(&unit_str).ok_or_else(|| DurationError::UnknownUnit {
            input: input.to_owned(),
            unit: unit_str.clone().into_owned(),
        })?;

        if whole > LIMIT / unit {
            return Err(overflow());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            // Go computes the fraction in float64; so do we, to round the same way.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(overflow());
            }
        }
        total += value;
        if total > LIMIT {
            return Err(overflow());
        }
    }

    if total == 0 {
        // "-0s" is zero, not negative.
        return Ok(Duration::ZERO);
    }
    if negative {
        return Err(DurationError::Negative {
            input: input.to_owned(),
        });
    }
    if total > LIMIT - 1 {
        return Err(overflow());
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration as Go's `time.Duration.String` does: `2160h0m0s`, `1h30m0s`, `1.5s`,
/// `300ms`, `1.5µs`, `0s`. Durations above [`MAX`] are formatted all the same (Go cannot hold
/// them).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        // Below a second: the largest unit that keeps an integer part.
        let (unit, digits) = if nanos < 1_000 {
            ("ns", 0)
        } else if nanos < 1_000_000 {
            ("\u{b5}s", 3)
        } else {
            ("ms", 6)
        };
        return format!("{}{unit}", with_fraction(nanos, digits));
    }
    let seconds = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    let secs = with_fraction(s * 1_000_000_000 + sub, 9);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / 10^digits` in decimal, without trailing zeros in the fraction.
fn with_fraction(value: u128, digits: u32) -> String {
    let div = 10u128.pow(digits);
    let (whole, frac) = (value / div, value % div);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: u64 = 1;
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;

    #[test]
    fn parses_valid_durations() {
        // Expected values checked against Go 1.26's time.ParseDuration.
        let table: &[(&str, u64)] = &[
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("0s", 0),
            ("-0s", 0),
            ("2160h", 2160 * H),
            ("90m", 90 * M),
            ("1h30m", H + 30 * M),
            ("1h30m15s", H + 30 * M + 15 * S),
            ("1.5h", H + 30 * M),
            ("1.h", H),
            (".5h", 30 * M),
            ("300ms", 300 * MS),
            ("1.5s", 1500 * MS),
            ("10ns", 10 * NS),
            ("1us", US),
            ("1\u{b5}s", US),
            ("1\u{3bc}s", US),
            ("1.004ms", 1_004 * US),
            ("+5m", 5 * M),
            ("1h1h", 2 * H),
            ("1m0.5s", M + 500 * MS),
            ("720h", 720 * H),
            ("0.1ns", 0),
            ("1.0000000001s", S),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9223372036854775807ns", i64::MAX as u64),
            ("2562047h47m16.854775807s", i64::MAX as u64),
            ("9223372036.854775807s", i64::MAX as u64),
            (
                "0.100000000000000000000h",
                6 * M, // precision beyond u64 is dropped, not an error
            ),
        ];
        for &(input, want) in table {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_nanos(want)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_durations() {
        use DurationError::*;
        let s = |x: &str| x.to_owned();
        let table: &[(&str, DurationError)] = &[
            ("", Empty),
            ("+", Syntax { input: s("+") }),
            ("-", Syntax { input: s("-") }),
            ("h", Syntax { input: s("h") }),
            (".s", Syntax { input: s(".s") }),
            (
                "1h-5m",
                UnknownUnit {
                    input: s("1h-5m"),
                    unit: s("h-"),
                },
            ),
            (" 1h", Syntax { input: s(" 1h") }),
            ("1", MissingUnit { input: s("1") }),
            ("1h30", MissingUnit { input: s("1h30") }),
            (
                "90d",
                UnknownUnit {
                    input: s("90d"),
                    unit: s("d"),
                },
            ),
            (
                "1H",
                UnknownUnit {
                    input: s("1H"),
                    unit: s("H"),
                },
            ),
            (
                "1h ",
                UnknownUnit {
                    input: s("1h "),
                    unit: s("h "),
                },
            ),
            (
                "1 h",
                UnknownUnit {
                    input: s("1 h"),
                    unit: s(" h"),
                },
            ),
            (
                "1sec",
                UnknownUnit {
                    input: s("1sec"),
                    unit: s("sec"),
                },
            ),
            ("-1h", Negative { input: s("-1h") }),
            ("-1.5s", Negative { input: s("-1.5s") }),
            (
                "9223372036854775808ns",
                Overflow {
                    input: s("9223372036854775808ns"),
                },
            ),
            (
                "2562048h",
                Overflow {
                    input: s("2562048h"),
                },
            ),
            (
                "99999999999999999999h",
                Overflow {
                    input: s("99999999999999999999h"),
                },
            ),
            (
                "2562047h47m16.854775808s",
                Overflow {
                    input: s("2562047h47m16.854775808s"),
                },
            ),
        ];
        for (input, want) in table {
            assert_eq!(parse_duration(input).as_ref(), Err(want), "{input:?}");
        }
    }

    #[test]
    fn errors_say_what_to_write() {
        let err = parse_duration("90d").unwrap_err().to_string();
        assert!(err.contains("unknown unit \"d\""), "{err}");
        assert!(err.contains("24h"), "{err}");
        let err = parse_duration("-1h").unwrap_err().to_string();
        assert!(err.contains("negative"), "{err}");
    }

    #[test]
    fn formats_like_go() {
        // Expected strings checked against Go 1.26's time.Duration.String.
        let table: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (US, "1\u{b5}s"),
            (1_500, "1.5\u{b5}s"),
            (MS, "1ms"),
            (1_004 * US, "1.004ms"),
            (300 * MS, "300ms"),
            (S, "1s"),
            (1500 * MS, "1.5s"),
            (S + 1, "1.000000001s"),
            (59 * S, "59s"),
            (M, "1m0s"),
            (5 * M, "5m0s"),
            (M + 500 * MS, "1m0.5s"),
            (H, "1h0m0s"),
            (H + 30 * M, "1h30m0s"),
            (2160 * H, "2160h0m0s"),
            (i64::MAX as u64, "2562047h47m16.854775807s"),
        ];
        for &(nanos, want) in table {
            assert_eq!(
                format_duration(Duration::from_nanos(nanos)),
                want,
                "{nanos}"
            );
        }
    }

    #[test]
    fn round_trips() {
        for input in [
            "2160h",
            "1h30m",
            "1.5s",
            "300ms",
            "1.5\u{b5}s",
            "17ns",
            "45m10s",
        ] {
            let d = parse_duration(input).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{input}");
        }
    }
}
