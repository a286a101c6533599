//! The pool's decisions and signals for connections that live in *another* pool
//! implementation, driven from that pool's callbacks.
//!
//! sqlx (and so SeaORM) owns its pool: it opens, queues and closes the connections itself and
//! calls `after_connect`, `before_acquire` and `after_release` around them. [`PoolHooks`] is
//! what those callbacks ask: keep this returned connection or close it, is this idle one too old,
//! ping it first. It decides through the same class rules as [`Pool`](crate::Pool) and
//! [`AsyncPool`](crate::AsyncPool) and emits the same echo lines, spans and metrics. The caller
//! side of a checkout (waiting, timing out) is reported through an [`Acquire`] that the code
//! calling the other pool holds while it waits.
//!
//! Adapter crates use this (`poolscope-sea-orm`); applications need not.
//!
//! ```
//! use poolscope::hooks::{HooksBuilder, IdleCheck};
//! use poolscope::PoolClass;
//!
//! let hooks = HooksBuilder::new()
//!     .pool_class(PoolClass::Queue)
//!     .pool_size(1)
//!     .max_overflow(1)
//!     .name("orders")
//!     .build()?;
//! assert_eq!(hooks.max_open(), Some(2)); // what the other pool's own limit must be
//!
//! // Two checkouts open two connections (the second is overflow) ...
//! for _ in 0..2 {
//!     let acquire = hooks.start_acquire()?;
//!     hooks.connected(Some(acquire));
//! }
//! // ... and on return the first is kept, the overflow one closed.
//! hooks.returning();
//! assert!(hooks.check_in());
//! hooks.returning();
//! assert!(!hooks.check_in());
//! assert_eq!(hooks.idle_taken(std::time::Duration::from_secs(1)), IdleCheck::Use);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acquire;
mod builder;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use acquire::Acquire;
pub use builder::{Hooks, HooksBuilder};

use crate::config::{PoolClass, ResetAction, ResetOnReturn};
use crate::emit::Emit;
use crate::error::{AlreadyCheckedOut, CheckoutSite};
use crate::event::{Conn, Event};
use crate::instrument::{GaugeSource, Gauges, Instruments};
use crate::policy::{self, Limits, Return};
use crate::reasons::CloseReason;
use crate::record::InvalidateReason;
use crate::status::Status;
use crate::sync::{lock, Mutex};

/// What to do with an idle connection about to be handed out (see [`PoolHooks::idle_taken`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdleCheck {
    /// Hand it out: call [`PoolHooks::handed_idle`].
    Use,
    /// Test it first (pre-ping); then [`PoolHooks::handed_idle`] or [`PoolHooks::ping_failed`].
    Ping,
    /// Close it and take another: it is older than `pool_recycle`, or was opened before the
    /// pool was invalidated. Already counted as closed.
    Replace,
}

/// Whether a checkout should wait for a connection on its way back rather than have the other
/// pool open one (see [`PoolHooks::return_in_flight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReturnInFlight {
    /// Nothing to wait for: a connection is idle, or one opened now would be kept, or the pool
    /// is at its limit (the other pool waits for a return itself).
    No,
    /// Connections are out and none has been seen coming back yet: one may have been released
    /// and not reached its callback. Worth letting other tasks run once.
    Maybe,
    /// A connection was checked in (kept idle) and has not reached the other pool's idle
    /// queue yet (sqlx tests it on its way): it will be idle in a round trip, while a
    /// connection opened now would be closed as overflow on its return.
    Kept,
}

/// One pool's decisions and instruments, for a pool implementation that holds the connections
/// itself. Cheap to clone; every clone is the same pool.
///
/// The counts are kept here, under one lock, from the calls the other pool's callbacks make:
/// opened ([`connected`](Self::connected)), taken from idle ([`idle_taken`](Self::idle_taken)),
/// returned ([`returning`](Self::returning), [`check_in`](Self::check_in)) and closed by a
/// decision made here. A connection the other pool closes on its own, without a callback,
/// is not seen until [`reconcile`](Self::reconcile) reads the other pool's count.
#[derive(Clone)]
pub struct PoolHooks(Arc<Inner>);

struct Inner {
    id: u64,
    config: crate::config::Config,
    limits: Limits,
    instruments: Instruments,
    state: Mutex<Counts>,
    /// `Counts::open` as last published, read without the lock by `reconcile`'s fast path.
    open_hint: AtomicUsize,
}

#[derive(Default)]
struct Counts {
    /// Connections open: idle, handed out, or on their way back.
    open: usize,
    idle: usize,
    used: usize,
    /// Checkouts waiting (between `start_acquire` and a connection or a failure).
    pending: usize,
    /// Connections opened before this are replaced at their next checkout.
    invalidated_at: Option<Instant>,
    /// AssertionPool: where its one connection was checked out.
    holder: Option<CheckoutSite>,
    /// Bumped whenever counts are taken for publishing, so that counts published after the
    /// lock is released never replace newer ones.
    counts_taken: u64,
}

