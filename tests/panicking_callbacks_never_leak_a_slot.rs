//! A panic in any user callback on the return path (the manager's `has_broken`, a listener)
//! frees the slot: the next checkout gets a connection at once, on both fronts. A panic that
//! happens while the thread is already unwinding never aborts the process.
// `pub` items of local helper modules.
#![allow(unreachable_pub, missing_debug_implementations)]
mod common;

use poolscope::{CheckinEvent, ConnectionEvent, ResetEvent};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::{Db, FakeConn};
use poolscope::PoolListener;

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

/// The slot is whole again: nothing checked out, and a checkout works (a leaked slot makes
/// it time out: the pool's limit is one).
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
    fn checkin(&self, _event: CheckinEvent<'_, FakeConn>) {
        self.at("checkin");
    }
    fn detach(&self, _event: ConnectionEvent<'_, FakeConn>) {
        self.at("detach");
    }
    fn close(&self, _event: ConnectionEvent<'_, FakeConn>) {
        self.at("close");
    }
    fn reset(&self, _event: ResetEvent<'_, FakeConn>) {
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

/// A panic in the manager's `is_valid` (the pre-ping) carries on out of `get()`; the
/// connection, whose state is unknown, is closed and its slot freed.
fn a_panic_in_the_pre_ping_frees_the_slot(front: Front) {
    common::quiet_deliberate_panics();
    let db = Db::new();
    let pool = one_slot(
        front,
        &db,
        Opts {
            pre_ping: true,
            ..Opts::default()
        },
    );
    drop(pool.get().unwrap());
    db.panic_pings(true);
    let panicked = catch_unwind(AssertUnwindSafe(|| pool.get().map(drop)));
    db.panic_pings(false);
    assert!(panicked.is_err(), "the panic carries on to the caller");
    assert_eq!(db.live(), 0, "the connection was closed");
    assert_slot_back(&pool);
}

on_both_fronts!(
    a_panic_in_the_pre_ping_frees_the_slot,
    a_panic_in_has_broken_frees_the_slot,
    a_panic_in_has_broken_while_unwinding_does_not_abort,
    a_panicking_detach_listener_frees_the_slot,
    panicking_checkin_reset_and_close_listeners_free_the_slot,
);

/// A `metrics` recorder whose return-path instruments (use time, resets, invalidations,
/// closes, overflow closes) panic when used.
mod panicking_recorder {
    use std::sync::Arc;

    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
        Recorder, SharedString, Unit,
    };

    pub struct Panics;

    impl CounterFn for Panics {
        fn increment(&self, _: u64) {
            panic!("the recorder panicked on purpose");
        }
        fn absolute(&self, _: u64) {
            panic!("the recorder panicked on purpose");
        }
    }

    impl GaugeFn for Panics {
        fn increment(&self, _: f64) {
            panic!("the recorder panicked on purpose");
        }
        fn decrement(&self, _: f64) {
            panic!("the recorder panicked on purpose");
        }
        fn set(&self, _: f64) {
            panic!("the recorder panicked on purpose");
        }
    }

    impl HistogramFn for Panics {
        fn record(&self, _: f64) {
            panic!("the recorder panicked on purpose");
        }
    }

    /// Not zero-sized: the pool takes a zero-sized recorder for none.
    pub struct PanickingRecorder(#[allow(dead_code)] u8);

    impl PanickingRecorder {
        pub fn new() -> Self {
            PanickingRecorder(1)
        }
    }

    impl Recorder for PanickingRecorder {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            // What a return does panics; what a checkout does works.
            let returning = ["overflow.closed", "resets", "invalidations", "closes"];
            if returning.iter().any(|name| key.name().ends_with(name)) {
                Counter::from_arc(Arc::new(Panics))
            } else {
                Counter::noop()
            }
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            // Gauges are set once at build (the maxima): those must work for the build.
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            // The checkout's own wait and create times work, so that checkouts succeed and
            // the returns meet the panics.
            if key.name().contains("use_time") {
                Histogram::from_arc(Arc::new(Panics))
            } else {
                Histogram::noop()
            }
        }
    }
}

/// The pool's recorder panics on what returns record: returns, invalidations, overflow
/// closes and resets all meet a panic, and no slot is ever lost.
fn a_panicking_recorder_never_leaks_a_slot(front: Front) {
    common::quiet_deliberate_panics();
    let db = Db::new();
    let recorder = panicking_recorder::PanickingRecorder::new();
    let pool = metrics::with_local_recorder(&recorder, || {
        TestPool::build(
            front,
            &db,
            Opts {
                pool_size: 1,
                max_overflow: 1,
                timeout: Some(Duration::from_millis(500)),
                ..Opts::default()
            },
        )
    });
    for round in 0..20 {
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        let returned = catch_unwind(AssertUnwindSafe(|| {
            if round % 2 == 0 {
                a.invalidate();
            } else {
                drop(a);
            }
        }));
        let overflow_returned = catch_unwind(AssertUnwindSafe(|| drop(b)));
        if front == Front::Blocking {
            assert!(
                returned.is_err() && overflow_returned.is_err(),
                "round {round}"
            );
        }
        let status = pool.settled();
        assert_eq!(status.checked_out, 0, "round {round}: {status}");
    }
    assert!(db.live() <= 2);
}

on_both_fronts!(a_panicking_recorder_never_leaks_a_slot);
