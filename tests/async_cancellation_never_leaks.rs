//! A cancelled async checkout leaves the pool as if it had never asked, whichever step it was
//! cancelled at (deadpool-style matrix: while waiting, while connecting, while pinging).
mod common;

use common::{Db, FakeAsyncReset, FakeManager};
use poolscope::{AsyncBuilder, AsyncPool};
use std::time::Duration;

fn builder() -> AsyncBuilder<FakeManager> {
    AsyncPool::builder().reset_with(FakeAsyncReset)
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_waiting() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(None)
        .build(Db::new().manager())
        .await
        .unwrap();
    let held = pool.get().await.unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(10), pool.get()).await;
    assert!(cancelled.is_err());
    assert_eq!(pool.status().waiting, 0);
    held.close().await;
    assert_eq!(pool.status().checked_in, 1);
    assert!(pool.get().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn cancelled_after_the_grant_arrived_but_before_it_was_polled() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(None)
        .build(Db::new().manager())
        .await
        .unwrap();
    let db = pool.manager().db.clone();
    let held = pool.get().await.unwrap();
    let mut waiting = Box::pin(pool.get());
    assert!(futures_poll_once(waiting.as_mut()).await.is_none());
    assert_eq!(pool.status().waiting, 1);
    held.close().await; // the grant goes to the waiter's cell
    drop(waiting); // never polled again: the grant must come back
    assert_eq!(pool.status().checked_in, 1);
    assert_eq!(pool.status().checked_out, 0);
    assert_eq!(
        db.closes(),
        0,
        "the healthy connection went back, not closed: {:?}",
        db.calls(1)
    );
    assert_eq!(pool.get().await.unwrap().id, 1);
}

/// Two slots, sixteen tasks, each checkout cancelled by a timeout of 50-450 µs more often
/// than not, for a second: cancelling never closes a healthy connection (the two opened
/// first serve throughout), and every slot is whole afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellations_under_load_close_no_healthy_connection() {
    let db = Db::new();
    let pool = builder()
        .pool_size(2)
        .max_overflow(0)
        .pool_timeout(None)
        .build(db.manager())
        .await
        .unwrap();
    let seed = common::stress::seed();
    let until = std::time::Instant::now() + Duration::from_secs(1);
    let tasks: Vec<_> = (0..16u64)
        .map(|task| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut rng = common::stress::Rng::new(seed ^ task);
                let (mut cancelled, mut served) = (0u64, 0u64);
                while std::time::Instant::now() < until {
                    let patience = Duration::from_micros(50 + rng.below(400));
                    match tokio::time::timeout(patience, pool.get()).await {
                        Ok(conn) => {
                            let conn = conn.unwrap();
                            tokio::time::sleep(Duration::from_micros(rng.below(200))).await;
                            drop(conn);
                            served += 1;
                        }
                        Err(_) => cancelled += 1,
                    }
                }
                (cancelled, served)
            })
        })
        .collect();
    let (mut cancelled, mut served) = (0, 0);
    for t in tasks {
        let (c, s) = t.await.unwrap();
        cancelled += c;
        served += s;
    }
    // A connection dropped last may still be resetting on a spawned task (the reset yields
    // once): let it land before reading the counts.
    let settle_until = std::time::Instant::now() + Duration::from_secs(2);
    while pool.status().checked_out > 0 && std::time::Instant::now() < settle_until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let status = pool.status();
    eprintln!("seed {seed}: {cancelled} cancellations, {served} checkouts, {status}");
    assert!(
        cancelled > 100,
        "seed {seed}: too few cancellations to prove anything"
    );
    assert_eq!(
        (db.connects(), db.closes()),
        (2, 0),
        "seed {seed}: {cancelled} cancellations reopened connections"
    );
    assert_eq!(
        (status.checked_in, status.checked_out, status.waiting),
        (2, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_connecting() {
    let db = Db::new();
    db.set_connect_delay(Duration::from_secs(5));
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .build(db.manager())
        .await
        .unwrap();
    let cancelled = tokio::time::timeout(Duration::from_secs(1), pool.get()).await;
    assert!(cancelled.is_err());
    assert_eq!(pool.status().checked_out, 0);
    assert_eq!(pool.status().overflow, -1, "the new capacity was released");
    db.set_connect_delay(Duration::ZERO);
    assert!(pool.get().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_reconnecting_a_pooled_slot() {
    let db = Db::new();
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pre_ping(true)
        .build(db.manager())
        .await
        .unwrap();
    pool.get().await.unwrap().close().await;
    db.restart();
    db.set_connect_delay(Duration::from_secs(5));
    let cancelled = tokio::time::timeout(Duration::from_secs(1), pool.get()).await;
    assert!(cancelled.is_err());
    assert_eq!(
        (pool.status().checked_in, pool.status().checked_out),
        (1, 0),
        "slot back, emptied"
    );
    assert_eq!(db.open(), 0, "the dead connection was closed");
    db.set_connect_delay(Duration::ZERO);
    assert_eq!(pool.get().await.unwrap().id, 2);
}

/// Polls a future once; `Some` if it completed.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut fut: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut fut).poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}