impl Counts {
    /// A connection handed out is back (checked in or closed).
    fn returned(&mut self) {
        self.used = self.used.saturating_sub(1);
        self.holder = None;
    }

    fn gauges(&self) -> Gauges {
        Gauges {
            idle: self.idle,
            idle_slots: self.idle,
            used: self.used,
            pending: self.pending,
            leaks: 0,
        }
    }
}

impl GaugeSource for Inner {
    fn gauges(&self) -> Gauges {
        lock(&self.state).gauges()
    }
}

impl Emit for Inner {
    #[inline]
    fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    #[inline]
    fn config(&self) -> &crate::config::Config {
        &self.config
    }
}

/// Counts taken under the hooks' lock, to publish once it is released: the recorder is user
/// code, and may look at the pool (`status()` takes the same lock). Numbered in the order they
/// were taken, so that counts published late never replace newer ones.
#[must_use = "counts taken are published with Inner::publish once the lock is released"]
struct Taken(Option<(u64, Gauges)>);

impl Inner {
    /// The counts changed (under the lock): takes them for [`publish`](Self::publish).
    fn take_counts(&self, st: &mut Counts) -> Taken {
        self.open_hint.store(st.open, Ordering::Relaxed);
        Taken(self.instruments.wants_counts().then(|| {
            st.counts_taken += 1;
            (st.counts_taken, st.gauges())
        }))
    }

    /// Publishes counts taken under the lock, now that it is released.
    fn publish(&self, taken: Taken) {
        if let Some((number, gauges)) = taken.0 {
            self.instruments.counts(number, gauges);
        }
    }

    /// `n` connections are closed (under the lock): counted here; their events are emitted
    /// with [`closed`](Self::closed) once the lock is released.
    fn close_locked(st: &mut Counts, n: usize) {
        st.open = st.open.saturating_sub(n);
    }

    /// Emits the close of `n` connections closed under the lock.
    fn closed(&self, n: usize, reason: CloseReason) {
        for _ in 0..n {
            self.emit(Event::Closed {
                conn: Conn::Unnamed,
                reason,
            });
        }
    }
}

impl std::fmt::Debug for PoolHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHooks")
            .field("name", &self.0.config.name)
            .field("class", &self.0.config.class)
            .field("status", &self.status().to_string())
            .finish()
    }
}

impl PoolHooks {
    /// The pool's name, as in logs and metrics.
    pub fn name(&self) -> &str {
        &self.0.config.name
    }

    /// The pool class.
    pub fn class(&self) -> PoolClass {
        self.0.config.class
    }

    /// Most connections open at once, which the other pool must enforce (`None`: no limit).
    pub fn max_open(&self) -> Option<usize> {
        self.0.limits.max_open
    }

    /// Whether every connection the class allows is open (idle or in use), so that a
    /// checkout must wait for a return: a timeout then is the pool's limit, not a connect
    /// that kept failing.
    pub fn at_limit(&self) -> bool {
        let open = lock(&self.0.state).open;
        self.0.limits.max_open.is_some_and(|max| open >= max)
    }

    /// A checkout is about to ask the other pool, which has `idle_now` connections in its idle
    /// queue. A connection it opened now would be overflow (closed on its return) while a
    /// connection kept on return may still be on its way to that queue: sqlx returns a
    /// connection on a task of its own, after a ping. Waiting for it instead of opening one
    /// is what keeps a small pool from churning connections (a QueuePool of `pool_size` 1
    /// with overflow opened and closed one connection for every third statement).
    pub fn return_in_flight(&self, idle_now: usize) -> ReturnInFlight {
        if idle_now > 0 {
            return ReturnInFlight::No;
        }
        let limits = &self.0.limits;
        let st = lock(&self.0.state);
        let opened_now_is_closed = limits
            .max_idle
            .is_some_and(|kept| kept > 0 && st.open >= kept)
            && limits.max_open.is_none_or(|max| st.open < max);
        if !opened_now_is_closed {
            ReturnInFlight::No
        } else if st.idle > idle_now {
            ReturnInFlight::Kept
        } else if st.used > 0 {
            ReturnInFlight::Maybe
        } else {
            ReturnInFlight::No
        }
    }

    /// How long a checkout may wait (`None`: forever), which the other pool must enforce.
    pub fn pool_timeout(&self) -> Option<Duration> {
        self.0.config.timeout
    }

    /// The reset-on-return policy.
    pub fn reset_on_return(&self) -> ResetOnReturn {
        self.0.config.reset_on_return
    }

    /// Whether `pre_ping` is on.
    pub fn pre_ping(&self) -> bool {
        self.0.config.pre_ping
    }

