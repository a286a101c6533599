//! The caller's side of one checkout through another pool: pending count, wait time, the
//! checkout span, timeouts.

use std::sync::Arc;

use crate::emit::Emit;
use crate::event::Event;
use crate::stopwatch::Instant;

use tracing::Span;

use super::{Counts, Inner};
use crate::error::{CheckoutSite, TimeoutError};
use crate::sync::lock;

/// One checkout in progress (see [`PoolHooks::start_acquire`](super::PoolHooks::start_acquire)).
/// Counted in `db.client.connection.pending_requests` until it is handed a connection, times
/// out, fails, or is dropped (cancelled).
#[must_use = "an Acquire counts as waiting until it is handed a connection or dropped"]
pub struct Acquire {
    inner: Arc<Inner>,
    span: Span,
    started: Option<Instant>,
    /// AssertionPool: where this checkout was made.
    site: Option<CheckoutSite>,
    done: bool,
}

impl std::fmt::Debug for Acquire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire")
            .field("pool", &self.inner.config.name)
            .finish_non_exhaustive()
    }
}

impl Acquire {
    pub(super) fn new(inner: Arc<Inner>, site: Option<CheckoutSite>) -> Self {
        let span = crate::spans::checkout_span(&inner.config, None);
        let started = inner.instruments.timed().then(Instant::now);
        Acquire {
            inner,
            span,
            started,
            site,
            done: false,
        }
    }

    /// Counts a handed-out connection (under the pool's lock); the checkout's span and wait
    /// are recorded by [`finish_handed`](Self::finish_handed) once the lock is released.
    pub(super) fn handed(acquire: Option<Acquire>, st: &mut Counts) -> Option<Acquire> {
        let mut acquire = acquire?;
        acquire.done = true;
        st.pending = st.pending.saturating_sub(1);
        if acquire.inner.limits.names_the_holder() {
            st.holder = acquire.site.take();
        }
        Some(acquire)
    }

    /// Records a handed-out checkout's `outcome` and wait, outside the pool's lock (the span
    /// and the recorder are user code).
    pub(super) fn finish_handed(acquire: Option<Acquire>, outcome: &'static str) {
        let Some(acquire) = acquire else { return };
        acquire.span.record("poolscope.checkout.outcome", outcome);
        if let Some(started) = acquire.started {
            acquire.inner.emit(Event::Waited(started.elapsed()));
        }
    }

    /// Ends the wait without a connection; returns the connections open at that moment.
    fn finish(&mut self) -> usize {
        self.done = true;
        let mut st = lock(&self.inner.state);
        st.pending = st.pending.saturating_sub(1);
        let taken = self.inner.take_counts(&mut st);
        let open = st.open;
        drop(st);
        self.inner.publish(taken);
        if let Some(started) = self.started {
            self.inner.emit(Event::Waited(started.elapsed()));
        }
        open
    }

    /// The other pool gave up waiting: counts the timeout and returns SQLAlchemy's error
    /// (`QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00`).
    pub fn timed_out(mut self) -> TimeoutError {
        let open = self.finish();
        let inner = &self.inner;
        self.span.record("poolscope.checkout.outcome", "timeout");
        crate::spans::fail(&self.span, "timeout");
        let error = inner.limits.timeout_error(open, inner.config.timeout);
        inner.emit(Event::TimedOut(&error));
        error
    }

    /// The checkout failed otherwise (`error_type` as OpenTelemetry's `error.type`, e.g.
    /// `connect`).
    pub fn failed(mut self, error_type: &'static str) {
        self.finish();
        crate::spans::fail(&self.span, error_type);
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if !self.done {
            self.finish();
            crate::spans::fail(&self.span, "cancelled");
        }
    }
}
