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

    type HooksMirror = Arc<std::sync::OnceLock<poolscope::hooks::PoolHooks>>;

    /// Looks at the hooks' status on every counter, gauge and histogram update.
    pub struct LooksOnAny(HooksMirror);

    impl metrics::CounterFn for LooksOnAny {
        fn increment(&self, _: u64) {
            super::look_at_hooks(&self.0);
        }
        fn absolute(&self, _: u64) {
            super::look_at_hooks(&self.0);
        }
    }

    impl GaugeFn for LooksOnAny {
        fn increment(&self, _: f64) {
            super::look_at_hooks(&self.0);
        }
        fn decrement(&self, _: f64) {
            super::look_at_hooks(&self.0);
        }
        fn set(&self, _: f64) {
            super::look_at_hooks(&self.0);
        }
    }

    impl metrics::HistogramFn for LooksOnAny {
        fn record(&self, _: f64) {
            super::look_at_hooks(&self.0);
        }
    }

    /// A recorder every metric of which looks at the hooks' status.
    pub struct EveryMetric(pub HooksMirror);

    impl Recorder for EveryMetric {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(LooksOnAny(Arc::clone(&self.0))))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(Arc::new(LooksOnAny(Arc::clone(&self.0))))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(LooksOnAny(Arc::clone(&self.0))))
        }
    }

    /// A tracing layer that looks at the hooks' status on every event (an `echo_pool` line).
    pub struct EveryLine(pub HooksMirror);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EveryLine {
        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            super::look_at_hooks(&self.0);
        }
    }

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

/// The hooks path (SeaORM's sqlx pool): every metric a recorder takes and every `echo_pool`
/// line a subscriber sees is handed over outside the hooks' lock, so either may look at the
/// pool's `status()`. Driven as sqlx drives it: opens (one overflow), idle checkouts with a
/// recycle and a failed pre-ping, returns kept and closed, a failed reset, a timeout, a
/// connection lost underneath, a dispose.
#[test]
fn a_recorder_and_a_subscriber_may_call_status_on_the_hooks_path() {
    use poolscope::hooks::{HooksBuilder, PoolHooks};
    use tracing_subscriber::layer::SubscriberExt;

    let mirror: Arc<OnceLock<PoolHooks>> = Arc::default();
    let recorder = looking_recorder::EveryMetric(Arc::clone(&mirror));
    let subscriber =
        tracing_subscriber::registry().with(looking_recorder::EveryLine(Arc::clone(&mirror)));
    let hooks = metrics::with_local_recorder(&recorder, || {
        HooksBuilder::new()
            .pool_size(1)
            .max_overflow(1)
            .pool_recycle(Duration::from_secs(60))
            .pre_ping(true)
            .gauge_interval(Duration::ZERO)
            .echo_pool(poolscope::EchoPool::Debug)
            .name("hooks-look")
            .build()
            .unwrap()
    });
    let _ = mirror.set(hooks.clone());
    // On a thread of its own, so that a deadlock fails the test instead of hanging it.
    let done = std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber, || {
            metrics::with_local_recorder(&recorder, || drive_like_sqlx(&hooks))
        })
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "a recorder or a subscriber deadlocked on the hooks' lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = done.join().unwrap();
    assert_eq!(status.checked_out, 0, "{status}");
    assert!(
        mirror_looks() > 20,
        "the recorder and the subscriber looked only {} times",
        mirror_looks()
    );
}

/// What sqlx's callbacks would tell the hooks over a few checkouts.
fn drive_like_sqlx(hooks: &poolscope::hooks::PoolHooks) -> Status {
    use poolscope::hooks::IdleCheck;
    use poolscope::ResetAction;

    let error = std::io::Error::other("server closed the connection");
    // Two opened: the second is overflow.
    hooks.connected(Some(hooks.start_acquire().unwrap()));
    hooks.connected(Some(hooks.start_acquire().unwrap()));
    // Both back: the first kept, the overflow one closed; a failed reset closes one.
    assert_eq!(hooks.returning(), Some(ResetAction::Rollback));
    hooks.reset_done(ResetAction::Rollback, Ok(()));
    assert!(hooks.check_in());
    hooks.returning();
    let _span = hooks.reset_span(ResetAction::Rollback);
    hooks.reset_done(ResetAction::Rollback, Err(&error));
    // Idle checkouts: a pre-ping that fails, an old connection replaced, one handed out.
    assert_eq!(hooks.idle_taken(Duration::from_secs(1)), IdleCheck::Ping);
    hooks.ping_failed(&error);
    hooks.connected(Some(hooks.start_acquire().unwrap()));
    hooks.returning();
    hooks.nothing_to_reset(ResetAction::Rollback);
    assert!(hooks.check_in());
    assert_eq!(
        hooks.idle_taken(Duration::from_secs(61)),
        IdleCheck::Replace
    );
    let acquire = hooks.start_acquire().unwrap();
    hooks.connected(Some(acquire));
    hooks.returning();
    assert!(hooks.check_in());
    // Opened after the failed pre-ping invalidated the pool: kept.
    assert_eq!(hooks.idle_taken(Duration::ZERO), IdleCheck::Ping);
    hooks.handed_idle(Some(hooks.start_acquire().unwrap()));
    hooks.returning();
    assert!(hooks.check_in());
    // A checkout that times out, one cancelled, one failing.
    let _timed_out = hooks.start_acquire().unwrap().timed_out();
    drop(hooks.start_acquire().unwrap());
    hooks.start_acquire().unwrap().failed("connect");
    // The other pool closed its idle connection underneath, then was closed.
    hooks.reconcile(|| 0);
    hooks.connected(None);
    hooks.returning();
    hooks.check_in();
    hooks.disposed();
    hooks.status()
}

static LOOKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn mirror_looks() -> usize {
    LOOKS.load(std::sync::atomic::Ordering::SeqCst)
}

fn look_at_hooks(mirror: &Arc<OnceLock<poolscope::hooks::PoolHooks>>) {
    if let Some(hooks) = mirror.get() {
        let _ = hooks.status();
        LOOKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
