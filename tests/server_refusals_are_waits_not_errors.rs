//! The server's refusal for capacity is a wait, not an error, and failing connects never
//! storm the server, on both fronts, over a fake server with a connection budget shared by
//! several pools (the replicas of a service):
//!
//! - callers refused because the server is at its budget wait (within `pool_timeout`) for a
//!   connection returned to their pool or a later connect, and are all served; the server
//!   never holds more than its budget; with `wait_for_server_capacity(false)` (SQLAlchemy's
//!   behaviour) they get the connect error at once;
//! - while connects fail (the server down), a pool tries one connect at a time, backed off,
//!   and every caller that waited for it gets its error: a down server still fails fast;
//! - a timeout says what the server refused.
mod common;

use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use poolscope::Error;

const REPLICAS: usize = 3;
const BUDGET: usize = 4;
const WORKERS: usize = 4;
const ROUNDS: usize = 40;
const HOLD: Duration = Duration::from_millis(3);

/// What one replica's callers saw.
#[derive(Default, Debug)]
struct Seen {
    served: usize,
    errors: Vec<String>,
    waits: Vec<Duration>,
}

impl Seen {
    fn p99(&self) -> Duration {
        let mut waits = self.waits.clone();
        waits.sort();
        waits
            .get(waits.len().saturating_sub(1) * 99 / 100)
            .copied()
            .unwrap_or_default()
    }
}

/// Three replicas of 1 + 3 over one server admitting 4, four callers each.
fn replicas_over_one_budget(front: Front, wait: bool) -> (Db, Vec<Seen>) {
    let db = Db::new();
    db.set_budget(BUDGET);
    let pools: Vec<TestPool> = (0..REPLICAS)
        .map(|_| {
            TestPool::build(
                front,
                &db,
                Opts {
                    wait_for_server_capacity: Some(wait),
                    ..Opts::queue(1, 3, Duration::from_secs(10))
                },
            )
        })
        .collect();
    let seen = std::thread::scope(|s| {
        let replicas: Vec<_> = pools
            .iter()
            .map(|pool| {
                let callers: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        s.spawn(move || {
                            let mut seen = Seen::default();
                            for _ in 0..ROUNDS {
                                let asked = Instant::now();
                                match pool.get() {
                                    Ok(conn) => {
                                        seen.waits.push(asked.elapsed());
                                        seen.served += 1;
                                        std::thread::sleep(HOLD);
                                        drop(conn);
                                    }
                                    Err(e) => seen.errors.push(e.to_string()),
                                }
                            }
                            seen
                        })
                    })
                    .collect();
                callers
            })
            .collect();
        replicas
            .into_iter()
            .map(|callers| {
                callers.into_iter().map(|c| c.join().unwrap()).fold(
                    Seen::default(),
                    |mut all, one| {
                        all.served += one.served;
                        all.errors.extend(one.errors);
                        all.waits.extend(one.waits);
                        all
                    },
                )
            })
            .collect::<Vec<Seen>>()
    });
    for pool in &pools {
        let status = pool.settled();
        assert_eq!(status.checked_out, 0, "{status}");
    }
    (db, seen)
}

fn refused_callers_wait_and_are_all_served(front: Front) {
    let (db, seen) = replicas_over_one_budget(front, true);
    let total: usize = seen.iter().map(|s| s.served).sum();
    for (i, replica) in seen.iter().enumerate() {
        eprintln!(
            "{front:?} replica {i}: {} served ({:.0}% of all), p99 wait {:?}, {} errors",
            replica.served,
            100.0 * replica.served as f64 / total as f64,
            replica.p99(),
            replica.errors.len()
        );
    }
    for (i, replica) in seen.iter().enumerate() {
        assert!(
            replica.errors.is_empty(),
            "replica {i}: {} errors, the first: {}",
            replica.errors.len(),
            replica.errors[0]
        );
        assert_eq!(replica.served, WORKERS * ROUNDS, "replica {i}");
    }
    assert!(
        db.peak_live() <= BUDGET,
        "{} live at once, budget {BUDGET}",
        db.peak_live()
    );
    assert!(
        db.attempts() > db.connects(),
        "the test proves nothing: the server never refused ({} connects)",
        db.connects()
    );
}

