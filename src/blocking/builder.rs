use std::fmt;
use std::sync::Arc;

use super::pool::{Pool, Shared};
use crate::builder::{Holding, HoldsConnections, PoolBuilder, PoolKind, Sealed};
use crate::config::FrontEnd;
use crate::config::ResetAction;
use crate::core::Checked;
use crate::error::BuildError;
use crate::pool::Front;
use crate::reset::Reset;

/// Builds a blocking [`Pool`]. Obtained from [`Pool::builder`]; its option setters are
/// [`PoolBuilder`]'s.
pub type Builder<M> = PoolBuilder<Blocking<M>>;

/// The blocking kind of pool: threads wait on a condvar, connections come from an
/// [`r2d2::ManageConnection`]. What its builder holds beyond the options.
pub struct Blocking<M: r2d2::ManageConnection> {
    pub(super) holding: Holding<M::Connection>,
    pub(super) reset: Option<Arc<dyn Reset<M::Connection>>>,
}

impl<M: r2d2::ManageConnection> Sealed for Blocking<M> {}
impl<M: r2d2::ManageConnection> PoolKind for Blocking<M> {}

impl<M: r2d2::ManageConnection> HoldsConnections for Blocking<M> {
    type Connection = M::Connection;

    fn holding(&mut self) -> &mut Holding<M::Connection> {
        &mut self.holding
    }
}

impl<M: r2d2::ManageConnection> Front for Blocking<M> {
    type Manager = M;
    const POOL_NAME: &'static str = "Pool";
    const GUARD_NAME: &'static str = "PooledConnection";
    const DETACHED_NAME: &'static str = "DetachedConnection";

    fn give_back(shared: &Arc<Shared<M>>, checked: Checked<M::Connection>) {
        shared.give_back(checked);
    }

    fn reset_detached(
        shared: &Shared<M>,
        conn: &mut M::Connection,
        action: Option<ResetAction>,
        id: u64,
    ) {
        let Some(action) = action else {
            return;
        };
        crate::echo::echo_debug!(
            shared.core,
            "Connection {} {}-on-return",
            id,
            action.as_str()
        );
        if let Err(message) = shared.run_reset(conn, action) {
            crate::echo::echo_error!(
                shared.core,
                error = %message,
                "Exception during reset or similar"
            );
        }
    }

    fn build_pool(builder: PoolBuilder<Self>, manager: Arc<M>) -> Result<Pool<M>, BuildError> {
        let can_reset = builder.kind.reset.is_some();
        builder.into_pool(manager, FrontEnd::Blocking, can_reset)
    }
}

impl<M: r2d2::ManageConnection> Default for Blocking<M> {
    fn default() -> Self {
        Blocking {
            holding: Holding::default(),
            reset: None,
        }
    }
}

impl<M: r2d2::ManageConnection> Clone for Blocking<M> {
    fn clone(&self) -> Self {
        Blocking {
            holding: self.holding.clone(),
            reset: self.reset.clone(),
        }
    }
}

impl<M: r2d2::ManageConnection> fmt::Debug for Blocking<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking")
            .field("reset", &self.reset.is_some())
            .finish_non_exhaustive()
    }
}

impl<M: r2d2::ManageConnection> PoolBuilder<Blocking<M>> {
    /// The function that rolls back or commits a returned connection, as `reset_on_return`
    /// asks. Required unless `reset_on_return` is [`ResetOnReturn::None`](crate::ResetOnReturn).
    pub fn reset_with(mut self, reset: impl Reset<M::Connection>) -> Self {
        self.kind.reset = Some(Arc::new(reset));
        self
    }

    /// Builds the pool. Opens nothing: connections open on first demand.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together, before anything is opened.
    pub fn build(self, manager: M) -> Result<Pool<M>, BuildError> {
        Blocking::build_pool(self, Arc::new(manager))
    }
}
