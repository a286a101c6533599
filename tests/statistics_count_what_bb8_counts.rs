//! `statistics()`: bb8's `Statistics`, counted from the pool's own decisions, on both fronts.
//! One scenario walks every field: a checkout that opens a connection (waited), one handed an
//! idle connection after its pre-ping (direct: a ping is not waiting, as in bb8), a waiter
//! served by a return (waited, its wait time counted), a timeout, an overflow closed on
//! return, a failed pre-ping then a failed connect (closed invalid, failed), a broken
//! connection returned (closed broken), a recycle (max lifetime) and a dispose (other).
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fronts::{Front, TestPool};
use common::{fake_reset, Db, FakeAsyncReset};
use poolscope::{AsyncPool, ManualClock, Pool, Statistics};

const TIMEOUT: Duration = Duration::from_millis(300);

macro_rules! counted {
    ($builder:expr, $clock:expr) => {
        $builder
            .statistics(true)
            .pool_size(1)
            .max_overflow(1)
            .pool_timeout(TIMEOUT)
            .pre_ping(true)
            .pool_recycle(Duration::from_secs(60))
            .clock($clock.clone())
    };
}

fn counted_pool(front: Front, db: &Db, clock: &ManualClock) -> TestPool {
    match front {
        Front::Blocking => TestPool::Blocking(
            counted!(Pool::builder(), clock)
                .reset_with(fake_reset)
                .build(db.manager())
                .unwrap(),
        ),
        Front::Async => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let pool = rt
                .block_on(
                    counted!(AsyncPool::builder(), clock)
                        .reset_with(FakeAsyncReset)
                        .build(db.manager()),
                )
                .unwrap();
            TestPool::Async(pool, Arc::new(rt))
        }
    }
}

fn statistics(pool: &TestPool) -> Statistics {
    match pool {
        TestPool::Blocking(pool) => pool.statistics(),
        TestPool::Async(pool, _) => pool.statistics(),
    }
    .expect("built with statistics(true)")
}

fn statistics_count_each_decision(front: Front) {
    let db = Db::new();
    let clock = ManualClock::new();
    let pool = counted_pool(front, &db, &clock);
    let stats = || statistics(&pool);

    // A new connection: the checkout waited for it.
    let a = pool.get().unwrap();
    assert_eq!((stats().get_waited, stats().connections_created), (1, 1));
    drop(a);
    pool.settled();

    // The idle one, pre-pinged: direct.
    let b = pool.get().unwrap();
    assert_eq!(
        (stats().get_direct, stats().get_waited),
        (1, 1),
        "a pre-ping is not waiting"
    );

    // Overflow: opened, waited.
    let c = pool.get().unwrap();
    assert_eq!((stats().get_waited, stats().connections_created), (2, 2));

    // At the limit: a waiter is served by a return after 100 ms.
    let before = stats().get_wait_time;
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.get().map(drop))
    };
    pool.until_waiting(1);
    assert_eq!(stats().pending_gets(), 1, "{:?}", stats());
    std::thread::sleep(Duration::from_millis(100));
    drop(c);
    waiter.join().unwrap().unwrap();
    pool.until_checked_out(1);
    let served = stats();
    assert_eq!(served.get_waited, 3, "{served:?}");
    assert!(
        served.get_wait_time - before >= Duration::from_millis(100),
        "{served:?}"
    );

    // At the limit again: a timeout.
    let c = pool.get().unwrap();
    let before = stats().get_wait_time;
    assert!(pool.get().is_err());
    let timed_out = stats();
    assert_eq!(timed_out.get_timed_out, 1, "{timed_out:?}");
    assert!(timed_out.get_wait_time - before >= TIMEOUT, "{timed_out:?}");

    // Returned while `pool_size` are idle: the second closes (overflow).
    drop(b);
    drop(c);
    pool.settled();
    assert_eq!(stats().connections_closed_overflow, 1, "{:?}", stats());

    // The server goes away: the idle connection's pre-ping fails (closed invalid), and the
    // connect that replaces it fails.
    db.stop();
    assert!(pool.get().is_err());
    let down = stats();
    assert_eq!(
        (down.connections_closed_invalid, down.get_failed),
        (1, 1),
        "{down:?}"
    );
    db.start();

    // A broken connection returned.
    let mut e = pool.get().unwrap();
    e.broken = true;
    drop(e);
    pool.settled();
    assert_eq!(stats().connections_closed_broken, 1, "{:?}", stats());

    // An old connection replaced at checkout (pool_recycle), then the pool disposed.
    drop(pool.get().unwrap());
    pool.settled();
    clock.advance(Duration::from_secs(61));
    drop(pool.get().unwrap());
    pool.settled();
    assert_eq!(stats().connections_closed_max_lifetime, 1, "{:?}", stats());
    pool.dispose();

    let end = stats();
    assert_eq!(end.connections_closed_other, 1, "dispose: {end:?}");
    assert_eq!(end.connections_closed_idle_timeout, 0);
    assert_eq!(end.pending_gets(), 0, "{end:?}");
    assert_eq!(end.get_started, end.completed_gets(), "{end:?}");
    assert_eq!(
        end.connections_created,
        db.connects() as u64,
        "every connect the server saw: {end:?}"
    );
    let closed = end.connections_closed_broken
        + end.connections_closed_invalid
        + end.connections_closed_max_lifetime
        + end.connections_closed_overflow
        + end.connections_closed_other;
    assert_eq!(
        closed,
        db.closes() as u64,
        "every close the server saw: {end:?}"
    );
}

fn a_pool_not_asked_to_count_has_no_statistics(front: Front) {
    let pool = TestPool::build(front, &Db::new(), common::fronts::Opts::default());
    drop(pool.get().unwrap());
    let none = match &pool {
        TestPool::Blocking(pool) => pool.statistics(),
        TestPool::Async(pool, _) => pool.statistics(),
    };
    assert_eq!(none, None);
}

on_both_fronts!(
    statistics_count_each_decision,
    a_pool_not_asked_to_count_has_no_statistics
);
