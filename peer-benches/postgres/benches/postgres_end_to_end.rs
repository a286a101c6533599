//! End to end on PostgreSQL: 16 workers each run `SELECT 1` (simple query protocol) through
//! a pool of 8, blocking (threads: poolscope, r2d2) and async (tasks: poolscope, bb8,
//! deadpool-postgres, sqlx). poolscope runs with its metrics going to a Prometheus recorder,
//! FIFO (its default, SQLAlchemy's) and, blocking, also LIFO: r2d2 hands out the connection
//! returned last, so LIFO is the like-for-like row there (bb8 and deadpool are FIFO, as
//! poolscope's default). Seven repetitions, the pools interleaved; the median throughput is
//! reported.
//!
//! Skipped unless `POOLSCOPE_PG_URL` is set, e.g.
//!
//! ```sh
//! POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p poolscope-peer-benches-postgres --bench postgres_end_to_end
//! ```
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poolscope_peer_benches::{report, stats};
use serde_json::{json, Value};

const WORKERS: usize = 16;
const POOL: usize = 8;
const QUERIES_PER_WORKER: usize = 2000;
const REPETITIONS: usize = 7;
const TIMEOUT: Duration = Duration::from_secs(60);

type PgManager = r2d2_postgres::PostgresConnectionManager<postgres::NoTls>;
type AsyncPgManager = bb8_postgres::PostgresConnectionManager<tokio_postgres::NoTls>;

/// Queries per second for `WORKERS` threads each running `QUERIES_PER_WORKER` queries.
fn threads(query: impl Fn() + Sync) -> f64 {
    let began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                for _ in 0..QUERIES_PER_WORKER {
                    query();
                }
            });
        }
    });
    (WORKERS * QUERIES_PER_WORKER) as f64 / began.elapsed().as_secs_f64()
}

