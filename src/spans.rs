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

use std::time::Duration;

use crate::stopwatch::Instant;

use tracing::field::Empty;
use tracing::Span;

use crate::config::{Config, ResetAction};
use crate::core::{Core, Reservation};

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
        "db.client.connection.pool.name" = %config.name,
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
        "db.client.connection.pool.name" = %config.name,
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
}

pub(crate) fn checkout_span(config: &Config) -> Span {
    let span = tracing::info_span!(
        target: "poolscope::pool",
        "poolscope.checkout",
        "db.client.connection.pool.name" = %config.name,
        "db.system.name" = Empty,
        "poolscope.pool.class" = config.class.sqlalchemy_name(),
        "poolscope.checkout.outcome" = Empty,
        "error.type" = Empty,
        "otel.status_code" = Empty,
    );
    with_system(span, config)
}

impl CheckoutTrace {
    pub(crate) fn start<C>(core: &Core<C>) -> Self {
        let config = &core.config;
        CheckoutTrace {
            span: checkout_span(config),
            clock: CheckoutClock {
                timed: core.instruments.timed() || config.leak_threshold.is_some(),
                started: None,
            },
        }
    }

    /// See [`CheckoutClock::mark`].
    pub(crate) fn mark(&mut self) {
        self.clock.mark();
    }

    /// See [`CheckoutClock::ready`].
    pub(crate) fn ready<C>(
        &self,
        core: &Core<C>,
        reservation: &Reservation<'_, C>,
    ) -> Option<Instant> {
        self.clock.ready(&self.span, core, reservation)
    }

    /// The checkout failed with `error_type`; the time it waited still counts in wait_time.
    pub(crate) fn failed<C>(&self, core: &Core<C>, error_type: &'static str) {
        if self.clock.timed {
            let waited = self.clock.started.map_or(Duration::ZERO, |s| s.elapsed());
            core.instruments.waited(waited);
        }
        if error_type == "timeout" {
            self.span.record("poolscope.checkout.outcome", "timeout");
        }
        fail(&self.span, error_type);
    }
}

impl CheckoutClock {
    /// The checkout is about to wait or do I/O: start the clock (once).
    pub(crate) fn mark(&mut self) {
        if self.timed && self.started.is_none() {
            self.started = Some(Instant::now());
        }
    }

    /// The checkout succeeded: records the outcome on `span` and the wait; returns the
    /// checkout time.
    pub(crate) fn ready<C>(
        &self,
        span: &Span,
        core: &Core<C>,
        reservation: &Reservation<'_, C>,
    ) -> Option<Instant> {
        span.record("poolscope.checkout.outcome", reservation.outcome());
        if !self.timed {
            return None;
        }
        let now = Instant::now();
        let waited = self.started.map_or(Duration::ZERO, |started| now - started);
        core.instruments.waited(waited);
        Some(now)
    }
}

/// Times a connect for `create_time` (successful connects only).
pub(crate) struct ConnectTimer(Option<Instant>);

impl ConnectTimer {
    pub(crate) fn start<C>(core: &Core<C>) -> Self {
        ConnectTimer(core.instruments.timed().then(Instant::now))
    }

    pub(crate) fn done<C, E>(self, core: &Core<C>, span: &Span, result: &Result<C, E>) {
        match result {
            Ok(_) => {
                if let Some(started) = self.0 {
                    core.instruments.created(started.elapsed());
                }
            }
            Err(_) => fail(span, "connect"),
        }
    }
}
