//! How a returned connection is reset: supplied by the side that knows the connection type.

use std::future::Future;
use std::pin::Pin;

use crate::config::ResetAction;
use crate::error::BoxError;

/// A boxed future, as [`AsyncReset`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Rolls back or commits a blocking connection on return.
///
/// Any `Fn(&mut C, ResetAction) -> Result<(), BoxError>` closure is one. Return `Ok(())` when
/// there was nothing to do (no open transaction). An error invalidates the connection: it is
/// closed and its slot freed.
///
/// ```
/// use poolscope::{BoxError, Reset, ResetAction};
///
/// struct Conn { in_transaction: bool }
///
/// fn reset(conn: &mut Conn, action: ResetAction) -> Result<(), BoxError> {
///     // A real one would run ROLLBACK / COMMIT on the connection.
///     let _ = action;
///     conn.in_transaction = false;
///     Ok(())
/// }
/// fn takes_reset(_: impl Reset<Conn>) {}
/// takes_reset(reset);
/// ```
pub trait Reset<C>: Send + Sync + 'static {
    /// Performs `action` on `conn`.
    fn reset(&self, conn: &mut C, action: ResetAction) -> Result<(), BoxError>;

    /// Whether `conn` has a transaction open, if this reset can tell without asking the
    /// server (Diesel's transaction manager keeps count). `Some(false)`: the pool sends no
    /// ROLLBACK and logs SQLAlchemy's `Connection N reset, transaction already reset`
    /// (a commit-on-return still runs, as SQLAlchemy's does). `None` (the default): the reset
    /// always runs.
    fn transaction_open(&self, conn: &mut C) -> Option<bool> {
        let _ = conn;
        None
    }
}

impl<C, F> Reset<C> for F
where
    F: Fn(&mut C, ResetAction) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn reset(&self, conn: &mut C, action: ResetAction) -> Result<(), BoxError> {
        self(conn, action)
    }
}

/// Rolls back or commits an async connection on return.
pub trait AsyncReset<C>: Send + Sync + 'static {
    /// Performs `action` on `conn`.
    fn reset<'a>(
        &'a self,
        conn: &'a mut C,
        action: ResetAction,
    ) -> BoxFuture<'a, Result<(), BoxError>>;

    /// As [`Reset::transaction_open`]: `Some(false)` skips a rollback that has nothing to do.
    fn transaction_open(&self, conn: &mut C) -> Option<bool> {
        let _ = conn;
        None
    }
}

/// Async setup run on every new connection of an [`AsyncPool`](crate::AsyncPool), after the
/// manager opened it and before its `connect` listeners (a `SET` statement, a session
/// variable, a prepared statement: what a synchronous [`PoolListener`](crate::PoolListener)
/// cannot await). bb8's `CustomizeConnection::on_acquire`.
///
/// An error fails the checkout with [`Error::Listener`](crate::Error::Listener) (its source
/// the hook's error) and closes the connection; the slot is freed.
///
/// ```
/// use poolscope::{AsyncConnectHook, BoxError, BoxFuture};
///
/// struct Conn { timezone: &'static str }
///
/// struct Utc;
///
/// impl AsyncConnectHook<Conn> for Utc {
///     fn on_connect<'a>(&'a self, conn: &'a mut Conn) -> BoxFuture<'a, Result<(), BoxError>> {
///         Box::pin(async move {
///             conn.timezone = "UTC"; // a real one would await `SET TIME ZONE 'UTC'`
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait AsyncConnectHook<C>: Send + Sync + 'static {
    /// Sets up `conn`, just opened.
    fn on_connect<'a>(&'a self, conn: &'a mut C) -> BoxFuture<'a, Result<(), BoxError>>;
}
