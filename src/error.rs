//! Errors: what `build()` refuses, and what a checkout can fail with.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error as StdError;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
use crate::config::{PoolClass, ResetOnReturn};
use crate::owner::Owner;

/// A boxed error, as reset functions and listeners return them.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Options that `build()` refuses. Nothing was opened; fix the option and build again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_overflow` below -1 (SQLAlchemy recurses forever there).
    MaxOverflowOutOfRange(i64),
    /// An option that the chosen class would silently ignore.
    OptionNotApplicable {
        /// The option's name, as the builder method is called.
        option: &'static str,
        /// The class it does not apply to.
        class: PoolClass,
    },
    /// `pool_size` 0 where it would mean "keep nothing".
    ZeroPoolSize {
        /// The class.
        class: PoolClass,
    },
    /// `pool_recycle` of zero, which would reconnect on every checkout.
    ZeroRecycle,
    /// A reset was asked for, but nothing was given that can perform it.
    ResetUnsupported {
        /// The policy asked for.
        requested: ResetOnReturn,
    },
    /// The class does not exist on this front end.
    ClassNotSupported {
        /// The class.
        class: PoolClass,
    },
    /// An empty or blank pool name.
    EmptyName,
    /// A leak detection threshold of zero, which would report every checkout.
    ZeroLeakThreshold,
    /// A reset timeout of zero, which would close every connection whose reset must wait
    /// for the server.
    ZeroResetTimeout,
    /// An option the pool that holds the connections cannot honour (see
    /// [`hooks`](crate::hooks)).
    NotHonoured {
        /// The option's name, as the builder method is called.
        option: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// A thread the pool needs could not be started (the process is out of threads or
    /// memory): `what` it is, and the system's error.
    ThreadUnavailable {
        /// The thread, as its name says (`poolscope-timer`).
        what: &'static str,
        /// The system's error, as text.
        error: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MaxOverflowOutOfRange(n) => write!(
                f,
                "max_overflow must be -1 (no limit) or at least 0, got {n}"
            ),
            BuildError::OptionNotApplicable { option, class } => write!(
                f,
                "{option} does not apply to {class}; remove it or choose a class that uses it"
            ),
            BuildError::ZeroPoolSize { class } => {
                write!(f, "pool_size must be at least 1 for {class}")
            }
            BuildError::ZeroRecycle => f.write_str(
                "pool_recycle must be longer than zero; pass None to turn recycling off",
            ),
            BuildError::ResetUnsupported { requested } => {
                let what = match requested {
                    ResetOnReturn::Commit => "commit",
                    _ => "rollback",
                };
                write!(
                    f,
                    "reset_on_return asks to {what} returned connections, but no reset function \
                     was given: call reset_with(..) with one that can {what} this connection \
                     type, or choose ResetOnReturn::None"
                )
            }
            BuildError::ClassNotSupported { class } => write!(
                f,
                "{class} is not available on the async pool: tasks move between threads, so a \
                 per-thread connection would be shared across tasks; choose PoolClass::Queue or \
                 PoolClass::Static"
            ),
            BuildError::EmptyName => f.write_str("the pool name must not be empty"),
            BuildError::NotHonoured { option, why } => {
                write!(f, "{option} cannot be honoured here: {why}")
            }
            BuildError::ZeroLeakThreshold => f.write_str(
                "leak_detection_threshold must be longer than zero; pass None to turn leak detection off",
            ),
            BuildError::ZeroResetTimeout => f.write_str(
                "reset_timeout must be longer than zero; pass None to let resets take as long as they take",
            ),
            BuildError::ThreadUnavailable { what, error } => {
                write!(f, "could not start the {what} thread: {error}")
            }
        }
    }
}

impl StdError for BuildError {}

/// Where a connection was checked out: the caller's `file:line`, its thread, and a backtrace
/// when the pool stores them (AssertionPool's `store_traceback`, on by default there) and
/// `RUST_BACKTRACE` enables them.
#[derive(Clone)]
pub struct CheckoutSite {
    pub(crate) location: &'static Location<'static>,
    pub(crate) owner: Owner,
    pub(crate) backtrace: Option<Arc<Backtrace>>,
}

impl CheckoutSite {
    pub(crate) fn here(
        location: &'static Location<'static>,
        owner: Owner,
        store_backtrace: bool,
    ) -> Self {
        let backtrace = store_backtrace
            .then(Backtrace::capture)
            .filter(|bt| bt.status() == BacktraceStatus::Captured)
            .map(Arc::new);
        CheckoutSite {
            location,
            owner,
            backtrace,
        }
    }

    /// The source location of the `get()` call.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The thread that made the checkout, for the blocking pool (`None` for an async task).
    pub fn thread(&self) -> Option<std::thread::ThreadId> {
        match self.owner {
            Owner::Thread(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Debug for CheckoutSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckoutSite")
            .field("location", &format_args!("{}", self.location))
            .field("owner", &self.owner)
            .finish()
    }
}

impl fmt::Display for CheckoutSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location)?;
        if let Some(backtrace) = &self.backtrace {
            write!(f, "\n{backtrace}")?;
        }
        Ok(())
    }
}

