//! A connect that hangs (a server that accepts and never answers) holds its caller for
//! `pool_timeout` at most, as r2d2 and bb8 bound theirs, and blocks nobody else. Its slot
//! stays taken until the connect is over, so the connections live or being opened never
//! exceed the limit: the blocking pool leaves the connect to finish on its connector thread
//! and closes what it opens; the async pool drops (cancels) it. A pre-ping is bounded the
//! same way.
mod common;

use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::Db;

const TIMEOUT: Duration = Duration::from_millis(200);
const HANG: Duration = Duration::from_millis(1_000);
/// How much later than its deadline a caller may get its error on a busy 2-core machine.
const SLACK: Duration = Duration::from_secs(2);

fn a_hanging_connect_times_out_at_pool_timeout(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 0, TIMEOUT));
    db.set_connect_delay(HANG);
    let started = Instant::now();
    let err = pool.get().err().expect("the connect hangs");
    let took = started.elapsed();
    assert!(matches!(err, poolscope::Error::ConnectTimeout(_)), "{err}");
    assert_eq!(err.error_type(), "connect_timeout");
    assert!(
        err.to_string()
            .starts_with("could not open a connection: connect did not return within pool_timeout"),
        "{err}"
    );
    assert!(took >= TIMEOUT && took < TIMEOUT + SLACK, "{took:?}");

    // The slot is the hanging connect's until it is over: the next caller waits for it,
    // then gets it.
    db.set_connect_delay(Duration::ZERO);
    std::thread::sleep(HANG);
    let status = pool.settled();
    assert_eq!(status.checked_out, 0, "{status}");
    assert_eq!(db.live(), 0, "what the late connect opened was closed");
    let conn = pool.get().expect("the slot is free again");
    drop(conn);
    assert!(
        db.peak_live() <= 1,
        "{} live at once, limit 1",
        db.peak_live()
    );
}

fn a_hanging_connect_blocks_nobody_else(front: Front) {
    // Long enough that the checkouts below finish inside it however busy the machine is.
    const TIMEOUT: Duration = Duration::from_millis(1_500);
    const HANG: Duration = Duration::from_millis(2_000);
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 1, TIMEOUT));
    drop(pool.get().unwrap());
    assert_eq!(pool.settled().checked_in, 1, "one idle connection");
    db.set_connect_delay(HANG);
    let held = pool.get().unwrap(); // the idle one
    let hanging = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.get().err().map(|e| e.error_type()))
    };
    // While the second caller's connect hangs, the first returns and checks out again at
    // once, over and over.
    std::thread::sleep(Duration::from_millis(20));
    drop(held);
    for i in 0..10 {
        let status = pool.status();
        drop(
            pool.get()
                .unwrap_or_else(|e| panic!("checkout {i}: {e}; before it: {status}")),
        );
    }
    assert!(
        !hanging.is_finished(),
        "the checkouts waited for the hanging connect to give up"
    );
    assert_eq!(hanging.join().unwrap(), Some("connect_timeout"));
    db.set_connect_delay(Duration::ZERO);
    std::thread::sleep(HANG);
    assert!(
        db.peak_live() <= 2,
        "{} live at once, limit 2",
        db.peak_live()
    );
    assert_eq!(pool.settled().checked_out, 0);
}

/// A pre-ping is bounded the same way on both fronts (the blocking pool's with
/// `bounded_pre_ping`): a pooled connection whose server stops answering costs its caller
/// `pool_timeout`, and the connection is closed (its state is unknown): the async pool drops
/// the ping, the blocking pool leaves it on its connector thread and closes the connection
/// when it returns.
fn a_hanging_pre_ping_times_out_at_pool_timeout(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            pre_ping: true,
            bounded_pre_ping: true,
            ..Opts::queue(1, 0, TIMEOUT)
        },
    );
    drop(pool.get().unwrap());
    assert_eq!(pool.settled().checked_in, 1, "one idle connection");
    db.set_ping_delay(HANG);
    let started = Instant::now();
    let err = pool.get().err().expect("the ping hangs");
    let took = started.elapsed();
    assert!(
        err.to_string().starts_with(
            "could not open a connection: the pre-ping did not return within pool_timeout"
        ),
        "{err}"
    );
    assert_eq!(err.error_type(), "connect_timeout");
    assert!(took >= TIMEOUT && took < TIMEOUT + SLACK, "{took:?}");
    db.set_ping_delay(Duration::ZERO);
    std::thread::sleep(HANG);
    assert_eq!(pool.settled().checked_out, 0);
    assert_eq!(db.live(), 0, "the unanswered connection was closed");
    drop(pool.get().expect("a fresh connection"));
    assert_eq!(db.connects(), 2);
}

on_both_fronts!(
    a_hanging_pre_ping_times_out_at_pool_timeout,
    a_hanging_connect_times_out_at_pool_timeout,
    a_hanging_connect_blocks_nobody_else,
);

/// By default the blocking pool pings inline, as r2d2 and SQLAlchemy do: cheap, and a server
/// that stops answering holds the caller as long as the ping does (what `bounded_pre_ping`
/// is for). The caller gets its connection when the ping answers.
#[test]
fn the_blocking_pre_ping_is_inline_unless_bounded() {
    let db = Db::new();
    let pool = TestPool::build(
        Front::Blocking,
        &db,
        Opts {
            pre_ping: true,
            ..Opts::queue(1, 0, TIMEOUT)
        },
    );
    drop(pool.get().unwrap());
    db.set_ping_delay(TIMEOUT * 2);
    let started = Instant::now();
    let conn = pool.get().expect("the ping answers, late");
    assert!(started.elapsed() >= TIMEOUT * 2, "{:?}", started.elapsed());
    assert_eq!(conn.id, 1, "the same connection, pinged inline");
}
