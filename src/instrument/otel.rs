//! Metrics through the OpenTelemetry metrics API. Counts are observed from the pool at
//! collection time (no hot-path cost); `wait_time` and `use_time` are aggregated by the pool
//! and handed to the SDK from the connection-count callback as it collects (`batched.rs`,
//! unless `gauge_interval` is zero); counters and
//! the rarer histograms are recorded as they happen, with their attribute sets built once per
//! pool.

use std::sync::{Arc, Weak};

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;

use super::batched::ToMeter;
use super::kinds::{invalidate_index, reset_index, INVALIDATE_REASONS, RESET_ACTIONS};
use super::names::*;
use super::Consumer;
use super::{GaugeSource, Limits};
use crate::event::Event;
use crate::reasons::{CloseReason, RecycleReason};
use crate::refusal::Refusal;

pub(super) struct Handles {
    pool: Arc<[KeyValue]>,
    /// `wait_time` and `use_time` aggregated, flushed as the SDK collects; `None` when each
    /// is recorded as it happens (`gauge_interval` zero).
    batched: Option<Arc<ToMeter>>,
    timeouts: Counter<u64>,
    create_time: Histogram<f64>,
    wait_time: Histogram<f64>,
    use_time: Histogram<f64>,
    overflow_opened: Counter<u64>,
    overflow_closed: Counter<u64>,
    resets: Counter<u64>,
    reset_attrs: [[Vec<KeyValue>; 2]; 2],
    recycles: Counter<u64>,
    recycle_attrs: [Vec<KeyValue>; 3],
    invalidations: Counter<u64>,
    invalidate_attrs: [Vec<KeyValue>; 5],
    pre_ping_failures: Counter<u64>,
    closes: Counter<u64>,
    close_attrs: [Vec<KeyValue>; 7],
    refusals: Counter<u64>,
    refusal_attrs: [Vec<KeyValue>; 4],
    leaks_suspected: Counter<u64>,
}

/// Whether `meter` records anything: OpenTelemetry's no-op meter (what the global provider
/// gives until one is installed) is the one instrument provider with no state at all.
pub(super) fn recording(meter: &Meter) -> bool {
    std::mem::size_of_val(meter.f64_histogram(USE_TIME).instrument_provider) != 0
}

fn with(pool: &[KeyValue], key: &'static str, value: &'static str) -> Vec<KeyValue> {
    let mut attrs = pool.to_vec();
    attrs.push(KeyValue::new(key, value));
    attrs
}

fn observed<T>(source: &Weak<dyn GaugeSource>, read: impl Fn(&super::Gauges) -> T) -> Option<T> {
    source.upgrade().map(|s| read(&s.gauges()))
}

