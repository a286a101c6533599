//! The async pool keeps the same semantics as the blocking one (same core, same policy).
mod common;

use common::{Db, EventLog, FakeAsyncReset, FakeManager};
use poolscope::{AsyncBuilder, AsyncPool, Error, PoolClass, ResetOnReturn};
use std::time::Duration;

fn builder() -> AsyncBuilder<FakeManager> {
    AsyncPool::builder().reset_with(FakeAsyncReset)
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn queue_overflow_and_return_accounting() {
    let db = Db::new();
    let pool = builder()
        .pool_size(3)
        .max_overflow(-1)
        .build(db.manager())
        .await
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(pool.get().await.unwrap());
    }
    assert_eq!(
        pool.status().to_string(),
        "Pool size: 3  Connections in pool: 0 Current Overflow: 3 Current Checked out connections: 6"
    );
    for c in held {
        c.close().await;
    }
    assert_eq!(
        pool.status().to_string(),
        "Pool size: 3  Connections in pool: 3 Current Overflow: 0 Current Checked out connections: 0"
    );
    assert_eq!(db.closes(), 3);
    for id in 1..=6 {
        assert_eq!(db.calls(id)[0], "rollback");
    }
}

#[tokio::test]
async fn drop_runs_the_reset_on_a_task_and_counts_the_slot_until_done() {
    let db = Db::new();
    let pool = builder().pool_size(1).build(db.manager()).await.unwrap();
    let mut c = pool.get().await.unwrap();
    c.begin();
    let id = c.id;
    drop(c);
    settle().await;
    assert_eq!(db.calls(id), vec!["rollback"]);
    assert_eq!(pool.status().checked_in, 1);
    assert!(!pool.get().await.unwrap().in_transaction);
}

/// Real time: the deadline is kept by poolscope's timer thread (Tokio's paused clock does
/// not move it).
#[tokio::test]
async fn timeout_with_queuepool_text() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(250))
        .build(Db::new().manager())
        .await
        .unwrap();
    let _held = pool.get().await.unwrap();
    let start = std::time::Instant::now();
    let err = pool.get().await.unwrap_err();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(
        err.to_string(),
        "QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.25"
    );
    assert_eq!(pool.status().waiting, 0);
}

#[tokio::test]
async fn waiters_are_served_in_order_with_the_returned_connection() {
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(None)
        .build(Db::new().manager())
        .await
        .unwrap();
    let held = pool.get().await.unwrap();
    let id = held.id;
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..3 {
        let task_pool = pool.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let c = task_pool.get().await.unwrap();
            order.lock().unwrap().push((i, c.id));
            c.close().await;
        }));
        while pool.status().waiting < i + 1 {
            tokio::task::yield_now().await;
        }
    }
    held.close().await;
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![(0, id), (1, id), (2, id)]);
}

#[tokio::test]
async fn static_pool_refuses_a_nested_checkout_in_the_same_task_and_shares_across_tasks() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::Static)
        .pool_timeout(Duration::from_secs(5))
        .build(db.manager())
        .await
        .unwrap();
    let handle = tokio::spawn({
        let pool = pool.clone();
        async move {
            let outer = pool.get().await.unwrap();
            let nested = pool.get().await;
            assert!(matches!(nested, Err(Error::AlreadyCheckedOut(_))));
            outer.close().await;
        }
    });
    handle.await.unwrap();
    let other = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.unwrap().id }
    });
    assert_eq!(other.await.unwrap(), 1);
    assert_eq!(db.connects(), 1);
}

#[tokio::test]
async fn assertion_and_null_pools() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::Assertion)
        .build(db.manager())
        .await
        .unwrap();
    let first = pool.get().await.unwrap();
    let err = pool.get().await.map(|_| ()).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("connection is already checked out at:\n"));
    first.close().await;

    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::Null)
        .build(db.manager())
        .await
        .unwrap();
    pool.get().await.unwrap().close().await;
    pool.get().await.unwrap().close().await;
    assert_eq!((db.connects(), db.closes()), (2, 2));
    assert_eq!(pool.status().to_string(), "NullPool");
}

#[tokio::test]
async fn pre_ping_and_events_match_the_blocking_pool() {
    let db = Db::new();
    let log = EventLog::default();
    let pool = builder()
        .pool_size(1)
        .pre_ping(true)
        .listener(log.clone())
        .build(db.manager())
        .await
        .unwrap();
    pool.get().await.unwrap().close().await;
    db.restart();
    let c = pool.get().await.unwrap();
    assert_eq!(c.id, 2);
    assert_eq!(db.calls(1), vec!["rollback", "ping", "close"]);
    let names = log.names();
    assert_eq!(
        names,
        vec![
            "first_connect",
            "connect",
            "checkout",
            "reset",
            "checkin",
            "invalidate",
            "close",
            "connect",
            "checkout"
        ]
    );
}

#[tokio::test]
async fn reset_none_returns_synchronously_on_drop() {
    let db = Db::new();
    let pool = AsyncPool::builder()
        .reset_on_return(ResetOnReturn::None)
        .build(db.manager())
        .await
        .unwrap();
    drop(pool.get().await.unwrap());
    assert_eq!(pool.status().checked_in, 1, "no task needed");
}

