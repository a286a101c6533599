//! Faults never leak a slot: a panicking holder, a failing or panicking connect, a failing or
//! panicking reset. After each, the pool's counts are whole and it keeps working. Both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog};
use poolscope::Error;
use poolscope::{CheckinEvent, ConnectionEvent, InvalidateEvent, ResetEvent};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

fn one(front: Front, db: &Db, timeout: Duration, opts: Opts) -> TestPool {
    TestPool::build(
        front,
        db,
        Opts {
            pool_size: 1,
            max_overflow: 0,
            timeout: Some(timeout),
            ..opts
        },
    )
}

fn assert_whole(pool: &TestPool, checked_in: usize) {
    let s = pool.status();
    assert_eq!(
        (s.checked_out, s.checked_in, s.waiting),
        (0, checked_in, 0),
        "{s}"
    );
}

fn panicking_holders_on_many_threads_return_every_slot(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(2, 0, Duration::from_secs(5)));
    std::thread::scope(|s| {
        for i in 0..8 {
            let pool = &pool;
            s.spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let mut c = pool.get().unwrap();
                    c.begin();
                    if i % 2 == 0 {
                        panic!("holder {i} failed");
                    }
                }));
                assert_eq!(result.is_err(), i % 2 == 0);
            });
        }
    });
    // However the threads interleaved (one connection may have served them all), every
    // connection opened is back and idle, and no more than pool_size were opened.
    assert!((1..=2).contains(&db.open()), "{}", db.open());
    assert_whole(&pool, db.open());
    assert!(
        !pool.get().unwrap().in_transaction,
        "rolled back while unwinding"
    );
}

fn a_panicking_connect_gives_the_slot_back(front: Front) {
    let db = Db::new();
    let pool = one(front, &db, Duration::ZERO, Opts::default());
    db.panic_connects(true);
    assert!(catch_unwind(AssertUnwindSafe(|| pool.get())).is_err());
    assert_eq!(pool.status().checked_out, 0);
    db.panic_connects(false);
    assert!(pool.get().is_ok(), "the only slot is free again");
}

fn a_failing_connect_gives_the_slot_back_to_a_waiter(front: Front) {
    let db = Db::new();
    let pool = one(front, &db, Duration::from_secs(5), Opts::default());
    let held = pool.get().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().map(|c| c.id));
        pool.until_waiting(1);
        // The held connection is invalidated while the database is down: the waiter gets the
        // empty slot, fails to reconnect, and the slot still comes back.
        db.stop();
        held.invalidate();
        assert!(matches!(waiter.join().unwrap(), Err(Error::Connect(_))));
    });
    db.start();
    assert_whole(&pool, 1);
    assert!(pool.get().is_ok());
}

fn a_failing_reset_invalidates_the_connection_and_frees_the_slot(front: Front) {
    let db = Db::new();
    let log = EventLog::default();
    let pool = one(
        front,
        &db,
        Duration::from_secs(30),
        Opts::default().listener(log.clone()),
    );
    let c = pool.get().unwrap();
    let id = c.id;
    db.fail_resets(true);
    log.take();
    drop(c);
    assert_eq!(db.calls(id), vec!["rollback", "close"]);
    assert_eq!(
        log.take(),
        vec![
            format!("reset:{id}:return"),
            format!("invalidate:{id}"),
            format!("close:{id}"),
            "checkin:none".into()
        ]
    );
    db.fail_resets(false);
    assert_whole(&pool, 1);
    assert_ne!(
        pool.get().unwrap().id,
        id,
        "a new connection on the freed slot"
    );
}

fn a_panicking_reset_is_treated_as_a_failed_reset(front: Front) {
    let db = Db::new();
    let pool = one(front, &db, Duration::from_secs(30), Opts::default());
    let c = pool.get().unwrap();
    let id = c.id;
    db.panic_resets(true);
    drop(c);
    db.panic_resets(false);
    assert!(db.calls(id).contains(&"close"));
    assert_whole(&pool, 1);
    assert!(pool.get().is_ok());
}

