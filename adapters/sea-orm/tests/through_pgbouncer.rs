//! SeaORM through PgBouncer 1.18 in transaction pooling mode, in front of a PostgreSQL server
//! of the test's own: 8 tasks share 2 server connections; a transaction opened in SQL text
//! (`BEGIN; INSERT ..`) is rolled back before its connection goes back, so it never reaches the
//! next client; unprepared statements work; and sqlx's prepared statements, which transaction
//! pooling before PgBouncer 1.21 cannot carry from one server connection to the next, fail with
//! or without sqlx's statement cache (measured and printed, not asserted: PgBouncer 1.21+ with
//! `max_prepared_statements`, or session mode, is the way for SeaORM).
#![cfg(feature = "postgres")]

#[path = "../../../tests/common/pgbouncer.rs"]
mod pgbouncer;
#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// 8 tasks × 25 parameterised queries (prepared statements), or with `unprepared` 25 plain
/// `SELECT 1` each (simple protocol); the errors they met and the first one's text.
async fn errors(db: &poolscope_sea_orm::DatabasePool, unprepared: bool) -> (usize, String) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let (mut errors, mut first) = (0, String::new());
                for i in 0..25i32 {
                    let outcome = if unprepared {
                        db.execute_unprepared("SELECT 1").await.map(drop)
                    } else {
                        let stmt = Statement::from_sql_and_values(
                            DbBackend::Postgres,
                            "SELECT $1::int AS x",
                            [i.into()],
                        );
                        db.query_one_raw(stmt).await.map(drop)
                    };
                    if let Err(e) = outcome {
                        errors += 1;
                        if first.is_empty() {
                            first = e.to_string();
                        }
                    }
                }
                (errors, first)
            })
        })
        .collect();
    let (mut total, mut first) = (0, String::new());
    for task in tasks {
        let (errors, text) = task.await.unwrap();
        total += errors;
        if first.is_empty() {
            first = text;
        }
    }
    (total, first)
}

#[test]
fn sea_orm_through_pgbouncer_in_transaction_mode() {
    // The admin client is blocking: the async parts run on a runtime of their own.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(server) = pgbouncer::server_with_notes("sea_through_bouncer") else {
        return;
    };
    let Some(bouncer) = pgbouncer::PgBouncer::start("sea_through_bouncer", &server, 2) else {
        return;
    };

    let cached = {
        let _entered = rt.enter();
        poolscope_sea_orm::Builder::new()
            .pool_size(4)
            .build(&bouncer.url())
            .unwrap()
    };
    let (with_cache, first) = rt.block_on(errors(&cached, false));
    eprintln!(
        "prepared queries through PgBouncer, sqlx's statement cache on: {with_cache} of 200 \
         failed (first: {first})"
    );
    rt.block_on(cached.close()).unwrap();

    let db = poolscope_sea_orm::Builder::new()
        .pool_size(4)
        .map_sqlx_postgres_opts(|o| o.statement_cache_capacity(0))
        .build(&bouncer.url())
        .unwrap();
    let (cache_off, first) = rt.block_on(errors(&db, false));
    eprintln!(
        "prepared queries through PgBouncer, statement cache off: {cache_off} of 200 failed \
         (first: {first})"
    );
    // Statements sent without preparing them (SeaORM's `execute_unprepared`, the simple
    // protocol) carry nothing from one server connection to the next.
    let (unprepared, first) = rt.block_on(errors(&db, true));
    assert_eq!(
        unprepared, 0,
        "unprepared statements through PgBouncer: {first}"
    );
    assert!(
        server.connections_of("app", 2) <= 2,
        "2 server connections behind PgBouncer"
    );

    // A transaction opened in SQL text: rolled back before the connection goes back.
    rt.block_on(db.execute_unprepared("BEGIN; INSERT INTO notes VALUES ('never committed')"))
        .unwrap();
    // Counted on the server itself (a prepared count through PgBouncer would meet the
    // statement clash above).
    let rows: i64 = server
        .admin()
        .query_one("SELECT COUNT(*) FROM notes", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "the open transaction was rolled back on return");
    assert_eq!(
        server.idle_in_transaction("app"),
        0,
        "no server connection left inside a transaction"
    );
}
