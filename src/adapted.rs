//! What an adapter crate knows about its connections, in one trait the builder consults.
//!
//! An adapter (poolscope-diesel, ...) puts a pool type of its own around a core pool, to give
//! its guard the traits its library wants. It does not forward the builder's setters: its
//! builder *is* a [`PoolBuilder`] of the front's kind with the adapter's pool as the second
//! parameter (`PoolBuilder<Blocking<M, P>>`), so every option is there as it is on the core
//! builder, and [`build`](PoolBuilder::build) fills in what the user left unset from the
//! adapter's [`AdaptedPool`] implementation, then wraps the core pool.

// Only a front uses this module: unused in the hooks-only build (neither front).
#![cfg_attr(
    not(any(feature = "blocking", feature = "tokio")),
    allow(dead_code, unused_imports)
)]

use std::sync::Arc;

use crate::builder::PoolBuilder;
use crate::pool::{ConnectionPool, Front};

/// A pool type an adapter puts around a core [`ConnectionPool`] of front `F`, and what the
/// adapter knows that the builder fills in when the user did not set it: the pool's name
/// (from the manager's URL, without its credentials), `db.system.name` and the reset on
/// return.
///
/// ```
/// use poolscope::{AdaptedPool, Blocking, Pool, PoolBuilder};
/// # #[derive(Debug)]
/// # struct Manager { url: String }
/// # impl r2d2::ManageConnection for Manager {
/// #     type Connection = ();
/// #     type Error = std::io::Error;
/// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn has_broken(&self, _: &mut ()) -> bool { false }
/// # }
///
/// /// The adapter's pool.
/// struct MyPool(Pool<Manager>);
///
/// impl AdaptedPool<Blocking<Manager>> for MyPool {
///     fn from_core(pool: Pool<Manager>) -> Self {
///         MyPool(pool)
///     }
///     fn database_url(manager: &Manager) -> Option<&str> {
///         Some(&manager.url)
///     }
///     fn db_system_name() -> Option<&'static str> {
///         Some("sqlite")
///     }
/// }
///
/// impl MyPool {
///     fn builder() -> PoolBuilder<Blocking<Manager, MyPool>> {
///         PoolBuilder::default().pool_size(2)
///     }
/// }
///
/// let pool = MyPool::builder()
///     .max_overflow(0)
///     .reset_on_return(poolscope::ResetOnReturn::None)
///     .build(Manager { url: "postgres://me:secret@db.example/shop".into() })?;
/// assert_eq!(pool.0.name(), "db.example:5432/shop"); // from the URL, without credentials
/// # Ok::<(), poolscope::BuildError>(())
/// ```
pub trait AdaptedPool<F: Front>: Sized {
    /// The adapter's pool around a core pool just built.
    fn from_core(pool: ConnectionPool<F>) -> Self;

    /// The URL to name the pool after, unless the user named it (default: none, and the
    /// pool is called `pool-<id>`).
    #[allow(unused_variables)]
    fn database_url(manager: &F::Manager) -> Option<&str> {
        None
    }

    /// `db.system.name`, unless the user set one (default: none).
    fn db_system_name() -> Option<&'static str> {
        None
    }

    /// The reset on return, unless the user set one with `reset_with` (default: none, and
    /// `build` refuses a `reset_on_return` other than `None` without one).
    fn default_reset() -> Option<Arc<F::Reset>> {
        None
    }

    /// Reads, on a connection just opened, how many connections the server admits for its
    /// user and database (default: not read). The pool asks it of its first connection and
    /// publishes the answer as `poolscope.server.connection.budget` (see
    /// [`ConnectionPool::report_server_budget`]). The future's errors are the adapter's to
    /// swallow: `None` says nothing. The blocking pool polls it once, so a blocking
    /// adapter's future does its query inside that poll.
    #[allow(unused_variables)]
    fn server_budget(
        connection: &mut F::Connection,
    ) -> Option<crate::BoxFuture<'_, Option<usize>>> {
        None
    }
}

/// A connection's server budget reader, as a front keeps it ([`AdaptedPool::server_budget`]).
pub(crate) type BudgetReader<C> = fn(&mut C) -> Option<crate::BoxFuture<'_, Option<usize>>>;

impl<K: crate::builder::PoolKind> PoolBuilder<K> {
    /// The core builder an adapter's `build` hands to the front: the same options and
    /// instruments, the kind made from this one's by `kind`, and the adapter's name (from
    /// `url`) and `db.system.name` where the user set none.
    pub(crate) fn adapted<K2: crate::builder::PoolKind>(
        self,
        url: Option<&str>,
        system: Option<&'static str>,
        kind: impl FnOnce(K) -> K2,
    ) -> PoolBuilder<K2> {
        let mut options = self.options;
        if options.name.is_none() {
            options.name = url.map(crate::pool_name_from_url);
        }
        if options.db_system.is_none() {
            options.db_system = system.map(Into::into);
        }
        PoolBuilder {
            options,
            instruments: self.instruments,
            kind: kind(self.kind),
        }
    }
}
