//! A Diesel pool is named after its URL without the credentials, carries `db.system.name`
//! from its backend, and reports through the core's metrics and spans. (One test in this
//! file: tracing's per-callsite interest cache is shared by the file's threads, and a test
//! without a subscriber running beside it could switch the checkout span off for it.)
mod common;
#[path = "common/pool_metrics.rs"]
mod pool_metrics;
#[path = "common/span_fields.rs"]
mod span_fields;

use diesel::SqliteConnection;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use pool_metrics::PoolMetrics;
use poolscope::metric_names::*;
use poolscope_diesel::Pool;
use span_fields::SpanFields;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn a_sqlite_pool_is_named_after_its_path_and_reports_its_metrics_and_spans() {
    let target = common::Target::sqlite("names");
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let spans = SpanFields::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        let pool = metrics::with_local_recorder(&recorder, || {
            Pool::<SqliteConnection>::builder()
                .pool_size(1)
                .max_overflow(0)
                // Exact gauges at the end: published on every change, not on a timer.
                .gauge_interval(std::time::Duration::ZERO)
                .build(target.url.as_str())
                .unwrap()
        });
        assert_eq!(pool.name(), target.url);
        drop(pool.get().unwrap());
        // Returned with a transaction open: rolled back. The first return had none, so no
        // ROLLBACK was sent for it (Diesel's transaction manager says so).
        let mut conn = pool.get().unwrap();
        {
            use diesel::connection::{AnsiTransactionManager, TransactionManager};
            AnsiTransactionManager::begin_transaction(&mut *conn).unwrap();
        }
        drop(conn);
    });

    let spans = spans.0.lock().unwrap().clone();
    for expected in [
        format!(
            "poolscope.checkout / db.client.connection.pool.name = {}",
            target.url
        ),
        "poolscope.checkout / db.system.name = sqlite".to_owned(),
        "poolscope.checkout / poolscope.checkout.outcome = new".to_owned(),
        "poolscope.checkout / poolscope.checkout.outcome = idle".to_owned(),
    ] {
        assert!(spans.contains(&expected), "{expected} not in {spans:#?}");
    }

    let metrics = PoolMetrics::new(snapshotter.snapshot(), &target.url);
    let find = |kind, name, labels| metrics.get(kind, name, labels);
    assert_eq!(
        find(MetricKind::Gauge, CONNECTION_COUNT, &[(STATE, "idle")]),
        &DebugValue::Gauge(1.0.into())
    );
    assert_eq!(
        find(MetricKind::Gauge, CONNECTION_COUNT, &[(STATE, "used")]),
        &DebugValue::Gauge(0.0.into())
    );
    assert_eq!(
        find(
            MetricKind::Counter,
            RESETS,
            &[(RESET_ACTION, "rollback"), (RESET_OUTCOME, "ok")]
        ),
        &DebugValue::Counter(1)
    );
    match find(MetricKind::Histogram, USE_TIME, &[]) {
        DebugValue::Histogram(values) => assert_eq!(values.len(), 2),
        other => panic!("use_time is {other:?}"),
    }
    match find(MetricKind::Histogram, CREATE_TIME, &[]) {
        DebugValue::Histogram(values) => assert_eq!(values.len(), 1),
        other => panic!("create_time is {other:?}"),
    }
}
