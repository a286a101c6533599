//! Server faults under load through SeaORM, on a PostgreSQL server the test starts itself:
//! every backend killed, a restart, a 3 s stop, a 3 s freeze (`SIGSTOP`, longer than
//! `pool_timeout`), with `pre_ping` at its default (on), on and off. A call here is a whole
//! statement (SeaORM checks a connection out per statement), so its time includes the query,
//! which a frozen server holds. Asserted: a kill costs at most one error per killed
//! connection; no error once the fault has settled; no statement longer than the freeze +
//! 0.5 s; no slot leaked; the pool back at `pool_size` idle, and `status()` and the server agree at
//! the end. The table is printed.
#![cfg(feature = "postgres")]

#[path = "../../../tests/common/faults.rs"]
mod faults;
#[path = "../../../tests/common/private_mariadb.rs"]
mod private_mariadb;
#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use faults::{Op, Row};
use private_postgres::PrivatePostgres;
use sea_orm::ConnectionTrait;

const POOL_TIMEOUT: Duration = Duration::from_secs(2);
const SETTLE: Duration = Duration::from_secs(2);

/// The faults on a SeaORM pool at `url`, pre_ping default / on / off; `count(expected)` is the
/// server's count of the pool's connections once it settles.
fn run_all(
    server: &dyn faults::Faulty,
    who: &str,
    url: &str,
    adapter: &str,
    count: &dyn Fn(i64) -> i64,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    Row::print_header();
    for (label, pre_ping) in [("default", None), ("on", Some(true)), ("off", Some(false))] {
        let mut builder = poolscope_sea_orm::Builder::new()
            .pool_size(4)
            .max_overflow(2)
            .pool_timeout(POOL_TIMEOUT);
        if let Some(pre_ping) = pre_ping {
            builder = builder.pre_ping(pre_ping);
        }
        let db = builder.build(url).unwrap();
        let (worker, handle) = (db.clone(), rt.handle().clone());
        let op: Op = Arc::new(move || {
            handle.block_on(async {
                let started = Instant::now();
                let done = worker
                    .execute_unprepared("SELECT 1")
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                (started.elapsed(), done)
            })
        });
        let rows = faults::run(server, who, 6, op, SETTLE);
        for row in &rows {
            row.print(adapter, label);
        }
        for row in &rows {
            // sqlx tests a connection before it hands it out without a bound of its own:
            // a frozen server holds that call until it thaws.
            row.assert_kept(&format!("{adapter} {label}"), faults::OUTAGE);
        }
        let status = faults::settled(|| db.status());
        let on_server = count(status.checked_in as i64);
        faults::assert_back_to_normal(&format!("{adapter} {label}"), &status, on_server, 4);
        rt.block_on(db.close()).unwrap();
        assert_eq!(count(0), 0);
    }
}

#[test]
fn faults_cost_what_they_should_through_sea_orm() {
    let Some(server) = PrivatePostgres::start("sea_orm_faults", &["max_connections=40"]) else {
        return;
    };
    server
        .admin()
        .batch_execute("CREATE ROLE app LOGIN")
        .unwrap();
    let url = server.url("app");
    run_all(&server, "app", &url, "SeaORM", &|expected| {
        server.connections_of("app", expected)
    });
}

#[test]
fn faults_cost_what_they_should_through_sea_orm_on_mariadb() {
    let Some(server) = private_mariadb::PrivateMariadb::start("sea_orm_faults") else {
        return;
    };
    let url = server.url();
    run_all(&server, "app", &url, "SeaORM MariaDB", &|expected| {
        server.connections_in("app", expected)
    });
}