impl Handles {
    pub(super) fn register(
        meter: &Meter,
        name: &str,
        limits: &Limits,
        source: Weak<dyn GaugeSource>,
        aggregate: bool,
        server_budget: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Self {
        let pool: Arc<[KeyValue]> = Arc::new([KeyValue::new(POOL_NAME, name.to_owned())]);
        let attrs = pool.clone();
        meter
            .i64_observable_gauge(SERVER_BUDGET)
            .with_unit("{connection}")
            .with_description(
                "Most connections the server admits for the pool's user and database.",
            )
            .with_callback(move |obs| {
                // 0 until read or reported, as the facade's gauge (the Fleet row ignores 0).
                let budget = server_budget.load(std::sync::atomic::Ordering::Relaxed);
                obs.observe(budget as i64, &attrs);
            })
            .build();
        let idle_attrs = with(&pool, STATE, "idle");
        let used_attrs = with(&pool, STATE, "used");
        let seconds = |metric: &'static str, description: &'static str| {
            meter
                .f64_histogram(metric)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        let wait_time = seconds(WAIT_TIME, "Time to obtain a connection from the pool.");
        let use_time = seconds(USE_TIME, "Time between checkout and return.");
        let batched = aggregate.then(|| {
            Arc::new(ToMeter::new(
                wait_time.clone(),
                use_time.clone(),
                pool.clone(),
            ))
        });
        let flush = batched.as_ref().map(Arc::downgrade);
        let src = source.clone();
        meter
            .i64_observable_up_down_counter(CONNECTION_COUNT)
            .with_unit("{connection}")
            .with_description("Open connections by state (idle, used).")
            .with_callback(move |obs| {
                // The SDK runs the observable instruments' callbacks before it reads the
                // histograms: the durations aggregated since the last collection go first.
                if let Some(batched) = flush.as_ref().and_then(Weak::upgrade) {
                    batched.flush();
                }
                if let Some(g) = observed(&src, |g| (g.idle, g.used)) {
                    obs.observe(g.0 as i64, &idle_attrs);
                    obs.observe(g.1 as i64, &used_attrs);
                }
            })
            .build();
        let src = source.clone();
        let attrs = pool.clone();
        meter
            .i64_observable_up_down_counter(PENDING_REQUESTS)
            .with_unit("{request}")
            .with_description("Callers waiting for a connection.")
            .with_callback(move |obs| {
                if let Some(pending) = observed(&src, |g| g.pending) {
                    obs.observe(pending as i64, &attrs);
                }
            })
            .build();
        let src = source;
        let attrs = pool.clone();
        meter
            .i64_observable_up_down_counter(LEAKS_CURRENT)
            .with_unit("{connection}")
            .with_description("Connections held longer than the leak threshold now.")
            .with_callback(move |obs| {
                if let Some(leaks) = observed(&src, |g| g.leaks) {
                    obs.observe(leaks as i64, &attrs);
                }
            })
            .build();
        let fixed = [
            (
                CONNECTION_MAX,
                limits.max_open,
                "Most connections the pool may open at once.",
            ),
            (
                IDLE_MAX,
                limits.max_idle,
                "Most idle connections the pool keeps.",
            ),
            (
                IDLE_MIN,
                Some(0),
                "Idle connections the pool keeps at least.",
            ),
        ];
        for (metric, value, description) in fixed {
            let Some(value) = value else { continue };
            let attrs = pool.clone();
            meter
                .i64_observable_up_down_counter(metric)
                .with_unit("{connection}")
                .with_description(description)
                .with_callback(move |obs| obs.observe(value as i64, &attrs))
                .build();
        }
        let counter = |metric: &'static str, unit: &'static str, description: &'static str| {
            meter
                .u64_counter(metric)
                .with_unit(unit)
                .with_description(description)
                .build()
        };
        let handles = Handles {
            batched,
            timeouts: counter(
                TIMEOUTS,
                "{timeout}",
                "Checkouts that timed out waiting for a connection.",
            ),
            create_time: seconds(CREATE_TIME, "Time to open a connection."),
            wait_time,
            use_time,
            overflow_opened: counter(
                OVERFLOW_OPENED,
                "{connection}",
                "Connections opened beyond pool_size.",
            ),
            overflow_closed: counter(
                OVERFLOW_CLOSED,
                "{connection}",
                "Overflow connections closed on return.",
            ),
            resets: counter(
                RESETS,
                "{reset}",
                "Resets on return, by action and outcome.",
            ),
            reset_attrs: RESET_ACTIONS.map(|action| {
                ["ok", "error"].map(|outcome| {
                    let mut attrs = with(&pool, RESET_ACTION, action.as_str());
                    attrs.push(KeyValue::new(RESET_OUTCOME, outcome));
                    attrs
                })
            }),
            recycles: counter(
                RECYCLES,
                "{connection}",
                "Pooled connections replaced at checkout, by reason.",
            ),
            recycle_attrs: RecycleReason::ALL.map(|r| with(&pool, RECYCLE_REASON, r.as_str())),
            invalidations: counter(
                INVALIDATIONS,
                "{connection}",
                "Connections invalidated, by reason.",
            ),
            invalidate_attrs: INVALIDATE_REASONS.map(|r| with(&pool, INVALIDATE_REASON, r)),
            pre_ping_failures: counter(
                PRE_PING_FAILURES,
                "{ping}",
                "Pre-pings that found a dead connection.",
            ),
            closes: counter(CLOSES, "{connection}", "Connections closed, by reason."),
            close_attrs: CloseReason::ALL.map(|r| with(&pool, CLOSE_REASON, r.as_str())),
            refusals: counter(
                REFUSALS,
                "{connect}",
                "Connects that failed, by reason (server_capacity: the server at its budget).",
            ),
            refusal_attrs: Refusal::ALL.map(|r| with(&pool, REFUSAL_REASON, r.as_str())),
            leaks_suspected: counter(
                LEAKS_SUSPECTED,
                "{connection}",
                "Connections held longer than the leak threshold.",
            ),
            pool,
        };
        handles.start_at_zero();
        handles
    }

    /// Adds 0 to every counter series, so that each exists from the pool's build: a series
    /// first seen with 1 makes Prometheus' `increase()` miss that first event (the facade's
    /// exporter shows registered series at 0 already).
    fn start_at_zero(&self) {
        for counter in [
            &self.timeouts,
            &self.overflow_opened,
            &self.overflow_closed,
            &self.pre_ping_failures,
            &self.leaks_suspected,
        ] {
            counter.add(0, &self.pool);
        }
        for attrs in self.reset_attrs.iter().flatten() {
            self.resets.add(0, attrs);
        }
        for attrs in &self.recycle_attrs {
            self.recycles.add(0, attrs);
        }
        for attrs in &self.invalidate_attrs {
            self.invalidations.add(0, attrs);
        }
        for attrs in &self.close_attrs {
            self.closes.add(0, attrs);
        }
        for attrs in &self.refusal_attrs {
            self.refusals.add(0, attrs);
        }
    }
}

impl Consumer for Handles {
    #[inline(always)]
    fn on(&self, event: Event<'_>) {
        match event {
            // Aggregated until the SDK collects, else (`gauge_interval` zero) recorded at once.
            Event::Waited(took) => match &self.batched {
                Some(batched) => batched.wait_time.record(took),
                None => self.wait_time.record(took.as_secs_f64(), &self.pool),
            },
            Event::Returned {
                used: Some(took), ..
            } => match &self.batched {
                Some(batched) => batched.use_time.record(took),
                None => self.use_time.record(took.as_secs_f64(), &self.pool),
            },
            Event::Connected(took) => self.create_time.record(took.as_secs_f64(), &self.pool),
            Event::TimedOut(_) => self.timeouts.add(1, &self.pool),
            Event::OverflowOpened => self.overflow_opened.add(1, &self.pool),
            Event::OverflowClosed => self.overflow_closed.add(1, &self.pool),
            Event::ResetDone {
                action,
                error,
                pooled: true,
            } => self.resets.add(
                1,
                &self.reset_attrs[reset_index(action)][usize::from(error.is_some())],
            ),
            Event::Recycled { why, .. } => self.recycles.add(1, &self.recycle_attrs[why.index()]),
            Event::Invalidated { reason, .. } => self
                .invalidations
                .add(1, &self.invalidate_attrs[invalidate_index(reason)]),
            Event::PrePingFailed { .. } => self.pre_ping_failures.add(1, &self.pool),
            Event::Closed { reason, .. } => self.closes.add(1, &self.close_attrs[reason.index()]),
            Event::ConnectFailed { reason, .. } => {
                self.refusals.add(1, &self.refusal_attrs[reason.index()])
            }
            Event::LeakSuspected { .. } => self.leaks_suspected.add(1, &self.pool),
            // The current leak count is observed from the pool when the SDK collects; the
            // rest are log lines only.
            _ => {}
        }
    }
}
