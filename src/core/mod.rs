//! The accounting core shared by the blocking and the async pool.
//!
//! One mutex guards the counts, the idle queue and the waiters; it is never held while a
//! connection is opened, pinged, reset or closed, nor while a listener runs. What a class
//! allows is asked of [`Limits`]; this module only keeps the books and hands slots over.
//!
//! A checkout *reserves* a slot under the lock (an idle one, or new capacity) and then does
//! its I/O outside it. The [`Reservation`] gives the slot back if the checkout fails, panics or
//! is cancelled, so no path can leak capacity.
//!
//! | file | what |
//! |---|---|
//! | `state.rs` | the books (`State`) and the locked section (`Locked`), whose end serves the waiters, wakes them and publishes the counts outside the lock |
//! | `checkout.rs` | reserving a slot or queueing; waiting; giving up at the deadline |
//! | `reservation.rs` | a checkout's I/O steps: connect, pre-ping, listeners |
//! | `wait_queue.rs` | serving the waiters from what the pool has |
//! | `waiter.rs` | one waiter: its grant, its wake-up |
//! | `deadlines.rs` | the async waiters' deadlines, kept by one alarm per pool on poolscope's timer thread |
//! | `checkin.rs` | returns, invalidation, detaching, closing, `dispose` |
//! | `panics.rs` | user code's panics: books first, then the panic carries on |
//! | `leaks.rs` | leak detection |

// Only a front uses this module: unused in the hooks-only build (neither front).
#![cfg_attr(
    not(any(feature = "blocking", feature = "tokio")),
    allow(dead_code, unused_imports)
)]

mod checkin;
mod checkout;
mod connect_backoff;
mod connects;
mod deadlines;
pub(crate) mod first_connect;
mod invalidate;
mod leaks;
pub(crate) mod panics;
mod reservation;
mod state;
mod wait_queue;
mod waiter;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

pub(crate) use checkin::ReturnStep;
pub(crate) use checkout::{Begin, Started, Waited};
pub(crate) use reservation::{AfterFailure, Reservation, Step};
pub(crate) use waiter::Waiter;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::CheckoutSite;
use crate::events::ConnectionEvent;
use crate::events::Listeners;
use crate::instrument::{GaugeSource, Gauges, InstrumentOptions, Instruments};
use crate::owner::Owner;
use crate::policy::{self, Limits};
use crate::reasons::RecycleReason;
use crate::record::ConnectionRecord;
use crate::status::Status;
use crate::sync::{lock, Mutex};
use state::{State, ThreadConn};

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_pool_id() -> u64 {
    NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn next_connection_id() -> u64 {
    NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed)
}

/// A slot and the connection it holds, if any.
pub(crate) struct Slot<C> {
    /// Boxed once per slot, so that a checkout moves a pointer, not the record.
    pub(crate) record: Box<ConnectionRecord>,
    pub(crate) conn: Option<C>,
}

/// A checked-out connection and its record, as a guard holds them. The record carries who
/// checked it out and when (`owner`, `checked_out_at`), so that a guard stays two words
/// beside the connection.
#[doc(hidden)]
pub struct Checked<C> {
    pub(crate) conn: C,
    pub(crate) record: Box<ConnectionRecord>,
}

