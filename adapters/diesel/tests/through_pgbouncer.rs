//! Diesel's blocking pool through PgBouncer 1.18 in transaction pooling mode, in front of a
//! PostgreSQL server of the test's own: 8 threads share 2 server connections; a transaction a
//! handler leaves open is rolled back on return, so it never reaches the next client; and
//! Diesel's cached prepared statements, which transaction pooling before PgBouncer 1.21 cannot
//! carry from one server connection to the next, work once the cache is turned off on every
//! new connection (a connect listener), as the README says.
#![cfg(feature = "postgres")]

#[path = "../../../tests/common/pgbouncer.rs"]
mod pgbouncer;
#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{AnsiTransactionManager, CacheSize, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use poolscope::{ConnectionRecord, ListenerError, PoolListener};
use poolscope_diesel::Pool;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Turns Diesel's prepared-statement cache off on every new connection.
struct NoStatementCache;

impl PoolListener<PgConnection> for NoStatementCache {
    fn connect(
        &self,
        conn: &mut PgConnection,
        _: &mut ConnectionRecord,
    ) -> Result<(), ListenerError> {
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
    let Some(server) = private_postgres::PrivatePostgres::start("through_bouncer", &[]) else {
        return;
    };
    server
        .admin()
        .batch_execute(
            "CREATE ROLE app LOGIN; CREATE TABLE notes (body text); GRANT ALL ON notes TO app",
        )
        .unwrap();
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
