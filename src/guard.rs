//! One guard for both fronts: a checked-out connection ([`Pooled`]) and a connection taken
//! out of its pool ([`Detached`]), with access to the connection and its record,
//! invalidation and detaching written once. How a connection goes back (at once, or with a
//! reset that may go on on a Tokio task) is the front's ([`Front`]).

// Only a front uses this module: unused in the hooks-only build (neither front).
#![cfg_attr(
    not(any(feature = "blocking", feature = "tokio")),
    allow(dead_code, unused_imports)
)]

use std::panic::Location;
use std::sync::Arc;

use crate::core::Checked;
use crate::emit::Emit;
use crate::event::{Conn, Event};
use crate::events::{CloseDetachedEvent, ResetEvent};
use crate::pool::{ConnectionPool, Front, Shared};
use crate::record::Extensions;

/// A checked-out connection of front `F`; reached as [`PooledConnection`](crate::PooledConnection)
/// and [`AsyncPooledConnection`](crate::AsyncPooledConnection). Derefs to the connection;
/// dropping it returns the connection to the pool (reset per `reset_on_return`, then kept
/// or closed per the pool class), also when the holder panics.
pub struct Pooled<F: Front> {
    pub(crate) shared: Arc<Shared<F>>,
    pub(crate) checked: Option<Checked<F::Connection>>,
    location: &'static Location<'static>,
}

/// A connection of front `F` detached from its pool; reached as
/// [`DetachedConnection`](crate::DetachedConnection) and
/// [`AsyncDetachedConnection`](crate::AsyncDetachedConnection). Derefs to the connection;
/// dropping it fires `close_detached` and closes it (the blocking front resets it first, per
/// `reset_on_return`).
pub struct Detached<F: Front> {
    shared: Arc<Shared<F>>,
    conn: Option<F::Connection>,
    info: Extensions,
    /// The connection's id while it was pooled, for the echo_pool lines.
    id: u64,
}

const HELD: &str = "a pooled connection holds its connection until it is consumed";

impl<F: Front> Pooled<F> {
    pub(crate) fn new(
        shared: std::sync::Arc<Shared<F>>,
        checked: crate::core::Checked<F::Connection>,
        location: &'static std::panic::Location<'static>,
    ) -> Self {
        shared.core.track_checkout(
            checked.record.slot_id,
            checked.record.connection_id.unwrap_or(0),
            checked.record.checked_out_at,
            location,
        );
        Pooled {
            shared,
            checked: Some(checked),
            location,
        }
    }

    fn checked(&self) -> &crate::core::Checked<F::Connection> {
        self.checked.as_ref().expect(HELD)
    }

    fn checked_mut(&mut self) -> &mut crate::core::Checked<F::Connection> {
        self.checked.as_mut().expect(HELD)
    }

    /// The slot's record: ids, age, `info` and `record_info`.
    pub fn record(&self) -> &crate::ConnectionRecord {
        &self.checked().record
    }

    /// The slot's record, mutably (to write `info` or `record_info`).
    pub fn record_mut(&mut self) -> &mut crate::ConnectionRecord {
        &mut self.checked_mut().record
    }

    /// Where this connection was checked out.
    pub fn checkout_location(&self) -> &'static std::panic::Location<'static> {
        self.location
    }

    /// Closes the connection instead of returning it; its slot goes back to the pool
    /// empty at once, so a waiting caller can open a new one. No reset runs.
    pub fn invalidate(self) {
        self.invalidate_because(crate::InvalidateReason::Requested);
    }

    /// [`invalidate`](Self::invalidate) because of `error` (SQLAlchemy's
    /// `invalidate(e)`): the `invalidate` listeners get it, and the echo_pool line
    /// reads `Invalidate connection N (reason: <ErrorType>:<message>)`.
    pub fn invalidate_with<E: std::error::Error + ?Sized>(self, error: &E) {
        self.invalidate_because(crate::InvalidateReason::from_error(error));
    }

    fn invalidate_because(mut self, reason: crate::InvalidateReason) {
        if let Some(checked) = self.checked.take() {
            self.shared.core.invalidate(checked, reason, None);
        }
    }

    /// Marks the connection to be replaced at its next checkout; it stays usable until
    /// then and returns to the pool normally.
    pub fn soft_invalidate(&mut self) {
        self.soft_invalidate_because(crate::InvalidateReason::Requested);
    }

