//! A password in the database URL never appears in anything poolscope writes: log lines,
//! span names and fields, metric names and labels (both paths), error texts, `Debug` output.
//! The pool is named from the URL, the manager's own `Debug` carries the URL, and the scenario
//! goes through every event, span and counter the pool has. Both fronts.
#![cfg(all(feature = "metrics", feature = "opentelemetry"))]
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use opentelemetry::metrics::MeterProvider as _;
use poolscope::{EchoPool, PoolClass};
use prometheus::Encoder as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const PASSWORD: &str = "hunter2-Zq9";
const URL: &str =
    "postgres://app:hunter2-Zq9@db.internal:5432/orders?password=hunter2-Zq9&sslmode=require";

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

/// What the global subscriber saw (both fronts' tests write to it; neither may leak).
fn traced() -> &'static Everything {
    static TRACED: OnceLock<Everything> = OnceLock::new();
    TRACED.get_or_init(|| {
        let traced = Everything::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(traced.clone()),
        )
        .unwrap();
        traced
    })
}

fn the_password_appears_nowhere(front: Front) {
    let traced = traced();
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
    let opts = Opts {
        url: Some(URL.to_owned()),
        echo: EchoPool::Debug,
        db_system: Some("postgresql".into()),
        pre_ping: true,
        recycle: Some(Duration::from_secs(60)),
        leak_threshold: Some(Duration::from_millis(10)),
        clock: Some(clock.clone()),
        meter: Some(provider.meter("poolscope")),
        ..Opts::queue(1, 1, Duration::from_millis(20))
    };
    assert!(
        format!("{:?}", db.manager_with_url(URL)).contains(PASSWORD),
        "the manager itself does show it"
    );
    let pool = metrics::with_local_recorder(&facade, || TestPool::build(front, &db, opts));
    assert_eq!(pool.name(), "db.internal:5432/orders");

    let a = pool.get().unwrap();
    let mut b = pool.get().unwrap();
    written.push_str(&format!(
        "{} {} {} {}",
        pool.debug(),
        a.debug(),
        b.debug(),
        pool.status()
    ));
    let timeout = pool.get().err().unwrap();
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
    let connect = pool.get().err().unwrap();
    written.push_str(&format!("{connect} {connect:?}"));
    db.start();
    db.fail_resets(true);
    drop(pool.get().unwrap());
    db.fail_resets(false);
    pool.dispose();
    written.push_str(&format!("{}", pool.status()));

    let assertion = TestPool::build(
        front,
        &db,
        Opts {
            url: Some(URL.to_owned()),
            ..Opts::class(PoolClass::Assertion)
        },
    );
    let _held = assertion.get().unwrap();
    let refused = assertion.get().err().unwrap();
    written.push_str(&format!("{refused} {refused:?} {}", assertion.debug()));

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

on_both_fronts!(the_password_appears_nowhere);
