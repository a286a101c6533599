//! The pool classes' rules, as pure functions of the pool's counts: no I/O, no locking.
//!
//! The blocking engine, the async engine and (later) the sqlx binding all decide through this
//! module, so the semantics cannot drift apart between them.

use std::time::{Duration, Instant};

use crate::config::{Config, FrontEnd, Overflow, PoolClass};
use crate::error::TimeoutError;
use crate::reasons::{CloseReason, RecycleReason};
use crate::status::Status;

/// The limits a pool class implies for one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) class: PoolClass,
    /// Most connections open at once (idle + checked out + being opened); `None` is no limit.
    pub(crate) max_open: Option<usize>,
    /// Most idle connections kept; a connection returned beyond this is closed.
    pub(crate) max_idle: Option<usize>,
    /// The configured `pool_size`, which `status()` reports and overflow is counted from.
    pub(crate) pool_size: usize,
    /// How long the first waiter may be overtaken before returns go straight to it.
    fair_after: std::time::Duration,
}

/// What a checkout may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checkout {
    /// Take an idle connection.
    TakeIdle,
    /// Open a new connection; the slot is reserved now.
    Open,
    /// Wait for a connection to be returned or a slot to be freed.
    Wait,
    /// Fail at once: the single connection is checked out and waiting could never succeed
    /// (AssertionPool always; StaticPool when the caller's own thread holds it).
    RefuseAlreadyCheckedOut,
}

/// What happens to a connection that comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Return {
    Keep,
    Close,
}

impl Limits {
    pub(crate) fn for_config(config: &Config) -> Self {
        let pool_size = config.pool_size;
        let (max_open, max_idle) = match config.class {
            // pool_size 0: no limit at all, every returned connection is kept (SQLAlchemy
            // forces max_overflow to -1 and makes the queue unbounded).
            PoolClass::Queue if pool_size == 0 => (None, None),
            PoolClass::Queue => match config.max_overflow {
                Overflow::Unlimited => (None, Some(pool_size)),
                Overflow::Limited(extra) => {
                    (Some(pool_size.saturating_add(extra)), Some(pool_size))
                }
            },
            PoolClass::Null => (None, Some(0)),
            PoolClass::Static | PoolClass::Assertion => (Some(1), Some(1)),
            // Per thread one connection; how many threads keep one is `pool_size`.
            PoolClass::SingletonThread => (None, Some(pool_size)),
        };
        Limits {
            class: config.class,
            max_open,
            max_idle,
            pool_size,
            fair_after: match (config.class, config.front) {
                (PoolClass::Queue, FrontEnd::Blocking) => FAIR_AFTER,
                _ => std::time::Duration::ZERO,
            },
        }
    }

    /// Decides a checkout. `holder_is_this_thread` is `Some(..)` when the class's single
    /// connection is checked out (Static, Assertion), telling whether by the calling thread.
    pub(crate) fn checkout(
        &self,
        idle: usize,
        open: usize,
        holder_is_this_thread: Option<bool>,
    ) -> Checkout {
        match (self.class, holder_is_this_thread) {
            (PoolClass::Assertion, Some(_)) | (PoolClass::Static, Some(true)) => {
                return Checkout::RefuseAlreadyCheckedOut
            }
            _ => {}
        }
        if idle > 0 {
            Checkout::TakeIdle
        } else if self.max_open.is_none_or(|max| open < max) {
            Checkout::Open
        } else {
            Checkout::Wait
        }
    }

    /// Whether a returned connection goes straight to the first waiter, which started
    /// waiting at `since` (`None` if the pool never overtakes, see
    /// [`overtakes`](Self::overtakes)). A blocking QueuePool lets whoever runs first take it
    /// (the waiter is nudged to try) until the waiter has waited [`FAIR_AFTER`]. The async
    /// pool and the single-connection classes always hand over: a woken task runs only after
    /// the tasks already queued, by which time a running caller has taken the connection, so
    /// overtaking would cost every return a wasted wake-up; and the single connection has an
    /// owner.
    pub(crate) fn hand_off(&self, since: Option<std::time::Instant>) -> bool {
        since.is_none_or(|since| since.elapsed() >= self.fair_after)
    }

