//! Server faults under load, through Diesel's pools (blocking and async), on a PostgreSQL
//! server the test starts itself: every backend killed, a restart, a 4 s stop, a 4 s freeze
//! (`SIGSTOP`, longer than `pool_timeout`), with `pre_ping` at its default (on), on and off.
//! Asserted: a kill costs at most one error per killed connection; no `get()` waits past
//! `pool_timeout` (plus the machine's slack), even while the server is frozen (the blocking
//! pool's pre-ping by default is inline, as r2d2's: its `get()` waits for the freeze; the
//! "on" rows turn `bounded_pre_ping` on and keep `pool_timeout`); no error once the fault has
//! settled; no slot leaked; the pool back at `pool_size` idle, and `status()` and the server
//! agree at the end. The table is printed.

#[path = "../../../tests/common/faults.rs"]
mod faults;
#[path = "../../../tests/common/private_mariadb.rs"]
mod private_mariadb;
#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl as _;
use faults::{Op, Row};
use private_postgres::PrivatePostgres;

const POOL_TIMEOUT: Duration = Duration::from_secs(2);
const SETTLE: Duration = Duration::from_secs(2);
// A call bounded by pool_timeout, with the machine's slack, ends before the outage does.
const _: () =
    assert!(POOL_TIMEOUT.as_millis() + faults::SLACK.as_millis() < faults::OUTAGE.as_millis());

const POOL_SIZE: usize = 4;

fn check(rows: &[Row], adapter: &str, pre_ping: &str, status: poolscope::Status, server: i64) {
    for row in rows {
        row.print(adapter, pre_ping);
    }
    for row in rows {
        // Every call is bounded by pool_timeout but the blocking pool's inline pre-ping
        // (its default), which waits for a frozen server.
        let inline_ping = adapter.contains("blocking") && pre_ping == "default";
        let bound = if inline_ping {
            faults::OUTAGE
        } else {
            POOL_TIMEOUT
        };
        row.assert_kept(&format!("{adapter} {pre_ping}"), bound);
    }
    faults::assert_back_to_normal(&format!("{adapter} {pre_ping}"), &status, server, POOL_SIZE);
}

/// Where and how a fault run goes: the server, the role or database naming the pool's
/// connections there, the URL, the pre_ping setting (`None`: the default), and the server's
/// count of the pool's connections (`count(expected)`).
struct Target<'a> {
    server: &'a dyn faults::Faulty,
    who: &'a str,
    url: &'a str,
    pre_ping: Option<bool>,
    count: &'a dyn Fn(i64) -> i64,
}

/// The faults on a blocking Diesel pool of `C` at `url`, as [`async_run`].
fn blocking_run<C>(t: &Target<'_>) -> (Vec<Row>, poolscope::Status, i64)
where
    C: diesel::r2d2::R2D2Connection + Send + 'static,
    diesel::query_builder::SqlQuery: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    let mut builder = poolscope_diesel::Pool::<C>::builder()
        .pool_size(POOL_SIZE)
        .max_overflow(2)
        .pool_timeout(POOL_TIMEOUT);
    if let Some(pre_ping) = t.pre_ping {
        // "on": the ping bounded by pool_timeout too.
        builder = builder.pre_ping(pre_ping).bounded_pre_ping(pre_ping);
    }
    let pool = builder.build(t.url).unwrap();
    let worker = pool.clone();
    let op: Op = Arc::new(move || {
        let started = Instant::now();
        match worker.get() {
            Err(e) => (started.elapsed(), Err(faults::pool_error(&e))),
            Ok(mut conn) => {
                let got = started.elapsed();
                let done = diesel::sql_query("SELECT 1")
                    .execute(&mut *conn)
                    .map(drop)
                    .map_err(|e| e.to_string());
                (got, done)
            }
        }
    });
    run_settled(t, op, || pool.status(), || pool.dispose())
}

/// The faults on 6 workers of `op`; then the settled status and the server's count of the
/// pool's connections, and every connection closed by `dispose`.
fn run_settled(
    t: &Target<'_>,
    op: Op,
    status: impl Fn() -> poolscope::Status,
    dispose: impl FnOnce(),
) -> (Vec<Row>, poolscope::Status, i64) {
    let rows = faults::run(t.server, t.who, 6, op, SETTLE);
    let status = faults::settled(status);
    let on_server = (t.count)(status.checked_in as i64);
    dispose();
    assert_eq!((t.count)(0), 0, "every connection closed by dispose()");
    (rows, status, on_server)
}

