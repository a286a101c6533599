//! What the `r2d2` and `bb8` compatibility modules share: their pools' settings, translated
//! to SQLAlchemy's, and the counts they report.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use poolscope::{BuildError, PoolBuilder, PoolKind};

/// Where a compat pool's manager reports the errors its peer hands to an error handler
/// (r2d2's `HandleError`, bb8's `ErrorSink`): each failed connect, ping or customizer, as the
/// error's text. The error itself stays where poolscope puts it (the caller's checkout
/// error, the pool's log line, the invalidation's reason): the managers' errors cannot be
/// cloned.
#[derive(Clone)]
pub(crate) struct ErrorHook(Arc<dyn Fn(String) + Send + Sync>);

impl ErrorHook {
    pub(crate) fn new(report: impl Fn(String) + Send + Sync + 'static) -> Self {
        ErrorHook(Arc::new(report))
    }

    /// Reports `error`'s text.
    pub(crate) fn report(&self, error: &dyn fmt::Display) {
        (self.0)(error.to_string());
    }

    /// `result` as it is, its error reported first to `hook`, if any.
    pub(crate) fn report_to<T, E: fmt::Display>(
        hook: &Option<ErrorHook>,
        result: Result<T, E>,
    ) -> Result<T, E> {
        if let (Some(hook), Err(e)) = (hook, &result) {
            hook.report(e);
        }
        result
    }
}

impl fmt::Debug for ErrorHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorHook")
    }
}

/// A pool's counts, as r2d2 and bb8 report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct State {
    /// Connections the pool holds: idle and checked out.
    pub connections: u32,
    /// Idle connections.
    pub idle_connections: u32,
}

impl State {
    pub(crate) fn of(status: &poolscope::Status) -> Self {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        State {
            connections: count(status.checked_in + status.checked_out),
            idle_connections: count(status.checked_in),
        }
    }
}

/// r2d2's and bb8's settings (their defaults are the same).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) max_size: u32,
    pub(crate) min_idle: Option<u32>,
    pub(crate) test_on_check_out: bool,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) connection_timeout: Duration,
    #[cfg_attr(
        not(any(feature = "async-postgres", feature = "async-mysql")),
        allow(dead_code)
    )]
    pub(crate) lifo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_size: 10,
            min_idle: None,
            test_on_check_out: true,
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            connection_timeout: Duration::from_secs(30),
            lifo: false,
        }
    }
}

/// SQLAlchemy's sizes for these settings: `pool_size` is `min_idle` (or `max_size`), the rest
/// up to `max_size` is overflow, closed on return.
pub(crate) struct Sizes {
    pub(crate) pool_size: usize,
    pub(crate) max_overflow: i64,
}

impl Settings {
    /// The sizes, or the option that makes no sense and why (r2d2 and bb8 panic on these).
    pub(crate) fn sizes(&self) -> Result<Sizes, BuildError> {
        let min_idle = self.min_idle.unwrap_or(self.max_size);
        let refused = [
            (self.max_size == 0, "max_size", "it must be at least 1"),
            (
                min_idle > self.max_size,
                "min_idle",
                "it must not be larger than max_size",
            ),
            (
                self.connection_timeout.is_zero(),
                "connection_timeout",
                "it must be longer than zero",
            ),
        ];
        if let Some((_, option, why)) = refused.into_iter().find(|(bad, ..)| *bad) {
            return Err(BuildError::NotHonoured { option, why });
        }
        Ok(Sizes {
            pool_size: min_idle as usize,
            max_overflow: i64::from(self.max_size - min_idle),
        })
    }
}

impl Settings {
    /// `builder` with these settings applied, or the option that makes no sense.
    pub(crate) fn apply<K: PoolKind>(
        &self,
        builder: PoolBuilder<K>,
    ) -> Result<PoolBuilder<K>, BuildError> {
        let sizes = self.sizes()?;
        Ok(builder
            .pool_size(sizes.pool_size)
            .max_overflow(sizes.max_overflow)
            .pre_ping(self.test_on_check_out)
            .pool_recycle(self.max_lifetime)
            .pool_timeout(self.connection_timeout))
    }
}
