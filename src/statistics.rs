//! A pool's history in counts, read in-process: bb8's `Statistics`, with the same field
//! names and meanings, counted from the pool's own decisions (the event stream, and the
//! checkout's clock in `spans.rs`) when the builder asks for it
//! ([`PoolBuilder::statistics`](crate::PoolBuilder::statistics)).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::event::Event;
use crate::reasons::{CloseReason, RecycleReason};
use crate::record::InvalidateReason;

/// What a pool did since it was built, counted (bb8's `Statistics`: the same fields, with the
/// same meanings, and a few of poolscope's own). Read with
/// [`ConnectionPool::statistics`](crate::ConnectionPool::statistics) when the pool was built
/// with [`statistics(true)`](crate::PoolBuilder::statistics).
///
/// A checkout is *direct* when it was handed an idle connection without waiting for a slot
/// or opening a connection (a pre-ping does not count as waiting, as in bb8), and *waited*
/// otherwise; its wait time runs from the moment it started waiting or connecting until it
/// was handed a connection, or gave up.
///
/// ```
/// use poolscope::{Pool, ResetOnReturn};
/// # struct M;
/// # impl r2d2::ManageConnection for M {
/// #     type Connection = ();
/// #     type Error = std::io::Error;
/// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn has_broken(&self, _: &mut ()) -> bool { false }
/// # }
/// let pool = Pool::builder()
///     .statistics(true)
///     .reset_on_return(ResetOnReturn::None)
///     .build(M)?;
/// drop(pool.get()?); // opens a connection: waited
/// drop(pool.get()?); // the idle one: direct
/// let stats = pool.statistics().expect("built with statistics(true)");
/// assert_eq!((stats.get_direct, stats.get_waited), (1, 1));
/// assert_eq!(stats.connections_created, 1);
/// assert_eq!(stats.pending_gets(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Checkouts started (counted before a checkout waits, so `pending_gets()` is the
    /// checkouts under way).
    pub get_started: u64,
    /// Checkouts handed an idle connection without waiting for a slot or opening one.
    pub get_direct: u64,
    /// Checkouts that waited for a slot or opened a connection before they were served.
    pub get_waited: u64,
    /// Checkouts that gave up at `pool_timeout`, waiting or connecting.
    pub get_timed_out: u64,
    /// Checkouts that failed otherwise (poolscope's own): a failed connect, a listener's
    /// refusal, a nested checkout refused. bb8 has none: it retries a failed connect in the
    /// background until the checkout times out.
    pub get_failed: u64,
    /// Time spent waiting (see above), summed over the checkouts that waited.
    pub get_wait_time: Duration,
    /// Connections opened.
    pub connections_created: u64,
    /// Connections closed as broken: the manager's `has_broken` said so on return, or the
    /// reset on return failed.
    pub connections_closed_broken: u64,
    /// Connections closed as invalid: their pre-ping (bb8's `test_on_check_out`) failed, a
    /// checkout listener reported them disconnected, or a failed pre-ping on another
    /// connection invalidated the pool they were older than.
    pub connections_closed_invalid: u64,
    /// Connections closed because they reached `pool_recycle` (bb8's `max_lifetime`).
    pub connections_closed_max_lifetime: u64,
    /// Connections closed because they sat idle too long: always 0, as poolscope never
    /// closes a connection for that (see `connections_closed_overflow`).
    pub connections_closed_idle_timeout: u64,
    /// Connections closed because the class keeps no more idle (poolscope's own): QueuePool's
    /// overflow closed on return, NullPool's every return, SingletonThreadPool's evictions.
    /// Where bb8 closes connections beyond `min_idle` after `idle_timeout`, poolscope closes
    /// them here.
    pub connections_closed_overflow: u64,
    /// Connections closed for a reason bb8 has no field for (poolscope's own): `dispose()`,
    /// the application's `invalidate()` or `soft_invalidate()`, a `connect` listener's
    /// refusal.
    pub connections_closed_other: u64,
}

impl Statistics {
    /// Checkouts started and not yet served nor failed (bb8's `pending_gets`). An async
    /// checkout dropped before it finished stays counted here, as in bb8.
    pub fn pending_gets(&self) -> u64 {
        self.get_started.saturating_sub(self.completed_gets())
    }

