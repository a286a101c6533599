//! One dashboard serves both metric paths: one pool exporting through the `metrics` facade
//! (metrics-exporter-prometheus, `with_recommended_naming(true)` and poolscope's buckets) and
//! through OpenTelemetry (opentelemetry-prometheus, default configuration) at once renders the
//! same series with the same values: every counter, every gauge, and every histogram's count,
//! sum and bucket counts (the same durations are recorded to both, so the sums agree to the
//! last bit of rounding). On both fronts.
//!
//! OpenTelemetry's exporter adds `otel_scope_*` labels and a `target_info` series; the
//! comparison leaves those out.
#![cfg(all(feature = "metrics", feature = "opentelemetry"))]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use opentelemetry::metrics::MeterProvider as _;
use poolscope::metric_names as m;

/// Series (name and sorted labels, the pool's name and OpenTelemetry's scope left out) ->
/// value, for one pool's series.
type Series = BTreeMap<(String, Vec<(String, String)>), f64>;

fn series(text: &str, pool: &str) -> Series {
    let mut out = Series::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut labels: Vec<(String, String)> = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect();
        if name == "target_info"
            || !labels
                .iter()
                .any(|(k, v)| k == "db_client_connection_pool_name" && v == pool)
        {
            continue;
        }
        labels.retain(|(k, _)| {
            !k.starts_with("otel_scope_") && k != "db_client_connection_pool_name"
        });
        for (k, v) in &mut labels {
            if k == "le" && v != "+Inf" {
                // `0.0001` and `1e-4` are the same bound.
                *v = format!("{:e}", v.parse::<f64>().unwrap());
            }
        }
        labels.sort();
        out.insert((name.to_owned(), labels), value.parse().unwrap());
    }
    out
}

/// A scenario that makes every family count at least once.
fn scenario(pool: &TestPool, db: &Db, clock: &poolscope::ManualClock) {
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap()); // overflow opened
    assert!(pool.get().is_err()); // timeout
    drop((a, b)); // overflow closed, resets ok
    clock.advance(Duration::from_secs(61));
    drop(pool.get().unwrap()); // recycled
    pool.get().unwrap().invalidate(); // invalidation
    drop(pool.get().unwrap());
    db.restart();
    drop(pool.get().unwrap()); // pre-ping failure
    db.fail_resets(true);
    drop(pool.get().unwrap()); // reset error
    db.fail_resets(false);
    let held = pool.get().unwrap();
    while pool.status().suspected_leaks == 0 {
        std::thread::sleep(Duration::from_millis(5)); // leak suspected, then returned
    }
    drop(held);
    pool.settled();
}

fn both_exporters_render_the_same_values(front: Front) {
    let facade = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(m::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let handle = facade.handle();
    let (provider, registry) = common::otel_prometheus::meter_provider();

    let db = Db::new();
    let clock = poolscope::ManualClock::new();
    let pool = metrics::with_local_recorder(&facade, || {
        TestPool::build(
            front,
            &db,
            Opts {
                name: Some("prom-both".into()),
                pre_ping: true,
                recycle: Some(Duration::from_secs(60)),
                leak_threshold: Some(Duration::from_millis(10)),
                clock: Some(clock.clone()),
                // Published on every change: the facade's gauges are exact when rendered.
                gauge_interval: Some(Duration::ZERO),
                meter: Some(provider.meter("poolscope")),
                ..Opts::queue(1, 1, Duration::from_millis(20))
            },
        )
    });
    scenario(&pool, &db, &clock);

    let facade_text = handle.render();
    let otel_text = common::otel_prometheus::scrape(&registry);

    let from_facade = series(&facade_text, "prom-both");
    let from_otel = series(&otel_text, "prom-both");
    let names = |s: &Series| {
        s.keys()
            .map(|(name, _)| name.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        names(&from_facade),
        names(&from_otel),
        "\nfacade:\n{facade_text}\notel:\n{otel_text}"
    );
    for (key, facade_value) in &from_facade {
        let otel_value = from_otel.get(key).unwrap_or_else(|| {
            panic!("{key:?} = {facade_value} on the facade, absent on OpenTelemetry:\n{otel_text}")
        });
        let close = (facade_value - otel_value).abs() <= 1e-9 * facade_value.abs().max(1.0);
        assert!(
            close,
            "{key:?}: facade {facade_value}, OpenTelemetry {otel_value}"
        );
    }
    assert_eq!(
        from_facade.len(),
        from_otel.len(),
        "the same series on both"
    );

    // Values, not only names: the scenario's own counts.
    let value = |name: &str, labels: &[(&str, &str)]| {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        from_facade[&(name.to_owned(), labels)]
    };
    assert_eq!(value("db_client_connection_timeouts_total", &[]), 1.0);
    assert_eq!(value("poolscope_overflow_opened_total", &[]), 1.0);
    assert_eq!(value("poolscope_pre_ping_failures_total", &[]), 1.0);
    // The two held through the 20 ms timeout, and the one held on purpose (threshold 10 ms).
    assert_eq!(value("poolscope_leaks_suspected_total", &[]), 3.0);
    assert_eq!(
        value("db_client_connection_wait_time_seconds_count", &[]),
        9.0
    );
    assert_eq!(
        value(
            "db_client_connection_count",
            &[("db_client_connection_state", "idle")]
        ),
        1.0
    );

    // The names the dashboards query, spelled out once:
    for family in [
        "db_client_connection_count",
        "db_client_connection_max",
        "db_client_connection_idle_max",
        "db_client_connection_idle_min",
        "db_client_connection_pending_requests",
        "db_client_connection_timeouts_total",
        "db_client_connection_create_time_seconds_count",
        "db_client_connection_wait_time_seconds_bucket",
        "db_client_connection_use_time_seconds_sum",
        "poolscope_overflow_opened_total",
        "poolscope_overflow_closed_total",
        "poolscope_resets_total",
        "poolscope_recycles_total",
        "poolscope_invalidations_total",
        "poolscope_pre_ping_failures_total",
        "poolscope_closes_total",
        "poolscope_leaks_current",
        "poolscope_leaks_suspected_total",
    ] {
        assert!(
            names(&from_facade).contains(family),
            "{family} missing:\n{facade_text}"
        );
    }
}

on_both_fronts!(both_exporters_render_the_same_values);