/// Queries per second for `WORKERS` tasks each running `QUERIES_PER_WORKER` queries.
fn tasks<F, Fut>(rt: &tokio::runtime::Runtime, query: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let query = Arc::new(query);
    rt.block_on(async {
        let began = Instant::now();
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let query = Arc::clone(&query);
                tokio::spawn(async move {
                    for _ in 0..QUERIES_PER_WORKER {
                        query().await;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("a worker finished");
        }
        (WORKERS * QUERIES_PER_WORKER) as f64 / began.elapsed().as_secs_f64()
    })
}

/// Runs every contender once per repetition, interleaved; the median of each.
fn interleaved(contenders: &mut [(&'static str, &mut dyn FnMut() -> f64)]) -> Value {
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for _ in 0..REPETITIONS {
        for (i, (_, run)) in contenders.iter_mut().enumerate() {
            runs[i].push(run());
        }
    }
    let mut out = serde_json::Map::new();
    for ((name, _), mut r) in contenders.iter().zip(runs) {
        let median = stats::median(&mut r).expect("repetitions");
        println!("{name:18} {median:>9.0} queries/s");
        out.insert((*name).to_owned(), json!(median));
    }
    Value::Object(out)
}

fn blocking(url: &str) -> Value {
    let config: postgres::Config = url.parse().expect("POOLSCOPE_PG_URL parses");
    let recorder = poolscope_peer_benches::prometheus_recorder();
    poolscope_peer_benches::drain_every_5s(recorder.handle());
    let build = |lifo: bool| {
        metrics::with_local_recorder(&recorder, || {
            poolscope::Pool::builder()
                .name_from_url(url)
                .pool_size(POOL)
                .max_overflow(0)
                .use_lifo(lifo)
                .pool_timeout(TIMEOUT)
                .reset_on_return(poolscope::ResetOnReturn::None)
                .build(PgManager::new(config.clone(), postgres::NoTls))
                .expect("valid options")
        })
    };
    let (poolscope, poolscope_lifo) = (build(false), build(true));
    let r2d2 = r2d2::Pool::builder()
        .max_size(POOL as u32)
        .min_idle(Some(POOL as u32))
        .test_on_check_out(false)
        .connection_timeout(TIMEOUT)
        .build(PgManager::new(config, postgres::NoTls))
        .expect("PostgreSQL reachable");
    // Warm: every connection open before the first measurement.
    for pool in [&poolscope, &poolscope_lifo] {
        drop(
            (0..POOL)
                .map(|_| pool.get().expect("connect"))
                .collect::<Vec<_>>(),
        );
    }
    drop(
        (0..POOL)
            .map(|_| r2d2.get().expect("connect"))
            .collect::<Vec<_>>(),
    );
    println!("blocking, {WORKERS} threads, pool {POOL}:");
    interleaved(&mut [
        ("poolscope", &mut || {
            threads(|| {
                poolscope
                    .get()
                    .expect("checkout")
                    .simple_query("SELECT 1")
                    .expect("query");
            })
        }),
        ("poolscope (LIFO)", &mut || {
            threads(|| {
                poolscope_lifo
                    .get()
                    .expect("checkout")
                    .simple_query("SELECT 1")
                    .expect("query");
            })
        }),
        ("r2d2", &mut || {
            threads(|| {
                r2d2.get()
                    .expect("checkout")
                    .simple_query("SELECT 1")
                    .expect("query");
            })
        }),
    ])
}

fn nonblocking(url: &str) -> Value {
    let rt = poolscope_peer_benches::drive::runtime();
    let config: tokio_postgres::Config = url.parse().expect("POOLSCOPE_PG_URL parses");
    let recorder = poolscope_peer_benches::prometheus_recorder();
    poolscope_peer_benches::drain_every_5s(recorder.handle());
    let poolscope = metrics::with_local_recorder(&recorder, || {
        rt.block_on(
            poolscope::AsyncPool::builder()
                .name_from_url(url)
                .pool_size(POOL)
                .max_overflow(0)
                .pool_timeout(TIMEOUT)
                .reset_on_return(poolscope::ResetOnReturn::None)
                .build(AsyncPgManager::new(config.clone(), tokio_postgres::NoTls)),
        )
        .expect("valid options")
    });
    let bb8 = rt
        .block_on(
            bb8::Pool::builder()
                .max_size(POOL as u32)
                .min_idle(Some(POOL as u32))
                .test_on_check_out(false)
                .connection_timeout(TIMEOUT)
                .build(AsyncPgManager::new(config.clone(), tokio_postgres::NoTls)),
        )
        .expect("PostgreSQL reachable");
    let deadpool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    ))
    .max_size(POOL)
    .runtime(deadpool_postgres::Runtime::Tokio1)
    .build()
    .expect("valid options");
    let sqlx = rt
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(POOL as u32)
                .test_before_acquire(false)
                .acquire_timeout(TIMEOUT)
                .connect(url),
        )
        .expect("PostgreSQL reachable");
    rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..POOL {
            held.push(poolscope.get().await.expect("connect"));
        }
        drop(held);
        let mut held = Vec::new();
        for _ in 0..POOL {
            held.push(bb8.get().await.expect("connect"));
        }
        drop(held);
        let mut held = Vec::new();
        for _ in 0..POOL {
            held.push(deadpool.get().await.expect("connect"));
        }
        drop(held);
        let mut held = Vec::new();
        for _ in 0..POOL {
            held.push(sqlx.acquire().await.expect("connect"));
        }
        drop(held);
    });
    println!("async, {WORKERS} tasks, pool {POOL}:");
    interleaved(&mut [
        ("poolscope", &mut || {
            let pool = poolscope.clone();
            tasks(&rt, move || {
                let pool = pool.clone();
                async move {
                    let conn = pool.get().await.expect("checkout");
                    conn.simple_query("SELECT 1").await.expect("query");
                }
            })
        }),
        ("bb8", &mut || {
            let pool = bb8.clone();
            tasks(&rt, move || {
                let pool = pool.clone();
                async move {
                    let conn = pool.get().await.expect("checkout");
                    conn.simple_query("SELECT 1").await.expect("query");
                }
            })
        }),
        ("deadpool-postgres", &mut || {
            let pool = deadpool.clone();
            tasks(&rt, move || {
                let pool = pool.clone();
                async move {
                    let conn = pool.get().await.expect("checkout");
                    conn.simple_query("SELECT 1").await.expect("query");
                }
            })
        }),
        ("sqlx", &mut || {
            let pool = sqlx.clone();
            tasks(&rt, move || {
                let pool = pool.clone();
                async move {
                    sqlx::raw_sql("SELECT 1")
                        .execute(&pool)
                        .await
                        .expect("query");
                }
            })
        }),
    ])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Ok(url) = std::env::var("POOLSCOPE_PG_URL") else {
        println!("SKIPPED: postgres_end_to_end needs POOLSCOPE_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
        return;
    };
    let blocking = blocking(&url);
    let nonblocking = nonblocking(&url);
    report::write(
        "postgres_end_to_end",
        &json!({
            "workers": WORKERS, "pool": POOL, "queries_per_worker": QUERIES_PER_WORKER,
            "repetitions": REPETITIONS, "query": "SELECT 1 (simple query protocol)",
            "blocking": blocking, "async": nonblocking,
        }),
    );
}
