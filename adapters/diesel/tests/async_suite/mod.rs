//! SQLAlchemy's pool behaviours replayed on a diesel-async connection type, counting the
//! server's own connections. Expanded once per backend.

/// `$conn`: the diesel-async connection type; `$target`: `fn(&str) -> Option<Target>`.
macro_rules! async_suite {
    ($conn:ty, $target:expr) => {
        use std::time::Duration;

        use diesel::sql_types::BigInt;
        use diesel::QueryableByName;
        use diesel_async::{
            AsyncConnection, RunQueryDsl, SimpleAsyncConnection, TransactionManager,
        };
        use poolscope::{BuildError, PoolClass, ResetOnReturn};
        use poolscope_diesel::AsyncPool;

        type Conn = $conn;
        type Tm = <Conn as AsyncConnection>::TransactionManager;

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }

        fn target(test: &str) -> Option<common::Target> {
            ($target)(test)
        }

        async fn rows(conn: &mut Conn, table: &str) -> i64 {
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(conn)
                .await
                .unwrap()
                .n
        }

        fn depth(conn: &mut Conn) -> u32 {
            Tm::transaction_manager_status_mut(conn)
                .transaction_depth()
                .unwrap()
                .map_or(0, |d| d.get())
        }

        async fn fresh_table(pool: &AsyncPool<Conn>, table: &str) {
            let mut conn = pool.get().await.unwrap();
            conn.batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
                .await
                .unwrap();
            conn.batch_execute(&format!("CREATE TABLE {table} (x INTEGER)"))
                .await
                .unwrap();
        }

        fn builder() -> poolscope_diesel::AsyncBuilder<Conn> {
            AsyncPool::<Conn>::builder().pool_timeout(Duration::from_millis(500))
        }

        /// A one-connection pool, so that the next checkout gets the same connection back.
        async fn one(t: &common::Target, reset: ResetOnReturn) -> AsyncPool<Conn> {
            builder()
                .pool_size(1)
                .max_overflow(0)
                .reset_on_return(reset)
                .build(t.url.as_str())
                .await
                .unwrap()
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn queue_pool_keeps_one_then_five_and_the_sixteenth_times_out() {
            let Some(t) = target("aq") else { return };
            let pool = builder()
                .pool_size(5)
                .max_overflow(10)
                .build(t.url.as_str())
                .await
                .unwrap();
            drop(pool.get().await.unwrap());
            assert_eq!(t.server_connections(1), 1);
            let mut held = Vec::new();
            for _ in 0..6 {
                held.push(pool.get().await.unwrap());
            }
            drop(held);
            assert_eq!(pool.status().checked_in, 5);
            assert_eq!(t.server_connections(5), 5);
            let mut held = Vec::new();
            for _ in 0..15 {
                held.push(pool.get().await.unwrap());
            }
            assert_eq!(t.server_connections(15), 15);
            let err = pool.get().await.unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "QueuePool limit of size 5 overflow 10 reached, connection timed out, \
                     timeout 0.50"
                ),
                "{err}"
            );
            drop(held);
            assert_eq!(t.server_connections(5), 5);
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn null_static_and_assertion_pools_hold_what_sqlalchemy_holds() {
            let Some(t) = target("aclasses") else { return };
            let null = AsyncPool::<Conn>::builder()
                .pool_class(PoolClass::Null)
                .build(t.url.as_str())
                .await
                .unwrap();
            drop(null.get().await.unwrap());
            assert_eq!(t.server_connections(0), 0, "NullPool keeps nothing");

            let fixed = AsyncPool::<Conn>::builder()
                .pool_class(PoolClass::Static)
                .build(t.url.as_str())
                .await
                .unwrap();
            for _ in 0..3 {
                drop(fixed.get().await.unwrap());
            }
            assert_eq!(t.server_connections(1), 1, "StaticPool keeps one in all");
            drop(fixed);

            let assertion = AsyncPool::<Conn>::builder()
                .pool_class(PoolClass::Assertion)
                .build(t.url.as_str())
                .await
                .unwrap();
            let first = assertion.get().await.unwrap();
            let site = first.checkout_location();
            let err = assertion.get().await.unwrap_err().to_string();
            assert!(err.contains("connection is already checked out"), "{err}");
            assert!(
                err.contains(&format!("{}:{}", site.file(), site.line())),
                "{err}"
            );
        }

        #[tokio::test]
        async fn singleton_thread_pool_is_refused_for_tasks() {
            let Some(t) = target("asingle") else { return };
            let err = AsyncPool::<Conn>::builder()
                .pool_class(PoolClass::SingletonThread)
                .build(t.url.as_str())
                .await
                .unwrap_err();
            assert!(
                matches!(err, BuildError::ClassNotSupported { .. }),
                "{err:?}"
            );
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn rollback_on_return_hides_an_uncommitted_insert_and_keeps_the_connection() {
            let Some(t) = target("arollback") else { return };
            let pool = one(&t, ResetOnReturn::Rollback).await;
            fresh_table(&pool, &t.table).await;
            let id = {
                let mut conn = pool.get().await.unwrap();
                Tm::begin_transaction(&mut *conn).await.unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .await
                    .unwrap();
                Tm::begin_transaction(&mut *conn).await.unwrap();
                conn.batch_execute("SELECT * FROM no_such_table_anywhere")
                    .await
                    .unwrap_err();
                assert_eq!(depth(&mut conn), 2);
                conn.record().connection_id()
            };
            let mut conn = pool.get().await.unwrap();
            assert_eq!(
                conn.record().connection_id(),
                id,
                "the same connection, reused"
            );
            assert_eq!(
                depth(&mut conn),
                0,
                "diesel-async's depth counter is back to zero"
            );
            assert_eq!(
                rows(&mut conn, &t.table).await,
                0,
                "the insert was rolled back"
            );
            drop(conn);
            assert_eq!(t.server_connections(1), 1);
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn a_task_cancelled_inside_a_transaction_is_rolled_back_on_return() {
            let Some(t) = target("acancel") else { return };
            let pool = one(&t, ResetOnReturn::Rollback).await;
            fresh_table(&pool, &t.table).await;
            let task = {
                let pool = pool.clone();
                let table = t.table.clone();
                tokio::spawn(async move {
                    let mut conn = pool.get().await.unwrap();
                    Tm::begin_transaction(&mut *conn).await.unwrap();
                    conn.batch_execute(&format!("INSERT INTO {table} VALUES (1)"))
                        .await
                        .unwrap();
                    std::future::pending::<()>().await;
                })
            };
            while pool.status().checked_out == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            task.abort();
            let mut conn = pool.get().await.unwrap();
            assert_eq!(depth(&mut conn), 0);
            assert_eq!(rows(&mut conn, &t.table).await, 0);
            drop(conn);
            assert_eq!(t.server_connections(1), 1);
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn commit_on_return_makes_the_insert_visible() {
            let Some(t) = target("acommit") else { return };
            let pool = one(&t, ResetOnReturn::Commit).await;
            fresh_table(&pool, &t.table).await;
            {
                let mut conn = pool.get().await.unwrap();
                Tm::begin_transaction(&mut *conn).await.unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .await
                    .unwrap();
            }
            // The COMMIT goes on on a spawned task when it must wait for the server: let it
            // land before another connection looks.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while pool.status().checked_out > 0 && std::time::Instant::now() < until {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            let other = AsyncPool::<Conn>::builder()
                .build(t.url.as_str())
                .await
                .unwrap();
            assert_eq!(rows(&mut *other.get().await.unwrap(), &t.table).await, 1);
            assert_eq!(depth(&mut *pool.get().await.unwrap()), 0);
        }

        /// Eight tasks loop checkout / `SELECT 1` / return on a pool of 4 + 4 while every one
        /// of the pool's server connections is killed, four times over. Each killed
        /// connection may cost one caller one error, no more; afterwards every checkout
        /// works and the pool's idle count is the server's.
        async fn killed_connections_cost_at_most_one_error_each(
            test: &str,
            pre_ping: Option<bool>,
        ) {
            let Some(t) = target(test) else { return };
            let mut b = AsyncPool::<Conn>::builder().pool_size(4).max_overflow(4);
            if let Some(pre_ping) = pre_ping {
                b = b.pre_ping(pre_ping);
            }
            let pool = b.build(t.url.as_str()).await.unwrap();
            let checked_out_of = pool.clone();
            let select_one = move || {
                let pool = checked_out_of.clone();
                async move {
                    let query = async {
                        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                        diesel::sql_query("SELECT 1")
                            .execute(&mut *conn)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    };
                    match tokio::time::timeout(Duration::from_secs(5), query).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(format!("no answer in 5 s: {}", pool.status())),
                    }
                }
            };
            let report = common::kill_while_looping_async(&t, select_one).await;
            report.assert_at_most_one_error_each(test);
            let idle = pool.status().checked_in as i64;
            assert_eq!(t.server_connections(idle), idle, "{}", pool.status());
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn killed_connections_cost_at_most_one_error_each_with_pre_ping_off() {
            killed_connections_cost_at_most_one_error_each("akill_noping", Some(false)).await;
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn killed_connections_cost_at_most_one_error_each_with_pre_ping_on() {
            killed_connections_cost_at_most_one_error_each("akill_ping", Some(true)).await;
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn killed_connections_cost_at_most_one_error_each_with_the_defaults() {
            killed_connections_cost_at_most_one_error_each("akill_default", None).await;
        }

        /// The adapter's defaults are diesel-async's bb8 pool's, in SQLAlchemy's terms: at
        /// most 10 connections, each replaced once 30 minutes old, tested before checkout.
        #[tokio::test(flavor = "multi_thread")]
        async fn the_adapters_defaults_are_bb8s() {
            let Some(t) = target("adefaults") else { return };
            let clock = poolscope::ManualClock::new();
            let pool = AsyncPool::<Conn>::builder()
                .clock(clock.clone())
                .build(t.url.as_str())
                .await
                .unwrap();
            let status = pool.status();
            assert_eq!((status.size, status.overflow), (10, -10), "{status}");
            let first = pool.get().await.unwrap().record().connection_id();
            clock.advance(Duration::from_secs(31 * 60));
            assert_ne!(
                pool.get().await.unwrap().record().connection_id(),
                first,
                "replaced once 30 minutes old"
            );
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn pre_ping_runs_the_managers_check_and_keeps_a_live_connection() {
            let Some(t) = target("aping") else { return };
            let pool = builder()
                .pre_ping(true)
                .build(t.url.as_str())
                .await
                .unwrap();
            let first = pool.get().await.unwrap().record().connection_id();
            let again = pool.get().await.unwrap().record().connection_id();
            assert_eq!(first, again);
            assert_eq!(t.server_connections(1), 1);
        }
    };
}

pub(crate) use async_suite;
