//! SQLAlchemy checklist B: QueuePool timeout, waiting and threads.
mod common;

use common::{builder, Db, EventLog, FakeConn};
use poolscope::{ConnectionRecord, Error, ListenerError, PoolClass, PoolListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// B11 (`test_timeout`): the 4th concurrent checkout at pool_size 3, max_overflow 0 times out
/// after the timeout, with QueuePool's text.
#[test]
fn b11_fourth_checkout_times_out_with_queuepool_text() {
    let pool = builder()
        .pool_size(3)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(400))
        .build(Db::new().manager())
        .unwrap();
    let _held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let start = Instant::now();
    let err = pool.get().unwrap_err();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(matches!(err, Error::Timeout(_)));
    assert_eq!(
        err.to_string(),
        "QueuePool limit of size 3 overflow 0 reached, connection timed out, timeout 0.40"
    );
}

/// B12 (`test_timeout_subsecond_precision`): a sub-second timeout is honoured as such.
#[test]
fn b12_subsecond_timeout_is_honoured() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(500))
        .build(Db::new().manager())
        .unwrap();
    let _c = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get().unwrap_err();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    assert!(err.to_string().ends_with("timeout 0.50"), "{err}");
}

/// B13 (`test_timeout_race`): a thread that finds the limit reached waits the full timeout
/// and never fails fast.
#[test]
fn b13_losers_of_the_race_wait_the_full_timeout() {
    let db = Db::new();
    db.set_connect_delay(Duration::from_millis(50));
    let pool = builder()
        .pool_size(2)
        .max_overflow(1)
        .pool_timeout(Duration::from_millis(300))
        .build(db.manager())
        .unwrap();
    let timeouts = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                let start = Instant::now();
                match pool.get() {
                    Ok(conn) => {
                        std::thread::sleep(Duration::from_millis(600));
                        drop(conn);
                    }
                    Err(Error::Timeout(_)) => timeouts.lock().unwrap().push(start.elapsed()),
                    Err(e) => panic!("{e}"),
                }
            });
        }
    });
    let timeouts = timeouts.into_inner().unwrap();
    assert!(!timeouts.is_empty());
    for waited in timeouts {
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }
}

/// B14 (`test_notify_waiters`): with one connection held and 5 waiters, invalidating it makes
/// exactly one reconnect, and the waiters are served one after another.
#[test]
fn b14_invalidation_serves_every_waiter_with_one_reconnect() {
    let db = Db::new();
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(None)
        .build(db.manager())
        .unwrap();
    let c1 = pool.get().unwrap();
    let served = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..5 {
            let pool = pool.clone();
            let served = Arc::clone(&served);
            s.spawn(move || {
                let conn = pool.get().unwrap();
                served.lock().unwrap().push(conn.id);
                std::thread::sleep(Duration::from_millis(20));
            });
        }
        while pool.status().waiting < 5 {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(db.connects(), 1);
        c1.invalidate();
    });
    assert_eq!(db.connects(), 2);
    assert_eq!(*served.lock().unwrap(), vec![2, 2, 2, 2, 2]);
}

/// B15 (`test_waiters_handled`): for every timeout and overflow setting, invalidating a held
/// connection lets every waiter through.
#[test]
fn b15_waiters_are_all_served_for_every_setting() {
    for timeout in [None, Some(Duration::from_secs(30))] {
        for max_overflow in [0i64, -1, 3] {
            let pool = builder()
                .pool_size(2)
                .max_overflow(max_overflow)
                .pool_timeout(timeout)
                .build(Db::new().manager())
                .unwrap();
            let c1 = pool.get().unwrap();
            let c2 = pool.get().unwrap();
            let ok = Arc::new(Mutex::new(0));
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let pool = pool.clone();
                    let ok = Arc::clone(&ok);
                    s.spawn(move || {
                        let _c = pool.get().unwrap();
                        *ok.lock().unwrap() += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    });
                }
                std::thread::sleep(Duration::from_millis(30));
                c2.invalidate();
            });
            drop(c1);
            assert_eq!(
                *ok.lock().unwrap(),
                2,
                "timeout {timeout:?} max_overflow {max_overflow}"
            );
        }
    }
}

/// B16 (`test_hanging_connect_within_overflow`): a connect that hangs in one thread does not
/// block the others.
#[test]
fn b16_a_hanging_connect_does_not_block_other_checkouts() {
    let db = Db::new();
    let pool = builder()
        .pool_size(2)
        .max_overflow(3)
        .build(db.manager())
        .unwrap();
    let warm: Vec<_> = (0..2).map(|_| pool.get().unwrap()).collect();
    drop(warm);
    db.set_connect_delay(Duration::from_secs(2));
    std::thread::scope(|s| {
        s.spawn(|| {
            let _slow = pool.get().unwrap();
        });
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "idle connections served at once"
        );
        drop((a, b));
    });
}

