//! A checkout in progress: the reserved slot, and the steps (connect, pre-ping, listeners)
//! between reserving it and handing it out, as a small I/O-free state machine.
//!
//! The blocking and the async front end drive the same machine; only how they connect and
//! ping differs. Dropping a reservation before [`Reservation::finish`] (an error, a panic in
//! the manager, a cancelled future) gives the slot back. A connection no user code was
//! working on when that happened (granted to a waiter that was then cancelled, or just
//! opened) goes back to the pool as it is; one dropped mid-ping or mid-listener is in an
//! unknown state and is closed. Empty slots return emptied; unused new capacity is released.

use super::panics::first;
use super::{next_connection_id, Checked, Core, Grant, Slot};
use crate::cause::Cause;
use crate::emit::Emit;
use crate::error::CheckoutSite;
use crate::error::{ErrorChain, ListenerErrorKind, PoolFailure};
use crate::event::{Conn, Event};
use crate::events::ConnectionEvent;
use crate::owner::Owner;
use crate::reasons::CloseReason;
use crate::record::InvalidateReason;
use crate::refusal::Refusal;

/// How many times checkout listeners may report a disconnect before the checkout fails.
const CHECKOUT_DISCONNECT_ATTEMPTS: u8 = 2;

/// What the front end must do next for this checkout.
#[derive(Debug)]
pub(crate) enum Step {
    /// Open a connection with the manager and pass it to [`Reservation::connected`].
    Connect,
    /// Call the manager's `is_valid` on [`Reservation::conn_mut`], then report the outcome.
    Ping,
    /// Done: call [`Reservation::finish`].
    Ready,
    /// The checkout fails with this; drop the reservation.
    Fail(PoolFailure),
}

/// What becomes of a checkout whose connect failed (see `connects.rs`).
pub(crate) enum AfterFailure<C> {
    /// It waits again, for a returned connection or a later probe.
    Wait(std::sync::Arc<super::Waiter<C>>),
    /// It fails with the manager's error.
    Fail,
}

pub(crate) struct Reservation<'a, C> {
    pub(super) core: &'a Core<C>,
    slot: Option<Slot<C>>,
    owner: Owner,
    /// The slot was created for this checkout and has never held a working connection.
    new_capacity: bool,
    /// The new capacity is beyond `pool_size` (QueuePool overflow).
    overflow: bool,
    /// This checkout's connect is the probe of a pool whose connects fail, and has not
    /// reported its outcome (see `connects.rs`).
    probe: bool,
    /// A connection was opened on new capacity by this checkout.
    opened_new: bool,
    stale_checked: bool,
    /// The connection was opened by this checkout (so it is not pinged).
    fresh: bool,
    pinged: bool,
    /// `Connection N checked out from pool` was logged (once per checkout).
    announced: bool,
    /// User code (the manager's ping, a listener) is working on the connection: dropped
    /// now, the connection's state is unknown and it is closed rather than pooled.
    in_user_code: bool,
    /// The connection is lent to a pre-ping on a connector thread (blocking front).
    #[cfg(feature = "blocking")]
    lent: bool,
    disconnects: u8,
}

impl<'a, C> Reservation<'a, C> {
    pub(super) fn new(core: &'a Core<C>, grant: Grant<C>, owner: Owner) -> Self {
        Reservation {
            core,
            slot: Some(grant.slot),
            owner,
            new_capacity: grant.new_capacity,
            overflow: grant.overflow,
            probe: grant.probe,
            opened_new: false,
            stale_checked: false,
            fresh: false,
            pinged: false,
            announced: false,
            in_user_code: false,
            #[cfg(feature = "blocking")]
            lent: false,
            disconnects: 0,
        }
    }

    fn slot(&mut self) -> &mut Slot<C> {
        self.slot
            .as_mut()
            .expect("a reservation holds its slot until finish() or drop")
    }

