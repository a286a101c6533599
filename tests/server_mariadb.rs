//! The core against a real MariaDB / MySQL server, counting the server's own connections in
//! `information_schema.processlist`. Runs when `POOLSCOPE_MYSQL_URL` is set (for example
//! `mysql://root@127.0.0.1:3306/test`); says SKIPPED otherwise. A set URL that cannot be
//! reached fails the suite. Each test connects to a database of its own (`ps_<test>`, created
//! on the way) and counts only the connections in it, so other clients of the server are
//! not counted; the tests still take turns, sharing the server's connection limit.
mod common;

use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mysql::prelude::Queryable;
use poolscope::{BoxError, Error, Pool, PoolClass, ResetAction, ResetOnReturn};

struct MysqlManager(mysql::Opts);

impl r2d2::ManageConnection for MysqlManager {
    type Connection = mysql::Conn;
    type Error = mysql::Error;

    fn connect(&self) -> Result<mysql::Conn, mysql::Error> {
        mysql::Conn::new(self.0.clone())
    }
    fn is_valid(&self, conn: &mut mysql::Conn) -> Result<(), mysql::Error> {
        conn.ping()
    }
    fn has_broken(&self, _conn: &mut mysql::Conn) -> bool {
        false
    }
}

fn reset(conn: &mut mysql::Conn, action: ResetAction) -> Result<(), BoxError> {
    conn.query_drop(match action {
        ResetAction::Rollback => "ROLLBACK",
        ResetAction::Commit => "COMMIT",
    })?;
    Ok(())
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The URL of `test`'s own database and the file's lock, or `None` after saying SKIPPED
/// where the runner shows it.
fn url(test: &str) -> Option<(String, MutexGuard<'static, ()>)> {
    match std::env::var("POOLSCOPE_MYSQL_URL") {
        Ok(url) if !url.is_empty() => {
            let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
            let database = format!("ps_{test}");
            assert!(database.len() <= 64, "database name too long: {database}");
            admin(&url)
                .query_drop(format!("CREATE DATABASE IF NOT EXISTS {database}"))
                .unwrap();
            Some((own_url(&url, &database), serial))
        }
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: POOLSCOPE_MYSQL_URL is not set"
            );
            None
        }
    }
}

fn manager(url: &str) -> MysqlManager {
    MysqlManager(mysql::Opts::from_url(url).expect("POOLSCOPE_MYSQL_URL is a valid URL"))
}

/// `url` with its database replaced by `database` (its query string kept).
fn own_url(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host_end = base["mysql://".len()..]
        .find('/')
        .map_or(base.len(), |i| "mysql://".len() + i);
    let mut own = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        own = format!("{own}?{query}");
    }
    own
}

fn admin(url: &str) -> mysql::Conn {
    mysql::Conn::new(manager(url).0)
        .expect("POOLSCOPE_MYSQL_URL is set but the server cannot be reached")
}

/// The test's connections on the server right now (in its own database, this counting one
/// left out), once the count settles on `expected` (a closed connection leaves the
/// processlist a moment later), or the last count after 10 s.
fn settled_connections(url: &str, expected: u64) -> u64 {
    let mut admin = admin(url);
    let database = manager(url)
        .0
        .get_db_name()
        .expect("the test's database")
        .to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen: u64 = admin
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.processlist \
                 WHERE db = ? AND id <> CONNECTION_ID()",
                (&database,),
            )
            .unwrap()
            .unwrap();
        if seen == expected || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn builder() -> poolscope::Builder<MysqlManager> {
    Pool::builder().reset_with(reset)
}

#[test]
fn queue_pool_keeps_one_then_five_and_times_out_at_sixteen() {
    let Some((url, _serial)) = url("queue_pool_keeps_one_then_five_and_times_out_at_sixteen")
    else {
        return;
    };
    let base = settled_connections(&url, 0);
    let pool = builder()
        .pool_timeout(Duration::from_millis(500))
        .build(manager(&url))
        .unwrap();
    drop(pool.get().unwrap());
    assert_eq!(settled_connections(&url, base + 1), base + 1);
    let six: Vec<_> = (0..6).map(|_| pool.get().unwrap()).collect();
    assert_eq!(settled_connections(&url, base + 6), base + 6);
    drop(six);
    assert_eq!(settled_connections(&url, base + 5), base + 5);
    let fifteen: Vec<_> = (0..15).map(|_| pool.get().unwrap()).collect();
    let err = pool.get().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)));
    assert_eq!(
        err.to_string(),
        "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 0.50"
    );
    assert_eq!(settled_connections(&url, base + 15), base + 15);
    drop(fifteen);
    pool.dispose();
    assert_eq!(settled_connections(&url, base), base);
}

