//! The accounting core shared by the blocking and the async pool.
//!
//! One mutex guards the counts, the idle queue and the waiters; it is never held while a
//! connection is opened, pinged, reset or closed, nor while a listener runs. What a class
//! allows is asked of [`Limits`]; this module only keeps the books and hands slots over.
//!
//! A checkout *reserves* a slot under the lock (an idle one, or new capacity) and then does
//! its I/O outside it. The [`Reservation`] gives the slot back if the checkout fails, panics or
//! is cancelled, so no path can leak capacity.

mod leaks;
mod reservation;
mod waiter;

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

pub(crate) use reservation::{Reservation, Step};
pub(crate) use waiter::Waiter;
use waiter::Wake;

use crate::clock::Clock;
use crate::config::{Config, PoolClass, ResetAction};
use crate::echo::{echo_debug, echo_info};
use crate::error::{AlreadyCheckedOut, CheckoutSite, PoolFailure, TimeoutError};
use crate::events::{Listeners, ResetState};
use crate::instrument::{
    CloseReason, GaugeSource, Gauges, InstrumentOptions, Instruments, RecycleReason,
};
use crate::owner::Owner;
use crate::policy::{Checkout, Limits, Return};
use crate::record::{ConnectionRecord, InvalidateReason};
use crate::status::Status;
use crate::sync::{lock, Mutex};

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
pub(crate) struct Checked<C> {
    pub(crate) conn: C,
    pub(crate) record: Box<ConnectionRecord>,
}

/// What a checkout is handed: a pooled slot, or a new slot on freshly reserved capacity.
pub(crate) struct Grant<C> {
    pub(crate) slot: Slot<C>,
    pub(crate) new_capacity: bool,
    /// New capacity beyond `pool_size` (QueuePool overflow).
    pub(crate) overflow: bool,
}

/// SingletonThreadPool: a thread's connection, kept or out.
enum ThreadConn<C> {
    Idle(Slot<C>),
    Out { slot_id: u64, site: CheckoutSite },
}

struct State<C> {
    idle: VecDeque<Slot<C>>,
    /// Slots in existence: idle, checked out, or being opened.
    open: usize,
    waiters: VecDeque<Arc<Waiter<C>>>,
    /// A waiter handed a grant or nudged under the lock, to wake once it is released.
    to_wake: Option<Arc<Waiter<C>>>,
    /// Connections opened before this instant are replaced at their next checkout.
    invalidated_at: Option<Instant>,
    /// Static and Assertion pools: where their one connection was checked out.
    holder: Option<CheckoutSite>,
    /// SingletonThreadPool: each thread's connection.
    threads: HashMap<Owner, ThreadConn<C>>,
    next_slot_id: u64,
}

/// What a checkout does next, as decided under the lock.
pub(crate) enum Begin<'a, C> {
    Reserved(Reservation<'a, C>),
    Wait(Arc<Waiter<C>>),
    Refused(PoolFailure),
}

