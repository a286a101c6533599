//! The core against a real PostgreSQL server, counting the server's own connections in
//! `pg_stat_activity`. Runs when `POOLSCOPE_PG_URL` is set (for example
//! `postgres://postgres@127.0.0.1:5432/test`); says SKIPPED otherwise. A set URL that cannot be
//! reached fails the suite.
mod common;

use std::io::Write;
use std::time::Duration;

use common::pg::{reset, PgManager};
use poolscope::{Error, Pool, PoolClass, ResetOnReturn};

/// The URL, or `None` after saying SKIPPED where the test runner does not capture it.
fn url(test: &str) -> Option<String> {
    match std::env::var("POOLSCOPE_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: POOLSCOPE_PG_URL is not set"
            );
            None
        }
    }
}

/// A manager whose connections carry `application_name`, so each test counts only its own.
fn manager(url: &str, app: &str) -> PgManager {
    let mut config: postgres::Config = url.parse().expect("POOLSCOPE_PG_URL is a valid URL");
    config.application_name(app);
    config.connect_timeout(Duration::from_secs(5));
    PgManager(config)
}

fn server_connections(url: &str, app: &str) -> i64 {
    let mut admin = manager(url, "poolscope-admin")
        .0
        .connect(postgres::NoTls)
        .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached");
    admin
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap()
        .get(0)
}

/// The count once it settles on `expected` (a closed backend leaves `pg_stat_activity` a few
/// milliseconds later), or the last count seen after 10 s (an eventual count: it returns as soon as it agrees,
/// and a busy machine may take a while).
fn settled_connections(url: &str, app: &str, expected: i64) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = server_connections(url, app);
        if seen == expected || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pool(url: &str, app: &str) -> poolscope::Builder<PgManager> {
    let _ = manager(url, app);
    Pool::builder().reset_with(reset)
}

#[test]
fn queue_pool_keeps_one_then_five_and_times_out_at_sixteen() {
    let Some(url) = url("queue_pool_keeps_one_then_five_and_times_out_at_sixteen") else {
        return;
    };
    let app = "poolscope-queue";
    let pool = pool(&url, app)
        .pool_timeout(Duration::from_millis(500))
        .build(manager(&url, app))
        .unwrap();
    drop(pool.get().unwrap());
    assert_eq!(settled_connections(&url, app, 1), 1);
    let six: Vec<_> = (0..6).map(|_| pool.get().unwrap()).collect();
    assert_eq!(settled_connections(&url, app, 6), 6);
    drop(six);
    assert_eq!(settled_connections(&url, app, 5), 5);
    let fifteen: Vec<_> = (0..15).map(|_| pool.get().unwrap()).collect();
    assert_eq!(settled_connections(&url, app, 15), 15);
    let err = pool.get().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)));
    assert_eq!(
        err.to_string(),
        "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 0.50"
    );
    drop(fifteen);
    assert_eq!(settled_connections(&url, app, 5), 5);
    pool.dispose();
    assert_eq!(settled_connections(&url, app, 0), 0);
}

#[test]
fn null_pool_leaves_nothing_open() {
    let Some(url) = url("null_pool_leaves_nothing_open") else {
        return;
    };
    let app = "poolscope-null";
    let pool = pool(&url, app)
        .pool_class(PoolClass::Null)
        .build(manager(&url, app))
        .unwrap();
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    assert_eq!(settled_connections(&url, app, 2), 2);
    drop((a, b));
    assert_eq!(settled_connections(&url, app, 0), 0);
}

#[test]
fn static_and_singleton_thread_pools_hold_one_and_one_per_thread() {
    let Some(url) = url("static_and_singleton_thread_pools_hold_one_and_one_per_thread") else {
        return;
    };
    let app = "poolscope-static";
    let pool = pool(&url, app)
        .pool_class(PoolClass::Static)
        .build(manager(&url, app))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| drop(pool.get().unwrap()));
        }
    });
    assert_eq!(settled_connections(&url, app, 1), 1);

    let app = "poolscope-singleton";
    let pool = self::pool(&url, app)
        .pool_class(PoolClass::SingletonThread)
        .build(manager(&url, app))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                drop(pool.get().unwrap());
                drop(pool.get().unwrap());
            });
        }
    });
    assert_eq!(settled_connections(&url, app, 3), 3);
}

