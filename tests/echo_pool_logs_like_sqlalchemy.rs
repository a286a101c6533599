//! echo_pool: SQLAlchemy's pool log lines as `tracing` events under target `poolscope::pool`,
//! captured through an ordinary subscriber (as L:`PoolLoggingTest` does), on both fronts.
//! The expected sequences are real SQLAlchemy's (2.1.9) for the same scenarios, as
//! `tools/sqlalchemy_echo_pool.py` prints them.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::pool_lines::PoolLines;
use common::{Db, FakeError};
use poolscope::EchoPool;
use tracing_subscriber::layer::SubscriberExt;

/// Each `poolscope::pool` event recorded while `scenario` runs, as `LEVEL message` with
/// the connection ids renumbered 1, 2, ... in order of appearance (ids are process-wide),
/// and ` error=<e>` where the event carries an error field.
fn lines_of(scenario: impl FnOnce()) -> Vec<String> {
    let lines = PoolLines::default();
    let subscriber = tracing_subscriber::registry().with(lines.clone());
    tracing::subscriber::with_default(subscriber, scenario);
    let captured = lines.0.lock().unwrap();
    let mut ids: Vec<String> = Vec::new();
    captured
        .iter()
        // Not other libraries' lines (OpenTelemetry's own diagnostics, say).
        .filter(|line| line.target == "poolscope::pool")
        .map(|line| {
            let mut words: Vec<String> = line.message.split(' ').map(str::to_owned).collect();
            for i in 1..words.len() {
                let after_connection = words[i - 1].eq_ignore_ascii_case("connection");
                if after_connection && words[i].chars().all(|c| c.is_ascii_digit()) {
                    let n = match ids.iter().position(|id| *id == words[i]) {
                        Some(n) => n + 1,
                        None => {
                            ids.push(words[i].clone());
                            ids.len()
                        }
                    };
                    words[i] = n.to_string();
                }
            }
            let mut text = format!("{:>5} {}", line.level.to_string(), words.join(" "));
            if !line.error.is_empty() {
                text.push_str(&format!(" error={}", line.error));
            }
            text
        })
        .collect()
}

fn pool(front: Front, db: &Db, echo: EchoPool, opts: Opts) -> TestPool {
    TestPool::build(
        front,
        db,
        Opts {
            name: Some("orders".into()),
            echo,
            ..opts
        },
    )
}

fn capture(front: Front, echo: EchoPool) -> Vec<String> {
    lines_of(|| {
        let pool = pool(front, &Db::new(), echo, Opts::default());
        drop(pool.get().unwrap());
        drop(pool.get().unwrap());
        pool.get().unwrap().invalidate();
        pool.dispose();
    })
}

fn debug_logs_every_checkout_return_and_reset_in_sqlalchemy_words(front: Front) {
    let expected = [
        "DEBUG Created new connection 1",
        "DEBUG Connection 1 checked out from pool",
        "DEBUG Connection 1 being returned to pool",
        "DEBUG Connection 1 rollback-on-return",
        "DEBUG Connection 1 checked out from pool",
        "DEBUG Connection 1 being returned to pool",
        "DEBUG Connection 1 rollback-on-return",
        "DEBUG Connection 1 checked out from pool",
        // No reason given: SQLAlchemy's `Invalidate connection %r`, and a hard close.
        " INFO Invalidate connection 1",
        "DEBUG Hard-closing connection 1",
        " INFO Pool disposed. Pool size: 5  Connections in pool: 0 Current Overflow: -5 Current Checked out connections: 0",
    ];
    assert_eq!(capture(front, EchoPool::Debug), expected);
}

fn info_logs_only_invalidations_and_dispose(front: Front) {
    let lines = capture(front, EchoPool::Info);
    assert_eq!(
        lines,
        [
            " INFO Invalidate connection 1",
            " INFO Pool disposed. Pool size: 5  Connections in pool: 0 Current Overflow: -5 Current Checked out connections: 0",
        ]
    );
}

fn off_logs_nothing(front: Front) {
    assert!(capture(front, EchoPool::Off).is_empty());
}

