//! Malformed, unreachable and wrong-scheme URLs, generated: `Builder::build` refuses with a
//! clear error or builds, and a ping gives an answer within the pool's timeout; never a panic,
//! a hang, or the URL's password in a message or the pool's name. 64 cases
//! (`PROPTEST_CASES` changes it).
#![cfg(all(feature = "postgres", feature = "mysql", feature = "sqlite"))]

use std::time::{Duration, Instant};

use proptest::prelude::*;

#[path = "../../diesel/tests/common/bad_urls.rs"]
mod bad_urls;
use bad_urls::{texts, url, SECRET};

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn builds_or_refuses_and_pings_or_errs(url in url()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let started = Instant::now();
        rt.block_on(async {
            match poolscope_sea_orm::Builder::new()
                .pool_timeout(Duration::from_secs(2))
                .build(&url)
            {
                Err(e) => prop_assert!(!texts(&e).contains(SECRET), "{}", texts(&e)),
                Ok(db) => {
                    prop_assert!(!db.name().contains(SECRET), "{}", db.name());
                    if let Err(e) = db.ping().await {
                        prop_assert!(!texts(&e).contains(SECRET), "{}", texts(&e));
                    }
                }
            }
            Ok(())
        })?;
        // The ping's timeout, plus the connect probe that names a refused connect's cause.
        prop_assert!(started.elapsed() < Duration::from_secs(12), "{:?} for {url}", started.elapsed());
    }
}
