//! The pool's decisions as one stream of typed events. The core and the hooks path emit each
//! once, where it happens ([`Emit::emit`](crate::emit::Emit::emit)); the metrics paths
//! (`instrument/`: the `metrics` facade, OpenTelemetry) and the `echo_pool` lines
//! (`echo.rs`, every SQLAlchemy text in one table) consume it. An event is a few words on the
//! stack: where no consumer wants it, emitting it compiles to the consumers' level checks.
//!
//! `PoolListener`s are not consumers of this stream: they take the connection itself
//! (`&mut C`) and may change what the pool does next (a checkout listener's disconnect makes
//! the pool try another connection), so the core calls them where it decides, and the
//! stream reports what came of it.

use std::fmt::{self, Display};
use std::panic::Location;
use std::time::Duration;

use crate::config::ResetAction;
use crate::reasons::{CloseReason, RecycleReason};
use crate::record::{ConnectionRecord, InvalidateReason};

/// The connection an event is about, as the log line names it: the core numbers its
/// connections (SQLAlchemy's `Connection 3 checked out from pool`); a hooked pool does not
/// see which one it is (`Connection checked out from pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conn {
    Id(u64),
    Unnamed,
}

impl Conn {
    /// The record's connection, as the core numbers it.
    #[inline]
    pub(crate) fn of(record: &ConnectionRecord) -> Conn {
        Conn::Id(record.connection_id.unwrap_or(0))
    }
}

impl Display for Conn {
    /// ` 3` for a numbered connection, nothing for an unnamed one, so that
    /// `"Connection{conn} ..."` reads right for both.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::Id(id) => write!(f, " {id}"),
            Conn::Unnamed => Ok(()),
        }
    }
}

/// One pool decision. (Without a metrics feature, what only the metrics read is unread.)
#[cfg_attr(
    not(any(feature = "metrics", feature = "opentelemetry")),
    allow(dead_code)
)]
#[derive(Clone, Copy)]
pub(crate) enum Event<'a> {
    /// A checkout got its slot after waiting this long (zero when it did not wait).
    Waited(Duration),
    /// A new connection opened in this long.
    Connected(Duration),
    /// A new connection was recorded (`overflow`: beyond `pool_size`).
    Created { conn: Conn, overflow: bool },
    /// The manager failed to open a connection, for `reason`; the text is built only if it
    /// is written.
    ConnectFailed {
        describe: &'a dyn Fn() -> String,
        reason: crate::refusal::Refusal,
    },
    /// A pooled connection is handed to a checkout (logged once per checkout, before the
    /// pre-ping and the checkout listeners).
    CheckedOut(Conn),
    /// The pre-ping of a pooled connection runs now, or is skipped for a fresh one.
    PrePing { conn: Conn, fresh: bool },
    /// A pre-ping found a dead connection: every older connection is replaced.
    PrePingFailed { conn: Conn, error: &'a dyn Display },
    /// A checkout listener reported a disconnect for this connection.
    ListenerDisconnect { conn: Conn, error: &'a dyn Display },
    /// Checkout listeners kept reporting disconnects: the checkout fails.
    ReconnectsExhausted,
    /// A pooled connection was replaced at checkout (or at a pool invalidation).
    Recycled { conn: Conn, why: RecycleReason },
    /// A checkout gave up at `pool_timeout` (waiting, connecting or pinging).
    TimedOut(&'a dyn Display),
    /// QueuePool opened a connection beyond `pool_size`.
    OverflowOpened,
    /// An overflow connection was closed on return.
    OverflowClosed,
    /// A connection came back, after being checked out `used` long (`None` when nothing
    /// measured it).
    Returned { conn: Conn, used: Option<Duration> },
    /// A returned connection had no transaction open: no rollback is sent.
    ResetSkipped(Conn),
    /// The reset on return starts.
    Resetting { conn: Conn, action: ResetAction },
    /// A reset finished, with `error` if it failed. `pooled`: the connection was the
    /// pool's (a detached connection's reset is logged, not counted).
    ResetDone {
        action: ResetAction,
        error: Option<&'a dyn Display>,
        pooled: bool,
    },
    /// A connection was invalidated.
    Invalidated {
        conn: Conn,
        reason: &'a InvalidateReason,
    },
    /// A checked-out connection was marked for replacement at its next checkout.
    SoftInvalidated {
        conn: Conn,
        reason: &'a InvalidateReason,
    },
    /// A connection was closed.
    Closed { conn: Conn, reason: CloseReason },
    /// A detached connection was closed (it no longer counts in the pool).
    DetachedClosed(Conn),
    /// Connections the hooked pool closed without telling us.
    LostUnderneath(usize),
    /// The idle connections were closed (`status` as the pool is now).
    Disposed { status: &'a dyn Display },
    /// `recreate()` builds a new pool from this one's options.
    Recreating,
    /// A connection passed the leak threshold; `current` are past it now.
    LeakSuspected {
        conn: u64,
        held: Duration,
        threshold: Duration,
        at: &'static Location<'static>,
        #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
        current: usize,
    },
    /// A suspected leak was returned; `current` are past the threshold now.
    LeakReturned {
        conn: u64,
        held: Duration,
        at: &'static Location<'static>,
        #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
        current: usize,
    },
    /// A callback panicked while the thread was already unwinding: the panic is dropped.
    PanicDropped(&'a str),
}

impl Event<'_> {
    /// Whether a metrics path takes this event (the others are log lines only). Folded away
    /// where the event is built, so a line-only event costs the metrics paths nothing.
    #[inline(always)]
    pub(crate) fn is_measured(&self) -> bool {
        match self {
            Event::Waited(_)
            | Event::Connected(_)
            | Event::Returned { used: Some(_), .. }
            | Event::TimedOut(_)
            | Event::OverflowOpened
            | Event::OverflowClosed
            | Event::ResetDone { pooled: true, .. }
            | Event::Recycled { .. }
            | Event::Invalidated { .. }
            | Event::PrePingFailed { .. }
            | Event::Closed { .. }
            | Event::LeakSuspected { .. }
            | Event::LeakReturned { .. }
            | Event::ConnectFailed { .. } => true,
            Event::Created { .. }
            | Event::CheckedOut(_)
            | Event::PrePing { .. }
            | Event::ListenerDisconnect { .. }
            | Event::ReconnectsExhausted
            | Event::Returned { used: None, .. }
            | Event::ResetSkipped(_)
            | Event::Resetting { .. }
            | Event::ResetDone { pooled: false, .. }
            | Event::SoftInvalidated { .. }
            | Event::DetachedClosed(_)
            | Event::LostUnderneath(_)
            | Event::Disposed { .. }
            | Event::Recreating
            | Event::PanicDropped(_) => false,
        }
    }
}
