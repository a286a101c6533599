//! With a recorder and the publisher thread (`gauge_interval` not zero, the default 1 s), the
//! pool aggregates `wait_time` and `use_time` itself and hands them to the recorder every
//! interval: what a Prometheus exporter with `DURATION_BUCKETS` renders is every checkout, in
//! its own bucket, at most one interval late, and a pool dropped before its next flush loses
//! nothing. Through OpenTelemetry the durations are aggregated until the SDK collects: a
//! collection sees every one recorded before it, and a dropped pool's too. (That a batch
//! renders the same bucket counts and sum as the values recorded one by one is tested in
//! `src/instrument/batched.rs` against the same exporter and SDK.) Both fronts.
#![cfg(feature = "metrics")]
mod common;

use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use poolscope::metric_names as m;

fn exporter() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new()
        .set_buckets(m::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

/// The value of the rendered `<metric>[_<unit>]_count` line of `pool`, or with `le` its
/// `_bucket` line of that bound; 0 if absent. (opentelemetry-prometheus adds the unit to the
/// name, metrics-exporter-prometheus does not.)
fn rendered(text: &str, metric: &str, pool: &str, le: Option<&str>) -> f64 {
    let name = metric.replace('.', "_");
    let suffix = if le.is_some() { "_bucket" } else { "_count" };
    text.lines()
        .filter(|line| line.starts_with(&name) && line.contains(&format!("\"{pool}\"")))
        .filter(|line| line.split('{').next().unwrap().ends_with(suffix))
        .filter(|line| le.is_none_or(|le| line.contains(&format!("le=\"{le}\""))))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn pool(
    front: Front,
    db: &Db,
    recorder: &PrometheusRecorder,
    name: &str,
    every: Duration,
) -> TestPool {
    metrics::with_local_recorder(recorder, || {
        TestPool::build(
            front,
            db,
            Opts {
                name: Some(name.into()),
                gauge_interval: Some(every),
                ..Opts::queue(2, 0, Duration::from_secs(1))
            },
        )
    })
}

/// Both durations of `pool` rendered `n` times.
fn assert_counted(text: &str, pool: &str, n: f64) {
    for metric in [m::USE_TIME, m::WAIT_TIME] {
        assert_eq!(rendered(text, metric, pool, None), n, "{metric}: {text}");
    }
}

/// 10 checkouts returned at once, 10 held 5 ms.
fn twenty_checkouts(pool: &TestPool) {
    for _ in 0..10 {
        drop(pool.get().unwrap());
    }
    for _ in 0..10 {
        let conn = pool.get().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        drop(conn);
    }
    pool.settled();
}

fn every_checkout_arrives_within_one_interval(front: Front) {
    let (recorder, handle) = exporter();
    let db = Db::new();
    let every = Duration::from_millis(100);
    let pool = pool(front, &db, &recorder, "batched-interval", every);
    twenty_checkouts(&pool);
    let done = Instant::now();
    // At most one interval (and the publisher's scheduling) later, all of them are there.
    let text = loop {
        let text = handle.render();
        if rendered(&text, m::USE_TIME, "batched-interval", None) == 20.0
            || done.elapsed() > every * 5
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let arrived_in = done.elapsed();
    assert_counted(&text, "batched-interval", 20.0);
    // Within about one interval: three leave room for a publisher thread woken late on a
    // busy 2-core machine, and still tell a flush at the interval from none at all (the loop
    // above gives up at five).
    assert!(
        arrived_in <= every * 3,
        "flushed {arrived_in:?} after the last return, interval {every:?}"
    );
    // Each in its own bucket: the 5 ms holds are above 2.5 ms, all twenty below +Inf.
    let fast = rendered(&text, m::USE_TIME, "batched-interval", Some("0.0025"));
    assert!(
        fast <= 10.0,
        "a 5 ms hold counted at or below 2.5 ms: {text}"
    );
    assert_eq!(
        rendered(&text, m::USE_TIME, "batched-interval", Some("+Inf")),
        20.0
    );
    drop(pool);
}

fn a_dropped_pool_flushes_what_it_holds(front: Front) {
    let (recorder, handle) = exporter();
    let db = Db::new();
    // Never flushed by the timer during the test.
    let pool = pool(
        front,
        &db,
        &recorder,
        "batched-drop",
        Duration::from_secs(3600),
    );
    twenty_checkouts(&pool);
    let before = handle.render();
    // Aggregated, not yet handed over.
    assert_counted(&before, "batched-drop", 0.0);
    drop(pool);
    assert_counted(&handle.render(), "batched-drop", 20.0);
}

fn without_the_timer_every_duration_is_recorded_at_once(front: Front) {
    let (recorder, handle) = exporter();
    let db = Db::new();
    let pool = pool(front, &db, &recorder, "direct", Duration::ZERO);
    twenty_checkouts(&pool);
    let text = handle.render();
    assert_eq!(rendered(&text, m::USE_TIME, "direct", None), 20.0, "{text}");
}

on_both_fronts!(
    every_checkout_arrives_within_one_interval,
    a_dropped_pool_flushes_what_it_holds,
    without_the_timer_every_duration_is_recorded_at_once,
);

#[cfg(feature = "opentelemetry")]
use common::otel_prometheus::{meter_provider as meter, scrape};

#[cfg(feature = "opentelemetry")]
fn otel_pool(
    front: Front,
    db: &Db,
    provider: &opentelemetry_sdk::metrics::SdkMeterProvider,
    name: &str,
) -> TestPool {
    use opentelemetry::metrics::MeterProvider as _;
    TestPool::build(
        front,
        db,
        Opts {
            name: Some(name.into()),
            meter: Some(provider.meter("poolscope")),
            ..Opts::queue(2, 0, Duration::from_secs(1))
        },
    )
}

#[cfg(feature = "opentelemetry")]
fn opentelemetry_collects_every_duration_recorded_before_it(front: Front) {
    let (provider, registry) = meter();
    let db = Db::new();
    let pool = otel_pool(front, &db, &provider, "otel-batched");
    twenty_checkouts(&pool);
    // No thread, no wait: the scrape's collection hands them over.
    let text = scrape(&registry);
    assert_counted(&text, "otel-batched", 20.0);
    let fast = rendered(&text, m::USE_TIME, "otel-batched", Some("0.0025"));
    assert!(
        fast <= 10.0,
        "a 5 ms hold counted at or below 2.5 ms: {text}"
    );
    twenty_checkouts(&pool);
    assert_counted(&scrape(&registry), "otel-batched", 40.0);
    drop(pool);
}

#[cfg(feature = "opentelemetry")]
fn opentelemetry_gets_a_dropped_pools_durations(front: Front) {
    let (provider, registry) = meter();
    let db = Db::new();
    let pool = otel_pool(front, &db, &provider, "otel-dropped");
    twenty_checkouts(&pool);
    drop(pool);
    assert_counted(&scrape(&registry), "otel-dropped", 20.0);
}

#[cfg(feature = "opentelemetry")]
on_both_fronts!(
    opentelemetry_collects_every_duration_recorded_before_it,
    opentelemetry_gets_a_dropped_pools_durations,
);
