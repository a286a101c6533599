//! SQLAlchemy checklist B: QueuePool timeout, waiting and threads, on both fronts. (B16,
//! a hanging connect, is `hanging_connects_never_hold_a_caller_past_its_timeout`; B17,
//! `first_connect` before every other connect, is `first_connect_waiters_block_no_worker`.)
mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog};
use poolscope::{Error, PoolClass};

fn queue(front: Front, pool_size: usize, max_overflow: i64, timeout: Option<Duration>) -> TestPool {
    TestPool::build(
        front,
        &Db::new(),
        Opts {
            timeout,
            ..Opts::queue(pool_size, max_overflow, Duration::ZERO)
        },
    )
}

/// B11 (`test_timeout`): the 4th concurrent checkout at pool_size 3, max_overflow 0 times out
/// after the timeout, with QueuePool's text.
fn b11_fourth_checkout_times_out_with_queuepool_text(front: Front) {
    let pool = queue(front, 3, 0, Some(Duration::from_millis(400)));
    let _held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let start = Instant::now();
    let err = pool.get().err().unwrap();
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

/// B12 (`test_timeout_subsecond_precision`): a sub-second timeout is honoured as such: 50 ms
/// waits 50 ms, not a second (what a timeout rounded up to whole seconds would wait), with
/// 950 ms of room for a busy machine.
fn b12_subsecond_timeout_is_honoured(front: Front) {
    let pool = queue(front, 1, 0, Some(Duration::from_millis(50)));
    let _c = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get().err().unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    assert!(err.to_string().ends_with("timeout 0.05"), "{err}");
}

/// B13 (`test_timeout_race`): a thread that finds the limit reached waits the full timeout
/// and never fails fast.
fn b13_losers_of_the_race_wait_the_full_timeout(front: Front) {
    let db = Db::new();
    db.set_connect_delay(Duration::from_millis(50));
    let pool = TestPool::build(front, &db, Opts::queue(2, 1, Duration::from_millis(300)));
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
    assert_eq!(timeouts.len(), 7, "three served, seven timed out");
    for waited in timeouts {
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }
}

/// B14 (`test_notify_waiters`): with one connection held and 5 waiters, invalidating it makes
/// exactly one reconnect, and the waiters are served one after another.
fn b14_invalidation_serves_every_waiter_with_one_reconnect(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            timeout: None,
            ..Opts::queue(1, 0, Duration::ZERO)
        },
    );
    let c1 = pool.get().unwrap();
    let served = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                let conn = pool.get().unwrap();
                served.lock().unwrap().push(conn.id);
                std::thread::sleep(Duration::from_millis(20));
            });
        }
        pool.until_waiting(5);
        assert_eq!(db.connects(), 1);
        c1.invalidate();
    });
    assert_eq!(db.connects(), 2);
    assert_eq!(*served.lock().unwrap(), vec![2, 2, 2, 2, 2]);
}

/// B15 (`test_waiters_handled`): for every timeout and overflow setting, two callers beyond
/// two held connections are served once one held connection is invalidated. With
/// max_overflow 0 they really wait first (checked); with room to overflow they do not.
fn b15_waiters_are_all_served_for_every_setting(front: Front) {
    for timeout in [None, Some(Duration::from_secs(30))] {
        for max_overflow in [0i64, -1, 3] {
            let pool = queue(front, 2, max_overflow, timeout);
            let c1 = pool.get().unwrap();
            let c2 = pool.get().unwrap();
            let ok = Mutex::new(0);
            let setting = format!("timeout {timeout:?} max_overflow {max_overflow}");
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let _c = pool.get().unwrap();
                        *ok.lock().unwrap() += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    });
                }
                if max_overflow == 0 {
                    pool.until_waiting(2);
                    assert_eq!(*ok.lock().unwrap(), 0, "{setting}: nobody served yet");
                }
                c2.invalidate();
            });
            drop(c1);
            assert_eq!(*ok.lock().unwrap(), 2, "{setting}");
            assert_eq!(pool.settled().checked_out, 0, "{setting}");
        }
    }
}

