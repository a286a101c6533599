use super::builder::Tokio;
use crate::guard::{Detached, Pooled};

/// A checked-out connection of an [`AsyncPool`](crate::AsyncPool): [`Pooled`] of the
/// [`Tokio`] front. Derefs to the connection; dropping it returns the connection to the
/// pool. `Drop` cannot await, so it polls the reset (`ResetOnReturn::Rollback` or `Commit`)
/// once: a reset with nothing to do finishes there and the connection is back before `drop`
/// returns; one that must wait for the server goes on on a spawned Tokio task, the slot
/// counted as checked out until it finishes (with no runtime, the connection is closed
/// instead). [`close`](Pooled::close) awaits it inline.
pub type AsyncPooledConnection<M> = Pooled<Tokio<M>>;

/// A connection detached from its async pool: [`Detached`] of the [`Tokio`] front. Dropping
/// it fires `close_detached` and closes it; no async reset runs (closing ends any
/// transaction on the server).
pub type AsyncDetachedConnection<M> = Detached<Tokio<M>>;

impl<M: bb8::ManageConnection> Pooled<Tokio<M>> {
    /// Returns the connection to the pool now, running its reset inline: when this returns,
    /// the connection is back in the pool (or closed).
    pub async fn close(mut self) {
        if let Some(checked) = self.checked.take() {
            self.shared.give_back_async(checked).await;
        }
    }
}
