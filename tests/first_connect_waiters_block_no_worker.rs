//! `first_connect` runs once, before every other connection's `connect`, and the others wait
//! for it without holding a lock: an async task waiting for it yields its worker thread, a
//! listener may look at its own pool (`status()`) or check out of it (a nested checkout by
//! the thread running it) without deadlocking, and a failed `first_connect` runs again.
mod common;

use poolscope::ConnectionEvent;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, FakeConn};
use poolscope::{ListenerError, PoolListener};

/// A `first_connect` that takes a while, can be told to fail once, and can reach its own
/// pool.
#[derive(Default)]
struct First {
    log: Mutex<Vec<&'static str>>,
    fail_once: AtomicBool,
    pool: OnceLock<TestPool>,
    nested: AtomicBool,
}

impl PoolListener<FakeConn> for Arc<First> {
    fn first_connect(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        std::thread::sleep(Duration::from_millis(150));
        if self.fail_once.swap(false, Ordering::SeqCst) {
            self.log.lock().unwrap().push("first_connect failed");
            return Err(ListenerError::fatal("not yet"));
        }
        self.log.lock().unwrap().push("first_connect");
        if let Some(pool) = self.pool.get() {
            let _ = pool.status();
            if self.nested.load(Ordering::SeqCst) && pool.front() == Front::Blocking {
                // A nested checkout by the thread running first_connect: it passes the
                // gate (its connection's `connect` runs) instead of waiting for itself.
                drop(pool.get().unwrap());
            }
        }
        Ok(())
    }
    fn connect(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        self.log.lock().unwrap().push("connect");
        Ok(())
    }
}

fn pool_with(front: Front, first: &Arc<First>) -> TestPool {
    let pool = TestPool::build(
        front,
        &Db::new(),
        // Room for three callers and a nested checkout.
        Opts::queue(4, 0, Duration::from_secs(5)).listener(Arc::clone(first)),
    );
    let _ = first.pool.set(pool.clone());
    pool
}

/// B17 (`PoolFirstConnectSyncTest.test_sync`): the first connection's `first_connect` runs
/// before every other connection's `connect`, once.
fn first_connect_runs_once_before_every_other_connect(front: Front) {
    let first = Arc::new(First::default());
    first.nested.store(true, Ordering::SeqCst);
    let pool = pool_with(front, &first);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let _c = pool.get().unwrap();
                std::thread::sleep(Duration::from_millis(30));
            });
        }
    });
    let log = first.log.lock().unwrap().clone();
    assert_eq!(log[0], "first_connect", "{log:?}");
    assert_eq!(
        log.iter().filter(|e| **e == "first_connect").count(),
        1,
        "{log:?}"
    );
    assert!(log[1..].iter().all(|e| *e == "connect"), "{log:?}");
}

fn a_failed_first_connect_runs_again_on_the_next_connection(front: Front) {
    let first = Arc::new(First::default());
    first.fail_once.store(true, Ordering::SeqCst);
    let pool = pool_with(front, &first);
    assert!(
        pool.get().is_err(),
        "the first connection's first_connect failed"
    );
    drop(pool.get().unwrap());
    assert_eq!(
        *first.log.lock().unwrap(),
        vec!["first_connect failed", "first_connect", "connect"]
    );
}

on_both_fronts!(
    first_connect_runs_once_before_every_other_connect,
    a_failed_first_connect_runs_again_on_the_next_connection,
);

/// Two workers; one runs a first_connect that blocks its thread for 150 ms (the listener's
/// own doing). The tasks waiting for it must leave the other worker free: a ticker on the
/// runtime keeps ticking meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_waiting_for_first_connect_leave_their_worker_free() {
    let first = Arc::new(First::default());
    let pool = poolscope::AsyncPool::builder()
        .pool_size(4)
        .max_overflow(0)
        .reset_with(common::FakeAsyncReset)
        .listener(Arc::clone(&first))
        .build(Db::new().manager())
        .await
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let checkouts: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                drop(pool.get().await.unwrap());
            })
        })
        .collect();
    for c in checkouts {
        c.await.unwrap();
    }
    ticker.abort();
    let ticked = ticks.load(Ordering::SeqCst);
    // 150 ms of first_connect at 5 ms a tick: about 30 if a worker stayed free, about 0 if
    // both were blocked.
    assert!(ticked >= 10, "the ticker ticked {ticked} times");
    assert_eq!(first.log.lock().unwrap()[0], "first_connect");
}
