//! The blocking front's connection manager: Diesel's `ConnectionManager`, with the returned
//! connection's check that knows a transaction the pool rolls back from a broken connection.

use std::fmt;

use diesel::r2d2::{ConnectionManager, R2D2Connection};

use crate::compat::ErrorHook;
use crate::lost_connection::{self, DisconnectWatch, Suspicion};
use crate::redact::fmt_manager;
use crate::reset::{in_error, in_transaction};

/// Opens Diesel connections for a [`Pool`](crate::Pool): Diesel's own [`ConnectionManager`], except that a
/// connection returned inside a transaction is not "broken" (the pool rolls it back and keeps
/// it, where Diesel's r2d2 pool would throw it away).
///
/// A returned connection is broken, and closed, when its transaction manager is in its error
/// state (a failed ROLLBACK / COMMIT), or when one of its queries failed with an error that
/// means the server closed it (a killed backend, a restarted server). After an error that
/// only may mean that, the connection is checked with `SELECT 1` as it comes back. So a
/// connection the server closed costs at most the one error that found it, `pre_ping` or not;
/// with `pre_ping`, an idle one is found before it is handed out. The check rides on Diesel's
/// [`Instrumentation`](diesel::connection::Instrumentation): the manager installs one on each
/// connection it opens, in front of Diesel's default instrumentation. A connection given an
/// instrumentation of its own later loses it, and is then checked by `pre_ping` only.
pub struct Manager<C> {
    inner: ConnectionManager<C>,
    url: Option<String>,
    /// `poolscope_diesel::r2d2`'s error handler, told of each failed connect and ping.
    errors: Option<ErrorHook>,
}

impl<C> Manager<C> {
    /// A manager that opens connections to `database_url`. The pool is named after the URL,
    /// without its credentials.
    pub fn new(database_url: impl Into<String>) -> Self {
        let url = database_url.into();
        Manager::with_url(ConnectionManager::new(url.clone()), url)
    }

    /// The database URL, when the manager was made from one (Diesel's `ConnectionManager`
    /// does not tell its URL).
    pub fn database_url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Diesel's manager for `url` (the compat module's manager, which knows its URL).
    pub(crate) fn with_url(inner: ConnectionManager<C>, url: String) -> Self {
        Manager {
            inner,
            url: Some(url),
            errors: None,
        }
    }

    /// Tells `hook` of each failed connect and ping, from now on.
    pub(crate) fn report_errors_to(&mut self, hook: ErrorHook) {
        self.errors = Some(hook);
    }
}

impl<C> From<ConnectionManager<C>> for Manager<C> {
    /// Wraps Diesel's manager. It does not tell its URL: name the pool with
    /// [`Builder::name`](crate::Builder::name), or it is called `pool-<id>`.
    fn from(inner: ConnectionManager<C>) -> Self {
        Manager {
            inner,
            url: None,
            errors: None,
        }
    }
}

impl<C> From<&str> for Manager<C> {
    fn from(url: &str) -> Self {
        Manager::new(url)
    }
}

impl<C> From<String> for Manager<C> {
    fn from(url: String) -> Self {
        Manager::new(url)
    }
}

impl<C> From<&String> for Manager<C> {
    fn from(url: &String) -> Self {
        Manager::new(url.as_str())
    }
}

impl<C> fmt::Debug for Manager<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_manager(
            f,
            "Manager",
            std::any::type_name::<C>(),
            self.url.as_deref(),
        )
    }
}

impl<C> r2d2::ManageConnection for Manager<C>
where
    C: R2D2Connection + Send + 'static,
{
    type Connection = C;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<C, Self::Error> {
        let connected = self.inner.connect().map_err(crate::redact::connect_error);
        let mut conn = ErrorHook::report_to(&self.errors, connected)?;
        conn.set_instrumentation(DisconnectWatch::new());
        Ok(conn)
    }

    /// `SELECT 1` (Diesel's ping), run when `pre_ping` is on.
    fn is_valid(&self, conn: &mut C) -> Result<(), Self::Error> {
        ErrorHook::report_to(&self.errors, self.inner.is_valid(conn))
    }

    fn has_broken(&self, conn: &mut C) -> bool {
        if in_error(conn) {
            return true;
        }
        let broken = match lost_connection::seen(conn.instrumentation()) {
            Suspicion::Sound => false,
            Suspicion::Lost => true,
            // Inside a transaction, the reset's ROLLBACK is the check (a failed statement
            // may have aborted the transaction, where `SELECT 1` would fail too).
            Suspicion::Possible if in_transaction(conn) => false,
            Suspicion::Possible => self.inner.is_valid(conn).is_err(),
        };
        lost_connection::clear(conn.instrumentation());
        broken
    }
}