/// B18 [code]: a caller waits only at the limit; timeout 0 fails at once; a waiter receives
/// the connection that was just returned.
fn b18_wait_only_at_the_limit_and_receive_the_returned_connection(front: Front) {
    let pool = queue(front, 1, 1, Some(Duration::ZERO));
    let a = pool.get().unwrap();
    let b = pool.get().unwrap(); // overflow: no wait
    let start = Instant::now();
    assert!(matches!(pool.get(), Err(Error::Timeout(_))));
    // At once: no wait at all, so anything far from a wait (and from a hang) passes.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    drop((a, b));

    let pool = queue(front, 1, 0, Some(Duration::from_secs(5)));
    let held = pool.get().unwrap();
    let held_id = held.id;
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().unwrap().id);
        pool.until_waiting(1);
        drop(held);
        assert_eq!(waiter.join().unwrap(), held_id);
    });
}

/// Waiters are served first come, first served.
fn waiters_are_served_in_arrival_order(front: Front) {
    let pool = queue(front, 1, 0, None);
    let held = pool.get().unwrap();
    let order = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for i in 0..4 {
            let (pool, order) = (&pool, &order);
            s.spawn(move || {
                let _c = pool.get().unwrap();
                order.lock().unwrap().push(i);
            });
            pool.until_waiting(i + 1);
        }
        drop(held);
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

/// StaticPool: concurrent checkouts from other threads take turns, waiting up to the timeout.
fn static_pool_threads_take_turns(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            timeout: Some(Duration::from_millis(200)),
            ..Opts::class(PoolClass::Static).listener(EventLog::default())
        },
    );
    let held = pool.get().unwrap();
    std::thread::scope(|s| {
        let err = s
            .spawn(|| pool.get().map(|_| ()).err().unwrap().to_string())
            .join()
            .unwrap();
        assert_eq!(
            err,
            "StaticPool connection is checked out elsewhere, connection timed out, timeout 0.20"
        );
        let turn = s.spawn(|| pool.get().unwrap().id);
        pool.until_waiting(1);
        drop(held);
        assert_eq!(turn.join().unwrap(), 1);
    });
    assert_eq!(db.connects(), 1);
}

/// A timeout too long to represent as a deadline waits like `None` instead of panicking.
fn an_enormous_timeout_waits_instead_of_overflowing(front: Front) {
    let pool = queue(front, 1, 0, Some(Duration::MAX));
    let held = pool.get().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().map(|c| c.id).unwrap());
        pool.until_waiting(1);
        let id = held.id;
        drop(held);
        assert_eq!(waiter.join().unwrap(), id);
    });
}

on_both_fronts!(
    b11_fourth_checkout_times_out_with_queuepool_text,
    b12_subsecond_timeout_is_honoured,
    b13_losers_of_the_race_wait_the_full_timeout,
    b14_invalidation_serves_every_waiter_with_one_reconnect,
    b15_waiters_are_all_served_for_every_setting,
    b18_wait_only_at_the_limit_and_receive_the_returned_connection,
    waiters_are_served_in_arrival_order,
    static_pool_threads_take_turns,
    an_enormous_timeout_waits_instead_of_overflowing,
);

/// `get_timeout` (r2d2's): this checkout waits its own time, and its error says so.
#[test]
fn get_timeout_waits_its_own_time() {
    let pool = poolscope::Pool::builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_secs(30))
        .reset_with(common::fake_reset)
        .build(Db::new().manager())
        .unwrap();
    let held = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get_timeout(Duration::from_millis(100)).err().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(err.to_string().ends_with("timeout 0.10"), "{err}");
    let start = Instant::now();
    assert!(pool.get_timeout(Duration::ZERO).is_err());
    // At once, not at the pool's 30 s.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    drop(held);
    assert!(
        pool.get_timeout(Duration::ZERO).is_ok(),
        "an idle one is taken at once"
    );
}
