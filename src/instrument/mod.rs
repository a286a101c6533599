//! Metrics for every pool decision, through the `metrics` facade (feature `metrics`, on by
//! default) and the OpenTelemetry metrics API (feature `opentelemetry`). Both paths use the
//! names in [`names`], so their Prometheus output is the same.
//!
//! Without either feature every method here is empty and compiles away.

// The label sets and the gauge source are read only by the metric paths.
#[cfg_attr(
    not(any(feature = "metrics", feature = "opentelemetry")),
    allow(dead_code)
)]
mod kinds;
pub mod names;

use crate::event::Event;
use crate::statistics::Counters;

/// What takes the events: one metrics path.
#[cfg(any(feature = "metrics", feature = "opentelemetry"))]
trait Consumer {
    fn on(&self, event: Event<'_>);
}

#[cfg(any(feature = "metrics", feature = "opentelemetry"))]
mod batched;
#[cfg(feature = "metrics")]
mod facade;
#[cfg(feature = "metrics")]
mod gauge_publisher;
#[cfg(feature = "opentelemetry")]
mod otel;

use std::sync::{Arc, Weak};
#[cfg(any(feature = "metrics", feature = "opentelemetry"))]
use std::time::Duration;

use crate::policy::Limits;

/// The pool's gauges at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gauges {
    /// Idle connections (what `db.client.connection.count{state="idle"}` reports).
    #[cfg_attr(
        not(any(feature = "metrics", feature = "opentelemetry")),
        allow(dead_code)
    )]
    pub(crate) idle: usize,
    /// Idle slots, with or without a connection (SQLAlchemy's `checkedin()`, for `status()`):
    /// an invalidated connection's slot goes back empty and counts here, not in `idle`.
    pub(crate) idle_slots: usize,
    pub(crate) used: usize,
    pub(crate) pending: usize,
    pub(crate) leaks: usize,
}

/// Where pulled instruments (OpenTelemetry's callbacks, the facade's gauge publisher) read
/// the pool's gauges.
pub(crate) trait GaugeSource: Send + Sync {
    #[cfg_attr(
        not(any(feature = "metrics", feature = "opentelemetry")),
        allow(dead_code)
    )]
    fn gauges(&self) -> Gauges;
}

/// How often the `metrics` facade's count gauges are published and its aggregated durations
/// flushed, when the builder does not say.
#[cfg(feature = "metrics")]
pub(crate) const DEFAULT_GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// Where instruments go: which meter the OpenTelemetry path uses, how often the facade's
/// count gauges are published.
#[derive(Clone, Default)]
pub(crate) struct InstrumentOptions {
    #[cfg(feature = "opentelemetry")]
    pub(crate) meter: Option<opentelemetry::metrics::Meter>,
    /// `None`: [`DEFAULT_GAUGE_INTERVAL`]; zero: on every change.
    #[cfg(any(feature = "metrics", feature = "opentelemetry"))]
    pub(crate) gauge_interval: Option<Duration>,
    /// Count [`Statistics`](crate::Statistics) (`PoolBuilder::statistics`).
    pub(crate) statistics: bool,
}

impl std::fmt::Debug for InstrumentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentOptions").finish_non_exhaustive()
    }
}

/// One pool's registered instruments.
pub(crate) struct Instruments {
    #[cfg(feature = "metrics")]
    facade: facade::Handles,
    /// `None` when the meter is OpenTelemetry's no-op one (no provider installed as the pool
    /// was built): its instruments would record nothing, so the pool does not call them.
    #[cfg(feature = "opentelemetry")]
    otel: Option<otel::Handles>,
    /// Whether a recorder or meter provider was there to take durations when the pool was
    /// built; if not, the pool never reads the clock for them.
    timed: bool,
    /// The pool's [`Statistics`](crate::Statistics), when it counts them (a separate
    /// allocation: the counters change on every checkout, the fields around them do not).
    statistics: Option<Box<Counters>>,
    /// The server's connection budget once read or reported (0: unknown), observed by the
    /// OpenTelemetry path.
    server_budget: Arc<std::sync::atomic::AtomicUsize>,
}

