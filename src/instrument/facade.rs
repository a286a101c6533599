//! Metrics through the `metrics` facade: handles registered once per pool, with whatever
//! recorder is installed when the pool is built (install it first).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};

use super::batched::ToRecorder;
use super::gauge_publisher::{self, Publish};
use super::kinds::{invalidate_index, reset_index, INVALIDATE_REASONS, RESET_ACTIONS};
use super::names::*;
use super::Consumer;
use super::{GaugeSource, Limits};
use crate::event::Event;
use crate::reasons::{CloseReason, RecycleReason};
use crate::refusal::Refusal;

/// The count gauges: connections idle and used, requests pending.
pub(super) struct CountGauges {
    idle: Gauge,
    used: Gauge,
    pending: Gauge,
    /// The counts last published (idle, used, pending), so only changes are set: a gauge set
    /// is an atomic read-modify-write in most recorders. One writer at a time: the pool under
    /// its lock, or the publisher thread.
    published: [AtomicUsize; 3],
}

impl CountGauges {
    fn register(pool: &str) -> Self {
        let state = |state: &'static str| metrics::gauge!(CONNECTION_COUNT, POOL_NAME => pool.to_owned(), STATE => state);
        CountGauges {
            idle: state("idle"),
            used: state("used"),
            pending: metrics::gauge!(PENDING_REQUESTS, POOL_NAME => pool.to_owned()),
            published: [usize::MAX, usize::MAX, usize::MAX].map(AtomicUsize::new),
        }
    }

    /// Sets the gauges whose count changed since the last call.
    pub(super) fn set(&self, idle: usize, used: usize, pending: usize) {
        for ((gauge, last), value) in [&self.idle, &self.used, &self.pending]
            .into_iter()
            .zip(&self.published)
            .zip([idle, used, pending])
        {
            // One writer at a time (see `published`): a plain load and store cannot race.
            if last.load(Ordering::Relaxed) != value {
                last.store(value, Ordering::Relaxed);
                gauge.set(value as f64);
            }
        }
    }
}

/// One pool's count gauges and where to read the counts, and its aggregated durations
/// (`wait_time`, `use_time`), flushed to the recorder on the same schedule.
pub(super) struct Entry {
    gauges: CountGauges,
    source: Weak<dyn GaugeSource>,
    wait_time: ToRecorder,
    use_time: ToRecorder,
}

impl Publish for Entry {
    /// Flushes the durations, reads the pool's counts and sets what changed. A pool still
    /// being built (its source not yet upgradable) or already gone has no counts to read.
    fn publish(&self) {
        self.wait_time.flush();
        self.use_time.flush();
        if let Some(source) = self.source.upgrade() {
            let gauges = source.gauges();
            self.gauges.set(gauges.idle, gauges.used, gauges.pending);
        }
    }
}

/// Who sets the count gauges.
enum Counts {
    /// The pool, on every change, in the order the counts were taken (the number of the
    /// counts last set is kept beside the gauges: one writer at a time).
    OnChange(parking_lot::Mutex<u64>, CountGauges),
    /// The publisher thread, every interval; the pool owns the entry it reads, which also
    /// aggregates `wait_time` and `use_time` until the thread flushes them.
    Scheduled(Arc<Entry>),
}

pub(super) struct Handles {
    /// Whether a recorder took the handles: without one every handle is a no-op, and the
    /// pool skips computing the counts for them and reading the clock for the durations.
    recording: bool,
    counts: Counts,
    leaks_current: Gauge,
    timeouts: Counter,
    create_time: Histogram,
    wait_time: Histogram,
    use_time: Histogram,
    overflow_opened: Counter,
    overflow_closed: Counter,
    /// [action][ok = 0, error = 1]
    resets: [[Counter; 2]; 2],
    recycles: [Counter; 3],
    invalidations: [Counter; 5],
    pre_ping_failures: Counter,
    closes: [Counter; 7],
    refusals: [Counter; 4],
    server_budget: Gauge,
    leaks_suspected: Counter,
}

/// Whether a recorder is installed (globally or for this thread) as the pool is built.
///
/// The facade does not say so directly; its no-op recorder is the one recorder with no state
/// at all, so a zero-sized recorder is taken for "none". (Handles are registered at build
/// time, so a recorder installed later never sees this pool's metrics either way.)
pub(super) fn recording() -> bool {
    metrics::with_recorder(|recorder| std::mem::size_of_val(recorder) != 0)
}

