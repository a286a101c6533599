//! What instrumentation costs on a checkout + return cycle.
//!
//! ```sh
//! cargo bench --bench instrumentation_overhead                        # features on
//! cargo bench --bench instrumentation_overhead --no-default-features  # features off
//! ```
//! Compare `cycle/no_recorder` between the two runs (features compiled in, nothing listening),
//! and `cycle/metrics_recorder` against `cycle/no_recorder` in the first (a
//! metrics-exporter-prometheus recorder installed). Absolute times on a shared machine are
//! noise; the ratios are the result.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use poolscope::{metric_names, Pool, ResetOnReturn};

/// A manager whose connections cost nothing, so the pool's own work is what is measured.
struct Noop;

#[derive(Debug)]
struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("never")
    }
}

impl std::error::Error for Never {}

impl r2d2::ManageConnection for Noop {
    type Connection = u64;
    type Error = Never;
    fn connect(&self) -> Result<u64, Never> {
        Ok(0)
    }
    fn is_valid(&self, _: &mut u64) -> Result<(), Never> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

fn pool(name: &str) -> Pool<Noop> {
    let pool = Pool::builder()
        .name(name)
        .pool_size(8)
        .reset_on_return(ResetOnReturn::None)
        .build(Noop)
        .unwrap();
    drop(pool.get().unwrap()); // warm: one idle connection
    pool
}

fn cycle(pool: &Pool<Noop>) {
    let mut conn = pool.get().unwrap();
    *conn = black_box(*conn + 1);
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cycle");
    let quiet = pool("bench-quiet");
    group.bench_function("no_recorder", |b| b.iter(|| cycle(&quiet)));

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(metric_names::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let recorded = metrics::with_local_recorder(&recorder, || pool("bench-recorded"));
    group.bench_function("metrics_recorder", |b| b.iter(|| cycle(&recorded)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
