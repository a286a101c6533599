//! The echo_pool lines and the metrics are two consumers of one event stream: after a seeded
//! random run of checkouts, returns, failed resets, invalidations, soft invalidations,
//! timeouts, server restarts (pre-ping failures) and disposes, every decision the metrics
//! counted has its log line, and no line is without its count. The oracles are metrics-util's
//! DebuggingRecorder and a tracing layer that records every line, both installed globally so
//! that what a runtime's worker thread emits is seen too. Both fronts, from one body.
#![cfg(feature = "metrics")]
mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::pool_lines::PoolLines;
use common::pool_series::series;
use common::Db;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use poolscope::metric_names as m;
use poolscope::EchoPool;
use tracing_subscriber::layer::SubscriberExt;

struct Oracles {
    snapshotter: Snapshotter,
    lines: PoolLines,
}

fn oracles() -> &'static Oracles {
    static ORACLES: OnceLock<Oracles> = OnceLock::new();
    ORACLES.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
        let lines = PoolLines::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(lines.clone()))
            .expect("the only subscriber of this binary");
        Oracles { snapshotter, lines }
    })
}

/// One pool's counter: name, labels, value.
type Counter = (String, Vec<(String, String)>, u64);

/// The sum of a counter over its labels, for one pool.
fn counted(snapshot: &[Counter], name: &str) -> u64 {
    counted_where(snapshot, name, |_| true)
}

/// The sum of a counter over the label sets `with` accepts.
fn counted_where(
    snapshot: &[Counter],
    name: &str,
    with: impl Fn(&[(String, String)]) -> bool,
) -> u64 {
    snapshot
        .iter()
        .filter(|(n, labels, _)| n == name && with(labels))
        .map(|(.., v)| v)
        .sum()
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs the random scenario on `front` and returns (the pool's counters, its log lines).
fn run(front: Front, seed: u64) -> (Vec<Counter>, Vec<String>) {
    let oracles = oracles();
    let name = format!("one-stream-{front:?}-{seed}");
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            name: Some(name.clone()),
            echo: EchoPool::Debug,
            pre_ping: true,
            gauge_interval: Some(Duration::ZERO),
            ..Opts::queue(2, 1, Duration::from_millis(10))
        },
    );
    let mut rng = seed;
    let mut held = Vec::new();
    for _ in 0..300 {
        let pick = |rng: &mut u64, len: usize| (xorshift(rng) % len as u64) as usize;
        match xorshift(&mut rng) % 9 {
            0 | 1 => {
                if let Ok(conn) = pool.get() {
                    held.push(conn);
                }
            }
            2 | 3 if !held.is_empty() => {
                let i = pick(&mut rng, held.len());
                held.swap_remove(i).close();
            }
            4 if !held.is_empty() => {
                let i = pick(&mut rng, held.len());
                held.swap_remove(i).invalidate();
            }
            5 if !held.is_empty() => {
                let i = pick(&mut rng, held.len());
                let mut conn = held.swap_remove(i);
                conn.soft_invalidate();
                conn.close();
            }
            6 => db.fail_resets(xorshift(&mut rng) % 2 == 0),
            7 => db.restart(),
            8 => pool.dispose(),
            _ => {}
        }
    }
    db.fail_resets(false);
    for conn in held {
        conn.close();
    }
    pool.dispose();
    let counters = series(&oracles.snapshotter, &name)
        .into_iter()
        .filter_map(|(_, name, labels, value)| match value {
            DebugValue::Counter(n) => Some((name, labels, n)),
            _ => None,
        })
        .collect();
    let lines = oracles
        .lines
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.target == "poolscope::pool" && line.pool == name)
        .map(|line| line.message.clone())
        .collect();
    (counters, lines)
}

fn lines_that(lines: &[String], test: impl Fn(&str) -> bool) -> u64 {
    lines.iter().filter(|l| test(l)).count() as u64
}

#[test]
fn every_counted_decision_has_its_line_on_both_fronts() {
    let seed = std::env::var("POOLSCOPE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    for front in [Front::Blocking, Front::Async] {
        let (counters, lines) = run(front, seed);
        let context = format!("{front:?}, seed {seed} (POOLSCOPE_SEED={seed} repeats it)");
        let pairs: [(&str, u64, u64); 7] = [
            (
                "timeouts / Checkout failed",
                counted(&counters, m::TIMEOUTS),
                lines_that(&lines, |l| l.starts_with("Checkout failed")),
            ),
            (
                "invalidations / Invalidate connection",
                counted(&counters, m::INVALIDATIONS),
                lines_that(&lines, |l| l.starts_with("Invalidate connection")),
            ),
            (
                "recycles / recycling",
                counted(&counters, m::RECYCLES),
                lines_that(&lines, |l| l.ends_with("; recycling")),
            ),
            (
                "pre-ping failures / Disconnection detected",
                counted(&counters, m::PRE_PING_FAILURES),
                lines_that(&lines, |l| {
                    l.starts_with("Disconnection detected on checkout, invalidating all")
                }),
            ),
            (
                "closes / (Hard-)closing connection",
                counted(&counters, m::CLOSES),
                lines_that(&lines, |l| {
                    l.starts_with("Closing connection") || l.starts_with("Hard-closing connection")
                }),
            ),
            (
                "resets / -on-return",
                counted(&counters, m::RESETS),
                lines_that(&lines, |l| l.ends_with("-on-return")),
            ),
            (
                "resets that failed / Exception during reset",
                counted_where(&counters, m::RESETS, |labels| {
                    labels
                        .iter()
                        .any(|(k, v)| k == m::RESET_OUTCOME && v == "error")
                }),
                lines_that(&lines, |l| l == "Exception during reset or similar"),
            ),
        ];
        for (what, metric, logged) in pairs {
            assert_eq!(
                metric, logged,
                "{what}: counted {metric}, logged {logged} ({context})"
            );
        }
        assert!(
            counted(&counters, m::INVALIDATIONS) > 0 && counted(&counters, m::CLOSES) > 0,
            "the run decided little: {counters:?} ({context})"
        );
    }
}
