//! The async waiters' deadlines, kept by one alarm per pool on poolscope's timer thread
//! (`src/timer/`) instead of a timer per waiting task.
//!
//! A Tokio timer per waiting task costs a registration and a removal in the runtime's timer
//! wheel on every wait; under contention, where most checkouts wait a few microseconds, that
//! made a checkout 1.08–1.15x deadpool's (whose default has no timeout) against 0.77–0.96x
//! without `pool_timeout`. And a Tokio timer belongs to one runtime: on a runtime without the
//! time driver it panics, on one that is alive but not driven it never fires, so a pool shared
//! by several runtimes could not keep one waiter's deadline from another's. So a waiting task
//! registers nothing: its deadline is written in its [`Waiter`](super::Waiter), and the pool
//! sets one alarm on the timer thread for the earliest deadline among its queued waiters. When
//! it rings, the waiters whose deadline passed are marked expired and woken; each gives up as
//! it would have at its own timer (`Core::cancel_wait`, which still hands it capacity freed at
//! the last moment), and the alarm is set again for the next deadline, if any.
//!
//! With one `pool_timeout` for every waiter, deadlines grow in queue order, so a waiter queued
//! while the alarm is set never needs it earlier: the alarm rings about once per
//! `pool_timeout` while waiters keep coming. A waiter whose deadline is earlier (a shorter
//! `get_timeout`-style deadline, a clock that went back) moves the alarm. The timer holds the
//! pool weakly, so a dropped pool closes its connections at once.

use std::time::Instant;

use super::Core;
use crate::timer::{Alarm, Key};

/// The pool's alarm, as the books know it.
#[derive(Default)]
pub(super) struct Sweep {
    /// The alarm set on the timer, if any.
    key: Option<Key>,
}

impl<C> Core<C> {
    /// A waiter with `deadline` is being queued (under the pool's lock): the alarm is moved
    /// earlier if it must be. The timer's lock nests inside the pool's; the timer never takes
    /// a pool's lock while it holds its own.
    pub(super) fn watch_deadline(&self, sweep: &mut Sweep, deadline: Instant) {
        let Some((timer, alarm)) = &self.alarm else {
            return;
        };
        if sweep.key.is_some_and(|key| key.at() <= deadline) {
            return;
        }
        if let Some(old) = sweep.key.take() {
            timer.cancel(old);
        }
        sweep.key = Some(timer.set(deadline, alarm.clone()));
    }

    /// The alarm `key` rang at `now`: waiters whose deadline passed are marked and woken
    /// (after the lock is released), and the alarm is set for the next deadline.
    fn sweep(&self, key: Key, now: Instant) {
        let mut st = self.locked();
        if st.sweep.key == Some(key) {
            st.sweep.key = None;
        }
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
        // While connects fail, the next probe (the section's end serves the first waiter), if
        // still to come (see `watch_next_probe`).
        if !st.waiters.is_empty() {
            if let Some(probe) = st.connects.next_probe().filter(|&at| at > now) {
                next = Some(next.map_or(probe, |n| n.min(probe)));
            }
        }
        if let Some(next) = next {
            self.watch_deadline(&mut st.sweep, next);
        }
    }
}

impl<C: Send + 'static> Alarm for Core<C> {
    fn ring(&self, key: Key, now: Instant) {
        self.sweep(key, now);
    }
}