fn a_broken_connection_is_closed_on_return_not_pooled(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    let mut c = pool.get().unwrap();
    let id = c.id;
    c.broken = true;
    drop(c);
    assert_eq!(
        db.calls(id),
        vec!["close"],
        "no reset on a broken connection"
    );
    assert_whole(&pool, 1);
}

/// Items 29 and 41's `BaseException` variants, in Rust terms: a `connect` or `checkout`
/// listener that panics unwinds out of `get()`, and the slot still comes back.
fn a_panicking_connect_or_checkout_listener_gives_the_slot_back(front: Front) {
    use common::FakeConn;
    use poolscope::{ListenerError, PoolListener};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct PanicWhile(Arc<AtomicBool>, bool);
    impl PoolListener<FakeConn> for PanicWhile {
        fn connect(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            if self.1 && self.0.load(Ordering::SeqCst) {
                panic!("connect listener panicked");
            }
            Ok(())
        }
        fn checkout(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            if !self.1 && self.0.load(Ordering::SeqCst) {
                panic!("checkout listener panicked");
            }
            Ok(())
        }
    }
    for in_connect in [true, false] {
        let db = Db::new();
        let armed = Arc::new(AtomicBool::new(true));
        let pool = one(
            front,
            &db,
            Duration::ZERO,
            Opts::default().listener(PanicWhile(Arc::clone(&armed), in_connect)),
        );
        assert!(catch_unwind(AssertUnwindSafe(|| pool.get())).is_err());
        assert_eq!(pool.status().checked_out, 0, "in_connect={in_connect}");
        assert_eq!(db.open(), 0, "the connection was closed while unwinding");
        armed.store(false, Ordering::SeqCst);
        assert!(pool.get().is_ok());
    }
}

/// A listener that panics while a connection is being returned (its `reset`, `checkin` or
/// `invalidate` callback): the panic carries on to the caller, the connection is closed, and
/// its slot is back in the pool.
fn a_listener_panicking_during_a_return_leaks_nothing(front: Front) {
    use common::FakeConn;
    use poolscope::PoolListener;

    #[derive(Clone, Copy, PartialEq)]
    enum At {
        Reset,
        Checkin,
        Invalidate,
    }
    struct PanicAt(At);
    impl PoolListener<FakeConn> for PanicAt {
        fn reset(&self, _event: ResetEvent<'_, FakeConn>) {
            assert!(self.0 != At::Reset, "reset listener panicked");
        }
        fn checkin(&self, _event: CheckinEvent<'_, FakeConn>) {
            assert!(self.0 != At::Checkin, "checkin listener panicked");
        }
        fn invalidate(&self, _event: InvalidateEvent<'_, FakeConn>) {
            assert!(self.0 != At::Invalidate, "invalidate listener panicked");
        }
    }
    for at in [At::Reset, At::Checkin, At::Invalidate] {
        let db = Db::new();
        let pool = one(
            front,
            &db,
            Duration::ZERO,
            Opts::default().listener(PanicAt(at)),
        );
        let conn = pool.get().unwrap();
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            if at == At::Invalidate {
                conn.invalidate();
            } else {
                drop(conn);
            }
        }));
        assert!(unwound.is_err(), "the panic reaches the caller");
        assert_whole(&pool, 1);
        assert_eq!(db.open(), 0);
        let again = pool.get();
        assert!(again.is_ok(), "the slot is usable again");
        let _ = catch_unwind(AssertUnwindSafe(|| drop(again)));
    }
}

on_both_fronts!(
    panicking_holders_on_many_threads_return_every_slot,
    a_panicking_connect_gives_the_slot_back,
    a_failing_connect_gives_the_slot_back_to_a_waiter,
    a_failing_reset_invalidates_the_connection_and_frees_the_slot,
    a_panicking_reset_is_treated_as_a_failed_reset,
    a_broken_connection_is_closed_on_return_not_pooled,
    a_panicking_connect_or_checkout_listener_gives_the_slot_back,
    a_listener_panicking_during_a_return_leaks_nothing,
);