impl<C> std::fmt::Debug for Checked<C> {
    /// The record only: the connection may not be `Debug`, and may hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// What a checkout is handed: a pooled slot, or a new slot on freshly reserved capacity.
pub(crate) struct Grant<C> {
    pub(crate) slot: Slot<C>,
    pub(crate) new_capacity: bool,
    /// New capacity beyond `pool_size` (QueuePool overflow).
    pub(crate) overflow: bool,
    /// The new capacity's connect is the probe of a pool whose connects fail
    /// (`connects.rs`).
    pub(crate) probe: bool,
}

pub(crate) struct Core<C> {
    pub(crate) id: u64,
    pub(crate) config: Config,
    pub(crate) limits: Limits,
    pub(crate) listeners: Listeners<C>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) instruments: Instruments,
    state: Mutex<State<C>>,
    /// Checkouts watched for leaks (only with a leak threshold).
    leaks: Mutex<leaks::Tracked>,
    /// The gate new connections pass for `first_connect`.
    pub(crate) first_connect: first_connect::FirstConnect,
    /// Set once the pool was ever invalidated, so checkouts skip the lock until then.
    ever_invalidated: AtomicBool,
    /// The pool's connects fail (`connects.rs`): a connect that works takes the lock to say
    /// it only then.
    connects_failing: AtomicBool,
    /// The server's connection budget was asked of a connection (once per pool).
    budget_asked: AtomicBool,
    /// Waiters that reached their deadline while an idle connection or capacity was there
    /// for them (they take it instead of timing out): wake-ups the pool missed. Zero unless
    /// there is a bug; tests assert it.
    missed_wakeups: AtomicU64,
    /// The async waiters' deadlines and the next probe while connects fail: the process's
    /// timer and this pool as its alarm (`deadlines.rs`); `None` for the hooks, whose other
    /// pool keeps its own.
    alarm: Option<(&'static crate::timer::Timer, Weak<dyn crate::timer::Alarm>)>,
}

impl<C> crate::emit::Emit for Core<C> {
    #[inline]
    fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    #[inline]
    fn config(&self) -> &Config {
        &self.config
    }
}

impl<C: Send + 'static> Core<C> {
    /// Validates the options for a front end and makes the pool's core, its instruments
    /// registered once.
    pub(crate) fn build(
        options: &crate::config::Options,
        front: crate::config::FrontEnd,
        can_reset: bool,
        listeners: &Listeners<C>,
        clock: &Arc<dyn Clock>,
        instrument_options: &InstrumentOptions,
    ) -> Result<Arc<Self>, crate::BuildError> {
        let id = next_pool_id();
        let config = options.clone().validate(front, can_reset, id)?;
        let limits = Limits::for_config(&config);
        let timer = match front {
            crate::config::FrontEnd::Hooks => None,
            // The loom model checks the books alone, with no thread of the real world's.
            _ if cfg!(poolscope_loom) => None,
            _ => Some(crate::timer::timer().map_err(|error| {
                crate::BuildError::ThreadUnavailable {
                    what: "poolscope-timer",
                    error: error.to_owned(),
                }
            })?),
        };
        Ok(Arc::new_cyclic(|weak: &Weak<Core<C>>| {
            let source: Weak<dyn GaugeSource> = weak.clone();
            let instruments =
                Instruments::register(instrument_options, &config.name, &limits, source);
            let mut core = Core::new(
                id,
                config,
                limits,
                listeners.clone(),
                Arc::clone(clock),
                instruments,
            );
            core.alarm = timer.map(|timer| {
                let alarm: Weak<dyn crate::timer::Alarm> = weak.clone();
                (&**timer, alarm)
            });
            core
        }))
    }
}

impl<C: Send + 'static> GaugeSource for Core<C> {
    fn gauges(&self) -> Gauges {
        self.gauges_with_leaks()
    }
}

impl<C> Core<C> {
    fn new(
        id: u64,
        config: Config,
        limits: Limits,
        listeners: Listeners<C>,
        clock: Arc<dyn Clock>,
        instruments: Instruments,
    ) -> Self {
        Core {
            id,
            limits,
            config,
            instruments,
            first_connect: first_connect::FirstConnect::new(listeners.is_empty()),
            listeners,
            clock,
            state: Mutex::new(State::new()),
            ever_invalidated: AtomicBool::new(false),
            connects_failing: AtomicBool::new(false),
            budget_asked: AtomicBool::new(false),
            missed_wakeups: AtomicU64::new(0),
            leaks: Mutex::new(leaks::Tracked::default()),
            alarm: None,
        }
    }

    /// The checkout site to record for a `get()` at `location`; `owner` finds the current
    /// thread or task, asked only by the classes that compare holders.
    pub(crate) fn site(
        &self,
        location: &'static std::panic::Location<'static>,
        owner: impl FnOnce() -> Owner,
    ) -> CheckoutSite {
        let backtrace = self.limits.names_the_holder() && self.config.store_traceback;
        let owner = if self.limits.tracks_holder() {
            owner()
        } else {
            Owner::Untracked
        };
        CheckoutSite::here(location, owner, backtrace)
    }

    /// Marks every connection opened before now for replacement at its next checkout.
    pub(crate) fn invalidate_all(&self) {
        let now = self.clock.now();
        lock(&self.state).invalidated_at = Some(now);
        self.ever_invalidated.store(true, Ordering::Release);
        self.close_stale_idle(now);
    }

