//! With the server down (nothing listens on the port), a checkout fails with the connect
//! error, its cause in the text and in `source()`, on every front of the adapter.
#![cfg(any(
    feature = "postgres",
    feature = "async-postgres",
    feature = "async-mysql"
))]

use std::time::Duration;

fn assert_refused(err: &(dyn std::error::Error + 'static)) {
    let mut chain = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    assert!(
        chain[0].starts_with("could not open a connection"),
        "{chain:?}"
    );
    assert!(
        chain.iter().any(|e| e.to_lowercase().contains("refused")),
        "the cause is in the chain: {chain:?}"
    );
}

#[cfg(feature = "postgres")]
#[test]
fn blocking_postgres_down() {
    let pool = poolscope_diesel::Pool::<diesel::PgConnection>::builder()
        .pool_timeout(Duration::from_secs(2))
        .build("postgres://app:secret@127.0.0.1:1/orders")
        .unwrap();
    assert_refused(&pool.get().err().unwrap());
}

#[cfg(feature = "async-postgres")]
#[tokio::test]
async fn async_postgres_down() {
    let pool = poolscope_diesel::AsyncPool::<diesel_async::AsyncPgConnection>::builder()
        .pool_timeout(Duration::from_secs(2))
        .build("postgres://app:secret@127.0.0.1:1/orders")
        .await
        .unwrap();
    assert_refused(&pool.get().await.err().unwrap());
}

#[cfg(feature = "async-mysql")]
#[tokio::test]
async fn async_mysql_down() {
    let pool = poolscope_diesel::AsyncPool::<diesel_async::AsyncMysqlConnection>::builder()
        .pool_timeout(Duration::from_secs(2))
        .build("mysql://app:secret@127.0.0.1:1/orders")
        .await
        .unwrap();
    assert_refused(&pool.get().await.err().unwrap());
}

/// The fail-fast start: `prefill` after `build` reports the server down at once.
#[cfg(feature = "postgres")]
#[test]
fn blocking_postgres_down_fails_at_prefill() {
    let pool = poolscope_diesel::Pool::<diesel::PgConnection>::builder()
        .pool_timeout(Duration::from_secs(2))
        .build("postgres://app:secret@127.0.0.1:1/orders")
        .unwrap();
    assert_refused(&pool.prefill(1).err().unwrap());
}

#[cfg(feature = "async-postgres")]
#[tokio::test]
async fn async_postgres_down_fails_at_prefill() {
    let pool = poolscope_diesel::AsyncPool::<diesel_async::AsyncPgConnection>::builder()
        .pool_timeout(Duration::from_secs(2))
        .build("postgres://app:secret@127.0.0.1:1/orders")
        .await
        .unwrap();
    assert_refused(&pool.prefill(1).await.err().unwrap());
}
