//! The synchronisation primitives the accounting core uses.
//!
//! Under `--cfg poolscope_loom` they are loom's model-checked twins, so `core::loom_model`
//! explores every interleaving of the real core code.

#[cfg(poolscope_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(poolscope_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: the core never runs user code while it holds a lock, so
/// a poisoned lock still guards consistent state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
