//! One dashboard serves both metric paths: the same scenario rendered by
//! metrics-exporter-prometheus (the `metrics` facade, `with_recommended_naming(true)` and
//! poolscope's buckets) and by opentelemetry-prometheus (default configuration) gives the same
//! series names with the same label keys.
//!
//! OpenTelemetry's exporter adds `otel_scope_*` labels and a `target_info` series, and reports
//! a counter only once it has counted; the facade registers every counter up front at 0. The
//! comparison ignores the former and treats an all-zero facade counter as not yet reported.
#![cfg(all(feature = "metrics", feature = "opentelemetry"))]
mod common;

use common::{builder, Db};
use opentelemetry::metrics::MeterProvider as _;
use poolscope::metric_names as m;
use prometheus::Encoder as _;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Family name -> label-key sets of its series, for one pool's series.
type Families = BTreeMap<String, BTreeSet<Vec<String>>>;

fn families(text: &str, pool: &str) -> Families {
    let histograms: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" histogram"))
        .collect();
    let mut values: BTreeMap<String, Vec<(Vec<String>, f64)>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if name == "target_info"
            || !labels.contains(&format!("db_client_connection_pool_name=\"{pool}\""))
        {
            continue;
        }
        let mut keys: Vec<String> = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| l.split_once('=').unwrap().0.to_owned())
            .filter(|k| !k.starts_with("otel_scope_"))
            .collect();
        keys.sort();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|family| histograms.contains(family))
            .unwrap_or(name);
        values
            .entry(family.to_owned())
            .or_default()
            .push((keys, value.parse().unwrap()));
    }
    values
        .into_iter()
        .filter(|(name, series)| {
            !(name.ends_with("_total") && series.iter().all(|(_, v)| *v == 0.0))
        })
        .map(|(name, series)| (name, series.into_iter().map(|(k, _)| k).collect()))
        .collect()
}

/// A scenario that makes every family count at least once.
fn scenario(
    builder: poolscope::Builder<common::FakeManager>,
    db: &Db,
) -> poolscope::Pool<common::FakeManager> {
    let clock = poolscope::ManualClock::new();
    let pool = builder
        .pool_size(1)
        .max_overflow(1)
        .pre_ping(true)
        .pool_recycle(Duration::from_secs(60))
        .pool_timeout(Duration::from_millis(20))
        .leak_detection_threshold(Duration::from_millis(10))
        .clock(clock.clone())
        .build(db.manager())
        .unwrap();
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
    pool
}

#[test]
fn both_exporters_render_the_same_series_and_label_keys() {
    let facade = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(m::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let handle = facade.handle();
    let db = Db::new();
    let _pool =
        metrics::with_local_recorder(&facade, || scenario(builder().name("prom-facade"), &db));
    let facade_text = handle.render();

    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(exporter)
        .build();
    let db = Db::new();
    let _pool = scenario(
        builder()
            .name("prom-otel")
            .otel_meter(provider.meter("poolscope")),
        &db,
    );
    let mut otel_text = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut otel_text)
        .unwrap();
    let otel_text = String::from_utf8(otel_text).unwrap();

    let from_facade = families(&facade_text, "prom-facade");
    let from_otel = families(&otel_text, "prom-otel");
    assert_eq!(
        from_facade.keys().collect::<Vec<_>>(),
        from_otel.keys().collect::<Vec<_>>(),
        "\nfacade:\n{facade_text}\notel:\n{otel_text}"
    );
    assert_eq!(from_facade, from_otel);
    // The names the dashboards query, spelled out once:
    for family in [
        "db_client_connection_count",
        "db_client_connection_max",
        "db_client_connection_idle_max",
        "db_client_connection_idle_min",
        "db_client_connection_pending_requests",
        "db_client_connection_timeouts_total",
        "db_client_connection_create_time_seconds",
        "db_client_connection_wait_time_seconds",
        "db_client_connection_use_time_seconds",
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
            from_facade.contains_key(family),
            "{family} missing:\n{facade_text}"
        );
    }
}
