//! Finding connections the server has closed (killed backend, restarted server, dropped
//! network) when they come back to the pool, so that a dead connection costs at most the one
//! error that found it, with or without `pre_ping`.
//!
//! Diesel does not say whether a connection is still open (libpq does mark a PostgreSQL
//! connection whose transaction status went unknown, and diesel-async's PostgreSQL
//! connection knows when its socket closed, but MySQL connections know nothing). What Diesel
//! does offer is [`Instrumentation`]: every query's outcome passes through it. The
//! [`DisconnectWatch`] the managers install on each connection they open notes the failed
//! queries whose error means, or may mean, the connection is gone, as SQLAlchemy's
//! `is_disconnect` does with the driver's error. On return the manager closes a connection
//! whose error said so, and checks with `SELECT 1` one whose error only may have meant it;
//! a connection whose queries all worked costs nothing more.

use diesel::connection::{get_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error};

/// What the failed queries since the last look say about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum Suspicion {
    /// No query failed in a way that concerns the connection.
    #[default]
    Sound,
    /// An error the driver does not classify: the connection may be gone (check it).
    Possible,
    /// An error that means the connection is gone.
    Lost,
}

/// Words in driver and server messages that mean the connection is gone: libpq's and
/// PostgreSQL's (`terminating connection due to administrator command`, `server closed the
/// connection unexpectedly`, `no connection to the server`), tokio-postgres'
/// (`connection closed`), libmysqlclient's and MariaDB Connector/C's (`MySQL server has gone
/// away`, `Lost connection to server during query`, `Connection was killed`), mysql_async's
/// (`Connection to the server is closed`, `Input/output error`), and the socket's.
const LOST_CONNECTION_WORDS: &[&str] = &[
    "terminating connection",
    "closed the connection",
    "connection closed",
    "connection not open",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "server has gone away",
    "lost connection",
    "connection was killed",
    "connection to the server is closed",
    "input/output error",
    "broken pipe",
    "connection reset",
    "connection refused",
    "ssl syscall error",
];

/// What `error`, from a query on a connection, says about that connection.
pub(crate) fn suspicion(error: &Error) -> Suspicion {
    let Error::DatabaseError(kind, info) = error else {
        // Not found, deserialization, query building, transaction misuse: the connection
        // answered, or was never asked.
        return Suspicion::Sound;
    };
    match kind {
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
            Suspicion::Lost
        }
        DatabaseErrorKind::Unknown => {
            let message = info.message().to_ascii_lowercase();
            if LOST_CONNECTION_WORDS.iter().any(|w| message.contains(w)) {
                Suspicion::Lost
            } else {
                Suspicion::Possible
            }
        }
        // Constraint violations, serialization failures, read-only transactions: the
        // server answered.
        _ => Suspicion::Sound,
    }
}

/// Diesel instrumentation that notes what failed queries say about the connection, and
/// passes every event on to the instrumentation the connection would otherwise have had
/// (Diesel's default, from `diesel::connection::set_default_instrumentation`).
///
/// A connection given its own instrumentation later (`conn.set_instrumentation(..)`) loses
/// the watch: its dead connections are then found by `pre_ping` only.
pub(crate) struct DisconnectWatch {
    inner: Option<Box<dyn Instrumentation>>,
    seen: Suspicion,
    /// A query started and has not finished: it failed on a path that reports no outcome
    /// (diesel-async's MySQL connection closes the last statement before the next query, and
    /// returns that step's error unreported), or its future was dropped half-way.
    unfinished: bool,
}

impl DisconnectWatch {
    /// A watch in front of Diesel's default instrumentation.
    pub(crate) fn new() -> Self {
        DisconnectWatch {
            inner: get_default_instrumentation(),
            seen: Suspicion::Sound,
            unfinished: false,
        }
    }
}

impl Instrumentation for DisconnectWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match &event {
            InstrumentationEvent::StartQuery { .. } => self.unfinished = true,
            InstrumentationEvent::FinishQuery { error, .. } => {
                self.unfinished = false;
                if let Some(error) = error {
                    self.seen = self.seen.max(suspicion(error));
                }
            }
            _ => {}
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.on_connection_event(event);
        }
    }
}

/// What the connection's watch saw since it was last cleared (a query left unfinished counts
/// as a possible loss); `Sound` when the connection has no watch (its instrumentation was
/// replaced).
pub(crate) fn seen(instrumentation: &mut dyn Instrumentation) -> Suspicion {
    instrumentation
        .downcast_ref::<DisconnectWatch>()
        .map_or(Suspicion::Sound, |w| match w.unfinished {
            true => w.seen.max(Suspicion::Possible),
            false => w.seen,
        })
}

/// Forgets what the connection's watch saw (after the connection was checked).
pub(crate) fn clear(instrumentation: &mut dyn Instrumentation) {
    if let Some(watch) = instrumentation.downcast_mut::<DisconnectWatch>() {
        watch.seen = Suspicion::Sound;
        watch.unfinished = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn connection_errors_are_lost_constraint_errors_sound_and_the_rest_possible() {
        let lost = [
            db(DatabaseErrorKind::ClosedConnection, "anything"),
            db(DatabaseErrorKind::UnableToSendCommand, "anything"),
            db(
                DatabaseErrorKind::Unknown,
                "FATAL:  terminating connection due to administrator command",
            ),
            db(DatabaseErrorKind::Unknown, "Server has gone away"),
            db(DatabaseErrorKind::Unknown, "MySQL server has gone away"),
            db(
                DatabaseErrorKind::Unknown,
                "Lost connection to MySQL server during query",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "Input/output error: Driver error: `Connection to the server is closed.'",
            ),
        ];
        for e in &lost {
            assert_eq!(suspicion(e), Suspicion::Lost, "{e}");
        }
        let sound = [
            db(DatabaseErrorKind::UniqueViolation, "duplicate key"),
            db(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize",
            ),
            Error::NotFound,
            Error::RollbackTransaction,
        ];
        for e in &sound {
            assert_eq!(suspicion(e), Suspicion::Sound, "{e}");
        }
        assert_eq!(
            suspicion(&db(
                DatabaseErrorKind::Unknown,
                "relation \"nope\" does not exist"
            )),
            Suspicion::Possible
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn the_watch_notes_a_failed_query_until_cleared_and_passes_every_event_on() {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        let passed = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&passed);
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        conn.set_instrumentation(DisconnectWatch {
            inner: Some(Box::new(move |_: InstrumentationEvent<'_>| {
                counter.fetch_add(1, Ordering::Relaxed);
            })),
            seen: Suspicion::Sound,
            unfinished: false,
        });
        conn.batch_execute("SELECT 1").unwrap();
        assert_eq!(seen(conn.instrumentation()), Suspicion::Sound);
        conn.batch_execute("SELECT * FROM no_such_table")
            .unwrap_err();
        assert_eq!(seen(conn.instrumentation()), Suspicion::Possible);
        conn.batch_execute("SELECT 1").unwrap();
        assert_eq!(
            seen(conn.instrumentation()),
            Suspicion::Possible,
            "kept until cleared"
        );
        clear(conn.instrumentation());
        assert_eq!(seen(conn.instrumentation()), Suspicion::Sound);
        assert_eq!(
            passed.load(Ordering::Relaxed),
            6,
            "start and finish of three queries"
        );
        // Replaced by the user's own: no watch, nothing seen.
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        conn.batch_execute("SELECT * FROM no_such_table")
            .unwrap_err();
        assert_eq!(seen(conn.instrumentation()), Suspicion::Sound);
    }
}
