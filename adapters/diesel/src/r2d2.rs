//! `diesel::r2d2`'s API over a poolscope pool: an application written against Diesel's r2d2
//! pool switches by changing `diesel::r2d2` to `poolscope_diesel::r2d2` in its imports.
//!
#![cfg_attr(feature = "sqlite", doc = "```")]
#![cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
//! # use diesel::connection::SimpleConnection;
//! use diesel::prelude::*;
//! use poolscope_diesel::r2d2::{ConnectionManager, Pool, PoolError, PooledConnection};
//!
//! type DbPool = Pool<ConnectionManager<SqliteConnection>>;
//!
//! fn count(conn: &mut PooledConnection<ConnectionManager<SqliteConnection>>) -> QueryResult<i64> {
//!     diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("1")).get_result(conn)
//! }
//!
//! let manager = ConnectionManager::<SqliteConnection>::new(":memory:");
//! let pool: DbPool = Pool::builder().max_size(4).build(manager)?;
//! let mut conn = pool.get()?;
//! assert_eq!(count(&mut conn)?, 1);
//! assert_eq!(pool.state().connections, 4, "min_idle (default: max_size) opened at build");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What each r2d2 option becomes, in SQLAlchemy's terms (MIGRATING.md has the whole table):
//!
//! | r2d2 | here |
//! |---|---|
//! | `max_size` (10) | at most that many connections |
//! | `min_idle` (`max_size`) | `pool_size`: opened at `build()` (as r2d2 does) and kept idle; the rest, up to `max_size`, are SQLAlchemy's overflow, closed when returned |
//! | `idle_timeout` (10 min) | kept as a setting; connections beyond `min_idle` close on return instead of after it |
//! | `max_lifetime` (30 min) | `pool_recycle` |
//! | `test_on_check_out` (true) | `pre_ping` |
//! | `connection_timeout` (30 s) | `pool_timeout`, bounding the connect too |
//! | `connection_customizer` | `on_acquire` runs on every new connection (a `connect` listener); `on_release` is not called: the pool closes connections it owns |
//! | `event_handler` | [`HandleEvent`] and [`event`]'s types, r2d2's names and accessors, told of what the pool did (a connection returned in a transaction is kept: no release) |
//! | `error_handler` | r2d2's [`HandleError`] (default [`LoggingErrorHandler`]), told of each failed connect, test and customizer, as a copy with the error's text |
//! | `thread_pool` | accepted and not used: connections open on the thread that checks out; there is no reaper |
//!
//! On top: a connection returned inside a transaction is rolled back and kept (r2d2's Diesel
//! manager closes it), and everything poolscope observes. `Pool::as_poolscope` reaches the
//! pool underneath (`status()`, `dispose()`, SQLAlchemy's options through
//! [`Builder::poolscope`]).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use diesel::r2d2::{CustomizeConnection, Error, R2D2Connection};
use diesel::ConnectionError;
use poolscope::{
    BuildError, CheckinEvent as Returned, ConnectionEvent, ListenerError, PoolListener,
};
pub use r2d2::{HandleError, LoggingErrorHandler, NopErrorHandler};
pub use scheduled_thread_pool::ScheduledThreadPool;

use crate::blocking::Manager;
use crate::compat::ErrorHook;
use crate::redact::fmt_manager;

pub mod event;
use event::{AcquireEvent, CheckinEvent, CheckoutEvent, ReleaseEvent, TimeoutEvent};
pub use event::{HandleEvent, NopEventHandler};

