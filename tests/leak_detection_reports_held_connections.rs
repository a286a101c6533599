//! Leak detection: a connection held past the threshold is reported once at WARN with the pool
//! name, how long and where it was checked out; its return is reported; counter and gauge
//! follow. The watcher logs from its own thread, so this binary captures through a global
//! subscriber, and each test reads only its own pool's lines.
#![cfg(feature = "metrics")]
mod common;

use common::pool_lines::PoolLines;
use common::{builder, Db};
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

#[test]
fn a_held_connection_is_reported_once_and_its_return_too() {
    lines();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let pool = metrics::with_local_recorder(&recorder, || {
        builder()
            .name("leaky")
            .leak_detection_threshold(Duration::from_millis(40))
            .build(Db::new().manager())
            .unwrap()
    });
    let held = pool.get().unwrap();
    let line = line!() - 1;
    let quick = pool.get().unwrap();
    drop(quick); // returned well within the threshold: never reported
    std::thread::sleep(Duration::from_millis(250));
    let warnings = of_pool("leaky", tracing::Level::WARN);
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
    assert!(warning.contains("on pool leaky: held for 0."), "{warning}");
    assert!(
        warning.contains(&format!("checked out at {}:{line}:", file!())),
        "{warning}"
    );
    assert_eq!(pool.status().suspected_leaks, 1);
    drop(held);
    assert_eq!(pool.status().suspected_leaks, 0);
    let infos = of_pool("leaky", tracing::Level::INFO);
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
            .find(|(k, ..)| {
                k.key().name() == name && k.key().labels().any(|l| l.value() == "leaky")
            })
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

#[test]
fn without_a_threshold_nothing_is_watched() {
    lines();
    let pool = builder()
        .name("not-watched")
        .build(Db::new().manager())
        .unwrap();
    let held = pool.get().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    drop(held);
    assert!(of_pool("not-watched", tracing::Level::WARN).is_empty());
    assert_eq!(pool.status().suspected_leaks, 0);
}

#[test]
fn the_watcher_does_not_keep_a_dropped_pool_alive() {
    lines();
    let db = Db::new();
    let pool = builder()
        .name("dropped-watcher")
        .leak_detection_threshold(Duration::from_millis(20))
        .build(db.manager())
        .unwrap();
    drop(pool.get().unwrap()); // starts the watcher; the connection stays idle in the pool
    assert_eq!(db.open(), 1);
    drop(pool);
    assert_eq!(
        db.open(),
        0,
        "the core was freed (the watcher holds only a weak reference)"
    );
}