#[test]
fn null_static_and_singleton_thread_pools() {
    let Some((url, _serial)) = url("null_static_and_singleton_thread_pools") else {
        return;
    };
    let base = settled_connections(&url, 0);
    let null = builder()
        .pool_class(PoolClass::Null)
        .build(manager(&url))
        .unwrap();
    drop(null.get().unwrap());
    assert_eq!(settled_connections(&url, base), base);

    let stat = builder()
        .pool_class(PoolClass::Static)
        .build(manager(&url))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| drop(stat.get().unwrap()));
        }
    });
    assert_eq!(settled_connections(&url, base + 1), base + 1);
    drop(stat);

    let single = builder()
        .pool_class(PoolClass::SingletonThread)
        .build(manager(&url))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                drop(single.get().unwrap());
                drop(single.get().unwrap());
            });
        }
    });
    assert_eq!(settled_connections(&url, base + 3), base + 3);
}

#[test]
fn rollback_and_commit_on_return() {
    let Some((url, _serial)) = url("rollback_and_commit_on_return") else {
        return;
    };
    let pool = builder().pool_size(1).build(manager(&url)).unwrap();
    let table = "poolscope_rollback_probe";
    pool.get()
        .unwrap()
        .query_drop(format!(
            "CREATE TABLE IF NOT EXISTS {table} (n INT) ENGINE=InnoDB"
        ))
        .unwrap();
    pool.get()
        .unwrap()
        .query_drop(format!("DELETE FROM {table}"))
        .unwrap();
    let id = {
        let mut c = pool.get().unwrap();
        c.query_drop("BEGIN").unwrap();
        c.query_drop(format!("INSERT INTO {table} VALUES (1)"))
            .unwrap();
        c.connection_id()
    };
    let mut c = pool.get().unwrap();
    let rows: u64 = c
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.connection_id(), rows),
        (id, 0),
        "same server connection, insert rolled back"
    );
    drop(c);

    let commit = builder()
        .pool_size(1)
        .reset_on_return(ResetOnReturn::Commit)
        .build(manager(&url))
        .unwrap();
    {
        let mut c = commit.get().unwrap();
        c.query_drop("BEGIN").unwrap();
        c.query_drop(format!("INSERT INTO {table} VALUES (1)"))
            .unwrap();
    }
    let rows: u64 = pool
        .get()
        .unwrap()
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .unwrap()
        .unwrap();
    assert_eq!(rows, 1);
    pool.get()
        .unwrap()
        .query_drop(format!("DROP TABLE {table}"))
        .unwrap();
}

#[test]
fn pre_ping_replaces_a_connection_killed_on_the_server() {
    let Some((url, _serial)) = url("pre_ping_replaces_a_connection_killed_on_the_server") else {
        return;
    };
    let pool = builder()
        .pool_size(1)
        .pre_ping(true)
        .build(manager(&url))
        .unwrap();
    let id = pool.get().unwrap().connection_id();
    admin(&url).query_drop(format!("KILL {id}")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let c = pool.get().unwrap();
    assert_ne!(c.connection_id(), id);
    drop(c);
    assert_eq!(pool.status().checked_in, 1);
}

#[test]
fn assertion_pool_refuses_the_second_checkout() {
    let Some((url, _serial)) = url("assertion_pool_refuses_the_second_checkout") else {
        return;
    };
    let pool = builder()
        .pool_class(PoolClass::Assertion)
        .build(manager(&url))
        .unwrap();
    let _first = pool.get().unwrap();
    let err = pool.get().unwrap_err().to_string();
    assert!(
        err.starts_with("connection is already checked out at:\n"),
        "{err}"
    );
}

/// The count gauges on both export paths equal `information_schema.processlist`'s count of
/// the pool's connections after every step of a scenario that invalidates, loses connections
/// on the server side, detaches and disposes (see `common::gauge_truth`).
#[cfg(all(feature = "metrics", feature = "opentelemetry"))]
#[test]
fn gauges_count_what_the_server_has() {
    let Some((url, _serial)) = url("gauges_count_what_the_server_has") else {
        return;
    };
    let base = settled_connections(&url, 0);
    let gauges = common::gauge_truth::Gauges::new("poolscope-gauge-truth-mariadb");
    let pool = gauges.build(
        builder().pool_size(3).max_overflow(2).pre_ping(true),
        manager(&url),
    );
    let kill = || {
        let database = manager(&url)
            .0
            .get_db_name()
            .expect("the test's database")
            .to_owned();
        let mut admin = admin(&url);
        let ids: Vec<u64> = admin
            .exec(
                "SELECT id FROM information_schema.processlist \
                 WHERE db = ? AND id <> CONNECTION_ID()",
                (&database,),
            )
            .unwrap();
        for id in ids {
            admin.query_drop(format!("KILL {id}")).unwrap();
        }
        drop(admin); // it is in the test's database too
        assert_eq!(settled_connections(&url, 0), 0);
    };
    common::gauge_truth::gauges_follow_the_server(
        &pool,
        &gauges,
        &|expected| settled_connections(&url, base + expected as u64) as i64 - base as i64,
        &kill,
    );
}