/// Diesel's `ConnectionManager`, which also keeps its URL, so that the pool is named after it
/// (`server.address:server.port/db.namespace`, without credentials) in its logs, spans and
/// metrics, as [`crate::Pool`] is. Diesel's own `diesel::r2d2::ConnectionManager` does not
/// tell its URL: a pool built from it is named `pool-<id>` unless
/// `.poolscope(|b| b.name("orders"))` names it.
///
#[cfg_attr(feature = "postgres", doc = "```")]
#[cfg_attr(not(feature = "postgres"), doc = "```ignore")]
/// use poolscope_diesel::r2d2::{ConnectionManager, Pool};
///
/// let manager = ConnectionManager::<diesel::PgConnection>::new("postgres://app:secret@db/orders");
/// let pool = Pool::builder().build_unchecked(manager); // opens nothing
/// assert_eq!(pool.as_poolscope().name(), "db:5432/orders");
/// ```
pub struct ConnectionManager<C> {
    inner: diesel::r2d2::ConnectionManager<C>,
    url: String,
}

impl<C> ConnectionManager<C> {
    /// A manager that opens connections to `database_url` (Diesel's `ConnectionManager::new`).
    pub fn new<S: Into<String>>(database_url: S) -> Self {
        let url = database_url.into();
        ConnectionManager {
            inner: diesel::r2d2::ConnectionManager::new(url.clone()),
            url,
        }
    }

    /// Opens new connections to `database_url` from now on (Diesel's
    /// `update_database_url`). A pool already built keeps its name.
    pub fn update_database_url<S: Into<String>>(&mut self, database_url: S) {
        self.url = database_url.into();
        self.inner.update_database_url(self.url.clone());
    }

    /// The database URL.
    pub fn database_url(&self) -> &str {
        &self.url
    }
}

impl<C> Clone for ConnectionManager<C> {
    fn clone(&self) -> Self {
        ConnectionManager::new(self.url.clone())
    }
}

impl<C> fmt::Debug for ConnectionManager<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_manager(
            f,
            "ConnectionManager",
            std::any::type_name::<C>(),
            Some(&self.url),
        )
    }
}

/// Diesel's manager's connect, ping and broken check, for code that drives the manager
/// itself.
impl<C: R2D2Connection + Send + 'static> r2d2::ManageConnection for ConnectionManager<C> {
    type Connection = C;
    type Error = Error;

    fn connect(&self) -> Result<C, Error> {
        self.inner.connect()
    }

    fn is_valid(&self, conn: &mut C) -> Result<(), Error> {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut C) -> bool {
        self.inner.has_broken(conn)
    }
}

impl<C> From<ConnectionManager<C>> for Manager<C> {
    /// The pool is named after the manager's URL.
    fn from(manager: ConnectionManager<C>) -> Self {
        Manager::with_url(manager.inner, manager.url)
    }
}

/// A connection manager this pool takes: [`ConnectionManager`] (the pool is named after its
/// URL), or Diesel's `diesel::r2d2::ConnectionManager` (it does not tell its URL).
pub trait DieselManager: sealed::Sealed + Into<Manager<Self::Connection>> {
    /// The connection type the manager opens.
    type Connection: R2D2Connection + Send + 'static;
}

mod sealed {
    pub trait Sealed {}
    impl<C> Sealed for super::ConnectionManager<C> {}
    impl<C> Sealed for diesel::r2d2::ConnectionManager<C> {}
}

impl<C: R2D2Connection + Send + 'static> DieselManager for ConnectionManager<C> {
    type Connection = C;
}

impl<C: R2D2Connection + Send + 'static> DieselManager for diesel::r2d2::ConnectionManager<C> {
    type Connection = C;
}

/// A checked-out connection, usable wherever Diesel wants one (as r2d2's is).
pub type PooledConnection<M> = crate::PooledConnection<<M as DieselManager>::Connection>;

/// A pool's failure: bad options at `build()`, or a failed checkout (with its cause as
/// `source()`). Diesel's `PoolError`.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// The options make no sense together (r2d2 panics on these).
    Options(BuildError),
    /// A checkout failed: a timeout, a connect that failed or hung, a customizer's error.
    Checkout(crate::Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Options(e) => e.fmt(f),
            PoolError::Checkout(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Options(e) => e.source(),
            PoolError::Checkout(e) => e.source(),
        }
    }
}

