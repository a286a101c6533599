//! The async pool: diesel-async's `AsyncPgConnection` or `AsyncMysqlConnection` in a
//! poolscope [`poolscope::AsyncPool`], over diesel-async's bb8 connection manager.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection,
};
use diesel_async::{AsyncConnection, TransactionManager};
use poolscope::{AsyncReset, BoxError, BoxFuture, ResetAction};

use crate::compat::ErrorHook;
use crate::lost_connection::{self, DisconnectWatch, Suspicion};
use crate::redact::fmt_manager;
use crate::reset::Unwind;
use crate::system::system_name;

/// Opens diesel-async connections for an [`AsyncPool`]: diesel-async's own
/// [`AsyncDieselConnectionManager`] (its `ManagerConfig`, custom setup and recycling check
/// included), except that a connection returned inside a transaction is rolled back and kept
/// instead of thrown away.
///
/// A returned connection is closed when its transaction manager is in its error state, when
/// its `BEGIN` / `COMMIT` / `ROLLBACK` was cancelled half-way, when diesel-async knows it
/// closed (PostgreSQL), or when one of its queries failed with an error that means the server
/// closed it (a killed backend, a restarted server). After an error that only may mean that,
/// [`DieselAsyncReset`] checks it with `SELECT 1` before it goes back. So a connection the
/// server closed costs at most the one error that found it, `pre_ping` or not. The errors are
/// seen through Diesel's `Instrumentation`, which the manager installs on each connection it
/// opens, in front of Diesel's default instrumentation (a connection given an
/// instrumentation of its own later is checked by `pre_ping` and diesel-async alone).
pub struct AsyncManager<C: AsyncConnection + 'static> {
    inner: AsyncDieselConnectionManager<C>,
    url: Option<String>,
    /// `poolscope_diesel::bb8`'s error sink, told of each failed connect and ping.
    errors: Option<ErrorHook>,
    /// `poolscope_diesel::bb8`'s `retry_connection`: a failed connect is tried again, with
    /// bb8's back-off, for up to this long (the checkout's deadline ends it sooner).
    retry_for: Option<Duration>,
}

impl<C: AsyncConnection + 'static> AsyncManager<C> {
    /// A manager that opens connections to `database_url`; the pool is named after the URL,
    /// without its credentials.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self::new_with_config(database_url, ManagerConfig::default())
    }

    /// As [`new`](Self::new), with diesel-async's manager configuration (custom setup, the
    /// recycling check `pre_ping` runs).
    pub fn new_with_config(database_url: impl Into<String>, config: ManagerConfig<C>) -> Self {
        let url = database_url.into();
        AsyncManager {
            inner: AsyncDieselConnectionManager::new_with_config(url.clone(), config),
            url: Some(url),
            errors: None,
            retry_for: None,
        }
    }

    /// The database URL, when the manager was made from one.
    pub fn database_url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Tells `hook` of each failed connect and ping, from now on.
    pub(crate) fn report_errors_to(&mut self, hook: ErrorHook) {
        self.errors = Some(hook);
    }

    /// Tries a failed connect again for up to `window` (`None`: never), as bb8's
    /// `retry_connection` does.
    pub(crate) fn retry_connects_for(&mut self, window: Option<Duration>) {
        self.retry_for = window;
    }
}

/// bb8's back-off between connect attempts: 400 ms after the first failure, doubling, at most
/// half of `window`.
fn next_delay(delay: Duration, window: Duration) -> Duration {
    (delay.max(Duration::from_millis(200)) * 2).min(window / 2)
}

/// Waits `delay` without a Tokio timer (on a thread of its own, as the connect-cause probe
/// does), so that a retried connect works on any runtime; the pool's deadline cancels the
/// wait with the connect.
async fn pause(delay: Duration) {
    let (done, waited) = tokio::sync::oneshot::channel::<()>();
    let started = std::thread::Builder::new()
        .name("poolscope-retry".into())
        .spawn(move || {
            std::thread::sleep(delay);
            drop(done);
        });
    if started.is_ok() {
        let _ = waited.await;
    }
}

impl<C: AsyncConnection + 'static> From<AsyncDieselConnectionManager<C>> for AsyncManager<C> {
    /// Wraps diesel-async's manager. It does not tell its URL: name the pool with
    /// [`AsyncBuilder::name`], or it is called `pool-<id>`.
    fn from(inner: AsyncDieselConnectionManager<C>) -> Self {
        AsyncManager {
            inner,
            url: None,
            errors: None,
            retry_for: None,
        }
    }
}