    /// The slot's connection as the events name it. It does not panic, so that where no
    /// consumer reads it (no echo line) it is not read at all.
    #[inline]
    fn conn(&self) -> Conn {
        self.slot
            .as_ref()
            .map_or(Conn::Unnamed, |slot| Conn::of(&slot.record))
    }

    /// The connection to ping, after [`Step::Ping`].
    pub(crate) fn conn_mut(&mut self) -> Option<&mut C> {
        self.slot().conn.as_mut()
    }

    /// Closes the slot's connection, if any (the slot stays reserved); a listener's panic
    /// carries on from here, and the reservation's drop gives the slot back.
    fn close_conn(&mut self, reason: CloseReason) {
        let core = self.core;
        let slot = self.slot();
        if let Some(conn) = slot.conn.take() {
            core.carry_on(core.close_connection(conn, &mut slot.record, reason));
        }
    }

    /// Invalidates the slot's connection (event, echo, close); the slot stays reserved.
    fn invalidate_conn(&mut self, reason: InvalidateReason) {
        let core = self.core;
        let Slot { record, conn } = self.slot();
        let Some(mut conn) = conn.take() else {
            return;
        };
        let announced = core.announce_invalidate(&mut conn, record, &reason);
        let closed = core.close_connection(conn, record, CloseReason::Invalidated);
        core.carry_on(first(announced, closed));
    }

    /// Decides the next step.
    pub(crate) fn next_step(&mut self) -> Step {
        // Called again: the ping it asked for, if any, returned.
        self.in_user_code = false;
        loop {
            let core = self.core;
            if self.slot().conn.is_none() {
                return Step::Connect;
            }
            if !self.stale_checked {
                self.stale_checked = true;
                if !self.fresh {
                    let record = &self.slot().record;
                    if let Some(why) = core.stale_reason(record) {
                        core.emit(Event::Recycled {
                            conn: Conn::of(record),
                            why,
                        });
                        self.close_conn(CloseReason::Recycled);
                        continue;
                    }
                }
            }
            if !self.announced {
                // SQLAlchemy logs the checkout before the pre-ping and the checkout
                // listeners, and not again for a connection that replaces a failed one.
                self.announced = true;
                core.emit(Event::CheckedOut(self.conn()));
            }
            if core.config.pre_ping && !self.pinged {
                self.pinged = true;
                let fresh = self.fresh;
                core.emit(Event::PrePing {
                    conn: self.conn(),
                    fresh,
                });
                if !fresh {
                    self.in_user_code = true;
                    return Step::Ping;
                }
            }
            if core.listeners.is_empty() {
                return Step::Ready;
            }
            self.in_user_code = true;
            let Slot { record, conn } = self.slot();
            let Some(conn) = conn.as_mut() else {
                continue;
            };
            let checked = core
                .listeners
                .try_each(|l| l.checkout(ConnectionEvent::new(conn, record)));
            self.in_user_code = false;
            match checked {
                Ok(()) => return Step::Ready,
                Err(e) if e.kind() == ListenerErrorKind::Disconnect => {
                    // SQLAlchemy's order: the detection, the invalidation, and on the last
                    // attempt the give-up line.
                    core.emit(Event::ListenerDisconnect {
                        conn: self.conn(),
                        error: &ErrorChain(&e),
                    });
                    self.invalidate_conn(InvalidateReason::Listener(Cause::new(e)));
                    self.disconnects += 1;
                    if self.disconnects >= CHECKOUT_DISCONNECT_ATTEMPTS {
                        core.emit(Event::ReconnectsExhausted);
                        return Step::Fail(PoolFailure::ReconnectAttemptsExhausted);
                    }
                }
                Err(e) => {
                    let text = ErrorChain(&e).to_string();
                    self.invalidate_conn(InvalidateReason::Listener(Cause::text(text)));
                    return Step::Fail(PoolFailure::Listener(e));
                }
            }
        }
    }

