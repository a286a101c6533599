//! `tracing` spans for checkout, connect and reset, with OpenTelemetry attribute names
//! (bridge them with `tracing-opentelemetry`). OpenTelemetry has no convention for pool spans
//! yet; these are poolscope's:
//!
//! | span | attributes |
//! |---|---|
//! | `poolscope.checkout`: from `get()` to a usable connection (waiting, connecting, pre-ping) | `db.client.connection.pool.name`, `db.system.name` (when set), `poolscope.pool.class`, `poolscope.checkout.outcome` = `idle` / `new` / `overflow` / `timeout`, and on failure `error.type` and `otel.status_code` = `ERROR` |
//! | `poolscope.connect`: the manager opening a connection (child of the checkout) | `db.client.connection.pool.name`, `db.system.name`, `error.type` on failure |
//! | `poolscope.reset`: the rollback or commit on return | `db.client.connection.pool.name`, `db.system.name`, `poolscope.reset.action`, `error.type` on failure |
//!
//! All three are INFO spans under target `poolscope::pool`.
//!
//! A checkout that hands out an idle connection at once (no wait, no connect, no pre-ping,
//! no checkout listener) creates its span knowing its outcome and does not enter it: nothing
//! runs inside it, and under tracing-opentelemetry an enter and exit (which attach and
//! detach the OpenTelemetry context) and recording the outcome afterwards cost more than the
//! pool's cycle. It is the caller's span's child like any other. Every other checkout's span
//! is entered around its waits, connects, pings and listeners, and records its outcome when
//! it is known.

// Only a front uses this module: unused in the hooks-only build (neither front).
#![cfg_attr(
    not(any(feature = "blocking", feature = "tokio")),
    allow(dead_code, unused_imports)
)]

use std::time::Duration;

use crate::emit::Emit;
use crate::event::Event;
use crate::statistics::Finished;
use crate::stopwatch::Instant;

use tracing::field::Empty;
use tracing::Span;

use crate::config::{Config, ResetAction};

/// Records `db.system.name` when the pool has one (an empty attribute would be noise). A span
/// no subscriber wants becomes `Span::none()`, so that cloning, entering and recording it cost
/// nothing on the checkout path (a disabled span still carries its metadata for `log`).
fn with_system(span: Span, config: &Config) -> Span {
    if span.is_disabled() {
        return Span::none();
    }
    if let Some(system) = config.db_system.as_deref() {
        span.record("db.system.name", system);
    }
    span
}

pub(crate) fn connect_span(config: &Config) -> Span {
    let span = tracing::info_span!(
        target: "poolscope::pool",
        "poolscope.connect",
        "db.client.connection.pool.name" = &*config.name,
        "db.system.name" = Empty,
        "error.type" = Empty,
        "otel.status_code" = Empty,
    );
    with_system(span, config)
}

pub(crate) fn reset_span(config: &Config, action: ResetAction) -> Span {
    let span = tracing::info_span!(
        target: "poolscope::pool",
        "poolscope.reset",
        "db.client.connection.pool.name" = &*config.name,
        "db.system.name" = Empty,
        "poolscope.reset.action" = action.as_str(),
        "error.type" = Empty,
        "otel.status_code" = Empty,
    );
    with_system(span, config)
}

/// Marks a span failed with `error_type`.
pub(crate) fn fail(span: &Span, error_type: &'static str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "ERROR");
}

/// One checkout's span and clock.
pub(crate) struct CheckoutTrace {
    pub(crate) span: Span,
    pub(crate) clock: CheckoutClock,
}

/// A checkout's clock. It starts only when the checkout has to wait or do I/O: an idle
/// connection handed out at once records a wait of zero without reading it.
pub(crate) struct CheckoutClock {
    timed: bool,
    started: Option<Instant>,
    /// The pool counts [`Statistics`](crate::Statistics).
    counted: bool,
    /// When the checkout first waited for a slot or started opening a connection (a pre-ping
    /// alone is not waiting, as bb8 counts it); read only when the pool counts statistics.
    waiting_since: Option<Instant>,
}

/// The checkout span; `outcome` when it is known at creation (an idle connection handed
/// out at once), else recorded when it is (`poolscope.checkout.outcome`).
pub(crate) fn checkout_span(config: &Config, outcome: Option<&'static str>) -> Span {
    let span = tracing::info_span!(
        target: "poolscope::pool",
        "poolscope.checkout",
        "db.client.connection.pool.name" = &*config.name,
        "db.system.name" = Empty,
        "poolscope.pool.class" = config.class.sqlalchemy_name(),
        "poolscope.checkout.outcome" = outcome,
        "error.type" = Empty,
        "otel.status_code" = Empty,
    );
    with_system(span, config)
}

