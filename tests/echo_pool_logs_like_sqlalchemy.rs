//! echo_pool: SQLAlchemy's pool log lines as `tracing` events under target `poolscope::pool`,
//! captured through an ordinary subscriber (as L:`PoolLoggingTest` does).
mod common;

use common::{builder, Db};
use poolscope::EchoPool;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::{Layer, SubscriberExt};

/// Records each `poolscope::pool` event as `LEVEL target: message pool=<name>`, the way a
/// plain log line reads.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

#[derive(Default)]
struct Fields {
    message: String,
    pool: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "pool" => self.pool = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "poolscope::pool" {
            return; // other libraries' lines (OpenTelemetry's own diagnostics, say)
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = format!("{:>5}", event.metadata().level().to_string());
        self.0.lock().unwrap().push(format!(
            "{level} {}: {} pool={}",
            event.metadata().target(),
            fields.message,
            fields.pool
        ));
    }
}

fn capture(echo: EchoPool, scenario: impl FnOnce(EchoPool)) -> Vec<String> {
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(lines.clone());
    tracing::subscriber::with_default(subscriber, || scenario(echo));
    let captured = lines.0.lock().unwrap().clone();
    captured
}

fn scenario(echo: EchoPool) {
    let pool = builder()
        .name("orders")
        .echo_pool(echo)
        .build(Db::new().manager())
        .unwrap();
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    pool.get().unwrap().invalidate();
    pool.dispose();
}

#[test]
fn debug_logs_every_checkout_return_and_reset_in_sqlalchemy_words() {
    let lines = capture(EchoPool::Debug, scenario);
    let expected = [
        "DEBUG poolscope::pool: Created new connection 1 pool=orders",
        "DEBUG poolscope::pool: Connection 1 checked out from pool pool=orders",
        "DEBUG poolscope::pool: Connection 1 being returned to pool pool=orders",
        "DEBUG poolscope::pool: Connection 1 rollback-on-return pool=orders",
        "DEBUG poolscope::pool: Connection 1 checked out from pool pool=orders",
        "DEBUG poolscope::pool: Connection 1 being returned to pool pool=orders",
        "DEBUG poolscope::pool: Connection 1 rollback-on-return pool=orders",
        "DEBUG poolscope::pool: Connection 1 checked out from pool pool=orders",
        " INFO poolscope::pool: Invalidate connection 1 (reason: requested) pool=orders",
        "DEBUG poolscope::pool: Closing connection 1 pool=orders",
        " INFO poolscope::pool: Pool disposed. Pool size: 5  Connections in pool: 0 Current Overflow: -5 Current Checked out connections: 0 pool=orders",
    ];
    // Connection ids are process-wide: normalise the first one seen to 1.
    let first = lines[0].split_whitespace().nth(5).unwrap().to_owned();
    let lines: Vec<String> = lines
        .iter()
        .map(|l| {
            l.replace(&format!("connection {first} "), "connection 1 ")
                .replace(&format!("Connection {first} "), "Connection 1 ")
        })
        .collect();
    assert_eq!(lines, expected);
}

#[test]
fn info_logs_only_invalidations_and_dispose() {
    let lines = capture(EchoPool::Info, scenario);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("Invalidate connection"));
    assert!(lines[1].contains("Pool disposed."));
}

#[test]
fn off_logs_nothing() {
    assert!(capture(EchoPool::Off, scenario).is_empty());
}
