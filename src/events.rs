//! Listeners for SQLAlchemy's pool events.

use std::sync::Arc;

use crate::config::ResetAction;
use crate::error::ListenerError;
use crate::record::{ConnectionRecord, InvalidateReason};

/// What a `reset` event is about (SQLAlchemy's `PoolResetState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResetState {
    /// The reset the policy will perform right after this event (`None` for
    /// `ResetOnReturn::None`).
    pub action: Option<ResetAction>,
    /// The connection is about to be closed, not returned (a detached connection closing).
    pub terminate_only: bool,
    /// The reset function said no transaction is open (see
    /// [`Reset::transaction_open`](crate::Reset::transaction_open)): a rollback is skipped,
    /// and echo_pool says `Connection N reset, transaction already reset`.
    pub transaction_was_reset: bool,
}

/// A connection and its record: what the `first_connect`, `connect`, `checkout`, `close`
/// and `detach` events carry. More fields may come; match with `..`.
#[non_exhaustive]
pub struct ConnectionEvent<'a, C> {
    /// The connection.
    pub connection: &'a mut C,
    /// Its record: ids, age, `info` and `record_info`.
    pub record: &'a mut ConnectionRecord,
}

/// A connection came back: the `checkin` event.
#[non_exhaustive]
pub struct CheckinEvent<'a, C> {
    /// The connection, after its reset; `None` when it was invalidated.
    pub connection: Option<&'a mut C>,
    /// Its record.
    pub record: &'a mut ConnectionRecord,
}

/// A connection is about to be reset, before the rollback or commit: the `reset` event.
#[non_exhaustive]
pub struct ResetEvent<'a, C> {
    /// The connection.
    pub connection: &'a mut C,
    /// Its record.
    pub record: &'a mut ConnectionRecord,
    /// What the reset is about.
    pub state: ResetState,
}

/// A connection is invalidated (closed now) or soft-invalidated (replaced at its next
/// checkout): the `invalidate` and `soft_invalidate` events.
#[non_exhaustive]
pub struct InvalidateEvent<'a, C> {
    /// The connection.
    pub connection: &'a mut C,
    /// Its record.
    pub record: &'a mut ConnectionRecord,
    /// Why.
    pub reason: &'a InvalidateReason,
}

/// A detached connection is about to be closed: the `close_detached` event.
#[non_exhaustive]
pub struct CloseDetachedEvent<'a, C> {
    /// The connection.
    pub connection: &'a mut C,
}

impl<'a, C> ConnectionEvent<'a, C> {
    pub(crate) fn new(connection: &'a mut C, record: &'a mut ConnectionRecord) -> Self {
        ConnectionEvent { connection, record }
    }
}

impl<'a, C> CheckinEvent<'a, C> {
    pub(crate) fn new(connection: Option<&'a mut C>, record: &'a mut ConnectionRecord) -> Self {
        CheckinEvent { connection, record }
    }
}

impl<'a, C> ResetEvent<'a, C> {
    pub(crate) fn new(
        connection: &'a mut C,
        record: &'a mut ConnectionRecord,
        state: ResetState,
    ) -> Self {
        ResetEvent {
            connection,
            record,
            state,
        }
    }
}

impl<'a, C> InvalidateEvent<'a, C> {
    pub(crate) fn new(
        connection: &'a mut C,
        record: &'a mut ConnectionRecord,
        reason: &'a InvalidateReason,
    ) -> Self {
        InvalidateEvent {
            connection,
            record,
            reason,
        }
    }
}

/// Each event's `Debug`: its record and data, not the connection (which need not be `Debug`).
mod debug {
    use super::*;
    use std::fmt;

    impl<C> fmt::Debug for ConnectionEvent<'_, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("ConnectionEvent")
                .field("record", &self.record)
                .finish_non_exhaustive()
        }
    }

    impl<C> fmt::Debug for CheckinEvent<'_, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("CheckinEvent")
                .field("invalidated", &self.connection.is_none())
                .field("record", &self.record)
                .finish_non_exhaustive()
        }
    }

    impl<C> fmt::Debug for ResetEvent<'_, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("ResetEvent")
                .field("record", &self.record)
                .field("state", &self.state)
                .finish_non_exhaustive()
        }
    }

    impl<C> fmt::Debug for InvalidateEvent<'_, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("InvalidateEvent")
                .field("record", &self.record)
                .field("reason", &self.reason)
                .finish_non_exhaustive()
        }
    }

    impl<C> fmt::Debug for CloseDetachedEvent<'_, C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("CloseDetachedEvent").finish_non_exhaustive()
        }
    }
}

