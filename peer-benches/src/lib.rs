//! poolscope side by side with r2d2, bb8 and deadpool: the managers and pools every bench
//! shares, so that each pool is measured on the same connections, sized and warmed the same
//! way. Not published; see `BENCHMARKS.md` at the workspace root for the results and
//! `peer-benches/run.sh` for the one command that reproduces them.
#![forbid(unsafe_code)]

pub mod drive;
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
