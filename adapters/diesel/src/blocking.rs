//! The blocking pool: Diesel's `PgConnection`, `MysqlConnection` or `SqliteConnection` (any
//! [`R2D2Connection`]) in a poolscope [`poolscope::Pool`].

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use diesel::r2d2::{ConnectionManager, R2D2Connection};
use poolscope::BuildError;

use crate::compat::ErrorHook;
use crate::lost_connection::{self, DisconnectWatch, Suspicion};
use crate::redact::fmt_manager;
use crate::reset::{in_error, in_transaction, DieselReset};
use crate::system::system_name;

/// Opens Diesel connections for a [`Pool`]: Diesel's own [`ConnectionManager`], except that a
/// connection returned inside a transaction is not "broken" (the pool rolls it back and keeps
/// it, where Diesel's r2d2 pool would throw it away).
///
/// A returned connection is broken, and closed, when its transaction manager is in its error
/// state (a failed ROLLBACK / COMMIT), or when one of its queries failed with an error that
/// means the server closed it (a killed backend, a restarted server). After an error that
/// only may mean that, the connection is checked with `SELECT 1` as it comes back. So a
/// connection the server closed costs at most the one error that found it, `pre_ping` or not;
/// with `pre_ping`, an idle one is found before it is handed out. The check rides on Diesel's
/// [`Instrumentation`](diesel::connection::Instrumentation): the manager installs one on each
/// connection it opens, in front of Diesel's default instrumentation. A connection given an
/// instrumentation of its own later loses it, and is then checked by `pre_ping` only.
pub struct Manager<C> {
    inner: ConnectionManager<C>,
    url: Option<String>,
    /// `poolscope_diesel::r2d2`'s error handler, told of each failed connect and ping.
    errors: Option<ErrorHook>,
}

impl<C> Manager<C> {
    /// A manager that opens connections to `database_url`. The pool is named after the URL,
    /// without its credentials.
    pub fn new(database_url: impl Into<String>) -> Self {
        let url = database_url.into();
        Manager::with_url(ConnectionManager::new(url.clone()), url)
    }

    /// The database URL, when the manager was made from one (Diesel's `ConnectionManager`
    /// does not tell its URL).
    pub fn database_url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Diesel's manager for `url` (the compat module's manager, which knows its URL).
    pub(crate) fn with_url(inner: ConnectionManager<C>, url: String) -> Self {
        Manager {
            inner,
            url: Some(url),
            errors: None,
        }
    }

    /// Tells `hook` of each failed connect and ping, from now on.
    pub(crate) fn report_errors_to(&mut self, hook: ErrorHook) {
        self.errors = Some(hook);
    }
}

impl<C> From<ConnectionManager<C>> for Manager<C> {
    /// Wraps Diesel's manager. It does not tell its URL: name the pool with
    /// [`Builder::name`], or it is called `pool-<id>`.
    fn from(inner: ConnectionManager<C>) -> Self {
        Manager {
            inner,
            url: None,
            errors: None,
        }
    }
}

impl<C> From<&str> for Manager<C> {
    fn from(url: &str) -> Self {
        Manager::new(url)
    }
}

impl<C> From<String> for Manager<C> {
    fn from(url: String) -> Self {
        Manager::new(url)
    }
}

impl<C> From<&String> for Manager<C> {
    fn from(url: &String) -> Self {
        Manager::new(url.as_str())
    }
}

impl<C> fmt::Debug for Manager<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_manager(
            f,
            "Manager",
            std::any::type_name::<C>(),
            self.url.as_deref(),
        )
    }
}

impl<C> r2d2::ManageConnection for Manager<C>
where
    C: R2D2Connection + Send + 'static,
{
    type Connection = C;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<C, Self::Error> {
        let connected = self.inner.connect().map_err(crate::redact::connect_error);
        let mut conn = ErrorHook::report_to(&self.errors, connected)?;
        conn.set_instrumentation(DisconnectWatch::new());
        Ok(conn)
    }

    /// `SELECT 1` (Diesel's ping), run when `pre_ping` is on.
    fn is_valid(&self, conn: &mut C) -> Result<(), Self::Error> {
        ErrorHook::report_to(&self.errors, self.inner.is_valid(conn))
    }

    fn has_broken(&self, conn: &mut C) -> bool {
        if in_error(conn) {
            return true;
        }
        let broken = match lost_connection::seen(conn.instrumentation()) {
            Suspicion::Sound => false,
            Suspicion::Lost => true,
            // Inside a transaction, the reset's ROLLBACK is the check (a failed statement
            // may have aborted the transaction, where `SELECT 1` would fail too).
            Suspicion::Possible if in_transaction(conn) => false,
            Suspicion::Possible => self.inner.is_valid(conn).is_err(),
        };
        lost_connection::clear(conn.instrumentation());
        broken
    }
}

