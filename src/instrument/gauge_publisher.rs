//! Publishes the `metrics` facade's count gauges (connections idle and used, requests
//! pending) on a timer, from one background thread for every pool in the process, so that
//! checkouts and returns never set them.
//!
//! The facade's gauges are pushed: a recorder keeps the last value set. Setting them on every
//! change costs four gauge sets per checkout + return, under the pool's lock; sampled every
//! interval instead, a scrape reads values at most one interval old (the OpenTelemetry path
//! reads the counts when its reader collects and does not need this). The thread starts with
//! the first pool that asks for it and sleeps while no pool is alive.
//!
//! A pool owns its [`Entry`]; the thread holds it weakly, so a dropped pool leaves the
//! schedule at the next tick. One thread sets a pool's gauges, from snapshots taken in order
//! under the pool's lock, so a gauge never goes back in time.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::facade::CountGauges;
use super::GaugeSource;

/// One pool's count gauges and where to read the counts.
pub(super) struct Entry {
    gauges: CountGauges,
    source: Weak<dyn GaugeSource>,
}

impl Entry {
    pub(super) fn new(gauges: CountGauges, source: Weak<dyn GaugeSource>) -> Self {
        Entry { gauges, source }
    }

    /// Reads the pool's counts and sets what changed. A pool still being built (its source
    /// not yet upgradable) or already gone is skipped.
    fn publish(&self) {
        if let Some(source) = self.source.upgrade() {
            let gauges = source.gauges();
            self.gauges.set(gauges.idle, gauges.used, gauges.pending);
        }
    }
}

struct Scheduled {
    entry: Weak<Entry>,
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
pub(super) fn schedule(entry: &Arc<Entry>, every: Duration) {
    if let Some(Some(schedule)) = SCHEDULE.get() {
        lock(&schedule.entries).push(Scheduled {
            entry: Arc::downgrade(entry),
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
fn take_due(entries: &mut Vec<Scheduled>, now: Instant) -> Vec<Arc<Entry>> {
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
    use crate::instrument::Gauges;

    struct Fixed(Gauges);

    impl GaugeSource for Fixed {
        fn gauges(&self) -> Gauges {
            self.0
        }
    }

    fn entry(source: &Arc<dyn GaugeSource>) -> Arc<Entry> {
        Arc::new(Entry::new(CountGauges::detached(), Arc::downgrade(source)))
    }

    #[test]
    fn only_due_entries_are_taken_and_each_is_rescheduled_by_its_own_interval() {
        let source: Arc<dyn GaugeSource> = Arc::new(Fixed(Gauges::default()));
        let (fast, slow) = (entry(&source), entry(&source));
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
        let source: Arc<dyn GaugeSource> = Arc::new(Fixed(Gauges::default()));
        let kept = entry(&source);
        let dropped = entry(&source);
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
