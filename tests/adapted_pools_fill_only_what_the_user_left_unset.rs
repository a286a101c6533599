//! An adapter's pool type ([`AdaptedPool`]) is what the builder consults at `build()` for the
//! options the user left unset: the name from the manager's URL and the reset. What the user
//! set wins. Both fronts, one body each.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Db, FakeAsyncReset, FakeConn, FakeManager};
use poolscope::{AdaptedPool, AsyncPool, AsyncReset, Blocking, Pool, PoolBuilder, Reset, Tokio};

const URL: &str = "postgres://app:secret@db.example:5432/orders";

/// The adapter's blocking pool.
struct Adapted(Pool<FakeManager>);

impl AdaptedPool<Blocking<FakeManager>> for Adapted {
    fn from_core(pool: Pool<FakeManager>) -> Self {
        Adapted(pool)
    }
    fn database_url(_: &FakeManager) -> Option<&str> {
        Some(URL)
    }
    fn default_reset() -> Option<Arc<dyn Reset<FakeConn>>> {
        Some(Arc::new(common::fake_reset))
    }
}

/// The adapter's async pool.
struct AdaptedAsync(AsyncPool<FakeManager>);

impl AdaptedPool<Tokio<FakeManager>> for AdaptedAsync {
    fn from_core(pool: AsyncPool<FakeManager>) -> Self {
        AdaptedAsync(pool)
    }
    fn database_url(_: &FakeManager) -> Option<&str> {
        Some(URL)
    }
    fn default_reset() -> Option<Arc<dyn AsyncReset<FakeConn>>> {
        Some(Arc::new(FakeAsyncReset))
    }
}

/// Counts the resets it is asked for (the user's own reset).
#[derive(Clone, Default)]
struct Counted(Arc<AtomicUsize>);

impl Reset<FakeConn> for Counted {
    fn reset(
        &self,
        conn: &mut FakeConn,
        action: poolscope::ResetAction,
    ) -> Result<(), poolscope::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        common::fake_reset(conn, action)
    }
}

impl AsyncReset<FakeConn> for Counted {
    fn reset<'a>(
        &'a self,
        conn: &'a mut FakeConn,
        action: poolscope::ResetAction,
    ) -> poolscope::BoxFuture<'a, Result<(), poolscope::BoxError>> {
        Box::pin(async move { Reset::reset(self, conn, action) })
    }
}

fn rollbacks(db: &Db, id: usize) -> usize {
    db.calls(id).iter().filter(|c| **c == "rollback").count()
}

#[test]
fn a_blocking_adapter_fills_the_name_and_the_reset_and_the_users_win() {
    let db = Db::new();
    let pool = PoolBuilder::<Blocking<FakeManager, Adapted>>::default()
        .build(db.manager())
        .expect("the adapter's reset makes rollback-on-return buildable")
        .0;
    assert_eq!(pool.name(), "db.example:5432/orders");
    let mut conn = pool.get().unwrap();
    conn.begin();
    drop(conn);
    assert_eq!(rollbacks(&db, 1), 1, "the adapter's reset rolled it back");

    let db = Db::new();
    let mine = Counted::default();
    let pool = PoolBuilder::<Blocking<FakeManager, Adapted>>::default()
        .name("mine")
        .reset_with(mine.clone())
        .build(db.manager())
        .unwrap()
        .0;
    assert_eq!(pool.name(), "mine");
    let mut conn = pool.get().unwrap();
    conn.begin();
    drop(conn);
    assert_eq!(
        mine.0.load(Ordering::SeqCst),
        1,
        "the user's reset ran, not the adapter's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_adapter_fills_the_name_and_the_reset_and_the_users_win() {
    let db = Db::new();
    let pool = PoolBuilder::<Tokio<FakeManager, AdaptedAsync>>::default()
        .build(db.manager())
        .await
        .expect("the adapter's reset makes rollback-on-return buildable")
        .0;
    assert_eq!(pool.name(), "db.example:5432/orders");
    let mut conn = pool.get().await.unwrap();
    conn.begin();
    conn.close().await;
    assert_eq!(rollbacks(&db, 1), 1, "the adapter's reset rolled it back");

    let db = Db::new();
    let mine = Counted::default();
    let pool = PoolBuilder::<Tokio<FakeManager, AdaptedAsync>>::default()
        .name("mine")
        .reset_with(mine.clone())
        .build(db.manager())
        .await
        .unwrap()
        .0;
    assert_eq!(pool.name(), "mine");
    let mut conn = pool.get().await.unwrap();
    conn.begin();
    conn.close().await;
    assert_eq!(
        mine.0.load(Ordering::SeqCst),
        1,
        "the user's reset ran, not the adapter's"
    );
}
