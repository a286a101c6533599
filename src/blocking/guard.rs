use std::panic::Location;
use std::sync::Arc;

use super::pool::Shared;
use crate::core::Checked;
use crate::guard_common::guard_common;
use crate::record::Extensions;

/// A checked-out connection. Derefs to the connection; dropping it returns the connection to
/// the pool (reset per `reset_on_return`, then kept or closed per the pool class), also when
/// the holder panics.
pub struct PooledConnection<M: r2d2::ManageConnection> {
    shared: Arc<Shared<M>>,
    checked: Option<Checked<M::Connection>>,
    location: &'static Location<'static>,
}

/// A connection detached from its pool. Derefs to the connection; dropping it resets the
/// connection per `reset_on_return`, fires `close_detached` and closes it.
pub struct DetachedConnection<M: r2d2::ManageConnection> {
    shared: Arc<Shared<M>>,
    conn: Option<M::Connection>,
    info: Extensions,
    /// The connection's id while it was pooled, for the echo_pool lines.
    id: u64,
}

guard_common!(PooledConnection, DetachedConnection, r2d2::ManageConnection);

impl<M: r2d2::ManageConnection> PooledConnection<M> {
    /// Returns the connection to the pool now (the same as dropping it).
    pub fn close(self) {}
}

impl<M: r2d2::ManageConnection> Drop for PooledConnection<M> {
    fn drop(&mut self) {
        if let Some(checked) = self.checked.take() {
            self.shared.give_back(checked);
        }
    }
}

impl<M: r2d2::ManageConnection> Drop for DetachedConnection<M> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if let Some(action) = self.closing(&mut conn) {
            crate::echo::echo_debug!(
                self.shared.core,
                "Connection {} {}-on-return",
                self.id,
                action.as_str()
            );
            if let Err(message) = self.shared.run_reset(&mut conn, action) {
                crate::echo::echo_error!(
                    self.shared.core,
                    error = %message,
                    "Exception during reset or similar"
                );
            }
        }
        self.closed(&mut conn);
    }
}