    /// [`soft_invalidate`](Self::soft_invalidate) because of `error` (SQLAlchemy's
    /// `invalidate(e, soft=True)`).
    pub fn soft_invalidate_with<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.soft_invalidate_because(crate::InvalidateReason::from_error(error));
    }

    fn soft_invalidate_because(&mut self, reason: crate::InvalidateReason) {
        let core = std::sync::Arc::clone(&self.shared.core);
        let checked = self.checked_mut();
        core.soft_invalidate(&mut checked.conn, &mut checked.record, reason);
    }

    /// Takes the connection out of the pool for good: its slot goes back to the pool
    /// empty, and the returned handle owns the connection (with this connection's
    /// `info`).
    pub fn detach(mut self) -> Detached<F> {
        let crate::core::Checked { mut conn, record } = self.checked.take().expect(HELD);
        let id = record.connection_id.unwrap_or(0);
        let info = self.shared.core.detach(&mut conn, record);
        Detached {
            shared: std::sync::Arc::clone(&self.shared),
            conn: Some(conn),
            info,
            id,
        }
    }
}

impl<F: Front> std::ops::Deref for Pooled<F> {
    type Target = F::Connection;

    fn deref(&self) -> &F::Connection {
        &self.checked().conn
    }
}

impl<F: Front> std::ops::DerefMut for Pooled<F> {
    fn deref_mut(&mut self) -> &mut F::Connection {
        &mut self.checked_mut().conn
    }
}

impl<F: Front> std::fmt::Debug for Pooled<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(F::GUARD_NAME)
            .field("pool", &self.shared.core.config.name)
            .field(
                "connection_id",
                &self.checked.as_ref().and_then(|c| c.record.connection_id),
            )
            .field("checked_out_at", &format_args!("{}", self.location))
            .finish()
    }
}

impl<F: Front> Detached<F> {
    /// The `info` the connection carried when it was detached.
    pub fn info(&self) -> &crate::Extensions {
        &self.info
    }

    /// Takes the raw connection; no reset and no `close_detached` event.
    pub fn into_inner(mut self) -> F::Connection {
        self.conn.take().expect(HELD)
    }

    /// Fires the `reset` (terminate only) event; the caller then resets if it can,
    /// and calls `closed`.
    fn closing(&self, conn: &mut F::Connection) -> Option<crate::ResetAction> {
        let core = &self.shared.core;
        let action = core.config.reset_on_return.action();
        let mut record = crate::ConnectionRecord::new(0);
        let state = crate::ResetState {
            action,
            terminate_only: true,
            transaction_was_reset: false,
        };
        for l in core.listeners.iter() {
            l.reset(ResetEvent::new(conn, &mut record, state));
        }
        action
    }

    /// Fires `close_detached`; the connection is dropped next.
    fn closed(&self, conn: &mut F::Connection) {
        for l in self.shared.core.listeners.iter() {
            l.close_detached(CloseDetachedEvent { connection: conn });
        }
        self.shared
            .core
            .emit(Event::DetachedClosed(Conn::Id(self.id)));
    }
}

impl<F: Front> std::fmt::Debug for Detached<F> {
    /// The pool it left and the id it had there; never the connection itself (it
    /// may not be `Debug`, and may hold credentials).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(F::DETACHED_NAME)
            .field("pool", &self.shared.core.config.name)
            .field("connection_id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<F: Front> std::ops::Deref for Detached<F> {
    type Target = F::Connection;

    fn deref(&self) -> &F::Connection {
        self.conn.as_ref().expect(HELD)
    }
}

impl<F: Front> std::ops::DerefMut for Detached<F> {
    fn deref_mut(&mut self) -> &mut F::Connection {
        self.conn.as_mut().expect(HELD)
    }
}

impl<F: Front> Drop for Pooled<F> {
    fn drop(&mut self) {
        if let Some(checked) = self.checked.take() {
            F::give_back(&self.shared, checked);
        }
    }
}

impl<F: Front> Drop for Detached<F> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let action = self.closing(&mut conn);
        F::reset_detached(&self.shared, &mut conn, action, self.id);
        self.closed(&mut conn);
    }
}

impl<F: Front> ConnectionPool<F> {
    /// The guard for a connection handed out, checked out at `location`.
    pub(crate) fn hand_out(
        &self,
        checked: Checked<F::Connection>,
        location: &'static Location<'static>,
    ) -> Pooled<F> {
        Pooled::new(Arc::clone(&self.shared), checked, location)
    }
}
