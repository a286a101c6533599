//! Why a connect failed, as far as a pool can tell from the error: the server at its
//! connection budget (a capacity the pool can wait for), nothing answering at the address, the
//! credentials refused, or anything else. The pool decides on it (a refusal for capacity is a
//! wait, not an error; see `core/connects.rs`) and counts it
//! (`poolscope.connection.refusals{reason}`).

use std::fmt;

/// Why a connect failed. The text classifier ([`Refusal::of_text`]) reads the server's and
/// the driver's words; a manager that knows its driver's errors better classifies them itself
/// (`PoolBuilder::classify_connect_errors`).
///
/// ```
/// use poolscope::Refusal;
///
/// assert_eq!(Refusal::of_text("FATAL: sorry, too many clients already"), Refusal::ServerCapacity);
/// assert_eq!(Refusal::of_text("ERROR 1040 (08004): Too many connections"), Refusal::ServerCapacity);
/// assert_eq!(Refusal::of_text("Connection refused (os error 111)"), Refusal::Unreachable);
/// assert_eq!(Refusal::ServerCapacity.as_str(), "server_capacity");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The server is at its connection budget: PostgreSQL's `too many clients already`
    /// (SQLSTATE 53300), its reserved slots, a role's or a database's `CONNECTION LIMIT`;
    /// MySQL's and MariaDB's `Too many connections` (1040) and `max_user_connections` (1203);
    /// PgBouncer's `no more connections allowed (max_client_conn)`. Other clients hold the
    /// budget, and a connection comes free when one of them lets go.
    ServerCapacity,
    /// Nothing answers at the address: the connection was refused, reset, timed out, the host
    /// is unreachable or its name unknown.
    Unreachable,
    /// The server refused the credentials, or the user or database does not exist.
    Authentication,
    /// Anything else.
    Other,
}

/// The words that mean the server is at its connection budget, lower-cased.
const SERVER_CAPACITY: &[&str] = &[
    "too many clients",
    "remaining connection slots are reserved",
    "too many connections",
    "53300",
    "max_user_connections",
    "error 1040",
    "error 1203",
    "max_client_conn",
    "no more connections allowed",
];

/// The words that mean nothing answers at the address, lower-cased.
const UNREACHABLE: &[&str] = &[
    "connection refused",
    "connection reset",
    "timed out",
    "no route to host",
    "network is unreachable",
    "host is unreachable",
    "could not translate host name",
    "name or service not known",
    "failed to lookup address",
    "temporary failure in name resolution",
    "no such host",
    "broken pipe",
    "the database system is starting up",
    "the database system is shutting down",
    "can't connect to",
    "lost connection to",
    "server has gone away",
];

/// The words that mean the credentials or the names were refused, lower-cased.
const AUTHENTICATION: &[&str] = &[
    "password authentication failed",
    "authentication failed",
    "access denied",
    "no pg_hba.conf entry",
    "does not exist",
    "unknown database",
    "permission denied",
];

impl Refusal {
    /// Every reason, in [`index`](Self::index) order.
    #[cfg_attr(
        not(any(feature = "metrics", feature = "opentelemetry")),
        allow(dead_code)
    )]
    pub(crate) const ALL: [Refusal; 4] = [
        Refusal::ServerCapacity,
        Refusal::Unreachable,
        Refusal::Authentication,
        Refusal::Other,
    ];

    /// Its place in [`ALL`](Self::ALL).
    #[cfg_attr(
        not(any(feature = "metrics", feature = "opentelemetry")),
        allow(dead_code)
    )]
    pub(crate) fn index(self) -> usize {
        match self {
            Refusal::ServerCapacity => 0,
            Refusal::Unreachable => 1,
            Refusal::Authentication => 2,
            Refusal::Other => 3,
        }
    }

    /// Classifies an error by its text (the error's message and its sources'): capacity
    /// first, since PostgreSQL words a role's limit as a connection error.
    pub fn of_text(text: &str) -> Refusal {
        let text = text.to_ascii_lowercase();
        let says = |words: &[&str]| words.iter().any(|word| text.contains(word));
        if says(SERVER_CAPACITY) {
            Refusal::ServerCapacity
        } else if says(AUTHENTICATION) {
            Refusal::Authentication
        } else if says(UNREACHABLE) {
            Refusal::Unreachable
        } else {
            Refusal::Other
        }
    }

    /// Classifies an error by its `Display` and its `source()` chain.
    pub fn of_error(error: &(dyn std::error::Error + 'static)) -> Refusal {
        Refusal::of_text(&crate::error_chain::ErrorChain(error).to_string())
    }

    /// The `reason` label of `poolscope.connection.refusals`: `server_capacity`,
    /// `unreachable`, `authentication`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::ServerCapacity => "server_capacity",
            Refusal::Unreachable => "unreachable",
            Refusal::Authentication => "authentication",
            Refusal::Other => "other",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Refusal;

    #[test]
    fn the_servers_words_for_a_full_budget_read_as_capacity() {
        for text in [
            "FATAL:  sorry, too many clients already",
            "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
            "FATAL:  too many connections for role \"app\"",
            "FATAL:  too many connections for database \"orders\"",
            "db error: FATAL: 53300",
            "MySqlError { ERROR 1040 (08004): Too many connections }",
            "ERROR 1203 (42000): User app already has more than 'max_user_connections' active connections",
            "ERROR:  no more connections allowed (max_client_conn)",
        ] {
            assert_eq!(Refusal::of_text(text), Refusal::ServerCapacity, "{text}");
        }
    }

    #[test]
    fn other_failures_read_as_what_they_are() {
        assert_eq!(
            Refusal::of_text("could not connect to server: Connection refused"),
            Refusal::Unreachable
        );
        assert_eq!(
            Refusal::of_text("FATAL: password authentication failed for user \"app\""),
            Refusal::Authentication
        );
        assert_eq!(
            Refusal::of_text("FATAL: database \"nope\" does not exist"),
            Refusal::Authentication
        );
        assert_eq!(Refusal::of_text("something odd"), Refusal::Other);
    }
}