    /// SQLAlchemy's `status()` for the counts kept here.
    pub fn status(&self) -> Status {
        let st = lock(&self.0.state);
        self.0.limits.status(
            self.0.id,
            policy::Occupancy {
                open: st.open,
                idle: st.idle,
                used: st.used,
                waiting: st.pending,
                suspected_leaks: 0,
            },
        )
    }

    /// A checkout begins (before the other pool is asked). Hold the [`Acquire`] while waiting;
    /// hand it to [`connected`](Self::connected) / [`handed_idle`](Self::handed_idle), or end it
    /// with [`Acquire::timed_out`] / [`Acquire::failed`]. Dropping it counts as cancelled.
    ///
    /// AssertionPool refuses at once while its connection is out, naming where it was taken.
    #[track_caller]
    pub fn start_acquire(&self) -> Result<Acquire, AlreadyCheckedOut> {
        let inner = &self.0;
        let site = inner.limits.names_the_holder().then(|| {
            CheckoutSite::here(
                std::panic::Location::caller(),
                crate::owner::Owner::current_task(),
                inner.config.store_traceback,
            )
        });
        let mut st = lock(&inner.state);
        if let Some(holder) = &st.holder {
            return Err(AlreadyCheckedOut {
                class: inner.config.class,
                site: holder.clone(),
            });
        }
        st.pending += 1;
        let taken = inner.take_counts(&mut st);
        drop(st);
        inner.publish(taken);
        Ok(Acquire::new(Arc::clone(inner), site))
    }

    /// `after_connect`: a new connection was opened for a checkout (`acquire`, when the caller
    /// side is known).
    pub fn connected(&self, acquire: Option<Acquire>) {
        let inner = &self.0;
        let mut st = lock(&inner.state);
        st.open += 1;
        st.used += 1;
        let overflow = inner.limits.overflow(st.open) > 0;
        let acquire = Acquire::handed(acquire, &mut st);
        let taken = inner.take_counts(&mut st);
        drop(st);
        if overflow {
            inner.emit(Event::OverflowOpened);
        }
        inner.emit(Event::Created {
            conn: Conn::Unnamed,
            overflow,
        });
        Acquire::finish_handed(acquire, if overflow { "overflow" } else { "new" });
        inner.publish(taken);
    }

    /// `before_acquire`: an idle connection, opened `age` ago, was taken from the idle queue.
    pub fn idle_taken(&self, age: Duration) -> IdleCheck {
        let inner = &self.0;
        // sqlx measures `age` on its own clock (`Instant`), so the pool's rule is asked on
        // that one too.
        let now = Instant::now();
        let mut st = lock(&inner.state);
        st.idle = st.idle.saturating_sub(1);
        let stale = policy::stale_reason(
            inner.config.recycle,
            policy::Age {
                age,
                opened: now.checked_sub(age),
                pool_invalidated_at: st.invalidated_at,
                soft_invalidated: false,
            },
        );
        if stale.is_some() {
            Inner::close_locked(&mut st, 1);
        }
        let taken = inner.take_counts(&mut st);
        drop(st);
        if let Some(why) = stale {
            inner.emit(Event::Recycled {
                conn: Conn::Unnamed,
                why,
            });
            inner.closed(1, CloseReason::Recycled);
            inner.publish(taken);
            return IdleCheck::Replace;
        }
        inner.publish(taken);
        if inner.config.pre_ping {
            inner.emit(Event::PrePing {
                conn: Conn::Unnamed,
                fresh: false,
            });
            IdleCheck::Ping
        } else {
            IdleCheck::Use
        }
    }

    /// The pre-ping of a taken idle connection failed: it is closed, and every connection opened
    /// before now is replaced at its next checkout (SQLAlchemy's pool invalidation).
    pub fn ping_failed(&self, error: &dyn std::error::Error) {
        let inner = &self.0;
        inner.emit(Event::PrePingFailed {
            conn: Conn::Unnamed,
            error,
        });
        inner.emit(Event::Invalidated {
            conn: Conn::Unnamed,
            reason: &InvalidateReason::PingFailed(crate::Cause::text(error.to_string())),
        });
        let mut st = lock(&inner.state);
        st.invalidated_at = Some(Instant::now());
        Inner::close_locked(&mut st, 1);
        let taken = inner.take_counts(&mut st);
        drop(st);
        inner.closed(1, CloseReason::Invalidated);
        inner.publish(taken);
    }

    /// `before_acquire` hands the taken idle connection out.
    pub fn handed_idle(&self, acquire: Option<Acquire>) {
        let inner = &self.0;
        inner.emit(Event::CheckedOut(Conn::Unnamed));
        let mut st = lock(&inner.state);
        st.used += 1;
        let acquire = Acquire::handed(acquire, &mut st);
        let taken = inner.take_counts(&mut st);
        drop(st);
        Acquire::finish_handed(acquire, "idle");
        inner.publish(taken);
    }

