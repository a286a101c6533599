//! The adapters end to end on PostgreSQL, each beside the pool its users switch from, both
//! with their default options (only the size is set: 8): 16 workers, each checking out,
//! running `SELECT 1` through the ORM and returning, as fast as it can.
//!
//! - Diesel (16 threads): `poolscope_diesel::Pool` against `diesel::r2d2::Pool`, and the
//!   adapter's r2d2-compatible pool (`poolscope_diesel::r2d2`, the drop-in), both in
//!   SQLAlchemy's order (FIFO, the adapter's default), and the adapter in r2d2's (LIFO,
//!   `use_lifo(true)`);
//! - diesel-async (16 tasks): `poolscope_diesel::AsyncPool` against diesel-async's bb8 pool;
//! - SeaORM (16 tasks): `poolscope_sea_orm::Builder` against SeaORM's stock sqlx pool.
//!
//! Default options means the peers test every connection on checkout (r2d2's and bb8's
//! `test_on_check_out`, sqlx's `test_before_acquire`), as the adapters do (`pre_ping`), and
//! the adapters roll back on return (nothing to roll back after a `SELECT 1`: nothing is
//! sent). poolscope's metrics go to a metrics-exporter-prometheus recorder (drained every
//! 5 s as an installed exporter drains it).
//!
//! Two measurements per family:
//! - interleaved in one process: every pool for `BENCH_PERIOD_MS` (default 2000) once per
//!   round, the order rotating, `BENCH_ROUNDS` rounds (default 7) after a warm-up round;
//! - separate processes, as an application runs one pool: this bench again with
//!   `BENCH_ONLY=<row>`, each pool alone for `BENCH_SECONDS` (default 5) after a 1 s warm-up,
//!   the processes alternating, `BENCH_PROCESSES` rounds (default 5, 0 skips).
//!
//! Both report the median of the per-round ratios, poolscope's throughput / the peer's
//! (above 1: poolscope is faster), and the lowest and highest round; the separate processes
//! also each one's CPU time per query (user + system, `/proc/self/stat`): what the client
//! side (pool, driver, ORM) costs, where the server shares the same two cores. Skipped unless
//! `POOLSCOPE_PG_URL` is set:
//!
//! ```sh
//! POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p poolscope-peer-benches-postgres --bench adapters_end_to_end
//! ```
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Integer;
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use poolscope_peer_benches::interleave::{self, Contender, Row};
use poolscope_peer_benches::{drive, report, stats};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

const WORKERS: usize = 16;
const POOL: u32 = 8;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(poolscope_peer_benches::drive::runtime)
}

/// A family: the peer first in `rows`, then the poolscope rows.
struct Family {
    name: &'static str,
    peer: &'static str,
    rows: &'static [&'static str],
}

const FAMILIES: [Family; 3] = [
    Family {
        name: "Diesel (16 threads)",
        peer: "diesel::r2d2",
        rows: &[
            "poolscope_diesel::Pool",
            "poolscope_diesel::r2d2",
            "poolscope_diesel::Pool (LIFO)",
        ],
    },
    Family {
        name: "diesel-async (16 tasks)",
        peer: "diesel_async bb8",
        rows: &["poolscope_diesel::AsyncPool"],
    },
    Family {
        name: "SeaORM (16 tasks)",
        peer: "SeaORM (sqlx pool)",
        rows: &["poolscope_sea_orm"],
    },
];

/// Queries per second with `WORKERS` threads each running `query` in a loop for `period`.
fn threads(period: Duration, query: impl Fn() + Sync) -> f64 {
    drive::threads_rate(WORKERS, period, query)
}

/// Queries per second with `WORKERS` tasks each running `query` in a loop for `period`.
fn tasks<F, Fut>(period: Duration, query: &F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    drive::tasks_until_stopped(runtime(), WORKERS, period, |stop| {
        let query = query.clone();
        async move { drive::count_until(&stop, query).await }
    })
}

/// A blocking pool's rate: `query` on `pool` from `WORKERS` threads.
fn thread_rate<P: Send + Sync + 'static>(pool: P, query: fn(&P)) -> Box<dyn Fn(Duration) -> f64> {
    Box::new(move |period| threads(period, || query(&pool)))
}

