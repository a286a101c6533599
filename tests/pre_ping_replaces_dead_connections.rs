//! SQLAlchemy checklist F: pre_ping (R:`PrePingMockTest`), on both fronts.
mod common;

use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::Db;

fn pinging(front: Front, db: &Db, pool_size: usize) -> TestPool {
    TestPool::build(
        front,
        db,
        Opts {
            pre_ping: true,
            ..Opts::queue(pool_size, 10, Duration::from_secs(30))
        },
    )
}
use poolscope::Error;

/// F34 (R:`test_ping_not_on_first_connect`): a fresh connection is not pinged; each later
/// checkout pings once (calls go `[]`, `[rollback]`, `[rollback, ping]`, ...).
fn f34_fresh_connections_are_not_pinged_later_checkouts_are(front: Front) {
    let db = Db::new();
    let pool = pinging(front, &db, 1);
    let c = pool.get().unwrap();
    let id = c.id;
    assert_eq!(db.calls(id), Vec::<&str>::new());
    drop(c);
    assert_eq!(db.calls(id), vec!["rollback"]);
    let c = pool.get().unwrap();
    assert_eq!(db.calls(id), vec!["rollback", "ping"]);
    drop(c);
    drop(pool.get().unwrap());
    assert_eq!(
        db.calls(id),
        vec!["rollback", "ping", "rollback", "ping", "rollback"]
    );
}

/// F35 (R:`test_ping_not_on_reconnect`): after invalidate, the same slot reconnects and the
/// new connection is not pinged.
fn f35_reconnect_after_invalidate_is_not_pinged(front: Front) {
    let db = Db::new();
    let pool = pinging(front, &db, 1);
    let c = pool.get().unwrap();
    let slot = c.record().slot_id();
    c.invalidate();
    let c = pool.get().unwrap();
    assert_eq!(c.record().slot_id(), slot);
    assert_eq!(db.calls(c.id), Vec::<&str>::new());
}

/// F36 (R:`test_connect_across_restart`): after a restart the stale pooled connection fails
/// its ping and is replaced transparently; the new one works, the stale one would not.
fn f36_dead_connection_is_replaced_transparently_after_restart(front: Front) {
    let db = Db::new();
    let pool = pinging(front, &db, 2);
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    let (a_id, b_id) = (a.id, b.id);
    drop((a, b));
    db.restart();
    let mut c = pool.get().unwrap();
    assert!(c.id > b_id);
    c.execute().unwrap();
    assert_eq!(
        db.calls(a_id),
        vec!["rollback", "ping", "close"],
        "failed ping closes without reset"
    );
    drop(c);
    // The other idle connection predates the failure: replaced lazily at its next checkout,
    // without a ping ("invalidated due to pool invalidation").
    let mut d = pool.get().unwrap();
    d.execute().unwrap();
    assert_eq!(db.calls(b_id), vec!["rollback", "close"]);
}

/// F37 (R:`test_raise_db_is_stopped`, R:`test_pre_ping_db_stays_shutdown`): ping and
/// reconnect both fail: the manager's error, and the slot stays in the pool.
fn f37_stopped_database_raises_the_connect_error_and_keeps_the_slot(front: Front) {
    let db = Db::new();
    let pool = pinging(front, &db, 5);
    drop(pool.get().unwrap());
    db.stop();
    match pool.get() {
        Err(Error::Connect(e)) => assert_eq!(e.0, "database is stopped"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("the server is stopped"),
    }
    assert_eq!((pool.status().checked_in, pool.status().overflow), (1, -4));
}

/// F38 (R:`test_waits_til_exec_wo_ping_db_is_{stopped,restarted}`): without pre_ping the
/// stale connection is handed out and fails only when used.
fn f38_without_pre_ping_the_stale_connection_fails_on_use(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    let id = pool.get().unwrap().id;
    db.restart();
    let mut c = pool.get().unwrap();
    assert_eq!(c.id, id);
    assert!(c.execute().is_err());
}

/// F39 (R:`test_pre_ping_weakref_finalizer`): the failed one gets no reset before close; its
/// replacement, dropped, gets `[rollback]`.
fn f39_failed_ping_closes_without_reset_and_the_replacement_is_reset_on_drop(front: Front) {
    let db = Db::new();
    let pool = pinging(front, &db, 1);
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    db.restart();
    let c = pool.get().unwrap();
    let new_id = c.id;
    drop(c);
    assert_eq!(
        db.calls(1),
        vec!["rollback", "ping", "rollback", "ping", "close"]
    );
    assert_eq!(db.calls(new_id), vec!["rollback"]);
}

// F40 (R:`RealPrePingEventHandlerTest`, `handle_error` hooks reclassifying ping errors) does
// not apply: an r2d2/bb8 manager's `is_valid` answers valid or not, with no dialect to
// classify disconnect vs. other errors; every failed ping is treated as a disconnect.

on_both_fronts!(
    f34_fresh_connections_are_not_pinged_later_checkouts_are,
    f35_reconnect_after_invalidate_is_not_pinged,
    f36_dead_connection_is_replaced_transparently_after_restart,
    f37_stopped_database_raises_the_connect_error_and_keeps_the_slot,
    f38_without_pre_ping_the_stale_connection_fails_on_use,
    f39_failed_ping_closes_without_reset_and_the_replacement_is_reset_on_drop,
);
