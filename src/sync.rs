//! The synchronisation primitives the accounting core uses.
//!
//! Under `--cfg poolscope_loom` they are loom's model-checked twins, so `core::loom_model`
//! explores every interleaving of the real core code.

#[cfg(poolscope_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(poolscope_loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: the core never runs user code while it holds a lock, so
/// a poisoned lock still guards consistent state.
#[cfg(poolscope_loom)]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(not(poolscope_loom))]
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// Sleeps on `condvar` until notified (or a spurious wake-up).
#[cfg(poolscope_loom)]
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(|p| p.into_inner())
}

#[cfg(not(poolscope_loom))]
pub(crate) fn wait<'a, T>(condvar: &Condvar, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(&mut guard);
    guard
}

/// Sleeps on `condvar` until notified or `timeout` passes.
#[cfg(poolscope_loom)]
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    condvar
        .wait_timeout(guard, timeout)
        .unwrap_or_else(|p| p.into_inner())
        .0
}

#[cfg(not(poolscope_loom))]
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    mut guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    condvar.wait_for(&mut guard, timeout);
    guard
}