/// An async pool's rate: `query(pool)` from `WORKERS` tasks.
fn task_rate<P, Fut>(pool: P, query: fn(P) -> Fut) -> Box<dyn Fn(Duration) -> f64>
where
    P: Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |period| {
        let pool = pool.clone();
        tasks(period, &move || query(pool.clone()))
    })
}

fn select_one(conn: &mut PgConnection) {
    let one: i32 = diesel::select(1.into_sql::<Integer>())
        .get_result(conn)
        .expect("SELECT 1");
    assert_eq!(one, 1);
}

async fn select_one_async(conn: &mut diesel_async::AsyncPgConnection) {
    let one: i32 =
        diesel_async::RunQueryDsl::get_result(diesel::select(1.into_sql::<Integer>()), conn)
            .await
            .expect("SELECT 1");
    assert_eq!(one, 1);
}

async fn select_one_sea_orm(db: &impl ConnectionTrait) {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT 1 AS one",
        ))
        .await
        .expect("SELECT 1")
        .expect("a row");
    assert_eq!(row.try_get::<i32>("", "one").expect("an int"), 1);
}

/// The pool named `row`, built with its defaults and size 8 (poolscope's under `recorder`),
/// warmed to 8 connections: how to measure its queries per second for a period.
fn build(row: &str, url: &str, recorder: &PrometheusRecorder) -> Box<dyn Fn(Duration) -> f64> {
    let with_recorder = |build: &dyn Fn() -> Box<dyn Fn(Duration) -> f64>| {
        metrics::with_local_recorder(recorder, build)
    };
    let rate: Box<dyn Fn(Duration) -> f64> = match row {
        "diesel::r2d2" => {
            let pool = diesel::r2d2::Pool::builder()
                .max_size(POOL)
                .build(diesel::r2d2::ConnectionManager::<PgConnection>::new(url))
                .expect("PostgreSQL reachable");
            thread_rate(pool, |pool| select_one(&mut pool.get().expect("checkout")))
        }
        "poolscope_diesel::Pool" | "poolscope_diesel::Pool (LIFO)" => with_recorder(&|| {
            let builder =
                poolscope_diesel::Pool::<PgConnection>::builder().pool_size(POOL as usize);
            // The default is SQLAlchemy's order (FIFO); the other row is r2d2's.
            let builder = if row.ends_with("(LIFO)") {
                builder.use_lifo(true)
            } else {
                builder
            };
            let pool = builder.build(url).expect("valid options");
            thread_rate(pool, |pool| select_one(&mut pool.get().expect("checkout")))
        }),
        "poolscope_diesel::r2d2" => with_recorder(&|| {
            let pool = poolscope_diesel::r2d2::Pool::builder()
                .max_size(POOL)
                .build(poolscope_diesel::r2d2::ConnectionManager::<PgConnection>::new(url))
                .expect("PostgreSQL reachable");
            thread_rate(pool, |pool| select_one(&mut pool.get().expect("checkout")))
        }),
        "diesel_async bb8" => {
            let manager = diesel_async::pooled_connection::AsyncDieselConnectionManager::<
                diesel_async::AsyncPgConnection,
            >::new(url);
            let pool = runtime()
                .block_on(
                    diesel_async::pooled_connection::bb8::Pool::builder()
                        .max_size(POOL)
                        .build(manager),
                )
                .expect("PostgreSQL reachable");
            task_rate(pool, |pool| async move {
                select_one_async(&mut pool.get().await.expect("checkout")).await
            })
        }
        "poolscope_diesel::AsyncPool" => with_recorder(&|| {
            let pool = runtime()
                .block_on(
                    poolscope_diesel::AsyncPool::<diesel_async::AsyncPgConnection>::builder()
                        .pool_size(POOL as usize)
                        .build(url),
                )
                .expect("valid options");
            task_rate(pool, |pool| async move {
                select_one_async(&mut pool.get().await.expect("checkout")).await
            })
        }),
        "SeaORM (sqlx pool)" => {
            let mut options = sea_orm::ConnectOptions::new(url);
            options.max_connections(POOL);
            let db = runtime()
                .block_on(sea_orm::Database::connect(options))
                .expect("PostgreSQL reachable");
            task_rate(db, |db| async move { select_one_sea_orm(&db).await })
        }
        "poolscope_sea_orm" => with_recorder(&|| {
            let db = poolscope_sea_orm::Builder::new()
                .pool_size(POOL as usize)
                .build(url)
                .expect("valid options");
            task_rate(db, |db| async move { select_one_sea_orm(&db).await })
        }),
        other => panic!("BENCH_ONLY={other}: no such row"),
    };
    // Warm: 16 workers for a moment open all 8 connections.
    rate(Duration::from_millis(200));
    rate
}

