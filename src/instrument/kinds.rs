//! The label values the instruments are split by.

use crate::config::ResetAction;
use crate::record::InvalidateReason;

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Returned while `pool_size` were idle.
    Overflow,
    /// NullPool: every return closes.
    NoPooling,
    Dispose,
    Invalidated,
    Recycled,
    /// SingletonThreadPool dropped a thread's connection to stay within `pool_size`.
    Evicted,
    /// A checkout failed after the connection was opened (a listener refused it).
    CheckoutFailed,
}

impl CloseReason {
    pub(crate) const ALL: [CloseReason; 7] = [
        CloseReason::Overflow,
        CloseReason::NoPooling,
        CloseReason::Dispose,
        CloseReason::Invalidated,
        CloseReason::Recycled,
        CloseReason::Evicted,
        CloseReason::CheckoutFailed,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CloseReason::Overflow => "overflow",
            CloseReason::NoPooling => "no_pooling",
            CloseReason::Dispose => "dispose",
            CloseReason::Invalidated => "invalidated",
            CloseReason::Recycled => "recycled",
            CloseReason::Evicted => "evicted",
            CloseReason::CheckoutFailed => "checkout_failed",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a pooled connection was replaced at checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecycleReason {
    Age,
    PoolInvalidated,
    SoftInvalidated,
}

impl RecycleReason {
    pub(crate) const ALL: [RecycleReason; 3] = [
        RecycleReason::Age,
        RecycleReason::PoolInvalidated,
        RecycleReason::SoftInvalidated,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RecycleReason::Age => "age",
            RecycleReason::PoolInvalidated => "pool_invalidated",
            RecycleReason::SoftInvalidated => "soft_invalidated",
        }
    }

    /// SQLAlchemy's wording in the recycle log line.
    pub(crate) fn log_text(self) -> &'static str {
        match self {
            RecycleReason::Age => "exceeded timeout",
            RecycleReason::PoolInvalidated => "invalidated due to pool invalidation",
            RecycleReason::SoftInvalidated => "invalidated due to local soft invalidation",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

pub(crate) const INVALIDATE_REASONS: [&str; 5] = [
    "requested",
    "ping_failed",
    "reset_failed",
    "broken",
    "listener",
];

pub(crate) fn invalidate_index(reason: &InvalidateReason) -> usize {
    match reason {
        // Invalidated by the user, with or without an error.
        InvalidateReason::Requested | InvalidateReason::Error { .. } => 0,
        InvalidateReason::PingFailed(_) => 1,
        InvalidateReason::ResetFailed(_) => 2,
        InvalidateReason::Broken => 3,
        InvalidateReason::Listener(_) => 4,
    }
}

pub(crate) const RESET_ACTIONS: [ResetAction; 2] = [ResetAction::Rollback, ResetAction::Commit];

pub(crate) fn reset_index(action: ResetAction) -> usize {
    match action {
        ResetAction::Rollback => 0,
        ResetAction::Commit => 1,
    }
}
