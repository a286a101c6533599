//! # poolscope
//!
//! SQLAlchemy's connection-pool semantics for Rust database stacks, with every pool decision
//! observable. Connections still come from the ecosystem's managers: any
//! [`r2d2::ManageConnection`] for the blocking [`Pool`], any [`bb8::ManageConnection`] for the
//! [`AsyncPool`].
//!
//! * Pool classes ([`PoolClass`]): `Queue` (pool_size idle, max_overflow extra closed on
//!   return, pool_timeout), `Null`, `SingletonThread`, `Static`, `Assertion`.
//! * [`ResetOnReturn`]: rollback (default), commit or nothing on every return, through a
//!   reset function the connection's side supplies ([`Reset`], [`AsyncReset`]).
//! * `pool_recycle`, `pre_ping`, LIFO/FIFO, `invalidate` / `soft_invalidate` / `detach` /
//!   `dispose` / `recreate`, SQLAlchemy's `status()` text and error texts, `echo_pool` logging.
//! * [`PoolListener`] for SQLAlchemy's pool events.
//!
//! Nothing opens at build time; connections open on first demand.
//!
//! Features (all but `serde` on by default): `blocking` ([`Pool`], r2d2's manager trait),
//! `tokio` ([`AsyncPool`], bb8's manager trait, on Tokio), `metrics` (the `metrics` facade),
//! `opentelemetry` (the OpenTelemetry metrics API), `serde` ([`PoolOptions`] from any serde
//! format).
//!
//! ```
//! use poolscope::{BoxError, EchoPool, Pool, ResetAction};
//! # #[derive(Debug)] struct Never;
//! # impl std::fmt::Display for Never { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("never") } }
//! # impl std::error::Error for Never {}
//! # #[derive(Default)] struct Conn { in_transaction: bool }
//! # struct Manager;
//! # impl r2d2::ManageConnection for Manager {
//! #     type Connection = Conn;
//! #     type Error = Never;
//! #     fn connect(&self) -> Result<Conn, Never> { Ok(Conn::default()) }
//! #     fn is_valid(&self, _: &mut Conn) -> Result<(), Never> { Ok(()) }
//! #     fn has_broken(&self, _: &mut Conn) -> bool { false }
//! # }
//! let pool = Pool::builder()
//!     .pool_size(5)
//!     .max_overflow(10)
//!     .echo_pool(EchoPool::Debug)
//!     .reset_with(|conn: &mut Conn, _action: ResetAction| -> Result<(), BoxError> {
//!         conn.in_transaction = false; // a real one runs ROLLBACK
//!         Ok(())
//!     })
//!     .build(Manager)?;
//! {
//!     let mut conn = pool.get()?;
//!     conn.in_transaction = true;
//! } // returned: rolled back, kept idle
//! assert!(!pool.get()?.in_transaction);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// What only a front uses (the core, the guard, the pool, the spans) is unused in a build
// with neither `blocking` nor `tokio` (the hooks only): each of those modules allows it
// there itself. A build with one front allows nothing: what one front alone uses is `cfg`'d
// to it.
#![warn(missing_docs)]

mod adapted;
#[cfg(feature = "blocking")]
mod blocking;
mod builder;
mod cause;
mod clock;
mod config;
mod core;
mod echo;
mod emit;
mod error;
mod error_chain;
mod event;
mod events;
mod guard;
pub mod hooks;
mod instrument;
#[cfg(feature = "tokio")]
mod nonblocking;
mod owner;
mod policy;
mod pool;
mod pool_options;
#[cfg_attr(
    not(any(feature = "metrics", feature = "opentelemetry")),
    allow(dead_code)
)]
mod reasons;
mod record;
mod refusal;
mod reset;
mod spans;
mod statistics;
mod status;
mod stderr_echo;
mod stopwatch;
mod sync;
mod timer;
mod url_name;
mod validate;

pub use adapted::AdaptedPool;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub use blocking::{Blocking, Builder, DetachedConnection, Pool, PooledConnection};
pub use builder::{HoldsConnections, PoolBuilder, PoolKind};
pub use cause::Cause;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Defaults, EchoPool, PoolClass, ResetAction, ResetOnReturn};
pub use error::{
    AlreadyCheckedOut, BoxError, BuildError, CheckoutSite, ConnectFailedError, ConnectTimeoutError,
    Error, ErrorChain, ListenerError, ListenerErrorKind, TimeoutError,
};
pub use events::{
    CheckinEvent, CloseDetachedEvent, ConnectionEvent, InvalidateEvent, PoolListener, ResetEvent,
    ResetState,
};
pub use guard::{Detached, Pooled};
pub use instrument::names as metric_names;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use nonblocking::{
    AsyncBuilder, AsyncDetachedConnection, AsyncPool, AsyncPooledConnection, Tokio,
    DEFAULT_RESET_TIMEOUT,
};
pub use pool::{ConnectionPool, Front};
pub use pool_options::{OptionError, PoolOptions};
pub use record::{ConnectionRecord, Extensions, InvalidateReason};
pub use refusal::Refusal;
pub use reset::{AsyncConnectHook, AsyncReset, BoxFuture, Reset};
pub use statistics::Statistics;
pub use status::Status;
pub use url_name::pool_name_from_url;