/// This process's CPU time so far (user + system), from `/proc/self/stat`; `None` where
/// there is no such file.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name, in ticks.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// One pool alone for `BENCH_SECONDS` after a 1 s warm-up, printed as `<row>: <rate>
/// queries/s` and the process's CPU time per query (the client's side: the pool, the driver
/// and the ORM) as `<row> cpu: <µs> us/query`.
fn only(row: &str, url: &str, recorder: &PrometheusRecorder) {
    let rate = build(row, url, recorder);
    rate(Duration::from_secs(1));
    let seconds = env_or("BENCH_SECONDS", 5);
    let before = cpu_time();
    let rate = rate(Duration::from_secs(seconds));
    if let (Some(before), Some(after)) = (before, cpu_time()) {
        let queries = rate * seconds as f64;
        println!(
            "{row} cpu: {:.2} us/query",
            (after - before).as_secs_f64() * 1e6 / queries
        );
    }
    println!("{row}: {rate:.0} queries/s");
}

/// The median of `values` and the lowest and highest.
fn spread(mut values: Vec<f64>) -> Value {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let median = stats::median(&mut values).expect("at least one round");
    json!({"median": median, "low": low, "high": high})
}

/// The number in the line `<row><infix><number><suffix>` of `stdout` (what [`only`] prints).
fn reported(stdout: &str, row: &str, infix: &str, suffix: &str) -> Option<f64> {
    stdout.lines().find_map(|line| {
        let rest = line.strip_prefix(row)?.strip_prefix(infix)?;
        rest.strip_suffix(suffix)?.parse().ok()
    })
}

fn i_of(names: &[&str], name: &str) -> usize {
    names
        .iter()
        .position(|n| *n == name)
        .expect("a row of the family")
}

