//! SQLAlchemy checklist N: connection records and the creator, on both fronts.
mod common;

use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::Db;

/// N68 (`test_rec_unconnected`, `test_rec_close_reopen`), translated: a slot has no connection
/// until a checkout needs one (laziness); after its connection is closed (invalidate), the
/// next checkout opens a new one on the same slot.
fn n68_slots_open_lazily_and_reopen_after_close(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 10, Duration::from_secs(30)));
    assert_eq!(db.connects(), 0);
    let c = pool.get().unwrap();
    let slot = c.record().slot_id();
    let first = c.record().connection_id();
    c.invalidate();
    assert_eq!(db.closes(), 1);
    let c = pool.get().unwrap();
    assert_eq!(c.record().slot_id(), slot);
    assert_ne!(c.record().connection_id(), first);
}

/// N69 (`test_info`, `test_rec_info`): info survives checkin/checkout and is cleared when the
/// connection is replaced; record_info survives invalidation.
fn n69_info_lives_with_the_connection_record_info_with_the_slot(front: Front) {
    struct ConnMark;
    struct SlotMark;
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts::queue(1, 10, Duration::from_secs(30)),
    );
    let mut c = pool.get().unwrap();
    c.record_mut().info_mut().insert(ConnMark);
    c.record_mut().record_info_mut().insert(SlotMark);
    drop(c);
    let c = pool.get().unwrap();
    assert!(c.record().info().get::<ConnMark>().is_some());
    c.invalidate();
    let c = pool.get().unwrap();
    assert!(c.record().info().get::<ConnMark>().is_none());
    assert!(c.record().record_info().get::<SlotMark>().is_some());
}

// N70 (`CreatorCompatibilityTest`: creators of 0 or 1 arguments) does not apply: connections
// come from an r2d2 / bb8 manager's `connect(&self)`; per-connection setup that wants the
// record is a `connect` listener, which receives it.

on_both_fronts!(
    n68_slots_open_lazily_and_reopen_after_close,
    n69_info_lives_with_the_connection_record_info_with_the_slot,
);