fn describe() {
    metrics::describe_gauge!(CONNECTION_COUNT, "Open connections by state (idle, used).");
    metrics::describe_gauge!(
        CONNECTION_MAX,
        "Most connections the pool may open at once."
    );
    metrics::describe_gauge!(IDLE_MAX, "Most idle connections the pool keeps.");
    metrics::describe_gauge!(IDLE_MIN, "Idle connections the pool keeps at least.");
    metrics::describe_gauge!(PENDING_REQUESTS, "Callers waiting for a connection.");
    metrics::describe_counter!(
        TIMEOUTS,
        "Checkouts that timed out waiting for a connection."
    );
    metrics::describe_histogram!(CREATE_TIME, Unit::Seconds, "Time to open a connection.");
    metrics::describe_histogram!(
        WAIT_TIME,
        Unit::Seconds,
        "Time to obtain a connection from the pool."
    );
    metrics::describe_histogram!(USE_TIME, Unit::Seconds, "Time between checkout and return.");
    metrics::describe_counter!(OVERFLOW_OPENED, "Connections opened beyond pool_size.");
    metrics::describe_counter!(OVERFLOW_CLOSED, "Overflow connections closed on return.");
    metrics::describe_counter!(RESETS, "Resets on return, by action and outcome.");
    metrics::describe_counter!(
        RECYCLES,
        "Pooled connections replaced at checkout, by reason."
    );
    metrics::describe_counter!(INVALIDATIONS, "Connections invalidated, by reason.");
    metrics::describe_counter!(PRE_PING_FAILURES, "Pre-pings that found a dead connection.");
    metrics::describe_counter!(CLOSES, "Connections closed, by reason.");
    metrics::describe_gauge!(
        SERVER_BUDGET,
        "Most connections the server admits for the pool's user and database."
    );
    metrics::describe_counter!(
        REFUSALS,
        "Connects that failed, by reason (server_capacity: the server at its budget)."
    );
    metrics::describe_counter!(
        LEAKS_SUSPECTED,
        "Connections held longer than the leak threshold."
    );
    metrics::describe_gauge!(
        LEAKS_CURRENT,
        "Connections held longer than the leak threshold now."
    );
}