    /// Checkouts finished: direct, waited, timed out, and (poolscope's own) failed.
    pub fn completed_gets(&self) -> u64 {
        self.get_direct + self.get_waited + self.get_timed_out + self.get_failed
    }
}

/// The counters behind [`Statistics`], one per pool that counts.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    get_started: AtomicU64,
    get_direct: AtomicU64,
    get_waited: AtomicU64,
    get_timed_out: AtomicU64,
    get_failed: AtomicU64,
    get_wait_nanos: AtomicU64,
    created: AtomicU64,
    closed_broken: AtomicU64,
    closed_invalid: AtomicU64,
    closed_max_lifetime: AtomicU64,
    closed_overflow: AtomicU64,
    closed_other: AtomicU64,
}

/// How a checkout ended, for [`Counters::finished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    Served,
    TimedOut,
    Failed,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Counters {
    /// A checkout started.
    #[inline]
    pub(crate) fn started(&self) {
        add(&self.get_started);
    }

    /// A checkout ended; `waited`: how long it waited (`None`: it did not).
    pub(crate) fn finished(&self, how: Finished, waited: Option<Duration>) {
        add(match (how, waited) {
            (Finished::Served, None) => &self.get_direct,
            (Finished::Served, Some(_)) => &self.get_waited,
            (Finished::TimedOut, _) => &self.get_timed_out,
            (Finished::Failed, _) => &self.get_failed,
        });
        if let Some(waited) = waited {
            let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            self.get_wait_nanos.fetch_add(nanos, Relaxed);
        }
    }

    /// Counts what `event` says about the pool's connections. Each close is counted once: by
    /// the event that says why (an invalidation, a recycle) where there is one, else by the
    /// close itself.
    #[inline(always)]
    pub(crate) fn on(&self, event: Event<'_>) {
        let counter = match event {
            Event::Created { .. } => &self.created,
            Event::Invalidated { reason, .. } => match reason {
                InvalidateReason::Broken | InvalidateReason::ResetFailed(_) => &self.closed_broken,
                InvalidateReason::PingFailed(_) | InvalidateReason::Listener(_) => {
                    &self.closed_invalid
                }
                InvalidateReason::Requested | InvalidateReason::Error { .. } => &self.closed_other,
            },
            Event::Recycled { why, .. } => match why {
                RecycleReason::Age => &self.closed_max_lifetime,
                RecycleReason::PoolInvalidated => &self.closed_invalid,
                RecycleReason::SoftInvalidated => &self.closed_other,
            },
            Event::Closed { reason, .. } => match reason {
                CloseReason::Overflow | CloseReason::NoPooling | CloseReason::Evicted => {
                    &self.closed_overflow
                }
                CloseReason::Dispose | CloseReason::CheckoutFailed => &self.closed_other,
                // Counted by the invalidation or recycle that said why.
                CloseReason::Invalidated | CloseReason::Recycled => return,
            },
            _ => return,
        };
        add(counter);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> Statistics {
        let get = |c: &AtomicU64| c.load(Relaxed);
        Statistics {
            get_started: get(&self.get_started),
            get_direct: get(&self.get_direct),
            get_waited: get(&self.get_waited),
            get_timed_out: get(&self.get_timed_out),
            get_failed: get(&self.get_failed),
            get_wait_time: Duration::from_nanos(get(&self.get_wait_nanos)),
            connections_created: get(&self.created),
            connections_closed_broken: get(&self.closed_broken),
            connections_closed_invalid: get(&self.closed_invalid),
            connections_closed_max_lifetime: get(&self.closed_max_lifetime),
            connections_closed_idle_timeout: 0,
            connections_closed_overflow: get(&self.closed_overflow),
            connections_closed_other: get(&self.closed_other),
        }
    }
}

impl Event<'_> {
    /// Whether [`Counters::on`] takes this event. Folded away where the event is built.
    #[inline(always)]
    pub(crate) fn is_counted(&self) -> bool {
        matches!(
            self,
            Event::Created { .. }
                | Event::Invalidated { .. }
                | Event::Recycled { .. }
                | Event::Closed { .. }
        )
    }
}
