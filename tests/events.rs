//! SQLAlchemy checklist K: pool events, on both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog, FakeConn};
use poolscope::ConnectionEvent;
use poolscope::{ListenerError, PoolListener};
use std::sync::{Arc, Mutex};

/// K56 (`test_checkin_event`, `test_reset_event`): checkout fires only `checkout`; the return
/// fires `[reset, checkin]`.
fn k56_return_fires_reset_then_checkin(front: Front) {
    let log = EventLog::default();
    let pool = TestPool::build(front, &Db::new(), Opts::default().listener(log.clone()));
    let c = pool.get().unwrap();
    let id = c.id;
    assert_eq!(
        log.take(),
        vec![
            format!("first_connect:{id}"),
            format!("connect:{id}"),
            format!("checkout:{id}")
        ]
    );
    drop(c);
    assert_eq!(
        log.take(),
        vec![format!("reset:{id}:return"), format!("checkin:{id}")]
    );
}

/// K57: `connect` once per new connection, `first_connect` once per pool, `checkout` on every
/// checkout.
fn k57_connect_first_connect_and_checkout_counts(front: Front) {
    let log = EventLog::default();
    let pool = TestPool::build(front, &Db::new(), Opts::default().listener(log.clone()));
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    drop((a, b));
    drop(pool.get().unwrap());
    let names = log.names();
    let count = |n: &str| names.iter().filter(|e| *e == n).count();
    assert_eq!(
        (count("first_connect"), count("connect"), count("checkout")),
        (1, 2, 3)
    );
}

/// K58 (`test_connect_insert_event`): `listener_first` runs first: `[two, one, three]`.
fn k58_listener_first_runs_before_the_others(front: Front) {
    struct Named(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl PoolListener<FakeConn> for Named {
        fn connect(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            self.1.lock().unwrap().push(self.0);
            Ok(())
        }
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts {
            first_listeners: vec![Arc::new(Named("two", Arc::clone(&order)))],
            ..Opts::default()
                .listener(Named("one", Arc::clone(&order)))
                .listener(Named("three", Arc::clone(&order)))
        },
    );
    drop(pool.get().unwrap());
    assert_eq!(*order.lock().unwrap(), vec!["two", "one", "three"]);
}

// K59 (`test_listen_targets_per_subclass`: listeners on the Pool / QueuePool classes) does not
// apply: there are no pool subclasses to listen on; listeners belong to one pool, and carry
// over to `recreate()` (J55). Registration order is firing order (K58).

/// K60 (`test_checkin_event_gc`): a guard dropped without close gives `[reset, checkin]` and
/// the connection stays pooled; an invalidated one gives only `checkin(None)` and is closed.
fn k60_drop_returns_and_invalidated_drop_checks_in_none(front: Front) {
    let db = Db::new();
    let log = EventLog::default();
    let pool = TestPool::build(front, &db, Opts::default().listener(log.clone()));
    let c = pool.get().unwrap();
    let id = c.id;
    log.take();
    drop(c);
    assert_eq!(
        log.take(),
        vec![format!("reset:{id}:return"), format!("checkin:{id}")]
    );
    assert_eq!(db.open(), 1);
    let c = pool.get().unwrap();
    log.take();
    c.invalidate();
    assert_eq!(
        log.take(),
        vec![
            format!("invalidate:{id}"),
            format!("close:{id}"),
            "checkin:none".to_owned()
        ]
    );
    assert_eq!(db.open(), 0);
}

// K61 (`test_no_double_checkin`, "Double checkin attempted") does not apply: a guard is
// returned by Drop or by a method that consumes it, so a second checkin cannot be written.

/// K62 (`test_raw_connection_context`): the guard returns the connection at scope exit, also
/// when the scope unwinds.
fn k62_scope_exit_returns_even_on_panic(front: Front) {
    let pool = TestPool::build(front, &Db::new(), Opts::default());
    {
        let _c = pool.get().unwrap();
        assert_eq!(pool.status().checked_out, 1);
    }
    assert_eq!(pool.status().checked_out, 0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _c = pool.get().unwrap();
        panic!("user code failed");
    }));
    assert!(result.is_err());
    assert_eq!(pool.status().checked_out, 0);
    assert_eq!(pool.status().checked_in, 1);
}

/// A failed reset reaches the `invalidate` listeners as the reset function's own error, not
/// its text: the listener can downcast it.
fn a_failed_reset_reaches_listeners_as_its_error(front: Front) {
    type Seen = Arc<Mutex<Vec<poolscope::InvalidateReason>>>;
    struct Reasons(Seen);
    impl PoolListener<FakeConn> for Reasons {
        fn invalidate(&self, event: poolscope::InvalidateEvent<'_, FakeConn>) {
            self.0.lock().unwrap().push(event.reason.clone());
        }
    }
    let seen = Seen::default();
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::default().listener(Reasons(seen.clone())));
    let conn = pool.get().unwrap();
    db.fail_resets(true);
    conn.close();
    let seen = seen.lock().unwrap();
    let [poolscope::InvalidateReason::ResetFailed(cause)] = seen.as_slice() else {
        panic!("one invalidation for the failed reset, not {seen:?}");
    };
    let error = cause.error().downcast_ref::<common::FakeError>();
    assert_eq!(
        error.map(|e| e.0.as_str()),
        Some("reset failed: connection lost"),
        "{cause:?}"
    );
    assert_eq!(
        seen[0].to_string(),
        "reset failed:reset failed: connection lost"
    );
}

on_both_fronts!(
    a_failed_reset_reaches_listeners_as_its_error,
    k56_return_fires_reset_then_checkin,
    k57_connect_first_connect_and_checkout_counts,
    k58_listener_first_runs_before_the_others,
    k60_drop_returns_and_invalidated_drop_checks_in_none,
    k62_scope_exit_returns_even_on_panic,
);
