//! Statements one after another, as a request handler issues them: SeaORM through
//! poolscope-sea-orm (a debugging recorder taking its metrics, which counts the connections it
//! closes) against SeaORM with its stock sqlx pool of the same size, at pool sizes 1, 5 and
//! 16, on PostgreSQL. Needs
//! `POOLSCOPE_PG_URL`; says SKIPPED otherwise.
//!
//! ```sh
//! POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p poolscope-sea-orm --bench sea_orm_sequential
//! ```
//!
//! Each row alternates the two pools in chunks of `BENCH_CHUNK` statements (default 500) for
//! `BENCH_ROUNDS` rounds (default 20), in one task on a two-worker runtime, and prints the
//! median of the rounds' throughput ratios (poolscope / stock, above 1: poolscope faster)
//! with the lowest and highest round, and the connections poolscope opened beyond its first.
//! Pairs: `pre_ping` off against sqlx's `test_before_acquire(false)` (like for like), and
//! both pools' defaults (both test a connection before handing it out). A `+10` row allows
//! overflow, where sqlx's asynchronous return used to open and close a connection for one
//! statement in three.
//!
//! On a small shared machine the rounds' ratios spread widely (0.2–4 at pool size 1, where
//! every statement waits for the previous one's return and both pools switch between a fast
//! and a slow scheduling mode, in step with nothing): read the extra connects, and the
//! medians of the larger pools, not one round.
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use poolscope_sea_orm::DatabasePool;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn select_one(db: &impl ConnectionTrait) {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT 1",
    ))
    .await
    .unwrap()
    .unwrap();
}

async fn chunk(db: &impl ConnectionTrait, n: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        select_one(db).await;
    }
    started.elapsed()
}

fn closes(snapshotter: &Snapshotter) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == poolscope::metric_names::CLOSES)
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

struct Row {
    name: String,
    ratios: Vec<f64>,
    extra_connects: u64,
    statements: usize,
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    name: String,
    size: usize,
    overflow: i64,
    test: bool,
    rounds: usize,
    chunk_len: usize,
) -> Row {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(size as u32)
        .test_before_acquire(test)
        .sqlx_logging(false);
    let stock: Arc<DatabaseConnection> = Arc::new(
        runtime
            .block_on(Database::connect(options))
            .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached"),
    );
    // Counts closes for the extra connects; the Prometheus recorder is what a service runs.
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let poolscope: Arc<DatabasePool> = Arc::new(metrics::with_local_recorder(&debugging, || {
        poolscope_sea_orm::Builder::new()
            .pool_size(size)
            .max_overflow(overflow)
            .pre_ping(test)
            .build(url)
            .unwrap()
    }));
    let (s, p) = (Arc::clone(&stock), Arc::clone(&poolscope));
    let ratios = runtime.block_on(async move {
        tokio::spawn(async move {
            chunk(&*s, 100).await;
            chunk(&*p, 100).await;
            let mut ratios = Vec::new();
            for round in 0..rounds {
                // Alternate which goes first.
                let (stock_time, poolscope_time) = if round % 2 == 0 {
                    let st = chunk(&*s, chunk_len).await;
                    (st, chunk(&*p, chunk_len).await)
                } else {
                    let pt = chunk(&*p, chunk_len).await;
                    (chunk(&*s, chunk_len).await, pt)
                };
                ratios.push(stock_time.as_secs_f64() / poolscope_time.as_secs_f64());
            }
            ratios
        })
        .await
        .unwrap()
    });
    let mut ratios = ratios;
    ratios.sort_by(f64::total_cmp);
    Row {
        name,
        ratios,
        extra_connects: closes(&snapshotter),
        statements: 100 + rounds * chunk_len,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let Ok(url) = std::env::var("POOLSCOPE_PG_URL") else {
        eprintln!("SKIPPED sea_orm_sequential: POOLSCOPE_PG_URL is not set");
        return;
    };
    let rounds = if quick { 2 } else { env("BENCH_ROUNDS", 20) };
    let chunk_len = if quick { 50 } else { env("BENCH_CHUNK", 500) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for size in [1usize, 5, 16] {
        for (test, label) in [(false, "no test"), (true, "defaults")] {
            let name = format!("pool {size:2}, {label}");
            rows.push(row(&runtime, &url, name, size, 0, test, rounds, chunk_len));
        }
    }
    rows.push(row(
        &runtime,
        &url,
        "pool  1+10, no test".into(),
        1,
        10,
        false,
        rounds,
        chunk_len,
    ));
    println!(
        "sequential SELECT 1, throughput poolscope / stock sqlx pool of the same size \
         ({rounds} rounds of {chunk_len} statements each, alternating)"
    );
    println!("| row | median | lowest | highest | extra connects / 1000 statements |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.2} |",
            r.name,
            median(&r.ratios),
            r.ratios[0],
            r.ratios[r.ratios.len() - 1],
            r.extra_connects as f64 * 1000.0 / r.statements as f64
        );
    }
}