    /// Whether a returned connection may overtake waiters at all (a blocking QueuePool), so
    /// that a waiter must note when it started waiting.
    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) fn overtakes(&self) -> bool {
        !self.fair_after.is_zero()
    }

    /// Decides a return, given how many connections are idle now.
    pub(crate) fn on_return(&self, idle: usize) -> Return {
        match self.max_idle {
            Some(max) if idle >= max => Return::Close,
            _ => Return::Keep,
        }
    }

    /// SQLAlchemy's `overflow()`: connections open beyond `pool_size` (negative while fewer are
    /// open); always 0 when `pool_size` is 0 or the class has no overflow.
    pub(crate) fn overflow(&self, open: usize) -> i64 {
        if self.class == PoolClass::Queue && self.pool_size > 0 {
            open as i64 - self.pool_size as i64
        } else {
            0
        }
    }

    /// SingletonThreadPool: how many kept thread connections must go before a new thread's
    /// connection is added, so that at most `pool_size` are kept.
    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) fn singleton_evictions(&self, kept: usize) -> usize {
        (kept + 1).saturating_sub(self.pool_size)
    }
}

/// How long a QueuePool waiter may be overtaken by callers that find a returned connection
/// idle before returns are handed to it directly (parking_lot's "eventual fairness"). Handing
/// over costs a wake-up on the connection's path, which on a busy machine leaves it unused
/// for the scheduler's latency; overtaking keeps it busy.
pub(crate) const FAIR_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// A pool's counts at one moment, as [`Limits::status`] reports them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Occupancy {
    /// Connections open (idle, checked out, or on their way back).
    pub(crate) open: usize,
    pub(crate) idle: usize,
    pub(crate) used: usize,
    pub(crate) waiting: usize,
    pub(crate) suspected_leaks: usize,
}

/// The class rules the core and the hooks path ask instead of matching on the class.
impl Limits {
    /// SingletonThreadPool: each thread keeps its own connection, in a map by thread rather
    /// than in the idle queue.
    pub(crate) fn per_thread(&self) -> bool {
        self.class == PoolClass::SingletonThread
    }

    /// Whether a checkout whose connect the server refused for capacity may wait in the
    /// queue for a connection or a later connect (`connects.rs`): the classes that queue
    /// their callers and bound the wait by their `pool_timeout` (QueuePool, StaticPool).
    /// NullPool has no `pool_timeout` to bound it (it fails at once, as in SQLAlchemy), nor
    /// have SingletonThreadPool (a thread's own connection) and AssertionPool.
    pub(crate) fn waits_for_capacity(&self) -> bool {
        matches!(self.class, PoolClass::Queue | PoolClass::Static)
    }

    /// StaticPool and AssertionPool: one connection, one holder at a time.
    pub(crate) fn single_holder(&self) -> bool {
        matches!(self.class, PoolClass::Static | PoolClass::Assertion)
    }

    /// Whether a checkout must know its holder (thread or task): the classes that compare
    /// holders. The others never look it up (it costs the checkout for nothing).
    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) fn tracks_holder(&self) -> bool {
        self.per_thread() || self.single_holder()
    }

    /// AssertionPool: a second checkout fails at once, naming where the first one was made
    /// (with its backtrace when `store_traceback` is on).
    pub(crate) fn names_the_holder(&self) -> bool {
        self.class == PoolClass::Assertion
    }

    /// Why a returned connection the class does not keep is closed: NullPool keeps none,
    /// QueuePool none beyond `pool_size` (overflow).
    pub(crate) fn return_close_reason(&self) -> CloseReason {
        if self.class == PoolClass::Null {
            CloseReason::NoPooling
        } else {
            CloseReason::Overflow
        }
    }

    /// QueuePool logs its status when disposed, as SQLAlchemy's `QueuePool.dispose` does.
    pub(crate) fn logs_dispose(&self) -> bool {
        self.class == PoolClass::Queue
    }
}

impl Limits {
    /// SQLAlchemy's `status()` for pool `pool_id` holding `now`: the same figures from the
    /// core and from the hooks path.
    pub(crate) fn status(&self, pool_id: u64, now: Occupancy) -> Status {
        Status {
            class: self.class,
            pool_id,
            size: self.pool_size,
            checked_in: now.idle,
            overflow: self.overflow(now.open),
            checked_out: now.used,
            waiting: now.waiting,
            suspected_leaks: now.suspected_leaks,
        }
    }

    /// SQLAlchemy's timeout error for a checkout that waited `timeout` with `open`
    /// connections open (`QueuePool limit of size 5 overflow 10 reached, ...`).
    pub(crate) fn timeout_error(&self, open: usize, timeout: Option<Duration>) -> TimeoutError {
        TimeoutError {
            class: self.class,
            size: self.pool_size,
            overflow: self.overflow(open),
            timeout: timeout.unwrap_or_default(),
            refused: None,
        }
    }
}

