//! Leak detection (HikariCP's `leakDetectionThreshold`): a connection held longer than the
//! threshold is reported once at WARN with the pool's name, how long, and where it was checked
//! out; its later return is reported too. A watcher thread per pool (started with the first
//! tracked checkout, holding only a weak reference) looks a few times per threshold.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::emit::Emit;
use crate::event::Event;
use crate::stopwatch::Instant;

use super::Core;
use crate::sync::lock;

/// One tracked checkout.
pub(super) struct Held {
    pub(super) at: Instant,
    pub(super) location: &'static Location<'static>,
    pub(super) connection_id: u64,
    pub(super) reported: bool,
}

/// The checkouts being watched, by slot id.
#[derive(Default)]
pub(super) struct Tracked {
    pub(super) held: HashMap<u64, Held>,
    pub(super) reported: usize,
    pub(super) watcher_started: bool,
}

/// How often the watcher looks: a quarter of the threshold, between 5 ms and 1 s.
fn tick(threshold: Duration) -> Duration {
    (threshold / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

impl<C: Send + 'static> Core<C> {
    /// Starts watching a checkout (no-op without a threshold).
    pub(crate) fn track_checkout(
        self: &Arc<Self>,
        slot_id: u64,
        connection_id: u64,
        at: Option<Instant>,
        location: &'static Location<'static>,
    ) {
        let (Some(threshold), Some(at)) = (self.config.leak_threshold, at) else {
            return;
        };
        let start_watcher = {
            let mut leaks = lock(&self.leaks);
            leaks.held.insert(
                slot_id,
                Held {
                    at,
                    location,
                    connection_id,
                    reported: false,
                },
            );
            !std::mem::replace(&mut leaks.watcher_started, true)
        };
        if start_watcher {
            let weak = Arc::downgrade(self);
            let name = "poolscope-leaks".to_owned();
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || watch(weak, threshold));
            if spawned.is_err() {
                lock(&self.leaks).watcher_started = false;
            }
        }
    }
}

impl<C> Core<C> {
    /// Stops watching a slot that came back; reports the return of a suspected leak.
    pub(super) fn untrack(&self, slot_id: u64) {
        if self.config.leak_threshold.is_none() {
            return;
        }
        let (returned, current) = {
            let mut leaks = lock(&self.leaks);
            let returned = leaks.held.remove(&slot_id).filter(|h| h.reported);
            if returned.is_some() {
                leaks.reported -= 1;
            }
            (returned, leaks.reported)
        };
        if let Some(held) = returned {
            self.emit(Event::LeakReturned {
                conn: held.connection_id,
                held: held.at.elapsed(),
                at: held.location,
                current,
            });
        }
    }

    /// Suspected leaks right now.
    pub(super) fn leaks_now(&self) -> usize {
        if self.config.leak_threshold.is_none() {
            return 0;
        }
        lock(&self.leaks).reported
    }

    /// Reports every checkout past the threshold that was not reported yet.
    fn report_leaks(&self, threshold: Duration) {
        let now = Instant::now();
        let (found, current) = {
            let mut leaks = lock(&self.leaks);
            let mut found = Vec::new();
            for held in leaks.held.values_mut() {
                let age = now.saturating_duration_since(held.at);
                if !held.reported && age >= threshold {
                    held.reported = true;
                    found.push((held.connection_id, age, held.location));
                }
            }
            leaks.reported += found.len();
            (found, leaks.reported)
        };
        for (connection_id, age, location) in found {
            self.emit(Event::LeakSuspected {
                conn: connection_id,
                held: age,
                threshold,
                at: location,
                current,
            });
        }
    }
}

fn watch<C>(pool: Weak<Core<C>>, threshold: Duration) {
    loop {
        std::thread::sleep(tick(threshold));
        match pool.upgrade() {
            Some(core) => core.report_leaks(threshold),
            None => return,
        }
    }
}
