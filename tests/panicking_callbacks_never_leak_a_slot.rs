//! A panic in any user callback on the return path (the manager's `has_broken`, a listener)
//! frees the slot: the next checkout gets a connection at once, on both fronts. A panic that
//! happens while the thread is already unwinding never aborts the process.
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::{Db, FakeConn};
use poolscope::{ConnectionRecord, PoolListener};

fn one_slot(front: Front, db: &Db, opts: Opts) -> TestPool {
    TestPool::build(
        front,
        db,
        Opts {
            pool_size: 1,
            max_overflow: 0,
            timeout: Some(Duration::from_millis(500)),
            ..opts
        },
    )
}

/// The slot is whole again: nothing checked out, and a checkout works at once.
fn assert_slot_back(pool: &TestPool) {
    let status = pool.settled();
    assert_eq!(status.checked_out, 0, "{status}");
    let started = Instant::now();
    let conn = pool.get();
    assert!(
        conn.is_ok(),
        "{:?} after {:?}",
        conn.err(),
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_millis(400));
}

fn a_panic_in_has_broken_frees_the_slot(front: Front) {
    let db = Db::new();
    let pool = one_slot(front, &db, Opts::default());
    let conn = pool.get().unwrap();
    db.panic_has_broken(true);
    let panicked = catch_unwind(AssertUnwindSafe(|| drop(conn)));
    db.panic_has_broken(false);
    assert!(panicked.is_err(), "the panic carries on to the caller");
    assert_slot_back(&pool);
    assert_eq!(
        db.live(),
        1,
        "the connection whose check panicked was closed"
    );
}

fn a_panic_in_has_broken_while_unwinding_does_not_abort(front: Front) {
    let db = Db::new();
    let pool = one_slot(front, &db, Opts::default());
    db.panic_has_broken(true);
    let p = pool.clone();
    // The holder panics; dropping the guard during that unwind panics again in has_broken.
    let outcome = std::thread::spawn(move || {
        let _conn = p.get().unwrap();
        panic!("the holder failed");
    })
    .join();
    db.panic_has_broken(false);
    assert!(outcome.is_err());
    assert_slot_back(&pool);
}

/// A listener that panics once, at its event.
struct PanicOn(&'static str, AtomicBool);

impl PanicOn {
    fn new(event: &'static str) -> Self {
        PanicOn(event, AtomicBool::new(true))
    }

    fn at(&self, event: &str) {
        if self.0 == event && self.1.swap(false, Ordering::SeqCst) {
            panic!("{event} listener panicked");
        }
    }
}

impl PoolListener<FakeConn> for PanicOn {
    fn checkin(&self, _: Option<&mut FakeConn>, _: &mut ConnectionRecord) {
        self.at("checkin");
    }
    fn detach(&self, _: &mut FakeConn, _: &mut ConnectionRecord) {
        self.at("detach");
    }
    fn close(&self, _: &mut FakeConn, _: &mut ConnectionRecord) {
        self.at("close");
    }
    fn reset(&self, _: &mut FakeConn, _: &mut ConnectionRecord, _: poolscope::ResetState) {
        self.at("reset");
    }
}

fn a_panicking_detach_listener_frees_the_slot(front: Front) {
    let db = Db::new();
    let pool = one_slot(front, &db, Opts::default().listener(PanicOn::new("detach")));
    let conn = pool.get().unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| conn.detach_and_close()));
    assert!(panicked.is_err());
    assert_slot_back(&pool);
}

fn panicking_checkin_reset_and_close_listeners_free_the_slot(front: Front) {
    for event in ["checkin", "reset", "close"] {
        let db = Db::new();
        let pool = one_slot(front, &db, Opts::default().listener(PanicOn::new(event)));
        let conn = pool.get().unwrap();
        // Closing happens on invalidation.
        let panicked = catch_unwind(AssertUnwindSafe(|| match event {
            "close" => conn.invalidate(),
            _ => drop(conn),
        }));
        // The async pool runs `checkin` after a reset that awaits, on a task of its own:
        // there the panic ends that task, not the caller.
        if front == Front::Blocking || event != "checkin" {
            assert!(panicked.is_err(), "{event}: the panic carries on");
        }
        assert_slot_back(&pool);
    }
}

on_both_fronts!(
    a_panic_in_has_broken_frees_the_slot,
    a_panic_in_has_broken_while_unwinding_does_not_abort,
    a_panicking_detach_listener_frees_the_slot,
    panicking_checkin_reset_and_close_listeners_free_the_slot,
);
