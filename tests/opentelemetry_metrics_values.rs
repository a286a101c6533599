//! The OpenTelemetry metrics path, collected by the SDK's in-memory exporter: exact values
//! after the same scripted scenario as the `metrics` facade test, on both fronts.
#![cfg(feature = "opentelemetry")]
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use poolscope::metric_names as m;
use std::time::Duration;

struct Collected(Vec<ResourceMetrics>);

impl Collected {
    /// The newest data point of `name` whose attributes, pool name aside, are `labels`.
    fn point(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let rm = self.0.last()?;
        let wanted = |attrs: Vec<(String, String)>| {
            let mut attrs: Vec<_> = attrs
                .into_iter()
                .filter(|(k, _)| k != m::POOL_NAME)
                .collect();
            attrs.sort();
            let mut want: Vec<_> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            want.sort();
            attrs == want
        };
        let kv = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| -> Vec<(String, String)> {
            it.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect()
        };
        for metric in rm
            .scope_metrics()
            .flat_map(|sm| sm.metrics())
            .filter(|x| x.name() == name)
        {
            let found = match metric.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                    .data_points()
                    .find(|p| wanted(kv(&mut p.attributes())))
                    .map(|p| p.value() as f64),
                AggregatedMetrics::I64(MetricData::Sum(sum)) => sum
                    .data_points()
                    .find(|p| wanted(kv(&mut p.attributes())))
                    .map(|p| p.value() as f64),
                AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                    .data_points()
                    .find(|p| wanted(kv(&mut p.attributes())))
                    .map(|p| p.count() as f64),
                other => panic!("{name}: unexpected {other:?}"),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.point(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?}"))
    }
}

/// Runs `scenario`, keeping what it returns alive until the metrics are collected.
fn collect<T>(scenario: impl FnOnce(opentelemetry::metrics::Meter) -> T) -> Collected {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let alive = scenario(provider.meter("poolscope"));
    provider.force_flush().unwrap();
    drop(alive);
    Collected(exporter.get_finished_metrics().unwrap())
}

fn three_checkouts_one_timeout_all_returned(front: Front) {
    let got = collect(|meter| {
        let pool = TestPool::build(
            front,
            &Db::new(),
            Opts {
                name: Some("otel-scenario".into()),
                meter: Some(meter),
                ..Opts::queue(2, 1, Duration::from_millis(50))
            },
        );
        let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
        assert!(pool.get().is_err());
        drop(held);
        pool // alive at collection, so its counts are observed
    });
    assert_eq!(got.value(m::CONNECTION_COUNT, &[(m::STATE, "used")]), 0.0);
    assert_eq!(got.value(m::CONNECTION_COUNT, &[(m::STATE, "idle")]), 2.0);
    assert_eq!(got.value(m::PENDING_REQUESTS, &[]), 0.0);
    assert_eq!(got.value(m::CONNECTION_MAX, &[]), 3.0);
    assert_eq!(got.value(m::IDLE_MAX, &[]), 2.0);
    assert_eq!(got.value(m::IDLE_MIN, &[]), 0.0);
    assert_eq!(got.value(m::TIMEOUTS, &[]), 1.0);
    assert_eq!(got.value(m::OVERFLOW_OPENED, &[]), 1.0);
    assert_eq!(got.value(m::OVERFLOW_CLOSED, &[]), 1.0);
    assert_eq!(got.value(m::CLOSES, &[(m::CLOSE_REASON, "overflow")]), 1.0);
    assert_eq!(
        got.value(
            m::RESETS,
            &[(m::RESET_ACTION, "rollback"), (m::RESET_OUTCOME, "ok")]
        ),
        3.0
    );
    assert_eq!(got.value(m::CREATE_TIME, &[]), 3.0, "histogram count");
    assert_eq!(
        got.value(m::WAIT_TIME, &[]),
        4.0,
        "three checkouts and the timeout"
    );
    assert_eq!(got.value(m::USE_TIME, &[]), 3.0);
    assert_eq!(
        got.point(
            m::RESETS,
            &[(m::RESET_ACTION, "rollback"), (m::RESET_OUTCOME, "error")]
        ),
        Some(0.0),
        "never recorded, there at zero"
    );
}

/// Every counter series of the contract exists at 0 from the pool's build, so that
/// Prometheus' `increase()` counts the first event (a series first seen at 1 hides it).
fn every_counter_series_exists_at_zero_from_build(front: Front) {
    let got = collect(|meter| {
        TestPool::build(
            front,
            &Db::new(),
            Opts {
                name: Some("otel-zero".into()),
                meter: Some(meter),
                ..Opts::default()
            },
        )
    });
    for name in [
        m::TIMEOUTS,
        m::OVERFLOW_OPENED,
        m::OVERFLOW_CLOSED,
        m::PRE_PING_FAILURES,
        m::LEAKS_SUSPECTED,
    ] {
        assert_eq!(got.point(name, &[]), Some(0.0), "{name}");
    }
    for action in ["rollback", "commit"] {
        for outcome in ["ok", "error"] {
            let labels = [(m::RESET_ACTION, action), (m::RESET_OUTCOME, outcome)];
            assert_eq!(got.point(m::RESETS, &labels), Some(0.0), "{labels:?}");
        }
    }
    for reason in ["age", "pool_invalidated", "soft_invalidated"] {
        let labels = [(m::RECYCLE_REASON, reason)];
        assert_eq!(got.point(m::RECYCLES, &labels), Some(0.0), "{reason}");
    }
    for reason in [
        "requested",
        "ping_failed",
        "reset_failed",
        "broken",
        "listener",
    ] {
        let labels = [(m::INVALIDATE_REASON, reason)];
        assert_eq!(got.point(m::INVALIDATIONS, &labels), Some(0.0), "{reason}");
    }
    for reason in [
        "overflow",
        "no_pooling",
        "dispose",
        "invalidated",
        "recycled",
        "evicted",
        "checkout_failed",
    ] {
        let labels = [(m::CLOSE_REASON, reason)];
        assert_eq!(got.point(m::CLOSES, &labels), Some(0.0), "{reason}");
    }
}

fn a_dropped_pool_stops_reporting_counts(front: Front) {
    let got = collect(|meter| {
        let pool = TestPool::build(
            front,
            &Db::new(),
            Opts {
                name: Some("otel-dropped".into()),
                meter: Some(meter),
                ..Opts::default()
            },
        );
        drop(pool.get().unwrap());
        drop(pool);
    });
    assert_eq!(got.point(m::CONNECTION_COUNT, &[(m::STATE, "idle")]), None);
    assert_eq!(got.value(m::WAIT_TIME, &[]), 1.0, "what it recorded stays");
}

on_both_fronts!(
    every_counter_series_exists_at_zero_from_build,
    three_checkouts_one_timeout_all_returned,
    a_dropped_pool_stops_reporting_counts,
);
