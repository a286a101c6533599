//! An async reset on return that never finishes (a server that stopped answering) holds its
//! slot for `reset_timeout` at most: then the connection is closed, its slot freed, the
//! reset counted as failed and logged.
mod common;

use std::time::{Duration, Instant};

use common::{Db, FakeConn};
use poolscope::{AsyncPool, AsyncReset, BoxError, BoxFuture, BuildError, ResetAction};

/// A rollback the server never answers.
struct Hangs;

impl AsyncReset<FakeConn> for Hangs {
    fn reset<'a>(
        &'a self,
        _: &'a mut FakeConn,
        _: ResetAction,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_that_never_finishes_frees_its_slot_after_reset_timeout() {
    let db = Db::new();
    let pool = AsyncPool::builder()
        .pool_size(1)
        .max_overflow(0)
        .reset_with(Hangs)
        .reset_timeout(Duration::from_millis(200))
        .build(db.manager())
        .await
        .unwrap();
    let conn = pool.get().await.unwrap();
    let returned = Instant::now();
    drop(conn); // the reset goes on on a task of its own
    assert_eq!(
        pool.status().checked_out,
        1,
        "checked out while the reset runs"
    );
    let again = pool.get().await.unwrap();
    let took = returned.elapsed();
    assert!(took >= Duration::from_millis(190), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        again.id, 2,
        "the hung connection was closed, a new one opened"
    );
    assert_eq!(db.closes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_awaits_a_hung_reset_for_reset_timeout_at_most() {
    let db = Db::new();
    let pool = AsyncPool::builder()
        .reset_with(Hangs)
        .reset_timeout(Duration::from_millis(100))
        .build(db.manager())
        .await
        .unwrap();
    let started = Instant::now();
    pool.get().await.unwrap().close().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!((pool.status().checked_out, db.closes()), (0, 1));
}

#[tokio::test]
async fn the_default_reset_timeout_is_ten_seconds_and_zero_is_refused() {
    assert_eq!(poolscope::DEFAULT_RESET_TIMEOUT, Duration::from_secs(10));
    let refused = AsyncPool::builder()
        .reset_with(Hangs)
        .reset_timeout(Duration::ZERO)
        .build(Db::new().manager())
        .await
        .unwrap_err();
    assert_eq!(refused, BuildError::ZeroResetTimeout);
}
