//! Serving the waiters. Whatever a locked section changed — a connection back idle, a slot
//! freed by a close, a waiter gone — it ends in [`Core::settle_locked`], which hands what the
//! pool now has to the waiters in order. So a wake-up is never lost and never wasted on a
//! waiter that cannot use it: new capacity goes to the first waiter as permission to open; an
//! idle connection goes to the first waiter, or, where a running caller may take it first
//! (see `Limits::hand_off`), the first waiter is nudged to come and take it, and it nudges
//! the next in turn if it leaves another idle behind.

use std::sync::Arc;
use std::time::Instant;

use super::connect_backoff::MayOpen;
use super::state::State;
use super::{Core, Grant, Slot, Waiter};
use crate::policy::Checkout;

impl<C> Core<C> {
    /// Serves the waiters from what the pool has now (see the module doc).
    pub(super) fn settle_locked(&self, st: &mut State<C>) {
        loop {
            let Some(first) = st.waiters.front() else {
                return;
            };
            if !st.idle.is_empty() {
                if !self.limits.hand_off(first.since) {
                    if first.nudge() {
                        let first = Arc::clone(first);
                        st.to_wake.push(first);
                    }
                    return;
                }
                // While connects fail, an empty slot is new capacity: a probe, or wait.
                let Some(grant) = self.take_idle(st) else {
                    return;
                };
                self.hand_to_first(st, grant);
                continue;
            }
            let holder = st.holder.as_ref().map(|h| h.owner == first.site.owner);
            if self.limits.checkout(0, st.open, holder) != Checkout::Open {
                return;
            }
            // While connects fail, one probe at a time (`connects.rs`).
            let probe = match st.connects.may_open(Instant::now) {
                MayOpen::Yes => false,
                MayOpen::Probe => true,
                MayOpen::No => return,
            };
            let mut grant = self.new_capacity_locked(st);
            if probe {
                st.connects.start_probe();
                grant.probe = true;
            }
            self.hand_to_first(st, grant);
        }
    }

    /// Reserves new capacity: a slot to open a connection in.
    pub(super) fn new_capacity_locked(&self, st: &mut State<C>) -> Grant<C> {
        st.open += 1;
        Grant {
            slot: st.new_slot(),
            new_capacity: true,
            overflow: self.limits.overflow(st.open) > 0,
            probe: false,
        }
    }

    /// Hands `grant` to the first waiter (there is one), to wake as the section ends.
    fn hand_to_first(&self, st: &mut State<C>, grant: Grant<C>) {
        let Some(waiter) = st.waiters.pop_front() else {
            unreachable!("hand_to_first is called with a waiter queued");
        };
        if self.limits.single_holder() {
            st.holder = Some(waiter.site.clone());
        }
        waiter.deliver(grant);
        st.to_wake.push(waiter);
    }

    /// Takes an idle slot for a checkout. While connects fail (`connects.rs`), a slot that
    /// holds a connection first; an empty one (its connection invalidated: taking it means
    /// connecting) only as the probe, else none (the caller waits for the probe).
    #[inline]
    pub(super) fn take_idle(&self, st: &mut State<C>) -> Option<Grant<C>> {
        if st.connects.working() {
            return self.pop_idle(st).map(Grant::pooled);
        }
        self.take_idle_while_connects_fail(st)
    }

    /// [`take_idle`](Self::take_idle) while connects fail (the rare path, kept apart).
    #[inline(never)]
    fn take_idle_while_connects_fail(&self, st: &mut State<C>) -> Option<Grant<C>> {
        let holding = if self.config.use_lifo {
            st.idle.iter().rposition(|slot| slot.conn.is_some())
        } else {
            st.idle.iter().position(|slot| slot.conn.is_some())
        };
        if let Some(at) = holding {
            return st.idle.remove(at).map(Grant::pooled);
        }
        match st.connects.may_open(Instant::now) {
            MayOpen::No => None,
            MayOpen::Yes => self.pop_idle(st).map(Grant::pooled),
            MayOpen::Probe => {
                let mut grant = Grant::pooled(self.pop_idle(st)?);
                st.connects.start_probe();
                grant.probe = true;
                Some(grant)
            }
        }
    }

    /// Takes the idle slot the pool hands out next: the newest with `use_lifo`, else the
    /// oldest.
    #[inline]
    pub(super) fn pop_idle(&self, st: &mut State<C>) -> Option<Slot<C>> {
        if self.config.use_lifo {
            st.idle.pop_back()
        } else {
            st.idle.pop_front()
        }
    }

    /// Removes `waiter` from the queue; `false` if it was no longer queued (it was handed a
    /// grant, which is in its cell).
    pub(super) fn dequeue(st: &mut State<C>, waiter: &Arc<Waiter<C>>) -> bool {
        match st.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            Some(pos) => {
                st.waiters.remove(pos);
                true
            }
            None => false,
        }
    }
}

impl<C> Grant<C> {
    /// A pooled slot handed out again.
    pub(super) fn pooled(slot: Slot<C>) -> Self {
        Grant {
            slot,
            new_capacity: false,
            overflow: false,
            probe: false,
        }
    }
}
