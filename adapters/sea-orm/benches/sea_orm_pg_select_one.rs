//! SeaORM `SELECT 1` on PostgreSQL, 16 tasks over a pool of 8: through poolscope-sea-orm
//! (instrumentation on, a Prometheus recorder taking its metrics) against SeaORM with its
//! stock sqlx pool, side by side in one run. Needs `POOLSCOPE_PG_URL`; says SKIPPED
//! otherwise. `BENCH_TASKS` changes the number of tasks.
//!
//! ```sh
//! POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p poolscope-sea-orm --bench sea_orm_pg_select_one
//! ```
//!
//! Every pool is warmed to 8 connections by use (none sets a minimum, which would have sqlx
//! run a maintenance task on every return). Stock SeaORM runs twice: with its defaults (sqlx
//! pings each idle connection before handing it out) and with that test off, which is what
//! the poolscope row does with `pre_ping(false)` (the like-for-like ratio; the adapter's
//! default is `pre_ping(true)`, as sqlx's). poolscope's reset on return is on (nothing is
//! open after a `SELECT 1`, so it sends nothing).
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};

fn tasks() -> u64 {
    std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(16)
}
const POOL: u32 = 8;

async fn select_one(db: &impl ConnectionTrait) {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT 1 AS one",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i32>("", "one").unwrap(), 1);
}

/// `iters` statements shared by the tasks; the wall time of the whole.
async fn run<C: ConnectionTrait + Clone + Send + 'static>(iters: u64, db: &C) -> Duration {
    let per_task = iters.div_ceil(tasks());
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks())
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    select_one(&db).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    start.elapsed()
}

async fn warm<C: ConnectionTrait + Clone + Send + 'static>(db: &C) {
    // 8 at once opens 8; the pool keeps them.
    let _ = run(u64::from(POOL) * 4, db).await;
}

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("POOLSCOPE_PG_URL") else {
        eprintln!("SKIPPED sea_orm_pg_select_one: POOLSCOPE_PG_URL is not set");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let stock = |test_before_acquire: bool| {
        let mut options = ConnectOptions::new(url.as_str());
        options
            .max_connections(POOL)
            .test_before_acquire(test_before_acquire)
            .sqlx_logging(false);
        runtime
            .block_on(Database::connect(options))
            .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached")
    };
    let stock_default = stock(true);
    let stock_no_test = stock(false);

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(poolscope::metric_names::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let scrape = recorder.handle();
    // The upkeep an installed exporter runs every 5 s: drains the histograms' raw samples,
    // which otherwise pile up for the whole run (hundreds of MB here), as no service sees.
    let upkeep = recorder.handle();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(5));
        upkeep.run_upkeep();
    });
    let poolscope_db = metrics::with_local_recorder(&recorder, || {
        poolscope_sea_orm::Builder::new()
            .pool_size(POOL as usize)
            .max_overflow(0)
            .pre_ping(false)
            .build(url.as_str())
            .unwrap()
    });

    runtime.block_on(async {
        warm(&stock_default).await;
        warm(&stock_no_test).await;
        warm(&poolscope_db).await;
    });

    let mut group = c.benchmark_group("sea_orm_pg_select_one_16_tasks_pool_8");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sea_orm_stock_no_test", |b| {
        b.to_async(&runtime)
            .iter_custom(|iters| run(iters, &stock_no_test))
    });
    group.bench_function("poolscope", |b| {
        b.to_async(&runtime)
            .iter_custom(|iters| run(iters, &poolscope_db))
    });
    group.bench_function("sea_orm_stock_default", |b| {
        b.to_async(&runtime)
            .iter_custom(|iters| run(iters, &stock_default))
    });
    group.finish();
    assert!(
        scrape
            .render()
            .contains("db_client_connection_wait_time_seconds_count"),
        "the recorder took poolscope's metrics"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
