//! Spans leave the process over real OTLP/gRPC: opentelemetry-otlp's tonic exporter sends
//! them to a receiver this test runs on 127.0.0.1 (opentelemetry-proto's generated service),
//! and the receiver checks names, parentage and attributes.
mod common;

use common::{builder, Db};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tracing_subscriber::layer::SubscriberExt;

struct Receiver(UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            other => Some(format!("{other:?}")),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_real_otlp_grpc_receiver() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent, mut received) = unbounded_channel();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver(sent)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{addr}"))
        .with_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("poolscope-otlp-test");
    tokio::task::spawn_blocking(move || {
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::with_default(subscriber, || {
            let pool = builder()
                .name("otlp")
                .db_system_name("postgresql")
                .build(Db::new().manager())
                .unwrap();
            drop(pool.get().unwrap());
            drop(pool.get().unwrap());
        });
    })
    .await
    .unwrap();

    let mut spans: Vec<Span> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let count = |spans: &[Span], name: &str| spans.iter().filter(|s| s.name == name).count();
    while count(&spans, "poolscope.checkout") < 2 || count(&spans, "poolscope.reset") < 2 {
        let request = tokio::time::timeout_at(deadline, received.recv())
            .await
            .expect("the receiver got the spans within 10 s")
            .unwrap();
        spans.extend(
            request
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans),
        );
    }
    server.abort();

    let checkouts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "poolscope.checkout")
        .collect();
    let outcomes: Vec<_> = checkouts
        .iter()
        .map(|s| attr(s, "poolscope.checkout.outcome").unwrap())
        .collect();
    assert_eq!(outcomes, ["new", "idle"]);
    assert_eq!(
        attr(checkouts[0], "db.client.connection.pool.name").as_deref(),
        Some("otlp")
    );
    assert_eq!(
        attr(checkouts[0], "db.system.name").as_deref(),
        Some("postgresql")
    );
    let connect = spans
        .iter()
        .find(|s| s.name == "poolscope.connect")
        .expect("a connect span");
    assert_eq!(
        connect.parent_span_id, checkouts[0].span_id,
        "connect is a child of the first checkout"
    );
    assert_eq!(connect.trace_id, checkouts[0].trace_id);
    let resets: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "poolscope.reset")
        .collect();
    assert_eq!(resets.len(), 2);
    assert_eq!(
        attr(resets[0], "poolscope.reset.action").as_deref(),
        Some("rollback")
    );
}
