//! A tracing layer that records every span field as `span name / field = value`, the oracle
//! of the span tests (shared by the Diesel and SeaORM adapters' tests).
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Every span field recorded, as `span name / field = value`.
#[derive(Clone, Default)]
pub struct SpanFields(pub Arc<Mutex<Vec<String>>>);

struct Visit<'a>(&'a SpanFields, &'static str);

impl tracing::field::Visit for Visit<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        (self.0)
            .0
            .lock()
            .unwrap()
            .push(format!("{} / {} = {value}", self.1, field.name()));
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S>
    for SpanFields
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        attrs.record(&mut Visit(self, attrs.metadata().name()));
    }
    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            values.record(&mut Visit(self, span.metadata().name()));
        }
    }
}