impl From<BuildError> for PoolError {
    fn from(e: BuildError) -> Self {
        PoolError::Options(e)
    }
}

impl From<crate::Error> for PoolError {
    fn from(e: crate::Error) -> Self {
        PoolError::Checkout(e)
    }
}

use crate::compat::Settings;
pub use crate::compat::State;

/// A pool of Diesel connections with `diesel::r2d2::Pool`'s API. Cloning shares it.
pub struct Pool<M: DieselManager> {
    inner: crate::Pool<M::Connection>,
    settings: Settings,
    /// The event handler, for the checkouts and timeouts this pool's `get`s see (the
    /// pool's listener tells it the rest).
    events: Option<Arc<dyn HandleEvent>>,
}

impl<M: DieselManager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
            settings: self.settings,
            events: self.events.clone(),
        }
    }
}

impl<M: DieselManager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("pool", &self.inner)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<M: DieselManager> Pool<M> {
    /// A pool with r2d2's defaults; see [`Builder::build`].
    ///
    /// # Errors
    /// As [`Builder::build`].
    pub fn new(manager: M) -> Result<Self, PoolError> {
        Self::builder().build(manager)
    }

    /// A builder with r2d2's defaults.
    pub fn builder() -> Builder<M> {
        Builder {
            settings: Settings::default(),
            customizer: None,
            event_handler: None,
            error_handler: Box::new(LoggingErrorHandler),
            poolscope: crate::Pool::builder(),
            _manager: PhantomData,
        }
    }

    /// Checks out a connection, waiting up to `connection_timeout`.
    ///
    /// # Errors
    /// [`PoolError::Checkout`]: a timeout, a connect that failed or hung, a customizer's
    /// error.
    #[track_caller]
    pub fn get(&self) -> Result<PooledConnection<M>, PoolError> {
        let started = self.events.as_ref().map(|_| Instant::now());
        let checked = self.inner.get();
        self.told(checked, started, Some(self.settings.connection_timeout))
    }

    /// As [`get`](Self::get), waiting up to `timeout` instead.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledConnection<M>, PoolError> {
        let started = self.events.as_ref().map(|_| Instant::now());
        let checked = self.inner.as_core().get_timeout(timeout);
        self.told(
            checked.map(crate::PooledConnection::new),
            started,
            Some(timeout),
        )
    }

    /// A connection if one can be had without waiting: an idle one, or a new one while the
    /// pool is below `max_size` (r2d2's `try_get` does not open one; this one may).
    #[track_caller]
    pub fn try_get(&self) -> Option<PooledConnection<M>> {
        let started = self.events.as_ref().map(|_| Instant::now());
        let checked = self.inner.as_core().get_timeout(Duration::ZERO);
        self.told(checked.map(crate::PooledConnection::new), started, None)
            .ok()
    }

    /// Tells the event handler of a checkout's outcome: the connection handed out (`started`
    /// is when the checkout began), or a timeout (when `timeout` says the checkout waited).
    fn told(
        &self,
        checked: Result<PooledConnection<M>, crate::Error>,
        started: Option<Instant>,
        timeout: Option<Duration>,
    ) -> Result<PooledConnection<M>, PoolError> {
        let (Some(events), Some(started)) = (&self.events, started) else {
            return Ok(checked?);
        };
        match &checked {
            Ok(conn) => events.handle_checkout(CheckoutEvent {
                id: conn.record().connection_id().unwrap_or(0),
                duration: started.elapsed(),
            }),
            Err(poolscope::Error::Timeout(_) | poolscope::Error::ConnectTimeout(_)) => {
                if let Some(timeout) = timeout {
                    events.handle_timeout(TimeoutEvent { timeout });
                }
            }
            Err(_) => {}
        }
        Ok(checked?)
    }

    /// The pool's counts.
    pub fn state(&self) -> State {
        State::of(&self.inner.status())
    }

    /// `max_size`.
    pub fn max_size(&self) -> u32 {
        self.settings.max_size
    }

    /// `min_idle`.
    pub fn min_idle(&self) -> Option<u32> {
        self.settings.min_idle
    }

    /// `test_on_check_out` (poolscope's `pre_ping`).
    pub fn test_on_check_out(&self) -> bool {
        self.settings.test_on_check_out
    }

    /// `max_lifetime` (poolscope's `pool_recycle`).
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.settings.max_lifetime
    }

    /// `idle_timeout`, as set (see the module doc for what it does here).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.settings.idle_timeout
    }

    /// `connection_timeout` (poolscope's `pool_timeout`).
    pub fn connection_timeout(&self) -> Duration {
        self.settings.connection_timeout
    }

    /// The poolscope pool underneath: `status()`, `dispose()`, and the rest.
    pub fn as_poolscope(&self) -> &crate::Pool<M::Connection> {
        &self.inner
    }
}

