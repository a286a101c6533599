use std::panic::Location;
use std::sync::Arc;

use super::pool::Shared;
use crate::core::Checked;
use crate::guard_common::guard_common;
use crate::record::Extensions;

/// A checked-out async connection. Derefs to the connection; dropping it returns the
/// connection to the pool. `Drop` cannot await, so it polls the reset
/// (`ResetOnReturn::Rollback` or `Commit`) once: a reset with nothing to do finishes there and
/// the connection is back before `drop` returns; one that must wait for the server goes on
/// on a spawned Tokio task, the slot counted as checked out until it finishes (with no
/// runtime, the connection is closed instead). [`close`](Self::close) awaits it inline.
pub struct AsyncPooledConnection<M: bb8::ManageConnection> {
    shared: Arc<Shared<M>>,
    checked: Option<Checked<M::Connection>>,
    location: &'static Location<'static>,
}

/// A connection detached from its async pool. Dropping it fires `close_detached` and closes
/// it; no async reset runs (closing ends any transaction on the server).
pub struct AsyncDetachedConnection<M: bb8::ManageConnection> {
    shared: Arc<Shared<M>>,
    conn: Option<M::Connection>,
    info: Extensions,
    /// The connection's id while it was pooled, for the echo_pool lines.
    id: u64,
}

guard_common!(
    AsyncPooledConnection,
    AsyncDetachedConnection,
    bb8::ManageConnection
);

impl<M: bb8::ManageConnection> AsyncPooledConnection<M> {
    /// Returns the connection to the pool now, running its reset inline: when this returns,
    /// the connection is back in the pool (or closed).
    pub async fn close(mut self) {
        if let Some(checked) = self.checked.take() {
            self.shared.give_back_async(checked).await;
        }
    }
}

impl<M: bb8::ManageConnection> Drop for AsyncPooledConnection<M> {
    fn drop(&mut self) {
        if let Some(checked) = self.checked.take() {
            self.shared.give_back(checked);
        }
    }
}

impl<M: bb8::ManageConnection> Drop for AsyncDetachedConnection<M> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let _action = self.closing(&mut conn);
        self.closed(&mut conn);
    }
}
