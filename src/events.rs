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

/// Receives the pool's events. Every method has a no-op default; implement the ones you need.
///
/// Listeners run on the thread or task doing the checkout or return, never while the pool's
/// lock is held. Their order is registration order; `Builder::listener_first` puts one in front.
///
/// ```
/// use poolscope::{ConnectionRecord, ListenerError, PoolListener};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// #[derive(Default)]
/// struct CountConnects(AtomicUsize);
///
/// impl<C> PoolListener<C> for CountConnects {
///     fn connect(&self, _conn: &mut C, _record: &mut ConnectionRecord) -> Result<(), ListenerError> {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
/// ```
#[allow(unused_variables)]
pub trait PoolListener<C>: Send + Sync {
    /// The first connection the pool ever opens, before its `connect` event. Other new
    /// connections wait until it has run; if it fails, the next new connection runs it again.
    fn first_connect(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
    ) -> Result<(), ListenerError> {
        Ok(())
    }
    /// A new connection was opened. An error closes it and fails the checkout; the slot is
    /// given back.
    fn connect(&self, conn: &mut C, record: &mut ConnectionRecord) -> Result<(), ListenerError> {
        Ok(())
    }
    /// A connection is being handed out. [`ListenerError::disconnect`] makes the pool replace
    /// it with a fresh one (twice at most); any other error fails the checkout.
    fn checkout(&self, conn: &mut C, record: &mut ConnectionRecord) -> Result<(), ListenerError> {
        Ok(())
    }
    /// A connection came back (after its reset); `None` when it was invalidated.
    fn checkin(&self, conn: Option<&mut C>, record: &mut ConnectionRecord) {}
    /// A connection is about to be reset, before the rollback or commit.
    fn reset(&self, conn: &mut C, record: &mut ConnectionRecord, state: ResetState) {}
    /// A connection is invalidated and is about to be closed.
    fn invalidate(&self, conn: &mut C, record: &mut ConnectionRecord, reason: &InvalidateReason) {}
    /// A connection is soft-invalidated: it is replaced at its next checkout.
    fn soft_invalidate(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
        reason: &InvalidateReason,
    ) {
    }
    /// A pooled connection is about to be closed.
    fn close(&self, conn: &mut C, record: &mut ConnectionRecord) {}
    /// A connection is detached from the pool.
    fn detach(&self, conn: &mut C, record: &mut ConnectionRecord) {}
    /// A detached connection is about to be closed.
    fn close_detached(&self, conn: &mut C) {}
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

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Runs a fallible event on every listener, stopping at the first error.
    pub(crate) fn try_each(
        &self,
        event: impl FnMut(&dyn PoolListener<C>) -> Result<(), ListenerError>,
    ) -> Result<(), ListenerError> {
        self.iter().try_for_each(event)
    }
}
