//! Many replicas of a service against one database: each replica's pool may open
//! `pool_size + max_overflow`, the server admits `max_connections` minus the reserved ones.
//! Three pools of 2 + 2 (12 wanted) against a server of its own with `max_connections` 8,
//! 3 reserved for superusers (5 for the app's role):
//!
//! - the callers beyond the budget wait for a connection instead of failing (the server's
//!   refusal is capacity, not an error), and are served as soon as connections come back;
//!   while none does, they time out at `pool_timeout` with QueuePool's text and what the
//!   server said; the server never holds more than the budget;
//! - with `wait_for_server_capacity(false)` (SQLAlchemy's behaviour) they get the server's
//!   refusal at once, as a connect error with the server's words in its `source()`.
mod common;

use std::time::{Duration, Instant};

use common::pg::{reset, PgManager};
use common::private_postgres::PrivatePostgres;
use poolscope::{Error, Pool};

const TIMEOUT: Duration = Duration::from_secs(2);

fn replicas(server: &PrivatePostgres, wait: bool) -> Vec<Pool<PgManager>> {
    let config: postgres::Config = server.url("app").parse().unwrap();
    (0..3)
        .map(|i| {
            Pool::builder()
                .name(format!("replica-{i}"))
                .pool_size(2)
                .max_overflow(2)
                .pool_timeout(TIMEOUT)
                .wait_for_server_capacity(wait)
                .reset_with(reset)
                .build(PgManager(config.clone()))
                .unwrap()
        })
        .collect()
}

/// The server's words for its full budget, anywhere along an error's `source()` chain.
fn says_the_budget_is_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let text = poolscope::ErrorChain(e).to_string();
    text.contains("remaining connection slots are reserved") || text.contains("too many clients")
}

/// A server of the test's own admitting 5 connections to the role `app` (`max_connections`
/// 8, 3 reserved for superusers); `None` after saying SKIPPED.
fn server_with_a_budget_of_five(test: &str) -> Option<PrivatePostgres> {
    let server = PrivatePostgres::start(
        test,
        &["max_connections=8", "superuser_reserved_connections=3"],
    )?;
    server
        .admin()
        .batch_execute("CREATE ROLE app LOGIN")
        .unwrap();
    Some(server)
}

#[test]
fn replicas_beyond_the_budget_wait_for_capacity_and_are_served() {
    let Some(server) = server_with_a_budget_of_five("budget") else {
        return;
    };
    let replicas = replicas(&server, true);

    // Five connections held: the budget is spent.
    let mut held = Vec::new();
    for pool in &replicas {
        for _ in 0..2 {
            if held.len() < 5 {
                held.push(pool.get().unwrap());
            }
        }
    }
    assert_eq!(server.connections_of("app", 5), 5);

    // Every replica's next caller waits, and times out while nothing comes back, saying why.
    std::thread::scope(|s| {
        let waiting: Vec<_> = replicas
            .iter()
            .map(|pool| {
                s.spawn(move || {
                    let asked = Instant::now();
                    (pool.get().map(drop), asked.elapsed())
                })
            })
            .collect();
        for waiter in waiting {
            let (got, waited) = waiter.join().unwrap();
            // pool_timeout bounds the whole checkout: a caller whose deadline falls while its
            // probe is connecting (a slow refusal on a busy machine) gets the connect's
            // timeout, after the same full wait (seen once in CI with two runs side by side).
            if let Err(Error::ConnectTimeout(_)) = &got {
                assert!(waited >= TIMEOUT, "gave up after {waited:?}");
                continue;
            }
            let Err(Error::Timeout(timeout)) = &got else {
                panic!("a wait, then a timeout: {got:?}");
            };
            assert!(waited >= TIMEOUT, "gave up after {waited:?}");
            let text = timeout.to_string();
            assert!(text.contains("timeout 2.00; the server refused"), "{text}");
            let (count, last) = timeout.server_refused().expect("the refusals are said");
            assert!(count >= 1);
            assert!(says_the_budget_is_full(last.error()), "{last}");
        }
    });
    assert!(
        server.connections_of("app", 5) <= 5,
        "never above the budget"
    );

    // A caller that waits while a connection comes back (from another replica) is served.
    let waiter = std::thread::spawn({
        let pool = replicas[2].clone();
        move || pool.get().map(drop)
    });
    std::thread::sleep(Duration::from_millis(200));
    drop(held.remove(0));
    replicas[0].dispose(); // the replica that got it back closes it: capacity for the others
    waiter
        .join()
        .unwrap()
        .expect("served by the capacity another replica freed");

    // The load drops: every replica serves again.
    drop(held);
    for pool in &replicas {
        pool.dispose();
    }
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

#[test]
fn with_sqlalchemys_behaviour_the_refusal_is_an_error_at_once() {
    let Some(server) = server_with_a_budget_of_five("budget_raise") else {
        return;
    };
    let replicas = replicas(&server, false);
    let mut held = Vec::new();
    let mut refused = 0;
    for pool in &replicas {
        for _ in 0..4 {
            let started = Instant::now();
            match pool.get() {
                Ok(conn) => held.push(conn),
                Err(e) => {
                    assert!(matches!(e, Error::Connect(_)), "a connect error: {e}");
                    assert!(
                        started.elapsed() < TIMEOUT / 2,
                        "refused at once, not at pool_timeout: {:?}",
                        started.elapsed()
                    );
                    assert!(says_the_budget_is_full(&e), "the server's own words: {e}");
                    refused += 1;
                }
            }
        }
    }
    assert_eq!(held.len(), 5, "max_connections 8 - 3 reserved");
    assert_eq!(refused, 7);
    assert_eq!(server.connections_of("app", 5), 5);
}
