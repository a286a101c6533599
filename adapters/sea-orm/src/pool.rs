//! [`DatabasePool`]: SeaORM's connection, every checkout observed by poolscope.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use std::sync::Arc;

use poolscope::hooks::PoolHooks;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, TransactionError, TransactionOptions,
    TransactionTrait,
};

use crate::raw_transaction::{opens_transaction, run_then_reset};
use crate::returns::Returns;
use crate::scope::{acquire_failed, observed, take_acquire};
use sea_orm::ConnAcquireErr;

/// When the connection a call checks out goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Released {
    /// When the call ends (statements, `transaction(..)`, ping).
    AtEnd,
    /// When the caller is done with what the call returned (`begin()`'s transaction).
    Later,
}

/// A SeaORM connection whose sqlx pool obeys poolscope's policy.
///
/// Use it where SeaORM takes `&impl ConnectionTrait` or `&impl TransactionTrait` (every query,
/// insert, update, `begin()`, `transaction(..)`): those checkouts are counted while they wait,
/// timed, and a pool timeout comes back as SQLAlchemy's `QueuePool limit of size ..` error.
/// Where an API wants `&DatabaseConnection` itself, `&*pool` (or
/// [`connection`](Self::connection)) gives it; checkouts made through it still obey the policy
/// and emit every connect / checkout / return / reset signal, but their wait and timeouts are
/// not seen (sqlx waits before any callback runs) and a timeout keeps SeaORM's error.
///
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct DatabasePool {
    db: DatabaseConnection,
    hooks: PoolHooks,
    returns: Arc<Returns>,
}

impl std::fmt::Debug for DatabasePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabasePool")
            .field("hooks", &self.hooks)
            .finish()
    }
}

impl Deref for DatabasePool {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl DatabasePool {
    pub(crate) fn new(db: DatabaseConnection, hooks: PoolHooks, returns: Arc<Returns>) -> Self {
        DatabasePool { db, hooks, returns }
    }

    /// SeaORM's connection (the same pool), for APIs that want `&DatabaseConnection`.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// SeaORM's connection, giving up the observed wrapper.
    pub fn into_connection(self) -> DatabaseConnection {
        self.db
    }

    /// The pool's name in logs and metrics.
    pub fn name(&self) -> &str {
        self.hooks.name()
    }

    /// The poolscope decisions behind sqlx's callbacks (its options, its counts).
    pub fn hooks(&self) -> &PoolHooks {
        &self.hooks
    }

    /// SQLAlchemy's `status()`:
    /// `Pool size: 5  Connections in pool: 1 Current Overflow: -4 Current Checked out connections: 0`.
    pub fn status(&self) -> poolscope::Status {
        self.reconcile();
        self.hooks.status()
    }

    /// Checks a connection out and pings the server.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.observe(self.db.ping()).await
    }

