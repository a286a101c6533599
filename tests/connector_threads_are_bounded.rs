//! A server that accepts connections and never answers costs the blocking pool a bounded
//! number of connector threads, however many checkouts are retried: each connect that hangs
//! holds one of its pool's `PER_POOL` (8) places until it returns, and a checkout that finds
//! them all taken waits for one up to `pool_timeout`, then fails with `ConnectTimeout` saying
//! the connector threads were busy. (Before, each retried checkout left one more thread: 200
//! retries, 200 `poolscope-connect` threads and `status()` saying 200 checked out, growing by
//! one thread per `pool_timeout` until the process could not start a thread.)
//!
//! A test binary of its own: it counts the process's threads by name.
mod common;

use std::time::{Duration, Instant};

use common::Db;
use poolscope::{Error, Pool};

/// The pool's share of the connector threads (`blocking/connector.rs`).
const PER_POOL: usize = 8;

/// Threads of this process whose name starts with `poolscope-conn` (Linux: `/proc`; the
/// kernel keeps 15 bytes of a thread's name).
fn connector_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("Linux /proc")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("poolscope-conn"))
        .count()
}

#[test]
fn retried_checkouts_against_a_hanging_server_use_a_bounded_number_of_threads() {
    let db = Db::new();
    let pool = Pool::builder()
        .pool_size(1)
        .max_overflow(-1)
        .pool_timeout(Duration::from_millis(10))
        .reset_with(common::fake_reset)
        .build(db.manager())
        .unwrap();
    db.set_connect_delay(Duration::from_secs(5));
    let mut busy = 0;
    let started = Instant::now();
    for i in 0..200 {
        match pool.get() {
            Err(Error::ConnectTimeout(e)) => {
                if e.to_string().contains("connector threads were all busy") {
                    busy += 1;
                }
            }
            other => panic!("checkout {i}: {:?}", other.map(drop)),
        }
        let threads = connector_threads();
        assert!(
            threads <= PER_POOL,
            "after {} checkouts: {threads} connector threads",
            i + 1
        );
        let status = pool.status();
        assert!(
            status.checked_out <= PER_POOL,
            "after {} checkouts: {status}",
            i + 1
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the retries outlived the hanging connects; the test proves nothing"
    );
    assert!(
        busy >= 150,
        "only {busy} of 200 checkouts were told the connector threads were busy"
    );
    // Once the server answers again, the late connects are closed and their slots freed.
    db.set_connect_delay(Duration::ZERO);
    let give_up = Instant::now() + Duration::from_secs(10);
    while pool.status().checked_out > 0 {
        assert!(Instant::now() < give_up, "{}", pool.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(db.live(), 0, "what the late connects opened was closed");
    drop(pool.get().expect("the pool works again"));
}
