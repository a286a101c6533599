//! SQLAlchemy's pool behaviours replayed through SeaORM, counting the server's own
//! connections where there is a server. Expanded once per backend. The replays start from
//! SQLAlchemy's defaults (`sqlalchemy()`); the adapter's own (sqlx's) are tested apart.

/// `$target`: `fn(&str) -> Option<Target>`.
macro_rules! sea_orm_suite {
    ($target:expr) => {
        use std::time::Duration;

        use poolscope::{PoolClass, ResetOnReturn};
        use poolscope_sea_orm::{Builder, DatabasePool};
        use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};

        /// A builder with SQLAlchemy's defaults, which the replayed behaviours assume.
        fn sqlalchemy() -> Builder {
            Builder::new().defaults(poolscope::Defaults::SQLALCHEMY)
        }

        fn target(test: &str) -> Option<common::Target> {
            ($target)(test)
        }

        async fn rows(db: &impl ConnectionTrait, table: &str) -> i64 {
            let backend = db.get_database_backend();
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }

        async fn fresh_table(db: &DatabasePool, table: &str) {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await
                .unwrap();
            db.execute_unprepared(&format!("CREATE TABLE {table} (id INTEGER)"))
                .await
                .unwrap();
        }

        async fn hold(db: &DatabasePool, n: usize) -> Vec<DatabaseTransaction> {
            let mut held = Vec::new();
            for _ in 0..n {
                held.push(db.begin().await.unwrap());
            }
            held
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn queue_pool_keeps_one_server_connection_after_one_checkout() {
            let Some(t) = target("keeps_one") else { return };
            let db = sqlalchemy().build(&common::sqlx_url(&t)).unwrap();
            db.execute_unprepared("SELECT 1").await.unwrap();
            let status = common::settled(&db).await;
            assert_eq!((status.checked_in, status.checked_out), (1, 0));
            assert_eq!(t.server_connections(1), 1);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn six_open_at_once_leave_five_when_returned() {
            let Some(t) = target("six_five") else { return };
            let db = sqlalchemy().build(&common::sqlx_url(&t)).unwrap();
            let held = hold(&db, 6).await;
            assert_eq!(db.status().overflow, 1);
            assert_eq!(t.server_connections(6), 6);
            drop(held);
            let status = common::settled(&db).await;
            assert_eq!(
                status.to_string(),
                "Pool size: 5  Connections in pool: 5 Current Overflow: 0 Current Checked out connections: 0"
            );
            assert_eq!(t.server_connections(5), 5);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fifteen_open_at_once_and_the_sixteenth_times_out() {
            let Some(t) = target("sixteenth") else { return };
            let db = sqlalchemy()
                .pool_timeout(Duration::from_millis(300))
                .build(&common::sqlx_url(&t))
                .unwrap();
            let held = hold(&db, 15).await;
            assert_eq!(t.server_connections(15), 15);
            let error = db.execute_unprepared("SELECT 1").await.unwrap_err();
            assert!(poolscope_sea_orm::is_pool_timeout(&error), "{error}");
            assert!(
                error.to_string().contains(
                    "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 0.30"
                ),
                "{error}"
            );
            assert_eq!(db.status().waiting, 0);
            drop(held);
            assert_eq!(common::settled(&db).await.checked_in, 5);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn null_pool_leaves_no_server_connection() {
            let Some(t) = target("null") else { return };
            let db = sqlalchemy()
                .pool_class(PoolClass::Null)
                .build(&common::sqlx_url(&t))
                .unwrap();
            for _ in 0..3 {
                db.execute_unprepared("SELECT 1").await.unwrap();
            }
            let status = common::settled(&db).await;
            assert_eq!(status.to_string(), "NullPool");
            assert_eq!(t.server_connections(0), 0);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn static_pool_shares_one_server_connection() {
            let Some(t) = target("static") else { return };
            let db = sqlalchemy()
                .pool_class(PoolClass::Static)
                .build(&common::sqlx_url(&t))
                .unwrap();
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(async move {
                        for _ in 0..5 {
                            db.execute_unprepared("SELECT 1").await.unwrap();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            common::settled(&db).await;
            assert_eq!(t.server_connections(1), 1);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn assertion_pool_refuses_a_second_checkout_naming_the_first() {
            let Some(t) = target("assertion") else { return };
            let db = sqlalchemy()
                .pool_class(PoolClass::Assertion)
                .build(&common::sqlx_url(&t))
                .unwrap();
            let txn = db.begin().await.unwrap();
            let error = db.execute_unprepared("SELECT 1").await.unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains("connection is already checked out at:\n"),
                "{text}"
            );
            assert!(text.contains(".rs:"), "no location in: {text}");
            txn.rollback().await.unwrap();
            common::settled(&db).await;
            db.execute_unprepared("SELECT 1").await.unwrap();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn rollback_on_return_undoes_a_transaction_left_open_in_sql() {
            let Some(t) = target("rollback") else { return };
            let db = sqlalchemy()
                .pool_size(1)
                .max_overflow(0)
                .build(&common::sqlx_url(&t))
                .unwrap();
            fresh_table(&db, &t.table).await;
            db.execute_unprepared(&format!("BEGIN; INSERT INTO {} VALUES (1)", t.table))
                .await
                .unwrap();
            // The only connection came back with the insert uncommitted: rolled back, kept.
            assert_eq!(rows(&db, &t.table).await, 0);
            let status = common::settled(&db).await;
            assert_eq!(status.checked_in, 1);
            assert_eq!(t.server_connections(1), 1);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn commit_on_return_keeps_a_transaction_left_open_in_sql() {
            let Some(t) = target("commit") else { return };
            let db = sqlalchemy()
                .pool_size(1)
                .max_overflow(0)
                .reset_on_return(ResetOnReturn::Commit)
                .build(&common::sqlx_url(&t))
                .unwrap();
            fresh_table(&db, &t.table).await;
            db.execute_unprepared(&format!("BEGIN; INSERT INTO {} VALUES (1)", t.table))
                .await
                .unwrap();
            // Committed: a connection of another pool sees it.
            let other = sqlalchemy()
                .pool_class(PoolClass::Null)
                .build(&common::sqlx_url(&t))
                .unwrap();
            assert_eq!(rows(&other, &t.table).await, 1);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn reset_none_leaves_the_transaction_for_the_next_statement() {
            let Some(t) = target("reset_none") else { return };
            let db = sqlalchemy()
                .pool_size(1)
                .max_overflow(0)
                .reset_on_return(ResetOnReturn::None)
                .build(&common::sqlx_url(&t))
                .unwrap();
            fresh_table(&db, &t.table).await;
            db.execute_unprepared(&format!("BEGIN; INSERT INTO {} VALUES (1)", t.table))
                .await
                .unwrap();
            // Still inside the first statement's transaction, on the same connection.
            assert_eq!(rows(&db, &t.table).await, 1);
            db.execute_unprepared("ROLLBACK").await.unwrap();
            assert_eq!(rows(&db, &t.table).await, 0);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_dropped_seaorm_transaction_is_rolled_back_and_its_connection_kept() {
            let Some(t) = target("txn_drop") else { return };
            let db = sqlalchemy()
                .pool_size(1)
                .max_overflow(0)
                .build(&common::sqlx_url(&t))
                .unwrap();
            fresh_table(&db, &t.table).await;
            {
                let txn = db.begin().await.unwrap();
                txn.execute_unprepared(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .await
                    .unwrap();
            }
            assert_eq!(rows(&db, &t.table).await, 0);
            assert_eq!(common::settled(&db).await.checked_in, 1);
            assert_eq!(t.server_connections(1), 1);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn pool_recycle_replaces_an_old_connection_at_checkout() {
            let Some(t) = target("recycle") else { return };
            let db = sqlalchemy()
                .pool_recycle(Duration::from_millis(100))
                .build(&common::sqlx_url(&t))
                .unwrap();
            db.execute_unprepared("SELECT 1").await.unwrap();
            common::settled(&db).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            db.execute_unprepared("SELECT 1").await.unwrap();
            let status = common::settled(&db).await;
            // The old one was closed, a new one opened and kept.
            assert_eq!((status.checked_in, status.overflow), (1, -4));
            assert_eq!(t.server_connections(1), 1);
        }

        /// Eight tasks loop `SELECT 1` on a pool of 4 + 4 while every one of the pool's server
        /// connections is killed, four times over. Each killed connection may cost one
        /// statement one error, no more; afterwards every statement works.
        async fn killed_connections_cost_at_most_one_error_each(test: &str, pre_ping: Option<bool>) {
            let Some(t) = target(test) else { return };
            if !t.counts_server_connections() {
                return; // nothing to kill without a server
            }
            let mut b = Builder::new().pool_size(4).max_overflow(4);
            if let Some(pre_ping) = pre_ping {
                b = b.pre_ping(pre_ping);
            }
            let db = b.build(&common::sqlx_url(&t)).unwrap();
            let select_one = {
                let db = db.clone();
                move || {
                    let db = db.clone();
                    async move {
                        db.execute_unprepared("SELECT 1")
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                }
            };
            let report = common::kill_while_looping_async(&t, select_one).await;
            report.assert_at_most_one_error_each(test);
            let idle = common::settled(&db).await.checked_in as i64;
            assert_eq!(t.server_connections(idle), idle, "{}", db.status());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn killed_connections_cost_at_most_one_error_each_with_pre_ping_off() {
            killed_connections_cost_at_most_one_error_each("kill_noping", Some(false)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn killed_connections_cost_at_most_one_error_each_with_pre_ping_on() {
            killed_connections_cost_at_most_one_error_each("kill_ping", Some(true)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn killed_connections_cost_at_most_one_error_each_with_the_defaults() {
            killed_connections_cost_at_most_one_error_each("kill_default", None).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_adapters_defaults_are_sqlxs() {
            let Some(t) = target("defaults") else { return };
            let db = Builder::new().build(&common::sqlx_url(&t)).unwrap();
            let status = db.status();
            assert_eq!((status.size, status.overflow), (10, -10), "at most 10, like sqlx");
            assert!(db.hooks().pre_ping(), "tested before each checkout, like sqlx");
        }

        #[test]
        fn singleton_thread_and_lifo_are_refused_at_build() {
            let Some(t) = target("refused") else { return };
            let url = common::sqlx_url(&t);
            let error = Builder::new()
                .pool_class(PoolClass::SingletonThread)
                .build(&url)
                .unwrap_err();
            assert!(poolscope::ErrorChain(&error).to_string().contains("SingletonThreadPool"), "{error:?}");
            let error = Builder::new().use_lifo(true).build(&url).unwrap_err();
            assert!(
                poolscope::ErrorChain(&error).to_string().contains("use_lifo cannot be honoured"),
                "{error:?}"
            );
        }
    };
}

pub(crate) use sea_orm_suite;
