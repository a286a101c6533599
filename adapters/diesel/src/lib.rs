//! # poolscope-diesel
//!
//! A drop-in pool for [Diesel](https://diesel.rs) and
//! [diesel-async](https://docs.rs/diesel-async) with SQLAlchemy's pool semantics: QueuePool
//! (`pool_size` + `max_overflow`, overflow closed on return), NullPool, StaticPool,
//! AssertionPool, SingletonThreadPool (blocking only), `pool_timeout`, `pool_recycle`,
//! `pre_ping`, and **reset on return**: a connection given back inside a transaction (nested
//! savepoints and a failed statement included) is rolled back through Diesel's own
//! transaction manager, so its depth counter stays right, and is reused. Diesel's r2d2 pool
//! throws such a connection away instead.
//!
//! Every checkout, return, rollback, overflow and timeout goes through poolscope's events,
//! spans and metrics; the pool is named after the URL without its credentials, and
//! `db.system.name` comes from the connection's backend.
//!
// The example runs on SQLite: compiled with the `sqlite` feature (docs.rs builds with all of
// them), shown as `ignore` without it.
#![cfg_attr(feature = "sqlite", doc = "```")]
#![cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
//! use diesel::connection::SimpleConnection;
//! use diesel::prelude::*;
//! use diesel::SqliteConnection;
//! use poolscope_diesel::Pool;
//!
//! let pool = Pool::<SqliteConnection>::builder()
//!     .pool_size(1)
//!     .max_overflow(0)
//!     .build("file:demo?mode=memory&cache=shared")?;
//! {
//!     let mut conn = pool.get()?;
//!     conn.batch_execute("CREATE TABLE t (x INTEGER)")?;
//!     // Returned inside a transaction: rolled back, the connection kept.
//!     let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
//!         conn.batch_execute("INSERT INTO t VALUES (1)")?;
//!         Err(diesel::result::Error::RollbackTransaction)
//!     });
//! }
//! assert_eq!(pool.status().checked_out, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Cargo features
//! `postgres` and `metrics` by default: what a PostgreSQL app on Diesel wants, linking libpq
//! only. The other backends are one feature each: `sqlite` (links libsqlite3), `mysql` (links
//! libmysqlclient), `async-postgres` and `async-mysql` (diesel-async, pure Rust; they bring
//! `AsyncPool` and the `bb8` module). `metrics`, `opentelemetry` and `serde` pass through to
//! poolscope; `full` is all of them but `mysql`.
//!
//! ## What `reset_on_return` sees
//! Only transactions Diesel knows about: those opened with `conn.transaction(..)`,
//! `begin_test_transaction` or the `TransactionManager`. A raw `BEGIN` sent with
//! `batch_execute` is invisible to Diesel and to the pool. A test transaction is left open,
//! as Diesel's own pool leaves it. `ResetOnReturn::Commit` commits every open level;
//! `ResetOnReturn::None` leaves the connection as it is, open transaction included.
//!
//! ## Diesel's connection traits
//! The blocking pool's guard ([`PooledConnection`]) implements Diesel's `Connection`,
//! `LoadConnection`, `MigrationConnection` and the rest, as r2d2's guard does: `&mut conn`
//! goes wherever Diesel wants a connection. The async pool's guard is a diesel-async
//! connection through diesel-async's own `Deref` impls.
//!
//! ## Coming from `diesel::r2d2`
//! [`r2d2`] has `diesel::r2d2`'s API (`Pool<ConnectionManager<C>>`, its builder's options,
//! `PooledConnection`, `PoolError`, `CustomizeConnection`, `state()`): change the imports and
//! the app compiles. [`bb8`] does the same for diesel-async's bb8 pool. `MIGRATING.md` maps
//! every option.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
pub mod bb8;
mod blocking;
mod compat;
#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
mod connect_cause;
mod guard;
mod lost_connection;
mod manager;
#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
mod nonblocking;
pub mod r2d2;

/// The workspace's `README.md` (the core pool's examples run on SQLite through Diesel's
/// manager, which is why they are compiled here), compiled as doctests.
#[cfg(all(doctest, feature = "sqlite", feature = "postgres"))]
#[doc = include_str!("../../../README.md")]
mod workspace_readme {}

/// `README.md`, compiled as doctests so that its examples cannot rot.
#[cfg(all(doctest, feature = "postgres", feature = "async-postgres"))]
#[doc = include_str!("../README.md")]
mod readme {}

/// `MIGRATING.md`, compiled as doctests so that the guide cannot rot (its examples run on
/// SQLite and diesel-async's PostgreSQL).
#[cfg(all(doctest, feature = "sqlite", feature = "async-postgres"))]
#[doc = include_str!("../MIGRATING.md")]
mod migrating {}

mod redact;
mod reset;
mod server_budget;
mod system;

pub use blocking::{Builder, Error, Manager, Pool, PooledConnection};
#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
pub use nonblocking::{
    reset_async_connection, AsyncBuilder, AsyncError, AsyncManager, AsyncPool,
    AsyncPooledConnection, DieselAsyncReset,
};
/// The core crate, re-exported so that an app needs no `poolscope` dependency of its own
/// (whose version would have to match this crate's): `use poolscope_diesel::poolscope::{EchoPool,
/// ResetOnReturn, PoolListener, PoolOptions};`.
///
#[cfg_attr(feature = "postgres", doc = "```")]
#[cfg_attr(not(feature = "postgres"), doc = "```ignore")]
/// use poolscope_diesel::poolscope::{EchoPool, ResetOnReturn};
///
/// let _builder = poolscope_diesel::Pool::<diesel::PgConnection>::builder()
///     .echo_pool(EchoPool::Info)
///     .reset_on_return(ResetOnReturn::Rollback);
/// ```
pub use poolscope;
pub use reset::{reset_connection, DieselReset};