/// B17 (`PoolFirstConnectSyncTest.test_sync`): other connections wait for the first one's
/// `first_connect`; the log is `[first_connect, connect, connect, connect]`.
#[test]
fn b17_first_connect_runs_once_before_every_other_connect() {
    struct SlowFirst(Arc<Mutex<Vec<&'static str>>>);
    impl PoolListener<FakeConn> for SlowFirst {
        fn first_connect(
            &self,
            _: &mut FakeConn,
            _: &mut ConnectionRecord,
        ) -> Result<(), ListenerError> {
            std::thread::sleep(Duration::from_millis(300));
            self.0.lock().unwrap().push("first_connect");
            Ok(())
        }
        fn connect(&self, _: &mut FakeConn, _: &mut ConnectionRecord) -> Result<(), ListenerError> {
            self.0.lock().unwrap().push("connect");
            Ok(())
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let pool = builder()
        .pool_size(3)
        .max_overflow(0)
        .listener(SlowFirst(Arc::clone(&log)))
        .build(Db::new().manager())
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                let _c = pool.get().unwrap();
                std::thread::sleep(Duration::from_millis(50));
            });
        }
    });
    assert_eq!(
        *log.lock().unwrap(),
        vec!["first_connect", "connect", "connect", "connect"]
    );
}

/// B18 [code]: a caller waits only at the limit; timeout 0 fails at once; a waiter receives
/// the connection that was just returned.
#[test]
fn b18_wait_only_at_the_limit_and_receive_the_returned_connection() {
    let db = Db::new();
    let pool = builder()
        .pool_size(1)
        .max_overflow(1)
        .pool_timeout(Duration::ZERO)
        .build(db.manager())
        .unwrap();
    let a = pool.get().unwrap();
    let b = pool.get().unwrap(); // overflow: no wait
    let start = Instant::now();
    assert!(matches!(pool.get(), Err(Error::Timeout(_))));
    assert!(start.elapsed() < Duration::from_millis(100));
    drop((a, b));

    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_secs(5))
        .build(db.manager())
        .unwrap();
    let held = pool.get().unwrap();
    let held_id = held.id;
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().unwrap().id);
        std::thread::sleep(Duration::from_millis(500));
        drop(held);
        assert_eq!(waiter.join().unwrap(), held_id);
    });
}

/// Waiters are served first come, first served.
#[test]
fn waiters_are_served_in_arrival_order() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(None)
        .build(Db::new().manager())
        .unwrap();
    let held = pool.get().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for i in 0..4 {
            let worker_pool = pool.clone();
            let order = Arc::clone(&order);
            s.spawn(move || {
                let _c = worker_pool.get().unwrap();
                order.lock().unwrap().push(i);
            });
            while pool.status().waiting < i + 1 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        drop(held);
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

/// StaticPool: concurrent checkouts from other threads take turns, waiting up to the timeout.
#[test]
fn static_pool_threads_take_turns() {
    let db = Db::new();
    let log = EventLog::default();
    let pool = builder()
        .pool_class(PoolClass::Static)
        .pool_timeout(Duration::from_millis(200))
        .listener(log.clone())
        .build(db.manager())
        .unwrap();
    let held = pool.get().unwrap();
    std::thread::scope(|s| {
        let err = s
            .spawn(|| pool.get().map(|_| ()).unwrap_err().to_string())
            .join()
            .unwrap();
        assert_eq!(
            err,
            "StaticPool connection is checked out elsewhere, connection timed out, timeout 0.20"
        );
        let turn = s.spawn(|| pool.get().unwrap().id);
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert_eq!(turn.join().unwrap(), 1);
    });
    assert_eq!(db.connects(), 1);
}

/// A timeout too long to represent as a deadline waits like `None` instead of panicking.
#[test]
fn an_enormous_timeout_waits_instead_of_overflowing() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::MAX)
        .build(Db::new().manager())
        .unwrap();
    let held = pool.get().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().map(|c| c.id).unwrap());
        while pool.status().waiting == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let id = held.id;
        drop(held);
        assert_eq!(waiter.join().unwrap(), id);
    });
}

#[tokio::test(start_paused = true)]
async fn an_enormous_timeout_waits_on_the_async_pool_too() {
    let pool = poolscope::AsyncPool::builder()
        .reset_on_return(poolscope::ResetOnReturn::None)
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::MAX)
        .build(Db::new().manager())
        .await
        .unwrap();
    let held = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|c| c.id).unwrap() }
    });
    while pool.status().waiting == 0 {
        tokio::task::yield_now().await;
    }
    let id = held.id;
    drop(held);
    assert_eq!(waiter.await.unwrap(), id);
}
