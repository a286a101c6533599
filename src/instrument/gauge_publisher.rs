//! Publishes the `metrics` facade's count gauges (connections idle and used, requests
//! pending) and flushes the pools' aggregated durations (`wait_time`, `use_time`, see
//! `batched.rs`) on a timer, from one background thread for every pool in the process, so
//! that checkouts and returns never set a gauge nor call the recorder for a histogram. (The
//! OpenTelemetry path needs no thread: it takes its durations as its reader collects.)
//!
//! The facade's gauges are pushed: a recorder keeps the last value set. Setting them on every
//! change costs four gauge sets per checkout + return, under the pool's lock; sampled every
//! interval instead, a scrape reads values at most one interval old (the OpenTelemetry path
//! reads the counts when its reader collects and does not need this). The thread starts with
//! the first pool that asks for it and sleeps while no pool is alive.
//!
//! A pool owns what is scheduled for it ([`Publish`]); the thread holds it weakly, so a
//! dropped pool leaves the schedule at the next tick. One thread sets a pool's gauges, from snapshots taken in order
//! under the pool's lock, so a gauge never goes back in time.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// What the thread does for one pool every interval: publish its gauges, flush its
/// aggregated durations. The pool owns it; the thread holds it weakly.
pub(super) trait Publish: Send + Sync {
    fn publish(&self);
}

struct Scheduled {
    entry: Weak<dyn Publish>,
    every: Duration,
    due: Instant,
}

struct Schedule {
    entries: Mutex<Vec<Scheduled>>,
    changed: Condvar,
}

static SCHEDULE: OnceLock<Option<Arc<Schedule>>> = OnceLock::new();

/// Whether the shared thread runs, starting it on the first call. `false` if it could not be
/// started: pools then publish their counts on every change instead.
pub(super) fn running() -> bool {
    SCHEDULE.get_or_init(start).is_some()
}

/// Publishes `entry` every `every` from the shared thread (see [`running`]).
pub(super) fn schedule<P: Publish + 'static>(entry: &Arc<P>, every: Duration) {
    if let Some(Some(schedule)) = SCHEDULE.get() {
        let entry: Arc<dyn Publish> = entry.clone();
        lock(&schedule.entries).push(Scheduled {
            entry: Arc::downgrade(&entry),
            every,
            due: Instant::now() + every,
        });
        schedule.changed.notify_one();
    }
}

fn start() -> Option<Arc<Schedule>> {
    let schedule = Arc::new(Schedule {
        entries: Mutex::new(Vec::new()),
        changed: Condvar::new(),
    });
    let run = Arc::clone(&schedule);
    match std::thread::Builder::new()
        .name("poolscope-gauges".into())
        .spawn(move || publish_forever(&run))
    {
        Ok(_) => Some(schedule),
        Err(e) => {
            tracing::warn!(
                target: "poolscope::pool",
                "could not start the gauge publisher thread ({e}); pools publish their count \
                 gauges on every change instead"
            );
            None
        }
    }
}

/// A panic in one pool's `gauges()` must not stop the others' gauges: the lock is taken
/// whatever state a panicking holder left it in (the schedule is a plain list).
fn lock(entries: &Mutex<Vec<Scheduled>>) -> MutexGuard<'_, Vec<Scheduled>> {
    entries
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn publish_forever(schedule: &Schedule) {
    loop {
        let due = take_due(&mut lock(&schedule.entries), Instant::now());
        for entry in due {
            let published =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| entry.publish()));
            if published.is_err() {
                tracing::warn!(
                    target: "poolscope::pool",
                    "reading a pool's counts for its gauges panicked; retrying next interval"
                );
            }
        }
        let entries = lock(&schedule.entries);
        match entries.iter().map(|s| s.due).min() {
            None => drop(schedule.changed.wait(entries)),
            Some(next) => {
                let wait = next.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    drop(schedule.changed.wait_timeout(entries, wait));
                }
            }
        }
    }
}

/// The entries due at `now`, rescheduled one interval on; entries whose pool is gone are
/// dropped from the schedule.
fn take_due(entries: &mut Vec<Scheduled>, now: Instant) -> Vec<Arc<dyn Publish>> {
    let mut due = Vec::new();
    entries.retain_mut(|scheduled| {
        let Some(entry) = scheduled.entry.upgrade() else {
            return false;
        };
        if scheduled.due <= now {
            scheduled.due = now + scheduled.every;
            due.push(entry);
        }
        true
    });
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    impl Publish for Nothing {
        fn publish(&self) {}
    }

    fn entry() -> Arc<dyn Publish> {
        Arc::new(Nothing)
    }

    #[test]
    fn only_due_entries_are_taken_and_each_is_rescheduled_by_its_own_interval() {
        let (fast, slow) = (entry(), entry());
        let now = Instant::now();
        let mut entries = vec![
            Scheduled {
                entry: Arc::downgrade(&fast),
                every: Duration::from_millis(10),
                due: now,
            },
            Scheduled {
                entry: Arc::downgrade(&slow),
                every: Duration::from_secs(60),
                due: now + Duration::from_secs(60),
            },
        ];
        let due = take_due(&mut entries, now);
        assert_eq!(due.len(), 1);
        assert!(Arc::ptr_eq(&due[0], &fast));
        assert_eq!(entries[0].due, now + Duration::from_millis(10));
        assert_eq!(entries[1].due, now + Duration::from_secs(60));
    }

    #[test]
    fn a_dropped_pool_leaves_the_schedule() {
        let kept = entry();
        let dropped = entry();
        let now = Instant::now();
        let mut entries: Vec<_> = [&kept, &dropped]
            .into_iter()
            .map(|e| Scheduled {
                entry: Arc::downgrade(e),
                every: Duration::from_secs(1),
                due: now,
            })
            .collect();
        drop(dropped);
        assert_eq!(take_due(&mut entries, now).len(), 1);
        assert_eq!(entries.len(), 1);
    }
}