#[test]
fn rollback_on_return_hides_the_uncommitted_insert_and_keeps_the_connection() {
    let Some(url) = url("rollback_on_return_hides_the_uncommitted_insert_and_keeps_the_connection")
    else {
        return;
    };
    let app = "poolscope-rollback";
    let pool = pool(&url, app)
        .pool_size(1)
        .build(manager(&url, app))
        .unwrap();
    let table = "poolscope_rollback_probe";
    {
        let mut c = pool.get().unwrap();
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (n int)"
        ))
        .unwrap();
    }
    let pid: i32 = {
        let mut c = pool.get().unwrap();
        c.batch_execute(&format!("BEGIN; INSERT INTO {table} VALUES (1)"))
            .unwrap();
        c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0)
    };
    let mut c = pool.get().unwrap();
    let same_pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let rows: i64 = c
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .unwrap()
        .get(0);
    assert_eq!((same_pid, rows), (pid, 0));
    drop(c);

    let app = "poolscope-commit";
    let pool = self::pool(&url, app)
        .pool_size(1)
        .reset_on_return(ResetOnReturn::Commit)
        .build(manager(&url, app))
        .unwrap();
    pool.get()
        .unwrap()
        .batch_execute(&format!("BEGIN; INSERT INTO {table} VALUES (1)"))
        .unwrap();
    let rows: i64 = pool
        .get()
        .unwrap()
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    pool.get()
        .unwrap()
        .batch_execute(&format!("DROP TABLE {table}"))
        .unwrap();
}

#[test]
fn pre_ping_replaces_a_backend_killed_on_the_server() {
    let Some(url) = url("pre_ping_replaces_a_backend_killed_on_the_server") else {
        return;
    };
    let app = "poolscope-preping";
    let pool = pool(&url, app)
        .pool_size(1)
        .pre_ping(true)
        .build(manager(&url, app))
        .unwrap();
    let pid: i32 = pool
        .get()
        .unwrap()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut admin = manager(&url, "poolscope-admin")
        .0
        .connect(postgres::NoTls)
        .unwrap();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = pool.get().unwrap();
    let new_pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_ne!(new_pid, pid);
    drop(c);
    assert_eq!(pool.status().checked_in, 1);
    assert_eq!(settled_connections(&url, app, 1), 1);
}

#[test]
fn assertion_pool_refuses_the_second_checkout() {
    let Some(url) = url("assertion_pool_refuses_the_second_checkout") else {
        return;
    };
    let app = "poolscope-assertion";
    let pool = pool(&url, app)
        .pool_class(PoolClass::Assertion)
        .build(manager(&url, app))
        .unwrap();
    let _first = pool.get().unwrap();
    let err = pool.get().unwrap_err().to_string();
    assert!(
        err.starts_with("connection is already checked out at:\n"),
        "{err}"
    );
    assert!(err.contains(file!()), "{err}");
    assert_eq!(settled_connections(&url, app, 1), 1);
}

/// The count gauges on both export paths equal `pg_stat_activity`'s count of the pool's
/// connections after every step of a scenario that invalidates, loses connections on the
/// server side, detaches and disposes (see `common::gauge_truth`).
#[cfg(all(feature = "metrics", feature = "opentelemetry"))]
#[test]
fn gauges_count_what_the_server_has() {
    let Some(url) = url("gauges_count_what_the_server_has") else {
        return;
    };
    let app = "poolscope-gauge-truth";
    let gauges = common::gauge_truth::Gauges::new(app);
    let pool = gauges.build(
        pool(&url, app).pool_size(3).max_overflow(2).pre_ping(true),
        manager(&url, app),
    );
    let kill = || {
        let mut admin = manager(&url, "poolscope-admin")
            .0
            .connect(postgres::NoTls)
            .unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&app],
            )
            .unwrap();
        assert_eq!(settled_connections(&url, app, 0), 0);
    };
    common::gauge_truth::gauges_follow_the_server(
        &pool,
        &gauges,
        &|expected| settled_connections(&url, app, expected),
        &kill,
    );
}