/// How old a pooled connection is and what has happened to the pool since it was opened,
/// read by the caller from its clock: the facts [`stale_reason`] decides on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Age {
    /// How long ago the connection was opened.
    pub(crate) age: Duration,
    /// When it was opened, on the clock `pool_invalidated_at` was read from (`None` when that
    /// instant cannot be expressed: the age then decides alone).
    pub(crate) opened: Option<Instant>,
    /// When the pool was last invalidated (a failed pre-ping, `invalidate()`), if ever.
    pub(crate) pool_invalidated_at: Option<Instant>,
    /// The connection itself was soft-invalidated.
    pub(crate) soft_invalidated: bool,
}

/// Why a pooled connection must be replaced before it is handed out, if it must, in
/// SQLAlchemy's order: age (`pool_recycle`), pool invalidation, soft invalidation. Pure: the
/// blocking and async core and the sqlx hooks all ask it with what their clocks read.
pub(crate) fn stale_reason(recycle: Option<Duration>, age: Age) -> Option<RecycleReason> {
    if recycle.is_some_and(|recycle| age.age > recycle) {
        return Some(RecycleReason::Age);
    }
    if age
        .pool_invalidated_at
        .zip(age.opened)
        .is_some_and(|(at, opened)| at > opened)
    {
        return Some(RecycleReason::PoolInvalidated);
    }
    if age.soft_invalidated {
        return Some(RecycleReason::SoftInvalidated);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Options;

    /// The instant the tests call now.
    fn now() -> Instant {
        Instant::now() + Duration::from_secs(10_000)
    }

    fn age(opened_secs_ago: u64) -> Age {
        let age = Duration::from_secs(opened_secs_ago);
        Age {
            age,
            opened: Some(now() - age),
            pool_invalidated_at: None,
            soft_invalidated: false,
        }
    }

    #[test]
    fn a_connection_is_stale_only_once_older_than_pool_recycle() {
        let recycle = Some(Duration::from_secs(30));
        assert_eq!(
            stale_reason(recycle, age(30)),
            None,
            "exactly pool_recycle is fresh"
        );
        assert_eq!(stale_reason(recycle, age(31)), Some(RecycleReason::Age));
        assert_eq!(
            stale_reason(None, age(1_000)),
            None,
            "no pool_recycle: never old"
        );
    }

    #[test]
    fn pool_invalidation_replaces_connections_opened_before_it_only() {
        let a = age(10);
        let opened = a.opened.unwrap();
        let before = Age {
            pool_invalidated_at: Some(opened + Duration::from_secs(1)),
            ..a
        };
        assert_eq!(
            stale_reason(None, before),
            Some(RecycleReason::PoolInvalidated)
        );
        let after = Age {
            pool_invalidated_at: Some(opened - Duration::from_secs(1)),
            ..a
        };
        assert_eq!(stale_reason(None, after), None);
    }

    #[test]
    fn the_reasons_come_in_sqlalchemys_order() {
        let every = Age {
            pool_invalidated_at: Some(now()),
            soft_invalidated: true,
            ..age(60)
        };
        let recycle = Some(Duration::from_secs(30));
        assert_eq!(stale_reason(recycle, every), Some(RecycleReason::Age));
        assert_eq!(
            stale_reason(None, every),
            Some(RecycleReason::PoolInvalidated)
        );
        let soft = Age {
            pool_invalidated_at: None,
            ..every
        };
        assert_eq!(
            stale_reason(None, soft),
            Some(RecycleReason::SoftInvalidated)
        );
    }

    fn limits(options: Options) -> Limits {
        let config = options
            .validate(crate::config::FrontEnd::Blocking, true, 1)
            .unwrap();
        Limits::for_config(&config)
    }

    /// The class questions the core and the hooks ask, per class, as one table.
    #[test]
    fn each_class_answers_the_core_s_questions() {
        use crate::reasons::CloseReason::{NoPooling, Overflow};
        use PoolClass::*;
        // (class, per_thread, single_holder, tracks_holder, names_the_holder, close reason,
        // logs_dispose)
        let table = [
            (Queue, false, false, false, false, Overflow, true),
            (Null, false, false, false, false, NoPooling, false),
            (SingletonThread, true, false, true, false, Overflow, false),
            (Static, false, true, true, false, Overflow, false),
            (Assertion, false, true, true, true, Overflow, false),
        ];
        for (class, per_thread, single, tracks, names, close, logs) in table {
            let l = limits(Options {
                class,
                ..Options::default()
            });
            assert_eq!(l.per_thread(), per_thread, "{class:?} per_thread");
            assert_eq!(l.single_holder(), single, "{class:?} single_holder");
            assert_eq!(l.tracks_holder(), tracks, "{class:?} tracks_holder");
            assert_eq!(l.names_the_holder(), names, "{class:?} names_the_holder");
            assert_eq!(
                l.return_close_reason(),
                close,
                "{class:?} return_close_reason"
            );
            assert_eq!(l.logs_dispose(), logs, "{class:?} logs_dispose");
        }
    }

    #[test]
    fn queue_defaults_allow_fifteen_open_and_keep_five() {
        let l = limits(Options::default());
        assert_eq!(l.max_open, Some(15));
        assert_eq!(l.max_idle, Some(5));
        assert_eq!(l.checkout(0, 14, None), Checkout::Open);
        assert_eq!(l.checkout(0, 15, None), Checkout::Wait);
        assert_eq!(l.checkout(1, 15, None), Checkout::TakeIdle);
        assert_eq!(l.on_return(4), Return::Keep);
        assert_eq!(l.on_return(5), Return::Close);
        assert_eq!(l.overflow(0), -5);
        assert_eq!(l.overflow(7), 2);
    }

    #[test]
    fn queue_with_pool_size_zero_never_limits_or_closes() {
        let l = limits(Options {
            pool_size: Some(0),
            max_overflow: Some(0),
            ..Options::default()
        });
        assert_eq!(l.checkout(0, 1_000, None), Checkout::Open);
        assert_eq!(l.on_return(1_000), Return::Keep);
        assert_eq!(l.overflow(1_000), 0);
    }

    #[test]
    fn unlimited_overflow_never_waits_but_closes_extra_idle() {
        let l = limits(Options {
            pool_size: Some(3),
            max_overflow: Some(-1),
            ..Options::default()
        });
        assert_eq!(l.checkout(0, 1_000, None), Checkout::Open);
        assert_eq!(l.on_return(3), Return::Close);
    }

    #[test]
    fn single_connection_classes_refuse_or_wait() {
        let assertion = limits(Options {
            class: PoolClass::Assertion,
            ..Options::default()
        });
        assert_eq!(
            assertion.checkout(0, 1, Some(false)),
            Checkout::RefuseAlreadyCheckedOut
        );
        let stat = limits(Options {
            class: PoolClass::Static,
            ..Options::default()
        });
        assert_eq!(stat.checkout(0, 1, Some(false)), Checkout::Wait);
        assert_eq!(
            stat.checkout(0, 1, Some(true)),
            Checkout::RefuseAlreadyCheckedOut
        );
        assert_eq!(stat.on_return(0), Return::Keep);
    }

    #[test]
    fn null_pool_always_opens_and_always_closes() {
        let l = limits(Options {
            class: PoolClass::Null,
            ..Options::default()
        });
        assert_eq!(l.checkout(0, 10_000, None), Checkout::Open);
        assert_eq!(l.on_return(0), Return::Close);
    }

    #[test]
    fn singleton_thread_evicts_down_to_pool_size() {
        let l = limits(Options {
            class: PoolClass::SingletonThread,
            pool_size: Some(3),
            ..Options::default()
        });
        assert_eq!(l.singleton_evictions(0), 0);
        assert_eq!(l.singleton_evictions(2), 0);
        assert_eq!(l.singleton_evictions(3), 1);
    }

    #[test]
    fn blocking_queue_pool_hands_returns_over_only_to_a_waiter_kept_past_the_bound() {
        use std::time::{Duration, Instant};
        let queue = limits(Options::default());
        assert!(queue.overtakes());
        assert!(!queue.hand_off(Some(Instant::now())));
        let just_under = Instant::now() - (FAIR_AFTER - Duration::from_millis(10));
        assert!(!queue.hand_off(Some(just_under)));
        assert!(queue.hand_off(Some(Instant::now() - FAIR_AFTER)));
    }

    #[test]
    fn async_queue_pool_and_single_connection_classes_always_hand_over() {
        let config = Options::default()
            .validate(crate::config::FrontEnd::Async, true, 1)
            .unwrap();
        let queue = Limits::for_config(&config);
        assert!(!queue.overtakes());
        assert!(queue.hand_off(None));
        for class in [PoolClass::Static, PoolClass::Assertion] {
            let single = limits(Options {
                class,
                ..Options::default()
            });
            assert!(!single.overtakes(), "{class:?}");
            assert!(single.hand_off(None), "{class:?}");
        }
    }
}
