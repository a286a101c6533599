//! A tracing layer that records every event's level, target, `pool` field and message: the
//! oracle of the log-line tests.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::{Context, Layer};

/// One recorded event.
#[derive(Debug, Clone)]
pub struct PoolLine {
    pub level: tracing::Level,
    pub target: String,
    pub pool: String,
    pub message: String,
    /// The `error` field, where the event has one.
    pub error: String,
}

/// Every event recorded so far, in order.
#[derive(Clone, Default)]
pub struct PoolLines(pub Arc<Mutex<Vec<PoolLine>>>);

#[derive(Default)]
struct Fields {
    message: String,
    pool: String,
    error: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "pool" => self.pool = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for PoolLines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push(PoolLine {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            pool: fields.pool,
            message: fields.message,
            error: fields.error,
        });
    }
}
