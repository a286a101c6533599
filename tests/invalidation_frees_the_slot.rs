//! SQLAlchemy checklist E: invalidation, on both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog, FakeConn};
use poolscope::ConnectionEvent;
use poolscope::{Error, ListenerError, PoolListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// E23 (`test_invalidate`, `test_reconnect`): after invalidate, a different connection.
fn e23_invalidate_then_checkout_gives_a_new_connection(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    let c = pool.get().unwrap();
    let first = c.id;
    c.invalidate();
    assert_ne!(pool.get().unwrap().id, first);
}

/// E24 (`test_detach_via_invalidate`): invalidate closes the connection once at once; the
/// next checkout opens a new one, and returning that one does not close it. In Rust the
/// handle is consumed, so "dbapi_connection becomes None" is enforced by the type system.
fn e24_invalidate_closes_once_and_the_replacement_is_pooled(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    let c = pool.get().unwrap();
    let first = c.id;
    c.invalidate();
    assert_eq!(db.calls(first), vec!["close"]);
    let c2 = pool.get().unwrap();
    let second = c2.id;
    drop(c2);
    assert!(!db.calls(second).contains(&"close"));
    assert_eq!(pool.status().checked_in, 1);
}

/// E25 (`test_recycle_on_invalidate`): `invalidate_all()` (SQLAlchemy's `pool._invalidate`)
/// while c2 is out: c2 returns normally, and its next checkout replaces it.
fn e25_pool_invalidation_replaces_returned_connections_at_next_checkout(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    let c2 = pool.get().unwrap();
    let id = c2.id;
    pool.invalidate_all();
    drop(c2);
    assert!(
        !db.calls(id).contains(&"close"),
        "a checked-out connection is not closed on return"
    );
    let next = pool.get().unwrap();
    assert_ne!(next.id, id);
    assert!(db.calls(id).contains(&"close"));
}

/// E26 (`test_recycle_on_soft_invalidate`): soft invalidation keeps the connection usable;
/// after return the next checkout opens a new connection on the same slot.
fn e26_soft_invalidate_replaces_on_the_same_slot_after_return(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    let mut c = pool.get().unwrap();
    let (id, slot) = (c.id, c.record().slot_id());
    c.soft_invalidate();
    c.execute().unwrap();
    assert_eq!(c.id, id, "still the same connection");
    drop(c);
    let next = pool.get().unwrap();
    assert_ne!(next.id, id);
    assert_eq!(next.record().slot_id(), slot);
}

/// E27 (`test_[soft_]invalidate_event_{no_,}exception`): the events fire with the reason, and
/// not on a normal checkout/return.
fn e27_invalidate_events_fire_only_on_invalidation(front: Front) {
    let log = EventLog::default();
    let pool = TestPool::build(front, &Db::new(), Opts::default().listener(log.clone()));
    drop(pool.get().unwrap());
    assert!(!log.names().iter().any(|e| e.contains("invalidate")));
    let mut c = pool.get().unwrap();
    c.soft_invalidate();
    assert!(log.names().contains(&"soft_invalidate".to_owned()));
    c.invalidate();
    assert!(log.names().contains(&"invalidate".to_owned()));
}

/// E28 (`test_error_on_pooled_reconnect_cleanup_invalidate`): as D22, after an invalidation.
fn e28_failed_reconnect_after_invalidation_leaks_nothing(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 2, Duration::from_secs(2)));
    pool.get().unwrap().invalidate();
    db.stop();
    assert!(matches!(pool.get(), Err(Error::Connect(_))));
    assert_eq!((pool.status().overflow, pool.status().checked_out), (0, 0));
    db.start();
    let c1 = pool.get().unwrap();
    let c2 = pool.get().unwrap();
    assert_eq!(pool.status().overflow, 1);
    let c3 = pool.get().unwrap();
    assert_eq!(pool.counts(), (1, 0, 2, 3));
    drop((c1, c2, c3));
    assert_eq!(pool.counts(), (1, 1, 0, 0));
}

/// E29 (`test_connect_event_fails_invalidates`): a connect listener failing while an
/// invalidated slot reconnects fails the checkout without leaking the slot; the next checkout
/// succeeds and the other listener's `info` is there.
fn e29_failing_connect_listener_does_not_leak_the_slot(front: Front) {
    struct FailOnce(AtomicBool);
    impl PoolListener<FakeConn> for FailOnce {
        fn connect(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            if self.0.swap(false, Ordering::SeqCst) {
                Err(ListenerError::fatal("connect hook failed"))
            } else {
                Ok(())
            }
        }
    }
    struct Flag;
    struct Important;
    impl PoolListener<FakeConn> for Flag {
        fn connect(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            let record = event.record;
            record.info_mut().insert(Important);
            Ok(())
        }
    }
    let fail = Arc::new(FailOnce(AtomicBool::new(false)));
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts::queue(1, 0, Duration::from_secs(5))
            .listener(Arc::clone(&fail))
            .listener(Flag),
    );
    pool.get().unwrap().invalidate();
    fail.0.store(true, Ordering::SeqCst);
    let err = pool.get().err().unwrap();
    assert!(matches!(err, Error::Listener(_)), "{err:?}");
    assert_eq!(db.open(), 0, "the half-made connection was closed");
    let c = pool.get().unwrap();
    assert!(c.record().info().get::<Important>().is_some());
    assert_eq!(pool.status().checked_out, 1);
}