/// Runs an r2d2 connection customizer's `on_acquire` on every new connection; its error goes
/// to the error handler too.
struct Customizer<C>(Box<dyn CustomizeConnection<C, Error>>, ErrorHook);

impl<C: 'static> PoolListener<C> for Customizer<C> {
    fn connect(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        let conn = event.connection;
        ErrorHook::report_to(&Some(self.1.clone()), self.0.on_acquire(conn))
            .map_err(ListenerError::fatal)
    }
}

/// The error handler's side of an [`ErrorHook`]: each error as
/// `Error::ConnectionError(ConnectionError::BadConnection(text))`.
fn handler_hook(handler: Box<dyn HandleError<Error>>) -> ErrorHook {
    ErrorHook::new(move |text| {
        handler.handle_error(Error::ConnectionError(ConnectionError::BadConnection(text)))
    })
}

/// When and which connection a checkout handed out, kept in the slot's `record_info` for
/// its checkin event (the connection's own `info` is gone once it is closed).
struct CheckedOut {
    id: u64,
    at: Instant,
}

/// Tells an r2d2 event handler what the pool did with its connections (the checkouts and
/// timeouts are told by [`Pool`]'s `get`).
struct EventListener {
    handler: Arc<dyn HandleEvent>,
    /// `build` has opened `min_idle`: checkins are the application's from now on.
    built: Arc<AtomicBool>,
}

impl<C> PoolListener<C> for EventListener {
    fn connect(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        self.handler.handle_acquire(AcquireEvent {
            id: event.record.connection_id().unwrap_or(0),
        });
        Ok(())
    }

    fn checkout(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        if !self.built.load(Ordering::Relaxed) {
            return Ok(());
        }
        let out = CheckedOut {
            id: event.record.connection_id().unwrap_or(0),
            at: Instant::now(),
        };
        match event.record.record_info_mut().get_mut::<CheckedOut>() {
            Some(stamp) => *stamp = out,
            None => drop(event.record.record_info_mut().insert(out)),
        }
        Ok(())
    }

    fn checkin(&self, event: Returned<'_, C>) {
        if !self.built.load(Ordering::Relaxed) {
            return;
        }
        if let Some(out) = event.record.record_info().get::<CheckedOut>() {
            self.handler.handle_checkin(CheckinEvent {
                id: out.id,
                duration: out.at.elapsed(),
            });
        }
    }

    fn close(&self, event: ConnectionEvent<'_, C>) {
        let age = event.record.created_at().map_or(Duration::ZERO, |at| {
            Instant::now().saturating_duration_since(at)
        });
        self.handler.handle_release(ReleaseEvent {
            id: event.record.connection_id().unwrap_or(0),
            age,
        });
    }
}

/// What the builder's settings make: the poolscope builder, the manager reporting to the
/// error handler, and the event handler with its `built` switch.
struct Translated<M: DieselManager> {
    builder: crate::Builder<M::Connection>,
    manager: Manager<M::Connection>,
    settings: Settings,
    events: Option<(Arc<dyn HandleEvent>, Arc<AtomicBool>)>,
}

