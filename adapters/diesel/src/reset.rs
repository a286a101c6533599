//! Rollback / commit on return through Diesel's own transaction manager, so that its depth
//! counter stays right and the connection can be reused.

use poolscope::{BoxError, ResetAction};

/// Why a returned connection could not be reset.
#[derive(Debug)]
struct StillInTransaction(u32);

impl std::fmt::Display for StillInTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the connection is still in a transaction after {} reset step(s)",
            self.0
        )
    }
}

impl std::error::Error for StillInTransaction {}

/// Drives a reset, one transaction level at a time, from Diesel's own status.
#[derive(Default)]
pub(crate) struct Unwind {
    steps: u32,
    limit: Option<u32>,
}

impl Unwind {
    /// Whether one more level must be ended, given Diesel's `depth` (an error when its
    /// transaction manager is in its error state, which invalidates the connection) and
    /// whether Diesel itself would call the connection `broken`.
    pub(crate) fn more(
        &mut self,
        depth: diesel::QueryResult<Option<std::num::NonZeroU32>>,
        broken: bool,
    ) -> Result<bool, BoxError> {
        match depth? {
            None => Ok(false),
            // Open but not "broken" to Diesel: a `begin_test_transaction`, kept open as
            // Diesel's own pool keeps it.
            Some(_) if !broken => Ok(false),
            Some(depth) => {
                // Each step ends one level; more steps than levels means it is not working.
                if self.steps >= *self.limit.get_or_insert(depth.get()) {
                    return Err(Box::new(StillInTransaction(self.steps)));
                }
                self.steps += 1;
                Ok(true)
            }
        }
    }
}

/// Ends every open level of a blocking connection's transaction, innermost first
/// (savepoints, then the transaction), as `action` says.
///
/// # Errors
/// Diesel's error when a ROLLBACK / COMMIT fails or its transaction manager is in its error
/// state; the pool then closes the connection.
pub fn reset_connection<C>(conn: &mut C, action: ResetAction) -> Result<(), BoxError>
where
    C: diesel::Connection,
{
    use diesel::connection::TransactionManager;
    type Tm<C> = <C as diesel::Connection>::TransactionManager;
    let mut unwind = Unwind::default();
    while unwind.more(
        Tm::<C>::transaction_manager_status_mut(conn).transaction_depth(),
        Tm::<C>::is_broken_transaction_manager(conn),
    )? {
        match action {
            ResetAction::Rollback => Tm::<C>::rollback_transaction(conn)?,
            ResetAction::Commit => Tm::<C>::commit_transaction(conn)?,
        }
    }
    Ok(())
}

/// The [`Reset`](poolscope::Reset) the blocking builder installs: [`reset_connection`], with
/// Diesel's transaction depth telling the pool when there is nothing to roll back (no
/// ROLLBACK is sent then, and echo_pool says `Connection N reset, transaction already
/// reset`, as SQLAlchemy does).
#[derive(Debug, Clone, Copy, Default)]
pub struct DieselReset;

impl<C: diesel::Connection + 'static> poolscope::Reset<C> for DieselReset {
    fn reset(&self, conn: &mut C, action: ResetAction) -> Result<(), BoxError> {
        reset_connection(conn, action)
    }

    fn transaction_open(&self, conn: &mut C) -> Option<bool> {
        use diesel::connection::TransactionManager;
        known_depth(
            <C as diesel::Connection>::TransactionManager::transaction_manager_status_mut(conn)
                .transaction_depth(),
        )
    }
}

/// Whether a transaction is open, from Diesel's depth; `None` when its transaction manager is
/// in its error state (the reset then runs, and fails, and the connection is closed).
pub(crate) fn known_depth(
    depth: diesel::QueryResult<Option<std::num::NonZeroU32>>,
) -> Option<bool> {
    depth.ok().map(|depth| depth.is_some())
}

/// Whether Diesel's transaction manager is in its error state (a failed ROLLBACK or COMMIT
/// left the connection in an unknown state): such a connection is closed, never reused.
pub(crate) fn in_error<C: diesel::Connection>(conn: &mut C) -> bool {
    use diesel::connection::TransactionManager;
    <C as diesel::Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_err()
}

/// Whether Diesel's transaction manager has a transaction open.
pub(crate) fn in_transaction<C: diesel::Connection>(conn: &mut C) -> bool {
    use diesel::connection::TransactionManager;
    <C as diesel::Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some())
}
