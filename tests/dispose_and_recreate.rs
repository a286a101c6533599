//! SQLAlchemy checklist J: dispose and recreate.
mod common;

use common::{builder, Db, EventLog};
use poolscope::{EchoPool, PoolClass, ResetOnReturn};
use std::time::Duration;

/// J51 (`test_dispose_closes_pooled`): dispose closes the idle connection once and leaves the
/// checked-out one alone; it then returns to the pool and is reused.
#[test]
fn j51_dispose_closes_idle_only() {
    let db = Db::new();
    let pool = builder()
        .pool_size(2)
        .max_overflow(0)
        .build(db.manager())
        .unwrap();
    let c1 = pool.get().unwrap();
    let c2 = pool.get().unwrap();
    let (id1, id2) = (c1.id, c2.id);
    drop(c1);
    pool.dispose();
    assert_eq!(db.calls(id1).iter().filter(|c| **c == "close").count(), 1);
    assert_eq!(db.calls(id2).iter().filter(|c| **c == "close").count(), 0);
    drop(c2);
    assert!(!db.calls(id2).contains(&"close"));
    assert_eq!(pool.get().unwrap().id, id2);
}

/// Decision on subtlety 5.7: unlike SQLAlchemy, dispose does not reset overflow while
/// connections are out, so capacity never exceeds pool_size + max_overflow.
#[test]
fn dispose_keeps_counting_checked_out_connections() {
    let pool = builder()
        .pool_size(2)
        .max_overflow(0)
        .pool_timeout(Duration::ZERO)
        .build(Db::new().manager())
        .unwrap();
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    pool.dispose();
    assert_eq!(pool.status().checked_out, 2);
    assert!(pool.get().is_err(), "still at the limit");
    drop((a, b));
    assert_eq!(pool.status().checked_in, 2);
}

/// J52 (`test_close`): `close` does not fire at return; dispose fires it.
#[test]
fn j52_close_event_fires_on_dispose_not_on_return() {
    let log = EventLog::default();
    let pool = builder()
        .listener(log.clone())
        .build(Db::new().manager())
        .unwrap();
    let c = pool.get().unwrap();
    let id = c.id;
    drop(c);
    assert!(!log.names().contains(&"close".to_owned()));
    pool.dispose();
    assert_eq!(log.take(), vec![format!("close:{id}")]);
}

/// J53 (`PoolDialectTest`): connect/close, dispose, recreate, connect/close on the original:
/// NullPool closes on every return; the others keep theirs until dispose.
#[test]
fn j53_connect_close_sequence_per_class() {
    for class in [
        PoolClass::Queue,
        PoolClass::Assertion,
        PoolClass::SingletonThread,
        PoolClass::Static,
        PoolClass::Null,
    ] {
        let db = Db::new();
        let pool = builder().pool_class(class).build(db.manager()).unwrap();
        drop(pool.get().unwrap());
        pool.dispose();
        let _again = pool.recreate().unwrap();
        drop(pool.get().unwrap());
        let expected = if class == PoolClass::Null {
            (2, 2)
        } else {
            (2, 1)
        };
        assert_eq!((db.connects(), db.closes()), expected, "{class}");
    }
}

/// J54 (`test_recreate_state`): recreate keeps the class and every option.
#[test]
fn j54_recreate_keeps_every_option() {
    let db = Db::new();
    let pool = builder()
        .pool_size(8)
        .max_overflow(10)
        .pool_timeout(Duration::from_secs(25))
        .use_lifo(true)
        .pre_ping(true)
        .reset_on_return(ResetOnReturn::Commit)
        .pool_recycle(Duration::from_secs(35))
        .name("orders")
        .echo_pool(EchoPool::Debug)
        .build(db.manager())
        .unwrap();
    let again = pool.recreate().unwrap();
    assert_eq!(again.class(), PoolClass::Queue);
    assert_eq!(again.name(), "orders");
    assert_eq!(again.timeout(), Some(Duration::from_secs(25)));
    assert_eq!(again.status().size, 8);
    assert_eq!(again.status().overflow, -8);
    // use_lifo, commit and pre_ping show in behaviour:
    let (a, b) = (again.get().unwrap(), again.get().unwrap());
    let b_id = b.id;
    drop((a, b));
    let c = again.get().unwrap();
    assert_eq!(c.id, b_id, "LIFO");
    assert_eq!(
        db.calls(b_id),
        vec!["commit", "ping"],
        "commit-on-return and pre-ping"
    );
    assert!(
        std::ptr::eq(pool.manager(), again.manager()),
        "same manager"
    );
}

/// J55: listeners carry over; first_connect fires once per pool.
#[test]
fn j55_listeners_carry_over_and_first_connect_is_per_pool() {
    let log = EventLog::default();
    let pool = builder()
        .listener(log.clone())
        .build(Db::new().manager())
        .unwrap();
    drop(pool.get().unwrap());
    let again = pool.recreate().unwrap();
    drop(again.get().unwrap());
    drop(pool.get().unwrap());
    let firsts = log.names().iter().filter(|e| *e == "first_connect").count();
    assert_eq!(firsts, 2);
}