    /// Opens `count` connections, holding each until all are open (each a counted checkout),
    /// then gives them back: what [`Builder::connect`](crate::Builder::connect) does for
    /// `min_connections`.
    pub(crate) async fn open(&self, count: usize) -> Result<(), DbErr> {
        match &self.db.inner {
            #[cfg(feature = "postgres")]
            sea_orm::DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                self.hold(self.db.get_postgres_connection_pool(), count)
                    .await
            }
            #[cfg(feature = "mysql")]
            sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                self.hold(self.db.get_mysql_connection_pool(), count).await
            }
            #[cfg(feature = "sqlite")]
            sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                self.hold(self.db.get_sqlite_connection_pool(), count).await
            }
            #[allow(unreachable_patterns)]
            _ => self.ping().await,
        }
    }

    async fn hold<DB: sea_orm::sqlx::Database>(
        &self,
        pool: &sea_orm::sqlx::Pool<DB>,
        count: usize,
    ) -> Result<(), DbErr> {
        let mut held = Vec::with_capacity(count);
        for _ in 0..count {
            let acquire = async {
                pool.acquire().await.map_err(|error| match error {
                    sea_orm::sqlx::Error::PoolTimedOut => {
                        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)
                    }
                    error => DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())),
                })
            };
            held.push(self.observe_checkout(acquire, Released::Later).await?);
        }
        drop(held);
        // sqlx gives them back on tasks of its own: wait (briefly) until they are idle, so
        // that `connect` returns a pool whose status shows them idle.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while self.hooks.status().checked_out > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// Closes the pool: idle connections now, the others as they come back.
    pub async fn close(self) -> Result<(), DbErr> {
        let result = self.db.close_by_ref().await;
        self.hooks.disposed();
        result
    }

    /// Connections sqlx has open (idle, out, being opened or closed).
    fn sqlx_open(&self) -> usize {
        match &self.db.inner {
            #[cfg(feature = "postgres")]
            sea_orm::DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                self.db.get_postgres_connection_pool().size() as usize
            }
            #[cfg(feature = "mysql")]
            sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                self.db.get_mysql_connection_pool().size() as usize
            }
            #[cfg(feature = "sqlite")]
            sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                self.db.get_sqlite_connection_pool().size() as usize
            }
            #[allow(unreachable_patterns)]
            _ => usize::MAX,
        }
    }

    /// Stops counting connections sqlx closed without telling (see
    /// [`PoolHooks::reconcile`]).
    fn reconcile(&self) {
        self.hooks.reconcile(|| self.sqlx_open());
    }

    /// Connections in sqlx's idle queue.
    fn sqlx_idle(&self) -> usize {
        match &self.db.inner {
            #[cfg(feature = "postgres")]
            sea_orm::DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                self.db.get_postgres_connection_pool().num_idle()
            }
            #[cfg(feature = "mysql")]
            sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                self.db.get_mysql_connection_pool().num_idle()
            }
            #[cfg(feature = "sqlite")]
            sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                self.db.get_sqlite_connection_pool().num_idle()
            }
            #[allow(unreachable_patterns)]
            _ => usize::MAX,
        }
    }

    /// One statement (or `transaction(..)`, or ping): its connection is on its way back when
    /// it ends.
    async fn observe<T>(&self, call: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
        self.observe_checkout(call, Released::AtEnd).await
    }

    /// One call that checks a connection out: counted pending while it waits, timed, its
    /// errors made plain. A statement first waits for the previous statement's connection if
    /// sqlx would otherwise open one that the pool closes on its return (see `returns`).
    pub(crate) async fn observe_checkout<T>(
        &self,
        call: impl Future<Output = Result<T, DbErr>>,
        released: Released,
    ) -> Result<T, DbErr> {
        self.reconcile();
        let call = async {
            self.returns
                .await_return_in_flight(&self.hooks, || self.sqlx_idle(), || self.reconcile())
                .await;
            call.await
        };
        let (result, handed) = observed(&self.hooks, call).await;
        if handed && released == Released::AtEnd {
            self.returns.statement_ended();
        }
        match result {
            Err(error) => Err(self.connect_cause(error).await),
            ok => ok,
        }
    }

    /// sqlx's acquire timed out while the pool had room: it was retrying a connect the
    /// server refused (or did not answer). One more connect, outside the pool, gives the
    /// cause, which the caller gets instead of a timeout that blames the pool.
    async fn connect_cause(&self, error: DbErr) -> DbErr {
        if !matches!(error, DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)) {
            return error;
        }
        let probe = match &self.db.inner {
            #[cfg(feature = "postgres")]
            sea_orm::DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                probe(self.db.get_postgres_connection_pool()).await
            }
            #[cfg(feature = "mysql")]
            sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                probe(self.db.get_mysql_connection_pool()).await
            }
            #[cfg(feature = "sqlite")]
            sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                probe(self.db.get_sqlite_connection_pool()).await
            }
            #[allow(unreachable_patterns)]
            _ => None,
        };
        probe.unwrap_or_else(|| {
            crate::scope::internal(format!(
                "could not open a connection within pool_timeout ({:.2} s): the server did \
                 not accept one in time",
                self.hooks.pool_timeout().unwrap_or_default().as_secs_f64()
            ))
        })
    }

    /// A statement that opens a transaction in SQL text: run where its connection can be reset
    /// before it goes back (see `raw_transaction`).
    async fn execute_then_reset(&self, sql: &str) -> Option<Result<ExecResult, DbErr>> {
        let action = self.hooks.reset_on_return().action()?;
        if !opens_transaction(sql) {
            return None;
        }
        let hooks = &self.hooks;
        let run = async {
            match &self.db.inner {
                #[cfg(feature = "postgres")]
                sea_orm::DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                    run_then_reset(self.db.get_postgres_connection_pool(), hooks, action, sql).await
                }
                #[cfg(feature = "mysql")]
                sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                    run_then_reset(self.db.get_mysql_connection_pool(), hooks, action, sql).await
                }
                #[cfg(feature = "sqlite")]
                sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                    run_then_reset(self.db.get_sqlite_connection_pool(), hooks, action, sql).await
                }
                #[allow(unreachable_patterns)]
                _ => self.db.execute_unprepared(sql).await,
            }
        };
        Some(self.observe(run).await)
    }
}

