//! Malformed, unreachable and wrong-scheme URLs, generated: every Diesel pool (blocking
//! PostgreSQL and SQLite, async PostgreSQL and MySQL) builds or refuses, and a checkout gives a
//! connection or a clear error within its timeout; never a panic, a hang, or the URL's password
//! in a message. 64 cases per pool kind (`PROPTEST_CASES` changes it).
#![cfg(all(
    feature = "postgres",
    feature = "async-postgres",
    feature = "async-mysql"
))]

use std::time::{Duration, Instant};

use proptest::prelude::*;

#[path = "common/bad_urls.rs"]
mod bad_urls;
use bad_urls::{texts, url, SECRET};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const TIMEOUT: Duration = Duration::from_secs(2);
const PATIENCE: Duration = Duration::from_secs(6);

proptest! {
    #![proptest_config(config())]

    #[test]
    fn blocking_postgres(url in url()) {
        let started = Instant::now();
        match poolscope_diesel::Pool::<diesel::PgConnection>::builder()
            .pool_timeout(TIMEOUT)
            .build(url.as_str())
        {
            Err(e) => prop_assert!(!texts(&e).contains(SECRET), "{e}"),
            Ok(pool) => {
                prop_assert!(!pool.name().contains(SECRET), "{}", pool.name());
                if let Err(e) = pool.get() {
                    prop_assert!(!texts(&e).contains(SECRET), "{}", texts(&e));
                }
            }
        }
        prop_assert!(started.elapsed() < PATIENCE, "{:?} for {url}", started.elapsed());
    }

    #[test]
    fn blocking_sqlite(path in "\\PC{0,12}") {
        let started = Instant::now();
        let path = format!("/nonexistent-dir/{path}");
        if let Ok(pool) = poolscope_diesel::Pool::<diesel::SqliteConnection>::builder()
            .pool_timeout(TIMEOUT)
            .build(path.as_str())
        {
            // A connection or a clear error: either is an answer.
            let _ = pool.get().map(drop);
        }
        prop_assert!(started.elapsed() < PATIENCE);
    }

    #[test]
    fn async_postgres_and_mysql(url in url()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let started = Instant::now();
        rt.block_on(async {
            if let Ok(pool) = poolscope_diesel::AsyncPool::<diesel_async::AsyncPgConnection>::builder()
                .pool_timeout(TIMEOUT)
                .build(url.as_str())
                .await
            {
                if let Err(e) = pool.get().await {
                    prop_assert!(!texts(&e).contains(SECRET), "{}", texts(&e));
                }
            }
            if let Ok(pool) = poolscope_diesel::AsyncPool::<diesel_async::AsyncMysqlConnection>::builder()
                .pool_timeout(TIMEOUT)
                .build(url.as_str())
                .await
            {
                if let Err(e) = pool.get().await {
                    prop_assert!(!texts(&e).contains(SECRET), "{}", texts(&e));
                }
            }
            Ok(())
        })?;
        prop_assert!(started.elapsed() < PATIENCE * 2, "{:?} for {url}", started.elapsed());
    }
}
