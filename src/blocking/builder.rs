use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::adapted::AdaptedPool;
use crate::builder::{Holding, HoldsConnections, PoolBuilder, PoolKind, Sealed};
use crate::error::BuildError;
use crate::pool::{ConnectionPool, Front};
use crate::reset::Reset;

use super::connector::Gate;

/// A connect error's reader (`classify_connect_errors`).
type Classify<E> = Arc<dyn Fn(&E) -> crate::Refusal + Send + Sync>;

impl<M: r2d2::ManageConnection, P> Blocking<M, P> {
    /// Why the manager's connect failed with `error`.
    pub(super) fn classify(&self, error: &M::Error) -> crate::Refusal {
        match &self.classify {
            Some(classify) => classify(error),
            None => crate::Refusal::of_error(error),
        }
    }
}

/// Builds a blocking [`Pool`](crate::Pool). Obtained from [`Pool::builder`](crate::Pool::builder);
/// its option setters are [`PoolBuilder`]'s.
pub type Builder<M> = PoolBuilder<Blocking<M>>;

/// The blocking kind of pool: threads wait on a condvar, connections come from an
/// [`r2d2::ManageConnection`]. What its builder holds beyond the options.
///
/// `P` is the pool type `build` returns: the core [`Pool`](crate::Pool) (`()`, the default), or an
/// adapter's pool around it (see [`AdaptedPool`]).
pub struct Blocking<M: r2d2::ManageConnection, P = ()> {
    pub(super) holding: Holding<M::Connection>,
    pub(super) reset: Option<Arc<dyn Reset<M::Connection>>>,
    /// The built pool's share of the connector threads (see `connector.rs`): state of the
    /// pool the builder is kept in, not an option, so a clone (for `recreate`) starts its own.
    pub(super) gate: Arc<Gate>,
    /// The pre-ping runs on a connector thread, bounded by `pool_timeout`
    /// ([`PoolBuilder::bounded_pre_ping`]).
    pub(super) bounded_pre_ping: bool,
    /// Reads why a connect failed ([`PoolBuilder::classify_connect_errors`]).
    pub(super) classify: Option<Classify<M::Error>>,
    /// Reads the server's connection budget on the first connection (the adapter's).
    pub(super) budget: Option<crate::adapted::BudgetReader<M::Connection>>,
    adapted: PhantomData<fn() -> P>,
}

impl<M: r2d2::ManageConnection, P> Sealed for Blocking<M, P> {}
impl<M: r2d2::ManageConnection, P> PoolKind for Blocking<M, P> {}

impl<M: r2d2::ManageConnection, P> HoldsConnections for Blocking<M, P> {
    type Connection = M::Connection;

    fn holding(&mut self) -> &mut Holding<M::Connection> {
        &mut self.holding
    }
}

impl<M: r2d2::ManageConnection, P> Default for Blocking<M, P> {
    fn default() -> Self {
        Blocking {
            holding: Holding::default(),
            reset: None,
            gate: Arc::default(),
            bounded_pre_ping: false,
            classify: None,
            budget: None,
            adapted: PhantomData,
        }
    }
}

impl<M: r2d2::ManageConnection, P> Clone for Blocking<M, P> {
    fn clone(&self) -> Self {
        Blocking {
            holding: self.holding.clone(),
            reset: self.reset.clone(),
            gate: Arc::default(),
            bounded_pre_ping: self.bounded_pre_ping,
            classify: self.classify.clone(),
            budget: self.budget,
            adapted: PhantomData,
        }
    }
}

impl<M: r2d2::ManageConnection, P> fmt::Debug for Blocking<M, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking")
            .field("reset", &self.reset.is_some())
            .finish_non_exhaustive()
    }
}

impl<M: r2d2::ManageConnection, P> PoolBuilder<Blocking<M, P>> {
    /// The function that rolls back or commits a returned connection, as `reset_on_return`
    /// asks. Required unless `reset_on_return` is [`ResetOnReturn::None`](crate::ResetOnReturn).
    pub fn reset_with(mut self, reset: impl Reset<M::Connection>) -> Self {
        self.kind.reset = Some(Arc::new(reset));
        self
    }

