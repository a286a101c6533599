//! `echo_pool`: SQLAlchemy's pool log lines as `tracing` events under target `poolscope::pool`.
//!
//! Each line is emitted only when the pool's [`EchoPool`](crate::EchoPool) level allows it, so
//! `EchoPool::Off` costs one comparison.
//!
//! The lines are root events (`parent: None`): a log line reads the same inside a checkout
//! span as outside it, `pool=<name>` once, rather than carrying the span's fields (the pool's
//! name again, its class, `db.system.name`) in front of every line. The spans keep their
//! attributes for tracing.

/// Emits a DEBUG pool line when the pool echoes at `EchoPool::Debug`.
macro_rules! echo_debug {
    ($core:expr, $($arg:tt)+) => {
        if $core.config.echo >= $crate::config::EchoPool::Debug {
            ::tracing::debug!(target: "poolscope::pool", parent: None, pool = %$core.config.name, $($arg)+);
        }
    };
}

/// Emits an INFO pool line when the pool echoes at `EchoPool::Info` or more.
macro_rules! echo_info {
    ($core:expr, $($arg:tt)+) => {
        if $core.config.echo >= $crate::config::EchoPool::Info {
            ::tracing::info!(target: "poolscope::pool", parent: None, pool = %$core.config.name, $($arg)+);
        }
    };
}

/// Emits an ERROR pool line. Errors are logged whatever the echo level, as SQLAlchemy's
/// `Exception during reset or similar` is.
macro_rules! echo_error {
    ($core:expr, $($arg:tt)+) => {
        ::tracing::error!(target: "poolscope::pool", parent: None, pool = %$core.config.name, $($arg)+);
    };
}

pub(crate) use {echo_debug, echo_error, echo_info};
