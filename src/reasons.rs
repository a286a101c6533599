//! Why the pool closed or replaced a connection: the pool's own vocabulary, which the core
//! and the hooks path decide with (see [`policy`](crate::policy)) and the instruments, logs
//! and spans report.

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
