//! SQLAlchemy checklist G: errors raised by checkout listeners, on both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, FakeConn};
use poolscope::ConnectionEvent;
use poolscope::{Error, ListenerError, PoolListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct RejectWhile(Arc<AtomicBool>, bool);
impl PoolListener<FakeConn> for RejectWhile {
    fn checkout(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        if self.0.load(Ordering::SeqCst) {
            if self.1 {
                Err(ListenerError::disconnect("listener says disconnected"))
            } else {
                Err(ListenerError::fatal("listener refused"))
            }
        } else {
            Ok(())
        }
    }
}

/// G41 (`test_error_on_pooled_reconnect_cleanup_wcheckout_event`): a disconnect from a
/// checkout listener while the database is down; and a fatal listener error: in both, no slot
/// leaks and the pool then works as in D22.
fn g41_listener_errors_while_db_is_down_leak_nothing(front: Front) {
    for disconnect in [true, false] {
        let db = Db::new();
        let reject = Arc::new(AtomicBool::new(false));
        let pool = TestPool::build(
            front,
            &db,
            Opts::queue(1, 2, Duration::from_secs(2))
                .listener(RejectWhile(Arc::clone(&reject), disconnect)),
        );
        drop(pool.get().unwrap());
        db.stop();
        reject.store(true, Ordering::SeqCst);
        assert!(pool.get().is_err());
        assert_eq!((pool.status().overflow, pool.status().checked_out), (0, 0));
        reject.store(false, Ordering::SeqCst);
        db.start();
        let c1 = pool.get().unwrap();
        let c2 = pool.get().unwrap();
        assert_eq!(pool.status().overflow, 1);
        let c3 = pool.get().unwrap();
        assert_eq!(pool.counts(), (1, 0, 2, 3));
        drop((c1, c2, c3));
        assert_eq!(pool.counts(), (1, 1, 0, 0));
    }
}

/// G42 (`test_userspace_disconnectionerror_weakref_finalizer`): a disconnect for one
/// connection: it is closed (after its earlier return's rollback) and a new one is handed
/// out, which on drop gets `[rollback]`.
fn g42_listener_disconnect_for_one_connection_replaces_it(front: Front) {
    struct RejectFirst;
    impl PoolListener<FakeConn> for RejectFirst {
        fn checkout(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            let c = event.connection;
            if c.id == 1 && c.calls().contains(&"rollback") {
                Err(ListenerError::disconnect("bad connection"))
            } else {
                Ok(())
            }
        }
    }
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts::queue(1, 10, Duration::from_secs(30)).listener(RejectFirst),
    );
    drop(pool.get().unwrap());
    let c = pool.get().unwrap();
    assert_eq!(c.id, 2);
    assert_eq!(db.calls(1), vec!["rollback", "close"]);
    drop(c);
    assert_eq!(db.calls(2), vec!["rollback"]);
    // If the record was invalidated first, dropping gives [close] only.
    let c = pool.get().unwrap();
    let id = c.id;
    c.invalidate();
    assert_eq!(db.calls(id), vec!["rollback", "close"]);
}

/// Subtlety 5.5: a listener that always reports a disconnect fails the checkout with
/// "This connection is closed" after two attempts, and the slot is not leaked.
fn always_disconnecting_listener_exhausts_attempts(front: Front) {
    struct Always(Arc<AtomicUsize>);
    impl PoolListener<FakeConn> for Always {
        fn checkout(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(ListenerError::disconnect("always"))
        }
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts::queue(1, 0, Duration::from_secs(30)).listener(Always(Arc::clone(&runs))),
    );
    let err = pool.get().err().unwrap();
    assert!(matches!(err, Error::ReconnectAttemptsExhausted));
    assert_eq!(err.to_string(), "This connection is closed");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(db.open(), 0);
    assert_eq!(pool.status().checked_out, 0);
}

on_both_fronts!(
    g41_listener_errors_while_db_is_down_leak_nothing,
    g42_listener_disconnect_for_one_connection_replaces_it,
    always_disconnecting_listener_exhausts_attempts,
);
