//! SQLAlchemy checklist I: detach, on both fronts.
mod common;

use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog};

/// What closing a detached connection does to it: the blocking pool rolls it back first
/// (SQLAlchemy's `reset` with `terminate_only`); the async pool cannot await in `Drop` and
/// closes it (closing ends any transaction on the server).
fn closing_detached(front: Front) -> Vec<&'static str> {
    match front {
        Front::Blocking => vec!["rollback", "close"],
        Front::Async => vec!["close"],
    }
}

/// I48 (`test_detach`): a detached connection frees its slot at once (the next checkout
/// opens a new connection) and is closed only when the detached handle is.
fn i48_detach_frees_the_slot_and_closes_on_drop(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 0, Duration::from_secs(30)));
    let c1 = pool.get().unwrap().detach();
    let c2 = pool.get().unwrap();
    assert_eq!(db.connects(), 2);
    assert_eq!(db.calls(c1.id).iter().filter(|c| **c == "close").count(), 0);
    let id = c1.id;
    drop(c1);
    assert_eq!(db.calls(id), closing_detached(front));
    drop(c2);
}

/// I49 (`test_detach`, `test_detach_close`): `detach` at detach time, `close_detached` at
/// close, no `checkin`.
fn i49_detach_and_close_detached_events_without_checkin(front: Front) {
    let log = EventLog::default();
    let pool = TestPool::build(front, &Db::new(), Opts::default().listener(log.clone()));
    let c = pool.get().unwrap();
    let id = c.id;
    log.take();
    let d = c.detach();
    assert_eq!(log.take(), vec![format!("detach:{id}")]);
    drop(d);
    let events = log.take();
    assert_eq!(
        events,
        vec![
            format!("reset:{id}:terminate"),
            format!("close_detached:{id}")
        ]
    );
}

/// I50 (`test_info`, `test_rec_info`): the detached handle carries the connection's info
/// (moved, not copied: Rust's translation); the freed slot is reused with empty info and its
/// record_info intact.
fn i50_detached_handle_keeps_info_and_the_slot_keeps_record_info(front: Front) {
    struct Foo2;
    struct RecordMark;
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts::queue(1, 0, Duration::from_secs(30)),
    );
    let mut c = pool.get().unwrap();
    let slot = c.record().slot_id();
    c.record_mut().info_mut().insert(Foo2);
    c.record_mut().record_info_mut().insert(RecordMark);
    let d = c.detach();
    assert!(d.info().get::<Foo2>().is_some());
    let next = pool.get().unwrap();
    assert_eq!(next.record().slot_id(), slot);
    assert!(next.record().info().is_empty());
    assert!(next.record().record_info().get::<RecordMark>().is_some());
    drop(d);
}

/// `into_inner` hands over the raw connection with no reset and no event.
fn into_inner_takes_the_raw_connection(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::default());
    let raw = pool.get().unwrap().detach().into_inner();
    assert_eq!(db.calls(raw.id), Vec::<&str>::new());
    assert_eq!(pool.status().checked_out, 0);
}

/// A detached handle says which pool it left and the id it had there, never the connection.
fn detached_handles_are_debug(front: Front) {
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts {
            name: Some("orders".into()),
            ..Opts::default()
        },
    );
    let conn = pool.get().unwrap();
    let id = conn.connection_id();
    let detached = conn.detach();
    let text = detached.debug();
    assert!(text.contains(r#"pool: "orders""#), "{text}");
    assert!(text.contains(&format!("connection_id: {id}")), "{text}");
    assert!(text.ends_with(".. }"), "{text}");
}

on_both_fronts!(
    detached_handles_are_debug,
    i48_detach_frees_the_slot_and_closes_on_drop,
    i49_detach_and_close_detached_events_without_checkin,
    i50_detached_handle_keeps_info_and_the_slot_keeps_record_info,
    into_inner_takes_the_raw_connection,
);
