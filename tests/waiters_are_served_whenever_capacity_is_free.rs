//! A caller waiting for a connection is served as soon as an idle connection or free
//! capacity is there for it: it never sits out its `pool_timeout` while the pool could serve
//! it (SQLAlchemy's queue re-checks overflow after every wait), on both fronts.
mod common;

use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::Db;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Waits until `n` callers wait.
/// Starts a caller that checks out, holds the connection for `hold`, returns it, and says
/// how long its checkout took.
fn waiter(pool: &TestPool, hold: Duration) -> std::thread::JoinHandle<Result<Duration, String>> {
    let pool = pool.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        let conn = pool.get().map_err(|e| e.to_string())?;
        let took = started.elapsed();
        std::thread::sleep(hold);
        drop(conn);
        Ok(took)
    })
}

const MOMENT: Duration = Duration::from_millis(5);

fn served_quickly(waiter: std::thread::JoinHandle<Result<Duration, String>>, what: &str) {
    let took = waiter
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(took < TIMEOUT / 2, "{what} waited {took:?}");
}

/// Pool 1 + 0: one holder, one waiter; the holder returns its connection and `dispose()`
/// closes it at once. The capacity that frees is the waiter's.
fn dispose_serves_a_queued_waiter(front: Front) {
    for round in 0..10 {
        let db = Db::new();
        let pool = TestPool::build(front, &db, Opts::queue(1, 0, TIMEOUT));
        let held = pool.get().unwrap();
        let w = waiter(&pool, MOMENT);
        pool.until_waiting(1);
        drop(held);
        pool.dispose();
        served_quickly(w, &format!("round {round}: the waiter"));
        let status = pool.settled();
        assert!(
            status.checked_in <= 1 && status.checked_out == 0,
            "{status}"
        );
    }
}

/// Pool 1 + 1: two holders, two waiters; both holders return back to back. The first
/// return is kept idle, the second is closed as overflow: each must reach a waiter.
fn two_returns_back_to_back_serve_two_waiters(front: Front) {
    for round in 0..3 {
        let db = Db::new();
        let pool = TestPool::build(front, &db, Opts::queue(1, 1, TIMEOUT));
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        // Each waiter keeps what it gets: the other can only be served by the second return.
        let w1 = waiter(&pool, TIMEOUT);
        let w2 = waiter(&pool, TIMEOUT);
        pool.until_waiting(2);
        drop(a);
        drop(b);
        served_quickly(w1, &format!("round {round}: waiter 1"));
        served_quickly(w2, &format!("round {round}: waiter 2"));
        assert_eq!(pool.missed_wakeups(), 0);
    }
}

/// Pool 1 + 0: a holder invalidates its connection while a caller waits: the emptied slot
/// is the waiter's, to open a new connection in.
fn invalidation_serves_a_queued_waiter(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 0, TIMEOUT));
    let held = pool.get().unwrap();
    let w = waiter(&pool, MOMENT);
    pool.until_waiting(1);
    held.invalidate();
    served_quickly(w, "the waiter");
    assert_eq!(db.connects(), 2);
}

on_both_fronts!(
    dispose_serves_a_queued_waiter,
    two_returns_back_to_back_serve_two_waiters,
    invalidation_serves_a_queued_waiter,
);
