//! The synchronisation primitives the accounting core uses: parking_lot's, which spin briefly
//! and make no system call to wake when nobody sleeps (with 16 threads over 8 PostgreSQL
//! connections std's made 0.52 `futex` calls a query, parking_lot's 0.11).
//!
//! Under `--cfg poolscope_loom` they are loom's model-checked twins, so `core::loom_model`
//! explores every interleaving of the real core code. The functions below hide where the
//! two APIs differ: loom's, like std's, takes and returns guards by value and reports
//! poisoning, which the core ignores (it never runs user code while it holds a lock, so a
//! poisoned lock still guards consistent state).

#[cfg(poolscope_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(poolscope_loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

/// Locks `mutex`.
#[cfg(poolscope_loom)]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Locks `mutex`.
#[cfg(not(poolscope_loom))]
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// Sleeps on `condvar` until notified (or a spurious wake-up).
#[cfg(poolscope_loom)]
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(|p| p.into_inner())
}

/// Sleeps on `condvar` until notified (or a spurious wake-up).
#[cfg(not(poolscope_loom))]
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) fn wait<'a, T>(condvar: &Condvar, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(&mut guard);
    guard
}

/// Sleeps on `condvar` until notified or `timeout` passes.
#[cfg(poolscope_loom)]
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
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

/// Sleeps on `condvar` until notified or `timeout` passes.
#[cfg(not(poolscope_loom))]
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    mut guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    condvar.wait_for(&mut guard, timeout);
    guard
}
