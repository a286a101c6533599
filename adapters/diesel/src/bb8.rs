//! `diesel_async::pooled_connection::bb8`'s API over a poolscope pool: a diesel-async app
//! written against bb8 switches by changing `diesel_async::pooled_connection::bb8` to
//! `poolscope_diesel::bb8` in its imports.
//!
#![cfg_attr(feature = "async-postgres", doc = "```no_run")]
#![cfg_attr(not(feature = "async-postgres"), doc = "```ignore")]
//! use diesel_async::AsyncPgConnection;
//! use poolscope_diesel::bb8::{AsyncDieselConnectionManager, Pool, PooledConnection, RunError};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = AsyncDieselConnectionManager::<AsyncPgConnection>::new("postgres://db/orders");
//! let pool: Pool<AsyncPgConnection> = Pool::builder().max_size(8).build(config).await?;
//! let conn: PooledConnection<'_, AsyncPgConnection> = pool.get().await?;
//! # Ok(()) }
//! ```
//!
//! bb8's options become SQLAlchemy's as in [`crate::r2d2`] (`max_size` the limit, `min_idle`
//! the connections kept idle, the rest overflow closed on return; `test_on_check_out`
//! `pre_ping`; `max_lifetime` `pool_recycle`; `connection_timeout` `pool_timeout`), with
//! bb8's defaults (`min_idle` none: nothing opened at `build()`, so `pool_size` is
//! `max_size`). `queue_strategy` picks FIFO or LIFO. A connection customizer's `on_acquire`
//! runs on every new connection (poolscope's `on_connect`). `retry_connection` (default
//! true) tries a failed connect again until `connection_timeout`, with bb8's back-off;
//! `error_sink` hears each failed connect, test and customizer; `reaper_rate` is accepted and
//! not used (there is no reaper). `state().statistics` is bb8's [`Statistics`], counted from
//! the pool's decisions. A pool failure that is not the manager's error
//! (a listener's refusal, say) comes as `RunError::User(PoolError::ConnectionError(..))`
//! with its text; a timeout, also of a hanging connect, as `RunError::TimedOut`.

use std::fmt;
use std::time::Duration;

pub use bb8::{CustomizeConnection, QueueStrategy};
use diesel::ConnectionError;
use diesel_async::pooled_connection::PoolableConnection;
pub use diesel_async::pooled_connection::{ManagerConfig, PoolError};
use diesel_async::AsyncConnection;
use poolscope::{AsyncConnectHook, BoxError, BoxFuture, BuildError};

use crate::nonblocking::AsyncManager;
use crate::redact::fmt_manager;

/// diesel-async's `AsyncDieselConnectionManager`, which also keeps its URL, so that the pool
/// is named after it (`server.address:server.port/db.namespace`, without credentials) in its
/// logs, spans and metrics, as [`crate::AsyncPool`] is. diesel-async's own manager does not
/// tell its URL: a pool built from it is named `pool-<id>` unless
/// `.poolscope(|b| b.name("orders"))` names it.
///
#[cfg_attr(feature = "async-postgres", doc = "```")]
#[cfg_attr(not(feature = "async-postgres"), doc = "```ignore")]
/// use diesel_async::AsyncPgConnection;
/// use poolscope_diesel::bb8::{AsyncDieselConnectionManager, Pool};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let config = AsyncDieselConnectionManager::<AsyncPgConnection>::new("postgres://app:secret@db/orders");
/// let pool: Pool<AsyncPgConnection> = Pool::builder().build_unchecked(config); // opens nothing
/// assert_eq!(pool.as_poolscope().name(), "db:5432/orders");
/// # }
/// ```
pub struct AsyncDieselConnectionManager<C: AsyncConnection + 'static> {
    /// The native pool's manager, made from the URL (so it knows it).
    inner: AsyncManager<C>,
}

impl<C: AsyncConnection + 'static> AsyncDieselConnectionManager<C> {
    /// A manager that opens connections to `connection_url` (diesel-async's `new`).
    pub fn new(connection_url: impl Into<String>) -> Self {
        Self::new_with_config(connection_url, ManagerConfig::default())
    }

    /// As [`new`](Self::new), with diesel-async's manager configuration (custom setup, the
    /// recycling check `test_on_check_out` runs).
    pub fn new_with_config(connection_url: impl Into<String>, config: ManagerConfig<C>) -> Self {
        AsyncDieselConnectionManager {
            inner: AsyncManager::new_with_config(connection_url, config),
        }
    }

    /// The database URL.
    pub fn database_url(&self) -> &str {
        self.inner.database_url().unwrap_or_default()
    }
}

