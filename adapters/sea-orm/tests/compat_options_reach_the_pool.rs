//! SeaORM's `ConnectOptions`, through `poolscope_sea_orm::compat`, set what they say: the
//! pool's limit, `min_connections` opened by `connect` (counted by the server), nonsense
//! refused with a clear error, and a stream's connection counted as checked out while the
//! stream lives.
#![cfg(all(feature = "sqlite", feature = "stream"))]

mod common;

use std::time::Duration;

use common::{settled, Target};
use futures_util::StreamExt;
use poolscope_sea_orm::compat::{ConnectOptions, Database};
use sea_orm::{ConnectionTrait, DbBackend, Statement, StreamTrait};

async fn min_connections_are_open_when_connect_returns(url: &str, target: &Target) {
    let mut opt = ConnectOptions::new(url);
    opt.max_connections(5)
        .min_connections(3)
        .acquire_timeout(Duration::from_secs(5));
    let db = Database::connect(opt).await.expect("connect");
    let status = settled(&db).await;
    assert_eq!(
        (status.size, status.checked_in, status.checked_out),
        (5, 3, 0)
    );
    assert_eq!(target.server_connections(3), 3);
    db.close().await.unwrap();
    assert_eq!(target.server_connections(0), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_connections_are_open_when_connect_returns_sqlite() {
    let target = Target::sqlite("compat_min_connections");
    let url = format!("sqlite://{}?mode=rwc", target.url);
    min_connections_are_open_when_connect_returns(&url, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_connections_are_open_when_connect_returns_postgres() {
    let Some(target) = Target::postgres("compat_min_connections") else {
        return;
    };
    min_connections_are_open_when_connect_returns(&target.url, &target).await;
}

#[tokio::test]
async fn nonsense_is_refused_with_a_clear_error() {
    let mut opt = ConnectOptions::new("sqlite::memory:");
    opt.max_connections(2).min_connections(3);
    let error = Database::connect(opt).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "Connection Error: min_connections 3 is above the pool's limit of 2 connections \
         (pool_size + max_overflow)"
    );
    let mut opt = ConnectOptions::new("sqlite::memory:");
    opt.max_connections(0);
    let error = Database::connect(opt).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "Connection Error: invalid max_connections: must be at least 1"
    );
    let error = Database::connect("nosuchdb://x").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no backend for URL scheme `nosuchdb`"),
        "{error}"
    );
}

#[tokio::test]
async fn a_lazy_connect_opens_nothing() {
    let target = Target::sqlite("compat_lazy");
    let mut opt = ConnectOptions::new(format!("sqlite://{}?mode=rwc", target.url));
    opt.connect_lazy(true).min_connections(2);
    let db = Database::connect(opt).await.expect("connect");
    assert_eq!(db.status().checked_in, 0);
    assert_eq!(db.status().overflow, -1, "{}", db.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_holds_a_counted_checkout_while_it_lives() {
    let mut opt = ConnectOptions::new("sqlite::memory:");
    opt.max_connections(1)
        .acquire_timeout(Duration::from_millis(200));
    let db = Database::connect(opt).await.expect("connect");
    let stmt = Statement::from_string(
        DbBackend::Sqlite,
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) \
         SELECT x FROM n",
    );
    let mut stream = db.stream_raw(stmt.clone()).await.expect("stream");
    assert_eq!(db.status().checked_out, 1);
    // A second stream waits for the only connection, and times out as a QueuePool does.
    let Err(error) = db.stream_raw(stmt).await else {
        panic!("a second stream got a connection while the only one is out");
    };
    assert_eq!(
        error.to_string(),
        "Connection Error: QueuePool limit of size 1 overflow 0 reached, connection timed out, \
         timeout 0.20"
    );
    let mut rows = 0;
    while let Some(row) = stream.next().await {
        row.unwrap();
        rows += 1;
    }
    drop(stream);
    assert_eq!(rows, 10);
    assert_eq!(settled(&db).await.checked_out, 0);
    // The connection came back to the pool and serves the next statement.
    db.execute_unprepared("SELECT 1").await.unwrap();
    assert_eq!(db.status().checked_in + db.status().checked_out, 1);
}