#[test]
fn faults_cost_what_they_should_through_diesel() {
    let Some(server) = PrivatePostgres::start("diesel_faults", &["max_connections=40"]) else {
        return;
    };
    server
        .admin()
        .batch_execute("CREATE ROLE app LOGIN")
        .unwrap();
    let url = server.url("app");
    Row::print_header();
    for (label, pre_ping) in [("default", None), ("on", Some(true)), ("off", Some(false))] {
        let count = |n| server.connections_of("app", n);
        let t = Target {
            server: &server,
            who: "app",
            url: &url,
            pre_ping,
            count: &count,
        };
        let (rows, status, on_server) = blocking_run::<diesel::PgConnection>(&t);
        check(&rows, "Diesel blocking", label, status, on_server);
        let (rows, status, on_server) = async_run::<diesel_async::AsyncPgConnection>(&t);
        check(&rows, "diesel-async", label, status, on_server);
    }
}

/// The faults on diesel-async pool of `C` at `url`; the rows, the settled status and the
/// server's count of the pool's connections then (`count(expected)`). The pool is disposed of.
fn async_run<C>(t: &Target<'_>) -> (Vec<Row>, poolscope::Status, i64)
where
    C: diesel_async::AsyncConnection + 'static,
    poolscope_diesel::AsyncManager<C>: bb8::ManageConnection<Connection = C>,
    <poolscope_diesel::AsyncManager<C> as bb8::ManageConnection>::Error: std::fmt::Display,
    diesel::query_builder::SqlQuery: diesel_async::methods::ExecuteDsl<C>,
{
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let mut builder = poolscope_diesel::AsyncPool::<C>::builder()
        .pool_size(POOL_SIZE)
        .max_overflow(2)
        .pool_timeout(POOL_TIMEOUT);
    if let Some(pre_ping) = t.pre_ping {
        builder = builder.pre_ping(pre_ping);
    }
    let pool = rt.block_on(builder.build(t.url)).unwrap();
    let (worker, handle) = (pool.clone(), rt.handle().clone());
    let op: Op = Arc::new(move || {
        handle.block_on(async {
            let started = Instant::now();
            match worker.get().await {
                Err(e) => (started.elapsed(), Err(faults::pool_error(&e))),
                Ok(mut conn) => {
                    let got = started.elapsed();
                    let done = diesel_async::RunQueryDsl::execute(
                        diesel::sql_query("SELECT 1"),
                        &mut *conn,
                    )
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                    (got, done)
                }
            }
        })
    });
    run_settled(t, op, || pool.status(), || pool.dispose())
}

/// One way to run the faults on a pool: [`blocking_run`] or [`async_run`] of a connection type.
#[cfg(any(feature = "async-mysql", feature = "mysql"))]
type Run = fn(&Target<'_>) -> (Vec<Row>, poolscope::Status, i64);

/// The faults on a private MariaDB through `run`, pre_ping default / on / off.
#[cfg(any(feature = "async-mysql", feature = "mysql"))]
fn on_mariadb(test: &str, adapter: &str, run: Run) {
    let Some(server) = private_mariadb::PrivateMariadb::start(test) else {
        return;
    };
    let url = server.url();
    Row::print_header();
    for (label, pre_ping) in [("default", None), ("on", Some(true)), ("off", Some(false))] {
        let count = |n| server.connections_in("app", n);
        let (rows, status, on_server) = run(&Target {
            server: &server,
            who: "app",
            url: &url,
            pre_ping,
            count: &count,
        });
        check(&rows, adapter, label, status, on_server);
    }
}

#[cfg(feature = "async-mysql")]
#[test]
fn faults_cost_what_they_should_through_diesel_async_on_mariadb() {
    on_mariadb(
        "diesel_faults",
        "diesel-async MariaDB",
        async_run::<diesel_async::AsyncMysqlConnection>,
    );
}

/// Diesel's blocking `MysqlConnection` (libmysqlclient) through the same faults on MariaDB:
/// `cargo test -p poolscope-diesel --features full,mysql --test server_faults blocking_on_mariadb`
/// (CI runs it so).
#[cfg(feature = "mysql")]
#[test]
fn faults_cost_what_they_should_through_diesel_blocking_on_mariadb() {
    on_mariadb(
        "diesel_blocking_faults",
        "Diesel blocking MariaDB",
        blocking_run::<diesel::MysqlConnection>,
    );
}
