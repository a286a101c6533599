//! An OpenTelemetry SDK meter provider read by opentelemetry-prometheus (default
//! configuration), and its registry rendered as Prometheus text.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

/// The provider and the registry its reader fills.
pub fn meter_provider() -> (
    opentelemetry_sdk::metrics::SdkMeterProvider,
    prometheus::Registry,
) {
    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(exporter)
        .build();
    (provider, registry)
}

/// What a scrape of `registry` reads (the provider collects first).
pub fn scrape(registry: &prometheus::Registry) -> String {
    let mut text = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut text,
    )
    .unwrap();
    String::from_utf8(text).unwrap()
}
