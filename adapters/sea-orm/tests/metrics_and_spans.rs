//! A SeaORM pool reports through the core's metrics and spans: a scripted QueuePool scenario
//! (pool_size 2, max_overflow 1: three checkouts held, a fourth times out, all returned) gives
//! exact values. (One test in this file: tracing's per-callsite interest cache is shared by
//! the file's threads.)
#![cfg(all(feature = "sqlite", feature = "metrics"))]

mod common;
#[path = "../../diesel/tests/common/pool_metrics.rs"]
mod pool_metrics;
#[path = "../../diesel/tests/common/span_fields.rs"]
mod span_fields;

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use pool_metrics::PoolMetrics;
use poolscope::metric_names::*;
use poolscope_sea_orm::Builder;
use sea_orm::{ConnectionTrait, TransactionTrait};
use span_fields::SpanFields;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn a_queue_pool_scenario_gives_exact_metrics_and_spans() {
    let target = common::Target::sqlite("so_metrics");
    let url = common::sqlx_url(&target);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let spans = SpanFields::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = metrics::with_local_recorder(&recorder, || {
        Builder::new()
            .pool_size(2)
            .max_overflow(1)
            .pool_timeout(Duration::from_millis(200))
            .name("orders")
            // Exact gauges at the end: published on every change, not on a timer.
            .gauge_interval(Duration::ZERO)
            .build(&url)
            .unwrap()
    });
    runtime.block_on(async {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(db.begin().await.unwrap());
        }
        let error = db.execute_unprepared("SELECT 1").await.unwrap_err();
        assert!(error.to_string().contains("QueuePool limit of size 2 overflow 1 reached"));
        for txn in held {
            txn.rollback().await.unwrap();
        }
        let status = common::settled(&db).await;
        assert_eq!(
            status.to_string(),
            "Pool size: 2  Connections in pool: 2 Current Overflow: 0 Current Checked out connections: 0"
        );
        // A statement that leaves a transaction open is reset on its way back.
        db.execute_unprepared("BEGIN").await.unwrap();
        common::settled(&db).await;
    });

    let spans = spans.0.lock().unwrap().clone();
    for expected in [
        "poolscope.checkout / db.client.connection.pool.name = orders",
        "poolscope.checkout / db.system.name = sqlite",
        "poolscope.checkout / poolscope.checkout.outcome = new",
        "poolscope.checkout / poolscope.checkout.outcome = overflow",
        "poolscope.checkout / poolscope.checkout.outcome = timeout",
        "poolscope.checkout / error.type = timeout",
        "poolscope.checkout / poolscope.checkout.outcome = idle",
        "poolscope.reset / poolscope.reset.action = rollback",
    ] {
        assert!(
            spans.iter().any(|s| s == expected),
            "{expected} not in {spans:#?}"
        );
    }

    let metrics = PoolMetrics::new(snapshotter.snapshot(), "orders");
    let find = |kind, name, labels| metrics.get(kind, name, labels);
    let gauge = |name, labels| find(MetricKind::Gauge, name, labels);
    let counter = |name, labels| find(MetricKind::Counter, name, labels);
    assert_eq!(
        gauge(CONNECTION_COUNT, &[(STATE, "idle")]),
        &DebugValue::Gauge(2.0.into())
    );
    assert_eq!(
        gauge(CONNECTION_COUNT, &[(STATE, "used")]),
        &DebugValue::Gauge(0.0.into())
    );
    assert_eq!(gauge(PENDING_REQUESTS, &[]), &DebugValue::Gauge(0.0.into()));
    assert_eq!(gauge(CONNECTION_MAX, &[]), &DebugValue::Gauge(3.0.into()));
    assert_eq!(counter(TIMEOUTS, &[]), &DebugValue::Counter(1));
    assert_eq!(counter(OVERFLOW_OPENED, &[]), &DebugValue::Counter(1));
    assert_eq!(counter(OVERFLOW_CLOSED, &[]), &DebugValue::Counter(1));
    assert_eq!(
        counter(RESETS, &[(RESET_ACTION, "rollback"), (RESET_OUTCOME, "ok")]),
        &DebugValue::Counter(1)
    );
    match find(MetricKind::Histogram, WAIT_TIME, &[]) {
        // Three checkouts that got a connection, one that timed out, the BEGIN's.
        DebugValue::Histogram(values) => assert_eq!(values.len(), 5),
        other => panic!("wait_time is {other:?}"),
    }
}