/// Every row of `family` alone in a process of its own, the processes alternating: each
/// row's median queries per second and the spread of its per-round throughput ratio to
/// the peer.
fn separate_processes(family: &Family) -> Value {
    let rounds = env_or("BENCH_PROCESSES", 5) as usize;
    let names: Vec<&str> = std::iter::once(family.peer)
        .chain(family.rows.iter().copied())
        .collect();
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut rates = vec![Vec::new(); names.len()];
    let mut cpu_per_query: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for turn in 0..names.len() {
            let i = (round + turn) % names.len();
            let out = std::process::Command::new(&exe)
                .env("BENCH_ONLY", names[i])
                .output()
                .expect("the bench runs itself");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let rate = reported(&stdout, names[i], ": ", " queries/s").unwrap_or_else(|| {
                panic!(
                    "no rate from the {} process: {stdout}{}",
                    names[i],
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            rates[i].push(rate);
            if let Some(cpu) = reported(&stdout, names[i], " cpu: ", " us/query") {
                cpu_per_query[i].push(cpu);
            }
        }
    }
    let mut rows = serde_json::Map::new();
    for (name, own) in names.iter().zip(&rates).skip(1) {
        let ratios: Vec<f64> = own
            .iter()
            .zip(&rates[0])
            .map(|(p, peer)| p / peer)
            .collect();
        let cpu = cpu_per_query[i_of(&names, name)].clone();
        rows.insert(
            (*name).to_owned(),
            json!({
                "queries_per_s": spread(own.clone()), "ratio": spread(ratios),
                "client_cpu_us_per_query": (!cpu.is_empty()).then(|| spread(cpu)),
            }),
        );
    }
    json!({
        "rounds": rounds, "peer_queries_per_s": spread(rates[0].clone()),
        "peer_client_cpu_us_per_query": (!cpu_per_query[0].is_empty()).then(|| spread(cpu_per_query[0].clone())),
        "rows": rows,
    })
}

/// Every row of `family` interleaved in this process ([`interleave::run`], poolscope's rows
/// each paired with the peer): each row's median queries per second and its throughput
/// ratio to the peer.
fn interleaved(family: &Family, url: &str, recorder: &PrometheusRecorder) -> Value {
    let rounds = env_or("BENCH_ROUNDS", 7) as usize;
    let period = Duration::from_millis(env_or("BENCH_PERIOD_MS", 2000));
    let peer = build(family.peer, url, recorder);
    let ours: Vec<_> = family
        .rows
        .iter()
        .map(|row| build(row, url, recorder))
        .collect();
    let mut contenders = vec![Contender::new(family.peer, peer)];
    for (name, rate) in family.rows.iter().zip(&ours) {
        contenders.push(Contender::new(name, rate));
    }
    let row = Row {
        labels: json!({"family": family.name}),
        contenders,
    };
    let result = interleave::run(std::slice::from_ref(&row), rounds, period).remove(0);
    // `run` gives time ratios peer / row; as throughput, row / peer is the same number.
    let mut rows = serde_json::Map::new();
    for name in family.rows {
        let [low, high] =
            [0, 1].map(|k| result["ratio_range"][*name][k].as_f64().expect("a ratio"));
        rows.insert(
            (*name).to_owned(),
            json!({
                "queries_per_s": 1e9 / result["ns_per_cycle"][*name].as_f64().expect("a time"),
                "ratio": {"median": result["ratio"][*name], "low": low, "high": high},
                "rounds_ahead": result["first_ahead"][*name].as_u64().map(|behind| result["rounds"].as_u64().unwrap_or(0) - behind),
            }),
        );
    }
    json!({
        "rounds": result["rounds"], "period_ms": period.as_millis() as u64,
        "peer_queries_per_s": 1e9 / result["ns_per_cycle"][family.peer].as_f64().expect("a time"),
        "rows": rows,
    })
}

fn print(family: &Family, how: &str, result: &Value) {
    if let Some(cpu) = result["peer_client_cpu_us_per_query"]["median"].as_f64() {
        println!("  client CPU per query, {}: {cpu:.2} us", family.peer);
    }
    for name in family.rows {
        if let Some(cpu) = result["rows"][*name]["client_cpu_us_per_query"]["median"].as_f64() {
            println!("  client CPU per query, {name}: {cpu:.2} us");
        }
    }
    println!("{} / {}, {how}:", family.name, family.peer);
    println!(
        "  {:32} {:>8.0} queries/s",
        family.peer,
        result["peer_queries_per_s"]
            .as_f64()
            .or(result["peer_queries_per_s"]["median"].as_f64())
            .unwrap_or(0.0)
    );
    for name in family.rows {
        let row = &result["rows"][*name];
        let qps = row["queries_per_s"]
            .as_f64()
            .or(row["queries_per_s"]["median"].as_f64())
            .unwrap_or(0.0);
        println!(
            "  {name:32} {qps:>8.0} queries/s, / peer {:.3} (rounds {:.3}-{:.3})",
            row["ratio"]["median"].as_f64().unwrap_or(f64::NAN),
            row["ratio"]["low"].as_f64().unwrap_or(f64::NAN),
            row["ratio"]["high"].as_f64().unwrap_or(f64::NAN),
        );
    }
}

fn recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = poolscope_peer_benches::prometheus_recorder();
    poolscope_peer_benches::drain_every_5s(recorder.handle());
    let handle = recorder.handle();
    (recorder, handle)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Ok(url) = std::env::var("POOLSCOPE_PG_URL") else {
        println!("SKIPPED: adapters_end_to_end needs POOLSCOPE_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
        return;
    };
    let (recorder, scrape) = recorder();
    if let Ok(row) = std::env::var("BENCH_ONLY") {
        return only(&row, &url, &recorder);
    }
    let mut families = Vec::new();
    for family in &FAMILIES {
        let together = interleaved(family, &url, &recorder);
        print(family, "interleaved", &together);
        let apart = separate_processes(family);
        print(family, "separate processes", &apart);
        families.push(json!({
            "family": family.name, "peer": family.peer,
            "interleaved": together, "separate_processes": apart,
        }));
    }
    assert!(
        scrape
            .render()
            .contains("db_client_connection_use_time_seconds_count"),
        "the recorder took poolscope's metrics"
    );
    report::write(
        "adapters_end_to_end",
        &json!({"workers": WORKERS, "pool": POOL, "families": families}),
    );
}
