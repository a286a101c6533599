//! SQLAlchemy's pool behaviours replayed on a blocking Diesel connection type, counting the
//! server's own connections where there is a server. Expanded once per backend.

/// `$conn`: the Diesel connection type; `$target`: `fn(&str) -> Option<Target>`.
macro_rules! blocking_suite {
    ($conn:ty, $target:expr) => {
        use std::time::Duration;

        use diesel::connection::{SimpleConnection, TransactionManager};
        use diesel::prelude::*;
        use diesel::sql_types::BigInt;
        use poolscope::{PoolClass, ResetOnReturn};
        use poolscope_diesel::Pool;

        type Conn = $conn;
        type Tm = <Conn as diesel::Connection>::TransactionManager;

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }

        fn target(test: &str) -> Option<common::Target> {
            ($target)(test)
        }

        fn rows(conn: &mut Conn, table: &str) -> i64 {
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(conn)
                .unwrap()
                .n
        }

        fn depth(conn: &mut Conn) -> u32 {
            Tm::transaction_manager_status_mut(conn)
                .transaction_depth()
                .unwrap()
                .map_or(0, |d| d.get())
        }

        fn fresh_table(pool: &Pool<Conn>, table: &str) {
            let mut conn = pool.get().unwrap();
            conn.batch_execute(&format!(
                "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (x INTEGER)"
            ))
            .unwrap();
        }

        fn builder() -> poolscope_diesel::Builder<Conn> {
            Pool::<Conn>::builder().pool_timeout(Duration::from_millis(500))
        }

        /// A one-connection pool (so the next checkout gets the same connection back) and
        /// a fresh table.
        fn one(t: &common::Target, reset: ResetOnReturn) -> Pool<Conn> {
            let pool = builder()
                .pool_size(1)
                .max_overflow(0)
                .reset_on_return(reset)
                .build(t.url.as_str())
                .unwrap();
            fresh_table(&pool, &t.table);
            pool
        }

        #[test]
        fn queue_pool_keeps_one_server_connection_after_one_checkout() {
            let Some(t) = target("q1") else { return };
            let pool = builder().build(t.url.as_str()).unwrap();
            drop(pool.get().unwrap());
            assert_eq!(pool.status().checked_in, 1);
            assert_eq!(t.server_connections(1), 1);
        }

        #[test]
        fn six_opened_then_returned_leave_five() {
            let Some(t) = target("q6") else { return };
            let pool = builder()
                .pool_size(5)
                .max_overflow(10)
                .build(t.url.as_str())
                .unwrap();
            let held: Vec<_> = (0..6).map(|_| pool.get().unwrap()).collect();
            assert_eq!(t.server_connections(6), 6);
            drop(held);
            assert_eq!(pool.status().checked_in, 5);
            assert_eq!(t.server_connections(5), 5);
        }

        #[test]
        fn fifteen_at_once_work_and_the_sixteenth_times_out_with_queue_pools_message() {
            let Some(t) = target("q16") else { return };
            let pool = builder()
                .pool_size(5)
                .max_overflow(10)
                .build(t.url.as_str())
                .unwrap();
            let held: Vec<_> = (0..15).map(|_| pool.get().unwrap()).collect();
            assert_eq!(t.server_connections(15), 15);
            let err = pool.get().unwrap_err();
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

        #[test]
        fn null_pool_leaves_no_server_connection() {
            let Some(t) = target("null") else { return };
            let pool = Pool::<Conn>::builder()
                .pool_class(PoolClass::Null)
                .build(t.url.as_str())
                .unwrap();
            {
                let _a = pool.get().unwrap();
                let _b = pool.get().unwrap();
                assert_eq!(t.server_connections(2), 2);
            }
            assert_eq!(pool.status().checked_in, 0);
            assert_eq!(t.server_connections(0), 0);
        }

        #[test]
        fn singleton_thread_pool_gives_one_connection_per_thread() {
            let Some(t) = target("single") else { return };
            let pool = Pool::<Conn>::builder()
                .pool_class(PoolClass::SingletonThread)
                .build(t.url.as_str())
                .unwrap();
            std::thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| {
                        let first = pool.get().unwrap().record().connection_id();
                        let again = pool.get().unwrap().record().connection_id();
                        assert_eq!(first, again, "the same thread gets its own again");
                    });
                }
            });
            assert_eq!(t.server_connections(3), 3);
        }

        #[test]
        fn static_pool_shares_one_connection_between_threads() {
            let Some(t) = target("static") else { return };
            let pool = builder()
                .pool_class(PoolClass::Static)
                .build(t.url.as_str())
                .unwrap();
            std::thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| drop(pool.get().unwrap()));
                }
            });
            assert_eq!(t.server_connections(1), 1);
        }

        #[test]
        fn assertion_pool_refuses_a_second_checkout_naming_the_first() {
            let Some(t) = target("assert") else { return };
            let pool = Pool::<Conn>::builder()
                .pool_class(PoolClass::Assertion)
                .build(t.url.as_str())
                .unwrap();
            let first = pool.get().unwrap();
            // Inside this macro, file!() and line!() name the suite's expansion site, and so
            // does the checkout's location.
            let site = first.checkout_location();
            assert_eq!(site.file(), file!());
            let err = pool.get().unwrap_err().to_string();
            assert!(err.contains("connection is already checked out"), "{err}");
            assert!(
                err.contains(&format!("{}:{}", site.file(), site.line())),
                "{err}"
            );
            drop(first);
            drop(pool.get().unwrap());
            assert_eq!(t.server_connections(1), 1);
        }

        #[test]
        fn rollback_on_return_hides_an_uncommitted_insert_and_keeps_the_connection() {
            let Some(t) = target("rollback") else { return };
            let pool = one(&t, ResetOnReturn::Rollback);
            let id = {
                let mut conn = pool.get().unwrap();
                Tm::begin_transaction(&mut *conn).unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .unwrap();
                assert_eq!(rows(&mut conn, &t.table), 1);
                conn.record().connection_id()
            };
            let mut conn = pool.get().unwrap();
            assert_eq!(
                conn.record().connection_id(),
                id,
                "the same connection, reused"
            );
            assert_eq!(
                depth(&mut conn),
                0,
                "Diesel's depth counter is back to zero"
            );
            assert_eq!(rows(&mut conn, &t.table), 0, "the insert was rolled back");
            drop(conn);
            assert_eq!(t.server_connections(1), 1);
        }

        #[test]
        fn nested_savepoints_and_a_failed_statement_are_rolled_back_and_the_connection_reused() {
            let Some(t) = target("nested") else { return };
            let pool = one(&t, ResetOnReturn::Rollback);
            let id = {
                let mut conn = pool.get().unwrap();
                Tm::begin_transaction(&mut *conn).unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .unwrap();
                Tm::begin_transaction(&mut *conn).unwrap();
                Tm::begin_transaction(&mut *conn).unwrap();
                assert_eq!(depth(&mut conn), 3);
                conn.batch_execute("SELECT * FROM no_such_table_anywhere")
                    .unwrap_err();
                conn.record().connection_id()
            };
            let mut conn = pool.get().unwrap();
            assert_eq!(conn.record().connection_id(), id);
            assert_eq!(depth(&mut conn), 0);
            assert_eq!(rows(&mut conn, &t.table), 0);
            // The connection is sound: a new transaction works on it.
            conn.transaction::<_, diesel::result::Error, _>(|c| {
                c.batch_execute(&format!("INSERT INTO {} VALUES (2)", t.table))
            })
            .unwrap();
            assert_eq!(rows(&mut conn, &t.table), 1);
            drop(conn);
            assert_eq!(t.server_connections(1), 1);
        }

        #[test]
        fn a_panic_inside_a_diesel_transaction_is_rolled_back_on_return() {
            let Some(t) = target("panic") else { return };
            let pool = one(&t, ResetOnReturn::Rollback);
            let table = t.table.clone();
            let pool2 = pool.clone();
            let result = std::thread::spawn(move || {
                let mut conn = pool2.get().unwrap();
                conn.transaction::<(), diesel::result::Error, _>(|c| {
                    c.batch_execute(&format!("INSERT INTO {table} VALUES (1)"))?;
                    panic!("the handler failed half-way");
                })
            })
            .join();
            assert!(result.is_err(), "the thread panicked");
            let mut conn = pool.get().unwrap();
            assert_eq!(depth(&mut conn), 0);
            assert_eq!(rows(&mut conn, &t.table), 0);
            drop(conn);
            assert_eq!(t.server_connections(1), 1);
        }

        #[test]
        fn commit_on_return_makes_the_insert_visible() {
            let Some(t) = target("commit") else { return };
            let pool = one(&t, ResetOnReturn::Commit);
            {
                let mut conn = pool.get().unwrap();
                Tm::begin_transaction(&mut *conn).unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .unwrap();
            }
            // Seen from another pool's connection: really committed.
            let other = Pool::<Conn>::builder().build(t.url.as_str()).unwrap();
            assert_eq!(rows(&mut other.get().unwrap(), &t.table), 1);
            let mut conn = pool.get().unwrap();
            assert_eq!(depth(&mut conn), 0);
        }

        #[test]
        fn reset_none_leaves_the_transaction_open() {
            let Some(t) = target("none") else { return };
            let pool = one(&t, ResetOnReturn::None);
            {
                let mut conn = pool.get().unwrap();
                Tm::begin_transaction(&mut *conn).unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .unwrap();
            }
            let mut conn = pool.get().unwrap();
            assert_eq!(depth(&mut conn), 1, "still inside the transaction");
            assert_eq!(rows(&mut conn, &t.table), 1);
            Tm::rollback_transaction(&mut *conn).unwrap();
        }

        #[test]
        fn a_test_transaction_stays_open_across_returns_as_with_diesels_pool() {
            let Some(t) = target("testtx") else { return };
            let pool = one(&t, ResetOnReturn::Rollback);
            {
                let mut conn = pool.get().unwrap();
                conn.begin_test_transaction().unwrap();
                conn.batch_execute(&format!("INSERT INTO {} VALUES (1)", t.table))
                    .unwrap();
            }
            let mut conn = pool.get().unwrap();
            assert_eq!(depth(&mut conn), 1);
            assert_eq!(rows(&mut conn, &t.table), 1);
        }

        /// Eight threads loop checkout / `SELECT 1` / return on a pool of 4 + 4 while every
        /// one of the pool's server connections is killed, four times over. Each killed
        /// connection may cost one caller one error (the query that found it dead), no
        /// more: the pool must not hand it out again. Afterwards every checkout works and
        /// the pool's idle count is the server's.
        fn killed_connections_cost_at_most_one_error_each(test: &str, pre_ping: Option<bool>) {
            let Some(t) = target(test) else { return };
            if !t.counts_server_connections() {
                return; // nothing to kill without a server
            }
            let mut b = Pool::<Conn>::builder().pool_size(4).max_overflow(4);
            if let Some(pre_ping) = pre_ping {
                b = b.pre_ping(pre_ping);
            }
            let pool = b.build(t.url.as_str()).unwrap();
            let report = common::kill_while_looping(&t, || {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                diesel::sql_query("SELECT 1")
                    .execute(&mut *conn)
                    .map(drop)
                    .map_err(|e| e.to_string())
            });
            report.assert_at_most_one_error_each(test);
            let idle = pool.status().checked_in as i64;
            assert_eq!(t.server_connections(idle), idle, "{}", pool.status());
        }

        #[test]
        fn killed_connections_cost_at_most_one_error_each_with_pre_ping_off() {
            killed_connections_cost_at_most_one_error_each("kill_noping", Some(false));
        }

        #[test]
        fn killed_connections_cost_at_most_one_error_each_with_pre_ping_on() {
            killed_connections_cost_at_most_one_error_each("kill_ping", Some(true));
        }

        #[test]
        fn killed_connections_cost_at_most_one_error_each_with_the_defaults() {
            killed_connections_cost_at_most_one_error_each("kill_default", None);
        }

        /// The guard is a Diesel connection itself, as r2d2's guard is: `&mut conn` goes to
        /// `load`/`execute`, `conn.transaction(..)` works on it, and a function generic over
        /// the connection takes it, with no `&mut *conn`.
        #[test]
        fn the_guard_is_a_diesel_connection_like_r2d2s() {
            fn count_in<C>(conn: &mut C, table: &str) -> i64
            where
                C: diesel::Connection<Backend = <Conn as diesel::Connection>::Backend>
                    + diesel::connection::LoadConnection,
            {
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result::<Count>(conn)
                    .unwrap()
                    .n
            }
            let Some(t) = target("guard") else { return };
            let pool = one(&t, ResetOnReturn::Rollback);
            let mut conn = pool.get().unwrap();
            diesel::sql_query(format!("INSERT INTO {} VALUES (1)", t.table))
                .execute(&mut conn)
                .unwrap();
            conn.transaction::<(), diesel::result::Error, _>(|c| {
                diesel::sql_query(format!("INSERT INTO {} VALUES (2)", t.table))
                    .execute(c)
                    .map(drop)?;
                Err(diesel::result::Error::RollbackTransaction)
            })
            .unwrap_err();
            assert_eq!(
                count_in(&mut conn, &t.table),
                1,
                "the transaction rolled back"
            );
            // Left open on the guard, through Diesel's own API: rolled back on return.
            Tm::begin_transaction(&mut *conn).unwrap();
            diesel::sql_query(format!("INSERT INTO {} VALUES (3)", t.table))
                .execute(&mut conn)
                .unwrap();
            drop(conn);
            let mut conn = pool.get().unwrap();
            assert_eq!(count_in(&mut conn, &t.table), 1);
        }

        /// The adapter's defaults are Diesel's r2d2 pool's, in SQLAlchemy's terms: at most
        /// 10 connections, each replaced once 30 minutes old (and tested before each
        /// checkout: `lost_connection_checks_cost_nothing_when_queries_work`), handed out
        /// in SQLAlchemy's order (FIFO; r2d2's is LIFO: BENCHMARKS.md measured FIFO faster
        /// through Diesel, each pool alone in its process).
        #[test]
        fn the_adapters_defaults_are_diesels_r2d2_pools() {
            let Some(t) = target("defaults") else { return };
            let clock = poolscope::ManualClock::new();
            let pool = Pool::<Conn>::builder()
                .clock(clock.clone())
                .build(t.url.as_str())
                .unwrap();
            let status = pool.status();
            assert_eq!((status.size, status.overflow), (10, -10), "{status}");
            let first = pool.get().unwrap().record().connection_id();
            clock.advance(Duration::from_secs(29 * 60));
            assert_eq!(pool.get().unwrap().record().connection_id(), first);
            clock.advance(Duration::from_secs(2 * 60));
            assert_ne!(
                pool.get().unwrap().record().connection_id(),
                first,
                "replaced once 30 minutes old"
            );
            let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
            let (a_id, b_id) = (a.record().connection_id(), b.record().connection_id());
            assert_ne!(a_id, b_id);
            drop(a);
            drop(b);
            assert_eq!(
                pool.get().unwrap().record().connection_id(),
                a_id,
                "SQLAlchemy's order, not r2d2's: the connection returned first goes out first"
            );
            let sqlalchemy = Pool::<Conn>::builder()
                .defaults(poolscope::Defaults::SQLALCHEMY)
                .build(t.url.as_str())
                .unwrap();
            let status = sqlalchemy.status();
            assert_eq!((status.size, status.overflow), (5, -5), "{status}");
        }

        #[test]
        fn pre_ping_checks_each_checkout_and_keeps_a_live_connection() {
            let Some(t) = target("ping") else { return };
            let pool = builder().pre_ping(true).build(t.url.as_str()).unwrap();
            let first = pool.get().unwrap().record().connection_id();
            let again = pool.get().unwrap().record().connection_id();
            assert_eq!(first, again);
            assert_eq!(t.server_connections(1), 1);
        }
    };
}

pub(crate) use blocking_suite;
