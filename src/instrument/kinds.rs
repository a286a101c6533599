//! The label values the instruments are split by.

use crate::config::ResetAction;
use crate::record::InvalidateReason;

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