impl Handles {
    /// Registers the pool's handles with the recorder installed now. With a recorder and a
    /// non-zero `gauge_interval`, the count gauges are set to zero (the pool is empty) and
    /// then published every interval by the shared thread from `source`; otherwise the pool
    /// publishes them on every change through [`counts`](Self::counts).
    pub(super) fn register(
        name: &str,
        limits: &Limits,
        gauge_interval: Duration,
        source: Weak<dyn GaugeSource>,
    ) -> Self {
        describe();
        let pool = name.to_owned();
        let recording = recording();
        let gauges = CountGauges::register(name);
        let wait_time = metrics::histogram!(WAIT_TIME, POOL_NAME => pool.clone());
        let use_time = metrics::histogram!(USE_TIME, POOL_NAME => pool.clone());
        let counts = if recording && !gauge_interval.is_zero() && gauge_publisher::running() {
            gauges.set(0, 0, 0);
            let entry = Arc::new(Entry {
                gauges,
                source,
                wait_time: ToRecorder::new(wait_time.clone()),
                use_time: ToRecorder::new(use_time.clone()),
            });
            gauge_publisher::schedule(&entry, gauge_interval);
            Counts::Scheduled(entry)
        } else {
            Counts::OnChange(parking_lot::Mutex::new(0), gauges)
        };
        let counter = |metric: &'static str| metrics::counter!(metric, POOL_NAME => pool.clone());
        let labelled = |metric: &'static str, key: &'static str, value: &'static str| metrics::counter!(metric, POOL_NAME => pool.clone(), key => value);
        if let Some(max) = limits.max_open {
            metrics::gauge!(CONNECTION_MAX, POOL_NAME => pool.clone()).set(max as f64);
        }
        if let Some(max) = limits.max_idle {
            metrics::gauge!(IDLE_MAX, POOL_NAME => pool.clone()).set(max as f64);
        }
        metrics::gauge!(IDLE_MIN, POOL_NAME => pool.clone()).set(0.0);
        let reset = |action: usize, outcome: &'static str| {
            metrics::counter!(
                RESETS,
                POOL_NAME => pool.clone(),
                RESET_ACTION => RESET_ACTIONS[action].as_str(),
                RESET_OUTCOME => outcome
            )
        };
        Handles {
            recording,
            counts,
            leaks_current: metrics::gauge!(LEAKS_CURRENT, POOL_NAME => pool.clone()),
            timeouts: counter(TIMEOUTS),
            create_time: metrics::histogram!(CREATE_TIME, POOL_NAME => pool.clone()),
            wait_time,
            use_time,
            overflow_opened: counter(OVERFLOW_OPENED),
            overflow_closed: counter(OVERFLOW_CLOSED),
            resets: [
                [reset(0, "ok"), reset(0, "error")],
                [reset(1, "ok"), reset(1, "error")],
            ],
            recycles: RecycleReason::ALL.map(|r| labelled(RECYCLES, RECYCLE_REASON, r.as_str())),
            invalidations: INVALIDATE_REASONS
                .map(|r| labelled(INVALIDATIONS, INVALIDATE_REASON, r)),
            pre_ping_failures: counter(PRE_PING_FAILURES),
            closes: CloseReason::ALL.map(|r| labelled(CLOSES, CLOSE_REASON, r.as_str())),
            refusals: Refusal::ALL.map(|r| labelled(REFUSALS, REFUSAL_REASON, r.as_str())),
            server_budget: metrics::gauge!(SERVER_BUDGET, POOL_NAME => pool.clone()),
            leaks_suspected: counter(LEAKS_SUSPECTED),
        }
    }

    /// The server's connection budget, as read or reported.
    pub(super) fn server_budget(&self, connections: usize) {
        self.server_budget.set(connections as f64);
    }

    /// Whether a recorder took the handles (else the durations publish nothing).
    #[inline]
    pub(super) fn is_recording(&self) -> bool {
        self.recording
    }

    /// Whether the pool publishes the counts itself, on every change: a recorder took the
    /// handles and no publisher thread does it.
    #[inline]
    pub(super) fn wants_counts(&self) -> bool {
        self.recording && matches!(self.counts, Counts::OnChange(..))
    }

    /// The counts changed; `taken` numbers them in the order they were taken. Publishes
    /// them only when the pool publishes on every change, and only if no later counts were
    /// published already.
    pub(super) fn counts(&self, taken: u64, idle: usize, used: usize, pending: usize) {
        if let Counts::OnChange(last, gauges) = &self.counts {
            let mut last = last.lock();
            if taken >= *last {
                *last = taken;
                gauges.set(idle, used, pending);
            }
        }
    }
}

impl Consumer for Handles {
    #[inline(always)]
    fn on(&self, event: Event<'_>) {
        match event {
            // Aggregated when the publisher thread runs for this pool, else recorded at once.
            Event::Waited(took) => match &self.counts {
                Counts::Scheduled(entry) => entry.wait_time.record(took),
                Counts::OnChange(..) => self.wait_time.record(took.as_secs_f64()),
            },
            Event::Returned {
                used: Some(took), ..
            } => match &self.counts {
                Counts::Scheduled(entry) => entry.use_time.record(took),
                Counts::OnChange(..) => self.use_time.record(took.as_secs_f64()),
            },
            Event::Connected(took) => self.create_time.record(took.as_secs_f64()),
            Event::TimedOut(_) => self.timeouts.increment(1),
            Event::OverflowOpened => self.overflow_opened.increment(1),
            Event::OverflowClosed => self.overflow_closed.increment(1),
            Event::ResetDone {
                action,
                error,
                pooled: true,
            } => {
                self.resets[reset_index(action)][usize::from(error.is_some())].increment(1);
            }
            Event::Recycled { why, .. } => self.recycles[why.index()].increment(1),
            Event::Invalidated { reason, .. } => {
                self.invalidations[invalidate_index(reason)].increment(1);
            }
            Event::PrePingFailed { .. } => self.pre_ping_failures.increment(1),
            Event::Closed { reason, .. } => self.closes[reason.index()].increment(1),
            Event::ConnectFailed { reason, .. } => self.refusals[reason.index()].increment(1),
            Event::LeakSuspected { current, .. } => {
                self.leaks_suspected.increment(1);
                self.leaks_current.set(current as f64);
            }
            Event::LeakReturned { current, .. } => self.leaks_current.set(current as f64),
            // The rest are log lines only.
            _ => {}
        }
    }
}
