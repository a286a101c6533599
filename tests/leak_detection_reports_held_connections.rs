//! Leak detection: a connection held past the threshold is reported once at WARN with the pool
//! name, how long and where it was checked out; its return is reported; counter and gauge
//! follow. The watcher logs from its own thread, so this binary captures through a global
//! subscriber, and each test reads only its own pool's lines. Both fronts.
#![cfg(feature = "metrics")]
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::pool_lines::PoolLines;
use common::Db;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use poolscope::metric_names as m;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

fn lines() -> &'static PoolLines {
    static LINES: OnceLock<PoolLines> = OnceLock::new();
    LINES.get_or_init(|| {
        let lines = PoolLines::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(lines.clone()))
            .unwrap();
        lines
    })
}

fn of_pool(pool: &str, level: tracing::Level) -> Vec<String> {
    lines()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.level == level && line.pool == pool)
        .map(|line| line.message.clone())
        .collect()
}

/// A pool named `name` on `front` (the name says which front, so that each test's lines
/// are its own).
fn named(front: Front, db: &Db, name: &str, threshold: Option<Duration>) -> (TestPool, String) {
    let name = format!("{name}-{front:?}");
    let opts = Opts {
        name: Some(name.clone()),
        leak_threshold: threshold,
        ..Opts::default()
    };
    (TestPool::build(front, db, opts), name)
}

fn a_held_connection_is_reported_once_and_its_return_too(front: Front) {
    lines();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (pool, leaky) = metrics::with_local_recorder(&recorder, || {
        named(front, &Db::new(), "leaky", Some(Duration::from_millis(40)))
    });
    let held = pool.get().unwrap();
    let line = line!() - 1;
    let quick = pool.get().unwrap();
    drop(quick); // returned well within the threshold: never reported
    std::thread::sleep(Duration::from_millis(250));
    let warnings = of_pool(&leaky, tracing::Level::WARN);
    assert_eq!(
        warnings.len(),
        1,
        "reported once, however long it is held: {warnings:?}"
    );
    let warning = &warnings[0];
    assert!(
        warning.starts_with("Connection leak detection triggered for connection "),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("on pool {leaky}: held for 0.")),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("checked out at {}:{line}:", file!())),
        "{warning}"
    );
    assert_eq!(pool.status().suspected_leaks, 1);
    drop(held);
    assert_eq!(pool.status().suspected_leaks, 0);
    let infos = of_pool(&leaky, tracing::Level::INFO);
    assert_eq!(infos.len(), 1, "{infos:?}");
    assert!(
        infos[0].starts_with("Previously reported leaked connection "),
        "{}",
        infos[0]
    );
    assert!(
        infos[0].contains(&format!("(checked out at {}:{line}:", file!())),
        "{}",
        infos[0]
    );

    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str| {
        snapshot
            .iter()
            .find(|(k, ..)| k.key().name() == name && k.key().labels().any(|l| l.value() == leaky))
            .map(|(.., v)| match v {
                DebugValue::Counter(n) => *n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.len() as f64,
            })
            .unwrap()
    };
    assert_eq!(value(m::LEAKS_SUSPECTED), 1.0);
    assert_eq!(
        value(m::LEAKS_CURRENT),
        0.0,
        "back to zero after the return"
    );
}

fn without_a_threshold_nothing_is_watched(front: Front) {
    lines();
    let (pool, name) = named(front, &Db::new(), "not-watched", None);
    let held = pool.get().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    drop(held);
    assert!(of_pool(&name, tracing::Level::WARN).is_empty());
    assert_eq!(pool.status().suspected_leaks, 0);
}

fn the_watcher_does_not_keep_a_dropped_pool_alive(front: Front) {
    lines();
    let db = Db::new();
    let (pool, _) = named(
        front,
        &db,
        "dropped-watcher",
        Some(Duration::from_millis(20)),
    );
    drop(pool.get().unwrap()); // starts the watcher; the connection stays idle in the pool
    assert_eq!(db.open(), 1);
    drop(pool);
    assert_eq!(
        db.open(),
        0,
        "the core was freed (the watcher holds only a weak reference)"
    );
}

on_both_fronts!(
    a_held_connection_is_reported_once_and_its_return_too,
    without_a_threshold_nothing_is_watched,
    the_watcher_does_not_keep_a_dropped_pool_alive,
);
