//! The blocking pool: Diesel's `PgConnection`, `MysqlConnection` or `SqliteConnection` (any
//! [`R2D2Connection`]) in a poolscope [`poolscope::Pool`].

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use diesel::r2d2::R2D2Connection;
use poolscope::BuildError;

pub use crate::manager::Manager;
use crate::reset::DieselReset;
use crate::system::system_name;

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
    /// [`ConnectionManager`](diesel::r2d2::ConnectionManager)).
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
/// URL, a [`Manager`] or Diesel's
/// [`ConnectionManager`](diesel::r2d2::ConnectionManager), and fills in what the options left
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