impl<C: AsyncConnection + 'static> fmt::Debug for AsyncDieselConnectionManager<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_manager(
            f,
            "AsyncDieselConnectionManager",
            std::any::type_name::<C>(),
            self.inner.database_url(),
        )
    }
}

/// The pool's connect (diesel-async's, with the watch for lost connections and the socket
/// error in a failed connect's text), recycling check and broken check, for code that drives
/// the manager itself.
impl<C> bb8::ManageConnection for AsyncDieselConnectionManager<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    type Connection = C;
    type Error = PoolError;

    fn connect(&self) -> impl std::future::Future<Output = Result<C, PoolError>> + Send {
        self.inner.connect()
    }

    fn is_valid(
        &self,
        conn: &mut C,
    ) -> impl std::future::Future<Output = Result<(), PoolError>> + Send {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut C) -> bool {
        self.inner.has_broken(conn)
    }
}

impl<C: AsyncConnection + 'static> From<AsyncDieselConnectionManager<C>> for AsyncManager<C> {
    /// The pool is named after the manager's URL.
    fn from(manager: AsyncDieselConnectionManager<C>) -> Self {
        manager.inner
    }
}

/// bb8's error for a checkout: the manager's error, or a timeout.
pub type RunError = bb8::RunError<PoolError>;

/// A checked-out connection, a diesel-async connection through diesel-async's `Deref` impls
/// (the lifetime is bb8's; poolscope's guard owns its pool handle, so `get_owned` is `get`).
pub type PooledConnection<'a, C> = crate::AsyncPooledConnection<C>;

use crate::compat::{ErrorHook, Settings};
pub use bb8::{ErrorSink, NopErrorSink};
pub use poolscope::Statistics;

/// A pool's counts and history, as bb8 reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct State {
    /// Connections the pool holds: idle and checked out.
    pub connections: u32,
    /// Idle connections.
    pub idle_connections: u32,
    /// What the pool did since it was built: bb8's `Statistics`, the same fields with the
    /// same meanings (checkouts direct, waited and timed out, the time spent waiting,
    /// connections opened and closed by reason), counted from the pool's own decisions, and
    /// a few of poolscope's own (see [`Statistics`]).
    pub statistics: Statistics,
}

/// A pool of diesel-async connections with diesel-async's bb8 `Pool<C>` API. Cloning shares
/// it.
pub struct Pool<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    inner: crate::AsyncPool<C>,
    settings: Settings,
}

impl<C> Clone for Pool<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
            settings: self.settings,
        }
    }
}

impl<C> fmt::Debug for Pool<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("pool", &self.inner)
            .field("settings", &self.settings)
            .finish()
    }
}

/// A pool failure that is not the manager's own error, in bb8's terms.
fn run_error(e: crate::AsyncError) -> RunError {
    match e {
        poolscope::Error::Connect(e) => bb8::RunError::User(e),
        poolscope::Error::Timeout(_) | poolscope::Error::ConnectTimeout(_) => {
            bb8::RunError::TimedOut
        }
        other => bb8::RunError::User(PoolError::ConnectionError(ConnectionError::BadConnection(
            poolscope::ErrorChain(&other).to_string(),
        ))),
    }
}

impl<C> Pool<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    /// A builder with bb8's defaults.
    pub fn builder() -> Builder<C> {
        Builder {
            settings: Settings::default(),
            customizer: None,
            error_sink: None,
            retry_connection: true,
            reaper_rate: Duration::from_secs(30),
            poolscope: crate::AsyncPool::builder(),
        }
    }

    /// Checks out a connection, waiting up to `connection_timeout`.
    ///
    /// # Errors
    /// `RunError::TimedOut` after `connection_timeout` (waiting or connecting);
    /// `RunError::User` with the manager's error.
    #[track_caller]
    pub fn get(
        &self,
    ) -> impl std::future::Future<Output = Result<PooledConnection<'_, C>, RunError>> + Send + '_
    {
        let checkout = self.inner.get();
        async move { checkout.await.map_err(run_error) }
    }

    /// The same as [`get`](Self::get): the guard owns its pool handle.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    #[track_caller]
    pub fn get_owned(
        &self,
    ) -> impl std::future::Future<Output = Result<PooledConnection<'static, C>, RunError>> + Send + '_
    {
        self.get()
    }

    /// The pool's counts.
    pub fn state(&self) -> State {
        let counts = crate::compat::State::of(&self.inner.status());
        State {
            connections: counts.connections,
            idle_connections: counts.idle_connections,
            // The builder always turns counting on; zeros only if it could not.
            statistics: self.inner.statistics().unwrap_or_default(),
        }
    }

    /// `max_size`.
    pub fn max_size(&self) -> u32 {
        self.settings.max_size
    }

    /// The poolscope pool underneath: `status()`, `dispose()`, and the rest.
    pub fn as_poolscope(&self) -> &crate::AsyncPool<C> {
        &self.inner
    }
}

