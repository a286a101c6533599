//! With the server down (nothing listens on the port), a statement fails with the connect
//! error, its cause kept, and is not reported as a pool timeout: the pool was not at its
//! limit, sqlx was retrying a refused connection until the deadline.
#![cfg(any(feature = "postgres", feature = "mysql"))]

use std::time::{Duration, Instant};

use poolscope_sea_orm::{is_pool_timeout, Builder};
use sea_orm::ConnectionTrait;

async fn down(url: &str) {
    let db = Builder::new()
        .pool_timeout(Duration::from_millis(300))
        .build(url)
        .unwrap();
    let started = Instant::now();
    let err = db.execute_unprepared("SELECT 1").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(!is_pool_timeout(&err), "{text}");
    assert!(!text.contains("QueuePool limit"), "{text}");
    assert!(
        text.to_lowercase().contains("refused"),
        "the cause is there: {text}"
    );
    assert_eq!(db.status().checked_out, 0);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_down_reads_as_connection_refused() {
    down("postgres://app:secret@127.0.0.1:1/orders").await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_down_reads_as_connection_refused() {
    down("mysql://app:secret@127.0.0.1:1/orders").await;
}
