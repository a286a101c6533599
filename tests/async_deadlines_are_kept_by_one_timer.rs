//! An async pool keeps its waiters' `pool_timeout` with one alarm on poolscope's timer thread
//! instead of a timer per waiting task. Whatever runtime each waiter is on, and whatever happens
//! to it, every waiter gives up at its own deadline, never earlier and never much later; and the
//! alarm never keeps a dropped pool's connections open.
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

/// Waiters asked `GAP` apart, each with a `TIMEOUT` deadline: each must give up at its own,
/// never before it, and well before the next waiter's (`GAP` later), the one the pool's alarm
/// would ring at if it were set for the wrong waiter. Real time: the deadlines are kept by
/// poolscope's timer thread, which Tokio's paused clock does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_waiter_gives_up_at_its_own_deadline() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    const GAP: Duration = Duration::from_millis(1_000);
    let (pool, held) = one_slot_held(&Db::new(), TIMEOUT).await;
    let mut waiters = Vec::new();
    for i in 0..3u32 {
        let pool = pool.clone();
        waiters.push(tokio::spawn(async move {
            tokio::time::sleep(GAP * i).await;
            let asked = Instant::now();
            let got = pool.get().await;
            (Instant::now() - asked, got.map(drop))
        }));
    }
    for (i, waiter) in waiters.into_iter().enumerate() {
        let (waited, got) = waiter.await.unwrap();
        assert!(matches!(got, Err(Error::Timeout(_))), "waiter {i}: {got:?}");
        assert!(
            waited >= TIMEOUT && waited < TIMEOUT + GAP * 9 / 10,
            "waiter {i} gave up after {waited:?}, not at its own {TIMEOUT:?} deadline"
        );
    }
    drop(held);
    // The alarm was taken off with the last waiter; the next waiter sets it again.
    let _held = pool.get().await.unwrap();
    let asked = Instant::now();
    let second = checkout(&pool).await.unwrap();
    assert!(
        matches!(second, Err(Error::Timeout(_))),
        "{:?}",
        second.map(drop)
    );
    let waited = Instant::now() - asked;
    assert!(
        waited >= TIMEOUT && waited < TIMEOUT + GAP * 9 / 10,
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_served_before_its_deadline_leaves_the_others_their_own() {
    const TIMEOUT: Duration = Duration::from_millis(600);
    let (pool, held) = one_slot_held(&Db::new(), TIMEOUT).await;
    let first = checkout(&pool);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = tokio::spawn({
        let pool = pool.clone();
        async move {
            let asked = Instant::now();
            let got = pool.get().await.map(drop);
            (Instant::now() - asked, got)
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The first waiter (whose deadline the alarm is set for) is served and leaves; the second
    // must still give up at its own deadline, not at the first one's and not never.
    drop(held);
    let held = first.await.unwrap().unwrap();
    let (waited, got) = second.await.unwrap();
    assert!(matches!(got, Err(Error::Timeout(_))), "{got:?}");
    assert!(
        waited >= TIMEOUT && waited < TIMEOUT + Duration::from_secs(3),
        "gave up after {waited:?}"
    );
    drop(held);
}

/// A pool shared by two runtimes: a waiter on the first, then the first shut down; the waiter
/// on the second must still give up at its deadline instead of hanging (the deadlines belonged
/// to a task on the first runtime before they moved to poolscope's timer thread).
#[test]
fn a_waiter_gives_up_when_the_runtime_of_the_first_waiter_is_gone() {
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
    // A waiter on the first runtime (it set the pool's alarm).
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

/// The alarm stays set for the earliest deadline even when the waiter it was for has been
/// served; the timer holds the pool weakly, so dropping the pool closes its connections at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_alarm_does_not_keep_a_dropped_pool_open() {
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
