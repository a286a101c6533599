//! The OpenTelemetry SDK taking tracing's spans through tracing-opentelemetry, every span
//! sampled and dropped by the exporter: what a pool's spans cost under it, not an exporter's
//! I/O. Shared by the benches that measure spans.

use tracing_subscriber::layer::SubscriberExt;

/// Drops every span it is given: the SDK's processing is measured, not an exporter's I/O.
#[derive(Debug)]
struct Discard;

impl opentelemetry_sdk::trace::SpanExporter for Discard {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

pub fn otel_subscriber() -> (
    impl tracing::Subscriber + Send + Sync,
    opentelemetry_sdk::trace::SdkTracerProvider,
) {
    use opentelemetry::trace::TracerProvider as _;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(layer);
    (subscriber, provider)
}