pub use crate::guard::PooledConnection;

/// The error of [`Pool::get`](poolscope::Pool::get).
pub type Error = poolscope::Error<diesel::r2d2::Error>;

/// A blocking pool of Diesel connections with SQLAlchemy's semantics. It dereferences to the
/// core [`poolscope::Pool`]: `get()`, `status()`, `dispose()` and the rest are there.
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use diesel::prelude::*;
/// use diesel::SqliteConnection;
/// use poolscope_diesel::Pool;
///
/// let pool = Pool::<SqliteConnection>::builder()
///     .pool_size(2)
///     .max_overflow(0)
///     .build(":memory:")?;
/// let mut conn = pool.get()?;
/// let one: i32 = diesel::select(1.into_sql::<diesel::sql_types::Integer>())
///     .get_result(&mut conn)?;
/// assert_eq!(one, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pool<C: R2D2Connection + Send + 'static> {
    inner: poolscope::Pool<Manager<C>>,
}

impl<C: R2D2Connection + Send + 'static> Pool<C> {
    /// A builder with the defaults of Diesel's r2d2 pool, in SQLAlchemy's terms
    /// ([`Defaults::RUST_POOLS`](poolscope::Defaults::RUST_POOLS)): QueuePool of at most 10
    /// connections (`pool_size` 10, `max_overflow` 0), a 30 s `pool_timeout`, `pre_ping` on,
    /// `pool_recycle` 30 min, and rollback on return through Diesel's transaction manager.
    ///
    /// The order is SQLAlchemy's (FIFO), not r2d2's (LIFO, `use_lifo(true)`): with 16
    /// threads over 8 PostgreSQL connections, each pool alone in its process, FIFO served
    /// 1.2–1.4× r2d2's queries per second and LIFO 1.0–1.1×, with less of the client's CPU
    /// per query (BENCHMARKS.md, "The adapters end to end").
    pub fn builder() -> Builder<C> {
        Builder::default().defaults(poolscope::Defaults::RUST_POOLS)
    }

    /// A pool with the defaults, for `manager` (a URL, a [`Manager`] or Diesel's
    /// [`ConnectionManager`]).
    ///
    /// # Errors
    /// None with the defaults; see [`Builder::build`].
    pub fn new(manager: impl Into<Manager<C>>) -> Result<Self, BuildError> {
        Self::builder().build(manager)
    }

    /// Checks out a connection, usable wherever Diesel wants one; see
    /// [`poolscope::Pool::get`].
    ///
    /// # Errors
    /// As [`poolscope::Pool::get`]: a timeout at the limit, a failed or hanging connect, a
    /// refusing listener.
    #[track_caller]
    pub fn get(&self) -> Result<PooledConnection<C>, Error> {
        self.inner.get().map(PooledConnection::new)
    }

    /// The core pool.
    pub fn as_core(&self) -> &poolscope::Pool<Manager<C>> {
        &self.inner
    }

    /// The core pool, owned.
    pub fn into_core(self) -> poolscope::Pool<Manager<C>> {
        self.inner
    }
}

impl<C: R2D2Connection + Send + 'static> Deref for Pool<C> {
    type Target = poolscope::Pool<Manager<C>>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<C: R2D2Connection + Send + 'static> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<C: R2D2Connection + Send + 'static> fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Builds a [`Pool`]: the core builder itself, every option as it is there (see
/// [`poolscope::PoolBuilder`]); [`build`](poolscope::PoolBuilder::build) takes a database
/// URL, a [`Manager`] or Diesel's [`ConnectionManager`], and fills in what the options left
/// unset: the name from the URL (without its credentials), `db.system.name` from the
/// connection's backend, the reset through Diesel's transaction manager ([`DieselReset`]).
pub type Builder<C> = poolscope::PoolBuilder<poolscope::Blocking<Manager<C>, Pool<C>>>;

impl<C: R2D2Connection + Send + 'static> poolscope::AdaptedPool<poolscope::Blocking<Manager<C>>>
    for Pool<C>
{
    fn from_core(inner: poolscope::Pool<Manager<C>>) -> Self {
        Pool { inner }
    }

    fn database_url(manager: &Manager<C>) -> Option<&str> {
        manager.database_url()
    }

    fn db_system_name() -> Option<&'static str> {
        system_name::<C::Backend>()
    }

    fn default_reset() -> Option<Arc<dyn poolscope::Reset<C>>> {
        Some(Arc::new(DieselReset))
    }

    fn server_budget(connection: &mut C) -> Option<poolscope::BoxFuture<'_, Option<usize>>> {
        // Ready at its first poll: the query runs inside it.
        Some(Box::pin(async move {
            crate::server_budget::blocking(connection)
        }))
    }
}