impl<C: AsyncConnection + 'static> From<&str> for AsyncManager<C> {
    fn from(url: &str) -> Self {
        AsyncManager::new(url)
    }
}

impl<C: AsyncConnection + 'static> From<String> for AsyncManager<C> {
    fn from(url: String) -> Self {
        AsyncManager::new(url)
    }
}

impl<C: AsyncConnection + 'static> From<&String> for AsyncManager<C> {
    /// `build(&url)` with a `String` URL, as the blocking builder takes it.
    fn from(url: &String) -> Self {
        AsyncManager::new(url.as_str())
    }
}

impl<C: AsyncConnection + 'static> fmt::Debug for AsyncManager<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_manager(
            f,
            "AsyncManager",
            std::any::type_name::<C>(),
            self.url.as_deref(),
        )
    }
}

impl<C> bb8::ManageConnection for AsyncManager<C>
where
    C: PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    type Connection = C;
    type Error = PoolError;

    fn connect(&self) -> impl std::future::Future<Output = Result<C, PoolError>> + Send {
        let url = self.url.as_deref();
        async move {
            let started = std::time::Instant::now();
            let mut delay = Duration::ZERO;
            loop {
                let error = match self.inner.connect().await {
                    Ok(mut conn) => {
                        conn.set_instrumentation(DisconnectWatch::new());
                        return Ok(conn);
                    }
                    Err(e) => crate::connect_cause::with_cause(url, e).await,
                };
                if let Some(errors) = &self.errors {
                    errors.report(&error);
                }
                match self.retry_for {
                    Some(window) if started.elapsed() < window => {
                        delay = next_delay(delay, window);
                        pause(delay).await;
                    }
                    _ => return Err(error),
                }
            }
        }
    }

    /// The manager's recycling check (`SELECT 1` by default), run when `pre_ping` is on.
    fn is_valid(
        &self,
        conn: &mut C,
    ) -> impl std::future::Future<Output = Result<(), PoolError>> + Send {
        let checking = self.inner.is_valid(conn);
        async move { ErrorHook::report_to(&self.errors, checking.await) }
    }

    fn has_broken(&self, conn: &mut C) -> bool {
        let status = C::TransactionManager::transaction_manager_status_mut(conn);
        let broken = match status.transaction_depth() {
            Err(_) => true,
            // diesel-async calls it broken with no transaction open when a BEGIN / COMMIT /
            // ROLLBACK was cancelled half-way (the server's state is unknown), or when the
            // connection closed (PostgreSQL).
            Ok(None) => PoolableConnection::is_broken(conn),
            // An open transaction: the reset rolls it back (and fails if the connection
            // is gone).
            Ok(Some(_)) => false,
        };
        // A possibly lost connection is left to the reset to check: it can await a query.
        broken || lost_connection::seen(conn.instrumentation()) == Suspicion::Lost
    }
}

/// Ends every open level of an async connection's transaction through diesel-async's
/// transaction manager, innermost first, as `action` says.
///
/// # Errors
/// Diesel's error when a ROLLBACK / COMMIT fails or the transaction manager is in its error
/// state; the pool then closes the connection.
pub async fn reset_async_connection<C>(conn: &mut C, action: ResetAction) -> Result<(), BoxError>
where
    C: AsyncConnection,
{
    type Tm<C> = <C as AsyncConnection>::TransactionManager;
    let mut unwind = Unwind::default();
    while unwind.more(
        Tm::<C>::transaction_manager_status_mut(conn).transaction_depth(),
        Tm::<C>::is_broken_transaction_manager(conn),
    )? {
        match action {
            ResetAction::Rollback => Tm::<C>::rollback_transaction(conn).await?,
            ResetAction::Commit => Tm::<C>::commit_transaction(conn).await?,
        }
    }
    Ok(())
}

/// A returned connection whose query failed with an error that may mean the server closed
/// it did not answer `SELECT 1`.
#[derive(Debug)]
struct ConnectionLost(diesel::result::Error);

impl fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the connection did not answer SELECT 1 after a failed query: {}",
            self.0
        )
    }
}

impl std::error::Error for ConnectionLost {}

/// After a query failed with an error that may mean the connection is gone (see
/// [`AsyncManager`]), checks it with `SELECT 1`, unless a transaction is open (the rollback
/// then checks it).
async fn check_after_error<C: AsyncConnection>(conn: &mut C) -> Result<(), BoxError> {
    let suspicion = lost_connection::seen(conn.instrumentation());
    let in_transaction = C::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some());
    let checked = match suspicion {
        Suspicion::Possible if !in_transaction => conn.batch_execute("SELECT 1").await,
        _ => Ok(()),
    };
    lost_connection::clear(conn.instrumentation());
    checked.map_err(|e| Box::new(ConnectionLost(e)) as BoxError)
}