/// Opens (and closes) one connection with the pool's options, outside the pool: the error
/// if it fails.
async fn probe<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> Option<DbErr> {
    use sea_orm::sqlx::{ConnectOptions, Connection};
    let timeout = std::time::Duration::from_secs(5);
    match tokio::time::timeout(timeout, pool.connect_options().connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            None
        }
        Ok(Err(e)) => Some(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()))),
        Err(_) => None,
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for DatabasePool {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        if stmt.values.is_none() {
            if let Some(result) = self.execute_then_reset(&stmt.sql).await {
                return result;
            }
        }
        self.observe(self.db.execute_raw(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        if let Some(result) = self.execute_then_reset(sql).await {
            return result;
        }
        self.observe(self.db.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.observe(self.db.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.observe(self.db.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}

#[async_trait::async_trait]
impl TransactionTrait for DatabasePool {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.observe_checkout(self.db.begin(), Released::Later)
            .await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.observe_checkout(
            self.db.begin_with_config(isolation_level, access_mode),
            Released::Later,
        )
        .await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.observe_checkout(self.db.begin_with_options(options), Released::Later)
            .await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.observe_transaction(self.db.transaction(callback))
            .await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.observe_transaction(self.db.transaction_with_config(
            callback,
            isolation_level,
            access_mode,
        ))
        .await
    }
}

impl DatabasePool {
    /// [`observe`](Self::observe) for `transaction(..)`, whose checkout errors come wrapped in
    /// `TransactionError::Connection`.
    async fn observe_transaction<T, E>(
        &self,
        call: impl Future<Output = Result<T, TransactionError<E>>>,
    ) -> Result<T, TransactionError<E>>
    where
        E: std::fmt::Display + std::fmt::Debug,
    {
        let mut failed = None;
        let result = self
            .observe(async {
                let result = call.await;
                if let Err(TransactionError::Connection(_)) = &result {
                    // Let `observed` see the checkout error; keep the rest for the caller.
                    if let Some(acquire) = take_acquire() {
                        failed = Some(acquire);
                    }
                }
                Ok(result)
            })
            .await;
        match (result, failed) {
            (Ok(Err(TransactionError::Connection(error))), Some(acquire)) => {
                let error = acquire_failed(&self.hooks, acquire, error);
                Err(TransactionError::Connection(
                    self.connect_cause(error).await,
                ))
            }
            (Ok(result), _) => result,
            (Err(refused), _) => Err(TransactionError::Connection(refused)),
        }
    }
}
