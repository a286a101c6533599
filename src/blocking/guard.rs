use super::builder::Blocking;
use crate::guard::{Detached, Pooled};

/// A checked-out connection of a blocking [`Pool`](crate::Pool): [`Pooled`] of the
/// [`Blocking`] front. Derefs to the connection; dropping it returns the connection to the
/// pool (reset per `reset_on_return`, then kept or closed per the pool class), also when the
/// holder panics.
pub type PooledConnection<M> = Pooled<Blocking<M>>;

/// A connection detached from its blocking pool: [`Detached`] of the [`Blocking`] front.
/// Derefs to the connection; dropping it resets the connection per `reset_on_return`, fires
/// `close_detached` and closes it.
pub type DetachedConnection<M> = Detached<Blocking<M>>;

impl<M: r2d2::ManageConnection> Pooled<Blocking<M>> {
    /// Returns the connection to the pool now (the same as dropping it).
    pub fn close(self) {}
}
