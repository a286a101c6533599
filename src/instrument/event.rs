//! The pool's decisions as one stream of typed events: the core and the hooks path emit each
//! once, where it happens ([`Instruments::emit`](super::Instruments::emit)); the `metrics`
//! facade and the OpenTelemetry path are its consumers ([`Consumer`]).

use std::time::Duration;

use crate::config::ResetAction;
use crate::reasons::{CloseReason, RecycleReason};
use crate::record::InvalidateReason;

/// One pool decision.
#[cfg_attr(
    not(any(feature = "metrics", feature = "opentelemetry")),
    allow(dead_code)
)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event<'a> {
    /// A checkout got its slot after waiting this long (zero when it did not wait).
    Waited(Duration),
    /// A new connection opened in this long.
    Connected(Duration),
    /// A connection came back after being checked out this long.
    Returned(Duration),
    /// A checkout gave up at `pool_timeout` (waiting, connecting or pinging).
    TimedOut,
    /// QueuePool opened a connection beyond `pool_size`.
    OverflowOpened,
    /// An overflow connection was closed on return.
    OverflowClosed,
    /// A reset on return finished.
    ResetDone { action: ResetAction, ok: bool },
    /// A pooled connection was replaced at checkout.
    Recycled(RecycleReason),
    /// A connection was invalidated.
    Invalidated(&'a InvalidateReason),
    /// A pre-ping found a dead connection.
    PrePingFailed,
    /// A connection was closed.
    Closed(CloseReason),
    /// A connection passed the leak threshold; `current` are past it now.
    LeakSuspected {
        #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
        current: usize,
    },
    /// A suspected leak was returned; `current` are past the threshold now.
    LeaksNow {
        #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
        current: usize,
    },
}

/// What takes the events: one metrics path.
#[cfg(any(feature = "metrics", feature = "opentelemetry"))]
pub(super) trait Consumer {
    fn on(&self, event: Event<'_>);
}