/// What the first half of a return asks the front end to do.
pub(crate) enum ReturnStep {
    /// Run the reset function with this action, then call [`Core::end_return`].
    Reset(ResetAction),
    /// Nothing to reset; call [`Core::end_return`] at once.
    CheckIn,
    /// The connection is broken: call [`Core::invalidate`].
    Invalidate(InvalidateReason),
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
    /// Held while the first connection's `first_connect` and `connect` listeners run.
    first_connect: Mutex<bool>,
    first_connect_done: AtomicBool,
    /// Set once the pool was ever invalidated, so checkouts skip the lock until then.
    ever_invalidated: AtomicBool,
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
        Ok(Arc::new_cyclic(|weak: &Weak<Core<C>>| {
            let source: Weak<dyn GaugeSource> = weak.clone();
            let instruments =
                Instruments::register(instrument_options, &config.name, &limits, source);
            Core::new(
                id,
                config,
                limits,
                listeners.clone(),
                Arc::clone(clock),
                instruments,
            )
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
            first_connect_done: AtomicBool::new(listeners.is_empty()),
            listeners,
            clock,
            state: Mutex::new(State {
                idle: VecDeque::new(),
                open: 0,
                waiters: VecDeque::new(),
                to_wake: None,
                invalidated_at: None,
                holder: None,
                threads: HashMap::new(),
                next_slot_id: 1,
            }),
            first_connect: Mutex::new(false),
            ever_invalidated: AtomicBool::new(false),
            leaks: Mutex::new(leaks::Tracked::default()),
        }
    }

    fn single_connection_class(&self) -> bool {
        matches!(self.config.class, PoolClass::Static | PoolClass::Assertion)
    }

    fn new_slot(st: &mut State<C>) -> Slot<C> {
        let id = st.next_slot_id;
        st.next_slot_id += 1;
        Slot {
            record: Box::new(ConnectionRecord::new(id)),
            conn: None,
        }
    }

    /// The checkout site to record for a `get()` at `location`; `owner` finds the current
    /// thread or task, asked only by the classes that compare holders.
    pub(crate) fn site(
        &self,
        location: &'static std::panic::Location<'static>,
        owner: impl FnOnce() -> Owner,
    ) -> CheckoutSite {
        let backtrace = self.config.class == PoolClass::Assertion && self.config.store_traceback;
        let owner = match self.config.class {
            PoolClass::Queue | PoolClass::Null => Owner::Untracked,
            PoolClass::SingletonThread | PoolClass::Static | PoolClass::Assertion => owner(),
        };
        CheckoutSite::here(location, owner, backtrace)
    }

    /// Starts a checkout: reserves an idle slot or new capacity, queues a waiter, or refuses.
    pub(crate) fn begin(&self, site: &CheckoutSite) -> Begin<'_, C> {
        if self.config.class == PoolClass::SingletonThread {
            return self.begin_singleton(site);
        }
        let mut st = lock(&self.state);
        let holder = st.holder.as_ref().map(|h| h.owner == site.owner);
        let grant = match self.limits.checkout(st.idle.len(), st.open, holder) {
            Checkout::TakeIdle => match self.pop_idle(&mut st) {
                Some(slot) => Grant {
                    slot,
                    new_capacity: false,
                    overflow: false,
                },
                None => unreachable!("the policy takes an idle slot only when one is there"),
            },
            Checkout::Open => {
                st.open += 1;
                Grant {
                    slot: Self::new_slot(&mut st),
                    new_capacity: true,
                    overflow: self.limits.overflow(st.open) > 0,
                }
            }
            Checkout::Wait => {
                if self.config.timeout.is_some_and(|t| t.is_zero()) {
                    return Begin::Refused(PoolFailure::Timeout(self.timeout_error_locked(&st)));
                }
                let waiter = Arc::new(Waiter::new(
                    site.clone(),
                    self.config.front == crate::config::FrontEnd::Blocking,
                    self.limits.overtakes(),
                ));
                st.waiters.push_back(Arc::clone(&waiter));
                self.publish(&st);
                return Begin::Wait(waiter);
            }
            Checkout::RefuseAlreadyCheckedOut => {
                let site = st.holder.clone().unwrap_or_else(|| site.clone());
                return Begin::Refused(PoolFailure::AlreadyCheckedOut(AlreadyCheckedOut {
                    class: self.config.class,
                    site,
                }));
            }
        };
        if self.single_connection_class() {
            st.holder = Some(site.clone());
        }
        self.publish(&st);
        drop(st);
        Begin::Reserved(Reservation::new(self, grant, site.owner))
    }