/// E30 (`test_connect_handler_not_called_for_recycled`): a failed reconnect fires neither
/// `connect` nor `checkout`; the later successful one fires exactly `[connect, checkout]`.
fn e30_failed_reconnect_fires_no_connect_or_checkout(front: Front) {
    let db = Db::new();
    let log = EventLog::default();
    let pool = TestPool::build(
        front,
        &db,
        Opts::queue(2, 2, Duration::from_secs(30)).listener(log.clone()),
    );
    drop(pool.get().unwrap());
    pool.invalidate_all();
    db.stop();
    log.take();
    assert!(pool.get().is_err());
    assert!(!log
        .names()
        .iter()
        .any(|e| e == "connect" || e == "checkout"));
    db.start();
    drop(pool.get().unwrap());
    let names = log.names();
    let interesting: Vec<_> = names
        .iter()
        .filter(|e| *e == "connect" || *e == "checkout")
        .cloned()
        .collect();
    assert_eq!(interesting, vec!["connect", "checkout"]);
}

/// E31 (`test_connect_checkout_handler_always_gets_info`): info written in `connect` is
/// visible in `checkout` on the reconnect path.
fn e31_connect_info_is_visible_to_checkout_after_reconnect(front: Front) {
    struct Writes;
    struct Seen(Arc<AtomicBool>);
    struct Mark;
    impl PoolListener<FakeConn> for Writes {
        fn connect(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            let r = event.record;
            r.info_mut().insert(Mark);
            Ok(())
        }
    }
    impl PoolListener<FakeConn> for Seen {
        fn checkout(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            let r = event.record;
            self.0
                .store(r.info().get::<Mark>().is_some(), Ordering::SeqCst);
            Ok(())
        }
    }
    let seen = Arc::new(AtomicBool::new(false));
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts::default()
            .listener(Writes)
            .listener(Seen(Arc::clone(&seen))),
    );
    pool.get().unwrap().invalidate();
    seen.store(false, Ordering::SeqCst);
    let _c = pool.get().unwrap();
    assert!(seen.load(Ordering::SeqCst));
}

/// E32 (`test_connrec_invalidated_within_checkout_no_race`): pool invalidation racing a
/// checkout never errors; the handle can still be returned.
fn e32_invalidation_during_checkouts_never_errors(front: Front) {
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts::queue(2, 10, Duration::from_secs(10)),
    );
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    let c = pool.get().unwrap();
                    drop(c);
                }
            });
        }
        s.spawn(|| {
            for _ in 0..200 {
                pool.invalidate_all();
                std::thread::yield_now();
            }
        });
    });
    assert_eq!(pool.status().checked_out, 0);
}

/// E33 (`test_recycle_pool_no_race`): 15 connections invalidated from 15 threads, then 15
/// reopened: 15 closes in all (none doubled) and 30 connects.
fn e33_concurrent_invalidations_close_each_connection_once(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(15, 0, Duration::from_secs(30)));
    let held: Vec<_> = (0..15).map(|_| pool.get().unwrap()).collect();
    std::thread::scope(|s| {
        for c in held {
            s.spawn(move || c.invalidate());
        }
    });
    assert_eq!(db.closes(), 15);
    let again: Vec<_> = (0..15).map(|_| pool.get().unwrap()).collect();
    assert_eq!(db.connects(), 30);
    drop(again);
    assert_eq!(db.closes(), 15);
    for id in 1..=15 {
        assert_eq!(db.calls(id).iter().filter(|c| **c == "close").count(), 1);
    }
}

on_both_fronts!(
    e23_invalidate_then_checkout_gives_a_new_connection,
    e24_invalidate_closes_once_and_the_replacement_is_pooled,
    e25_pool_invalidation_replaces_returned_connections_at_next_checkout,
    e26_soft_invalidate_replaces_on_the_same_slot_after_return,
    e27_invalidate_events_fire_only_on_invalidation,
    e28_failed_reconnect_after_invalidation_leaks_nothing,
    e29_failing_connect_listener_does_not_leak_the_slot,
    e30_failed_reconnect_fires_no_connect_or_checkout,
    e31_connect_info_is_visible_to_checkout_after_reconnect,
    e32_invalidation_during_checkouts_never_errors,
    e33_concurrent_invalidations_close_each_connection_once,
);
