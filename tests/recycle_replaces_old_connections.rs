//! SQLAlchemy checklist D: pool_recycle, on an injected clock, on both fronts.
mod common;

use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog};
use poolscope::{Error, ManualClock};

fn recycling(
    front: Front,
    db: &Db,
    clock: &ManualClock,
    recycle: Duration,
    opts: Opts,
) -> TestPool {
    TestPool::build(
        front,
        db,
        Opts {
            recycle: Some(recycle),
            clock: Some(clock.clone()),
            ..opts
        },
    )
}

/// D21 (`test_recycle`), plus the strict `>` of subtlety 5.3: at exactly the recycle age the
/// connection is kept; past it, replaced.
fn d21_recycle_replaces_connections_older_than_the_limit(front: Front) {
    let clock = ManualClock::new();
    let db = Db::new();
    let pool = recycling(
        front,
        &db,
        &clock,
        Duration::from_secs(30),
        Opts::queue(1, 10, Duration::from_secs(5)),
    );
    let first = pool.get().unwrap().id;
    clock.advance(Duration::from_secs(1));
    assert_eq!(pool.get().unwrap().id, first);
    clock.advance(Duration::from_secs(29));
    assert_eq!(
        pool.get().unwrap().id,
        first,
        "exactly 30 s old is not older than 30 s"
    );
    clock.advance(Duration::from_millis(500));
    let replaced = pool.get().unwrap();
    assert_ne!(replaced.id, first);
    assert_eq!(db.calls(first).last(), Some(&"close"));
}

/// An expired connection returned to the pool is pooled normally; the age counts from the
/// connect, not from last use.
fn d_recycle_age_counts_from_connect_not_last_use(front: Front) {
    let clock = ManualClock::new();
    let db = Db::new();
    let pool = recycling(
        front,
        &db,
        &clock,
        Duration::from_secs(10),
        Opts::queue(1, 10, Duration::from_secs(5)),
    );
    let conn = pool.get().unwrap();
    let id = conn.id;
    clock.advance(Duration::from_secs(11));
    drop(conn);
    assert_eq!(pool.status().checked_in, 1);
    assert_ne!(pool.get().unwrap().id, id);
}

/// D22 (`test_error_on_pooled_reconnect_cleanup_recycle`): a recycle whose reconnect fails
/// leaves no leaked slot; afterwards the pool works normally and does not hang.
fn d22_failed_reconnect_on_recycle_leaks_nothing(front: Front) {
    let clock = ManualClock::new();
    let db = Db::new();
    let pool = recycling(
        front,
        &db,
        &clock,
        Duration::from_secs(1),
        Opts::queue(1, 2, Duration::from_secs(2)).listener(EventLog::default()),
    );
    drop(pool.get().unwrap());
    clock.advance(Duration::from_millis(1500));
    db.stop();
    assert!(matches!(pool.get(), Err(Error::Connect(_))));
    assert_eq!((pool.status().overflow, pool.status().checked_out), (0, 0));
    db.start();
    let c1 = pool.get().unwrap();
    assert_eq!(pool.status().checked_in, 0, "c1 came from the pool's slot");
    let c2 = pool.get().unwrap();
    assert_eq!(pool.status().overflow, 1);
    let c3 = pool.get().unwrap();
    assert_eq!(pool.counts(), (1, 0, 2, 3));
    drop((c1, c2, c3));
    assert_eq!(pool.counts(), (1, 1, 0, 0));
}

on_both_fronts!(
    d21_recycle_replaces_connections_older_than_the_limit,
    d_recycle_age_counts_from_connect_not_last_use,
    d22_failed_reconnect_on_recycle_leaks_nothing,
);