/// `invalidate(e)` / `invalidate(e, soft=True)`: the reason is `<ErrorType>:<message>`; a
/// soft invalidation is `Soft Invalidate`, and the connection is recycled at its next
/// checkout with SQLAlchemy's words, then hard-closed.
fn invalidations_with_an_error_name_it(front: Front) {
    let lines = lines_of(|| {
        let pool = pool(front, &Db::new(), EchoPool::Debug, Opts::default());
        pool.get()
            .unwrap()
            .invalidate_with(&FakeError("server closed the connection".into()));
        let mut conn = pool.get().unwrap();
        conn.soft_invalidate();
        conn.soft_invalidate_with(&FakeError("stale".into()));
        drop(conn);
        drop(pool.get().unwrap());
    });
    assert_eq!(
        lines,
        [
            "DEBUG Created new connection 1",
            "DEBUG Connection 1 checked out from pool",
            " INFO Invalidate connection 1 (reason: FakeError:server closed the connection)",
            "DEBUG Hard-closing connection 1",
            "DEBUG Created new connection 2",
            "DEBUG Connection 2 checked out from pool",
            " INFO Soft Invalidate connection 2",
            " INFO Soft Invalidate connection 2 (reason: FakeError:stale)",
            "DEBUG Connection 2 being returned to pool",
            "DEBUG Connection 2 rollback-on-return",
            " INFO Connection 2 invalidated due to local soft invalidation; recycling",
            "DEBUG Hard-closing connection 2",
            "DEBUG Created new connection 3",
            "DEBUG Connection 3 checked out from pool",
            "DEBUG Connection 3 being returned to pool",
            "DEBUG Connection 3 rollback-on-return",
        ]
    );
}

/// Pre-ping: `checked out` comes first, then the ping; after a failed ping the replacement
/// is `fresh` and no second `checked out` is written.
fn pre_ping_lines_follow_the_checkout_line(front: Front) {
    let db = Db::new();
    let lines = lines_of(|| {
        let pool = pool(
            front,
            &db,
            EchoPool::Debug,
            Opts {
                pre_ping: true,
                reset: poolscope::ResetOnReturn::None,
                ..Opts::default()
            },
        );
        drop(pool.get().unwrap());
        drop(pool.get().unwrap());
        db.restart();
        drop(pool.get().unwrap());
    });
    let ping_failed = lines
        .iter()
        .position(|l| l.contains("failed, will invalidate pool"))
        .expect("a failed ping");
    assert_eq!(
        lines[..ping_failed],
        [
            "DEBUG Created new connection 1",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Connection 1 is fresh, skipping pre-ping",
            "DEBUG Connection 1 being returned to pool",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Pool pre-ping on connection 1",
            "DEBUG Connection 1 being returned to pool",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Pool pre-ping on connection 1",
        ]
    );
    assert_eq!(
        lines[ping_failed],
        "DEBUG Pool pre-ping on connection 1 failed, will invalidate pool"
    );
    let rest: Vec<&str> = lines[ping_failed + 1..]
        .iter()
        .map(|l| l.split(" (reason: ").next().unwrap())
        .collect();
    assert_eq!(
        rest,
        [
            " INFO Disconnection detected on checkout, invalidating all pooled connections prior to current timestamp",
            " INFO Invalidate connection 1",
            "DEBUG Hard-closing connection 1",
            "DEBUG Created new connection 2",
            "DEBUG Connection 2 is fresh, skipping pre-ping",
            "DEBUG Connection 2 being returned to pool",
        ]
    );
}

/// Recycle: SQLAlchemy's INFO line, a hard close, and the replacement's checkout line.
fn recycling_hard_closes(front: Front) {
    let clock = poolscope::ManualClock::new();
    let lines = lines_of(|| {
        let pool = pool(
            front,
            &Db::new(),
            EchoPool::Debug,
            Opts {
                recycle: Some(std::time::Duration::from_secs(30)),
                clock: Some(clock.clone()),
                reset: poolscope::ResetOnReturn::None,
                ..Opts::default()
            },
        );
        drop(pool.get().unwrap());
        clock.advance(std::time::Duration::from_secs(31));
        drop(pool.get().unwrap());
    });
    assert_eq!(
        lines,
        [
            "DEBUG Created new connection 1",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Connection 1 being returned to pool",
            " INFO Connection 1 exceeded timeout; recycling",
            "DEBUG Hard-closing connection 1",
            "DEBUG Created new connection 2",
            "DEBUG Connection 2 checked out from pool",
            "DEBUG Connection 2 being returned to pool",
        ]
    );
}