/// A checkout refused at once because the one connection is already checked out
/// (AssertionPool always; StaticPool and SingletonThreadPool when the same thread asks again).
#[derive(Debug, Clone)]
pub struct AlreadyCheckedOut {
    pub(crate) class: PoolClass,
    pub(crate) site: CheckoutSite,
}

impl AlreadyCheckedOut {
    /// Where the connection that is out was checked out.
    pub fn site(&self) -> &CheckoutSite {
        &self.site
    }
}

impl fmt::Display for AlreadyCheckedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.class {
            PoolClass::Assertion => {
                write!(f, "connection is already checked out at:\n{}", self.site)
            }
            class => write!(
                f,
                "connection is already checked out at:\n{}\n({class}: this thread holds the pool's \
                 connection; pass that `&mut` connection down instead of checking out again)",
                self.site
            ),
        }
    }
}

impl StdError for AlreadyCheckedOut {}

/// No connection became available within `pool_timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeoutError {
    pub(crate) class: PoolClass,
    pub(crate) size: usize,
    pub(crate) overflow: i64,
    pub(crate) timeout: Duration,
    /// The server refused this many connects for capacity while the caller waited, the last
    /// saying this.
    pub(crate) refused: Option<(u32, Cause)>,
}

impl TimeoutError {
    /// How long the caller waited.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many connects the server refused for capacity (it was at its connection budget)
    /// while the pool had callers waiting, and what it said last; `None` if it refused none.
    pub fn server_refused(&self) -> Option<(u32, &Cause)> {
        self.refused.as_ref().map(|(count, last)| (*count, last))
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.class {
            PoolClass::Queue => write!(
                f,
                "QueuePool limit of size {} overflow {} reached, connection timed out, timeout {:.2}",
                self.size,
                self.overflow,
                self.timeout.as_secs_f64()
            )?,
            class => write!(
                f,
                "{class} connection is checked out elsewhere, connection timed out, timeout {:.2}",
                self.timeout.as_secs_f64()
            )?,
        }
        if let Some((count, last)) = &self.refused {
            let s = if *count == 1 { "" } else { "s" };
            write!(f, "; the server refused {count} connect{s}: {last}")?;
        }
        Ok(())
    }
}

impl StdError for TimeoutError {}

/// The manager's `connect`, or the pre-ping of a pooled connection, did not return within the
/// checkout's `pool_timeout`: the server (or the network to it) hangs. The pool is not at its
/// limit; the server is what took too long. See `Pool::get` for what becomes of the connect; a
/// pre-ping's connection is closed. On the blocking pool this is also what a checkout gets
/// when every connector thread its pool may use is still busy with a connect or a ping that
/// has not returned (the text says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTimeoutError {
    pub(crate) timeout: Duration,
    pub(crate) stalled: Stalled,
}

/// What did not return in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stalled {
    Connect,
    Ping,
    /// The pool's connector threads (this many) were all busy: the job never started.
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    ConnectorsBusy(usize),
}

impl ConnectTimeoutError {
    /// The checkout's `pool_timeout`.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Display for ConnectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timeout = self.timeout.as_secs_f64();
        match self.stalled {
            Stalled::Connect | Stalled::Ping => write!(
                f,
                "could not open a connection: {} did not return within pool_timeout, timeout \
                 {timeout:.2}",
                if self.stalled == Stalled::Ping {
                    "the pre-ping"
                } else {
                    "connect"
                },
            ),
            Stalled::ConnectorsBusy(threads) => write!(
                f,
                "could not open a connection: the pool's {threads} connector threads were all \
                 busy with connects or pre-pings that did not return (the server hangs), \
                 timeout {timeout:.2}"
            ),
        }
    }
}

impl StdError for ConnectTimeoutError {}

/// What a listener's error means to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerErrorKind {
    /// The connection is unusable (SQLAlchemy's `DisconnectionError`): a `checkout` listener
    /// saying so makes the pool invalidate the connection and try a fresh one.
    Disconnect,
    /// Anything else: the checkout fails with this error after the connection is invalidated.
    Fatal,
}

/// An error returned by a [`PoolListener`](crate::PoolListener) callback.
#[derive(Debug)]
pub struct ListenerError {
    kind: ListenerErrorKind,
    source: BoxError,
}

impl ListenerError {
    /// The connection is unusable; from `checkout`, the pool tries a fresh one.
    pub fn disconnect(source: impl Into<BoxError>) -> Self {
        ListenerError {
            kind: ListenerErrorKind::Disconnect,
            source: source.into(),
        }
    }

    /// Fail the checkout with this error.
    pub fn fatal(source: impl Into<BoxError>) -> Self {
        ListenerError {
            kind: ListenerErrorKind::Fatal,
            source: source.into(),
        }
    }

