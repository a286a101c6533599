//! The pool options users choose, and their validation into a [`Config`] the engine trusts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Which SQLAlchemy pool class the pool behaves like.
///
/// | class | SQLAlchemy | behaviour |
/// |---|---|---|
/// | `Queue` | `QueuePool` | keeps up to `pool_size` idle connections, opens up to `max_overflow` more under load and closes those on return; callers wait up to `pool_timeout` at the limit |
/// | `Null` | `NullPool` | opens a connection for every checkout and closes it on return |
/// | `SingletonThread` | `SingletonThreadPool` | one connection per OS thread, at most `pool_size` threads' connections kept; blocking pool only |
/// | `Static` | `StaticPool` | exactly one connection for the pool's life; concurrent checkouts take turns |
/// | `Assertion` | `AssertionPool` | one connection; a second checkout while it is out is an error naming the first checkout's location |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PoolClass {
    /// SQLAlchemy's `QueuePool`, the default.
    #[default]
    Queue,
    /// SQLAlchemy's `NullPool`.
    Null,
    /// SQLAlchemy's `SingletonThreadPool`.
    SingletonThread,
    /// SQLAlchemy's `StaticPool`.
    Static,
    /// SQLAlchemy's `AssertionPool`.
    Assertion,
}

impl PoolClass {
    /// SQLAlchemy's class name: `QueuePool`, `NullPool`, `SingletonThreadPool`, `StaticPool`,
    /// `AssertionPool`.
    pub fn sqlalchemy_name(self) -> &'static str {
        match self {
            PoolClass::Queue => "QueuePool",
            PoolClass::Null => "NullPool",
            PoolClass::SingletonThread => "SingletonThreadPool",
            PoolClass::Static => "StaticPool",
            PoolClass::Assertion => "AssertionPool",
        }
    }
}

impl fmt::Display for PoolClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sqlalchemy_name())
    }
}

/// What the pool does to a connection when it is returned (SQLAlchemy's `reset_on_return`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResetOnReturn {
    /// Roll back whatever the connection left open. The default.
    #[default]
    Rollback,
    /// Commit whatever the connection left open.
    Commit,
    /// Leave the connection as it is: an open transaction stays open for the next user.
    None,
}

impl ResetOnReturn {
    /// The reset this policy asks the reset function for, if any.
    pub fn action(self) -> Option<ResetAction> {
        match self {
            ResetOnReturn::Rollback => Some(ResetAction::Rollback),
            ResetOnReturn::Commit => Some(ResetAction::Commit),
            ResetOnReturn::None => None,
        }
    }
}

/// The reset a reset function is asked to perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetAction {
    /// Roll back any open transaction.
    Rollback,
    /// Commit any open transaction.
    Commit,
}

impl ResetAction {
    /// `rollback` or `commit`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetAction::Rollback => "rollback",
            ResetAction::Commit => "commit",
        }
    }
}

/// How much the pool logs through `tracing` under target `poolscope::pool` (SQLAlchemy's
/// `echo_pool`).
///
/// Where the lines go: to the application's `tracing` subscriber (for example
/// `tracing_subscriber::fmt().with_env_filter(EnvFilter::from_default_env()).init()` and
/// `RUST_LOG=poolscope::pool=debug`). Until the application sets a subscriber (or a `log`
/// logger, to which `tracing` may forward them), they are written to stderr, as SQLAlchemy's
/// `echo_pool=True` prints on its own, in its format:
///
/// ```text
/// 2026-12-07 19:36:57,123 INFO poolscope::pool.QueuePool.orders Connection 3 checked out from pool
/// ```
///
/// (the time in UTC; the logger name is the target, the class and the pool's name). The
/// first subscriber or logger set stops that: from then on the lines go only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum EchoPool {
    /// Nothing. The default; costs one branch on the hot path.
    #[default]
    Off,
    /// `echo_pool=True`: invalidations, recycles, dispose.
    Info,
    /// `echo_pool="debug"`: also every connect, checkout, return and reset.
    Debug,
}

/// `max_overflow` as validated: a number of extra connections, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    Limited(usize),
    Unlimited,
}

/// Which front end a pool is built for; some classes exist only on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrontEnd {
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    Blocking,
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Async,
    /// Another pool holds the connections and calls [`crate::hooks::PoolHooks`].
    Hooks,
}