    fn begin_singleton(&self, site: &CheckoutSite) -> Begin<'_, C> {
        let mut st = lock(&self.state);
        let out = ThreadConn::Out {
            slot_id: 0,
            site: site.clone(),
        };
        let mut evicted = Vec::new();
        let grant = match st.threads.insert(site.owner, out) {
            Some(ThreadConn::Idle(slot)) => Grant {
                slot,
                new_capacity: false,
                overflow: false,
            },
            Some(ThreadConn::Out {
                slot_id,
                site: held,
            }) => {
                st.threads.insert(
                    site.owner,
                    ThreadConn::Out {
                        slot_id,
                        site: held.clone(),
                    },
                );
                return Begin::Refused(PoolFailure::AlreadyCheckedOut(AlreadyCheckedOut {
                    class: self.config.class,
                    site: held,
                }));
            }
            None => {
                // Keep at most pool_size threads' connections: drop idle ones first; a thread
                // still using its connection loses its entry and closes it on return.
                let evictions = self.limits.singleton_evictions(st.threads.len() - 1);
                let mut victims: Vec<(Owner, bool)> = st
                    .threads
                    .iter()
                    .filter(|(thread, _)| **thread != site.owner)
                    .map(|(thread, conn)| (*thread, matches!(conn, ThreadConn::Out { .. })))
                    .collect();
                victims.sort_by_key(|(_, out)| *out);
                for (thread, _) in victims.into_iter().take(evictions) {
                    if let Some(ThreadConn::Idle(slot)) = st.threads.remove(&thread) {
                        st.open -= 1;
                        evicted.push(slot);
                    }
                }
                st.open += 1;
                Grant {
                    slot: Self::new_slot(&mut st),
                    new_capacity: true,
                    overflow: false,
                }
            }
        };
        if let Some(ThreadConn::Out { slot_id, .. }) = st.threads.get_mut(&site.owner) {
            *slot_id = grant.slot.record.slot_id;
        }
        self.publish(&st);
        drop(st);
        for slot in evicted {
            self.close_slot(slot, CloseReason::Evicted);
        }
        Begin::Reserved(Reservation::new(self, grant, site.owner))
    }

    /// Gives up waiting: removes the waiter, or, if a grant reached it meanwhile, returns that.
    pub(crate) fn cancel_wait(&self, waiter: &Arc<Waiter<C>>) -> Option<Reservation<'_, C>> {
        let mut st = lock(&self.state);
        if let Some(pos) = st.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            st.waiters.remove(pos);
            // It may have been nudged for an idle connection it will not take now.
            if !st.idle.is_empty() {
                Self::nudge_locked(&mut st);
            }
            self.publish(&st);
            Self::unlock_and_wake(st);
            return None;
        }
        let grant = waiter.take_grant();
        drop(st);
        grant.map(|grant| Reservation::new(self, grant, waiter.site.owner))
    }

    /// A nudged waiter tries to take an idle connection, keeping its place in the queue if
    /// another caller got there first. A waiter no longer queued was handed a grant.
    pub(crate) fn retry(&self, waiter: &Arc<Waiter<C>>) -> Option<Grant<C>> {
        let mut st = lock(&self.state);
        let Some(pos) = st.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) else {
            return waiter.take_grant();
        };
        let slot = self.pop_idle(&mut st)?;
        st.waiters.remove(pos);
        if !st.idle.is_empty() {
            Self::nudge_locked(&mut st);
        }
        self.publish(&st);
        Self::unlock_and_wake(st);
        Some(Grant {
            slot,
            new_capacity: false,
            overflow: false,
        })
    }

    /// An idle connection is there for the waiters: makes sure the first one will look. Only
    /// the first is told; it tells the next if it leaves more idle behind (`retry`,
    /// `cancel_wait`), so the others sleep on instead of waking to find nothing.
    fn nudge_locked(st: &mut State<C>) {
        if let Some(first) = st.waiters.front().filter(|w| w.nudge()).cloned() {
            Self::wake_later(st, first);
        }
    }

    /// Takes the idle slot the pool hands out next: the newest with `use_lifo`, else the
    /// oldest.
    fn pop_idle(&self, st: &mut State<C>) -> Option<Slot<C>> {
        if self.config.use_lifo {
            st.idle.pop_back()
        } else {
            st.idle.pop_front()
        }
    }

    /// Wakes `waiter` as the pool's lock is released (see `unlock_and_wake`).
    fn wake_later(st: &mut State<C>, waiter: Arc<Waiter<C>>) {
        if let Some(earlier) = st.to_wake.replace(waiter) {
            earlier.wake(); // never two in one locked section; if so, wake it now
        }
    }

    /// Wakes the waiter handed something under the pool's lock and releases the lock.
    ///
    /// A thread is woken before the lock is released, as r2d2 notifies its condvar: with 16
    /// threads taking turns on 8 PostgreSQL connections over 2 cores, Diesel `SELECT 1`
    /// throughput rose by 7-15% (0.89-0.92x Diesel's r2d2 pool to 0.96-0.99x, LIFO and FIFO
    /// alike) against waking it just after. Notifying a condvar runs no code of anybody
    /// else's. A task's waker may (an executor can poll the task from `wake`), so a task is
    /// woken after the lock is released, never under it.
    fn unlock_and_wake(mut st: crate::sync::MutexGuard<'_, State<C>>) {
        match st.to_wake.take() {
            Some(waiter) if waiter.is_thread() => {
                waiter.wake();
                drop(st);
            }
            waiter => {
                drop(st);
                if let Some(waiter) = waiter {
                    waiter.wake();
                }
            }
        }
    }

    /// Waits for a grant, blocking the thread, retrying when nudged; `None` when `deadline`
    /// passed (the waiter is still queued: `cancel_wait` next).
    pub(crate) fn wait_blocking(
        &self,
        waiter: &Arc<Waiter<C>>,
        deadline: Option<std::time::Instant>,
    ) -> Option<Grant<C>> {
        loop {
            match waiter.wait_blocking(deadline) {
                Wake::Granted(grant) => return Some(grant),
                Wake::Nudged => {
                    if let Some(grant) = self.retry(waiter) {
                        return Some(grant);
                    }
                }
                Wake::TimedOut => return None,
            }
        }
    }

    /// Polls for a grant from an async task, retrying when nudged.
    pub(crate) fn poll_wait(
        &self,
        waiter: &Arc<Waiter<C>>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Grant<C>> {
        loop {
            match waiter.poll_wake(cx) {
                std::task::Poll::Ready(Wake::Granted(grant)) => {
                    return std::task::Poll::Ready(grant)
                }
                std::task::Poll::Ready(Wake::Nudged) => {
                    if let Some(grant) = self.retry(waiter) {
                        return std::task::Poll::Ready(grant);
                    }
                }
                std::task::Poll::Ready(Wake::TimedOut) | std::task::Poll::Pending => {
                    return std::task::Poll::Pending
                }
            }
        }
    }

    /// Wraps a grant a waiter received.
    pub(crate) fn reservation_for(
        &self,
        waiter: &Waiter<C>,
        grant: Grant<C>,
    ) -> Reservation<'_, C> {
        Reservation::new(self, grant, waiter.site.owner)
    }

    pub(crate) fn timeout_error(&self) -> TimeoutError {
        let st = lock(&self.state);
        self.timeout_error_locked(&st)
    }

    /// The timeout error for now, counted once.
    fn timeout_error_locked(&self, st: &State<C>) -> TimeoutError {
        self.instruments.timeout();
        TimeoutError {
            class: self.config.class,
            size: self.limits.pool_size,
            overflow: self.limits.overflow(st.open),
            timeout: self.config.timeout.unwrap_or_default(),
        }
    }

    /// Hands a slot to the first waiter, if any; otherwise gives it back to the caller.
    fn hand_to_waiter(&self, st: &mut State<C>, grant: Grant<C>) -> Option<Grant<C>> {
        match st.waiters.pop_front() {
            Some(waiter) => {
                if self.single_connection_class() {
                    st.holder = Some(waiter.site.clone());
                }
                waiter.deliver(grant);
                Self::wake_later(st, waiter);
                None
            }
            None => Some(grant),
        }
    }

    /// Returns a slot (connected or empty) to the pool under the class's return policy.
    /// Gives back the slot when it must be closed instead.
    fn check_in_locked(
        &self,
        st: &mut State<C>,
        slot: Slot<C>,
        owner: Owner,
    ) -> Option<(Slot<C>, CloseReason)> {
        if self.single_connection_class() {
            st.holder = None;
        }
        if self.config.class == PoolClass::SingletonThread {
            return match st.threads.get(&owner) {
                Some(ThreadConn::Out { slot_id, .. }) if *slot_id == slot.record.slot_id => {
                    st.threads.insert(owner, ThreadConn::Idle(slot));
                    None
                }
                _ => {
                    st.open -= 1;
                    Some((slot, CloseReason::Evicted))
                }
            };
        }
        match self.limits.on_return(st.idle.len()) {
            Return::Keep => {
                // A running caller may take a returned connection ahead of the sleeping
                // waiters (no wake-up on the connection's path, as with SQLAlchemy's queue);
                // the first waiter is nudged to try. See `Limits::hand_off`.
                let Some(first) = st.waiters.front() else {
                    st.idle.push_back(slot);
                    return None;
                };
                if !self.limits.hand_off(first.since) {
                    st.idle.push_back(slot);
                    Self::nudge_locked(st);
                    return None;
                }
                let grant = Grant {
                    slot,
                    new_capacity: false,
                    overflow: false,
                };
                if let Some(grant) = self.hand_to_waiter(st, grant) {
                    st.idle.push_back(grant.slot);
                }
                None
            }
            Return::Close => {
                self.free_capacity_locked(st, owner, None);
                let reason = if self.config.class == PoolClass::Null {
                    CloseReason::NoPooling
                } else {
                    self.instruments.overflow_closed();
                    CloseReason::Overflow
                };
                Some((slot, reason))
            }
        }
    }

    /// Returns a slot whose connection is gone (invalidated, detached, dropped in a panic):
    /// the record forgets the connection and the emptied slot goes back at once.
    fn check_in_empty(&self, mut record: Box<ConnectionRecord>) {
        let owner = record.owner;
        record.clear_connection();
        self.check_in(Slot { record, conn: None }, owner);
    }

    /// A slot is gone: frees its capacity, or hands it to a waiter as permission to open.
    fn free_capacity_locked(&self, st: &mut State<C>, owner: Owner, slot_id: Option<u64>) {
        if self.single_connection_class() {
            st.holder = None;
        }
        if self.config.class == PoolClass::SingletonThread {
            if let Some(ThreadConn::Out { slot_id: held, .. }) = st.threads.get(&owner) {
                if Some(*held) == slot_id {
                    st.threads.remove(&owner);
                }
            }
            st.open -= 1;
            return;
        }
        if st.waiters.is_empty() {
            st.open -= 1;
        } else {
            let grant = Grant {
                slot: Self::new_slot(st),
                new_capacity: true,
                overflow: self.limits.overflow(st.open) > 0,
            };
            let _none = self.hand_to_waiter(st, grant);
        }
    }

    /// Returns a slot that was checked out; closes its connection if the policy says so.
    pub(crate) fn check_in(&self, slot: Slot<C>, owner: Owner) {
        self.untrack(slot.record.slot_id);
        let mut st = lock(&self.state);
        let to_close = self.check_in_locked(&mut st, slot, owner);
        self.publish(&st);
        Self::unlock_and_wake(st);
        if let Some((slot, reason)) = to_close {
            self.close_slot(slot, reason);
        }
    }

    /// A reservation failed after the slot was created for it: the capacity goes back.
    pub(crate) fn release_new_capacity(&self, slot_id: u64, owner: Owner) {
        let mut st = lock(&self.state);
        self.free_capacity_locked(&mut st, owner, Some(slot_id));
        self.publish(&st);
        Self::unlock_and_wake(st);
    }

    /// Closes a slot's connection, if it has one, firing `close`.
    pub(crate) fn close_slot(&self, mut slot: Slot<C>, reason: CloseReason) {
        if let Some(conn) = slot.conn.take() {
            self.close_connection(conn, &mut slot.record, reason);
        }
    }

    /// Closes a connection: the `close` event, the echo line, then drop.
    pub(crate) fn close_connection(
        &self,
        mut conn: C,
        record: &mut ConnectionRecord,
        reason: CloseReason,
    ) {
        self.instruments.closed(reason);
        for l in self.listeners.iter() {
            l.close(&mut conn, record);
        }
        echo_debug!(
            self,
            "Closing connection {}",
            record.connection_id.unwrap_or(0)
        );
        drop(conn);
        record.clear_connection();
    }

    /// Fires `invalidate` and logs it; the caller closes the connection next.
    pub(crate) fn announce_invalidate(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
        reason: &InvalidateReason,
    ) {
        self.instruments.invalidated(reason);
        for l in self.listeners.iter() {
            l.invalidate(conn, record, reason);
        }
        echo_info!(
            self,
            "Invalidate connection {} (reason: {})",
            record.connection_id.unwrap_or(0),
            reason
        );
    }

    /// Invalidates a checked-out connection: `invalidate`, close, `checkin(None)`, and the
    /// emptied slot goes back to the pool at once.
    pub(crate) fn invalidate(&self, checked: Checked<C>, reason: InvalidateReason) {
        let Checked { conn, mut record } = checked;
        // Listeners may panic: the slot goes back before the panic carries on.
        let fired = catch_unwind(AssertUnwindSafe(|| {
            let mut conn = conn;
            self.announce_invalidate(&mut conn, &mut record, &reason);
            self.close_connection(conn, &mut record, CloseReason::Invalidated);
            for l in self.listeners.iter() {
                l.checkin(None, &mut record);
            }
        }));
        self.check_in_empty(record);
        if let Err(panic) = fired {
            resume_unwind(panic);
        }
    }

    /// Marks a checked-out connection for replacement at its next checkout.
    pub(crate) fn soft_invalidate(&self, conn: &mut C, record: &mut ConnectionRecord) {
        record.soft_invalidated = true;
        let reason = InvalidateReason::Requested;
        for l in self.listeners.iter() {
            l.soft_invalidate(conn, record, &reason);
        }
        echo_info!(
            self,
            "Soft invalidate connection {} (reason: {})",
            record.connection_id.unwrap_or(0),
            reason
        );
    }

    /// Detaches a checked-out connection: `detach` fires, and its emptied slot returns to the
    /// pool; the caller keeps the connection.
    pub(crate) fn detach(
        &self,
        conn: &mut C,
        mut record: Box<ConnectionRecord>,
    ) -> crate::record::Extensions {
        for l in self.listeners.iter() {
            l.detach(conn, &mut record);
        }
        let info = std::mem::take(&mut record.info);
        self.check_in_empty(record);
        info
    }

    /// First half of a return: the echo line, the broken check's outcome, the `reset` event.
    pub(crate) fn start_return(
        &self,
        mut checked: Checked<C>,
        broken: bool,
    ) -> (Checked<C>, ReturnStep) {
        let id = checked.record.connection_id.unwrap_or(0);
        if let Some(at) = checked.record.checked_out_at {
            self.instruments.used_for(at.elapsed());
        }
        echo_debug!(self, "Connection {} being returned to pool", id);
        if broken {
            return (checked, ReturnStep::Invalidate(InvalidateReason::Broken));
        }
        let action = self.config.reset_on_return.action();
        let state = ResetState {
            action,
            terminate_only: false,
        };
        let fired = catch_unwind(AssertUnwindSafe(|| {
            for l in self.listeners.iter() {
                l.reset(&mut checked.conn, &mut checked.record, state);
            }
        }));
        if let Err(panic) = fired {
            self.release_after_panic(checked, panic);
        }
        match action {
            Some(action) => {
                echo_debug!(self, "Connection {} {}-on-return", id, action.as_str());
                (checked, ReturnStep::Reset(action))
            }
            None => (checked, ReturnStep::CheckIn),
        }
    }

    /// A listener panicked during a return: the connection is closed, its slot goes back
    /// emptied so the books stay straight, and the panic carries on.
    fn release_after_panic(&self, checked: Checked<C>, panic: Box<dyn std::any::Any + Send>) -> ! {
        let Checked { conn, record } = checked;
        drop(conn);
        self.check_in_empty(record);
        resume_unwind(panic)
    }

    /// Second half of a return, after the reset (if any) ran: `checkin`, then the pool keeps
    /// or closes it. A failed reset invalidates the connection instead.
    pub(crate) fn end_return(
        &self,
        mut checked: Checked<C>,
        action: Option<ResetAction>,
        reset: Result<(), String>,
    ) {
        if let Some(action) = action {
            self.instruments.reset(action, reset.is_ok());
        }
        if let Err(message) = reset {
            crate::echo::echo_error!(self, "Exception during reset or similar: {}", message);
            self.invalidate(checked, InvalidateReason::ResetFailed(message));
            return;
        }
        let fired = catch_unwind(AssertUnwindSafe(|| {
            for l in self.listeners.iter() {
                l.checkin(Some(&mut checked.conn), &mut checked.record);
            }
        }));
        if let Err(panic) = fired {
            self.release_after_panic(checked, panic);
        }
        let Checked { conn, record } = checked;
        let owner = record.owner;
        self.check_in(
            Slot {
                record,
                conn: Some(conn),
            },
            owner,
        );
    }

    /// Marks every connection opened before now for replacement at its next checkout.
    pub(crate) fn invalidate_all(&self) {
        let now = self.clock.now();
        lock(&self.state).invalidated_at = Some(now);
        self.ever_invalidated.store(true, Ordering::Release);
    }

    /// Closes the idle connections. Checked-out ones are untouched and come back normally.
    pub(crate) fn dispose(&self) {
        let mut st = lock(&self.state);
        let mut closing: Vec<Slot<C>> = st.idle.drain(..).collect();
        if self.config.class == PoolClass::SingletonThread {
            for (_, conn) in st.threads.drain() {
                if let ThreadConn::Idle(slot) = conn {
                    closing.push(slot);
                }
            }
            // Threads still using theirs lost their entries: those close on return.
        }
        st.open -= closing.len();
        self.publish(&st);
        drop(st);
        for slot in closing {
            self.close_slot(slot, CloseReason::Dispose);
        }
        if self.config.class == PoolClass::Queue {
            echo_info!(self, "Pool disposed. {}", self.status());
        }
    }

    fn gauges_locked(&self, st: &State<C>) -> Gauges {
        let idle = match self.config.class {
            PoolClass::SingletonThread => st
                .threads
                .values()
                .filter(|c| matches!(c, ThreadConn::Idle(_)))
                .count(),
            _ => st.idle.len(),
        };
        Gauges {
            idle,
            used: st.open - idle,
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

    /// Publishes the counts; called under the lock after every change.
    #[inline]
    fn publish(&self, st: &State<C>) {
        if self.instruments.wants_counts() {
            self.instruments.counts(self.gauges_locked(st));
        }
    }

    pub(crate) fn status(&self) -> Status {
        let gauges = self.gauges_with_leaks();
        Status {
            class: self.config.class,
            pool_id: self.id,
            size: self.limits.pool_size,
            checked_in: gauges.idle,
            // Every open slot is idle or used, whatever the class.
            overflow: self.limits.overflow(gauges.idle + gauges.used),
            checked_out: gauges.used,
            waiting: gauges.pending,
            suspected_leaks: gauges.leaks,
        }
    }

    /// Why a pooled connection must be replaced before it is handed out, if it must: SQLAlchemy's
    /// order is age (`pool_recycle`), pool invalidation, soft invalidation.
    fn stale_reason(&self, record: &ConnectionRecord) -> Option<RecycleReason> {
        let created = record.created_at?;
        if let Some(recycle) = self.config.recycle {
            if self.clock.now().saturating_duration_since(created) > recycle {
                return Some(RecycleReason::Age);
            }
        }
        if self.ever_invalidated.load(Ordering::Acquire)
            && lock(&self.state)
                .invalidated_at
                .is_some_and(|at| at > created)
        {
            return Some(RecycleReason::PoolInvalidated);
        }
        if record.soft_invalidated {
            return Some(RecycleReason::SoftInvalidated);
        }
        None
    }

    /// Runs `first_connect` (once per pool, serialized) and `connect` listeners.
    fn run_connect_listeners(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
    ) -> Result<(), crate::ListenerError> {
        if !self.first_connect_done.load(Ordering::Acquire) {
            let mut done = lock(&self.first_connect);
            if !*done {
                self.listeners.try_each(|l| l.first_connect(conn, record))?;
                *done = true;
                self.first_connect_done.store(true, Ordering::Release);
                return self.listeners.try_each(|l| l.connect(conn, record));
            }
        }
        self.listeners.try_each(|l| l.connect(conn, record))
    }
}

#[cfg(all(test, poolscope_loom))]
mod loom_model;
