//! A caller waiting for a connection: the grant it will be handed, and how to wake it.
//!
//! Grants are delivered under the pool's lock (pool lock, then waiter lock: the one order),
//! and a waiter that gives up removes itself under the pool's lock. So a grant is never sent
//! to a waiter that is gone, and a waiter that finds itself no longer queued knows a grant is
//! in its cell.
//!
//! A waiter can also be *nudged*: a connection was put back idle instead of handed over (see
//! `Core::check_in_locked`), and the waiter should try to take it. It keeps its place in the
//! queue until it does.
//!
//! An async waiter's deadline is kept by the pool's alarm on poolscope's timer thread (see
//! `deadlines.rs`), which marks it *expired* when it passes.

use std::task::Waker;
#[cfg(feature = "tokio")]
use std::task::{Context, Poll};
use std::time::Instant;

use super::Grant;
use crate::error::{CheckoutSite, ConnectFailedError};
use crate::sync::{lock, Condvar, Mutex};
#[cfg(feature = "blocking")]
use crate::sync::{wait, wait_timeout};

pub(crate) struct Waiter<C> {
    pub(crate) site: CheckoutSite,
    /// When it started waiting, if the pool lets returns overtake it (see `Limits::hand_off`).
    pub(super) since: Option<Instant>,
    /// When an async waiter gives up, kept by the pool's alarm; `None` for a thread (it
    /// sleeps on its condvar with its own deadline) or without `pool_timeout`.
    pub(super) deadline: Option<Instant>,
    /// It queued for a connect (the class's limits let it open one, but connects fail and a
    /// probe is out or backing off): a probe that fails shares its error with it. A waiter
    /// that queued at the pool's limit waits for a returned connection and keeps waiting.
    pub(super) for_connect: bool,
    /// A thread that may sleep on the condvar (the blocking pool); a task is woken by its
    /// waker alone, so its condvar is never notified.
    thread: bool,
    cell: Mutex<Cell<C>>,
    condvar: Condvar,
}

struct Cell<C> {
    grant: Option<Grant<C>>,
    /// The connect this waiter waited for failed (see `connects.rs`).
    failed: Option<ConnectFailedError>,
    nudged: bool,
    /// The pool's alarm found the deadline passed (stays set: the waiter gives up next).
    expired: bool,
    waker: Option<Waker>,
}

/// What woke a waiter.
pub(crate) enum Wake<C> {
    /// It was handed a grant.
    Granted(Grant<C>),
    /// A connection went back idle: try to take it (`Core::retry`).
    Nudged,
    /// The deadline passed (a thread's own, or the alarm's mark on a task).
    TimedOut,
    /// The connect it waited for failed.
    Failed(ConnectFailedError),
}

impl<C> Waiter<C> {
    /// A waiter for a thread (`thread`) or a task, noting when it started if `timed`, and
    /// the `deadline` the pool's alarm keeps for a task (see `deadlines.rs`).
    pub(crate) fn new(
        site: CheckoutSite,
        thread: bool,
        timed: bool,
        deadline: Option<Instant>,
        for_connect: bool,
    ) -> Self {
        Waiter {
            site,
            since: timed.then(Instant::now),
            deadline,
            for_connect,
            thread,
            cell: Mutex::new(Cell {
                grant: None,
                failed: None,
                nudged: false,
                expired: false,
                waker: None,
            }),
            condvar: Condvar::new(),
        }
    }

    /// Puts the waiter's grant in its cell (under the pool's lock); [`wake`](Self::wake) it as
    /// that lock is released (`Core::unlock_and_wake`: a thread just before, a task just
    /// after).
    pub(super) fn deliver(&self, grant: Grant<C>) {
        lock(&self.cell).grant = Some(grant);
    }

    /// Tells the waiter (taken off the queue, under the pool's lock) that the connect it
    /// waited for failed; [`wake`](Self::wake) it as the lock is released.
    pub(super) fn fail(&self, error: ConnectFailedError) {
        lock(&self.cell).failed = Some(error);
    }

    /// Whether a thread waits here (the blocking pool), which only a condvar notify wakes.
    pub(super) fn is_thread(&self) -> bool {
        self.thread
    }

    /// Wakes the waiter (thread or task) to look at its cell.
    pub(super) fn wake(&self) {
        let waker = lock(&self.cell).waker.take();
        if self.thread {
            self.condvar.notify_one();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Tells a queued waiter (which has no grant: grants go to waiters taken off the
    /// queue) to retry, under the pool's lock. Returns whether it was told now, and so
    /// must be [`wake`](Self::wake)d once the lock is released; `false` if it was told
    /// before and has not looked yet.
    pub(super) fn nudge(&self) -> bool {
        !std::mem::replace(&mut lock(&self.cell).nudged, true)
    }

    /// When the pool's alarm gives this waiter up (`None`: never).
    #[cfg(feature = "tokio")]
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Marks the waiter's deadline passed (under the pool's lock); `true` if newly, and so
    /// it must be [`wake`](Self::wake)d once the lock is released.
    pub(super) fn expire(&self) -> bool {
        !std::mem::replace(&mut lock(&self.cell).expired, true)
    }

    /// Whether the alarm already marked this waiter expired.
    pub(super) fn is_expired(&self) -> bool {
        lock(&self.cell).expired
    }

    pub(super) fn take_grant(&self) -> Option<Grant<C>> {
        lock(&self.cell).grant.take()
    }

    /// Blocks until a grant or a nudge arrives or `deadline` passes (`None`: no deadline).
    #[cfg(feature = "blocking")]
    pub(crate) fn wait_blocking(&self, deadline: Option<Instant>) -> Wake<C> {
        let mut cell = lock(&self.cell);
        loop {
            if let Some(grant) = cell.grant.take() {
                return Wake::Granted(grant);
            }
            if let Some(error) = cell.failed.take() {
                return Wake::Failed(error);
            }
            if std::mem::take(&mut cell.nudged) {
                return Wake::Nudged;
            }
            cell = match deadline {
                None => wait(&self.condvar, cell),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Wake::TimedOut;
                    }
                    wait_timeout(&self.condvar, cell, deadline - now)
                }
            };
        }
    }

    /// Polls for a grant or a nudge from an async task.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<Wake<C>> {
        let mut cell = lock(&self.cell);
        if let Some(error) = cell.failed.take() {
            return Poll::Ready(Wake::Failed(error));
        }
        match cell.grant.take() {
            Some(grant) => Poll::Ready(Wake::Granted(grant)),
            None if std::mem::take(&mut cell.nudged) => Poll::Ready(Wake::Nudged),
            None if cell.expired => Poll::Ready(Wake::TimedOut),
            None => {
                match &mut cell.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}