    /// What the pool makes of it.
    pub fn kind(&self) -> ListenerErrorKind {
        self.kind
    }
}

/// Its own part only: the listener's error is the [`source`](StdError::source).
impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ListenerErrorKind::Disconnect => "a pool listener reported a disconnect",
            ListenerErrorKind::Fatal => "a pool listener failed",
        })
    }
}

impl StdError for ListenerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

pub use crate::error_chain::ErrorChain;

/// Why a checkout failed. `E` is the connection manager's error type.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// No connection became available within `pool_timeout`.
    Timeout(TimeoutError),
    /// The single connection is already checked out (see [`AlreadyCheckedOut`]).
    AlreadyCheckedOut(AlreadyCheckedOut),
    /// The manager could not open a connection.
    Connect(E),
    /// The manager's `connect` did not return within `pool_timeout`.
    ConnectTimeout(ConnectTimeoutError),
    /// A `first_connect`, `connect` or `checkout` listener failed.
    Listener(ListenerError),
    /// Checkout listeners kept reporting disconnects for fresh connections
    /// (SQLAlchemy: "This connection is closed").
    ReconnectAttemptsExhausted,
    /// This checkout waited for another's connect (while the pool's connects fail, one
    /// connects at a time), and that connect failed: its error, shared by every checkout that
    /// waited for it.
    ConnectFailed(ConnectFailedError),
}

impl<E> Error<E> {
    /// A short, stable name for the failure, as spans record it in `error.type`:
    /// `timeout`, `already_checked_out`, `connect` (also for a connect another checkout made
    /// for this one), `connect_timeout`, `listener`, `reconnect_attempts_exhausted`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Timeout(_) => "timeout",
            Error::AlreadyCheckedOut(_) => "already_checked_out",
            Error::Connect(_) => "connect",
            Error::ConnectTimeout(_) => "connect_timeout",
            Error::Listener(_) => "listener",
            Error::ReconnectAttemptsExhausted => "reconnect_attempts_exhausted",
            Error::ConnectFailed(_) => "connect",
        }
    }
}

/// Each message once along the [`source`](StdError::source) chain: the pool's own errors
/// (timeout, already checked out, connect timeout, listener) are shown as they are, and their
/// sources follow; a failed connect says so and its cause, the manager's error, is the
/// source (`{:#}` in anyhow, or walking `source()`, prints both).
impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout(e) => e.fmt(f),
            Error::AlreadyCheckedOut(e) => e.fmt(f),
            Error::Connect(_) => f.write_str("could not open a connection"),
            Error::ConnectTimeout(e) => e.fmt(f),
            Error::Listener(e) => e.fmt(f),
            Error::ReconnectAttemptsExhausted => f.write_str("This connection is closed"),
            Error::ConnectFailed(_) => f.write_str("could not open a connection"),
        }
    }
}

impl<E: StdError + 'static> StdError for Error<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            // Shown by this error's Display already: their causes come next.
            Error::Timeout(e) => e.source(),
            Error::AlreadyCheckedOut(e) => e.source(),
            Error::ConnectTimeout(e) => e.source(),
            Error::Listener(e) => e.source(),
            Error::Connect(e) => Some(e),
            Error::ReconnectAttemptsExhausted => None,
            Error::ConnectFailed(e) => Some(e),
        }
    }
}

/// A failure of the pool's own making, before the front end adds the manager's error type.
#[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum PoolFailure {
    Timeout(TimeoutError),
    AlreadyCheckedOut(AlreadyCheckedOut),
    Listener(ListenerError),
    ReconnectAttemptsExhausted,
    /// The async front's waits end in it (the blocking front returns the error itself).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    ConnectFailed(ConnectFailedError),
}

impl<E> From<PoolFailure> for Error<E> {
    fn from(failure: PoolFailure) -> Self {
        match failure {
            PoolFailure::Timeout(e) => Error::Timeout(e),
            PoolFailure::AlreadyCheckedOut(e) => Error::AlreadyCheckedOut(e),
            PoolFailure::Listener(e) => Error::Listener(e),
            PoolFailure::ReconnectAttemptsExhausted => Error::ReconnectAttemptsExhausted,
            PoolFailure::ConnectFailed(e) => Error::ConnectFailed(e),
        }
    }
}

/// Another checkout's connect, which this one waited for, failed (see
/// [`Error::ConnectFailed`]): why, as [`Refusal`](crate::Refusal) reads it, and what the
/// manager said, as text (a manager's error need not be `Clone`, and one error serves every
/// checkout that waited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFailedError {
    pub(crate) reason: crate::Refusal,
    pub(crate) cause: Cause,
}

impl ConnectFailedError {
    /// Why the connect failed.
    pub fn reason(&self) -> crate::Refusal {
        self.reason
    }

    /// What the manager said.
    pub fn cause(&self) -> &Cause {
        &self.cause
    }
}

impl fmt::Display for ConnectFailedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cause, f)
    }
}

impl StdError for ConnectFailedError {}