/// Receives the pool's events. Every method has a no-op default; implement the ones you need.
/// Each takes one event struct (`#[non_exhaustive]`: the pool may add data to an event
/// without breaking your listener), as r2d2's `HandleEvent` does.
///
/// Listeners run on the thread or task doing the checkout or return, never while the pool's
/// lock is held. Their order is registration order; `Builder::listener_first` puts one in front.
///
/// ```
/// use poolscope::{ConnectionEvent, ListenerError, PoolListener};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// #[derive(Default)]
/// struct CountConnects(AtomicUsize);
///
/// impl<C> PoolListener<C> for CountConnects {
///     fn connect(&self, _event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
/// ```
#[allow(unused_variables)]
pub trait PoolListener<C>: Send + Sync {
    /// The first connection the pool ever opens, before its `connect` event. Other new
    /// connections wait until it has run; if it fails, the next new connection runs it again.
    fn first_connect(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        Ok(())
    }
    /// A new connection was opened. An error closes it and fails the checkout; the slot is
    /// given back.
    fn connect(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        Ok(())
    }
    /// A connection is being handed out. [`ListenerError::disconnect`] makes the pool replace
    /// it with a fresh one (twice at most); any other error fails the checkout.
    fn checkout(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        Ok(())
    }
    /// A connection came back (after its reset); its `connection` is `None` when it was
    /// invalidated.
    fn checkin(&self, event: CheckinEvent<'_, C>) {}
    /// A connection is about to be reset, before the rollback or commit.
    fn reset(&self, event: ResetEvent<'_, C>) {}
    /// A connection is invalidated and is about to be closed.
    fn invalidate(&self, event: InvalidateEvent<'_, C>) {}
    /// A connection is soft-invalidated: it is replaced at its next checkout.
    fn soft_invalidate(&self, event: InvalidateEvent<'_, C>) {}
    /// A pooled connection is about to be closed.
    fn close(&self, event: ConnectionEvent<'_, C>) {}
    /// A connection is detached from the pool.
    fn detach(&self, event: ConnectionEvent<'_, C>) {}
    /// A detached connection is about to be closed.
    fn close_detached(&self, event: CloseDetachedEvent<'_, C>) {}
}

/// A shared listener is a listener: register the same `Arc` on several pools, or keep one to
/// read what it gathered.
impl<C, L: PoolListener<C> + ?Sized> PoolListener<C> for Arc<L> {
    fn first_connect(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        (**self).first_connect(event)
    }
    fn connect(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        (**self).connect(event)
    }
    fn checkout(&self, event: ConnectionEvent<'_, C>) -> Result<(), ListenerError> {
        (**self).checkout(event)
    }
    fn checkin(&self, event: CheckinEvent<'_, C>) {
        (**self).checkin(event)
    }
    fn reset(&self, event: ResetEvent<'_, C>) {
        (**self).reset(event)
    }
    fn invalidate(&self, event: InvalidateEvent<'_, C>) {
        (**self).invalidate(event)
    }
    fn soft_invalidate(&self, event: InvalidateEvent<'_, C>) {
        (**self).soft_invalidate(event)
    }
    fn close(&self, event: ConnectionEvent<'_, C>) {
        (**self).close(event)
    }
    fn detach(&self, event: ConnectionEvent<'_, C>) {
        (**self).detach(event)
    }
    fn close_detached(&self, event: CloseDetachedEvent<'_, C>) {
        (**self).close_detached(event)
    }
}

/// The pool's listeners, in firing order.
pub(crate) struct Listeners<C> {
    list: Vec<Arc<dyn PoolListener<C>>>,
}

impl<C> Clone for Listeners<C> {
    fn clone(&self) -> Self {
        Listeners {
            list: self.list.clone(),
        }
    }
}

impl<C> Default for Listeners<C> {
    fn default() -> Self {
        Listeners { list: Vec::new() }
    }
}

impl<C> Listeners<C> {
    pub(crate) fn push(&mut self, listener: Arc<dyn PoolListener<C>>) {
        self.list.push(listener);
    }

    pub(crate) fn push_front(&mut self, listener: Arc<dyn PoolListener<C>>) {
        self.list.insert(0, listener);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn PoolListener<C>> {
        self.list.iter().map(|l| &**l)
    }

    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Runs a fallible event on every listener, stopping at the first error.
    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) fn try_each(
        &self,
        event: impl FnMut(&dyn PoolListener<C>) -> Result<(), ListenerError>,
    ) -> Result<(), ListenerError> {
        self.iter().try_for_each(event)
    }
}
