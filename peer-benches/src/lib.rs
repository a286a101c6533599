//! poolscope side by side with r2d2, bb8 and deadpool: the managers and pools every bench
//! shares, so that each pool is measured on the same connections, sized and warmed the same
//! way. Not published; see `BENCHMARKS.md` at the workspace root for the results and
//! `peer-benches/run.sh` for the one command that reproduces them.
#![forbid(unsafe_code)]

pub mod drive;
pub mod interleave;
pub mod noop;
pub mod peers;
pub mod report;
pub mod stats;

/// A Prometheus recorder as a service would install it (recommended naming, poolscope's
/// duration buckets), not exporting: install it with `metrics::with_local_recorder` around a
/// pool's `build()`.
pub fn prometheus_recorder() -> metrics_exporter_prometheus::PrometheusRecorder {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(poolscope::metric_names::DURATION_BUCKETS)
        .expect("poolscope's buckets are valid")
        .build_recorder()
}

/// An OpenTelemetry SDK meter provider read by opentelemetry-prometheus, as a service
/// exporting to Prometheus through OpenTelemetry runs it.
pub fn otel_meter_provider() -> opentelemetry_sdk::metrics::SdkMeterProvider {
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(prometheus::Registry::new())
        .build()
        .expect("a Prometheus exporter");
    opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(exporter)
        .build()
}

/// Runs the recorder's upkeep every 5 s on a thread of its own, as
/// `PrometheusBuilder::install_recorder` does, so its histograms' raw samples are drained, not
/// piled up for the whole run (which no exporting service sees).
pub fn drain_every_5s(handle: metrics_exporter_prometheus::PrometheusHandle) {
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        handle.run_upkeep();
    });
}

/// The leanest recorder the `metrics` facade can have with real storage: metrics-util's
/// registry of atomics (counters and gauges are `AtomicU64`s, histograms lock-free buckets).
/// It is what metrics-exporter-prometheus stores, without the exporter's idle-timeout
/// generation counter on every handle and its clock read on every histogram record, so a
/// pool's cost under it is mostly the pool's own.
pub struct AtomicRecorder(
    metrics_util::registry::Registry<metrics::Key, metrics_util::registry::AtomicStorage>,
);

impl AtomicRecorder {
    pub fn new() -> Self {
        AtomicRecorder(metrics_util::registry::Registry::atomic())
    }
}

impl Default for AtomicRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl metrics::Recorder for AtomicRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        self.0
            .get_or_create_counter(key, |c| metrics::Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        self.0
            .get_or_create_gauge(key, |g| metrics::Gauge::from_arc(g.clone()))
    }

    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0
            .get_or_create_histogram(key, |h| metrics::Histogram::from_arc(h.clone()))
    }
}
