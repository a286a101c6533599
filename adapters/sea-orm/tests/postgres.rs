//! The SeaORM suite on PostgreSQL (`POOLSCOPE_PG_URL`; says SKIPPED without it).
#![cfg(feature = "postgres")]

mod common;
mod suite;

suite::sea_orm_suite!(|test: &str| common::Target::postgres(&format!("so_{test}")));

/// Ends every server connection of `test`'s pool, as a server restart or an admin would.
fn terminate_backends(test: &str) {
    let url = std::env::var("POOLSCOPE_PG_URL").unwrap();
    let app = format!("pd_so_{test}");
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .unwrap();
    })
    .join()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_ping_replaces_a_connection_the_server_ended() {
    use sea_orm::ConnectionTrait;
    let Some(t) = common::Target::postgres("so_pre_ping") else {
        return;
    };
    let db = poolscope_sea_orm::Builder::new()
        .pre_ping(true)
        .build(&t.url)
        .unwrap();
    db.execute_unprepared("SELECT 1").await.unwrap();
    common::settled(&db).await;
    terminate_backends("pre_ping");
    // The pooled connection is dead; the pre-ping finds out and a new one is opened.
    db.execute_unprepared("SELECT 1").await.unwrap();
    let status = common::settled(&db).await;
    assert_eq!((status.checked_in, status.overflow), (1, -9));
    assert_eq!(t.server_connections(1), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_sqlx_closes_on_its_own_stops_being_counted() {
    use sea_orm::ConnectionTrait;
    let Some(t) = common::Target::postgres("so_lost") else {
        return;
    };
    let db = poolscope_sea_orm::Builder::new()
        .pre_ping(false)
        .defaults(poolscope::Defaults::SQLALCHEMY)
        .build(&t.url)
        .unwrap();
    db.execute_unprepared("SELECT 1").await.unwrap();
    common::settled(&db).await;
    terminate_backends("lost");
    // Without pre_ping the statement meets the dead connection and fails; sqlx's own test on
    // release fails too and it closes the connection without a callback.
    assert!(db.execute_unprepared("SELECT 1").await.is_err());
    // Returned (kept idle, as far as the callback knew), then closed by sqlx: `status()` sees
    // sqlx's count fall and stops counting it.
    let nothing_open =
        "Pool size: 5  Connections in pool: 0 Current Overflow: -5 Current Checked out connections: 0";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while db.status().to_string() != nothing_open && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(db.status().to_string(), nothing_open);
    // And the pool carries on.
    db.execute_unprepared("SELECT 1").await.unwrap();
    assert_eq!(common::settled(&db).await.checked_in, 1);
}
