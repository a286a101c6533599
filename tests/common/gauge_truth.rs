//! The count gauges against the server's own count: one pool exporting through the
//! `metrics` facade (a recorder keeping every gauge) and through OpenTelemetry (the SDK's
//! in-memory exporter) at once, driven through a scripted scenario; after every step the
//! connections each path reports (idle + used) must be the connections the server has.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use poolscope::metric_names as m;
use poolscope::Pool;

use super::gauge_recorder::GaugeRecorder;

/// Where the pool's gauges are read, on both paths.
pub struct Gauges {
    name: String,
    facade: GaugeRecorder,
    exporter: InMemoryMetricExporter,
    provider: SdkMeterProvider,
}

impl Gauges {
    pub fn new(name: &str) -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Gauges {
            name: name.to_owned(),
            facade: GaugeRecorder::default(),
            exporter,
            provider,
        }
    }

    /// The pool, its instruments registered with both readers; the facade's gauges are
    /// published on every change (`gauge_interval(ZERO)`), so no lag is allowed.
    pub fn build<M: r2d2::ManageConnection>(
        &self,
        builder: poolscope::Builder<M>,
        manager: M,
    ) -> Pool<M> {
        metrics::with_local_recorder(&self.facade, || {
            builder
                .name(self.name.clone())
                .gauge_interval(Duration::ZERO)
                .otel_meter(self.provider.meter("poolscope"))
                .build(manager)
                .unwrap()
        })
    }

    /// (idle, used) through the facade and through OpenTelemetry.
    pub fn read(&self) -> [(f64, f64); 2] {
        let facade = self.facade.counts(&self.name);
        self.exporter.reset();
        self.provider.force_flush().unwrap();
        let metrics = self.exporter.get_finished_metrics().unwrap();
        let mut otel = (f64::NAN, f64::NAN);
        let last = metrics.last().expect("a collection");
        for metric in last
            .scope_metrics()
            .flat_map(|sm| sm.metrics())
            .filter(|x| x.name() == m::CONNECTION_COUNT)
        {
            if let AggregatedMetrics::I64(MetricData::Sum(sum)) = metric.data() {
                for point in sum.data_points() {
                    let attrs: Vec<(String, String)> = point
                        .attributes()
                        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect();
                    let has = |k: &str, v: &str| attrs.iter().any(|(ak, av)| ak == k && av == v);
                    if !has(m::POOL_NAME, &self.name) {
                        continue;
                    }
                    if has(m::STATE, "idle") {
                        otel.0 = point.value() as f64;
                    } else if has(m::STATE, "used") {
                        otel.1 = point.value() as f64;
                    }
                }
            }
        }
        [(facade.0, facade.1), otel]
    }
}

/// The scenario: get and return, hold 5, return them (2 overflow closed), invalidate one, the
/// server kills the idle connections then a get and return (pre-ping finds one dead), detach
/// one and close it, dispose. After each step both paths' idle + used must be `expected` and
/// the server's count (`server(expected)`: the server's count once it settles on expected).
/// The pool: QueuePool 3 + 2, pre_ping on, FIFO.
pub fn gauges_follow_the_server<M>(
    pool: &Pool<M>,
    gauges: &Gauges,
    server: &dyn Fn(i64) -> i64,
    kill_server_side: &dyn Fn(),
) where
    M: r2d2::ManageConnection,
    M::Error: Send,
{
    let check = |step: &str, expected: i64| {
        let on_server = server(expected);
        let [facade, otel] = gauges.read();
        let status = pool.status();
        assert_eq!(
            on_server, expected,
            "{step}: the server has {on_server} connections; {status}"
        );
        for (path, (idle, used)) in [("facade", facade), ("opentelemetry", otel)] {
            assert_eq!(
                (idle + used) as i64,
                on_server,
                "{step}: {path} reports {idle} idle + {used} used, the server has {on_server}; \
                 {status}"
            );
        }
    };
    drop(pool.get().unwrap());
    check("get and return", 1);
    let held: Vec<_> = (0..5).map(|_| pool.get().unwrap()).collect();
    check("hold 5", 5);
    drop(held);
    check("return 5 (2 overflow closed)", 3);
    pool.get().unwrap().invalidate();
    check("invalidate one", 2);
    kill_server_side();
    drop(pool.get().unwrap());
    check("server killed the idle ones, then get and return", 1);
    drop(pool.get().unwrap().detach());
    check("detach one and close it", 1);
    pool.dispose();
    check("dispose", 0);
}
