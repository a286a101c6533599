use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::adapted::AdaptedPool;
use crate::builder::{Holding, HoldsConnections, PoolBuilder, PoolKind, Sealed};
use crate::error::BuildError;
use crate::pool::{ConnectionPool, Front};
use crate::reset::{AsyncConnectHook, AsyncReset};

/// Builds an [`AsyncPool`](crate::AsyncPool). Obtained from
/// [`AsyncPool::builder`](crate::AsyncPool::builder); its option setters are [`PoolBuilder`]'s.
pub type AsyncBuilder<M> = PoolBuilder<Tokio<M>>;

/// The async kind of pool: tasks wait on futures on a Tokio runtime, connections come from a
/// [`bb8::ManageConnection`]. What its builder holds beyond the options.
///
/// `P` is the pool type `build` returns: the core [`AsyncPool`](crate::AsyncPool) (`()`, the default), or an
/// adapter's pool around it (see [`AdaptedPool`]).
pub struct Tokio<M: bb8::ManageConnection, P = ()> {
    pub(super) holding: Holding<M::Connection>,
    pub(super) reset: Option<Arc<dyn AsyncReset<M::Connection>>>,
    pub(super) reset_timeout: Option<Duration>,
    pub(super) on_connect: Option<Arc<dyn AsyncConnectHook<M::Connection>>>,
    /// Reads why a connect failed (`classify_connect_errors`).
    pub(super) classify: Option<Classify<M::Error>>,
    /// Reads the server's connection budget on the first connection (the adapter's).
    pub(super) budget: Option<crate::adapted::BudgetReader<M::Connection>>,
    adapted: PhantomData<fn() -> P>,
}

/// A connect error's reader (`classify_connect_errors`).
type Classify<E> = Arc<dyn Fn(&E) -> crate::Refusal + Send + Sync>;

impl<M: bb8::ManageConnection, P> Tokio<M, P> {
    /// Why the manager's connect failed with `error`: by the reader given, else by the
    /// error's `Debug` text (bb8's managers promise only `Debug`).
    pub(super) fn classify(&self, error: &M::Error) -> crate::Refusal {
        match &self.classify {
            Some(classify) => classify(error),
            None => crate::Refusal::of_text(&format!("{error:?}")),
        }
    }
}

/// How long an async reset may take before the connection is closed instead, unless the
/// builder says otherwise.
pub const DEFAULT_RESET_TIMEOUT: Duration = Duration::from_secs(10);

impl<M: bb8::ManageConnection, P> Sealed for Tokio<M, P> {}
impl<M: bb8::ManageConnection, P> PoolKind for Tokio<M, P> {}

impl<M: bb8::ManageConnection, P> HoldsConnections for Tokio<M, P> {
    type Connection = M::Connection;

    fn holding(&mut self) -> &mut Holding<M::Connection> {
        &mut self.holding
    }
}

impl<M: bb8::ManageConnection, P> Default for Tokio<M, P> {
    fn default() -> Self {
        Tokio {
            holding: Holding::default(),
            reset: None,
            reset_timeout: Some(DEFAULT_RESET_TIMEOUT),
            on_connect: None,
            classify: None,
            budget: None,
            adapted: PhantomData,
        }
    }
}

impl<M: bb8::ManageConnection, P> Clone for Tokio<M, P> {
    fn clone(&self) -> Self {
        Tokio {
            holding: self.holding.clone(),
            reset: self.reset.clone(),
            reset_timeout: self.reset_timeout,
            on_connect: self.on_connect.clone(),
            classify: self.classify.clone(),
            budget: self.budget,
            adapted: PhantomData,
        }
    }
}

impl<M: bb8::ManageConnection, P> fmt::Debug for Tokio<M, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokio")
            .field("reset", &self.reset.is_some())
            .field("reset_timeout", &self.reset_timeout)
            .field("on_connect", &self.on_connect.is_some())
            .finish_non_exhaustive()
    }
}

