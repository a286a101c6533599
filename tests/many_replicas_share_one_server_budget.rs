//! Many replicas of a service against one database: each replica's pool may open
//! `pool_size + max_overflow`, the server admits `max_connections` minus the reserved ones.
//! Three pools of 2 + 2 (12 wanted) against a server of its own with `max_connections` 8,
//! 3 reserved for superusers (5 for the app's role): the callers beyond the budget get the
//! server's refusal at once as a connect error (not a pool timeout), the server never holds
//! more than the budget, and every replica works again when the load drops.
mod common;

use std::time::{Duration, Instant};

use common::pg::{reset, PgManager};
use common::private_postgres::PrivatePostgres;
use poolscope::{Error, Pool};

#[test]
fn replicas_beyond_the_budget_get_the_servers_refusal_and_recover() {
    let Some(server) = PrivatePostgres::start(
        "budget",
        &["max_connections=8", "superuser_reserved_connections=3"],
    ) else {
        return;
    };
    server
        .admin()
        .batch_execute("CREATE ROLE app LOGIN")
        .unwrap();
    let config: postgres::Config = server.url("app").parse().unwrap();
    let replicas: Vec<Pool<PgManager>> = (0..3)
        .map(|i| {
            Pool::builder()
                .name(format!("replica-{i}"))
                .pool_size(2)
                .max_overflow(2)
                .pool_timeout(Duration::from_secs(2))
                .reset_with(reset)
                .build(PgManager(config.clone()))
                .unwrap()
        })
        .collect();

    // The load: every replica wants 4 connections at once.
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for pool in &replicas {
        for _ in 0..4 {
            let started = Instant::now();
            match pool.get() {
                Ok(conn) => held.push(conn),
                Err(e) => {
                    assert!(matches!(e, Error::Connect(_)), "a connect error: {e}");
                    assert!(
                        started.elapsed() < Duration::from_secs(1),
                        "refused at once, not at pool_timeout: {:?}",
                        started.elapsed()
                    );
                    // The server's words are in the chain (postgres' own error says only
                    // "db error"; its source has the server's message).
                    let mut chain = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(cause) = source {
                        chain.push_str(&format!(": {cause}"));
                        source = cause.source();
                    }
                    refused.push(chain);
                }
            }
        }
    }
    assert_eq!(held.len(), 5, "max_connections 8 - 3 reserved: {refused:?}");
    assert_eq!(refused.len(), 7);
    for text in &refused {
        assert!(
            text.contains("remaining connection slots are reserved")
                || text.contains("too many clients"),
            "the server's own words: {text}"
        );
    }
    assert_eq!(server.connections_of("app", 5), 5);

    // The load drops: every replica serves again.
    drop(held);
    for pool in &replicas {
        drop(pool.get().expect("a replica recovers when the load drops"));
    }
    let open: usize = replicas
        .iter()
        .map(|p| p.status().checked_in + p.status().checked_out)
        .sum();
    assert!(open <= 5, "{open} kept");
    assert!(server.connections_of("app", open as i64) <= 5);
}
