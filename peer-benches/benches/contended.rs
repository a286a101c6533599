//! Many callers on one warmed pool: 1, 4, 16 and 64 workers over pools of 8 and 16, each
//! checkout held across one yield (thread or task) so that with more workers than
//! connections callers really wait. Blocking: threads, poolscope against r2d2. Async: tasks on
//! a multi-threaded Tokio runtime, poolscope against bb8, deadpool (with a `wait_timeout`, like
//! the others' checkout timeout, and with its defaults, none) and mobc; and, with metrics on,
//! poolscope with a Prometheus recorder against mobc (which records through the `metrics`
//! facade on every checkout) with the same recorder.
//!
//! Two measurements:
//! - criterion, one pool after the other: the time per checkout of the whole run (lower is
//!   higher throughput), with criterion's statistics per pool;
//! - then the ratios (`BENCHMARKS.md` reports these): every scenario's pools interleaved in
//!   time, 300 ms each per round, the order rotating, 9 rounds after a warm-up round; per
//!   scenario the median of the per-round ratios and the rounds poolscope was ahead, written
//!   to `target/peer-benches/contended.json` (the criterion part measures the quiet pools
//!   only). `BENCH_ROUNDS` and `BENCH_PERIOD_MS` change
//!   them; `--list` and `--test` skip this part.
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench contended
//! ```
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};
use poolscope_peer_benches::drive;
use poolscope_peer_benches::interleave::{self, Contender, Row};
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Mobc, MobcRecorded, Poolscope, PoolscopeAsync,
    R2d2,
};
use serde_json::json;

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

/// Every scenario's pools interleaved in time (see the module doc).
fn interleaved() {
    let rt = drive::runtime();
    let sizes = [8, 16];
    let blocking: Vec<(Poolscope, R2d2)> = sizes
        .iter()
        .map(|&size| (Poolscope::new(size, false), R2d2::new(size, false)))
        .collect();
    let nonblocking: Vec<(
        PoolscopeAsync,
        PoolscopeAsync,
        Bb8,
        Deadpool,
        Deadpool,
        Mobc,
    )> = sizes
        .iter()
        .map(|&size| {
            rt.block_on(async {
                (
                    PoolscopeAsync::new(size, false).await,
                    PoolscopeAsync::without_timeout(size).await,
                    Bb8::new(size, false).await,
                    Deadpool::new(size, false).await,
                    Deadpool::with_defaults(size, false).await,
                    Mobc::new(size, false).await,
                )
            })
        })
        .collect();
    // Metrics on: poolscope built with the recorder (it keeps it), mobc recording to it.
    let recorder = std::sync::Arc::new(poolscope_peer_benches::prometheus_recorder());
    poolscope_peer_benches::drain_every_5s(recorder.handle());
    let recorded: Vec<(PoolscopeAsync, MobcRecorded)> = sizes
        .iter()
        .map(|&size| {
            let poolscope = metrics::with_local_recorder(&*recorder, || {
                rt.block_on(PoolscopeAsync::new(size, false))
            });
            let mobc = rt.block_on(MobcRecorded::new(size, false, recorder.clone()));
            (poolscope, mobc)
        })
        .collect();
    let mut rows = Vec::new();
    for (&size, (poolscope, r2d2)) in sizes.iter().zip(&blocking) {
        for workers in WORKERS {
            rows.push(Row {
                labels: json!({"front": "blocking", "pool": size, "workers": workers}),
                contenders: vec![
                    Contender::new(Poolscope::NAME, move |period| {
                        drive::blocking_rate(poolscope, workers, period, Hold::Yield)
                    }),
                    Contender::new(R2d2::NAME, move |period| {
                        drive::blocking_rate(r2d2, workers, period, Hold::Yield)
                    }),
                ],
            });
        }
    }
    let rt = &rt;
    for (&size, (poolscope, untimed, bb8, deadpool, deadpool_defaults, mobc)) in
        sizes.iter().zip(&nonblocking)
    {
        for workers in WORKERS {
            rows.push(Row {
                labels: json!({"front": "async", "pool": size, "workers": workers}),
                contenders: vec![
                    Contender::new(PoolscopeAsync::NAME, move |period| {
                        drive::tasks_rate(rt, poolscope, workers, period, Hold::Yield)
                    }),
                    Contender::new(Bb8::NAME, move |period| {
                        drive::tasks_rate(rt, bb8, workers, period, Hold::Yield)
                    }),
                    Contender::new(Deadpool::NAME, move |period| {
                        drive::tasks_rate(rt, deadpool, workers, period, Hold::Yield)
                    }),
                    Contender::new("deadpool_defaults", move |period| {
                        drive::tasks_rate(rt, deadpool_defaults, workers, period, Hold::Yield)
                    }),
                    // No pool_timeout: no timer per wait, like deadpool's defaults.
                    Contender::new("poolscope_no_timeout", move |period| {
                        drive::tasks_rate(rt, untimed, workers, period, Hold::Yield)
                    }),
                    Contender::new(Mobc::NAME, move |period| {
                        drive::tasks_rate(rt, mobc, workers, period, Hold::Yield)
                    }),
                ],
            });
        }
    }
    for (&size, (poolscope, mobc)) in sizes.iter().zip(&recorded) {
        for workers in WORKERS {
            rows.push(Row {
                labels: json!({"front": "async + recorder", "pool": size, "workers": workers}),
                contenders: vec![
                    Contender::new(PoolscopeAsync::NAME, move |period| {
                        drive::tasks_rate(rt, poolscope, workers, period, Hold::Yield)
                    }),
                    Contender::new(MobcRecorded::NAME, move |period| {
                        drive::tasks_rate(rt, mobc, workers, period, Hold::Yield)
                    }),
                ],
            });
        }
    }
    interleave::run_and_write("contended", &rows, 9, 300);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    benches();
    Criterion::default().configure_from_args().final_summary();
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        interleaved();
    }
}