/// A failing reset: SQLAlchemy's message with the error attached as a field, then the
/// invalidation and a hard close.
fn a_failing_reset_is_logged_with_the_error_attached(front: Front) {
    let db = Db::new();
    let lines = lines_of(|| {
        let pool = pool(front, &db, EchoPool::Debug, Opts::default());
        let conn = pool.get().unwrap();
        db.fail_resets(true);
        drop(conn);
        pool.settled();
    });
    assert_eq!(
        lines,
        [
            "DEBUG Created new connection 1",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Connection 1 being returned to pool",
            "DEBUG Connection 1 rollback-on-return",
            "ERROR Exception during reset or similar error=reset failed: connection lost",
            " INFO Invalidate connection 1 (reason: reset failed:reset failed: connection lost)",
            "DEBUG Hard-closing connection 1",
        ]
    );
}

/// A reset that knows no transaction is open sends nothing and says so, in SQLAlchemy's
/// words; one with a transaction open rolls back.
fn nothing_to_roll_back_is_transaction_already_reset(front: Front) {
    let db = Db::new();
    let mut id = 0;
    let lines = lines_of(|| {
        let pool = pool(
            front,
            &db,
            EchoPool::Debug,
            Opts {
                reset_knows_transactions: true,
                ..Opts::default()
            },
        );
        drop(pool.get().unwrap());
        let mut conn = pool.get().unwrap();
        id = conn.id;
        conn.begin();
        drop(conn);
        pool.settled();
    });
    assert_eq!(
        lines,
        [
            "DEBUG Created new connection 1",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Connection 1 being returned to pool",
            "DEBUG Connection 1 reset, transaction already reset",
            "DEBUG Connection 1 checked out from pool",
            "DEBUG Connection 1 being returned to pool",
            "DEBUG Connection 1 rollback-on-return",
        ]
    );
    // One ROLLBACK sent: for the return with a transaction open, none for the other.
    let rollbacks = db.calls(id).iter().filter(|c| **c == "rollback").count();
    assert_eq!(rollbacks, 1, "{:?}", db.calls(id));
}

/// `recreate()` says so; closing a detached connection resets it (blocking) and closes it.
fn recreate_and_detached_close(front: Front) {
    let lines = lines_of(|| {
        let pool = pool(front, &Db::new(), EchoPool::Debug, Opts::default());
        let _again = pool.recreate();
        pool.get().unwrap().detach_and_close();
    });
    let mut expected = vec![
        " INFO Pool recreating",
        "DEBUG Created new connection 1",
        "DEBUG Connection 1 checked out from pool",
    ];
    // The async pool cannot await a reset in `Drop`: closing the connection ends its
    // transaction on the server instead (a documented Rust translation).
    if front == Front::Blocking {
        expected.push("DEBUG Connection 1 rollback-on-return");
    }
    expected.push("DEBUG Closing connection 1");
    assert_eq!(lines, expected);
}

/// `Error on connect()` gives the manager's error text (`Display`) on the blocking pool; the
/// async pool has only bb8's `Debug` (a documented Rust translation).
fn a_failed_connect_gives_the_error_text(front: Front) {
    let db = Db::new();
    db.stop();
    let lines = lines_of(|| {
        let pool = pool(front, &db, EchoPool::Debug, Opts::default());
        assert!(pool.get().is_err());
    });
    let expected = match front {
        Front::Blocking => "DEBUG Error on connect(): database is stopped",
        Front::Async => "DEBUG Error on connect(): FakeError(\"database is stopped\")",
    };
    assert_eq!(lines, [expected]);
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
    invalidations_with_an_error_name_it,
    pre_ping_lines_follow_the_checkout_line,
    recycling_hard_closes,
    a_failing_reset_is_logged_with_the_error_attached,
    nothing_to_roll_back_is_transaction_already_reset,
    recreate_and_detached_close,
    a_failed_connect_gives_the_error_text,
    debug_logs_every_checkout_return_and_reset_in_sqlalchemy_words,
    info_logs_only_invalidations_and_dispose,
    off_logs_nothing,
);
