//! echo_pool: SQLAlchemy's pool log lines as `tracing` events under target `poolscope::pool`,
//! captured through an ordinary subscriber (as L:`PoolLoggingTest` does), on both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::pool_lines::PoolLines;
use common::Db;
use poolscope::EchoPool;
use tracing_subscriber::layer::SubscriberExt;

/// Each `poolscope::pool` event as `LEVEL target: message pool=<name>`, the way a plain log
/// line reads.
fn capture(front: Front, echo: EchoPool) -> Vec<String> {
    let lines = PoolLines::default();
    let subscriber = tracing_subscriber::registry().with(lines.clone());
    tracing::subscriber::with_default(subscriber, || scenario(front, echo));
    let captured = lines.0.lock().unwrap();
    captured
        .iter()
        // Not other libraries' lines (OpenTelemetry's own diagnostics, say).
        .filter(|line| line.target == "poolscope::pool")
        .map(|line| {
            let level = format!("{:>5}", line.level.to_string());
            format!(
                "{level} {}: {} pool={}",
                line.target, line.message, line.pool
            )
        })
        .collect()
}

fn scenario(front: Front, echo: EchoPool) {
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts {
            name: Some("orders".into()),
            echo,
            ..Opts::default()
        },
    );
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    pool.get().unwrap().invalidate();
    pool.dispose();
}

fn debug_logs_every_checkout_return_and_reset_in_sqlalchemy_words(front: Front) {
    let lines = capture(front, EchoPool::Debug);
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

fn info_logs_only_invalidations_and_dispose(front: Front) {
    let lines = capture(front, EchoPool::Info);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("Invalidate connection"));
    assert!(lines[1].contains("Pool disposed."));
}

fn off_logs_nothing(front: Front) {
    assert!(capture(front, EchoPool::Off).is_empty());
}

/// A `Write` into a shared buffer, for a plain `fmt` subscriber.
#[derive(Clone, Default)]
struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a user sees with `tracing_subscriber::fmt()` at DEBUG: a timeout has its INFO line,
/// and a line inside a checkout does not repeat the checkout span's fields (the pool's name,
/// class and `db.system.name`) in front of its own `pool=`.
fn a_timeout_has_its_line_and_lines_name_the_pool_once(front: Front) {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let pool = TestPool::build(
            front,
            &Db::new(),
            Opts {
                name: Some("orders".into()),
                db_system: Some("postgresql".into()),
                echo: EchoPool::Debug,
                ..Opts::queue(1, 0, std::time::Duration::from_millis(50))
            },
        );
        let held = pool.get().unwrap();
        assert!(
            pool.get().is_err(),
            "a second checkout from a pool of 1 + 0"
        );
        drop(held);
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("poolscope::pool"))
        .collect();
    assert!(
        lines.iter().any(|l| l.ends_with(
            "INFO poolscope::pool: Checkout failed: QueuePool limit of size 1 overflow 0 \
             reached, connection timed out, timeout 0.05 pool=orders"
        )),
        "{text}"
    );
    assert!(lines.len() >= 4, "{text}");
    for line in lines {
        assert_eq!(line.matches("orders").count(), 1, "{line}");
        assert!(!line.contains("poolscope.checkout{"), "{line}");
    }
}

on_both_fronts!(
    a_timeout_has_its_line_and_lines_name_the_pool_once,
    debug_logs_every_checkout_return_and_reset_in_sqlalchemy_words,
    info_logs_only_invalidations_and_dispose,
    off_logs_nothing,
);
