//! A caller waiting for a connection: the grant it will be handed, and how to wake it.
//!
//! Grants are delivered under the pool's lock (pool lock, then waiter lock: the one order),
//! and a waiter that gives up removes itself under the pool's lock. So a grant is never sent
//! to a waiter that is gone, and a waiter that finds itself no longer queued knows a grant is
//! in its cell.

use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::Grant;
use crate::error::CheckoutSite;
use crate::sync::{lock, Condvar, Mutex};

pub(crate) struct Waiter<C> {
    pub(crate) site: CheckoutSite,
    cell: Mutex<Cell<C>>,
    condvar: Condvar,
}

struct Cell<C> {
    grant: Option<Grant<C>>,
    waker: Option<Waker>,
}

impl<C> Waiter<C> {
    pub(crate) fn new(site: CheckoutSite) -> Self {
        Waiter {
            site,
            cell: Mutex::new(Cell {
                grant: None,
                waker: None,
            }),
            condvar: Condvar::new(),
        }
    }

    /// Hands the waiter its grant and wakes it (thread or task).
    pub(super) fn deliver(&self, grant: Grant<C>) {
        let waker = {
            let mut cell = lock(&self.cell);
            cell.grant = Some(grant);
            cell.waker.take()
        };
        self.condvar.notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(super) fn take_grant(&self) -> Option<Grant<C>> {
        lock(&self.cell).grant.take()
    }

    /// Blocks until a grant arrives or `deadline` passes (`None`: no deadline).
    pub(crate) fn wait_blocking(&self, deadline: Option<Instant>) -> Option<Grant<C>> {
        let mut cell = lock(&self.cell);
        loop {
            if let Some(grant) = cell.grant.take() {
                return Some(grant);
            }
            cell = match deadline {
                None => self.condvar.wait(cell).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    self.condvar
                        .wait_timeout(cell, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Polls for the grant from an async task.
    pub(crate) fn poll_grant(&self, cx: &mut Context<'_>) -> Poll<Grant<C>> {
        let mut cell = lock(&self.cell);
        match cell.grant.take() {
            Some(grant) => Poll::Ready(grant),
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
