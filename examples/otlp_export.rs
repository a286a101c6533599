//! Export a pool's spans and metrics over OTLP/gRPC (to an OpenTelemetry Collector, Jaeger,
//! Tempo, ...), with `tracing-opentelemetry` for the spans and the OpenTelemetry metrics API
//! for the metrics.
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 cargo run --example otlp_export
//! ```
//! Without a collector listening, the exports fail and the example still runs to the end.
use std::error::Error;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::ConnectionManager;
use diesel::SqliteConnection;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use poolscope::{Pool, ResetOnReturn};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer, SubscriberExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:4317".to_owned());

    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_timeout(Duration::from_secs(3))
        .build()?;
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans)
        .build();
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_timeout(Duration::from_secs(3))
        .build()?;
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(metrics)
                .with_interval(Duration::from_secs(5))
                .build(),
        )
        .build();
    // Pools take the global meter provider as it is when they are built.
    opentelemetry::global::set_meter_provider(meter_provider.clone());

    let tracer = tracer_provider.tracer("poolscope-example");
    // The SDK exports from the thread that ends a span: run the pool on a blocking thread.
    tokio::task::spawn_blocking(move || -> Result<(), Box<dyn Error + Send + Sync>> {
        // Only poolscope's spans and lines: not the exporter's own (tonic, h2, tower).
        let poolscope_only = || Targets::new().with_target("poolscope", Level::TRACE);
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(poolscope_only()),
            )
            .with(tracing_subscriber::fmt::layer().with_filter(poolscope_only()));
        tracing::subscriber::with_default(subscriber, || {
            let path = std::env::temp_dir().join("poolscope-otlp-example.db");
            let pool = Pool::builder()
                .name("otlp-example")
                .db_system_name("sqlite")
                .pool_size(2)
                .max_overflow(1)
                .reset_on_return(ResetOnReturn::None)
                .echo_pool(poolscope::EchoPool::Info)
                .build(ConnectionManager::<SqliteConnection>::new(
                    path.display().to_string(),
                ))?;
            for _ in 0..5 {
                let held: Vec<_> = (0..3).map(|_| pool.get()).collect::<Result<_, _>>()?;
                for mut conn in held {
                    conn.batch_execute("SELECT 1")?;
                }
            }
            println!("{}", pool.status());
            Ok(())
        })
    })
    .await??;

    tokio::task::spawn_blocking(move || {
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
    })
    .await?;
    println!("sent to {endpoint} (if nothing listens there, the exports failed: the SDK reports that under its own `opentelemetry` tracing target, filtered out here)");
    Ok(())
}
