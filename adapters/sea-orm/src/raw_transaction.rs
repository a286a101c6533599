//! Statements that open a transaction in SQL text (`BEGIN`, `START TRANSACTION`) outside a
//! SeaORM transaction.
//!
//! SeaORM checks a connection out per statement, so such a statement's connection goes back
//! to the pool with the transaction open, holding its locks, for whichever statement comes
//! next. SQLAlchemy's reset-on-return rolls it back there. sqlx cannot tell (it counts only the
//! transactions it began), so [`DatabasePool`](crate::DatabasePool) runs these statements on a
//! connection it holds, and resets that connection before it goes back, as its return would.

use poolscope::hooks::PoolHooks;
use poolscope::ResetAction;
use sea_orm::sqlx::{self, Database, Executor};
use sea_orm::{ConnAcquireErr, DbErr, ExecResult, RuntimeErr};
use tracing::Instrument;

/// Whether `sql` starts by opening a transaction (after whitespace and comments).
pub(crate) fn opens_transaction(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, next)| next);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, next)| next);
        } else {
            break;
        }
    }
    let mut words = rest
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty());
    match words.next() {
        Some(w) if w.eq_ignore_ascii_case("begin") => true,
        Some(w) if w.eq_ignore_ascii_case("start") => words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("transaction")),
        _ => false,
    }
}

fn statement(action: ResetAction) -> &'static str {
    match action {
        ResetAction::Commit => "COMMIT",
        _ => "ROLLBACK",
    }
}

/// The error SeaORM would give for a failed checkout, so the caller maps it the same way.
fn acquire_error(error: sqlx::Error) -> DbErr {
    match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(other.into())),
    }
}

/// Runs `sql` on a connection from `pool`, then resets it with `action` before it goes back.
/// A reset that fails closes the connection instead.
pub(crate) async fn run_then_reset<DB>(
    pool: &sqlx::Pool<DB>,
    hooks: &PoolHooks,
    action: ResetAction,
    sql: &str,
) -> Result<ExecResult, DbErr>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    ExecResult: From<DB::QueryResult>,
{
    let mut conn = pool.acquire().await.map_err(acquire_error)?;
    let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await;
    let span = hooks.reset_span(action);
    let reset = sqlx::raw_sql(statement(action))
        .execute(&mut *conn)
        .instrument(span)
        .await;
    if let Err(error) = &reset {
        // Counted here as returned and closed: sqlx closes it without its release callback.
        hooks.returning();
        hooks.reset_done(action, Err(error));
        conn.close_on_drop();
    } else {
        hooks.reset_done(action, Ok(()));
    }
    drop(conn);
    result
        .map(ExecResult::from)
        .map_err(|e| DbErr::Exec(RuntimeErr::SqlxError(e.into())))
}

#[cfg(test)]
mod tests {
    use super::opens_transaction;

    #[test]
    fn recognises_transaction_openers_only() {
        for sql in [
            "BEGIN",
            "begin;",
            "  Begin Transaction",
            "-- note\nBEGIN",
            "/* a */ START TRANSACTION READ ONLY",
            "BEGIN; INSERT INTO t VALUES (1)",
        ] {
            assert!(opens_transaction(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "INSERT INTO begin_log VALUES (1)",
            "START REPLICA",
            "DO $$BEGIN NULL; END$$",
            "-- BEGIN",
            "",
        ] {
            assert!(!opens_transaction(sql), "{sql}");
        }
    }
}