#[allow(unused_variables)]
impl Instruments {
    pub(crate) fn register(
        options: &InstrumentOptions,
        name: &str,
        limits: &Limits,
        source: Weak<dyn GaugeSource>,
    ) -> Self {
        #[cfg(feature = "opentelemetry")]
        let meter = options
            .meter
            .clone()
            .unwrap_or_else(|| opentelemetry::global::meter("poolscope"));
        #[cfg(feature = "metrics")]
        let facade = facade::Handles::register(
            name,
            limits,
            options.gauge_interval.unwrap_or(DEFAULT_GAUGE_INTERVAL),
            source.clone(),
        );
        // Durations aggregated until the SDK collects, unless `gauge_interval` is zero.
        #[cfg(feature = "opentelemetry")]
        let aggregate = options.gauge_interval != Some(Duration::ZERO);
        let server_budget = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        #[cfg(feature = "opentelemetry")]
        let otel = otel::recording(&meter).then(|| {
            otel::Handles::register(
                &meter,
                name,
                limits,
                source,
                aggregate,
                Arc::clone(&server_budget),
            )
        });
        let timed = false;
        #[cfg(feature = "metrics")]
        let timed = timed || facade.is_recording();
        #[cfg(feature = "opentelemetry")]
        let timed = timed || otel.is_some();
        Instruments {
            #[cfg(feature = "metrics")]
            facade,
            #[cfg(feature = "opentelemetry")]
            otel,
            timed,
            statistics: options.statistics.then(Box::default),
            server_budget,
        }
    }

    /// The server admits at most `connections` for this pool's user and database: published
    /// as `poolscope.server.connection.budget`.
    pub(crate) fn server_budget(&self, connections: usize) {
        self.server_budget
            .store(connections, std::sync::atomic::Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.facade.server_budget(connections);
    }

    /// The pool's statistics counters, when it counts them.
    #[inline]
    pub(crate) fn statistics(&self) -> Option<&Counters> {
        self.statistics.as_deref()
    }

    /// Whether any instrument wants durations (so the pool reads the clock for wait_time,
    /// use_time and create_time).
    #[inline]
    pub(crate) fn timed(&self) -> bool {
        self.timed
    }

    /// Whether [`counts`](Self::counts) publishes anything: the `metrics` facade's gauges are
    /// pushed by the pool only when a recorder took them and `gauge_interval` is zero (else
    /// the publisher thread reads the counts every interval; the OpenTelemetry path pulls
    /// them when its reader collects). The pool skips counting when it does not.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn wants_counts(&self) -> bool {
        self.facade.wants_counts()
    }

    /// Without the `metrics` feature nothing is pushed.
    #[cfg(not(feature = "metrics"))]
    #[inline]
    pub(crate) fn wants_counts(&self) -> bool {
        false
    }

    /// The counts changed; published only if [`wants_counts`](Self::wants_counts). `taken`
    /// numbers the counts in the order they were taken under the pool's lock: counts taken
    /// before the last published ones are dropped, so the gauges never go back in time
    /// although they are set after the lock is released.
    #[inline]
    pub(crate) fn counts(&self, taken: u64, gauges: Gauges) {
        #[cfg(feature = "metrics")]
        self.facade
            .counts(taken, gauges.idle, gauges.used, gauges.pending);
    }

    /// Hands one decision to every metrics path that records. Inlined into each place an
    /// event is built, where its variant is known: each consumer's `match` folds to one arm.
    #[inline(always)]
    #[allow(unused_variables)]
    pub(crate) fn emit(&self, event: Event<'_>) {
        #[cfg(feature = "metrics")]
        self.facade.on(event);
        #[cfg(feature = "opentelemetry")]
        if let Some(otel) = &self.otel {
            otel.on(event);
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "metrics")]
    #[test]
    fn the_facade_counts_as_recording_only_with_a_recorder() {
        assert!(!super::facade::recording(), "no recorder installed");
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        assert!(metrics::with_local_recorder(
            &recorder,
            super::facade::recording
        ));
    }

    #[cfg(feature = "opentelemetry")]
    #[test]
    fn an_opentelemetry_meter_counts_as_recording_only_from_a_real_provider() {
        use opentelemetry::metrics::MeterProvider;
        let noop = opentelemetry::metrics::NoopMeterProvider::new().meter("poolscope");
        assert!(!super::otel::recording(&noop));
        assert!(!super::otel::recording(&opentelemetry::global::meter(
            "poolscope"
        )));
        let sdk = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
        assert!(super::otel::recording(&sdk.meter("poolscope")));
    }
}
