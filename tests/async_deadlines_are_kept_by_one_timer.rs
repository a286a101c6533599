//! An async pool keeps its waiters' `pool_timeout` with one timer (a sweeper task per pool)
//! instead of one per waiting task. Whatever happens to that timer, every waiter still gives
//! up at its own deadline, never earlier and never much later; and the timer never keeps a
//! dropped pool's connections open.
mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Db, FakeAsyncReset, FakeManager};
use poolscope::{AsyncBuilder, AsyncPool, Error};
use tokio::time::Instant;

type Pool = AsyncPool<FakeManager>;
type Held = poolscope::AsyncPooledConnection<FakeManager>;

fn one_slot(timeout: Duration) -> AsyncBuilder<FakeManager> {
    AsyncPool::builder()
        .reset_with(FakeAsyncReset)
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(timeout)
}

/// A one-connection pool with `timeout`, its connection held.
async fn one_slot_held(db: &Db, timeout: Duration) -> (Pool, Held) {
    let pool = one_slot(timeout).build(db.manager()).await.unwrap();
    let held = pool.get().await.unwrap();
    (pool, held)
}

/// A task checking out (and keeping what it got).
fn checkout(pool: &Pool) -> tokio::task::JoinHandle<Result<Held, Error<common::FakeError>>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.get().await })
}

#[tokio::test(start_paused = true)]
async fn each_waiter_gives_up_at_its_own_deadline() {
    let (pool, held) = one_slot_held(&Db::new(), Duration::from_secs(1)).await;
    let start = Instant::now();
    let mut waiters = Vec::new();
    for i in 0..5u64 {
        let pool = pool.clone();
        waiters.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100 * i)).await;
            let asked = Instant::now();
            let got = pool.get().await;
            (asked, Instant::now(), got.map(drop))
        }));
    }
    for (i, waiter) in waiters.into_iter().enumerate() {
        let (asked, ended, got) = waiter.await.unwrap();
        assert!(matches!(got, Err(Error::Timeout(_))), "waiter {i}: {got:?}");
        assert_eq!(
            asked - start,
            Duration::from_millis(100 * i as u64),
            "waiter {i} asked late"
        );
        assert_eq!(
            ended - asked,
            Duration::from_secs(1),
            "waiter {i} gave up at another deadline than its own"
        );
    }
    drop(held);
    // The sweeper ended with the last waiter; a new one starts for the next.
    let asked = Instant::now();
    let _held = pool.get().await.unwrap();
    let second = checkout(&pool).await.unwrap();
    assert!(
        matches!(second, Err(Error::Timeout(_))),
        "{:?}",
        second.map(drop)
    );
    assert_eq!(Instant::now() - asked, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_served_before_its_deadline_leaves_the_others_their_own() {
    let (pool, held) = one_slot_held(&Db::new(), Duration::from_secs(1)).await;
    let first = checkout(&pool);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn({
        let pool = pool.clone();
        async move {
            let asked = Instant::now();
            let got = pool.get().await.map(drop);
            (Instant::now() - asked, got)
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The first waiter (whose deadline the sweeper sleeps until) is served and leaves;
    // the second must still give up at 1 s after it asked, not at the first one's deadline
    // and not never.
    drop(held);
    let held = first.await.unwrap().unwrap();
    let (waited, got) = second.await.unwrap();
    assert!(matches!(got, Err(Error::Timeout(_))), "{got:?}");
    assert_eq!(waited, Duration::from_secs(1));
    drop(held);
}

/// A pool shared by two runtimes: the sweeper lives on the first; when that runtime shuts
/// down, the waiter on the second must still give up at its deadline instead of hanging.
#[test]
fn a_waiter_gives_up_when_the_sweepers_runtime_is_gone() {
    let db = Db::new();
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pool = first
        .block_on(one_slot(Duration::from_millis(800)).build(db.manager()))
        .unwrap();
    let held = first.block_on(pool.get()).unwrap();
    // A waiter on the first runtime starts the sweeper there.
    first.spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(drop) }
    });
    std::thread::sleep(Duration::from_millis(100));
    let (done, ended) = mpsc::channel();
    let other = std::thread::spawn({
        let pool = pool.clone();
        move || {
            let second = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let started = std::time::Instant::now();
            let got = second.block_on(pool.get()).map(drop);
            done.send((started.elapsed(), got)).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    drop(first);
    let (waited, got) = ended
        .recv_timeout(Duration::from_secs(10))
        .expect("the waiter on the second runtime never gave up: nobody kept its deadline");
    assert!(matches!(got, Err(Error::Timeout(_))), "{got:?}");
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(3),
        "gave up after {waited:?}, not at its 800 ms deadline"
    );
    other.join().unwrap();
    drop(held);
    let status = pool.status();
    assert_eq!((status.checked_out, status.waiting), (0, 0), "{status:?}");
}

/// The sweeper sleeps until the earliest deadline even when the waiter it was for has been
/// served; it holds the pool weakly, so dropping the pool closes its connections at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_sweeper_does_not_keep_a_dropped_pool_open() {
    let db = Db::new();
    let (pool, held) = one_slot_held(&db, Duration::from_secs(30)).await;
    let waiter = checkout(&pool);
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(held);
    drop(waiter.await.unwrap().unwrap());
    // Its reset may finish on a task of its own.
    while pool.status().checked_in == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(db.live(), 1, "the connection is back idle");
    drop(pool);
    assert_eq!(
        db.live(),
        0,
        "the dropped pool's idle connection is still open: something holds the pool"
    );
}