/// What a builder gives the options its user leaves unset.
///
/// The core's builders start from [`Defaults::SQLALCHEMY`], SQLAlchemy's own. An adapter for
/// a stack whose users are used to another pool's behaviour starts from theirs:
/// [`Defaults::RUST_POOLS`] is what r2d2, bb8 and sqlx do by default. An option the user
/// sets wins either way, and an option a class does not take (`max_overflow` on NullPool,
/// say) is left alone.
///
/// ```
/// use poolscope::{Defaults, Pool};
/// # struct M;
/// # impl r2d2::ManageConnection for M {
/// #     type Connection = ();
/// #     type Error = std::io::Error;
/// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn has_broken(&self, _: &mut ()) -> bool { false }
/// # }
/// let pool = Pool::builder()
///     .defaults(Defaults::RUST_POOLS)
///     .max_overflow(5) // set: wins over the defaults' 0
///     .reset_on_return(poolscope::ResetOnReturn::None)
///     .build(M)?;
/// assert_eq!(pool.status().size, 10);
/// assert_eq!(pool.status().overflow, -10);
/// # Ok::<(), poolscope::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Defaults {
    /// `pool_size` (QueuePool, SingletonThreadPool).
    pub pool_size: usize,
    /// `max_overflow` (QueuePool).
    pub max_overflow: i64,
    /// `pool_timeout` (QueuePool, StaticPool).
    pub pool_timeout: Option<Duration>,
    /// `pool_recycle`.
    pub pool_recycle: Option<Duration>,
    /// `pre_ping`.
    pub pre_ping: bool,
}

impl Defaults {
    /// SQLAlchemy's: `pool_size` 5, `max_overflow` 10, `pool_timeout` 30 s, no recycling, no
    /// pre-ping.
    pub const SQLALCHEMY: Defaults = Defaults {
        pool_size: 5,
        max_overflow: 10,
        pool_timeout: Some(Duration::from_secs(30)),
        pool_recycle: None,
        pre_ping: false,
    };

    /// What r2d2, bb8 and sqlx do by default, in SQLAlchemy's terms: at most 10 connections
    /// (`pool_size` 10, `max_overflow` 0), a checkout waits 30 s at most, a connection is
    /// tested before it is handed out (r2d2's and bb8's `test_on_check_out`, sqlx's
    /// `test_before_acquire`) and replaced once 30 minutes old (their `max_lifetime`).
    /// Their `idle_timeout` has no counterpart: QueuePool keeps `pool_size` connections
    /// idle, and the test before each checkout finds those that died idle.
    pub const RUST_POOLS: Defaults = Defaults {
        pool_size: 10,
        max_overflow: 0,
        pool_timeout: Some(Duration::from_secs(30)),
        pool_recycle: Some(Duration::from_secs(30 * 60)),
        pre_ping: true,
    };
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults::SQLALCHEMY
    }
}

/// Options as the user set them, before validation. `None` means "not set".
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) class: PoolClass,
    pub(crate) defaults: Defaults,
    pub(crate) pool_size: Option<usize>,
    pub(crate) max_overflow: Option<i64>,
    pub(crate) timeout: Option<Option<Duration>>,
    pub(crate) recycle: Option<Option<Duration>>,
    pub(crate) pre_ping: Option<bool>,
    pub(crate) use_lifo: Option<bool>,
    pub(crate) reset_on_return: ResetOnReturn,
    pub(crate) echo: EchoPool,
    pub(crate) name: Option<String>,
    pub(crate) store_traceback: Option<bool>,
    pub(crate) db_system: Option<String>,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) wait_for_server_capacity: Option<bool>,
}

/// Validated configuration. Everything in it makes sense for its pool class.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) class: PoolClass,
    pub(crate) front: FrontEnd,
    pub(crate) pool_size: usize,
    pub(crate) max_overflow: Overflow,
    pub(crate) timeout: Option<Duration>,
    pub(crate) recycle: Option<Duration>,
    pub(crate) pre_ping: bool,
    pub(crate) use_lifo: bool,
    pub(crate) reset_on_return: ResetOnReturn,
    pub(crate) echo: EchoPool,
    pub(crate) name: Arc<str>,
    pub(crate) store_traceback: bool,
    /// `db.system.name` for spans (`postgresql`, `mysql`, `sqlite`, ...).
    pub(crate) db_system: Option<Arc<str>>,
    /// Report connections held longer than this.
    pub(crate) leak_threshold: Option<Duration>,
    /// A connect refused for capacity waits within `pool_timeout` (`connects.rs`); `false`:
    /// it fails at once, as in SQLAlchemy.
    pub(crate) wait_for_server_capacity: bool,
}

impl Config {
    /// How many connections `prefill(count)` checks out at once: `count`, but no more than
    /// the class keeps idle (more would only be closed again on return), and at least one
    /// when `count` is not 0 (NullPool keeps none: one is opened and closed, which checks the
    /// server all the same).
    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) fn prefill_count(&self, count: usize) -> usize {
        if count == 0 {
            return 0;
        }
        let kept = match self.class {
            PoolClass::Queue if self.pool_size == 0 => count,
            PoolClass::Queue => self.pool_size,
            PoolClass::Null
            | PoolClass::SingletonThread
            | PoolClass::Static
            | PoolClass::Assertion => 1,
        };
        count.min(kept).max(1)
    }
}
