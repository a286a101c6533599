//! The pool's books, under its one lock, and the locked section that keeps them: when a
//! [`Locked`] ends, the waiters are served from what the pool has (`Core::settle_locked`),
//! the threads handed something are woken, the lock is released, then the tasks handed
//! something are woken and the counts are published — so no user code (a task's waker, a
//! metrics recorder) ever runs under the pool's lock.

use std::collections::{HashMap, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

use super::connect_backoff::Connects;
use super::deadlines::Sweep;
use super::panics::catching;
use super::{Core, Slot, Waiter};
use crate::error::CheckoutSite;
use crate::owner::Owner;
use crate::sync::{lock, MutexGuard};

/// SingletonThreadPool: a thread's connection, kept or out.
pub(super) enum ThreadConn<C> {
    Idle(Slot<C>),
    Out { slot_id: u64, site: CheckoutSite },
}

pub(super) struct State<C> {
    pub(super) idle: VecDeque<Slot<C>>,
    /// Slots in existence: idle, checked out, being opened, or being closed. The class's
    /// limit applies to this number, so a connection still closing keeps its place.
    pub(super) open: usize,
    /// Of `open`, connections being closed: live on the server still, held by nobody.
    pub(super) closing: usize,
    pub(super) waiters: VecDeque<Arc<Waiter<C>>>,
    /// Waiters handed a grant or nudged in this locked section, to wake as it ends.
    pub(super) to_wake: Vec<Arc<Waiter<C>>>,
    /// The alarm that keeps the async waiters' deadlines and the next probe (`deadlines.rs`).
    pub(super) sweep: Sweep,
    /// Whether connects work; while they fail, one probe at a time (`connects.rs`).
    pub(super) connects: Connects,
    /// Connections opened before this instant are replaced at their next checkout.
    pub(super) invalidated_at: Option<Instant>,
    /// Static and Assertion pools: where their one connection was checked out.
    pub(super) holder: Option<CheckoutSite>,
    /// SingletonThreadPool: each thread's connection.
    pub(super) threads: HashMap<Owner, ThreadConn<C>>,
    pub(super) next_slot_id: u64,
    /// Bumped whenever counts are taken for publishing, so that counts published after the
    /// lock is released never replace newer ones.
    pub(super) counts_taken: u64,
}

impl<C> State<C> {
    pub(super) fn new() -> Self {
        State {
            idle: VecDeque::new(),
            open: 0,
            closing: 0,
            waiters: VecDeque::new(),
            to_wake: Vec::new(),
            sweep: Sweep::default(),
            connects: Connects::default(),
            invalidated_at: None,
            holder: None,
            threads: HashMap::new(),
            next_slot_id: 1,
            counts_taken: 0,
        }
    }

    pub(super) fn new_slot(&mut self) -> Slot<C> {
        let id = self.next_slot_id;
        self.next_slot_id += 1;
        Slot {
            record: Box::new(crate::record::ConnectionRecord::new(id)),
            conn: None,
        }
    }
}

/// The pool's lock, held. Ending it (dropping it) serves the waiters, releases the lock,
/// wakes whoever was handed something and publishes the counts.
pub(super) struct Locked<'a, C> {
    core: &'a Core<C>,
    st: Option<MutexGuard<'a, State<C>>>,
}

impl<C> Core<C> {
    /// Takes the pool's lock for a section that may change the books.
    #[inline]
    pub(super) fn locked(&self) -> Locked<'_, C> {
        Locked {
            core: self,
            st: Some(lock(&self.state)),
        }
    }
}

impl<C> Deref for Locked<'_, C> {
    type Target = State<C>;
    #[inline]
    fn deref(&self) -> &State<C> {
        self.st.as_deref().expect("held until dropped")
    }
}

impl<C> DerefMut for Locked<'_, C> {
    #[inline]
    fn deref_mut(&mut self) -> &mut State<C> {
        self.st.as_deref_mut().expect("held until dropped")
    }
}

impl<C> Drop for Locked<'_, C> {
    // Always inlined: every checkout and return ends a section here, and the common case is
    // three loads and the unlock (out of line it cost 26 instructions a section).
    #[inline(always)]
    fn drop(&mut self) {
        let Some(st) = self.st.take() else {
            return;
        };
        // The common case, nobody waiting and nothing to publish, costs three loads.
        if st.waiters.is_empty() && st.to_wake.is_empty() && !self.core.instruments.wants_counts() {
            return;
        }
        self.core.end_locked(st);
    }
}

impl<C> Core<C> {
    /// The end of a locked section with waiters to serve or wake, or counts to publish.
    #[inline(never)]
    fn end_locked(&self, mut st: MutexGuard<'_, State<C>>) {
        self.settle_locked(&mut st);
        let counts = self.instruments.wants_counts().then(|| {
            st.counts_taken += 1;
            (st.counts_taken, self.gauges_locked(&st))
        });
        if st.to_wake.is_empty() {
            drop(st);
        } else {
            let to_wake = std::mem::take(&mut st.to_wake);
            // A thread is notified before the lock is released, as r2d2 notifies its
            // condvar (no code of anybody else's runs); a task's waker may run the task,
            // so tasks are woken after.
            for waiter in to_wake.iter().filter(|w| w.is_thread()) {
                waiter.wake();
            }
            drop(st);
            for waiter in to_wake.iter().filter(|w| !w.is_thread()) {
                waiter.wake();
            }
        }
        if let Some((taken, gauges)) = counts {
            if let Err(panic) = catching(|| self.instruments.counts(taken, gauges)) {
                self.carry_on(Some(panic));
            }
        }
    }
}
