//! Percentiles of waits and the fairness of a run.

use std::time::Duration;

/// Wait percentiles over every checkout of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Waits {
    /// Checkouts measured.
    pub count: usize,
    /// Median wait.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Longest wait.
    pub max: Duration,
}

/// The nearest-rank percentiles of `waits` (sorted in place); `None` when empty.
pub fn waits(waits: &mut [Duration]) -> Option<Waits> {
    if waits.is_empty() {
        return None;
    }
    waits.sort_unstable();
    let rank = |p: f64| {
        let index = ((p * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1;
        waits[index]
    };
    Some(Waits {
        count: waits.len(),
        p50: rank(0.50),
        p99: rank(0.99),
        p999: rank(0.999),
        max: waits[waits.len() - 1],
    })
}

/// Jain's fairness index of what each worker got: 1.0 when all got the same, 1/n when one
/// got everything. `None` when nobody got anything.
pub fn jain(shares: &[u64]) -> Option<f64> {
    let sum: f64 = shares.iter().map(|&x| x as f64).sum();
    let squares: f64 = shares.iter().map(|&x| (x as f64) * (x as f64)).sum();
    (squares > 0.0).then(|| sum * sum / (shares.len() as f64 * squares))
}

/// The median of `values` (sorted in place); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut all: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        let w = waits(&mut all).unwrap();
        assert_eq!(w.count, 1000);
        assert_eq!(w.p50, Duration::from_micros(500));
        assert_eq!(w.p99, Duration::from_micros(990));
        assert_eq!(w.p999, Duration::from_micros(999));
        assert_eq!(w.max, Duration::from_micros(1000));
        assert_eq!(waits(&mut []), None);
    }

    #[test]
    fn jain_is_one_when_even_and_one_over_n_when_one_takes_all() {
        assert_eq!(jain(&[5, 5, 5, 5]), Some(1.0));
        assert_eq!(jain(&[8, 0, 0, 0]), Some(0.25));
        assert_eq!(jain(&[0, 0]), None);
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
