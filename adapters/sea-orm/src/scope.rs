//! Carries a checkout's [`Acquire`] from the caller, through SeaORM and sqlx, to the sqlx
//! callback that hands the connection out. sqlx runs `after_connect` and `before_acquire`
//! inside `Pool::acquire`, on the caller's task, so a task-local reaches them.

use std::cell::RefCell;
use std::future::Future;

use poolscope::hooks::{Acquire, PoolHooks};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

tokio::task_local! {
    static ACQUIRE: RefCell<Option<Acquire>>;
}

/// Takes the current checkout's `Acquire`, if this task is inside [`observed`].
pub(crate) fn take_acquire() -> Option<Acquire> {
    ACQUIRE
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
}

/// Runs one SeaORM call (which may check a connection out) as a poolscope checkout: counted
/// pending until the connection is handed out, its wait timed, a pool timeout turned into
/// SQLAlchemy's error. Also says whether a connection was handed out to the call.
pub(crate) async fn observed<T>(
    hooks: &PoolHooks,
    call: impl Future<Output = Result<T, DbErr>>,
) -> (Result<T, DbErr>, bool) {
    let acquire = match hooks.start_acquire() {
        Ok(acquire) => acquire,
        Err(refused) => return (Err(internal(refused.to_string())), false),
    };
    let (result, left) = ACQUIRE
        .scope(RefCell::new(Some(acquire)), async {
            let result = call.await;
            (result, take_acquire())
        })
        .await;
    match (result, left) {
        (Err(error), Some(acquire)) => (Err(acquire_failed(hooks, acquire, error)), false),
        // Ok without a handed-out connection cannot happen through SeaORM's pool; dropping
        // the Acquire ends it as cancelled.
        (result, left) => (result, left.is_none()),
    }
}

/// A SeaORM error that came before any connection was handed out: a timeout at the pool's
/// limit becomes SQLAlchemy's text; a timeout with capacity free was sqlx retrying a connect
/// that kept failing (it retries a refused connection until the deadline), and stays
/// SeaORM's timeout for [`DatabasePool`](crate::DatabasePool) to find the connect error;
/// anything else ends the checkout as failed.
pub(crate) fn acquire_failed(hooks: &PoolHooks, acquire: Acquire, error: DbErr) -> DbErr {
    match error {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) if hooks.at_limit() => {
            internal(acquire.timed_out().to_string())
        }
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => {
            acquire.failed("connect");
            error
        }
        DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => {
            acquire.failed("pool_closed");
            error
        }
        other => {
            acquire.failed("connect");
            other
        }
    }
}

/// `DbErr::Conn` with poolscope's text.
pub(crate) fn internal(text: String) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(text))
}

/// Whether `error` is a pool timeout, as this crate reports it (SQLAlchemy's `QueuePool limit
/// of size .. reached, connection timed out` text) or as SeaORM does
/// (`DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)`).
pub fn is_pool_timeout(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
        DbErr::Conn(RuntimeErr::Internal(text)) => text.contains("connection timed out, timeout"),
        _ => false,
    }
}
