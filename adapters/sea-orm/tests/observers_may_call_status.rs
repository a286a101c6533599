//! A metrics recorder and a tracing subscriber (what `echo_pool` writes to) are user code:
//! the SeaORM pool hands them its events and counts outside its lock, so either may look at
//! the pool's `status()` without deadlocking it. Both are installed globally, as an app
//! installs them, so that sqlx's own tasks (which run the hooks) reach them too: a test
//! binary of its own.
#![cfg(feature = "sqlite")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use poolscope_sea_orm::{Builder, DatabasePool};
use sea_orm::{ConnectionTrait, TransactionTrait};
use tracing_subscriber::layer::SubscriberExt;

static POOL: OnceLock<DatabasePool> = OnceLock::new();
static LOOKS: AtomicUsize = AtomicUsize::new(0);

fn look() {
    if let Some(pool) = POOL.get() {
        let _ = pool.status();
        LOOKS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every counter, gauge and histogram update looks at the pool.
struct Looks;

impl CounterFn for Looks {
    fn increment(&self, _: u64) {
        look();
    }
    fn absolute(&self, _: u64) {
        look();
    }
}

impl GaugeFn for Looks {
    fn increment(&self, _: f64) {
        look();
    }
    fn decrement(&self, _: f64) {
        look();
    }
    fn set(&self, _: f64) {
        look();
    }
}

impl HistogramFn for Looks {
    fn record(&self, _: f64) {
        look();
    }
}

struct LookingRecorder;

impl Recorder for LookingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Looks))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Looks))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Looks))
    }
}

/// Every event (an `echo_pool` line) looks at the pool.
struct LooksOnEvents;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LooksOnEvents {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        look();
    }
}

#[test]
fn a_recorder_and_a_subscriber_may_call_status_on_a_sea_orm_pool() {
    metrics::set_global_recorder(LookingRecorder).unwrap();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(LooksOnEvents))
        .unwrap();
    // The work on a runtime of its own, on a thread of its own: a deadlock stops that
    // runtime's workers (and its timers), so the watchdog is this thread.
    let done = std::thread::spawn(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(statements_in_three_tasks())
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the pool deadlocked: a recorder or a subscriber that looks at status() hung it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    done.join().unwrap();
    assert!(
        LOOKS.load(Ordering::SeqCst) > 10,
        "the recorder and the subscriber looked {} times",
        LOOKS.load(Ordering::SeqCst)
    );
}

/// Opens (one overflow), returns kept and closed, transactions rolled back on return.
async fn statements_in_three_tasks() {
    let file = std::env::temp_dir().join(format!("poolscope_observers_{}.db", std::process::id()));
    let db = Builder::new()
        .defaults(poolscope::Defaults::SQLALCHEMY)
        .pool_size(1)
        .max_overflow(1)
        .pre_ping(true)
        .echo_pool(poolscope::EchoPool::Debug)
        .gauge_interval(Duration::ZERO)
        .build(&format!("sqlite://{}?mode=rwc", file.display()))
        .unwrap();
    let _ = POOL.set(db.clone());
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    if i % 3 == 0 {
                        let tx = db.begin().await.unwrap();
                        tx.execute_unprepared("SELECT 1").await.unwrap();
                        drop(tx);
                    } else {
                        db.execute_unprepared("SELECT 1").await.unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let _ = std::fs::remove_file(file);
}