fn with_sqlalchemys_behaviour_a_refusal_fails_at_once(front: Front) {
    let (db, seen) = replicas_over_one_budget(front, false);
    let errors: Vec<&String> = seen.iter().flat_map(|s| &s.errors).collect();
    assert!(!errors.is_empty(), "no caller was refused");
    for error in &errors {
        assert!(
            error.starts_with("could not open a connection"),
            "the connect error, not a timeout: {error}"
        );
    }
    assert!(db.peak_live() <= BUDGET);
}

fn a_down_server_is_tried_one_connect_at_a_time(front: Front) {
    let db = Db::new();
    // Connections opened before the outage: their pre-pings find them dead, and their slots,
    // emptied, are connected again only one at a time too.
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            pre_ping: true,
            ..Opts::queue(2, 4, Duration::from_secs(10))
        },
    );
    pool.prefill(2).unwrap();
    db.stop();
    let before = db.attempts();
    let outage = Duration::from_secs(1);
    let until = Instant::now() + outage;
    let calls = std::thread::scope(|s| {
        let callers: Vec<_> = (0..6)
            .map(|_| {
                let pool = &pool;
                s.spawn(move || {
                    let mut calls = 0;
                    while Instant::now() < until {
                        let asked = Instant::now();
                        let got = pool.get();
                        let took = asked.elapsed();
                        match got {
                            Err(Error::Connect(_) | Error::ConnectFailed(_)) => {}
                            other => panic!("{front:?}: {:?}", other.map(drop)),
                        }
                        // Fails fast: at most the longest back-off, plus a busy machine.
                        assert!(took < Duration::from_secs(2), "{front:?}: {took:?}");
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();
        callers
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>()
    });
    let attempts = db.attempts() - before;
    eprintln!("{front:?}: {calls} failed calls in {outage:?} cost {attempts} connect attempts");
    // 5 ms doubling to 500 ms: about 8 in a second; every caller tried each time before.
    assert!(
        attempts <= 20,
        "{front:?}: {attempts} connect attempts in {outage:?}"
    );
    assert!(
        calls >= attempts,
        "{front:?}: {calls} calls, {attempts} attempts"
    );
    db.start();
    let asked = Instant::now();
    drop(pool.get().expect("the server is back"));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
}

fn a_timeout_says_what_the_server_refused(front: Front) {
    let db = Db::new();
    db.set_budget(1);
    let other = TestPool::build(front, &db, Opts::queue(1, 0, Duration::from_secs(5)));
    let held = other.get().unwrap();
    let pool = TestPool::build(front, &db, Opts::queue(1, 0, Duration::from_millis(300)));
    let err = pool
        .get()
        .err()
        .expect("the server admits one, and it is held");
    let text = err.to_string();
    assert!(matches!(err, Error::Timeout(_)), "{text}");
    assert!(
        text.starts_with("QueuePool limit of size 1 overflow -1 reached, connection timed out")
            && text.contains("timeout 0.30; the server refused ")
            && text.contains("too many clients already"),
        "{text}"
    );
    let Error::Timeout(timeout) = &err else {
        unreachable!()
    };
    let (count, last) = timeout.server_refused().expect("refusals counted");
    assert!(count >= 1, "{count}");
    assert!(
        last.to_string().contains("too many clients already"),
        "{last}"
    );
    // The other pool lets go of its connection (and closes it): the next checkout is served.
    drop(held);
    other.dispose();
    drop(pool.get().expect("served once the other lets go"));
}

on_both_fronts!(
    refused_callers_wait_and_are_all_served,
    with_sqlalchemys_behaviour_a_refusal_fails_at_once,
    a_down_server_is_tried_one_connect_at_a_time,
    a_timeout_says_what_the_server_refused,
);
