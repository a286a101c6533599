//! Waiting for a connection on its way back, so that a small pool does not open (and then
//! close) an overflow connection for a statement that follows another.
//!
//! sqlx returns a connection on a task of its own: the statement's caller carries on at once,
//! while that task runs `after_release` and then pings the connection before it is idle again.
//! A statement issued meanwhile finds nothing idle, and sqlx opens a connection, which
//! QueuePool closes on its return when `pool_size` are idle: with `pool_size` 1 and overflow
//! allowed, one connect and one close for every two or three sequential statements. A
//! checkout that would open such a connection first waits, briefly, for the return:
//!
//! - a statement ended (its connection released) and no `after_release` ran since: wait for
//!   the next one (a [`Notify`]);
//! - a connection was kept by `after_release` and is not in sqlx's idle queue yet (its ping is
//!   on the wire; sqlx signals nothing when it lands): look again after letting other tasks
//!   and threads run, for [`PING_SPIN`], then every millisecond, for at most [`RETURN_WAIT`]
//!   in all (or `pool_timeout`, if shorter).
//!
//! Then sqlx may open one after all. Nothing here waits while a connection is idle, while a
//! connection opened now would be kept, or while the pool is at its limit (sqlx then waits for
//! a return itself).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use poolscope::hooks::{PoolHooks, ReturnInFlight};
use tokio::sync::Notify;

/// How long a checkout yields, looking for a kept connection to land, before it sleeps
/// between looks: a ping's round trip on a local network, with room.
const PING_SPIN: Duration = Duration::from_micros(500);

/// The longest a checkout waits for a returning connection before sqlx may open one.
const RETURN_WAIT: Duration = Duration::from_millis(20);

/// Wakes the checkouts waiting for a return; shared by the pool and its `after_release`.
#[derive(Debug)]
pub(crate) struct Returns {
    released: Notify,
    /// `after_release` calls so far.
    callbacks: AtomicU64,
    /// When the last statement that had a connection ended (nanoseconds since `epoch`), and
    /// `callbacks` then: a connection is on its way to `after_release` while `callbacks` has
    /// not moved.
    statement_end: Mutex<Option<(Instant, u64)>>,
}

impl Default for Returns {
    fn default() -> Self {
        Returns {
            released: Notify::new(),
            callbacks: AtomicU64::new(0),
            statement_end: Mutex::new(None),
        }
    }
}

impl Returns {
    /// `after_release` ran (the connection was kept or closed).
    pub(crate) fn released(&self) {
        self.callbacks.fetch_add(1, Ordering::AcqRel);
        self.released.notify_waiters();
    }

    /// A statement that had a connection ended: the connection is being released.
    pub(crate) fn statement_ended(&self) {
        let callbacks = self.callbacks.load(Ordering::Acquire);
        *lock(&self.statement_end) = Some((Instant::now(), callbacks));
    }

    /// Whether a statement's connection was released less than `within` ago and has not
    /// reached `after_release` (no callback ran since).
    fn release_pending(&self, within: Duration) -> bool {
        let callbacks = self.callbacks.load(Ordering::Acquire);
        lock(&self.statement_end)
            .is_some_and(|(at, then)| then == callbacks && at.elapsed() < within)
    }

    /// Waits while a connection opened now would be closed as overflow on its return and one
    /// on its way back may serve instead (see the module doc). `idle_now` reads sqlx's idle
    /// queue; `reconcile` catches up with connections sqlx closed without a callback.
    pub(crate) async fn await_return_in_flight(
        &self,
        hooks: &PoolHooks,
        idle_now: impl Fn() -> usize,
        reconcile: impl Fn(),
    ) {
        let started = Instant::now();
        let limit = hooks
            .pool_timeout()
            .map_or(RETURN_WAIT, |timeout| timeout.min(RETURN_WAIT));
        loop {
            reconcile();
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the state is read: a callback in between is not missed.
            released.as_mut().enable();
            let waited = started.elapsed();
            if waited >= limit {
                return;
            }
            match hooks.return_in_flight(idle_now()) {
                ReturnInFlight::No => return,
                ReturnInFlight::Maybe if self.release_pending(RETURN_WAIT) => {
                    let _ = tokio::time::timeout(limit - waited, released).await;
                }
                ReturnInFlight::Maybe => return,
                ReturnInFlight::Kept if waited < PING_SPIN => {
                    // Offers the core to the threads that finish the return (the runtime's
                    // other worker, the server when it is local) as well as to other tasks:
                    // under `block_on` a task's yield alone spins the core they need.
                    std::thread::yield_now();
                    tokio::task::yield_now().await
                }
                ReturnInFlight::Kept => tokio::time::sleep(Duration::from_millis(1)).await,
                _ => return,
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