    /// `at` as a bound for [`timer::within`](crate::timer::within) (`None`: none), rung by
    /// poolscope's timer (see `timer/`): it works on every runtime, with or without Tokio's
    /// time driver, and outside one.
    #[cfg(feature = "tokio")]
    pub(crate) fn bound(&self, at: Option<std::time::Instant>) -> Option<crate::timer::Bound> {
        let (timer, _) = self.alarm.as_ref()?;
        Some(crate::timer::Bound::new(timer, at?))
    }

    /// Whether this caller asks the server's connection budget of the connection it just
    /// opened: the first to ask, once per pool.
    #[inline]
    pub(crate) fn asks_budget(&self) -> bool {
        !self.budget_asked.load(Ordering::Relaxed)
            && !self.budget_asked.swap(true, Ordering::Relaxed)
    }

    /// Wake-ups missed so far (see `missed_wakeups`).
    pub(crate) fn missed_wakeups(&self) -> u64 {
        self.missed_wakeups.load(Ordering::Relaxed)
    }

    fn gauges_locked(&self, st: &State<C>) -> Gauges {
        let (idle_slots, idle) = if self.limits.per_thread() {
            st.threads
                .values()
                .filter_map(|c| match c {
                    ThreadConn::Idle(slot) => Some(slot),
                    ThreadConn::Out { .. } => None,
                })
                .fold((0, 0), |(slots, conns), slot| {
                    (slots + 1, conns + usize::from(slot.conn.is_some()))
                })
        } else {
            (
                st.idle.len(),
                st.idle.iter().filter(|slot| slot.conn.is_some()).count(),
            )
        };
        Gauges {
            idle,
            idle_slots,
            // Connections being closed are held by nobody: neither idle nor used.
            used: st.open - st.closing - idle_slots,
            pending: st.waiters.len(),
            leaks: 0,
        }
    }

    /// The gauges with the suspected-leak count, for readers that pull them (status, the
    /// OpenTelemetry callbacks); `publish` leaves it out, the leak watcher reports it itself.
    fn gauges_with_leaks(&self) -> Gauges {
        let gauges = self.gauges_locked(&lock(&self.state));
        Gauges {
            leaks: self.leaks_now(),
            ..gauges
        }
    }

    pub(crate) fn status(&self) -> Status {
        let gauges = self.gauges_with_leaks();
        self.limits.status(
            self.id,
            policy::Occupancy {
                // Every open slot is idle or used, whatever the class.
                open: gauges.idle_slots + gauges.used,
                idle: gauges.idle_slots,
                used: gauges.used,
                waiting: gauges.pending,
                suspected_leaks: gauges.leaks,
            },
        )
    }

    /// Why a pooled connection must be replaced before it is handed out, if it must
    /// ([`policy::stale_reason`], on the pool's clock).
    fn stale_reason(&self, record: &ConnectionRecord) -> Option<RecycleReason> {
        let opened = record.created_at?;
        // The quiet path: no `pool_recycle`, a pool never invalidated, a connection not
        // soft-invalidated.
        let ever_invalidated = self.ever_invalidated.load(Ordering::Acquire);
        if self.config.recycle.is_none() && !ever_invalidated && !record.soft_invalidated {
            return None;
        }
        // The lock only once the pool has ever been invalidated.
        let pool_invalidated_at = if ever_invalidated {
            lock(&self.state).invalidated_at
        } else {
            None
        };
        // The clock is read only when an age can make the connection stale: a clock read is
        // a tenth of an idle checkout's cost.
        let age = match self.config.recycle {
            Some(_) => self.clock.now().saturating_duration_since(opened),
            None => std::time::Duration::ZERO,
        };
        policy::stale_reason(
            self.config.recycle,
            policy::Age {
                age,
                opened: Some(opened),
                pool_invalidated_at,
                soft_invalidated: record.soft_invalidated,
            },
        )
    }

    /// Runs `first_connect` if this connection's `turn` says so, then the `connect`
    /// listeners.
    fn run_connect_listeners(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
        turn: first_connect::Turn<'_>,
    ) -> Result<(), crate::ListenerError> {
        if let first_connect::Turn::RunIt(run) = turn {
            self.listeners
                .try_each(|l| l.first_connect(ConnectionEvent::new(conn, record)))?;
            run.succeeded();
        }
        self.listeners
            .try_each(|l| l.connect(ConnectionEvent::new(conn, record)))
    }
}

#[cfg(all(test, poolscope_loom))]
mod loom_model;
