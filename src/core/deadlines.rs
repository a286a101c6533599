//! The async waiters' deadlines, kept by one timer per pool instead of one per waiter.
//!
//! A Tokio timer per waiting task costs a registration and a removal in the runtime's timer
//! wheel on every wait; under contention, where most checkouts wait a few microseconds, that
//! made a checkout 1.08–1.15x deadpool's (whose default has no timeout) against 0.77–0.96x
//! without `pool_timeout`. So a waiting task registers nothing: its deadline is written in
//! its [`Waiter`], and the pool's *sweeper* (a Tokio task, `nonblocking/sweeper.rs`) sleeps
//! until the earliest deadline among the queued waiters, marks those whose deadline passed
//! as expired and wakes them. Each then gives up as it would have at its own timer
//! (`Core::cancel_wait`, which still hands it capacity freed at the last moment).
//!
//! With one `pool_timeout` for every waiter, deadlines grow in queue order, so a waiter
//! queued while the sweeper sleeps never needs it earlier: the sweeper wakes about once
//! per `pool_timeout` while waiters keep coming, and ends when none is left. A waiter whose
//! deadline is earlier than the sweeper's (a clock that went back, a test's paused clock)
//! wakes it early. The sweeper holds the pool weakly, so a dropped pool closes its
//! connections at once. If its runtime goes away while waiters remain (a pool shared by
//! several runtimes), they are *orphaned*: told to keep their deadline with a timer of
//! their own.

use std::task::Waker;
use std::time::Instant;

use super::Core;

/// The pool's sweeper, as the books know it.
#[derive(Default)]
pub(super) struct Sweep {
    /// A sweeper task exists (spawned, sleeping, or about to look).
    running: bool,
    /// When it looks at the queue next; `None`: as soon as it is polled.
    until: Option<Instant>,
    /// Wakes it early.
    waker: Option<Waker>,
}

impl Sweep {
    /// A waiter with `deadline` joins the queue: whether a sweeper must be started (`true`)
    /// and the waker of one that sleeps past the deadline.
    pub(super) fn watch(&mut self, deadline: Instant) -> (bool, Option<Waker>) {
        if !self.running {
            self.running = true;
            self.until = None;
            return (true, None);
        }
        if self.until.is_some_and(|until| until > deadline) {
            self.until = None;
            return (false, self.waker.take());
        }
        (false, None)
    }
}

impl<C> Core<C> {
    /// The sweeper looks at the queue at `now`: waiters whose deadline passed are marked and
    /// woken; returns the next deadline to sleep until (and will be woken with `waker` if an
    /// earlier one comes), or `None` when no waiter has one left and the sweeper ends.
    #[cfg(feature = "tokio")]
    pub(crate) fn sweep(&self, now: Instant, waker: &Waker) -> Option<Instant> {
        let mut st = self.locked();
        let mut next: Option<Instant> = None;
        let mut expired = Vec::new();
        for waiter in &st.waiters {
            let Some(deadline) = waiter.deadline else {
                continue;
            };
            if deadline <= now {
                if waiter.expire() {
                    expired.push(std::sync::Arc::clone(waiter));
                }
            } else if !waiter.is_expired() {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        st.to_wake.extend(expired);
        let sweep = &mut st.sweep;
        sweep.until = next;
        match next {
            Some(_) => match &mut sweep.waker {
                Some(known) if known.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            },
            None => *sweep = Sweep::default(),
        }
        next
    }

    /// The sweeper went away before its work was done (its runtime shut down, or it could not
    /// be started): the waiters it kept are told to keep their deadlines themselves.
    #[cfg(feature = "tokio")]
    pub(crate) fn sweeper_gone(&self) {
        let mut st = self.locked();
        st.sweep = Sweep::default();
        let orphans: Vec<_> = st
            .waiters
            .iter()
            .filter(|w| w.deadline.is_some())
            .cloned()
            .collect();
        for waiter in &orphans {
            waiter.orphan();
        }
        st.to_wake.extend(orphans);
    }
}

#[cfg(test)]
mod tests {
    use super::Sweep;
    use std::task::Waker;
    use std::time::{Duration, Instant};

    #[test]
    fn the_first_deadline_starts_a_sweeper_and_later_ones_need_nothing() {
        let mut sweep = Sweep::default();
        let t0 = Instant::now();
        assert!(sweep.watch(t0).0, "none running: start one");
        assert!(!sweep.watch(t0).0, "starting: it looks when polled");
        sweep.until = Some(t0);
        sweep.waker = Some(Waker::noop().clone());
        let (start, poke) = sweep.watch(t0 + Duration::from_secs(1));
        assert!(!start && poke.is_none(), "a later deadline: nothing to do");
    }

    #[test]
    fn an_earlier_deadline_wakes_the_sleeping_sweeper_once() {
        let t0 = Instant::now();
        let mut sweep = Sweep {
            running: true,
            until: Some(t0 + Duration::from_secs(30)),
            waker: Some(Waker::noop().clone()),
        };
        let (start, poke) = sweep.watch(t0);
        assert!(!start && poke.is_some(), "woken early");
        assert_eq!(sweep.until, None, "it looks again when polled");
        assert!(sweep.watch(t0).1.is_none(), "not woken twice");
    }
}
