//! A password in the database URL never appears in anything poolscope writes: log lines,
//! span names and fields, metric names and labels (both paths), error texts, `Debug` output.
//! The pool is named from the URL, the manager's own `Debug` carries the URL, and the scenario
//! goes through every event, span and counter the pool has.
#![cfg(all(feature = "metrics", feature = "opentelemetry"))]
mod common;

use common::{Db, FakeConn, FakeError, FakeManager};
use opentelemetry::metrics::MeterProvider as _;
use poolscope::{EchoPool, Pool, PoolClass};
use prometheus::Encoder as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const PASSWORD: &str = "hunter2-Zq9";
const URL: &str =
    "postgres://app:hunter2-Zq9@db.internal:5432/orders?password=hunter2-Zq9&sslmode=require";

/// A manager that, like many, keeps its URL (and shows it in `Debug`).
struct UrlManager {
    #[allow(dead_code)]
    url: String,
    inner: FakeManager,
}

impl std::fmt::Debug for UrlManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlManager")
            .field("url", &self.url)
            .finish()
    }
}

impl r2d2::ManageConnection for UrlManager {
    type Connection = FakeConn;
    type Error = FakeError;
    fn connect(&self) -> Result<FakeConn, FakeError> {
        self.inner.connect()
    }
    fn is_valid(&self, conn: &mut FakeConn) -> Result<(), FakeError> {
        self.inner.is_valid(conn)
    }
    fn has_broken(&self, conn: &mut FakeConn) -> bool {
        self.inner.has_broken(conn)
    }
}

/// Everything the tracing side sees: span names, span fields, event fields.
#[derive(Clone, Default)]
struct Everything(Arc<Mutex<String>>);

struct AllFields<'a>(&'a mut String);

impl tracing::field::Visit for AllFields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Everything {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut out = self.0.lock().unwrap();
        out.push_str(&format!("\nspan {}", attrs.metadata().name()));
        attrs.record(&mut AllFields(&mut out));
    }
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        values.record(&mut AllFields(&mut self.0.lock().unwrap()));
    }
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut out = self.0.lock().unwrap();
        out.push_str(&format!("\nevent {}", event.metadata().target()));
        event.record(&mut AllFields(&mut out));
    }
}

#[test]
fn the_password_appears_nowhere() {
    let traced = Everything::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(traced.clone()))
        .unwrap();
    let mut written = String::new();

    let facade = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .build_recorder();
    let facade_handle = facade.handle();
    let registry = prometheus::Registry::new();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(
            opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()
                .unwrap(),
        )
        .build();

    let db = Db::new();
    let clock = poolscope::ManualClock::new();
    let builder = Pool::builder()
        .name_from_url(URL)
        .reset_with(common::fake_reset)
        .echo_pool(EchoPool::Debug)
        .db_system_name("postgresql")
        .pool_size(1)
        .max_overflow(1)
        .pre_ping(true)
        .pool_recycle(Duration::from_secs(60))
        .pool_timeout(Duration::from_millis(20))
        .leak_detection_threshold(Duration::from_millis(10))
        .clock(clock.clone())
        .otel_meter(provider.meter("poolscope"));
    written.push_str(&format!("{builder:?}"));
    let manager = UrlManager {
        url: URL.to_owned(),
        inner: db.manager(),
    };
    assert!(
        format!("{manager:?}").contains(PASSWORD),
        "the manager itself does show it"
    );
    let pool = metrics::with_local_recorder(&facade, || builder.build(manager).unwrap());
    assert_eq!(pool.name(), "postgres://db.internal:5432/orders");

    let a = pool.get().unwrap();
    let mut b = pool.get().unwrap();
    written.push_str(&format!("{pool:?} {a:?} {b:?} {}", pool.status()));
    let timeout = pool.get().unwrap_err();
    written.push_str(&format!("{timeout} {timeout:?}"));
    b.soft_invalidate();
    while pool.status().suspected_leaks == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(b);
    a.invalidate();
    clock.advance(Duration::from_secs(61));
    drop(pool.get().unwrap());
    db.restart();
    let detached = pool.get().unwrap().detach();
    drop(detached);
    db.stop();
    pool.invalidate_all();
    let connect = pool.get().unwrap_err();
    written.push_str(&format!("{connect} {connect:?}"));
    db.start();
    db.fail_resets(true);
    drop(pool.get().unwrap());
    db.fail_resets(false);
    pool.dispose();
    written.push_str(&format!("{}", pool.status()));

    let assertion = Pool::builder()
        .name_from_url(URL)
        .pool_class(PoolClass::Assertion)
        .reset_with(common::fake_reset)
        .build(UrlManager {
            url: URL.to_owned(),
            inner: db.manager(),
        })
        .unwrap();
    let _held = assertion.get().unwrap();
    let refused = assertion.get().unwrap_err();
    written.push_str(&format!("{refused} {refused:?} {assertion:?}"));

    written.push_str(&facade_handle.render());
    let mut otel = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut otel)
        .unwrap();
    written.push_str(&String::from_utf8(otel).unwrap());
    let traced = traced.0.lock().unwrap().clone();
    written.push_str(&traced);

    for needed in [
        "Invalidate connection",
        "poolscope.checkout",
        "poolscope.reset",
        "Connection leak detection",
        "poolscope_closes_total",
        "QueuePool limit",
        "database is stopped",
    ] {
        assert!(written.contains(needed), "the scenario reached {needed}");
    }
    assert!(
        written.contains("db.internal:5432/orders"),
        "the pool's name is there, without credentials"
    );
    assert!(
        !written.contains(PASSWORD),
        "the password leaked:\n{written}"
    );
    assert!(
        !written.contains("app:"),
        "the user name leaked:\n{written}"
    );
}