/// Runs a bb8 connection customizer's `on_acquire` on every new connection; its error goes to
/// the error sink too.
struct Customizer<C: Send + 'static>(
    Box<dyn CustomizeConnection<C, PoolError>>,
    Option<ErrorHook>,
);

impl<C: Send + 'static> AsyncConnectHook<C> for Customizer<C> {
    fn on_connect<'a>(&'a self, conn: &'a mut C) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            ErrorHook::report_to(&self.1, self.0.on_acquire(conn).await)
                .map_err(|e| Box::new(e) as BoxError)
        })
    }
}

/// The error sink's side of an [`ErrorHook`]: each error as
/// `PoolError::ConnectionError(ConnectionError::BadConnection(text))`.
fn sink_hook(sink: Box<dyn ErrorSink<PoolError>>) -> ErrorHook {
    ErrorHook::new(move |text| {
        sink.sink(PoolError::ConnectionError(ConnectionError::BadConnection(
            text,
        )))
    })
}

/// Builds a [`Pool`], with bb8's options and defaults.
pub struct Builder<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    settings: Settings,
    customizer: Option<Box<dyn CustomizeConnection<C, PoolError>>>,
    error_sink: Option<Box<dyn ErrorSink<PoolError>>>,
    retry_connection: bool,
    reaper_rate: Duration,
    poolscope: crate::AsyncBuilder<C>,
}

impl<C> fmt::Debug for Builder<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .field("customizer", &self.customizer.is_some())
            .field("error_sink", &self.error_sink)
            .field("retry_connection", &self.retry_connection)
            .field("reaper_rate", &self.reaper_rate)
            .finish_non_exhaustive()
    }
}

