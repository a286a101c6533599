//! SQLAlchemy checklist A: QueuePool sizing and overflow accounting.
mod common;

use common::{builder, counts, Db};
use poolscope::{Error, PoolClass};
use std::sync::Arc;
use std::time::Duration;

/// A1–A2 (`test_queuepool_close`): overflow grows per checkout; returns fill the idle queue
/// first, then close the rest, shrinking overflow.
#[test]
fn a1_a2_checkouts_grow_overflow_and_returns_fill_then_close() {
    let db = Db::new();
    let pool = builder()
        .pool_size(3)
        .max_overflow(-1)
        .build(db.manager())
        .unwrap();
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
        assert_eq!(counts(&pool), want);
    }
    let later = held.split_off(3);
    drop(held);
    assert_eq!(counts(&pool), (3, 3, 3, 3));
    assert_eq!(db.closes(), 0);
    drop(later);
    assert_eq!(counts(&pool), (3, 3, 0, 0));
    assert_eq!(db.closes(), 3);
    let c1 = pool.get().unwrap();
    let _c2 = pool.get().unwrap();
    assert_eq!(counts(&pool), (3, 1, 0, 2));
    drop(c1);
    assert_eq!(counts(&pool), (3, 2, 0, 1));
}

/// A3 (`test_queuepool_del`): returning by Drop without `close()` gives the same sequence.
#[test]
fn a3_drop_and_close_return_alike() {
    let run = |explicit: bool| {
        let db = Db::new();
        let pool = builder()
            .pool_size(3)
            .max_overflow(-1)
            .build(db.manager())
            .unwrap();
        let mut seen = Vec::new();
        let held: Vec<_> = (0..6).map(|_| pool.get().unwrap()).collect();
        for conn in held {
            if explicit {
                conn.close();
            } else {
                drop(conn);
            }
            seen.push(counts(&pool));
        }
        seen
    };
    assert_eq!(run(true), run(false));
}

/// A4 (`test_overflow_no_gc`, with the counts its collapsed set literal meant): pool_size 2,
/// max_overflow 2, "check out 4, return 4" five times opens 12 connections, closes 10 exactly
/// once and never closes 2.
#[test]
fn a4_overflow_churn_opens_twelve_closes_ten_each_once() {
    let db = Db::new();
    let pool = builder()
        .pool_size(2)
        .max_overflow(2)
        .build(db.manager())
        .unwrap();
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
#[test]
fn a5_pool_size_zero_is_unlimited_with_zero_overflow() {
    for max_overflow in [42, 0, -1, 1] {
        let db = Db::new();
        let pool = builder()
            .pool_size(0)
            .max_overflow(max_overflow)
            .build(db.manager())
            .unwrap();
        assert_eq!(pool.status().overflow, 0);
        let c1 = pool.get().unwrap();
        let c2 = pool.get().unwrap();
        assert_eq!(pool.status().overflow, 0);
        drop((c1, c2));
        assert_eq!(pool.status().overflow, 0);
    }
    // [code] 7 checked out and returned are all kept.
    let db = Db::new();
    let pool = builder().pool_size(0).build(db.manager()).unwrap();
    let held: Vec<_> = (0..7).map(|_| pool.get().unwrap()).collect();
    drop(held);
    assert_eq!(pool.status().checked_in, 7);
    assert_eq!(db.closes(), 0);
}

/// A6 (`test_no_overflow`, `test_max_overflow`): 40 threads × 10 checkouts never push
/// overflow past max_overflow, and afterwards nothing is checked out.
#[test]
fn a6_threads_never_exceed_max_overflow() {
    for max_overflow in [0i64, 5] {
        let db = Db::new();
        db.set_connect_delay(Duration::from_millis(1));
        let pool = builder()
            .pool_size(3)
            .max_overflow(max_overflow)
            .pool_timeout(Duration::from_secs(10))
            .build(db.manager())
            .unwrap();
        let peak = Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN));
        std::thread::scope(|s| {
            for _ in 0..40 {
                let pool = pool.clone();
                let peak = Arc::clone(&peak);
                s.spawn(move || {
                    for _ in 0..10 {
                        let conn = pool.get().unwrap();
                        peak.fetch_max(pool.status().overflow, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(200));
                        drop(conn);
                    }
                });
            }
        });
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= max_overflow);
        assert_eq!(pool.status().checked_out, 0);
        assert!(db.open() <= 3, "only pool_size connections stay open");
    }
}

/// A7 (`test_overflow_reset_on_failed_connect`): a failed connect gives its slot back.
#[test]
fn a7_failed_connect_leaves_overflow_unchanged() {
    let db = Db::new();
    let pool = builder()
        .pool_size(2)
        .max_overflow(3)
        .build(db.manager())
        .unwrap();
    let _held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    assert_eq!(pool.status().overflow, 1);
    db.stop();
    match pool.get() {
        Err(Error::Connect(e)) => assert_eq!(e.0, "database is stopped"),
        other => panic!("expected the manager's error, got {other:?}"),
    }
    assert_eq!(pool.status().overflow, 1);
    assert_eq!(pool.status().checked_out, 3);
}

/// A8 (R:`test_pre_ping_db_stays_shutdown`): a new default pool, then one connect/close.
#[test]
fn a8_default_pool_counts() {
    let db = Db::new();
    let pool = builder().build(db.manager()).unwrap();
    assert_eq!((pool.status().checked_in, pool.status().overflow), (0, -5));
    drop(pool.get().unwrap());
    assert_eq!((pool.status().checked_in, pool.status().overflow), (1, -4));
}

/// A9 (`test_no_connect_on_recreate`): building, dispose() and recreate() open nothing, for
/// every class, even when connecting always fails, and after one connect/close.
#[test]
fn a9_build_dispose_recreate_never_connect() {
    for class in [
        PoolClass::Queue,
        PoolClass::Null,
        PoolClass::SingletonThread,
        PoolClass::Static,
        PoolClass::Assertion,
    ] {
        let db = Db::new();
        db.stop();
        let pool = builder().pool_class(class).build(db.manager()).unwrap();
        pool.dispose();
        let again = pool.recreate().unwrap();
        again.dispose();
        assert_eq!(db.connects(), 0, "{class}");

        let db = Db::new();
        let pool = builder().pool_class(class).build(db.manager()).unwrap();
        drop(pool.get().unwrap());
        pool.dispose();
        let _again = pool.recreate().unwrap();
        assert_eq!(db.connects(), 1, "{class}");
    }
}

/// A10 (`test_timeout_accessor`).
#[test]
fn a10_timeout_accessor_returns_the_configured_value() {
    let pool = builder()
        .pool_timeout(Duration::from_secs(123))
        .build(Db::new().manager())
        .unwrap();
    assert_eq!(pool.timeout(), Some(Duration::from_secs(123)));
    let forever = builder()
        .pool_timeout(None)
        .build(Db::new().manager())
        .unwrap();
    assert_eq!(forever.timeout(), None);
}
