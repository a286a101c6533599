//! Many replicas, one database: three pools (the replicas), each `pool_size(1)`,
//! `max_overflow(3)`, `pool_timeout` 10 s, the adapter's defaults otherwise, share a server
//! budget of 4 connections: a PostgreSQL role `WITH CONNECTION LIMIT 4`, a MariaDB user
//! `WITH MAX_USER_CONNECTIONS 4`, PgBouncer's `max_client_conn = 4`. Four callers per replica,
//! each 60 × (checkout, a 10 ms query, return). Asserted: no caller error (the server's
//! refusal for capacity is a wait, served by the next connection returned or a later
//! connect), the server never above the budget (sampled where the server counts); printed:
//! each replica's share of the checkouts and its p99 wait. With
//! `wait_for_server_capacity(false)` (SQLAlchemy's behaviour) the refused callers get errors.
//!
//! PostgreSQL and MariaDB run when `POOLSCOPE_PG_URL` / `POOLSCOPE_MYSQL_URL` are set (each
//! test creates a role or user of its own there, so other clients do not count), PgBouncer
//! when it is installed (in front of a server of the test's own); each says SKIPPED
//! otherwise. The MariaDB test needs the `mysql` feature (libmysqlclient).

#[path = "../../../tests/common/pgbouncer.rs"]
mod pgbouncer;
#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

const REPLICAS: usize = 3;
const BUDGET: i64 = 4;
const CALLERS: usize = 4;
const ROUNDS: usize = 60;
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// What one replica's callers saw.
#[derive(Default)]
struct Replica {
    served: usize,
    errors: Vec<String>,
    waits: Vec<Duration>,
}

impl Replica {
    fn p99(&self) -> Duration {
        let mut waits = self.waits.clone();
        waits.sort();
        waits
            .get(waits.len().saturating_sub(1) * 99 / 100)
            .copied()
            .unwrap_or_default()
    }

    fn add(&mut self, other: Replica) {
        self.served += other.served;
        self.errors.extend(other.errors);
        self.waits.extend(other.waits);
    }
}

/// One caller's rounds: `checkout` gives a connection (or its error) and keeps it for the
/// query `query` runs.
fn caller<C>(
    checkout: impl Fn() -> Result<C, String>,
    query: impl Fn(&mut C) -> Result<(), String>,
) -> Replica {
    let mut seen = Replica::default();
    for _ in 0..ROUNDS {
        let asked = Instant::now();
        match checkout() {
            Ok(mut conn) => {
                seen.waits.push(asked.elapsed());
                match query(&mut conn) {
                    Ok(()) => seen.served += 1,
                    Err(e) => seen.errors.push(e),
                }
            }
            Err(e) => seen.errors.push(e),
        }
    }
    seen
}

