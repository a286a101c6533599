//! Checkout, connect and reset spans, bridged to OpenTelemetry with tracing-opentelemetry and
//! collected by the SDK's in-memory exporter: names, parentage and attributes.
mod common;

use common::{builder, Db};
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use poolscope::ConnectionEvent;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

fn export(scenario: impl FnOnce()) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("poolscope-test")));
    tracing::subscriber::with_default(subscriber, scenario);
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        })
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[test]
fn checkout_connect_and_reset_spans_with_outcomes_and_parentage() {
    let spans = export(|| {
        let pool = builder()
            .name("spans")
            .db_system_name("postgresql")
            .pool_size(1)
            .max_overflow(1)
            .pool_timeout(Duration::from_millis(20))
            .build(Db::new().manager())
            .unwrap();
        let first = pool.get().unwrap(); // new
        let second = pool.get().unwrap(); // overflow
        assert!(pool.get().is_err()); // timeout
        drop(second); // overflow closed after its rollback
        drop(first);
        drop(pool.get().unwrap()); // idle
    });
    let checkouts = named(&spans, "poolscope.checkout");
    let outcomes: Vec<_> = checkouts
        .iter()
        .map(|s| attr(s, "poolscope.checkout.outcome").unwrap())
        .collect();
    assert_eq!(outcomes, ["new", "overflow", "timeout", "idle"]);
    for span in &checkouts {
        assert_eq!(
            attr(span, "db.client.connection.pool.name").as_deref(),
            Some("spans")
        );
        assert_eq!(attr(span, "db.system.name").as_deref(), Some("postgresql"));
        assert_eq!(
            attr(span, "poolscope.pool.class").as_deref(),
            Some("QueuePool")
        );
    }
    let timeout = checkouts[2];
    assert_eq!(attr(timeout, "error.type").as_deref(), Some("timeout"));
    assert!(
        matches!(timeout.status, Status::Error { .. }),
        "{:?}",
        timeout.status
    );
    assert_eq!(attr(checkouts[0], "error.type"), None);
    assert_eq!(checkouts[0].status, Status::Unset);

    let connects = named(&spans, "poolscope.connect");
    assert_eq!(connects.len(), 2, "one per new connection");
    for (connect, checkout) in connects.iter().zip(&checkouts[..2]) {
        assert_eq!(
            connect.parent_span_id,
            checkout.span_context.span_id(),
            "connect is a child of its checkout"
        );
        assert_eq!(
            connect.span_context.trace_id(),
            checkout.span_context.trace_id()
        );
        assert_eq!(
            attr(connect, "db.system.name").as_deref(),
            Some("postgresql")
        );
    }

    let resets = named(&spans, "poolscope.reset");
    assert_eq!(resets.len(), 3, "one per return");
    for reset in resets {
        assert_eq!(
            attr(reset, "poolscope.reset.action").as_deref(),
            Some("rollback")
        );
        assert_eq!(
            attr(reset, "db.client.connection.pool.name").as_deref(),
            Some("spans")
        );
    }
}

#[test]
fn failures_carry_error_type_and_error_status() {
    let db = Db::new();
    let spans = export(|| {
        let pool = builder()
            .name("spans-errors")
            .pool_size(1)
            .build(db.manager())
            .unwrap();
        db.stop();
        assert!(pool.get().is_err());
        db.start();
        let c = pool.get().unwrap();
        db.fail_resets(true);
        drop(c);
        db.fail_resets(false);
    });
    let checkouts = named(&spans, "poolscope.checkout");
    assert_eq!(attr(checkouts[0], "error.type").as_deref(), Some("connect"));
    assert!(matches!(checkouts[0].status, Status::Error { .. }));
    let connects = named(&spans, "poolscope.connect");
    assert_eq!(attr(connects[0], "error.type").as_deref(), Some("connect"));
    assert_eq!(attr(connects[1], "error.type"), None);
    let reset = named(&spans, "poolscope.reset")[0];
    assert_eq!(attr(reset, "error.type").as_deref(), Some("reset"));
    assert!(matches!(reset.status, Status::Error { .. }));
    assert!(
        named(&spans, "poolscope.checkout")
            .iter()
            .all(|s| attr(s, "db.system.name").is_none()),
        "no system set, no attribute"
    );
}