/// A pool whose `build` is not done yet: its event handler hears no checkout or checkin.
struct Building<M: DieselManager> {
    pool: Pool<M>,
    built: Option<Arc<AtomicBool>>,
}

impl<M: DieselManager> Translated<M> {
    fn into_pool(self) -> Result<Building<M>, PoolError> {
        let (events, built) = self.events.unzip();
        Ok(Building {
            pool: Pool {
                inner: self.builder.build(self.manager)?,
                settings: self.settings,
                events,
            },
            built,
        })
    }
}

impl<M: DieselManager> std::ops::Deref for Building<M> {
    type Target = Pool<M>;

    fn deref(&self) -> &Pool<M> {
        &self.pool
    }
}

impl<M: DieselManager> Building<M> {
    /// The pool, its event handler told of every checkout and checkin from now on.
    fn built(self) -> Pool<M> {
        if let Some(built) = &self.built {
            built.store(true, Ordering::Relaxed);
        }
        self.pool
    }
}

/// Builds a [`Pool`], with `diesel::r2d2::Builder`'s options and defaults.
pub struct Builder<M: DieselManager> {
    settings: Settings,
    customizer: Option<Box<dyn CustomizeConnection<M::Connection, Error>>>,
    event_handler: Option<Box<dyn HandleEvent>>,
    error_handler: Box<dyn HandleError<Error>>,
    poolscope: crate::Builder<M::Connection>,
    _manager: PhantomData<fn(M)>,
}

impl<M: DieselManager> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .field("customizer", &self.customizer.is_some())
            .field("event_handler", &self.event_handler)
            .field("error_handler", &self.error_handler)
            .finish_non_exhaustive()
    }
}

impl<M: DieselManager> Builder<M> {
    /// r2d2's defaults.
    pub fn new() -> Self {
        Pool::builder()
    }

    /// The most connections at once (default 10; must be at least 1).
    pub fn max_size(mut self, max_size: u32) -> Self {
        self.settings.max_size = max_size;
        self
    }

    /// Connections opened at `build()` and kept idle (default: `max_size`).
    pub fn min_idle(mut self, min_idle: Option<u32>) -> Self {
        self.settings.min_idle = min_idle;
        self
    }

    /// Test each connection before it is handed out (default true).
    pub fn test_on_check_out(mut self, test: bool) -> Self {
        self.settings.test_on_check_out = test;
        self
    }

    /// Replace connections older than this (default 30 min).
    pub fn max_lifetime(mut self, max_lifetime: Option<Duration>) -> Self {
        self.settings.max_lifetime = max_lifetime;
        self
    }

