//! Connects while the server refuses them: no storm, and a refusal for capacity is a wait.
//!
//! A pool whose connects work opens a connection for every caller that may have one. Once a
//! connect fails (the server is at its connection budget, down, or refuses the credentials),
//! the pool is *failing*: it lets one connect at a time through (the *probe*), after a
//! jittered exponential back-off (5 ms doubling to 500 ms; to 50 ms while the server refuses
//! for capacity, which comes free within milliseconds), and the other callers that would
//! have opened a connection wait for the probe's outcome instead of each trying. A probe that
//! connects ends the failing state, and the waiters get their capacity. A probe refused for
//! capacity (`Refusal::ServerCapacity`) goes back to wait, as its caller's wait is not over:
//! it is served by the next connection returned to its pool, or by a later probe, within its
//! `pool_timeout`; a timeout then says what the server said. A probe that failed otherwise
//! (the server is down) hands its error to every caller that was waiting for a connect, at
//! once, so a down server still fails fast. With `wait_for_server_capacity(false)`
//! (SQLAlchemy's behaviour) a refusal for capacity fails its caller at once too.
//!
//! The back-off's next probe is kept by the pool's alarm (`deadlines.rs`), so that waiters
//! are served when it comes whatever runtime or thread they wait on.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::reservation::AfterFailure;
use super::state::State;
use super::{Core, Slot, Waiter};
use crate::cause::Cause;
use crate::config::FrontEnd;
use crate::error::{CheckoutSite, ConnectFailedError};
use crate::owner::Owner;
use crate::refusal::Refusal;

impl<C> Core<C> {
    /// Whether the pool's connects fail (read without the lock: a stale answer costs a lock
    /// or leaves the ending of the failing state to the next probe).
    #[inline]
    pub(crate) fn connects_fail(&self) -> bool {
        self.connects_failing.load(Ordering::Relaxed)
    }

    /// A connect worked: the failing state (if any) is over, and the waiters that wanted to
    /// open a connection are served as the section ends.
    pub(crate) fn connect_worked(&self) {
        let mut st = self.locked();
        st.connects.worked();
        self.connects_failing.store(false, Ordering::Relaxed);
    }

    /// A probe went away without an outcome: another caller may probe.
    pub(crate) fn probe_gone(&self) {
        let mut st = self.locked();
        st.connects.probe_gone();
        self.watch_next_probe(&mut st);
    }

    /// Sets the pool's alarm for the next probe, if callers wait for one and it is still to
    /// come. A probe whose time has passed is started by the section's end (`settle_locked`)
    /// if the class's limits let one open, else by whatever frees capacity (a return, a
    /// close), which settles too: an alarm for a past instant would ring at once, find
    /// nothing to do and be set again, a spin on the timer thread (a probe abandoned by its
    /// caller holds its slot until its connect returns).
    pub(super) fn watch_next_probe(&self, st: &mut State<C>) {
        if st.waiters.is_empty() {
            return;
        }
        if let Some(at) = st.connects.next_probe().filter(|&at| at > Instant::now()) {
            self.watch_deadline(&mut st.sweep, at);
        }
    }

    /// A connect failed for `reason` (see [`Reservation::connect_failed`]): the books, under
    /// one lock.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn after_failed_connect(
        &self,
        slot: Slot<C>,
        new_capacity: bool,
        owner: Owner,
        probe: bool,
        reason: Refusal,
        cause: Cause,
        site: &CheckoutSite,
        wait: Option<Option<Instant>>,
    ) -> AfterFailure<C> {
        let mut st = self.locked();
        st.connects
            .failed(Instant::now(), reason, cause.clone(), probe);
        self.connects_failing.store(true, Ordering::Relaxed);
        // The slot goes back: new capacity is released, a pooled slot (its connection was
        // replaced) returns empty.
        if new_capacity {
            self.release_new_capacity_locked(&mut st, slot.record.slot_id, owner);
        } else {
            let nothing = self.check_in_locked(&mut st, slot, owner);
            debug_assert!(nothing.is_none(), "an empty slot has nothing to close");
        }
        let waits = reason == Refusal::ServerCapacity
            && self.config.wait_for_server_capacity
            && self.limits.waits_for_capacity();
        let after = if let Some(deadline) = wait.filter(|_| waits) {
            let waiter = Arc::new(Waiter::new(
                site.clone(),
                self.config.front == FrontEnd::Blocking,
                self.limits.overtakes(),
                deadline,
                true,
            ));
            if let Some(at) = deadline {
                self.watch_deadline(&mut st.sweep, at);
            }
            // At the head of the queue: it asked first.
            st.waiters.push_front(Arc::clone(&waiter));
            AfterFailure::Wait(waiter)
        } else {
            // The callers that waited for a connect share this one's failure: as many as the
            // class would have let open a connection. Those waiting for a returned
            // connection keep waiting (as in SQLAlchemy).
            let mut could_open = self
                .limits
                .max_open
                .map_or(usize::MAX, |max| max.saturating_sub(st.open));
            let failed = ConnectFailedError { reason, cause };
            let mut to_wake = std::mem::take(&mut st.to_wake);
            st.waiters.retain(|waiter| {
                if could_open == 0 || !waiter.for_connect {
                    return true;
                }
                could_open -= 1;
                waiter.fail(failed.clone());
                to_wake.push(Arc::clone(waiter));
                false
            });
            st.to_wake = to_wake;
            AfterFailure::Fail
        };
        self.watch_next_probe(&mut st);
        after
    }
}