impl CheckoutTrace {
    /// A checkout's span and clock; `outcome` as [`checkout_span`].
    pub(crate) fn start(pool: &impl Emit, outcome: Option<&'static str>) -> Self {
        let config = pool.config();
        let statistics = pool.instruments().statistics();
        if let Some(statistics) = statistics {
            statistics.started();
        }
        CheckoutTrace {
            span: checkout_span(config, outcome),
            clock: CheckoutClock {
                timed: pool.instruments().timed() || config.leak_threshold.is_some(),
                started: None,
                counted: statistics.is_some(),
                waiting_since: None,
            },
        }
    }

    /// A checkout that was ready at once ([`Started::AtOnce`]) with this outcome: its span is
    /// born knowing the outcome and is not entered, as nothing runs inside it (see the
    /// module doc). Returns the checkout time, as [`CheckoutClock::handed_out`].
    ///
    /// [`Started::AtOnce`]: crate::core::Started::AtOnce
    #[inline]
    pub(crate) fn at_once(pool: &impl Emit, outcome: &'static str) -> Option<Instant> {
        let clock = CheckoutTrace::start(pool, Some(outcome)).clock;
        clock.count(pool, Finished::Served);
        clock.handed_out(pool)
    }
}

impl CheckoutClock {
    /// The checkout failed with `error_type`; the time it waited still counts in wait_time.
    pub(crate) fn failed(&self, span: &Span, pool: &impl Emit, error_type: &'static str) {
        self.count(
            pool,
            match error_type {
                "timeout" | "connect_timeout" => Finished::TimedOut,
                _ => Finished::Failed,
            },
        );
        if self.timed {
            let waited = self.started.map_or(Duration::ZERO, |s| s.elapsed());
            pool.emit(Event::Waited(waited));
        }
        if error_type == "timeout" {
            span.record("poolscope.checkout.outcome", "timeout");
        }
        fail(span, error_type);
    }

    /// The checkout is about to wait for a slot or open a connection: start the clock (once).
    pub(crate) fn mark(&mut self) {
        if self.counted && self.waiting_since.is_none() {
            let now = Instant::now();
            self.waiting_since = Some(now);
            if self.timed && self.started.is_none() {
                self.started = Some(now);
            }
        }
        self.mark_ping();
    }

    /// The checkout is about to pre-ping its connection: start the clock (once) for the
    /// metrics' wait time, which includes pings; the statistics do not count it as waiting.
    pub(crate) fn mark_ping(&mut self) {
        if self.timed && self.started.is_none() {
            self.started = Some(Instant::now());
        }
    }

    /// Counts the checkout's end in the pool's statistics, if it counts them.
    fn count(&self, pool: &impl Emit, how: Finished) {
        if !self.counted {
            return;
        }
        if let Some(statistics) = pool.instruments().statistics() {
            statistics.finished(how, self.waiting_since.map(|since| since.elapsed()));
        }
    }

    /// The checkout succeeded: records the outcome on `span` and the wait; returns the
    /// checkout time.
    pub(crate) fn ready(
        &self,
        span: &Span,
        pool: &impl Emit,
        outcome: &'static str,
    ) -> Option<Instant> {
        span.record("poolscope.checkout.outcome", outcome);
        self.count(pool, Finished::Served);
        self.handed_out(pool)
    }

    /// The checkout succeeded, its span already knowing the outcome: records the wait;
    /// returns the checkout time.
    #[inline]
    pub(crate) fn handed_out(&self, pool: &impl Emit) -> Option<Instant> {
        if !self.timed {
            return None;
        }
        let now = Instant::now();
        let waited = self.started.map_or(Duration::ZERO, |started| now - started);
        pool.emit(Event::Waited(waited));
        Some(now)
    }
}

/// Times a connect for `create_time` (successful connects only).
pub(crate) struct ConnectTimer(Option<Instant>);

impl ConnectTimer {
    pub(crate) fn start(pool: &impl Emit) -> Self {
        ConnectTimer(pool.instruments().timed().then(Instant::now))
    }

    pub(crate) fn done<C, E>(self, pool: &impl Emit, span: &Span, result: &Result<C, E>) {
        match result {
            Ok(_) => {
                if let Some(started) = self.0 {
                    pool.emit(Event::Connected(started.elapsed()));
                }
            }
            Err(_) => fail(span, "connect"),
        }
    }
}