    /// Bounds the pre-ping by `pool_timeout`, as the async pool's is: the manager's
    /// `is_valid` runs on a connector thread (see [`Pool::get`](crate::Pool::get)), and a
    /// ping that does not answer in time gives the caller
    /// [`Error::ConnectTimeout`](crate::Error::ConnectTimeout) and closes the connection when
    /// it returns. Off by default: a blocking driver's call cannot be bounded on the caller's
    /// own thread, and handing each ping to another thread and back costs two thread wake-ups
    /// per checkout (measured: about 30 µs per checkout over a ping that costs nothing, and
    /// 0.70× the throughput of inline pings for Diesel on PostgreSQL with 16 threads on two
    /// cores; BENCHMARKS.md). Inline, as r2d2's `test_on_check_out` and SQLAlchemy's
    /// `pre_ping` do, a server that stops answering holds the caller as long as the ping
    /// does; give the driver a socket timeout (libpq's `tcp_user_timeout`, MySQL's
    /// `read_timeout`), or turn this on, where that matters. Without `pool_timeout` the ping
    /// runs inline either way.
    ///
    /// ```
    /// # struct M;
    /// # impl r2d2::ManageConnection for M {
    /// #     type Connection = ();
    /// #     type Error = std::io::Error;
    /// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn has_broken(&self, _: &mut ()) -> bool { false }
    /// # }
    /// let pool = poolscope::Pool::builder()
    ///     .pre_ping(true)
    ///     .bounded_pre_ping(true)
    ///     .reset_on_return(poolscope::ResetOnReturn::None)
    ///     .build(M)?;
    /// drop(pool.get()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bounded_pre_ping(mut self, bounded: bool) -> Self {
        self.kind.bounded_pre_ping = bounded;
        self
    }

    /// How to read why the manager's connect failed, for a driver whose errors say it in
    /// other words than its message (by default [`Refusal::of_error`]: the error's message
    /// and its sources', read for PostgreSQL's, MySQL's, MariaDB's and PgBouncer's words).
    /// The pool waits for [`Refusal::ServerCapacity`] (see
    /// [`wait_for_server_capacity`](PoolBuilder::wait_for_server_capacity)) and counts every
    /// reason in `poolscope.connection.refusals`.
    ///
    /// [`Refusal::of_error`]: crate::Refusal::of_error
    /// [`Refusal::ServerCapacity`]: crate::Refusal::ServerCapacity
    pub fn classify_connect_errors(
        mut self,
        classify: impl Fn(&M::Error) -> crate::Refusal + Send + Sync + 'static,
    ) -> Self {
        self.kind.classify = Some(Arc::new(classify));
        self
    }
}

impl<M: r2d2::ManageConnection, P: AdaptedPool<Blocking<M>>> PoolBuilder<Blocking<M, P>> {
    /// Builds the adapter's pool over `manager` (or what converts into it, such as a URL),
    /// with the adapter's name, `db.system.name` and reset where the user set none. Opens
    /// nothing: connections open on first demand.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together, before anything is opened.
    pub fn build(self, manager: impl Into<M>) -> Result<P, BuildError> {
        let manager = manager.into();
        let core = self.adapted(P::database_url(&manager), P::db_system_name(), |kind| {
            Blocking {
                holding: kind.holding,
                reset: kind.reset.or_else(P::default_reset),
                gate: kind.gate,
                bounded_pre_ping: kind.bounded_pre_ping,
                classify: kind.classify,
                budget: Some(P::server_budget),
                adapted: PhantomData,
            }
        });
        Blocking::build_pool(core, Arc::new(manager)).map(P::from_core)
    }
}

impl<M: r2d2::ManageConnection> PoolBuilder<Blocking<M>> {
    /// Builds the pool. Opens nothing: connections open on first demand.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together, before anything is opened.
    pub fn build(self, manager: M) -> Result<ConnectionPool<Blocking<M>>, BuildError> {
        Blocking::build_pool(self, Arc::new(manager))
    }
}
