//! Pools compared side by side in time. On a shared two-core machine one pool's contended
//! throughput moves by 2-3× between runs a minute apart (how Tokio's workers and the kernel
//! share the cores), so a ranking from pools measured one after the other says little. Here
//! each round measures every contender of a row once, for a short period, in an order that
//! rotates from round to round, so that whatever drifts hits all of them alike; a row's
//! result is the median over the rounds of the per-round ratio, and how many rounds the first
//! contender (poolscope) was at least as fast.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::stats;

/// The median of one contender's per-round figures (there is at least one round).
fn median(mut values: Vec<f64>) -> f64 {
    stats::median(&mut values).expect("at least one round")
}

/// A pool in a row: its name and how to measure its rate (cycles per second) for a period.
pub struct Contender<'a> {
    pub name: &'static str,
    pub rate: Box<dyn Fn(Duration) -> f64 + 'a>,
}

impl<'a> Contender<'a> {
    pub fn new(name: &'static str, rate: impl Fn(Duration) -> f64 + 'a) -> Self {
        Contender {
            name,
            rate: Box::new(rate),
        }
    }
}

/// One scenario: what identifies it in the report (`labels`, a JSON object) and its
/// contenders, poolscope first (the ratios are to it).
pub struct Row<'a> {
    pub labels: Value,
    pub contenders: Vec<Contender<'a>>,
}

/// Runs one discarded warm-up round, then `rounds` rounds of every row, each contender for
/// `period`; returns one JSON object per row: its labels, each contender's median time per
/// cycle (`ns_per_cycle`), and for every other contender the median of the per-round ratio
/// first / other of the time per cycle (`ratio`, below 1: the first is faster) and the rounds
/// in which the first was at least as fast (`first_ahead`), and the lowest and highest
/// per-round ratio (`ratio_range`, the spread).
pub fn run(rows: &[Row<'_>], rounds: usize, period: Duration) -> Vec<Value> {
    let rounds = rounds.max(1);
    let mut rates: Vec<Vec<Vec<f64>>> = rows
        .iter()
        .map(|row| vec![Vec::with_capacity(rounds); row.contenders.len()])
        .collect();
    for round in 0..=rounds {
        for (row, row_rates) in rows.iter().zip(&mut rates) {
            let n = row.contenders.len();
            for turn in 0..n {
                let i = (round + turn) % n;
                let rate = (row.contenders[i].rate)(period);
                // Round 0 warms the pools and the machine up; it is not kept.
                if round > 0 {
                    row_rates[i].push(rate);
                }
            }
        }
    }
    rows.iter()
        .zip(&rates)
        .map(|(row, row_rates)| summary(row, row_rates))
        .collect()
}

/// [`run`] with `BENCH_ROUNDS` rounds of `BENCH_PERIOD_MS` each (else the defaults given),
/// one line per row printed, and the results written as `<target>/peer-benches/<name>.json`
/// with the rounds and the period, for `report.py`.
pub fn run_and_write(name: &str, rows: &[Row<'_>], rounds: usize, period_ms: u64) {
    let env_or = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env_or("BENCH_ROUNDS", rounds as u64) as usize;
    let period = Duration::from_millis(env_or("BENCH_PERIOD_MS", period_ms));
    let results = run(rows, rounds, period);
    for row in &results {
        println!(
            "{name} {}: time per cycle {}; ratio first / other {}, spread {}, rounds first ahead {} of {}",
            row["labels"],
            row["ns_per_cycle"],
            row["ratio"],
            row["ratio_range"],
            row["first_ahead"],
            row["rounds"]
        );
    }
    crate::report::write(
        name,
        &json!({"rounds": rounds, "period_ms": period.as_millis() as u64, "rows": results}),
    );
}

fn summary(row: &Row<'_>, rates: &[Vec<f64>]) -> Value {
    let mut ns = Map::new();
    let mut ratio = Map::new();
    let mut ahead = Map::new();
    let mut range = Map::new();
    for (contender, own) in row.contenders.iter().zip(rates) {
        let times: Vec<f64> = own.iter().map(|r| 1e9 / r).collect();
        ns.insert(contender.name.into(), json!(median(times)));
    }
    let first = &rates[0];
    for (contender, other) in row.contenders.iter().zip(rates).skip(1) {
        // Time ratio first / other = rate other / rate first, round by round.
        let per_round: Vec<f64> = other.iter().zip(first).map(|(o, f)| o / f).collect();
        let low = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let high = per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        range.insert(contender.name.into(), json!([low, high]));
        ratio.insert(contender.name.into(), json!(median(per_round)));
        let won = other.iter().zip(first).filter(|(o, f)| f >= o).count();
        ahead.insert(contender.name.into(), json!(won));
    }
    json!({
        "labels": row.labels,
        "rounds": first.len(),
        "ns_per_cycle": ns,
        "ratio": ratio,
        "first_ahead": ahead,
        "ratio_range": range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn ratios_are_first_over_other_in_time_and_rotation_reaches_everyone() {
        let calls = Cell::new(0);
        let rows = [Row {
            labels: json!({"case": "x"}),
            contenders: vec![
                // The first does 2 cycles per second (500 ms a cycle), the other 1.
                Contender::new("fast", |_| {
                    calls.set(calls.get() + 1);
                    2.0
                }),
                Contender::new("slow", |_| 1.0),
            ],
        }];
        let out = run(&rows, 3, Duration::ZERO);
        assert_eq!(calls.get(), 4, "a warm-up round and three measured");
        let row = &out[0];
        assert_eq!(row["rounds"], 3);
        assert_eq!(row["ns_per_cycle"]["fast"], 5e8);
        assert_eq!(row["ns_per_cycle"]["slow"], 1e9);
        assert_eq!(row["ratio"]["slow"], 0.5);
        assert_eq!(row["first_ahead"]["slow"], 3);
    }
}
