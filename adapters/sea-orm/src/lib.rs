//! SeaORM with SQLAlchemy's pool semantics: a SeaORM connection whose sqlx pool obeys
//! [`poolscope`]'s policy, every decision observable.
//!
//! SeaORM owns a sqlx pool. [`Builder`] builds that pool with sqlx's `after_connect`,
//! `before_acquire` and `after_release` callbacks wired to [`poolscope::hooks`], which decides
//! through the same class rules as the core pools, and hands it to SeaORM
//! (`SqlxPostgresConnector::from_sqlx_postgres_pool` and its MySQL / SQLite siblings). What you
//! get back, [`DatabasePool`], works wherever SeaORM takes a connection:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use poolscope::{EchoPool, PoolClass};
//! use sea_orm::{ConnectionTrait, TransactionTrait};
//!
//! let db = poolscope_sea_orm::Builder::new()
//!     .pool_class(PoolClass::Queue)
//!     .pool_size(5)
//!     .max_overflow(10)
//!     .echo_pool(EchoPool::Debug)
//!     .build("sqlite::memory:")?;
//! db.execute_unprepared("CREATE TABLE orders (id INTEGER PRIMARY KEY)").await?;
//! let txn = db.begin().await?;
//! txn.execute_unprepared("INSERT INTO orders VALUES (1)").await?;
//! txn.commit().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What each class means here
//!
//! | class | sqlx pool |
//! |---|---|
//! | Queue | at most `pool_size + max_overflow` open (sqlx waits up to `pool_timeout`); a returned connection is kept only while fewer than `pool_size` are idle, otherwise closed |
//! | Null | every return closes the connection |
//! | Static | one connection, never closed; checkouts take turns |
//! | Assertion | one connection; a second checkout while it is out fails at once with `connection is already checked out at:` and a backtrace of the first checkout when `RUST_BACKTRACE` is set (its `file:line` is the adapter's: a location cannot be tracked through `async` calls) |
//! | SingletonThread | refused at build: tasks move between threads |
//!
//! "No limit" (NullPool, `max_overflow(-1)`, `pool_size(0)`) is sqlx's limit of
//! [`UNLIMITED_CONNECTIONS`], since sqlx sizes its idle queue up front.
//!
//! # What you will see
//!
//! SeaORM checks a connection out **per statement** (outside a transaction): every query is one
//! checkout, one return and, with `echo_pool(Debug)`, one `checked out` and one `being returned`
//! line. A `begin()` / `transaction(..)` holds one connection until commit or rollback.
//!
//! - Spans, log lines and metrics are the core's (see [`poolscope`]); the checkout span covers
//!   the wait in sqlx, which sqlx's callbacks cannot see, because `DatabasePool` opens it before
//!   calling SeaORM.
//! - `db.client.connection.create_time` stays empty: sqlx opens connections before any callback
//!   runs, so the connect cannot be timed.
//! - A pool timeout is a `DbErr::Conn(RuntimeErr::Internal(..))` with SQLAlchemy's text,
//!   `QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00`, rather
//!   than SeaORM's `DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)`; [`is_pool_timeout`]
//!   recognises both.
//!
//! # Reset on return
//!
//! A connection that comes back with a transaction open is rolled back (or committed, or left,
//! per `reset_on_return`) before it is reused:
//!
//! - a transaction sqlx began and that is still open when the connection is released, level by
//!   level through sqlx's transaction manager (SeaORM's own `DatabaseTransaction` already
//!   rolls back when dropped);
//! - a transaction opened in SQL text outside SeaORM's transactions
//!   (`db.execute_unprepared("BEGIN")`): SeaORM returns that statement's connection at once, with
//!   the transaction and its locks open. sqlx cannot see it, so `DatabasePool` runs such
//!   statements (starting with `BEGIN` or `START TRANSACTION`) itself and resets their connection
//!   as it goes back.
//!
//! Not seen: a transaction opened by a statement that does not start with those words (a
//! function, `SET autocommit = 0`), and statements run through `&DatabaseConnection` directly.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Without a backend feature every URL is refused (`Error::UnsupportedUrl`) and the backend
// code is compiled out; what is left unused then is expected.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused, unreachable_code)
)]

/// `README.md`, compiled as doctests so that its examples cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// `MIGRATING.md`, compiled as doctests so that the guide cannot rot.
#[cfg(all(doctest, feature = "sqlite", feature = "stream"))]
#[doc = include_str!("../MIGRATING.md")]
mod migrating {}

mod backend;
mod builder;
pub mod compat;
mod error;
mod forward;
mod pool;
mod raw_transaction;
mod returns;
mod scope;
mod session;
mod sqlx_hooks;
#[cfg(feature = "stream")]
mod stream;

pub use builder::Builder;
pub use error::Error;
pub use pool::DatabasePool;
/// The core crate, re-exported so that an app needs no `poolscope` dependency of its own
/// (whose version would have to match this crate's): `use poolscope_sea_orm::poolscope::{EchoPool,
/// PoolClass, ResetOnReturn};`.
///
/// ```
/// use poolscope_sea_orm::poolscope::{EchoPool, PoolClass};
///
/// let _builder = poolscope_sea_orm::Builder::new()
///     .pool_class(PoolClass::Queue)
///     .echo_pool(EchoPool::Info);
/// ```
pub use poolscope;
pub use scope::is_pool_timeout;
pub use sqlx_hooks::UNLIMITED_CONNECTIONS;
