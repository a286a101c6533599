//! poolscope's own timer: one thread for the whole process (`poolscope-timer`) that keeps
//! every deadline the async pool needs — its waiters' `pool_timeout`, the bound on a connect
//! or a pre-ping, an async reset's `reset_timeout` — in real time, whatever runtime the caller
//! is on.
//!
//! Tokio's timers belong to one runtime and fail on the others: a runtime built without
//! `enable_time` panics when one is created ("timers are disabled"), one that is shut down
//! panics when one is polled, and a timer task on a runtime that is alive but not driven (a
//! current-thread runtime used as a `block_on` bridge, between calls) never fires. A pool is
//! shared by every runtime that holds a handle to it, and its deadlines must hold for each
//! of them, in `Drop` too. So poolscope registers no Tokio timer: an [`Alarm`] is rung from
//! this thread, and what it wakes (a task's waker) runs wherever that task lives.
//!
//! The entries are kept in order of their instant, each with a number of its own, so that an
//! alarm no longer wanted is taken out at once (a pre-ping that answered removes its bound)
//! rather than left to ring. The thread holds alarms weakly and never holds its own lock while
//! it rings one; ringing is the only thing it does, under `catch_unwind` (a waker is user
//! code).
//!
//! Tokio's paused test clock (`start_paused`, `time::pause`) does not move these deadlines: a
//! `pool_timeout` of 30 s is 30 real seconds in such a test too.

// Only a front uses the timer: unused in the hooks-only build (neither front).
#![cfg_attr(
    not(any(feature = "blocking", feature = "tokio")),
    allow(dead_code, unused_imports)
)]

#[cfg(feature = "tokio")]
mod deadline;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

#[cfg(feature = "tokio")]
pub(crate) use deadline::{within, Deadline};

/// Something rung at an instant (see [`Timer::set`]).
pub(crate) trait Alarm: Send + Sync {
    /// Its instant has come (`now`); `key` is the one [`Timer::set`] returned.
    fn ring(&self, key: Key, now: Instant);
}

/// Where an alarm is kept: its instant and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    at: Instant,
    id: u64,
}

impl Key {
    /// The instant it rings at.
    pub(crate) fn at(self) -> Instant {
        self.at
    }
}

/// The process's timer.
pub(crate) struct Timer {
    entries: Mutex<Entries>,
    /// Notified when an entry becomes the earliest.
    earlier: Condvar,
}

struct Entries {
    due: BTreeMap<Key, Weak<dyn Alarm>>,
    next_id: u64,
}

static TIMER: OnceLock<Result<Arc<Timer>, String>> = OnceLock::new();

/// The process's timer, starting its thread on the first call. An error (the thread could
/// not be started) is kept and returned to every later call: a pool that needs the timer is
/// not built without it.
pub(crate) fn timer() -> Result<&'static Arc<Timer>, &'static str> {
    TIMER
        .get_or_init(|| {
            let timer = Arc::new(Timer {
                entries: Mutex::new(Entries {
                    due: BTreeMap::new(),
                    next_id: 0,
                }),
                earlier: Condvar::new(),
            });
            let run = Arc::clone(&timer);
            std::thread::Builder::new()
                .name("poolscope-timer".into())
                .spawn(move || run.ring_forever())
                .map(|_| timer)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(String::as_str)
}

impl Timer {
    /// Rings `alarm` at `at` (at once if `at` has passed); returns its key, to
    /// [`cancel`](Self::cancel) it. Takes only the timer's own lock, so it may be called
    /// under a pool's lock.
    pub(crate) fn set(&self, at: Instant, alarm: Weak<dyn Alarm>) -> Key {
        let mut entries = self.entries.lock();
        let key = Key {
            at,
            id: entries.next_id,
        };
        entries.next_id += 1;
        let earliest = entries.due.keys().next().is_none_or(|first| key < *first);
        entries.due.insert(key, alarm);
        drop(entries);
        if earliest {
            self.earlier.notify_one();
        }
        key
    }

    /// Takes an alarm out before it rings; `false` if it was no longer there (it rang, or is
    /// ringing now).
    pub(crate) fn cancel(&self, key: Key) -> bool {
        self.entries.lock().due.remove(&key).is_some()
    }

    fn ring_forever(&self) {
        let mut entries = self.entries.lock();
        loop {
            let now = Instant::now();
            let Some((&key, _)) = entries.due.first_key_value() else {
                self.earlier.wait(&mut entries);
                continue;
            };
            if key.at > now {
                self.earlier.wait_for(&mut entries, key.at - now);
                continue;
            }
            let alarm = entries.due.remove(&key);
            drop(entries);
            if let Some(alarm) = alarm.and_then(|weak| weak.upgrade()) {
                // A waker that panics must not stop every other deadline of the process.
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| alarm.ring(key, now)));
            }
            entries = self.entries.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    struct Count(AtomicUsize);

    impl Alarm for Count {
        fn ring(&self, _: Key, _: Instant) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub(super) fn wait_until(what: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while !what() {
            assert!(Instant::now() < give_up, "the timer never rang");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn an_alarm_rings_once_at_its_instant_and_a_cancelled_one_never() {
        let timer = timer().unwrap();
        let rung = Arc::new(Count(AtomicUsize::new(0)));
        let weak: Weak<Count> = Arc::downgrade(&rung);
        let start = Instant::now();
        timer.set(start + Duration::from_millis(30), weak.clone());
        let cancelled = timer.set(start + Duration::from_millis(10), weak);
        assert!(timer.cancel(cancelled));
        wait_until(|| rung.0.load(Ordering::SeqCst) == 1);
        assert!(start.elapsed() >= Duration::from_millis(30), "rang early");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            rung.0.load(Ordering::SeqCst),
            1,
            "rang twice, or the cancelled one rang"
        );
    }

    #[test]
    fn an_earlier_alarm_set_while_the_thread_sleeps_rings_first() {
        let timer = timer().unwrap();
        let late = Arc::new(Count(AtomicUsize::new(0)));
        let early = Arc::new(Count(AtomicUsize::new(0)));
        let late_weak: Weak<Count> = Arc::downgrade(&late);
        let early_weak: Weak<Count> = Arc::downgrade(&early);
        let start = Instant::now();
        let late_key = timer.set(start + Duration::from_secs(60), late_weak);
        std::thread::sleep(Duration::from_millis(5));
        timer.set(start + Duration::from_millis(20), early_weak);
        wait_until(|| early.0.load(Ordering::SeqCst) == 1);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "woke at the later one"
        );
        assert!(timer.cancel(late_key));
    }
}