/// The [`AsyncReset`] the async builder installs: a connection whose query failed with an
/// error that may mean the server closed it is checked with `SELECT 1` first (see
/// [`AsyncManager`]), then [`reset_async_connection`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DieselAsyncReset;

impl<C: AsyncConnection + 'static> AsyncReset<C> for DieselAsyncReset {
    fn reset<'a>(
        &'a self,
        conn: &'a mut C,
        action: ResetAction,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            check_after_error(conn).await?;
            reset_async_connection(conn, action).await
        })
    }

    /// Known from diesel-async's transaction depth, unless a failed query left the
    /// connection suspect: the reset then runs, and checks it.
    fn transaction_open(&self, conn: &mut C) -> Option<bool> {
        if lost_connection::seen(conn.instrumentation()) != lost_connection::Suspicion::Sound {
            return None;
        }
        crate::reset::known_depth(
            C::TransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        )
    }
}

/// A checked-out async connection; `&mut *conn` is a `&mut C`.
pub type AsyncPooledConnection<C> = poolscope::AsyncPooledConnection<AsyncManager<C>>;

/// The error of [`AsyncPool::get`](poolscope::AsyncPool::get).
pub type AsyncError = poolscope::Error<PoolError>;

/// An async pool of diesel-async connections with SQLAlchemy's semantics. It dereferences to
/// the core [`poolscope::AsyncPool`]: `get().await`, `status()`, `dispose()` and the rest.
pub struct AsyncPool<C>
where
    C: AsyncConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection,
{
    inner: poolscope::AsyncPool<AsyncManager<C>>,
}

impl<C> AsyncPool<C>
where
    C: AsyncConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C>,
{
    /// A builder with the defaults of diesel-async's bb8 pool, in SQLAlchemy's terms
    /// ([`Defaults::RUST_POOLS`](poolscope::Defaults::RUST_POOLS)): QueuePool of at most 10
    /// connections, a 30 s `pool_timeout`, `pre_ping` on, `pool_recycle` 30 min, and
    /// rollback on return through diesel-async's transaction manager.
    pub fn builder() -> AsyncBuilder<C> {
        AsyncBuilder::default().defaults(poolscope::Defaults::RUST_POOLS)
    }

    /// The core pool.
    pub fn as_core(&self) -> &poolscope::AsyncPool<AsyncManager<C>> {
        &self.inner
    }
}

impl<C> Deref for AsyncPool<C>
where
    C: AsyncConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection,
{
    type Target = poolscope::AsyncPool<AsyncManager<C>>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<C> Clone for AsyncPool<C>
where
    C: AsyncConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection,
{
    fn clone(&self) -> Self {
        AsyncPool {
            inner: self.inner.clone(),
        }
    }
}

impl<C> fmt::Debug for AsyncPool<C>
where
    C: AsyncConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Builds an [`AsyncPool`]: the core's async builder itself, every option as it is there
/// (see [`poolscope::PoolBuilder`]); [`build`](poolscope::PoolBuilder::build) takes a
/// database URL, an [`AsyncManager`] or diesel-async's [`AsyncDieselConnectionManager`], and
/// fills in what the options left unset: the name from the URL, `db.system.name` from the
/// backend, the reset through diesel-async's transaction manager ([`DieselAsyncReset`]).
pub type AsyncBuilder<C> = poolscope::PoolBuilder<poolscope::Tokio<AsyncManager<C>, AsyncPool<C>>>;

impl<C> poolscope::AdaptedPool<poolscope::Tokio<AsyncManager<C>>> for AsyncPool<C>
where
    C: AsyncConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C>,
{
    fn from_core(inner: poolscope::AsyncPool<AsyncManager<C>>) -> Self {
        AsyncPool { inner }
    }

    fn database_url(manager: &AsyncManager<C>) -> Option<&str> {
        manager.database_url()
    }

    fn db_system_name() -> Option<&'static str> {
        system_name::<C::Backend>()
    }

    fn default_reset() -> Option<Arc<dyn AsyncReset<C>>> {
        Some(Arc::new(DieselAsyncReset))
    }

    fn server_budget(connection: &mut C) -> Option<poolscope::BoxFuture<'_, Option<usize>>> {
        Some(Box::pin(crate::server_budget::nonblocking(connection)))
    }
}
