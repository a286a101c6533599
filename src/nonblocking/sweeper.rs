//! The Tokio task that keeps an async pool's waiters' deadlines (the books are the core's,
//! `core/deadlines.rs`): one timer per pool instead of one per waiting task.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use crate::core::Core;

/// Starts the pool's sweeper on the current runtime; outside one, the waiters keep their
/// own deadlines (they are orphaned at once).
pub(super) fn start<C: Send + 'static>(core: &Arc<Core<C>>) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(Sweeper {
                core: Arc::downgrade(core),
                sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
                done: false,
            });
        }
        Err(_) => core.sweeper_gone(),
    }
}

struct Sweeper<C> {
    /// Weak: a pool dropped while its sweeper sleeps closes its connections at once.
    core: Weak<Core<C>>,
    sleep: Pin<Box<Sleep>>,
    /// It ended with no deadline left to keep.
    done: bool,
}

impl<C> Future for Sweeper<C> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Some(core) = self.core.upgrade() else {
                self.done = true;
                return Poll::Ready(());
            };
            let next = core.sweep(Instant::now().into_std(), cx.waker());
            drop(core);
            let Some(next) = next else {
                self.done = true;
                return Poll::Ready(());
            };
            self.sleep.as_mut().reset(Instant::from_std(next));
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<C> Drop for Sweeper<C> {
    /// Dropped before its work was done (its runtime shut down, or it panicked): the
    /// waiters it kept are told to keep their deadlines themselves.
    fn drop(&mut self) {
        if !self.done {
            if let Some(core) = self.core.upgrade() {
                core.sweeper_gone();
            }
        }
    }
}