impl<M: bb8::ManageConnection, P> PoolBuilder<Tokio<M, P>> {
    /// The async function that rolls back or commits a returned connection, as
    /// `reset_on_return` asks. Required unless `reset_on_return` is
    /// [`ResetOnReturn::None`](crate::ResetOnReturn).
    pub fn reset_with(mut self, reset: impl AsyncReset<M::Connection>) -> Self {
        self.kind.reset = Some(Arc::new(reset));
        self
    }

    /// How to read why the manager's connect failed, for a driver whose errors say it in
    /// other words than its `Debug` text (by default [`Refusal::of_text`] of that text, read
    /// for PostgreSQL's, MySQL's, MariaDB's and PgBouncer's words). The pool waits for
    /// [`Refusal::ServerCapacity`] (see
    /// [`wait_for_server_capacity`](PoolBuilder::wait_for_server_capacity)) and counts every
    /// reason in `poolscope.connection.refusals`.
    ///
    /// [`Refusal::of_text`]: crate::Refusal::of_text
    /// [`Refusal::ServerCapacity`]: crate::Refusal::ServerCapacity
    pub fn classify_connect_errors(
        mut self,
        classify: impl Fn(&M::Error) -> crate::Refusal + Send + Sync + 'static,
    ) -> Self {
        self.kind.classify = Some(Arc::new(classify));
        self
    }

    /// Async setup run on every new connection before it is used (bb8's connection
    /// customizer); see [`AsyncConnectHook`]. An error fails that checkout and closes the
    /// connection.
    pub fn on_connect(mut self, hook: impl AsyncConnectHook<M::Connection>) -> Self {
        self.kind.on_connect = Some(Arc::new(hook));
        self
    }

    /// How long a reset on return (`reset_on_return`'s rollback or commit) may wait for the
    /// server, default [`DEFAULT_RESET_TIMEOUT`] (10 s); `None`: as long as it takes. A reset
    /// that does not finish in time is given up: the connection is closed, its slot freed,
    /// the reset counted as failed and `Exception during reset or similar` logged, so a
    /// server that stops answering holds no slot longer than this (TCP alone would take
    /// minutes). The connection is checked out until then.
    ///
    /// ```
    /// # use poolscope::AsyncPool;
    /// # struct M;
    /// # impl bb8::ManageConnection for M {
    /// #     type Connection = ();
    /// #     type Error = std::io::Error;
    /// #     async fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// #     async fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn has_broken(&self, _: &mut ()) -> bool { false }
    /// # }
    /// let builder = AsyncPool::<M>::builder()
    ///     .reset_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn reset_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.kind.reset_timeout = timeout.into();
        self
    }
}

impl<M: bb8::ManageConnection, P: AdaptedPool<Tokio<M>>> PoolBuilder<Tokio<M, P>> {
    /// Builds the adapter's pool over `manager` (or what converts into it, such as a URL),
    /// with the adapter's name, `db.system.name` and reset where the user set none. Opens
    /// nothing.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together (SingletonThreadPool included),
    /// before anything is opened.
    pub async fn build(self, manager: impl Into<M>) -> Result<P, BuildError> {
        let manager = manager.into();
        let core = self.adapted(P::database_url(&manager), P::db_system_name(), |kind| {
            Tokio {
                holding: kind.holding,
                reset: kind.reset.or_else(P::default_reset),
                reset_timeout: kind.reset_timeout,
                on_connect: kind.on_connect,
                classify: kind.classify,
                budget: Some(P::server_budget),
                adapted: PhantomData,
            }
        });
        Tokio::build_pool(core, Arc::new(manager)).map(P::from_core)
    }
}

impl<M: bb8::ManageConnection> PoolBuilder<Tokio<M>> {
    /// Builds the pool. Opens nothing: connections open on first demand.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together (SingletonThreadPool included:
    /// it has no meaning for tasks), before anything is opened.
    pub async fn build(self, manager: M) -> Result<ConnectionPool<Tokio<M>>, BuildError> {
        Tokio::build_pool(self, Arc::new(manager))
    }
}
