//! Diesel `PgConnection`, `SELECT 1` per checkout, 16 threads over a pool of 8: poolscope
//! (instrumentation on, a Prometheus recorder taking its metrics) against Diesel's own r2d2
//! pool, side by side in one run: poolscope LIFO (r2d2's discipline, the like-for-like
//! ratio) and FIFO (poolscope's default, SQLAlchemy's). Needs `POOLSCOPE_PG_URL`; says
//! SKIPPED otherwise. `BENCH_THREADS=8` runs it without waiting.
//!
//! ```sh
//! POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p poolscope-diesel --bench diesel_pg_select_one
//! ```
//! Both pools are warmed to 8 connections, neither tests connections on checkout (r2d2's
//! `test_on_check_out(false)`, poolscope's default `pre_ping(false)`), and poolscope's reset
//! on return is on (nothing to roll back after a `SELECT 1`, so it sends nothing).
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diesel::prelude::*;
use diesel::r2d2::ConnectionManager;
use diesel::PgConnection;

fn threads() -> u64 {
    std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(16)
}
const POOL: u32 = 8;

fn select_one(conn: &mut PgConnection) {
    let one: i32 = diesel::select(1.into_sql::<diesel::sql_types::Integer>())
        .get_result(conn)
        .unwrap();
    assert_eq!(one, 1);
}

/// `iters` checkouts + `SELECT 1`, shared by 16 threads; the wall time of the whole.
fn run(iters: u64, checkout: &(dyn Fn() + Sync)) -> Duration {
    let per_thread = iters.div_ceil(threads());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| {
                for _ in 0..per_thread {
                    checkout();
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("POOLSCOPE_PG_URL") else {
        eprintln!("SKIPPED diesel_pg_select_one: POOLSCOPE_PG_URL is not set");
        return;
    };

    let r2d2_pool = diesel::r2d2::Pool::builder()
        .max_size(POOL)
        .min_idle(Some(POOL))
        .test_on_check_out(false)
        .build(ConnectionManager::<PgConnection>::new(url.as_str()))
        .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached");

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(poolscope::metric_names::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let scrape = recorder.handle();
    // Both disciplines, both with the recorder: LIFO is r2d2's (like for like), FIFO is
    // poolscope's default (SQLAlchemy's).
    let build = |lifo: bool| {
        metrics::with_local_recorder(&recorder, || {
            poolscope_diesel::Pool::<PgConnection>::builder()
                .pool_size(POOL as usize)
                .max_overflow(0)
                .use_lifo(lifo)
                .build(url.as_str())
                .unwrap()
        })
    };
    let (lifo_pool, fifo_pool) = (build(true), build(false));
    // Warm: all 8 open.
    for pool in [&lifo_pool, &fifo_pool] {
        let held: Vec<_> = (0..POOL).map(|_| pool.get().unwrap()).collect();
        drop(held);
    }

    let mut group = c.benchmark_group("diesel_pg_select_one_16_threads_pool_8");
    group.throughput(Throughput::Elements(1));
    group.bench_function("diesel_r2d2", |b| {
        b.iter_custom(|iters| run(iters, &|| select_one(&mut r2d2_pool.get().unwrap())))
    });
    group.bench_function("poolscope_lifo", |b| {
        b.iter_custom(|iters| run(iters, &|| select_one(&mut lifo_pool.get().unwrap())))
    });
    group.bench_function("poolscope_fifo", |b| {
        b.iter_custom(|iters| run(iters, &|| select_one(&mut fifo_pool.get().unwrap())))
    });
    group.finish();
    assert!(
        scrape
            .render()
            .contains("db_client_connection_use_time_seconds_count"),
        "the recorder took poolscope's metrics"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
