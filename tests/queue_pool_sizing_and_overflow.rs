//! SQLAlchemy checklist A: QueuePool sizing and overflow accounting, on both fronts.
mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use poolscope::{Error, PoolClass};

fn queue(front: Front, db: &Db, pool_size: usize, max_overflow: i64) -> TestPool {
    TestPool::build(
        front,
        db,
        Opts::queue(pool_size, max_overflow, Duration::from_secs(30)),
    )
}

/// A1–A2 (`test_queuepool_close`): overflow grows per checkout; returns fill the idle queue
/// first, then close the rest, shrinking overflow.
fn a1_a2_checkouts_grow_overflow_and_returns_fill_then_close(front: Front) {
    let db = Db::new();
    let pool = queue(front, &db, 3, -1);
    let mut held = Vec::new();
    let expected = [
        (3, 0, -2, 1),
        (3, 0, -1, 2),
        (3, 0, 0, 3),
        (3, 0, 1, 4),
        (3, 0, 2, 5),
        (3, 0, 3, 6),
    ];
    for want in expected {
        held.push(pool.get().unwrap());
        assert_eq!(pool.counts(), want);
    }
    let later = held.split_off(3);
    drop(held);
    assert_eq!(pool.counts(), (3, 3, 3, 3));
    assert_eq!(db.closes(), 0);
    drop(later);
    assert_eq!(pool.counts(), (3, 3, 0, 0));
    assert_eq!(db.closes(), 3);
    let c1 = pool.get().unwrap();
    let _c2 = pool.get().unwrap();
    assert_eq!(pool.counts(), (3, 1, 0, 2));
    drop(c1);
    assert_eq!(pool.counts(), (3, 2, 0, 1));
}

/// A3 (`test_queuepool_del`): returning by `Drop` and by `close()` give the same sequence.
/// (On the async pool `close()` awaits the reset and `Drop` polls it, spawning a task when
/// it must wait: with a reset that awaits, every return is settled before its counts are
/// taken.)
fn a3_drop_and_close_return_alike(front: Front) {
    let run = |explicit: bool, reset_awaits: bool| {
        let db = Db::new();
        let pool = TestPool::build(
            front,
            &db,
            Opts {
                reset_awaits,
                ..Opts::queue(3, -1, Duration::from_secs(30))
            },
        );
        let mut seen = Vec::new();
        let held: Vec<_> = (0..6).map(|_| pool.get().unwrap()).collect();
        for conn in held {
            if explicit {
                conn.close();
            } else {
                drop(conn);
            }
            pool.until_checked_out(6 - seen.len() - 1);
            seen.push((pool.counts(), db.closes()));
        }
        seen
    };
    for reset_awaits in [false, true] {
        assert_eq!(
            run(true, reset_awaits),
            run(false, reset_awaits),
            "{reset_awaits}"
        );
    }
}

/// A4 (`test_overflow_no_gc`, with the counts its collapsed set literal meant): pool_size 2,
/// max_overflow 2, "check out 4, return 4" five times opens 12 connections, closes 10 exactly
/// once and never closes 2.
fn a4_overflow_churn_opens_twelve_closes_ten_each_once(front: Front) {
    let db = Db::new();
    let pool = queue(front, &db, 2, 2);
    for _ in 0..5 {
        let held: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
        drop(held);
    }
    assert_eq!(db.connects(), 12);
    assert_eq!(db.closes(), 10);
    let closed_once = (1..=12)
        .filter(|id| db.calls(*id).iter().filter(|c| **c == "close").count() == 1)
        .count();
    let never_closed = (1..=12)
        .filter(|id| !db.calls(*id).contains(&"close"))
        .count();
    assert_eq!((closed_once, never_closed), (10, 2));
}

/// A5 (`test_unlimited`): pool_size 0 means no limit and overflow() always 0, whatever
/// max_overflow says (it is ignored there, as in SQLAlchemy).
fn a5_pool_size_zero_is_unlimited_with_zero_overflow(front: Front) {
    for max_overflow in [42, 0, -1, 1] {
        let db = Db::new();
        let pool = queue(front, &db, 0, max_overflow);
        assert_eq!(pool.status().overflow, 0);
        let c1 = pool.get().unwrap();
        let c2 = pool.get().unwrap();
        assert_eq!(pool.status().overflow, 0);
        drop((c1, c2));
        assert_eq!(pool.status().overflow, 0);
    }
    // [code] 7 checked out and returned are all kept.
    let db = Db::new();
    let pool = queue(front, &db, 0, 10);
    let held: Vec<_> = (0..7).map(|_| pool.get().unwrap()).collect();
    drop(held);
    assert_eq!(pool.status().checked_in, 7);
    assert_eq!(db.closes(), 0);
}

