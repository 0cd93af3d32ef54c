//! Order statistics over a handful of measurements (pure).

/// The median: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    let v = sorted(values);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The `p`-th percentile (0 < p <= 100) by the nearest-rank method: the smallest value with at
/// least p % of the values at or below it. p99 of 1,000 latencies is the 990th smallest.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let v = sorted(values);
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

pub fn min(values: &[f64]) -> Option<f64> {
    values.iter().copied().reduce(f64::min)
}

pub fn max(values: &[f64]) -> Option<f64> {
    values.iter().copied().reduce(f64::max)
}

/// The highest rate between consecutive points of a cumulative counter `(seconds, count)`.
pub fn max_rate(points: &[(f64, u64)]) -> Option<f64> {
    points
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| w[1].1.saturating_sub(w[0].1) as f64 / (w[1].0 - w[0].0))
        .reduce(f64::max)
}

/// The mean rate of a counter from its first point to its last point at or before `until`.
pub fn window_rate(points: &[(f64, u64)], until: f64) -> Option<f64> {
    let first = points.first()?;
    let last = points.iter().rev().find(|p| p.0 <= until)?;
    (last.0 > first.0).then(|| last.1.saturating_sub(first.1) as f64 / (last.0 - first.0))
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_rate_of_a_counter_within_a_window() {
        type Points = &'static [(f64, u64)];
        let cases: [(Points, f64, Option<f64>); 4] = [
            (&[], 10.0, None),
            (&[(0.0, 5)], 10.0, None),
            (
                &[(0.0, 0), (1.0, 50), (2.0, 100), (3.0, 400)],
                2.5,
                Some(50.0),
            ),
            (&[(0.5, 10), (2.5, 110), (9.0, 999)], 3.0, Some(50.0)),
        ];
        for (points, until, want) in cases {
            assert_eq!(window_rate(points, until), want, "{points:?} until {until}");
        }
    }

    #[test]
    fn rates_of_a_counter() {
        type Points = &'static [(f64, u64)];
        let cases: [(Points, Option<f64>); 4] = [
            (&[], None),
            (&[(0.0, 5)], None),
            (&[(0.0, 0), (1.0, 10), (2.0, 40), (4.0, 60)], Some(30.0)),
            (&[(0.0, 0), (0.5, 10), (1.5, 12)], Some(20.0)),
        ];
        for (points, want) in cases {
            assert_eq!(max_rate(points), want, "{points:?}");
        }
    }

    #[test]
    fn order_statistics() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        struct Case {
            values: Vec<f64>,
            median: Option<f64>,
            p50: Option<f64>,
            p99: Option<f64>,
            min: Option<f64>,
            max: Option<f64>,
        }
        let cases = [
            Case {
                values: vec![],
                median: None,
                p50: None,
                p99: None,
                min: None,
                max: None,
            },
            Case {
                values: vec![7.0],
                median: Some(7.0),
                p50: Some(7.0),
                p99: Some(7.0),
                min: Some(7.0),
                max: Some(7.0),
            },
            Case {
                values: vec![3.0, 1.0, 2.0],
                median: Some(2.0),
                p50: Some(2.0),
                p99: Some(3.0),
                min: Some(1.0),
                max: Some(3.0),
            },
            Case {
                values: vec![4.0, 1.0, 3.0, 2.0],
                median: Some(2.5),
                p50: Some(2.0),
                p99: Some(4.0),
                min: Some(1.0),
                max: Some(4.0),
            },
            Case {
                values: hundred,
                median: Some(50.5),
                p50: Some(50.0),
                p99: Some(99.0),
                min: Some(1.0),
                max: Some(100.0),
            },
        ];
        for c in cases {
            assert_eq!(median(&c.values), c.median, "median of {:?}", c.values);
            assert_eq!(percentile(&c.values, 50.0), c.p50, "p50 of {:?}", c.values);
            assert_eq!(percentile(&c.values, 99.0), c.p99, "p99 of {:?}", c.values);
            assert_eq!(min(&c.values), c.min);
            assert_eq!(max(&c.values), c.max);
        }
    }
}