    /// The manager opened `conn` for this slot: record it and run the connect listeners
    /// (`first_connect` too if `turn` says so).
    pub(crate) fn connected(
        &mut self,
        conn: C,
        turn: super::first_connect::Turn<'_>,
    ) -> Result<(), PoolFailure> {
        let core = self.core;
        let now = core.clock.now();
        let id = next_connection_id();
        let overflow = self.overflow;
        self.fresh = true;
        self.pinged = false;
        self.in_user_code = true;
        // The server answered: connects work (again).
        if std::mem::take(&mut self.probe) || core.connects_fail() {
            core.connect_worked();
        }
        let Slot {
            record,
            conn: slot_conn,
        } = self.slot();
        record.clear_connection();
        record.connection_id = Some(id);
        record.created_at = Some(now);
        let conn = slot_conn.insert(conn);
        core.emit(Event::Created {
            conn: Conn::Id(id),
            overflow,
        });
        let listened = core.run_connect_listeners(conn, record, turn);
        self.in_user_code = false;
        match listened {
            Ok(()) => {
                if self.new_capacity {
                    self.new_capacity = false;
                    self.opened_new = true;
                    if self.overflow {
                        core.emit(Event::OverflowOpened);
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.close_conn(CloseReason::CheckoutFailed);
                Err(PoolFailure::Listener(e))
            }
        }
    }

    /// The manager failed to open a connection, for `reason`; `describe` gives the error's
    /// text (its `Display` where the manager's error has one). The pool backs off its
    /// connects and lets one through at a time (`connects.rs`); the slot goes back. A
    /// refusal for capacity, where the pool waits for capacity and the checkout may wait
    /// (`wait`: `Some` of its deadline, a task's; a thread keeps its own and passes
    /// `Some(None)`), puts the checkout back in the queue (at its head) as the waiter
    /// returned; otherwise the checkout fails, and so does every caller that waited for a
    /// connect.
    pub(crate) fn connect_failed(
        mut self,
        reason: Refusal,
        describe: impl Fn() -> String,
        site: &CheckoutSite,
        wait: Option<Option<std::time::Instant>>,
    ) -> AfterFailure<C> {
        let core = self.core;
        core.emit(Event::ConnectFailed {
            describe: &describe,
            reason,
        });
        // User code (the error's `Display`) runs while the reservation still holds its slot
        // and its probe: if it panics, dropping the reservation gives both back.
        let cause = Cause::text(describe());
        let Some(slot) = self.slot.take() else {
            unreachable!("a reservation holds its slot until consumed")
        };
        let probe = std::mem::take(&mut self.probe);
        core.after_failed_connect(
            slot,
            self.new_capacity,
            self.owner,
            probe,
            reason,
            cause,
            site,
            wait,
        )
    }

    /// The connection opened but the setup that runs on each new connection (the async
    /// pool's `on_connect`) refused it: logged and counted as a connect that failed.
    #[cfg(feature = "tokio")]
    pub(crate) fn setup_failed(&self, describe: impl Fn() -> String) {
        self.core.emit(Event::ConnectFailed {
            describe: &describe,
            reason: Refusal::Other,
        });
    }

    /// The pre-ping failed: invalidate the connection, mark every older connection stale,
    /// and let the next step open a fresh one.
    pub(crate) fn ping_failed(&mut self, message: String) {
        self.in_user_code = false;
        let core = self.core;
        core.emit(Event::PrePingFailed {
            conn: self.conn(),
            error: &message,
        });
        self.invalidate_conn(InvalidateReason::PingFailed(Cause::text(message)));
        core.invalidate_all();
    }

    /// The span outcome: `idle` (a pooled connection), `new` (opened within `pool_size`) or
    /// `overflow` (opened beyond it).
    pub(crate) fn outcome(&self) -> &'static str {
        match (self.opened_new, self.overflow) {
            (false, _) => "idle",
            (true, false) => "new",
            (true, true) => "overflow",
        }
    }

    /// Hands the connection out; `at` is when (for use_time and leak detection).
    pub(crate) fn finish(mut self, at: Option<crate::stopwatch::Instant>) -> Checked<C> {
        let Some(Slot {
            conn: Some(conn),
            mut record,
        }) = self.slot.take()
        else {
            unreachable!("finish() is called only after Step::Ready, which needs a connection")
        };
        record.owner = self.owner;
        record.checked_out_at = at;
        Checked { conn, record }
    }
}

/// A checkout given up while its connect or its pre-ping goes on on a connector thread (see
/// `blocking::connector`): its slot stays taken until [`Core::release_abandoned`] is handed
/// the connection the job returned.
#[cfg(feature = "blocking")]
pub(crate) struct Abandoned<C> {
    slot: Slot<C>,
    new_capacity: bool,
    owner: crate::owner::Owner,
    /// The job is the pre-ping of the pool's own connection (lent by
    /// [`Reservation::lend_conn`]), not a connect.
    lent: bool,
}

#[cfg(feature = "blocking")]
impl<'a, C> Reservation<'a, C> {
    /// Gives up on the checkout at [`Step::Connect`] or during a pre-ping on a connector
    /// thread, its slot kept taken for the job.
    pub(crate) fn abandon(mut self) -> Abandoned<C> {
        Abandoned {
            slot: self
                .slot
                .take()
                .expect("a reservation holds its slot until consumed"),
            new_capacity: self.new_capacity,
            owner: self.owner,
            lent: self.lent,
        }
    }

