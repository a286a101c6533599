//! The first half of a checkout: reserving a slot (an idle one, or new capacity) under the
//! lock, or queueing as a waiter, and the waiting itself. The I/O that follows is the
//! [`Reservation`]'s.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::connect_backoff::MayOpen;
use super::state::{State, ThreadConn};
use super::waiter::Wake;
use super::{Core, Grant, Reservation, Step, Waiter};
use crate::config::FrontEnd;
use crate::emit::Emit;
use crate::error::{
    AlreadyCheckedOut, CheckoutSite, ConnectFailedError, ConnectTimeoutError, PoolFailure, Stalled,
    TimeoutError,
};
use crate::event::Event;
use crate::policy::Checkout;
use crate::reasons::CloseReason;
use crate::sync::lock;

/// A checkout begun, its first step taken where it could be ([`Begin::first_step`]).
pub(crate) enum Started<'a, C> {
    /// An idle connection, ready to hand out now: nothing else runs in this checkout.
    AtOnce(Reservation<'a, C>),
    /// What `begin` said, and the reservation's first step if it took one.
    Later(Begin<'a, C>, Option<Step>),
}

impl<'a, C> Begin<'a, C> {
    /// Where no listener would run inside the checkout, takes a reservation's first step
    /// now: an idle connection ready at once needs no span entered around it, and its span
    /// can be created knowing its outcome (see `spans.rs`).
    pub(crate) fn first_step(self) -> Started<'a, C> {
        match self {
            Begin::Reserved(mut reservation) if reservation.core.listeners.is_empty() => {
                match reservation.next_step() {
                    Step::Ready => Started::AtOnce(reservation),
                    step => Started::Later(Begin::Reserved(reservation), Some(step)),
                }
            }
            begun => Started::Later(begun, None),
        }
    }
}

/// How a wait ended.
pub(crate) enum Waited<C> {
    /// A slot was handed over.
    Granted(Grant<C>),
    /// The deadline passed (the waiter is still queued: `cancel_wait` next).
    TimedOut,
    /// The connect the waiter waited for failed (see `connects.rs`).
    Failed(ConnectFailedError),
}

/// What a checkout does next, as decided under the lock.
pub(crate) enum Begin<'a, C> {
    Reserved(Reservation<'a, C>),
    Wait(Arc<Waiter<C>>),
    Refused(PoolFailure),
}

