//! Many callers on one warmed pool: 1, 4, 16 and 64 workers over pools of 8 and 16, each
//! checkout held across one yield (thread or task) so that with more workers than
//! connections callers really wait. Blocking: threads, poolscope against r2d2. Async: tasks on
//! a multi-threaded Tokio runtime, poolscope against bb8 and deadpool. Criterion reports the
//! time per checkout of the whole run (lower is higher throughput).
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench contended
//! ```
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use poolscope_peer_benches::drive;
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Poolscope, PoolscopeAsync, R2d2,
};

/// Worker counts measured.
const WORKERS: [usize; 4] = [1, 4, 16, 64];

fn threads<P: BlockingPool>(group: &mut BenchmarkGroup<'_, WallTime>, pool: &P, workers: usize) {
    group.bench_function(P::NAME, |b| {
        b.iter_custom(|iters| {
            let (per_worker, scale) = drive::split(iters, workers);
            drive::blocking(pool, workers, per_worker, Hold::Yield).mul_f64(scale)
        })
    });
}

fn tasks<P: AsyncPool>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    pool: &P,
    workers: usize,
) {
    group.bench_function(P::NAME, |b| {
        b.iter_custom(|iters| {
            let (per_worker, scale) = drive::split(iters, workers);
            drive::tasks(rt, pool, workers, per_worker, Hold::Yield).mul_f64(scale)
        })
    });
}

fn bench(c: &mut Criterion) {
    let rt = drive::runtime();
    for size in [8, 16] {
        let poolscope = Poolscope::new(size, false);
        let r2d2 = R2d2::new(size, false);
        for workers in WORKERS {
            let mut group = c.benchmark_group(format!("contended_blocking_pool{size}_w{workers}"));
            group.throughput(Throughput::Elements(1));
            threads(&mut group, &poolscope, workers);
            threads(&mut group, &r2d2, workers);
            group.finish();
        }

        let poolscope = rt.block_on(PoolscopeAsync::new(size, false));
        let bb8 = rt.block_on(Bb8::new(size, false));
        let deadpool = rt.block_on(Deadpool::new(size, false));
        for workers in WORKERS {
            let mut group = c.benchmark_group(format!("contended_async_pool{size}_w{workers}"));
            group.throughput(Throughput::Elements(1));
            tasks(&mut group, &rt, &poolscope, workers);
            tasks(&mut group, &rt, &bb8, workers);
            tasks(&mut group, &rt, &deadpool, workers);
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