    /// Kept as a setting (default 10 min): connections beyond `min_idle` close when they
    /// are returned rather than after this long idle.
    pub fn idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = idle_timeout;
        self
    }

    /// How long a checkout waits, connecting included (default 30 s; must be longer than
    /// zero).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connection_timeout = timeout;
        self
    }

    /// Runs `customizer.on_acquire` on every new connection; an error fails that checkout.
    pub fn connection_customizer(
        mut self,
        customizer: Box<dyn CustomizeConnection<M::Connection, Error>>,
    ) -> Self {
        self.customizer = Some(customizer);
        self
    }

    /// Told of the pool's events (r2d2's `event_handler`; default none): connections opened,
    /// closed, checked out, checked back in, and checkouts timed out. The handler implements
    /// this module's [`HandleEvent`], whose events have r2d2's names and accessors; what
    /// fires when is in its doc (a connection returned inside a transaction is kept, so no
    /// release fires for it, where r2d2 closes it).
    pub fn event_handler(mut self, event_handler: Box<dyn HandleEvent>) -> Self {
        self.event_handler = Some(event_handler);
        self
    }

    /// Told of each error no caller sees in r2d2 (r2d2's `error_handler`; default
    /// [`LoggingErrorHandler`], which logs through the `log` crate at ERROR): each failed
    /// connect, failed `test_on_check_out` and customizer error. poolscope also returns a
    /// failed connect to the checkout that made it (r2d2 keeps only its text), so the handler
    /// gets a copy, `Error::ConnectionError(ConnectionError::BadConnection(text))` with the
    /// error's text (without credentials): Diesel's errors cannot be cloned.
    pub fn error_handler(mut self, error_handler: Box<dyn HandleError<Error>>) -> Self {
        self.error_handler = error_handler;
        self
    }

    /// Accepted and not used (r2d2: the threads that open connections in the background and
    /// run its reaper): poolscope opens a connection on the thread that checks out (on a
    /// connector thread of its own while a `connection_timeout` runs), and has no reaper.
    pub fn thread_pool(self, thread_pool: Arc<ScheduledThreadPool>) -> Self {
        drop(thread_pool);
        self
    }

    /// SQLAlchemy's and poolscope's own options (`echo_pool`, `reset_on_return`, `name`,
    /// listeners, ...), on the poolscope builder underneath. The r2d2 options above are
    /// applied over it at `build()`.
    pub fn poolscope(
        mut self,
        f: impl FnOnce(crate::Builder<M::Connection>) -> crate::Builder<M::Connection>,
    ) -> Self {
        self.poolscope = f(self.poolscope);
        self
    }

    /// The poolscope builder these settings make.
    fn translated(self, manager: M) -> Result<Translated<M>, PoolError> {
        let s = self.settings;
        let errors = handler_hook(self.error_handler);
        let mut manager: Manager<M::Connection> = manager.into();
        manager.report_errors_to(errors.clone());
        let mut builder = s.apply(self.poolscope)?;
        if let Some(customizer) = self.customizer {
            builder = builder.listener(Customizer(customizer, errors));
        }
        let events = self.event_handler.map(|handler| {
            let listener = EventListener {
                handler: Arc::from(handler),
                built: Arc::new(AtomicBool::new(false)),
            };
            let events = (Arc::clone(&listener.handler), Arc::clone(&listener.built));
            builder = std::mem::take(&mut builder).listener(listener);
            events
        });
        Ok(Translated {
            builder,
            manager,
            settings: s,
            events,
        })
    }

    /// Builds the pool and opens `min_idle` connections (all of `max_size` by default),
    /// waiting up to `connection_timeout`, as r2d2 does: a wrong URL or a server that is
    /// down shows here.
    ///
    /// # Errors
    /// [`PoolError::Options`] for options that make no sense (r2d2 panics on these);
    /// [`PoolError::Checkout`] when the connections cannot be opened.
    pub fn build(self, manager: M) -> Result<Pool<M>, PoolError> {
        let t = self.translated(manager)?;
        let min_idle = t.settings.min_idle.unwrap_or(t.settings.max_size);
        let pool = t.into_pool()?;
        // r2d2 opens these in the background: acquire events, no checkout or checkin.
        let opened = (0..min_idle)
            .map(|_| pool.inner.get())
            .collect::<Result<Vec<_>, _>>()?;
        drop(opened);
        Ok(pool.built())
    }

    /// Builds the pool without opening anything: connections open on first demand
    /// (poolscope's and SQLAlchemy's way).
    ///
    /// # Panics
    /// On options that make no sense, as r2d2's `build_unchecked` does (`build` returns
    /// them as an error).
    pub fn build_unchecked(self, manager: M) -> Pool<M> {
        self.translated(manager)
            .and_then(Translated::into_pool)
            .unwrap_or_else(|e| panic!("invalid r2d2 pool options: {e}"))
            .built()
    }
}

impl<M: DieselManager> Default for Builder<M> {
    fn default() -> Self {
        Self::new()
    }
}
