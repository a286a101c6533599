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

/// A snapshot drains every counter of the recorder (not only one pool's), so the tests of
/// this binary take turns.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    observed(oracles, &name)
}

/// One pool's counters (drained from the recorder) and its log lines so far.
fn observed(oracles: &Oracles, pool: &str) -> (Vec<Counter>, Vec<String>) {
    let counters = series(&oracles.snapshotter, pool)
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
        .filter(|line| line.target == "poolscope::pool" && line.pool == pool)
        .map(|line| line.message.clone())
        .collect();
    (counters, lines)
}

fn lines_that(lines: &[String], test: impl Fn(&str) -> bool) -> u64 {
    lines.iter().filter(|l| test(l)).count() as u64
}

/// The seed of this run: `POOLSCOPE_SEED`, or the clock's.
fn seed() -> u64 {
    std::env::var("POOLSCOPE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// Every counted decision of one run has its line, and every line its count.
fn assert_each_count_has_its_lines(counters: &[Counter], lines: &[String], context: &str) {
    let pairs: [(&str, u64, u64); 7] = [
        (
            "timeouts / Checkout failed",
            counted(counters, m::TIMEOUTS),
            lines_that(lines, |l| l.starts_with("Checkout failed")),
        ),
        (
            "invalidations / Invalidate connection",
            counted(counters, m::INVALIDATIONS),
            lines_that(lines, |l| l.starts_with("Invalidate connection")),
        ),
        (
            "recycles / recycling",
            counted(counters, m::RECYCLES),
            lines_that(lines, |l| l.ends_with("; recycling")),
        ),
        (
            "pre-ping failures / Disconnection detected",
            counted(counters, m::PRE_PING_FAILURES),
            lines_that(lines, |l| {
                l.starts_with("Disconnection detected on checkout, invalidating all")
            }),
        ),
        (
            "closes / (Hard-)closing connection",
            counted(counters, m::CLOSES),
            lines_that(lines, |l| {
                l.starts_with("Closing connection") || l.starts_with("Hard-closing connection")
            }),
        ),
        (
            "resets / -on-return",
            counted(counters, m::RESETS),
            lines_that(lines, |l| l.ends_with("-on-return")),
        ),
        (
            "resets that failed / Exception during reset",
            counted_where(counters, m::RESETS, |labels| {
                labels
                    .iter()
                    .any(|(k, v)| k == m::RESET_OUTCOME && v == "error")
            }),
            lines_that(lines, |l| l == "Exception during reset or similar"),
        ),
    ];
    for (what, metric, logged) in pairs {
        assert_eq!(
            metric, logged,
            "{what}: counted {metric}, logged {logged} ({context})"
        );
    }
    for (what, name) in [
        ("invalidations", m::INVALIDATIONS),
        ("closes", m::CLOSES),
        ("resets", m::RESETS),
    ] {
        assert!(
            counted(counters, name) > 0,
            "the run had no {what}: {counters:?} ({context})"
        );
    }
}

#[test]
fn every_counted_decision_has_its_line_on_both_fronts() {
    let _turn = one_at_a_time();
    let seed = seed();
    for front in [Front::Blocking, Front::Async] {
        let (counters, lines) = run(front, seed);
        let context = format!("{front:?}, seed {seed} (POOLSCOPE_SEED={seed} repeats it)");
        assert_each_count_has_its_lines(&counters, &lines, &context);
    }
}

/// The hooks path (SeaORM's sqlx pool) emits into the same stream: driven here as sqlx drives
/// it, from a simulated pool of its own (idle connections with their ages, connections
/// handed out), with random pre-ping and reset failures.
#[test]
fn every_counted_decision_has_its_line_on_the_hooks_path() {
    use poolscope::hooks::{HooksBuilder, IdleCheck};
    let _turn = one_at_a_time();
    let seed = seed();
    let context = format!("hooks, seed {seed} (POOLSCOPE_SEED={seed} repeats it)");
    let oracles = oracles();
    let name = format!("one-stream-hooks-{seed}");
    let hooks = HooksBuilder::new()
        .pool_size(2)
        .max_overflow(1)
        .pre_ping(true)
        .pool_recycle(Duration::from_secs(60))
        .echo_pool(EchoPool::Debug)
        .gauge_interval(Duration::ZERO)
        .name(name.clone())
        .build()
        .unwrap();
    let max_open = hooks.max_open().unwrap();
    let failure = std::io::Error::other("server closed the connection");
    let mut rng = seed;
    // The other pool's idle connections, by age, and how many it has handed out.
    let mut idle: Vec<Duration> = Vec::new();
    let mut held = 0usize;
    for _ in 0..400 {
        match xorshift(&mut rng) % 6 {
            0 | 1 => {
                let acquire = hooks.start_acquire().unwrap();
                if let Some(age) = idle.pop() {
                    match hooks.idle_taken(age) {
                        IdleCheck::Use => hooks.handed_idle(Some(acquire)),
                        IdleCheck::Ping if xorshift(&mut rng) % 3 == 0 => {
                            // The ping failed: the other pool closes it and opens another.
                            hooks.ping_failed(&failure);
                            hooks.connected(Some(acquire));
                        }
                        IdleCheck::Ping => hooks.handed_idle(Some(acquire)),
                        // Replace (and any check added later): the other pool opens another.
                        _ => hooks.connected(Some(acquire)),
                    }
                    held += 1;
                } else if held < max_open {
                    hooks.connected(Some(acquire));
                    held += 1;
                } else {
                    let _ = acquire.timed_out();
                }
            }
            2 | 3 if held > 0 => {
                held -= 1;
                let keep = match hooks.returning() {
                    Some(action) if xorshift(&mut rng) % 3 == 0 => {
                        hooks.nothing_to_reset(action);
                        hooks.check_in()
                    }
                    Some(action) => {
                        let _span = hooks.reset_span(action);
                        if xorshift(&mut rng) % 4 == 0 {
                            hooks.reset_done(action, Err(&failure));
                            false
                        } else {
                            hooks.reset_done(action, Ok(()));
                            hooks.check_in()
                        }
                    }
                    None => hooks.check_in(),
                };
                if keep {
                    idle.push(Duration::from_secs(xorshift(&mut rng) % 90));
                }
            }
            4 if xorshift(&mut rng) % 8 == 0 => {
                hooks.disposed();
                idle.clear();
            }
            _ => {}
        }
    }
    let (counters, lines) = observed(oracles, &name);
    assert_each_count_has_its_lines(&counters, &lines, &context);
    assert!(
        counted(&counters, m::RECYCLES) > 0 && counted(&counters, m::PRE_PING_FAILURES) > 0,
        "the run had no recycle or no failed pre-ping: {counters:?} ({context})"
    );
}
