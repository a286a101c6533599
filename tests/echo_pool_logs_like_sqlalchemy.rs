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

on_both_fronts!(
    debug_logs_every_checkout_return_and_reset_in_sqlalchemy_words,
    info_logs_only_invalidations_and_dispose,
    off_logs_nothing,
);
