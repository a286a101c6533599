//! sqlx's pool callbacks, wired to [`PoolHooks`]: sqlx keeps the connections, poolscope decides.
//!
//! | sqlx callback | poolscope |
//! |---|---|
//! | `after_connect` | a new connection is handed out (outcome `new` or `overflow`) |
//! | `before_acquire` | an idle one is taken: replaced if older than `pool_recycle` or opened before the pool was invalidated, pinged first with `pre_ping` |
//! | `after_release` | reset-on-return of a transaction sqlx knows is open, then keep idle (at most `pool_size`) or close |

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use poolscope::hooks::{IdleCheck, PoolHooks};
use poolscope::ResetAction;
use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::{Connection, Database};
use sqlx_core::transaction::TransactionManager;
use tracing::Instrument;

use crate::returns::Returns;
use crate::scope::take_acquire;

/// The most connections sqlx may open when poolscope sets no limit (NullPool, unlimited
/// overflow, `pool_size` 0). sqlx sizes its idle queue by its limit up front, so "none" must
/// still be a number; this one is far above any server's connection limit.
pub const UNLIMITED_CONNECTIONS: u32 = 4096;

/// Setup run on each new connection (see [`pool_options`]).
pub(crate) type Setup<DB> = Arc<
    dyn for<'c> Fn(
            &'c mut <DB as Database>::Connection,
        )
            -> Pin<Box<dyn Future<Output = Result<(), sea_orm::sqlx::Error>> + Send + 'c>>
        + Send
        + Sync,
>;

/// How long "wait forever" (`pool_timeout(None)`) is for sqlx, which needs a deadline.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// sqlx pool options that enforce `hooks`' limits and report to them.
/// `setup` runs on each new connection before it is counted or handed out (PostgreSQL's
/// `SET search_path`); if it fails, sqlx closes the connection and the checkout fails with its
/// error.
pub(crate) fn pool_options<DB: Database>(
    hooks: &PoolHooks,
    returns: &Arc<Returns>,
    setup: Option<Setup<DB>>,
) -> PoolOptions<DB> {
    let max = hooks.max_open().map_or(UNLIMITED_CONNECTIONS, |n| {
        u32::try_from(n)
            .unwrap_or(u32::MAX)
            .min(UNLIMITED_CONNECTIONS)
    });
    let connected = hooks.clone();
    let taken = hooks.clone();
    let released = hooks.clone();
    let returns = Arc::clone(returns);
    PoolOptions::<DB>::new()
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(hooks.pool_timeout().unwrap_or(FOREVER))
        // poolscope replaces old connections at checkout (pool_recycle) and tests them
        // (pre_ping); sqlx's own reaper and test would decide behind its back.
        .max_lifetime(None)
        .idle_timeout(None)
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let Some(setup) = setup.clone() else {
                connected.connected(take_acquire());
                return Box::pin(async { Ok(()) });
            };
            // Taken now, on the caller's task, where the task-local is in reach.
            let acquire = take_acquire();
            let hooks = connected.clone();
            Box::pin(async move {
                match setup(conn).await {
                    Ok(_) => {
                        hooks.connected(acquire);
                        Ok(())
                    }
                    Err(error) => {
                        if let Some(acquire) = acquire {
                            acquire.failed("connect");
                        }
                        Err(error)
                    }
                }
            })
        })
        .before_acquire(move |conn, meta| {
            let hooks = taken.clone();
            Box::pin(async move {
                match hooks.idle_taken(meta.age) {
                    IdleCheck::Replace => return Ok(false),
                    IdleCheck::Ping => {
                        if let Err(error) = conn.ping().await {
                            hooks.ping_failed(&error);
                            return Ok(false);
                        }
                    }
                    _ => {}
                }
                hooks.handed_idle(take_acquire());
                Ok(true)
            })
        })
        .after_release(move |conn, _meta| {
            let hooks = released.clone();
            let returns = Arc::clone(&returns);
            Box::pin(async move {
                let keep = release::<DB>(&hooks, conn).await;
                returns.released();
                Ok(keep)
            })
        })
}

/// `after_release`: the reset the policy asks for, if a transaction is open, then keep or close.
async fn release<DB: Database>(hooks: &PoolHooks, conn: &mut DB::Connection) -> bool {
    if let Some(action) = hooks.returning() {
        if conn.is_in_transaction() {
            let span = hooks.reset_span(action);
            let result = end_transaction::<DB>(conn, action).instrument(span).await;
            let failed = result.is_err();
            hooks.reset_done(action, result.as_ref().map_err(|e| e as _).copied());
            if failed {
                return false;
            }
        } else {
            hooks.nothing_to_reset(action);
        }
    }
    hooks.check_in()
}

/// Rolls back (or commits) every level sqlx has open, innermost first, through sqlx's
/// transaction manager so that its depth counter ends at 0.
async fn end_transaction<DB: Database>(
    conn: &mut DB::Connection,
    action: ResetAction,
) -> Result<(), sea_orm::sqlx::Error> {
    while conn.is_in_transaction() {
        match action {
            ResetAction::Commit => DB::TransactionManager::commit(conn).await?,
            _ => DB::TransactionManager::rollback(conn).await?,
        }
    }
    Ok(())
}