#[tokio::test]
async fn failing_async_reset_invalidates_and_frees_the_slot() {
    let db = Db::new();
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .build(db.manager())
        .await
        .unwrap();
    let c = pool.get().await.unwrap();
    db.fail_resets(true);
    c.close().await;
    db.fail_resets(false);
    assert_eq!(db.calls(1), vec!["rollback", "close"]);
    assert_eq!(pool.status().checked_in, 1);
    assert_eq!(pool.get().await.unwrap().id, 2);
}

#[tokio::test]
async fn panicking_async_reset_invalidates_and_frees_the_slot() {
    let db = Db::new();
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .build(db.manager())
        .await
        .unwrap();
    let c = pool.get().await.unwrap();
    db.panic_resets(true);
    c.close().await;
    db.panic_resets(false);
    assert!(db.calls(1).contains(&"close"));
    assert_eq!(pool.status().checked_out, 0);
}

#[test]
fn dropped_outside_a_runtime_the_connection_is_closed_and_the_slot_freed() {
    let db = Db::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (pool, conn) = rt.block_on(async {
        let pool = builder().pool_size(1).build(db.manager()).await.unwrap();
        let conn = pool.get().await.unwrap();
        (pool, conn)
    });
    drop(rt);
    drop(conn);
    assert_eq!(db.calls(1), vec!["close"]);
    assert_eq!(pool.status().checked_out, 0);
    assert_eq!(pool.status().checked_in, 1);
}

/// A reset with nothing to wait for: its future is ready at the first poll.
struct ImmediateReset;

impl poolscope::AsyncReset<common::FakeConn> for ImmediateReset {
    fn reset<'a>(
        &'a self,
        conn: &'a mut common::FakeConn,
        action: poolscope::ResetAction,
    ) -> poolscope::BoxFuture<'a, Result<(), poolscope::BoxError>> {
        Box::pin(std::future::ready(common::fake_reset(conn, action)))
    }
}

#[test]
fn a_reset_ready_at_once_is_finished_inside_drop_even_without_a_runtime() {
    let db = Db::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (pool, conn) = rt.block_on(async {
        let pool = AsyncPool::builder()
            .reset_with(ImmediateReset)
            .pool_size(1)
            .build(db.manager())
            .await
            .unwrap();
        drop(pool.get().await.unwrap());
        assert_eq!(pool.status().checked_in, 1, "back before drop returned");
        let conn = pool.get().await.unwrap();
        (pool, conn)
    });
    drop(rt);
    drop(conn);
    assert_eq!(
        db.calls(1),
        vec!["rollback", "rollback"],
        "reset, not closed"
    );
    assert_eq!(pool.status().checked_in, 1);
}

#[test]
fn a_reset_task_dropped_with_its_runtime_closes_the_connection_and_frees_the_slot() {
    let db = Db::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(async {
        let pool = builder().pool_size(1).build(db.manager()).await.unwrap();
        drop(pool.get().await.unwrap()); // the reset yields: it goes on on a task
        assert_eq!(
            pool.status().checked_out,
            1,
            "counted out until the reset finishes"
        );
        pool
    });
    drop(rt); // the task never ran
    assert_eq!(db.calls(1), vec!["close"]);
    assert_eq!(pool.status().checked_out, 0);
    assert_eq!(pool.status().checked_in, 1);
}

/// `on_connect`: async setup on every new connection (bb8's customizer); a failure fails
/// the checkout, closes the connection and frees the slot.
#[tokio::test]
async fn on_connect_sets_up_every_new_connection_and_a_failure_frees_the_slot() {
    use common::FakeConn;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Setup(Arc<AtomicUsize>, Arc<AtomicBool>);
    impl poolscope::AsyncConnectHook<FakeConn> for Setup {
        fn on_connect<'a>(
            &'a self,
            conn: &'a mut FakeConn,
        ) -> poolscope::BoxFuture<'a, Result<(), poolscope::BoxError>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                if self.1.load(Ordering::SeqCst) {
                    return Err("SET TIME ZONE failed".into());
                }
                self.0.fetch_add(1, Ordering::SeqCst);
                conn.in_transaction = false;
                Ok(())
            })
        }
    }
    let (runs, fail) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let db = Db::new();
    let pool = builder()
        .pool_size(1)
        .max_overflow(0)
        .on_connect(Setup(Arc::clone(&runs), Arc::clone(&fail)))
        .build(db.manager())
        .await
        .unwrap();
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "once per new connection");
    pool.get().await.unwrap().invalidate();
    fail.store(true, Ordering::SeqCst);
    let err = pool.get().await.err().unwrap();
    assert!(matches!(err, poolscope::Error::Listener(_)), "{err:?}");
    assert!(
        poolscope::ErrorChain(&err)
            .to_string()
            .contains("SET TIME ZONE failed"),
        "{err:?}"
    );
    assert_eq!(db.open(), 0, "the connection was closed");
    assert_eq!(pool.status().checked_out, 0);
    fail.store(false, Ordering::SeqCst);
    assert!(pool.get().await.is_ok());
}
