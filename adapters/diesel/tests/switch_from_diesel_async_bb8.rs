//! Switching a diesel-async app from its bb8 pool to poolscope is a change of imports: the
//! same application code, written once (the macro below), is compiled against
//! `diesel_async::pooled_connection::bb8` and against `poolscope_diesel::bb8`, and run on
//! PostgreSQL (`POOLSCOPE_PG_URL`) against both.
//!
//! The app uses what bb8 apps use: `Pool<C>` and `PooledConnection<'_, C>` in signatures,
//! `Pool::builder()` with bb8's options, a `CustomizeConnection`, an app error converting
//! from `RunError` and `PoolError`, `pool.get().await?` in tasks, `&mut conn` where
//! diesel-async wants a connection, `get_owned`, and `state()` with its `statistics`, printed.
// `pub` items as an app's modules have them.
#![allow(unreachable_pub, missing_debug_implementations)]

mod common;

macro_rules! app {
    ($bb8:path) => {
        use std::time::Duration;

        use diesel::sql_types::BigInt;
        use diesel::QueryableByName;
        use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
        use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
        use pooled::{Pool, PooledConnection, RunError};
        use $bb8 as pooled;

        pub type DbPool = Pool<AsyncPgConnection>;

        #[derive(Debug)]
        pub enum AppError {
            Pool(#[allow(dead_code)] RunError),
            Build(#[allow(dead_code)] PoolError),
            Query(#[allow(dead_code)] diesel::result::Error),
        }

        impl From<RunError> for AppError {
            fn from(e: RunError) -> Self {
                AppError::Pool(e)
            }
        }

        impl From<PoolError> for AppError {
            fn from(e: PoolError) -> Self {
                AppError::Build(e)
            }
        }

        impl From<diesel::result::Error> for AppError {
            fn from(e: diesel::result::Error) -> Self {
                AppError::Query(e)
            }
        }

        #[derive(Debug)]
        struct Utc;

        impl bb8::CustomizeConnection<AsyncPgConnection, PoolError> for Utc {
            fn on_acquire<'a>(
                &'a self,
                conn: &'a mut AsyncPgConnection,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<(), PoolError>> + Send + 'a>,
            > {
                Box::pin(async move {
                    conn.batch_execute("SET TIME ZONE 'UTC'")
                        .await
                        .map_err(PoolError::QueryError)
                })
            }
        }

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }

        async fn count(
            conn: &mut PooledConnection<'_, AsyncPgConnection>,
            table: &str,
        ) -> Result<i64, AppError> {
            Ok(
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result::<Count>(conn)
                    .await?
                    .n,
            )
        }

        async fn handler(pool: DbPool, table: String, n: i32) -> Result<(), AppError> {
            let mut conn = pool.get_owned().await?;
            diesel::sql_query(format!("INSERT INTO {table} VALUES ({n})"))
                .execute(&mut conn)
                .await?;
            Ok(())
        }

        /// What the app saw: the rows counted, `max_size`, `state().connections`, and from
        /// `state().statistics` the checkouts served and the connections opened.
        pub type Seen = (i64, u32, u32, u64, u64);

        /// Builds the pool, makes `table`, inserts from 4 tasks, counts, prints the pool's
        /// statistics.
        pub async fn run(url: &str, table: &str) -> Result<Seen, AppError> {
            let config = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
            let pool: DbPool = Pool::builder()
                .max_size(4)
                .min_idle(Some(1))
                .test_on_check_out(true)
                .max_lifetime(Some(Duration::from_secs(1800)))
                .idle_timeout(Some(Duration::from_secs(600)))
                .connection_timeout(Duration::from_secs(5))
                .connection_customizer(Box::new(Utc))
                .build(config)
                .await?;
            {
                let mut conn = pool.get().await?;
                conn.batch_execute(&format!(
                    "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (n INTEGER)"
                ))
                .await?;
            }
            let tasks: Vec<_> = (0..4)
                .map(|i| tokio::spawn(handler(pool.clone(), table.to_owned(), i)))
                .collect();
            for t in tasks {
                t.await.unwrap()?;
            }
            let mut conn = pool.get().await?;
            let total = count(&mut conn, table).await?;
            drop(conn);
            let state = pool.state();
            let stats = &state.statistics;
            println!(
                "{} connections, {} idle; gets: {} direct, {} waited ({:?}), {} timed out, \
                 {} pending; connections: {} created, {} closed broken, {} invalid, \
                 {} at max lifetime, {} at idle timeout",
                state.connections,
                state.idle_connections,
                stats.get_direct,
                stats.get_waited,
                stats.get_wait_time,
                stats.get_timed_out,
                stats.pending_gets(),
                stats.connections_created,
                stats.connections_closed_broken,
                stats.connections_closed_invalid,
                stats.connections_closed_max_lifetime,
                stats.connections_closed_idle_timeout,
            );
            Ok((
                total,
                4,
                state.connections,
                stats.get_direct + stats.get_waited,
                stats.connections_created,
            ))
        }
    };
}

mod with_bb8 {
    app!(diesel_async::pooled_connection::bb8);
}

mod with_poolscope {
    app!(poolscope_diesel::bb8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_app_runs_on_both_pools() {
    let (Some(before), Some(after)) = (
        common::Target::postgres("bb8_before"),
        common::Target::postgres("bb8_after"),
    ) else {
        return;
    };
    let bb8 = with_bb8::run(&before.url, &before.table).await.unwrap();
    let poolscope = with_poolscope::run(&after.url, &after.table).await.unwrap();
    assert_eq!(bb8.0, 4, "four rows, counted on bb8");
    assert_eq!(poolscope.0, bb8.0);
    assert!(poolscope.2 >= 1 && poolscope.2 <= 4, "{poolscope:?}");
    // Six checkouts by the app; poolscope's `build` opens `min_idle` by a checkout of its own.
    assert_eq!(bb8.3, 6, "{bb8:?}");
    assert_eq!(poolscope.3, 6 + 1, "{poolscope:?}");
    assert!((1..=4).contains(&bb8.4), "{bb8:?}");
    assert!((1..=4).contains(&poolscope.4), "{poolscope:?}");
}
