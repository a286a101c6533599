//! Switching a Diesel app from `diesel::r2d2` to poolscope is a change of imports: the same
//! application code, written once (the macro below), is compiled and run against Diesel's
//! own r2d2 pool and against `poolscope_diesel::r2d2`, and does the same thing.
//!
//! The app uses what r2d2 apps use: type aliases over `Pool<ConnectionManager<_>>` and
//! `PooledConnection<_>`, the builder's r2d2 options, a `CustomizeConnection`, an app error
//! converting from `PoolError`, `pool.get()?` on worker threads, `&mut conn` where Diesel
//! wants a connection, `conn.transaction(..)`, a function generic over the connection, and
//! `state()` / `max_size()`.
// `pub` items as an app's modules have them.
#![allow(unreachable_pub, missing_debug_implementations)]

mod common;

macro_rules! app {
    ($r2d2:path) => {
        use std::time::Duration;

        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        use diesel::sql_types::BigInt;
        use r2d2::{ConnectionManager, CustomizeConnection, Pool, PoolError, PooledConnection};
        use $r2d2 as r2d2;

        pub type DbPool = Pool<ConnectionManager<SqliteConnection>>;
        pub type DbConn = PooledConnection<ConnectionManager<SqliteConnection>>;

        #[derive(Debug)]
        pub enum AppError {
            Pool(#[allow(dead_code)] PoolError),
            Query(#[allow(dead_code)] diesel::result::Error),
        }

        impl From<PoolError> for AppError {
            fn from(e: PoolError) -> Self {
                AppError::Pool(e)
            }
        }

        impl From<diesel::result::Error> for AppError {
            fn from(e: diesel::result::Error) -> Self {
                AppError::Query(e)
            }
        }

        #[derive(Debug)]
        struct BusyTimeout;

        impl CustomizeConnection<SqliteConnection, r2d2::Error> for BusyTimeout {
            fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), r2d2::Error> {
                conn.batch_execute("PRAGMA busy_timeout = 5000")
                    .map_err(r2d2::Error::QueryError)
            }
        }

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }

        fn count<C>(conn: &mut C) -> QueryResult<i64>
        where
            C: Connection<Backend = diesel::sqlite::Sqlite> + diesel::connection::LoadConnection,
        {
            diesel::sql_query("SELECT COUNT(*) AS n FROM items")
                .get_result::<Count>(conn)
                .map(|c| c.n)
        }

        fn insert(conn: &mut DbConn, n: i32) -> Result<(), AppError> {
            conn.transaction(|c| {
                diesel::sql_query(format!("INSERT INTO items VALUES ({n})")).execute(c)?;
                Ok::<_, diesel::result::Error>(())
            })?;
            Ok(())
        }

        fn handler(pool: &DbPool, n: i32) -> Result<i64, AppError> {
            let mut conn = pool.get()?;
            insert(&mut conn, n)?;
            Ok(count(&mut conn)?)
        }

        /// Runs the app: builds the pool, creates a table, inserts from 4 worker threads,
        /// counts. Returns what it saw.
        pub fn run(url: &str) -> Result<(i64, u32, u32), AppError> {
            let manager = ConnectionManager::<SqliteConnection>::new(url);
            let pool: DbPool = Pool::builder()
                .max_size(4)
                .min_idle(Some(2))
                .test_on_check_out(true)
                .max_lifetime(Some(Duration::from_secs(1800)))
                .idle_timeout(Some(Duration::from_secs(600)))
                .connection_timeout(Duration::from_secs(5))
                .connection_customizer(Box::new(BusyTimeout))
                .build(manager)?;
            pool.get()?
                .batch_execute("CREATE TABLE IF NOT EXISTS items (n INTEGER)")?;
            let workers: Vec<_> = (0..4)
                .map(|i| {
                    let pool = pool.clone();
                    std::thread::spawn(move || handler(&pool, i))
                })
                .collect();
            for w in workers {
                w.join().unwrap()?;
            }
            let mut conn = pool.get()?;
            let total = count(&mut conn)?;
            drop(conn);
            Ok((total, pool.max_size(), pool.state().connections))
        }
    };
}

mod with_diesels_r2d2 {
    app!(diesel::r2d2);
}

mod with_poolscope {
    app!(poolscope_diesel::r2d2);
}

#[test]
fn the_same_app_runs_on_both_pools() {
    let before = common::Target::sqlite("r2d2_before");
    let after = common::Target::sqlite("r2d2_after");
    let diesel = with_diesels_r2d2::run(&before.url).unwrap();
    let poolscope = with_poolscope::run(&after.url).unwrap();
    assert_eq!(diesel.0, 4, "four rows, counted on Diesel's pool");
    assert_eq!(poolscope.0, diesel.0);
    assert_eq!(poolscope.1, diesel.1, "max_size");
    // r2d2 keeps every connection it opened; poolscope keeps min_idle and closes the rest on
    // return (SQLAlchemy's overflow).
    assert!(poolscope.2 >= 2 && poolscope.2 <= 4, "{poolscope:?}");
}

#[test]
fn build_opens_min_idle_and_fails_fast_on_a_bad_url() {
    use poolscope_diesel::r2d2::{ConnectionManager, Pool};
    let t = common::Target::sqlite("r2d2_min_idle");
    let pool = Pool::builder()
        .max_size(5)
        .min_idle(Some(3))
        .build(ConnectionManager::<diesel::SqliteConnection>::new(
            t.url.as_str(),
        ))
        .unwrap();
    assert_eq!(
        pool.state().idle_connections,
        3,
        "opened at build, as r2d2 does"
    );
    let err = Pool::builder()
        .connection_timeout(std::time::Duration::from_millis(500))
        .build(ConnectionManager::<diesel::SqliteConnection>::new(
            "/nonexistent-dir/nope/db.sqlite",
        ))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("could not open a connection"),
        "{err}"
    );
    let err = Pool::builder()
        .max_size(2)
        .min_idle(Some(3))
        .build(ConnectionManager::<diesel::SqliteConnection>::new(
            t.url.as_str(),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("min_idle"), "{err}");
}
