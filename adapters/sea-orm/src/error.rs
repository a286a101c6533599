//! What building a pool can fail with.

use std::error::Error as StdError;
use std::fmt;

/// Building a [`DatabasePool`](crate::DatabasePool) failed; nothing was opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The options were refused (see [`poolscope::BuildError`]).
    Build(poolscope::BuildError),
    /// The URL's scheme names no backend compiled in (features `postgres`, `mysql`, `sqlite`).
    UnsupportedUrl {
        /// The scheme, as given.
        scheme: String,
    },
    /// sqlx could not parse the URL (its text carries no password).
    InvalidUrl(sea_orm::sqlx::Error),
    /// The first connection (`connect`) failed.
    Connect(sea_orm::DbErr),
    /// `min_connections` is above the most connections the pool may open.
    MinConnectionsAboveLimit {
        /// `min_connections`, as given.
        min: u32,
        /// `pool_size + max_overflow`.
        limit: usize,
    },
    /// An option has no meaning (SeaORM's `ConnectOptions` in [`compat`](crate::compat)).
    InvalidOption {
        /// The option, as SeaORM names it.
        option: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Build(_) => f.write_str("invalid pool options"),
            Error::UnsupportedUrl { scheme } => write!(
                f,
                "no backend for URL scheme `{scheme}`: use postgres://, mysql://, mariadb:// or \
                 sqlite: with the matching cargo feature"
            ),
            Error::InvalidUrl(_) => f.write_str("invalid database URL"),
            Error::Connect(_) => f.write_str("could not connect"),
            Error::MinConnectionsAboveLimit { min, limit } => write!(
                f,
                "min_connections {min} is above the pool's limit of {limit} connections \
                 (pool_size + max_overflow)"
            ),
            Error::InvalidOption { option, reason } => write!(f, "invalid {option}: {reason}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Build(e) => Some(e),
            Error::UnsupportedUrl { .. } => None,
            Error::InvalidUrl(e) => Some(e),
            Error::Connect(e) => Some(e),
            Error::MinConnectionsAboveLimit { .. } | Error::InvalidOption { .. } => None,
        }
    }
}

impl From<poolscope::BuildError> for Error {
    fn from(e: poolscope::BuildError) -> Self {
        Error::Build(e)
    }
}