impl<C> Builder<C>
where
    C: PoolableConnection + 'static,
    AsyncManager<C>: bb8::ManageConnection<Connection = C, Error = PoolError>,
{
    /// The most connections at once (default 10; must be at least 1).
    pub fn max_size(mut self, max_size: u32) -> Self {
        self.settings.max_size = max_size;
        self
    }

    /// Connections opened at `build()` and kept idle (default none: nothing opened, up to
    /// `max_size` kept).
    pub fn min_idle(mut self, min_idle: impl Into<Option<u32>>) -> Self {
        self.settings.min_idle = min_idle.into();
        self
    }

    /// Test each connection before it is handed out (default true).
    pub fn test_on_check_out(mut self, test: bool) -> Self {
        self.settings.test_on_check_out = test;
        self
    }

    /// Replace connections older than this (default 30 min).
    pub fn max_lifetime(mut self, max_lifetime: impl Into<Option<Duration>>) -> Self {
        self.settings.max_lifetime = max_lifetime.into();
        self
    }

    /// Kept as a setting (default 10 min): connections beyond `min_idle` close when they
    /// are returned rather than after this long idle.
    pub fn idle_timeout(mut self, idle_timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.idle_timeout = idle_timeout.into();
        self
    }

    /// How long a checkout waits, connecting included (default 30 s; must be longer than
    /// zero).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connection_timeout = timeout;
        self
    }

    /// FIFO (default) or LIFO hand-out of idle connections.
    pub fn queue_strategy(mut self, strategy: QueueStrategy) -> Self {
        self.settings.lifo = matches!(strategy, QueueStrategy::Lifo);
        self
    }

    /// Runs `customizer.on_acquire` on every new connection; an error fails that checkout.
    pub fn connection_customizer(
        mut self,
        customizer: Box<dyn CustomizeConnection<C, PoolError>>,
    ) -> Self {
        self.customizer = Some(customizer);
        self
    }

    /// Where errors no caller sees go, as bb8's `error_sink` (default none, bb8's
    /// `NopErrorSink`): each failed connect (each attempt, with `retry_connection`), each
    /// failed `test_on_check_out` (poolscope replaces the connection) and each customizer
    /// error. The sink gets a copy, `PoolError::ConnectionError(ConnectionError::BadConnection(text))`
    /// with the error's text: the error itself stays where poolscope reports it (the
    /// checkout's error, the `echo_pool` line, the invalidation's reason), as diesel-async's
    /// errors cannot be cloned.
    pub fn error_sink(mut self, sink: Box<dyn ErrorSink<PoolError>>) -> Self {
        self.error_sink = Some(sink);
        self
    }

    /// Whether a failed connect is tried again (default true, as bb8): with bb8's back-off
    /// (400 ms, doubling, at most half of `connection_timeout`) until the checkout's
    /// `connection_timeout`, which then fails with `RunError::TimedOut`; every failed
    /// attempt goes to the error sink. `false`: the first failed connect fails the checkout
    /// at once, with `RunError::User(e)` (bb8 sends it to the error sink and lets the
    /// checkout time out).
    pub fn retry_connection(mut self, retry: bool) -> Self {
        self.retry_connection = retry;
        self
    }

    /// Accepted and not used (bb8: how often its reaper closes connections past
    /// `idle_timeout` or `max_lifetime`; default 30 s): poolscope has no reaper. A connection
    /// past `max_lifetime` is replaced at its next checkout, and connections beyond
    /// `min_idle` are closed when they are returned.
    pub fn reaper_rate(mut self, reaper_rate: Duration) -> Self {
        self.reaper_rate = reaper_rate;
        self
    }

    /// SQLAlchemy's and poolscope's own options (`echo_pool`, `reset_on_return`, `name`,
    /// listeners, ...), on the poolscope builder underneath; the bb8 options above are applied
    /// over it at `build()`, with statistics counted (`state().statistics`).
    pub fn poolscope(
        mut self,
        f: impl FnOnce(crate::AsyncBuilder<C>) -> crate::AsyncBuilder<C>,
    ) -> Self {
        self.poolscope = f(self.poolscope);
        self
    }

    /// The poolscope builder these settings make, or why they make no sense. bb8 opens no
    /// connection at build unless `min_idle` says so, and keeps up to `max_size` idle.
    fn translated(
        mut self,
        manager: impl Into<AsyncManager<C>>,
    ) -> Result<(crate::AsyncBuilder<C>, AsyncManager<C>, Settings), BuildError> {
        let s = self.settings;
        let errors = self.error_sink.take().map(sink_hook);
        let mut manager = manager.into();
        if let Some(errors) = &errors {
            manager.report_errors_to(errors.clone());
        }
        manager.retry_connects_for(self.retry_connection.then_some(s.connection_timeout));
        let mut b = s.apply(self.poolscope)?.use_lifo(s.lifo).statistics(true);
        if let Some(customizer) = self.customizer.take() {
            b = b.on_connect(Customizer(customizer, errors));
        }
        Ok((b, manager, s))
    }

    /// Builds the pool and opens `min_idle` connections (none by default), as bb8 does.
    ///
    /// # Errors
    /// The manager's error when a connection cannot be opened; options that make no sense
    /// (bb8 panics on these) as `PoolError::ConnectionError(BadConnection(..))` with the
    /// reason.
    pub async fn build(self, manager: impl Into<AsyncManager<C>>) -> Result<Pool<C>, PoolError> {
        let bad = |why: String| PoolError::ConnectionError(ConnectionError::BadConnection(why));
        let (builder, manager, settings) =
            self.translated(manager).map_err(|e| bad(e.to_string()))?;
        let pool = Pool {
            inner: builder
                .build(manager)
                .await
                .map_err(|e| bad(e.to_string()))?,
            settings,
        };
        let mut opened = Vec::new();
        for _ in 0..settings.min_idle.unwrap_or(0) {
            opened.push(pool.inner.get().await.map_err(|e| match run_error(e) {
                bb8::RunError::User(e) => e,
                bb8::RunError::TimedOut => bad("timed out opening min_idle connections".into()),
            })?);
        }
        drop(opened);
        Ok(pool)
    }

    /// Builds the pool without opening anything.
    ///
    /// # Panics
    /// On options that make no sense, as bb8's `build_unchecked` does (`build` returns them
    /// as an error).
    pub fn build_unchecked(self, manager: impl Into<AsyncManager<C>>) -> Pool<C> {
        let (builder, manager, settings) = self
            .translated(manager)
            .unwrap_or_else(|e| panic!("invalid bb8 pool options: {e}"));
        let built =
            ready_now(builder.build(manager)).expect("building an async pool awaits nothing");
        Pool {
            inner: built.unwrap_or_else(|e| panic!("invalid pool options: {e}")),
            settings,
        }
    }
}

/// Polls `future` once: its output if it completed without waiting (the async builder's
/// `build` awaits nothing), `None` if it would wait.
fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}
