//! User code the pool calls — listeners, a metrics recorder publishing on every change —
//! runs outside the pool's lock, so it may look at its own pool (`status()`) without
//! deadlocking, on both fronts.
// `pub` items of local helper modules.
#![allow(unreachable_pub, missing_debug_implementations)]
mod common;

use poolscope::{CheckinEvent, ConnectionEvent, InvalidateEvent, ResetEvent};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, FakeConn};
use poolscope::{ListenerError, PoolListener, Status};

/// The pool under test, for the callbacks to look at.
type Mirror = Arc<OnceLock<TestPool>>;

fn look(mirror: &Mirror) -> Option<Status> {
    mirror.get().map(TestPool::status)
}

struct Looks(Mirror);

impl PoolListener<FakeConn> for Looks {
    fn connect(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        look(&self.0);
        Ok(())
    }
    fn checkout(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        look(&self.0);
        Ok(())
    }
    fn checkin(&self, _event: CheckinEvent<'_, FakeConn>) {
        look(&self.0);
    }
    fn reset(&self, _event: ResetEvent<'_, FakeConn>) {
        look(&self.0);
    }
    fn invalidate(&self, _event: InvalidateEvent<'_, FakeConn>) {
        look(&self.0);
    }
    fn close(&self, _event: ConnectionEvent<'_, FakeConn>) {
        look(&self.0);
    }
    fn detach(&self, _event: ConnectionEvent<'_, FakeConn>) {
        look(&self.0);
    }
}

/// A recorder whose gauges look at the pool whenever they are set.
mod looking_recorder {
    use std::sync::Arc;

    use metrics::{
        Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    pub struct LooksOnSet(pub super::Mirror);

    impl GaugeFn for LooksOnSet {
        fn increment(&self, _: f64) {}
        fn decrement(&self, _: f64) {}
        fn set(&self, _: f64) {
            super::look(&self.0);
        }
    }

    pub struct Recording(pub super::Mirror);

    impl Recorder for Recording {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
            Counter::noop()
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(Arc::new(LooksOnSet(Arc::clone(&self.0))))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }
}

fn listeners_and_a_recorder_may_call_status(front: Front) {
    let mirror: Mirror = Arc::default();
    let recorder = looking_recorder::Recording(Arc::clone(&mirror));
    let db = Db::new();
    let pool = metrics::with_local_recorder(&recorder, || {
        TestPool::build(
            front,
            &db,
            Opts {
                gauge_interval: Some(Duration::ZERO),
                ..Opts::queue(1, 1, Duration::from_secs(2)).listener(Looks(Arc::clone(&mirror)))
            },
        )
    });
    let _ = mirror.set(pool.clone());
    // On a thread of its own, so that a deadlock fails the test instead of hanging it.
    let done = std::thread::spawn(move || {
        for _ in 0..3 {
            let a = pool.get().unwrap();
            let b = pool.get().unwrap();
            a.invalidate();
            b.detach_and_close();
            drop(pool.get().unwrap());
            pool.dispose();
        }
        pool.settled()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "a callback deadlocked"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(done.join().unwrap().checked_out, 0);
}

on_both_fronts!(listeners_and_a_recorder_may_call_status);