    /// `after_release`: a connection comes back. Returns the reset the policy asks for; run it
    /// when the connection has a transaction open, report it with [`reset_done`](Self::reset_done),
    /// then ask [`check_in`](Self::check_in). It counts as checked out until one of those two
    /// closes or keeps it.
    pub fn returning(&self) -> Option<ResetAction> {
        let inner = &self.0;
        inner.emit(Event::Returned {
            conn: Conn::Unnamed,
            used: None,
        });
        // Still counted checked out until it is checked in or closed, as in SQLAlchemy.
        inner.config.reset_on_return.action()
    }

    /// The connection came back with no transaction open: no reset is sent (SQLAlchemy's
    /// `Connection reset, transaction already reset`, for a rollback; a commit-on-return with
    /// nothing open has nothing to commit either).
    pub fn nothing_to_reset(&self, action: ResetAction) {
        if action == ResetAction::Rollback {
            self.0.emit(Event::ResetSkipped(Conn::Unnamed));
        }
    }

    /// The `poolscope.reset` span for a reset about to run (enter it around the reset).
    pub fn reset_span(&self, action: ResetAction) -> tracing::Span {
        self.0.emit(Event::Resetting {
            conn: Conn::Unnamed,
            action,
        });
        crate::spans::reset_span(&self.0.config, action)
    }

    /// A reset ran. On failure the connection must be closed (it is counted closed here), as
    /// SQLAlchemy invalidates a connection whose reset raised.
    pub fn reset_done(&self, action: ResetAction, result: Result<(), &dyn std::error::Error>) {
        let inner = &self.0;
        inner.emit(Event::ResetDone {
            action,
            error: result.err().map(|e| e as &dyn std::fmt::Display),
            pooled: true,
        });
        if let Err(error) = result {
            let reason = InvalidateReason::ResetFailed(crate::Cause::text(error.to_string()));
            inner.emit(Event::Invalidated {
                conn: Conn::Unnamed,
                reason: &reason,
            });
            let mut st = lock(&inner.state);
            st.returned();
            Inner::close_locked(&mut st, 1);
            let taken = inner.take_counts(&mut st);
            drop(st);
            inner.closed(1, CloseReason::Invalidated);
            inner.publish(taken);
        }
    }

    /// Whether the returned connection is kept idle (`true`) or closed (`false`, counted closed
    /// here): QueuePool keeps at most `pool_size`, NullPool none.
    pub fn check_in(&self) -> bool {
        let inner = &self.0;
        let mut st = lock(&inner.state);
        st.returned();
        let keep = inner.limits.on_return(st.idle) == Return::Keep;
        let mut overflow = false;
        if keep {
            st.idle += 1;
        } else {
            overflow = inner.limits.overflow(st.open) > 0;
            Inner::close_locked(&mut st, 1);
        }
        let taken = inner.take_counts(&mut st);
        drop(st);
        if !keep {
            let reason = if overflow {
                inner.emit(Event::OverflowClosed);
                CloseReason::Overflow
            } else {
                CloseReason::NoPooling
            };
            inner.closed(1, reason);
        }
        inner.publish(taken);
        keep
    }

    /// Catches up with connections the other pool closed without a callback (sqlx closes a
    /// returned connection that fails its own test after `after_release` said keep, and closes
    /// idle ones when it is closed). `open_now` reads the other pool's count of open
    /// connections; it is called under this pool's lock, where no connection can be counted
    /// here without being counted there, so any excess here was closed there. Those are taken
    /// off the idle count. Returns how many there were. Without the lock when nothing is
    /// counted beyond the other pool's count (the usual case).
    pub fn reconcile(&self, open_now: impl Fn() -> usize) -> usize {
        let inner = &self.0;
        if inner.open_hint.load(Ordering::Relaxed) <= open_now() {
            return 0;
        }
        let mut st = lock(&inner.state);
        let lost = st.open.saturating_sub(open_now());
        if lost == 0 {
            return 0;
        }
        Inner::close_locked(&mut st, lost);
        st.idle = st.idle.saturating_sub(lost);
        let taken = inner.take_counts(&mut st);
        drop(st);
        inner.closed(lost, CloseReason::Invalidated);
        inner.publish(taken);
        inner.emit(Event::LostUnderneath(lost));
        lost
    }

    /// The other pool was closed: its idle connections are gone.
    pub fn disposed(&self) {
        let inner = &self.0;
        let mut st = lock(&inner.state);
        let idle = std::mem::take(&mut st.idle);
        Inner::close_locked(&mut st, idle);
        let taken = inner.take_counts(&mut st);
        drop(st);
        inner.closed(idle, CloseReason::Dispose);
        inner.publish(taken);
        inner.emit(Event::Disposed {
            status: &self.status(),
        });
    }
}
