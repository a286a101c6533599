//! One caller, a warmed pool: what a checkout + return costs. Blocking: poolscope against
//! r2d2; async: poolscope against bb8 and deadpool. Pools of 8 and 16, with the checkout test
//! off, then on (`validated`).
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench uncontended
//! ```
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use poolscope_peer_benches::drive;
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Mobc, Poolscope, PoolscopeAsync, R2d2,
};

fn blocking<P: BlockingPool>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pool: P,
) {
    group.bench_function(P::NAME, |b| b.iter(|| pool.cycle(Hold::Touch)));
}

fn nonblocking<P: AsyncPool>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    pool: P,
) {
    group.bench_function(P::NAME, |b| {
        b.iter_custom(|iters| drive::one_task(rt, &pool, iters))
    });
}

fn bench(c: &mut Criterion) {
    let rt = drive::current_thread();
    for validated in [false, true] {
        let test = if validated { "_validated" } else { "" };
        for size in [8, 16] {
            let mut group = c.benchmark_group(format!("uncontended_blocking{test}_pool{size}"));
            blocking(&mut group, Poolscope::new(size, validated));
            blocking(&mut group, R2d2::new(size, validated));
            group.finish();

            let mut group = c.benchmark_group(format!("uncontended_async{test}_pool{size}"));
            nonblocking(
                &mut group,
                &rt,
                rt.block_on(PoolscopeAsync::new(size, validated)),
            );
            nonblocking(&mut group, &rt, rt.block_on(Bb8::new(size, validated)));
            nonblocking(&mut group, &rt, rt.block_on(Deadpool::new(size, validated)));
            nonblocking(&mut group, &rt, rt.block_on(Mobc::new(size, validated)));
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
