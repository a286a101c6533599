//! SQLAlchemy checklist J: dispose and recreate, on both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog};
use poolscope::{EchoPool, PoolClass, ResetOnReturn};
use std::time::Duration;

/// J51 (`test_dispose_closes_pooled`): dispose closes the idle connection once and leaves the
/// checked-out one alone; it then returns to the pool and is reused.
fn j51_dispose_closes_idle_only(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(2, 0, Duration::from_secs(30)));
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
fn dispose_keeps_counting_checked_out_connections(front: Front) {
    let pool = TestPool::build(front, &Db::new(), Opts::queue(2, 0, Duration::ZERO));
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    pool.dispose();
    assert_eq!(pool.status().checked_out, 2);
    assert!(pool.get().is_err(), "still at the limit");
    drop((a, b));
    assert_eq!(pool.status().checked_in, 2);
}

/// J52 (`test_close`): `close` does not fire at return; dispose fires it.
fn j52_close_event_fires_on_dispose_not_on_return(front: Front) {
    let log = EventLog::default();
    let pool = TestPool::build(front, &Db::new(), Opts::default().listener(log.clone()));
    let c = pool.get().unwrap();
    let id = c.id;
    drop(c);
    assert!(!log.names().contains(&"close".to_owned()));
    pool.dispose();
    assert_eq!(log.take(), vec![format!("close:{id}")]);
}

/// J53 (`PoolDialectTest`): connect/close, dispose, recreate, connect/close on the original:
/// NullPool closes on every return; the others keep theirs until dispose.
fn j53_connect_close_sequence_per_class(front: Front) {
    let mut classes = vec![
        PoolClass::Queue,
        PoolClass::Assertion,
        PoolClass::Static,
        PoolClass::Null,
    ];
    if front == Front::Blocking {
        classes.push(PoolClass::SingletonThread);
    }
    for class in classes {
        let db = Db::new();
        let pool = TestPool::build(front, &db, Opts::class(class));
        drop(pool.get().unwrap());
        pool.dispose();
        let _again = pool.recreate();
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
fn j54_recreate_keeps_every_option(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            lifo: true,
            pre_ping: true,
            reset: ResetOnReturn::Commit,
            recycle: Some(Duration::from_secs(35)),
            name: Some("orders".into()),
            echo: EchoPool::Debug,
            ..Opts::queue(8, 10, Duration::from_secs(25))
        },
    );
    let again = pool.recreate();
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
    assert!(pool.shares_manager_with(&again), "same manager");
}

/// J55: listeners carry over; first_connect fires once per pool.
fn j55_listeners_carry_over_and_first_connect_is_per_pool(front: Front) {
    let log = EventLog::default();
    let pool = TestPool::build(front, &Db::new(), Opts::default().listener(log.clone()));
    drop(pool.get().unwrap());
    let again = pool.recreate();
    drop(again.get().unwrap());
    drop(pool.get().unwrap());
    let firsts = log.names().iter().filter(|e| *e == "first_connect").count();
    assert_eq!(firsts, 2);
}

/// An unnamed pool's default name (`pool-<id>`) carries over to the pool `recreate()`
/// returns, so that its metric series continue rather than start again under a new name.
fn recreate_keeps_a_default_name(front: Front) {
    let pool = TestPool::build(front, &Db::new(), Opts::default());
    let name = pool.name();
    assert!(name.starts_with("pool-"), "{name}");
    assert_eq!(pool.recreate().name(), name);
    assert_eq!(pool.recreate().recreate().name(), name);
}

on_both_fronts!(
    recreate_keeps_a_default_name,
    j51_dispose_closes_idle_only,
    dispose_keeps_counting_checked_out_connections,
    j52_close_event_fires_on_dispose_not_on_return,
    j53_connect_close_sequence_per_class,
    j54_recreate_keeps_every_option,
    j55_listeners_carry_over_and_first_connect_is_per_pool,
);