/// Prints the replicas' shares and p99 waits; returns the errors.
fn report(what: &str, replicas: &[Replica], peak: Option<i64>) -> Vec<String> {
    let served: usize = replicas.iter().map(|r| r.served).sum();
    let calls = REPLICAS * CALLERS * ROUNDS;
    let errors: Vec<String> = replicas.iter().flat_map(|r| r.errors.clone()).collect();
    let peak = peak.map_or("not sampled".to_owned(), |p| p.to_string());
    let _ = writeln!(
        std::io::stderr(),
        "| {what} | {calls} | {} | {peak} | {} |",
        errors.len(),
        replicas
            .iter()
            .map(|r| format!(
                "{:.0}% / {:.0} ms",
                100.0 * r.served as f64 / served.max(1) as f64,
                r.p99().as_secs_f64() * 1000.0
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(first) = errors.first() {
        let _ = writeln!(std::io::stderr(), "  first error: {first}");
    }
    errors
}

/// Samples `count` every 20 ms while `f` runs: the most it saw.
fn sampling<T>(count: impl Fn() -> i64 + Send + Sync, f: impl FnOnce() -> T) -> (T, i64) {
    let done = AtomicBool::new(false);
    let peak = AtomicI64::new(0);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(count(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let out = f();
        done.store(true, Ordering::Relaxed);
        out
    });
    (out, peak.load(Ordering::Relaxed))
}

/// The blocking Diesel pools of `C` at `url`, `CALLERS` threads each.
fn blocking<C>(url: &str, wait: bool, query: &'static str) -> Vec<Replica>
where
    C: diesel::r2d2::R2D2Connection + Send + 'static,
    diesel::query_builder::SqlQuery: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    let pools: Vec<_> = (0..REPLICAS)
        .map(|i| {
            poolscope_diesel::Pool::<C>::builder()
                .name(format!("replica-{i}"))
                .pool_size(1)
                .max_overflow(3)
                .pool_timeout(POOL_TIMEOUT)
                .wait_for_server_capacity(wait)
                .build(url)
                .unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        let replicas: Vec<Vec<_>> = pools
            .iter()
            .map(|pool| {
                (0..CALLERS)
                    .map(|_| {
                        s.spawn(move || {
                            caller(
                                || pool.get().map_err(|e| format!("{e:#}")),
                                |conn| {
                                    use diesel::RunQueryDsl as _;
                                    diesel::sql_query(query)
                                        .execute(&mut **conn)
                                        .map(drop)
                                        .map_err(|e| e.to_string())
                                },
                            )
                        })
                    })
                    .collect()
            })
            .collect();
        replicas
            .into_iter()
            .map(|callers| {
                let mut replica = Replica::default();
                for c in callers {
                    replica.add(c.join().unwrap());
                }
                replica
            })
            .collect()
    })
}

/// The diesel-async pools of PostgreSQL at `url`, `CALLERS` tasks each, on one runtime.
fn nonblocking(url: &str, wait: bool) -> Vec<Replica> {
    use diesel_async::{AsyncPgConnection, RunQueryDsl as _};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut replicas = Vec::new();
        for i in 0..REPLICAS {
            let pool = poolscope_diesel::AsyncPool::<AsyncPgConnection>::builder()
                .name(format!("replica-{i}"))
                .pool_size(1)
                .max_overflow(3)
                .pool_timeout(POOL_TIMEOUT)
                .wait_for_server_capacity(wait)
                .build(url)
                .await
                .unwrap();
            let callers: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        let mut seen = Replica::default();
                        for _ in 0..ROUNDS {
                            let asked = Instant::now();
                            match pool.get().await {
                                Ok(mut conn) => {
                                    seen.waits.push(asked.elapsed());
                                    match diesel::sql_query("SELECT pg_sleep(0.01)")
                                        .execute(&mut *conn)
                                        .await
                                    {
                                        Ok(_) => seen.served += 1,
                                        Err(e) => seen.errors.push(e.to_string()),
                                    }
                                }
                                Err(e) => seen.errors.push(format!("{e:#}")),
                            }
                        }
                        seen
                    })
                })
                .collect();
            replicas.push(callers);
        }
        let mut out = Vec::new();
        for callers in replicas {
            let mut replica = Replica::default();
            for c in callers {
                replica.add(c.await.unwrap());
            }
            out.push(replica);
        }
        out
    })
}

/// A role of this test's own on the shared server, `CONNECTION LIMIT 4`; dropped at the end.
struct LimitedRole {
    admin: String,
    name: String,
    url: String,
}

impl LimitedRole {
    fn create(test: &str) -> Option<LimitedRole> {
        let Ok(admin) = std::env::var("POOLSCOPE_PG_URL") else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: POOLSCOPE_PG_URL is not set"
            );
            return None;
        };
        let name = format!("replicas_{test}_{}", std::process::id());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached");
        client
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN CONNECTION LIMIT {BUDGET}"
            ))
            .unwrap();
        let config: postgres::Config = admin.parse().unwrap();
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("postgres");
        let url = format!("postgres://{name}@{host}:{port}/{db}");
        Some(LimitedRole { admin, name, url })
    }

    /// The role's connections on the server now.
    fn connections(&self) -> i64 {
        postgres::Client::connect(&self.admin, postgres::NoTls)
            .unwrap()
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE usename = $1",
                &[&self.name],
            )
            .unwrap()
            .get(0)
    }
}

impl Drop for LimitedRole {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}'; \
                 DROP ROLE IF EXISTS {0}",
                self.name
            ));
        }
    }
}

fn header() {
    let _ = writeln!(
        std::io::stderr(),
        "| replicas over a budget of {BUDGET} | calls | caller errors | server peak | share / p99 wait per replica |\n|---|---|---|---|---|"
    );
}

/// Runs `run` waiting for capacity (no error, the peak within the budget), then with
/// SQLAlchemy's behaviour (errors).
fn both_ways(
    what: &str,
    count: Option<&(dyn Fn() -> i64 + Sync)>,
    run: impl Fn(bool) -> Vec<Replica>,
) {
    header();
    let (replicas, peak) = match count {
        Some(count) => {
            let (replicas, peak) = sampling(count, || run(true));
            (replicas, Some(peak))
        }
        None => (run(true), None),
    };
    let errors = report(what, &replicas, peak);
    assert!(errors.is_empty(), "{what}: {} caller errors", errors.len());
    assert!(
        peak.unwrap_or(0) <= BUDGET,
        "{what}: {peak:?} on the server"
    );
    let served: usize = replicas.iter().map(|r| r.served).sum();
    assert_eq!(served, REPLICAS * CALLERS * ROUNDS);
    let errors = report(
        &format!("{what}, SQLAlchemy's behaviour"),
        &run(false),
        None,
    );
    assert!(
        !errors.is_empty(),
        "{what}: SQLAlchemy's behaviour refused nobody: the budget was never reached"
    );
}