#[tokio::test]
async fn async_pool_spans_have_the_same_shape() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("poolscope-test")));
    let _guard = tracing::subscriber::set_default(subscriber);
    let pool = poolscope::AsyncPool::builder()
        .name("async-spans")
        .reset_with(common::FakeAsyncReset)
        .build(Db::new().manager())
        .await
        .unwrap();
    pool.get().await.unwrap().close().await;
    drop(pool.get().await.unwrap()); // the reset runs on a spawned task
    while pool.status().checked_in < 1 {
        tokio::task::yield_now().await;
    }
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let checkouts = named(&spans, "poolscope.checkout");
    let outcomes: Vec<_> = checkouts
        .iter()
        .map(|s| attr(s, "poolscope.checkout.outcome").unwrap())
        .collect();
    assert_eq!(outcomes, ["new", "idle"]);
    let connect = named(&spans, "poolscope.connect")[0];
    assert_eq!(connect.parent_span_id, checkouts[0].span_context.span_id());
    assert_eq!(
        named(&spans, "poolscope.reset").len(),
        2,
        "inline (close) and spawned (drop)"
    );
}

/// An idle connection handed out at once gets a checkout span that is never entered
/// (nothing runs inside it): it is still the caller's span's child, with its outcome, on
/// both fronts; with a checkout listener (code that runs inside the checkout) the span is
/// entered around it as before.
fn an_idle_checkout_span_is_a_child_of_the_callers_span(front: common::fronts::Front) {
    use common::fronts::{Opts, TestPool};
    let db = Db::new();
    let spans = export(|| {
        let request = tracing::info_span!("request");
        let _entered = request.enter();
        let quiet = TestPool::build(front, &db, Opts::queue(1, 0, Duration::from_secs(1)));
        drop(quiet.get().unwrap()); // new
        drop(quiet.get().unwrap()); // idle, at once
        let listened = TestPool::build(
            front,
            &db,
            Opts::queue(1, 0, Duration::from_secs(1)).listener(SpanInCheckout),
        );
        drop(listened.get().unwrap()); // new
        drop(listened.get().unwrap()); // idle, after the checkout listener
    });
    let request = named(&spans, "request")[0].span_context.span_id();
    let checkouts = named(&spans, "poolscope.checkout");
    let outcomes: Vec<_> = checkouts
        .iter()
        .map(|s| attr(s, "poolscope.checkout.outcome"))
        .collect();
    let expected = ["new", "idle", "new", "idle"].map(|o| Some(o.to_owned()));
    assert_eq!(outcomes, expected);
    for checkout in &checkouts {
        assert_eq!(checkout.parent_span_id, request, "{front:?}");
    }
    let inside: Vec<_> = named(&spans, "in_listener")
        .iter()
        .map(|s| s.parent_span_id)
        .collect();
    let listened = [&checkouts[2], &checkouts[3]].map(|c| c.span_context.span_id());
    assert_eq!(
        inside, listened,
        "the listener runs inside its checkout's span"
    );
}

/// A checkout listener that opens a span of its own.
struct SpanInCheckout;

impl poolscope::PoolListener<common::FakeConn> for SpanInCheckout {
    fn checkout(
        &self,
        _event: ConnectionEvent<'_, common::FakeConn>,
    ) -> Result<(), poolscope::ListenerError> {
        tracing::info_span!("in_listener").in_scope(|| Ok(()))
    }
}

on_both_fronts!(an_idle_checkout_span_is_a_child_of_the_callers_span);
