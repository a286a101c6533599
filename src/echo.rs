//! `echo_pool`: SQLAlchemy's pool log lines as `tracing` events under target `poolscope::pool`,
//! a consumer of the pool's [`Event`] stream. Every text is in [`write`], one arm per event.
//!
//! Each line is written only when the pool's [`EchoPool`](crate::EchoPool) level allows it,
//! so `EchoPool::Off` costs one comparison. Errors (`Exception during reset or similar`) and
//! leak reports are written whatever the level, as SQLAlchemy's are.
//!
//! Until the application sets a `tracing` dispatcher or a `log` logger, the lines are
//! written to stderr in SQLAlchemy's format instead (`stderr_echo.rs`), as SQLAlchemy's
//! `echo_pool=True` prints on its own.
//!
//! The lines are root events (`parent: None`): a log line reads the same inside a checkout
//! span as outside it, `pool=<name>` once, rather than carrying the span's fields (the pool's
//! name again, its class, `db.system.name`) in front of every line. The spans keep their
//! attributes for tracing.

use crate::config::{Config, EchoPool};
use crate::event::{Conn, Event};
use crate::reasons::CloseReason;

/// Writes `event`'s line if the pool's level asks for it: one comparison, folded to it
/// where the event is built.
#[inline(always)]
pub(crate) fn on(config: &Config, event: Event<'_>) {
    let wanted = match event {
        Event::Waited(_)
        | Event::Connected(_)
        | Event::OverflowOpened
        | Event::OverflowClosed
        | Event::ResetDone { error: None, .. } => return,
        Event::Created { .. }
        | Event::ConnectFailed { .. }
        | Event::CheckedOut(_)
        | Event::PrePing { .. }
        | Event::Returned { .. }
        | Event::ResetSkipped(_)
        | Event::Resetting { .. }
        | Event::Closed { .. }
        | Event::DetachedClosed(_) => EchoPool::Debug,
        Event::PrePingFailed { .. }
        | Event::ListenerDisconnect { .. }
        | Event::ReconnectsExhausted
        | Event::Recycled { .. }
        | Event::TimedOut(_)
        | Event::Invalidated { .. }
        | Event::SoftInvalidated { .. }
        | Event::LostUnderneath(_)
        | Event::Disposed { .. }
        | Event::Recreating => EchoPool::Info,
        Event::ResetDone { error: Some(_), .. }
        | Event::LeakSuspected { .. }
        | Event::LeakReturned { .. }
        | Event::PanicDropped(_) => EchoPool::Off,
    };
    if config.echo >= wanted {
        write(config, event);
    }
}

/// Every line the pool writes, SQLAlchemy's texts where it has one: to `tracing`, or to
/// stderr while nothing would take them (see `stderr_echo`).
#[cold]
fn write(config: &Config, event: Event<'_>) {
    let pool = &*config.name;
    let to_stderr = crate::stderr_echo::wanted();
    macro_rules! line {
        ($level:ident, $($arg:tt)+) => {
            if to_stderr {
                crate::stderr_echo::write(stringify!($level), config, format_args!($($arg)+))
            } else {
                ::tracing::$level!(target: "poolscope::pool", parent: None, pool = %pool, $($arg)+)
            }
        };
    }
    match event {
        Event::Created {
            conn: Conn::Id(id), ..
        } => line!(debug, "Created new connection {id}"),
        Event::Created {
            conn: Conn::Unnamed,
            overflow,
        } => line!(
            debug,
            "Created new connection ({})",
            if overflow { "overflow" } else { "new" }
        ),
        Event::ConnectFailed { describe, .. } => {
            line!(debug, "Error on connect(): {}", describe());
        }
        Event::CheckedOut(conn) => line!(debug, "Connection{conn} checked out from pool"),
        Event::PrePing { conn, fresh: true } => {
            line!(debug, "Connection{conn} is fresh, skipping pre-ping");
        }
        Event::PrePing { conn, fresh: false } => {
            line!(debug, "Pool pre-ping on connection{conn}");
        }
        Event::PrePingFailed { conn, error } => {
            if config.echo >= EchoPool::Debug {
                line!(
                    debug,
                    "Pool pre-ping on connection{conn} failed, will invalidate pool"
                );
            }
            line!(
                info,
                "Disconnection detected on checkout, invalidating all pooled connections prior to current timestamp (reason: {error})"
            );
        }
        Event::ListenerDisconnect { conn, error } => line!(
            info,
            "Disconnection detected on checkout, invalidating individual connection{conn} (reason: {error})"
        ),
        Event::ReconnectsExhausted => line!(info, "Reconnection attempts exhausted on checkout"),
        Event::Recycled { conn, why } => {
            line!(info, "Connection{conn} {}; recycling", why.log_text());
        }
        Event::TimedOut(error) => line!(info, "Checkout failed: {error}"),
        Event::Returned { conn, .. } => line!(debug, "Connection{conn} being returned to pool"),
        Event::ResetSkipped(conn) => {
            line!(debug, "Connection{conn} reset, transaction already reset");
        }
        Event::Resetting { conn, action } => {
            line!(debug, "Connection{conn} {}-on-return", action.as_str());
        }
        Event::ResetDone {
            error: Some(error), ..
        } => {
            if to_stderr {
                line!(error, "Exception during reset or similar: {error}");
            } else {
                ::tracing::error!(target: "poolscope::pool", parent: None, pool = %pool, error = %error, "Exception during reset or similar");
            }
        }
        Event::Invalidated { conn, reason } => {
            line!(info, "Invalidate connection{conn}{}", reason.log_suffix());
        }
        Event::SoftInvalidated { conn, reason } => {
            line!(info, "Soft Invalidate connection{conn}{}", reason.log_suffix());
        }
        // SQLAlchemy terminates ("hard-closes") a connection it gives up on, and closes one
        // it merely has no room for.
        Event::Closed { conn, reason } => {
            let verb = match reason {
                CloseReason::Invalidated | CloseReason::Recycled => "Hard-closing",
                _ => "Closing",
            };
            match conn {
                Conn::Id(_) => line!(debug, "{verb} connection{conn}"),
                Conn::Unnamed => line!(debug, "{verb} connection ({})", reason.as_str()),
            }
        }
        Event::DetachedClosed(conn) => line!(debug, "Closing connection{conn}"),
        Event::LostUnderneath(lost) => line!(
            info,
            "{lost} connection(s) closed by the underlying pool without a callback"
        ),
        Event::Disposed { status } => line!(info, "Pool disposed. {status}"),
        Event::Recreating => line!(info, "Pool recreating"),
        Event::LeakSuspected {
            conn,
            held,
            threshold,
            at,
            ..
        } => line!(
            warn,
            "Connection leak detection triggered for connection {conn} on pool {pool}: held for {:.3}s (threshold {:.3}s), checked out at {at}",
            held.as_secs_f64(),
            threshold.as_secs_f64(),
        ),
        Event::LeakReturned { conn, held, at, .. } => line!(
            info,
            "Previously reported leaked connection {conn} was returned after {:.3}s (checked out at {at})",
            held.as_secs_f64(),
        ),
        Event::PanicDropped(message) => line!(
            error,
            "A callback panicked while the thread was unwinding from another panic; \
             the connection was closed and its slot freed, and this panic is dropped: {message}"
        ),
        Event::Waited(_)
        | Event::Connected(_)
        | Event::OverflowOpened
        | Event::OverflowClosed
        | Event::ResetDone { error: None, .. } => {}
    }
}
