//! Server faults under load, through Diesel's pools (blocking and async), on a PostgreSQL
//! server the test starts itself: every backend killed, a restart, a 3 s stop, a 3 s freeze
//! (`SIGSTOP`, longer than `pool_timeout`), with `pre_ping` at its default (on), on and off.
//! Asserted: a kill costs at most one error per killed connection; no `get()` waits past
//! `pool_timeout` + 1.5 s, even while the server is frozen; no error once the fault has settled;
//! no slot leaked; `status()` and the server agree at the end. The table is printed.
#![cfg(all(feature = "postgres", feature = "async-postgres"))]

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
/// How long `faults::run` freezes the server.
const FREEZE: Duration = Duration::from_secs(3);

fn check(rows: &[Row], adapter: &str, pre_ping: &str, status: poolscope::Status, server: i64) {
    for row in rows {
        row.print(adapter, pre_ping);
    }
    for row in rows {
        // The blocking pool pings inline: its pre-ping waits for a frozen server (the README's
        // Rust translations say so); everything else is bounded by pool_timeout.
        let inline_ping = adapter.contains("blocking") && pre_ping != "off";
        let bound = match inline_ping {
            true => FREEZE + Duration::from_millis(500),
            false => POOL_TIMEOUT + Duration::from_millis(500),
        };
        row.assert_kept(&format!("{adapter} {pre_ping}"), bound);
    }
    assert_eq!(status.checked_out, 0, "{adapter} {pre_ping}: {status}");
    assert_eq!(
        server, status.checked_in as i64,
        "{adapter} {pre_ping}: the server has {server} connections, {status}"
    );
}

fn settled_status(status: impl Fn() -> poolscope::Status) -> poolscope::Status {
    let until = Instant::now() + Duration::from_secs(3);
    while status().checked_out > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    status()
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
        // Blocking.
        let mut builder = poolscope_diesel::Pool::<diesel::PgConnection>::builder()
            .pool_size(4)
            .max_overflow(2)
            .pool_timeout(POOL_TIMEOUT);
        if let Some(pre_ping) = pre_ping {
            builder = builder.pre_ping(pre_ping);
        }
        let pool = builder.build(url.as_str()).unwrap();
        let worker = pool.clone();
        let op: Op = Arc::new(move || {
            let started = Instant::now();
            match worker.get() {
                Err(e) => (started.elapsed(), Err(e.to_string())),
                Ok(mut conn) => {
                    let got = started.elapsed();
                    let done = diesel::sql_query("SELECT 1")
                        .execute(&mut conn)
                        .map(drop)
                        .map_err(|e| e.to_string());
                    (got, done)
                }
            }
        });
        let rows = faults::run(&server, "app", 6, op, SETTLE);
        let status = settled_status(|| pool.status());
        let on_server = server.connections_of("app", status.checked_in as i64);
        check(&rows, "Diesel blocking", label, status, on_server);
        pool.dispose();
        assert_eq!(server.connections_of("app", 0), 0);

        // Async.
        let (rows, status, on_server) =
            async_run::<diesel_async::AsyncPgConnection>(&server, "app", &url, pre_ping, &|n| {
                server.connections_of("app", n)
            });
        check(&rows, "diesel-async", label, status, on_server);
    }
}

/// The faults on diesel-async pool of `C` at `url`; the rows, the settled status and the
/// server's count of the pool's connections then (`count(expected)`). The pool is disposed of.
fn async_run<C>(
    server: &dyn faults::Faulty,
    who: &str,
    url: &str,
    pre_ping: Option<bool>,
    count: &dyn Fn(i64) -> i64,
) -> (Vec<Row>, poolscope::Status, i64)
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
        .pool_size(4)
        .max_overflow(2)
        .pool_timeout(POOL_TIMEOUT);
    if let Some(pre_ping) = pre_ping {
        builder = builder.pre_ping(pre_ping);
    }
    let pool = rt.block_on(builder.build(url)).unwrap();
    let (worker, handle) = (pool.clone(), rt.handle().clone());
    let op: Op = Arc::new(move || {
        handle.block_on(async {
            let started = Instant::now();
            match worker.get().await {
                Err(e) => (started.elapsed(), Err(e.to_string())),
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
    let rows = faults::run(server, who, 6, op, SETTLE);
    let status = settled_status(|| pool.status());
    let on_server = count(status.checked_in as i64);
    pool.dispose();
    (rows, status, on_server)
}

#[test]
fn faults_cost_what_they_should_through_diesel_async_on_mariadb() {
    let Some(server) = private_mariadb::PrivateMariadb::start("diesel_faults") else {
        return;
    };
    let url = server.url();
    Row::print_header();
    for (label, pre_ping) in [("default", None), ("on", Some(true)), ("off", Some(false))] {
        let (rows, status, on_server) =
            async_run::<diesel_async::AsyncMysqlConnection>(&server, "app", &url, pre_ping, &|n| {
                server.connections_in("app", n)
            });
        check(&rows, "diesel-async MariaDB", label, status, on_server);
    }
}
