//! Diesel's blocking pool through PgBouncer 1.18 in transaction pooling mode, in front of a
//! PostgreSQL server of the test's own: 8 threads share 2 server connections; a transaction a
//! handler leaves open is rolled back on return, so it never reaches the next client; and
//! Diesel's cached prepared statements, which transaction pooling before PgBouncer 1.21 cannot
//! carry from one server connection to the next, work once the cache is turned off on every
//! new connection (a connect listener), as the README says.

#[path = "../../../tests/common/pgbouncer.rs"]
mod pgbouncer;
#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;

use poolscope::ConnectionEvent;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{AnsiTransactionManager, CacheSize, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use poolscope::{ListenerError, PoolListener};
use poolscope_diesel::Pool;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Turns Diesel's prepared-statement cache off on every new connection.
struct NoStatementCache;

impl PoolListener<PgConnection> for NoStatementCache {
    fn connect(&self, event: ConnectionEvent<'_, PgConnection>) -> Result<(), ListenerError> {
        let conn = event.connection;
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        Ok(())
    }
}

/// 8 threads × 25 DSL queries (`SELECT 1` as Diesel's query builder writes it, a cached
/// prepared statement by default); the errors they met.
fn dsl_errors(pool: &Pool<PgConnection>) -> usize {
    let errors = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..8 {
            let errors = Arc::clone(&errors);
            s.spawn(move || {
                for _ in 0..25 {
                    let mut conn = pool.get().expect("a connection through PgBouncer");
                    let one = diesel::select(1.into_sql::<Integer>()).get_result::<i32>(&mut conn);
                    if one.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    errors.load(Ordering::Relaxed)
}

#[test]
fn diesel_through_pgbouncer_in_transaction_mode() {
    let Some(server) = pgbouncer::server_with_notes("through_bouncer") else {
        return;
    };
    let Some(bouncer) = pgbouncer::PgBouncer::start("through_bouncer", &server, 2) else {
        return;
    };

    // Without the cache turned off: Diesel's named statements meet server connections that
    // never saw them.
    let cached = Pool::<PgConnection>::builder()
        .pool_size(4)
        .build(bouncer.url().as_str())
        .unwrap();
    let with_cache = dsl_errors(&cached);
    eprintln!(
        "DSL queries with Diesel's statement cache through PgBouncer: {with_cache} of 200 failed"
    );
    cached.dispose();

    let pool = Pool::<PgConnection>::builder()
        .pool_size(4)
        .listener(NoStatementCache)
        .build(bouncer.url().as_str())
        .unwrap();
    assert_eq!(
        dsl_errors(&pool),
        0,
        "with the cache off, every query works"
    );
    assert!(
        server.connections_of("app", 2) <= 2,
        "8 threads, 4 pooled connections, 2 server connections"
    );

    // A handler returns its connection inside a transaction: rolled back on return, so the
    // row never reaches anyone, and PgBouncer gets its server connection back clean.
    {
        let mut conn = pool.get().unwrap();
        AnsiTransactionManager::begin_transaction(&mut *conn).unwrap();
        conn.batch_execute("INSERT INTO notes VALUES ('never committed')")
            .unwrap();
    }
    let mut conn = pool.get().unwrap();
    let rows = diesel::sql_query("SELECT COUNT(*) AS n FROM notes")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
    assert_eq!(rows, 0, "the open transaction was rolled back on return");
    assert_eq!(
        server.idle_in_transaction("app"),
        0,
        "no server connection left inside a transaction"
    );
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

fn statement_timeout(conn: &mut PgConnection) -> String {
    diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
        .get_result::<Setting>(conn)
        .unwrap()
        .value
}

/// Session settings through PgBouncer. Transaction mode, one server connection shared by
/// every client: a `SET LOCAL` inside a transaction the handler leaves open is rolled back on
/// return and never reaches the next client; a plain `SET` is not the pool's to undo (it ran
/// on a server connection PgBouncer lends to everyone) and does reach another client, which
/// is PgBouncer's documented hazard and why the README says `SET LOCAL`. Session mode: the
/// setting stays with the pooled connection, as in any pool, and a reset that adds
/// `RESET ALL` (SQLAlchemy's documented custom reset) clears it before the next checkout.
#[test]
fn session_settings_through_pgbouncer() {
    let Some(server) = private_postgres::PrivatePostgres::start("bouncer_settings", &[]) else {
        return;
    };
    server
        .admin()
        .batch_execute("CREATE ROLE app LOGIN")
        .unwrap();
    let Some(bouncer) = pgbouncer::PgBouncer::start("bouncer_settings", &server, 1) else {
        return;
    };
    let pool = Pool::<PgConnection>::builder()
        .pool_size(2)
        .listener(NoStatementCache)
        .build(bouncer.url().as_str())
        .unwrap();
    {
        // Two client connections at once, so that the second checkout is another client.
        let mut first = pool.get().unwrap();
        let mut other = pool.get().unwrap();
        assert_eq!(statement_timeout(&mut other), "0");
        AnsiTransactionManager::begin_transaction(&mut *first).unwrap();
        first
            .batch_execute("SET LOCAL statement_timeout = '1234ms'")
            .unwrap();
        assert_eq!(statement_timeout(&mut first), "1234ms");
        drop(first); // returned inside its transaction: rolled back
        assert_eq!(
            statement_timeout(&mut other),
            "0",
            "SET LOCAL in a transaction left open never reaches another client"
        );
    }
    {
        let mut first = pool.get().unwrap();
        let mut other = pool.get().unwrap();
        first
            .batch_execute("SET statement_timeout = '1234ms'")
            .unwrap();
        drop(first);
        let seen = statement_timeout(&mut other);
        eprintln!(
            "a plain SET through PgBouncer in transaction mode, seen by another client: {seen}"
        );
        assert_eq!(
            seen, "1234ms",
            "PgBouncer's documented hazard, as the README says"
        );
        other.batch_execute("RESET statement_timeout").unwrap();
    }
    pool.dispose();
    drop(bouncer);

    let Some(bouncer) = pgbouncer::PgBouncer::start_in("session", "bouncer_settings", &server, 2)
    else {
        return;
    };
    let settings_left = |pool: &Pool<PgConnection>| {
        pool.get()
            .unwrap()
            .batch_execute("SET statement_timeout = '1234ms'")
            .unwrap();
        statement_timeout(&mut pool.get().unwrap())
    };
    let plain = Pool::<PgConnection>::builder()
        .pool_size(1)
        .build(bouncer.url().as_str())
        .unwrap();
    let kept = settings_left(&plain);
    eprintln!("session mode, default reset (rollback): the next checkout sees {kept}");
    assert_eq!(kept, "1234ms", "a rollback does not undo a session SET");
    plain.dispose();
    let resetting = Pool::<PgConnection>::builder()
        .pool_size(1)
        .reset_with(|conn: &mut PgConnection, action| {
            poolscope_diesel::reset_connection(conn, action)?;
            conn.batch_execute("RESET ALL")?;
            Ok(())
        })
        .build(bouncer.url().as_str())
        .unwrap();
    assert_eq!(
        settings_left(&resetting),
        "0",
        "a reset with RESET ALL leaves the next checkout clean"
    );
}

/// diesel-async's pool through PgBouncer. Transaction mode (PgBouncer 1.18, 2 server
/// connections, 8 tasks): tokio-postgres sends every statement, the connection's own setup
/// included, as a named prepared statement over several round trips, which PgBouncer may hand
/// to different server connections; connects and queries then fail, measured and printed
/// (not asserted: it depends on timing), and the pool stays whole: every failure is an error
/// to its caller, no slot is lost. Session mode: everything works, and a transaction a
/// handler leaves open is rolled back on return. So for diesel-async: session mode, or
/// PgBouncer 1.21+ with `max_prepared_statements`, as the README says.
#[cfg(feature = "async-postgres")]
#[test]
fn diesel_async_through_pgbouncer() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
    type Tm = <AsyncPgConnection as AsyncConnection>::TransactionManager;
    use diesel_async::TransactionManager as _;
    type Pool = poolscope_diesel::AsyncPool<AsyncPgConnection>;

    /// 8 tasks × 25 checkouts, each running a DSL query (a prepared statement) or SQL text:
    /// (failed checkouts, failed queries).
    async fn failures(pool: &Pool, dsl: bool) -> (usize, usize) {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let (mut gets, mut queries) = (0, 0);
                    for _ in 0..25 {
                        let Ok(mut conn) = pool.get().await else {
                            gets += 1;
                            continue;
                        };
                        let outcome = match dsl {
                            true => RunQueryDsl::get_result::<i32>(
                                diesel::select(1.into_sql::<Integer>()),
                                &mut *conn,
                            )
                            .await
                            .map(drop),
                            false => conn.batch_execute("SELECT 1").await,
                        };
                        queries += usize::from(outcome.is_err());
                    }
                    (gets, queries)
                })
            })
            .collect();
        let (mut gets, mut queries) = (0, 0);
        for task in tasks {
            let (g, q) = task.await.unwrap();
            (gets, queries) = (gets + g, queries + q);
        }
        (gets, queries)
    }

    let Some(server) = pgbouncer::server_with_notes("async_bouncer") else {
        return;
    };
    // The server's own client (`postgres`) runs a runtime of its own: kept outside this one.
    let rt = tokio::runtime::Runtime::new().unwrap();

    let Some(bouncer) = pgbouncer::PgBouncer::start("async_bouncer", &server, 2) else {
        return;
    };
    let url = bouncer.url();
    rt.block_on(async {
        let pool = Pool::builder()
            .pool_size(4)
            .pool_timeout(std::time::Duration::from_secs(5))
            .build(&url)
            .await
            .unwrap();
        let text = failures(&pool, false).await;
        let dsl = failures(&pool, true).await;
        eprintln!(
            "diesel-async through PgBouncer 1.18 in transaction mode, of 200 checkouts: SQL text \
             {} failed checkouts, {} failed queries; DSL {} failed checkouts, {} failed queries",
            text.0, text.1, dsl.0, dsl.1
        );
        // A return resets its connection in the background (a failed query may have left
        // a transaction to roll back): give the last one time to finish, then nothing may be
        // checked out.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while pool.status().checked_out > 0 && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let status = pool.status();
        assert_eq!(status.checked_out, 0, "every slot back: {status}");
        pool.dispose();
    });
    drop(bouncer);

    let Some(bouncer) = pgbouncer::PgBouncer::start_in("session", "async_bouncer", &server, 4)
    else {
        return;
    };
    let url = bouncer.url();
    let rows = rt.block_on(async {
        let pool = Pool::builder().pool_size(4).build(&url).await.unwrap();
        assert_eq!(
            failures(&pool, false).await,
            (0, 0),
            "session mode: SQL text"
        );
        assert_eq!(
            failures(&pool, true).await,
            (0, 0),
            "session mode: DSL queries"
        );
        {
            let mut conn = pool.get().await.unwrap();
            Tm::begin_transaction(&mut *conn).await.unwrap();
            conn.batch_execute("INSERT INTO notes VALUES ('never committed')")
                .await
                .unwrap();
        }
        let mut conn = pool.get().await.unwrap();
        RunQueryDsl::get_result::<Count>(
            diesel::sql_query("SELECT COUNT(*) AS n FROM notes"),
            &mut *conn,
        )
        .await
        .unwrap()
        .n
    });
    assert_eq!(rows, 0, "the open transaction was rolled back on return");
    assert_eq!(
        server.idle_in_transaction("app"),
        0,
        "no server connection left inside a transaction"
    );
}