#[test]
fn diesel_blocking_on_postgresql_within_a_role_limit() {
    let Some(role) = LimitedRole::create("blocking") else {
        return;
    };
    both_ways(
        "Diesel blocking, PostgreSQL",
        Some(&|| role.connections()),
        |wait| blocking::<diesel::PgConnection>(&role.url, wait, "SELECT pg_sleep(0.01)"),
    );
}

#[test]
fn diesel_async_on_postgresql_within_a_role_limit() {
    let Some(role) = LimitedRole::create("async") else {
        return;
    };
    both_ways(
        "diesel-async, PostgreSQL",
        Some(&|| role.connections()),
        |wait| nonblocking(&role.url, wait),
    );
}

#[test]
fn diesel_blocking_through_pgbouncer_within_max_client_conn() {
    let Some(server) = pgbouncer::server_with_notes("replicas_bouncer") else {
        return;
    };
    let Some(bouncer) = pgbouncer::PgBouncer::start_with(
        "transaction",
        "replicas_bouncer",
        &server,
        4,
        BUDGET as u32,
    ) else {
        return;
    };
    let url = bouncer.url();
    both_ways("Diesel blocking, PgBouncer", None, |wait| {
        blocking::<diesel::PgConnection>(&url, wait, "SELECT pg_sleep(0.01)")
    });
}

#[cfg(feature = "mysql")]
#[test]
fn diesel_blocking_on_mariadb_within_a_user_limit() {
    use mysql::prelude::Queryable;
    let Ok(admin) = std::env::var("POOLSCOPE_MYSQL_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED mariadb: POOLSCOPE_MYSQL_URL is not set"
        );
        return;
    };
    let user = format!("replicas_{}", std::process::id());
    let opts = mysql::Opts::from_url(&admin).unwrap();
    let mut client = mysql::Conn::new(opts.clone())
        .expect("POOLSCOPE_MYSQL_URL is set but MariaDB cannot be reached");
    let db = opts.get_db_name().unwrap_or("test").to_owned();
    client
        .query_drop(format!(
            "DROP USER IF EXISTS '{user}'@'%'; \
             CREATE USER '{user}'@'%' IDENTIFIED BY '' WITH MAX_USER_CONNECTIONS {BUDGET}; \
             GRANT ALL ON `{db}`.* TO '{user}'@'%'"
        ))
        .unwrap();
    let host = opts.get_ip_or_hostname().into_owned();
    let port = opts.get_tcp_port();
    let url = format!("mysql://{user}@{host}:{port}/{db}");
    // Connected ones: a connect being refused shows in the list for a moment ("Connect").
    let count = || -> i64 {
        mysql::Conn::new(opts.clone())
            .unwrap()
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.processlist \
                 WHERE user = ? AND command <> 'Connect'",
                (&user,),
            )
            .unwrap()
            .unwrap_or(0)
    };
    both_ways("Diesel blocking, MariaDB", Some(&count), |wait| {
        blocking::<diesel::MysqlConnection>(&url, wait, "SELECT SLEEP(0.01)")
    });
    let _ = client.query_drop(format!("DROP USER IF EXISTS '{user}'@'%'"));
}

/// The gauge `poolscope.server.connection.budget` (what the dashboard's Fleet row holds the
/// replicas against), as the pool read it on its first connection.
fn budget_gauge(snapshotter: &metrics_util::debugging::Snapshotter) -> Option<f64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == poolscope::metric_names::SERVER_BUDGET)
        .and_then(|(_, _, _, value)| match value {
            metrics_util::debugging::DebugValue::Gauge(v) => Some(v.into_inner()),
            _ => None,
        })
}

#[test]
fn the_budget_gauge_says_the_role_limit_on_both_fronts() {
    let Some(role) = LimitedRole::create("gauge") else {
        return;
    };
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let pool = metrics::with_local_recorder(&recorder, || {
        poolscope_diesel::Pool::<diesel::PgConnection>::builder()
            .build(role.url.as_str())
            .unwrap()
    });
    assert_eq!(
        budget_gauge(&snapshotter),
        Some(0.0),
        "unknown before a connection"
    );
    drop(pool.get().unwrap());
    assert_eq!(budget_gauge(&snapshotter), Some(BUDGET as f64), "blocking");

    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Built under the recorder (the build registers the pool's metrics).
    let pool = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(
            poolscope_diesel::AsyncPool::<diesel_async::AsyncPgConnection>::builder()
                .build(role.url.as_str()),
        )
    })
    .unwrap();
    runtime.block_on(async { drop(pool.get().await.unwrap()) });
    assert_eq!(budget_gauge(&snapshotter), Some(BUDGET as f64), "async");
}