impl<C> Core<C> {
    /// Starts a checkout that may wait up to `timeout` (`None`: forever): reserves an idle
    /// slot or new capacity, queues a waiter, or refuses (at once when `timeout` is zero).
    /// A waiting task's deadline (`deadline`, read only if it waits) is kept by the pool's
    /// alarm (`deadlines.rs`); a thread keeps its own and passes `|| None`.
    pub(crate) fn begin(
        &self,
        site: &CheckoutSite,
        timeout: Option<Duration>,
        deadline: impl FnOnce() -> Option<std::time::Instant>,
    ) -> Begin<'_, C> {
        if self.limits.per_thread() {
            return self.begin_singleton(site);
        }
        let mut st = self.locked();
        let holder = st.holder.as_ref().map(|h| h.owner == site.owner);
        let grant = match self.open_or_wait(&mut st, holder) {
            Checkout::TakeIdle => match self.take_idle(&mut st) {
                Some(grant) => grant,
                None => unreachable!("open_or_wait takes an idle slot only when it may"),
            },
            Checkout::Open => self.new_capacity_or_probe(&mut st),
            Checkout::Wait => {
                if timeout.is_some_and(|t| t.is_zero()) {
                    let error = self.timeout_error_locked(&st, timeout);
                    drop(st);
                    return Begin::Refused(PoolFailure::Timeout(self.counted(error)));
                }
                let deadline = deadline();
                if let Some(at) = deadline {
                    self.watch_deadline(&mut st.sweep, at);
                }
                // Waits for a connect: the class would have let it open one.
                let for_connect = !st.connects.working()
                    && self.limits.checkout(st.idle.len(), st.open, holder) != Checkout::Wait;
                let waiter = Arc::new(Waiter::new(
                    site.clone(),
                    self.config.front == FrontEnd::Blocking,
                    self.limits.overtakes(),
                    deadline,
                    for_connect,
                ));
                st.waiters.push_back(Arc::clone(&waiter));
                if !st.connects.working() {
                    // It may wait for the next probe: the pool's alarm serves it then.
                    self.watch_next_probe(&mut st);
                }
                return Begin::Wait(waiter);
            }
            Checkout::RefuseAlreadyCheckedOut => {
                let site = st.holder.clone().unwrap_or_else(|| site.clone());
                return Begin::Refused(PoolFailure::AlreadyCheckedOut(AlreadyCheckedOut {
                    class: self.config.class,
                    site,
                }));
            }
        };
        if self.limits.single_holder() {
            st.holder = Some(site.clone());
        }
        drop(st);
        Begin::Reserved(Reservation::new(self, grant, site.owner))
    }

    /// The class's decision, with connects that fail letting one probe through at a time
    /// (`connects.rs`): a caller that may open a connection waits instead while a probe is
    /// out or the back-off is not over.
    /// The same holds for an idle slot that holds no connection (taking it means
    /// connecting), when no idle slot holds one.
    fn open_or_wait(&self, st: &mut State<C>, holder: Option<bool>) -> Checkout {
        let decided = self.limits.checkout(st.idle.len(), st.open, holder);
        if st.connects.working() {
            return decided;
        }
        let connects = match decided {
            Checkout::Open => true,
            Checkout::TakeIdle => !st.idle.iter().any(|slot| slot.conn.is_some()),
            _ => false,
        };
        if connects && st.connects.may_open(std::time::Instant::now) == MayOpen::No {
            Checkout::Wait
        } else {
            decided
        }
    }

    /// New capacity for a caller [`open_or_wait`](Self::open_or_wait) let open: the probe,
    /// while connects fail.
    fn new_capacity_or_probe(&self, st: &mut State<C>) -> Grant<C> {
        let mut grant = self.new_capacity_locked(st);
        if !st.connects.working() {
            st.connects.start_probe();
            grant.probe = true;
        }
        grant
    }

    fn begin_singleton(&self, site: &CheckoutSite) -> Begin<'_, C> {
        let mut st = self.locked();
        let out = ThreadConn::Out {
            slot_id: 0,
            site: site.clone(),
        };
        let mut evicted = Vec::new();
        let grant = match st.threads.insert(site.owner, out) {
            Some(ThreadConn::Idle(slot)) => Grant::pooled(slot),
            Some(ThreadConn::Out {
                slot_id,
                site: held,
            }) => {
                st.threads.insert(
                    site.owner,
                    ThreadConn::Out {
                        slot_id,
                        site: held.clone(),
                    },
                );
                return Begin::Refused(PoolFailure::AlreadyCheckedOut(AlreadyCheckedOut {
                    class: self.config.class,
                    site: held,
                }));
            }
            None => {
                // Keep at most pool_size threads' connections: drop idle ones first; a thread
                // still using its connection loses its entry and closes it on return.
                let evictions = self.limits.singleton_evictions(st.threads.len() - 1);
                let mut victims: Vec<_> = st
                    .threads
                    .iter()
                    .filter(|(thread, _)| **thread != site.owner)
                    .map(|(thread, conn)| (*thread, matches!(conn, ThreadConn::Out { .. })))
                    .collect();
                victims.sort_by_key(|(_, out)| *out);
                for (thread, _) in victims.into_iter().take(evictions) {
                    if let Some(ThreadConn::Idle(slot)) = st.threads.remove(&thread) {
                        st.open -= 1;
                        evicted.push(slot);
                    }
                }
                self.new_capacity_locked(&mut st)
            }
        };
        if let Some(ThreadConn::Out { slot_id, .. }) = st.threads.get_mut(&site.owner) {
            *slot_id = grant.slot.record.slot_id;
        }
        drop(st);
        let mut panic = None;
        for slot in evicted {
            panic = super::panics::first(panic, self.close_slot(slot, CloseReason::Evicted));
        }
        self.carry_on(panic);
        Begin::Reserved(Reservation::new(self, grant, site.owner))
    }

    /// Gives up waiting: the deadline passed (`at_deadline`) or the waiting future was
    /// dropped. Returns a reservation if a grant reached the waiter meanwhile; at the
    /// deadline also if an idle connection or capacity is there now (SQLAlchemy looks again
    /// after its wait), which should not happen: such a wake-up was missed, and is counted.
    pub(crate) fn cancel_wait(
        &self,
        waiter: &Arc<Waiter<C>>,
        at_deadline: bool,
    ) -> Option<Reservation<'_, C>> {
        let mut st = self.locked();
        if !Self::dequeue(&mut st, waiter) {
            let grant = waiter.take_grant();
            drop(st);
            return grant.map(|grant| Reservation::new(self, grant, waiter.site.owner));
        }
        if !at_deadline {
            return None;
        }
        let holder = st.holder.as_ref().map(|h| h.owner == waiter.site.owner);
        // At its deadline a waiter takes what is free, but no probe: its time is up.
        let grant = match self.limits.checkout(st.idle.len(), st.open, holder) {
            Checkout::TakeIdle if st.connects.working() => Grant::pooled(self.pop_idle(&mut st)?),
            Checkout::TakeIdle => {
                let at = st.idle.iter().position(|slot| slot.conn.is_some())?;
                Grant::pooled(st.idle.remove(at)?)
            }
            Checkout::Open if st.connects.working() => self.new_capacity_locked(&mut st),
            Checkout::Open | Checkout::Wait | Checkout::RefuseAlreadyCheckedOut => return None,
        };
        if self.limits.single_holder() {
            st.holder = Some(waiter.site.clone());
        }
        drop(st);
        self.missed_wakeups.fetch_add(1, Ordering::Relaxed);
        Some(Reservation::new(self, grant, waiter.site.owner))
    }

    /// A nudged waiter tries to take an idle connection, keeping its place in the queue if
    /// another caller got there first. A waiter no longer queued was handed a grant.
    pub(crate) fn retry(&self, waiter: &Arc<Waiter<C>>) -> Option<Grant<C>> {
        let mut st = self.locked();
        let Some(pos) = st.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) else {
            return waiter.take_grant();
        };
        let grant = self.take_idle(&mut st)?;
        st.waiters.remove(pos);
        Some(grant)
    }

    /// Waits for a grant, blocking the thread, retrying when nudged, until `deadline`.
    #[cfg(feature = "blocking")]
    pub(crate) fn wait_blocking(
        &self,
        waiter: &Arc<Waiter<C>>,
        deadline: Option<std::time::Instant>,
    ) -> Waited<C> {
        loop {
            match waiter.wait_blocking(deadline) {
                Wake::Granted(grant) => return Waited::Granted(grant),
                Wake::Nudged => {
                    if let Some(grant) = self.retry(waiter) {
                        return Waited::Granted(grant);
                    }
                }
                Wake::TimedOut => return Waited::TimedOut,
                Wake::Failed(error) => return Waited::Failed(error),
            }
        }
    }

    /// Polls for a grant from an async task, retrying when nudged; ends too when the pool's
    /// alarm marked the deadline passed (see `deadlines.rs`).
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_wait(
        &self,
        waiter: &Arc<Waiter<C>>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Waited<C>> {
        use std::task::Poll;
        loop {
            return match waiter.poll_wake(cx) {
                Poll::Ready(Wake::Granted(grant)) => Poll::Ready(Waited::Granted(grant)),
                Poll::Ready(Wake::Nudged) => match self.retry(waiter) {
                    Some(grant) => Poll::Ready(Waited::Granted(grant)),
                    None => continue,
                },
                Poll::Ready(Wake::TimedOut) => Poll::Ready(Waited::TimedOut),
                Poll::Ready(Wake::Failed(error)) => Poll::Ready(Waited::Failed(error)),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    /// Wraps a grant a waiter received.
    pub(crate) fn reservation_for(
        &self,
        waiter: &Waiter<C>,
        grant: Grant<C>,
    ) -> Reservation<'_, C> {
        Reservation::new(self, grant, waiter.site.owner)
    }

    /// The timeout error for a checkout that waited `timeout`, counted once.
    pub(crate) fn timeout_error(&self, timeout: Option<Duration>) -> TimeoutError {
        let error = self.timeout_error_locked(&lock(&self.state), timeout);
        self.counted(error)
    }

    /// The timeout error for the pool as it is (under its lock): QueuePool's text, and what
    /// the server said if it refused connects for capacity meanwhile.
    fn timeout_error_locked(&self, st: &State<C>, timeout: Option<Duration>) -> TimeoutError {
        let mut error = self.limits.timeout_error(st.open, timeout);
        error.refused = st
            .connects
            .refused()
            .map(|refused| (refused.count, refused.last));
        error
    }

    /// The pre-ping of a pooled connection did not return within the checkout's `timeout`:
    /// counted as a timeout.
    pub(crate) fn ping_timed_out(&self, timeout: Option<Duration>) -> ConnectTimeoutError {
        self.server_timed_out(timeout, Stalled::Ping)
    }

    /// A connect did not return within the checkout's `timeout`: counted as a timeout.
    pub(crate) fn connect_timed_out(&self, timeout: Option<Duration>) -> ConnectTimeoutError {
        self.server_timed_out(timeout, Stalled::Connect)
    }

    /// The pool's `threads` connector threads stayed busy (with jobs that did not return) until
    /// the checkout's deadline: counted as a timeout.
    #[cfg(feature = "blocking")]
    pub(crate) fn connectors_busy(
        &self,
        timeout: Option<Duration>,
        threads: usize,
    ) -> ConnectTimeoutError {
        self.server_timed_out(timeout, Stalled::ConnectorsBusy(threads))
    }

    fn server_timed_out(&self, timeout: Option<Duration>, stalled: Stalled) -> ConnectTimeoutError {
        let error = ConnectTimeoutError {
            timeout: timeout.unwrap_or_default(),
            stalled,
        };
        self.emit(Event::TimedOut(&error));
        error
    }

    /// Counts a timeout (outside the pool's lock: the recorder is user code).
    fn counted(&self, error: TimeoutError) -> TimeoutError {
        self.emit(Event::TimedOut(&error));
        error
    }
}