    /// Lends the connection to ping at [`Step::Ping`] to a connector thread; it comes back
    /// with [`conn_back`](Self::conn_back), or goes with the job if the checkout is abandoned.
    pub(crate) fn lend_conn(&mut self) -> Option<C> {
        let conn = self.slot().conn.take();
        self.lent = conn.is_some();
        conn
    }

    /// The lent connection is back from its ping.
    pub(crate) fn conn_back(&mut self, conn: C) {
        self.lent = false;
        self.slot().conn = Some(conn);
    }

    /// The pre-ping asked for could not start (no connector thread of the pool became free
    /// in time): the connection was not touched, and goes back to the pool as it is when the
    /// reservation is dropped.
    pub(crate) fn ping_not_started(&mut self) {
        self.in_user_code = false;
    }
}

#[cfg(feature = "blocking")]
impl<C> Core<C> {
    /// The job of an abandoned checkout returned: a connection it opened, if any, is dropped
    /// (it was never the pool's); a pooled connection lent to a ping that took too long is
    /// closed (counted and logged, its state unknown). Then the slot is freed.
    pub(crate) fn release_abandoned(&self, abandoned: Abandoned<C>, conn: Option<C>) {
        let Abandoned {
            mut slot,
            new_capacity,
            owner,
            lent,
        } = abandoned;
        let closed = match conn {
            Some(conn) if lent => {
                self.close_connection(conn, &mut slot.record, CloseReason::CheckoutFailed)
            }
            conn => {
                if lent {
                    slot.record.clear_connection();
                }
                super::panics::catching(|| drop(conn)).err()
            }
        };
        if new_capacity {
            self.release_new_capacity(slot.record.slot_id, owner);
        } else {
            self.check_in(slot, owner);
        }
        drop(closed);
    }
}

impl<C> Drop for Reservation<'_, C> {
    fn drop(&mut self) {
        let core = self.core;
        if self.probe {
            // A probe cancelled or failed before its connect said anything: another may go.
            core.probe_gone();
        }
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        if slot.conn.is_some() && !self.in_user_code {
            // A sound connection nobody was using (the checkout was cancelled or failed
            // around it): back to the pool, or to the next waiter, as it is.
            core.check_in(slot, self.owner);
            return;
        }
        let panic = slot.conn.take().and_then(|conn| {
            core.close_connection(conn, &mut slot.record, CloseReason::CheckoutFailed)
        });
        if self.new_capacity {
            core.release_new_capacity(slot.record.slot_id, self.owner);
        } else {
            core.check_in(slot, self.owner);
        }
        core.carry_on(panic);
    }
}