/// A6 (`test_no_overflow`, `test_max_overflow`): 40 threads × 10 checkouts never push
/// overflow past max_overflow, and afterwards nothing is checked out.
fn a6_threads_never_exceed_max_overflow(front: Front) {
    for max_overflow in [0i64, 5] {
        let db = Db::new();
        db.set_connect_delay(Duration::from_millis(1));
        let pool = TestPool::build(
            front,
            &db,
            Opts::queue(3, max_overflow, Duration::from_secs(10)),
        );
        let peak = AtomicI64::new(i64::MIN);
        std::thread::scope(|s| {
            for _ in 0..40 {
                s.spawn(|| {
                    for _ in 0..10 {
                        let conn = pool.get().unwrap();
                        peak.fetch_max(pool.status().overflow, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(200));
                        drop(conn);
                    }
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= max_overflow);
        assert!(db.peak_live() <= 3 + max_overflow as usize);
        assert_eq!(pool.status().checked_out, 0);
        assert!(db.open() <= 3, "only pool_size connections stay open");
    }
}

/// A7 (`test_overflow_reset_on_failed_connect`): a failed connect gives its slot back.
fn a7_failed_connect_leaves_overflow_unchanged(front: Front) {
    let db = Db::new();
    let pool = queue(front, &db, 2, 3);
    let _held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    assert_eq!(pool.status().overflow, 1);
    db.stop();
    match pool.get() {
        Err(Error::Connect(e)) => assert_eq!(e.0, "database is stopped"),
        Err(other) => panic!("expected the manager's error, got {other:?}"),
        Ok(_) => panic!("the server is stopped"),
    }
    assert_eq!(pool.status().overflow, 1);
    assert_eq!(pool.status().checked_out, 3);
}

/// A8 (R:`test_pre_ping_db_stays_shutdown`): a new default pool, then one connect/close.
fn a8_default_pool_counts(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::default());
    assert_eq!((pool.status().checked_in, pool.status().overflow), (0, -5));
    drop(pool.get().unwrap());
    assert_eq!((pool.status().checked_in, pool.status().overflow), (1, -4));
}

/// A9 (`test_no_connect_on_recreate`): building, dispose() and recreate() open nothing, for
/// every class the front has, even when connecting always fails, and after one connect and
/// return only that one connection was opened.
fn a9_build_dispose_recreate_never_connect(front: Front) {
    let mut classes = vec![
        PoolClass::Queue,
        PoolClass::Null,
        PoolClass::Static,
        PoolClass::Assertion,
    ];
    if front == Front::Blocking {
        classes.push(PoolClass::SingletonThread);
    }
    for class in classes {
        let db = Db::new();
        db.stop();
        let pool = TestPool::build(front, &db, Opts::class(class));
        pool.dispose();
        let again = pool.recreate();
        again.dispose();
        assert_eq!(db.connects(), 0, "{class}");

        let db = Db::new();
        let pool = TestPool::build(front, &db, Opts::class(class));
        drop(pool.get().unwrap());
        pool.dispose();
        let _again = pool.recreate();
        assert_eq!(db.connects(), 1, "{class}");
    }
}

/// A10 (`test_timeout_accessor`).
fn a10_timeout_accessor_returns_the_configured_value(front: Front) {
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts::queue(5, 10, Duration::from_secs(123)),
    );
    assert_eq!(pool.timeout(), Some(Duration::from_secs(123)));
    let forever = TestPool::build(
        front,
        &Db::new(),
        Opts {
            timeout: None,
            ..Opts::default()
        },
    );
    assert_eq!(forever.timeout(), None);
}

on_both_fronts!(
    a1_a2_checkouts_grow_overflow_and_returns_fill_then_close,
    a3_drop_and_close_return_alike,
    a4_overflow_churn_opens_twelve_closes_ten_each_once,
    a5_pool_size_zero_is_unlimited_with_zero_overflow,
    a6_threads_never_exceed_max_overflow,
    a7_failed_connect_leaves_overflow_unchanged,
    a8_default_pool_counts,
    a9_build_dispose_recreate_never_connect,
    a10_timeout_accessor_returns_the_configured_value,
);
