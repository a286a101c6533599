//! The pool finds dead connections through the outcome of the queries run on them (see
//! `Manager` and `AsyncManager`): a connection whose queries all worked goes back with no
//! extra round trip, and one whose query failed with an error that may mean the connection is
//! gone is checked with exactly one `SELECT 1`.
//!
//! The adapters' default `pre_ping` (on, as Diesel's r2d2 pool tests every checkout) is
//! turned off here except where it is the subject.
//!
//! Every query a connection runs is counted through Diesel's default instrumentation, which
//! the pool's watch passes every event on to. That is process-wide, so this file's tests take
//! turns.
#![cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "async-postgres",
    feature = "async-mysql"
))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};

static QUERIES: AtomicUsize = AtomicUsize::new(0);
static TURNS: Mutex<()> = Mutex::new(());

fn counting() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            QUERIES.fetch_add(1, Ordering::SeqCst);
        }
    }))
}

/// Takes this file's turn and counts queries from here on.
fn count_queries() -> std::sync::MutexGuard<'static, ()> {
    let turn = TURNS.lock().unwrap_or_else(|p| p.into_inner());
    set_default_instrumentation(counting).unwrap();
    turn
}

fn queries() -> usize {
    QUERIES.load(Ordering::SeqCst)
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod blocking {
    use super::*;
    use diesel::r2d2::R2D2Connection;
    use poolscope_diesel::Pool;

    pub(super) fn check<C: R2D2Connection + Send + 'static>(url: &str) {
        let _turn = count_queries();
        let pool = Pool::<C>::builder()
            .pool_size(1)
            .max_overflow(0)
            .pre_ping(false)
            .build(url)
            .unwrap();
        drop(pool.get().unwrap()); // opened: its setup queries are not counted below
        let before = queries();
        for _ in 0..10 {
            let mut conn = pool.get().unwrap();
            conn.batch_execute("SELECT 1").unwrap();
            conn.transaction::<_, diesel::result::Error, _>(|c| c.batch_execute("SELECT 1"))
                .unwrap();
        }
        // Ten times: SELECT 1, then BEGIN, SELECT 1, COMMIT.
        assert_eq!(queries() - before, 40, "no query beyond the callers'");

        let before = queries();
        let id = {
            let mut conn = pool.get().unwrap();
            conn.batch_execute("SELECT * FROM no_such_table_anywhere")
                .unwrap_err();
            conn.record().connection_id()
        };
        assert_eq!(
            queries() - before,
            2,
            "the failed query, then one SELECT 1 on return"
        );
        let again = pool.get().unwrap();
        assert_eq!(
            again.record().connection_id(),
            id,
            "the connection answered: kept"
        );
    }

    /// With the adapter's defaults, as with Diesel's r2d2 pool, a pooled connection is tested
    /// before it is handed out: one `SELECT 1` per checkout of an idle connection.
    #[cfg(feature = "sqlite")]
    pub(super) fn defaults_test_each_checkout<C: R2D2Connection + Send + 'static>(url: &str) {
        let _turn = count_queries();
        let pool = Pool::<C>::builder().build(url).unwrap();
        drop(pool.get().unwrap());
        let before = queries();
        for _ in 0..10 {
            pool.get().unwrap().batch_execute("SELECT 1").unwrap();
        }
        assert_eq!(queries() - before, 20, "each checkout pinged once");
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn blocking_defaults_test_each_checkout() {
    let t = common::Target::sqlite("defaults_ping");
    blocking::defaults_test_each_checkout::<diesel::SqliteConnection>(&t.url);
}

#[cfg(feature = "sqlite")]
#[test]
fn blocking_sqlite() {
    let t = common::Target::sqlite("checks");
    blocking::check::<diesel::SqliteConnection>(&t.url);
}

#[cfg(feature = "postgres")]
#[test]
fn blocking_postgres() {
    let Some(t) = common::Target::postgres("checks") else {
        return;
    };
    blocking::check::<diesel::PgConnection>(&t.url);
}

#[cfg(feature = "mysql")]
#[test]
fn blocking_mysql() {
    let Some(t) = common::Target::mysql("checks") else {
        return;
    };
    blocking::check::<diesel::MysqlConnection>(&t.url);
}

#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
mod nonblocking {
    use super::*;
    use diesel_async::pooled_connection::PoolableConnection;
    use diesel_async::{AsyncConnection, SimpleAsyncConnection, TransactionManager};
    use poolscope_diesel::{AsyncManager, AsyncPool};

    pub(super) async fn check<C>(url: &str)
    where
        C: PoolableConnection + 'static,
        AsyncManager<C>: bb8::ManageConnection<Connection = C>,
    {
        let pool = AsyncPool::<C>::builder()
            .pool_size(1)
            .max_overflow(0)
            .pre_ping(false)
            .build(url)
            .await
            .unwrap();
        drop(pool.get().await.unwrap());
        let before = queries();
        for _ in 0..10 {
            let mut conn = pool.get().await.unwrap();
            conn.batch_execute("SELECT 1").await.unwrap();
            type Tm<C> = <C as AsyncConnection>::TransactionManager;
            Tm::<C>::begin_transaction(&mut *conn).await.unwrap();
            conn.batch_execute("SELECT 1").await.unwrap();
            Tm::<C>::commit_transaction(&mut *conn).await.unwrap();
        }
        assert_eq!(queries() - before, 40, "no query beyond the callers'");

        let before = queries();
        let id = {
            let mut conn = pool.get().await.unwrap();
            conn.batch_execute("SELECT * FROM no_such_table_anywhere")
                .await
                .unwrap_err();
            let id = conn.record().connection_id();
            conn.close().await;
            id
        };
        assert_eq!(
            queries() - before,
            2,
            "the failed query, then one SELECT 1 on return"
        );
        let again = pool.get().await.unwrap();
        assert_eq!(
            again.record().connection_id(),
            id,
            "the connection answered: kept"
        );
    }
}

/// Runs `check` on a runtime of its own, in this file's turn (taken outside the runtime: the
/// turn is a blocking lock).
#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
fn in_turn(check: impl std::future::Future<Output = ()>) {
    let _turn = count_queries();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(check);
}

#[cfg(feature = "async-postgres")]
#[test]
fn async_postgres() {
    let Some(t) = common::Target::postgres("achecks") else {
        return;
    };
    in_turn(nonblocking::check::<diesel_async::AsyncPgConnection>(
        &t.url,
    ));
}

#[cfg(feature = "async-mysql")]
#[test]
fn async_mysql() {
    let Some(t) = common::Target::mysql("achecks") else {
        return;
    };
    in_turn(nonblocking::check::<diesel_async::AsyncMysqlConnection>(
        &t.url,
    ));
}
