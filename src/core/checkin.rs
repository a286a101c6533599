//! The second half of a connection's life in the pool: returns (broken check, reset event,
//! keep or close), closing and `dispose`. Invalidation and detaching are `invalidate.rs`'s.
//!
//! A connection that is closed keeps its slot's capacity until it is fully closed (`State::
//! closing`), so that the connections live on the server never exceed the class's limit,
//! however long a close takes. Every listener runs outside the lock and may panic: the books
//! are put straight first (see `panics`).

use super::panics::{catching, first, Panic};
use super::state::{Locked, State, ThreadConn};
use super::{Checked, Core, Slot};
use crate::cause::Cause;
use crate::config::ResetAction;
use crate::emit::Emit;
use crate::event::{Conn, Event};
use crate::events::ResetState;
use crate::events::{CheckinEvent, ConnectionEvent, ResetEvent};
use crate::owner::Owner;
use crate::policy::Return;
use crate::reasons::CloseReason;
use crate::record::{ConnectionRecord, InvalidateReason};

/// What the front end does next with a returned connection.
pub(crate) enum ReturnStep {
    /// Run the reset function with this action, then call [`Core::end_return`].
    Reset(ResetAction),
    /// Nothing to reset; call [`Core::end_return`] at once.
    CheckIn,
}

impl<C> Core<C> {
    /// Returns a slot that was checked out (or reserved and never handed out); closes its
    /// connection if the policy says so.
    pub(crate) fn check_in(&self, slot: Slot<C>, owner: Owner) {
        self.untrack(slot.record.slot_id);
        let mut st = self.locked();
        let to_close = self.check_in_locked(&mut st, slot, owner);
        drop(st);
        if let Some((slot, reason)) = to_close {
            let counted = catching(|| {
                if reason == CloseReason::Overflow {
                    self.emit(Event::OverflowClosed);
                }
            });
            let panic = first(counted.err(), self.close_slot(slot, reason));
            self.closed_locked_after(&mut self.locked());
            self.carry_on(panic);
        }
    }

    /// Puts a slot back under the class's return policy; gives it back when its connection
    /// must be closed instead (its capacity held as `closing` until
    /// [`closed_locked_after`](Self::closed_locked_after)).
    pub(super) fn check_in_locked(
        &self,
        st: &mut Locked<'_, C>,
        slot: Slot<C>,
        owner: Owner,
    ) -> Option<(Slot<C>, CloseReason)> {
        if self.limits.single_holder() {
            st.holder = None;
        }
        if self.limits.per_thread() {
            return match st.threads.get(&owner) {
                Some(ThreadConn::Out { slot_id, .. }) if *slot_id == slot.record.slot_id => {
                    st.threads.insert(owner, ThreadConn::Idle(slot));
                    None
                }
                _ if slot.conn.is_none() => {
                    st.open -= 1;
                    None
                }
                _ => {
                    st.closing += 1;
                    Some((slot, CloseReason::Evicted))
                }
            };
        }
        match self.limits.on_return(st.idle.len()) {
            Return::Keep => {
                st.idle.push_back(slot);
                None
            }
            Return::Close if slot.conn.is_none() => {
                st.open -= 1;
                None
            }
            Return::Close => {
                st.closing += 1;
                let reason = self.limits.return_close_reason();
                Some((slot, reason))
            }
        }
    }

    /// Closes a slot's connection, if it has one, keeping the slot.
    pub(super) fn close_slot_keeping(
        &self,
        slot: &mut Slot<C>,
        reason: CloseReason,
    ) -> Option<Panic> {
        let conn = slot.conn.take()?;
        self.close_connection(conn, &mut slot.record, reason)
    }

    /// A connection counted as `closing` is closed: its capacity is free.
    fn closed_locked_after(&self, st: &mut Locked<'_, C>) {
        st.closing -= 1;
        st.open -= 1;
    }

    /// Returns a slot whose connection is gone (invalidated, detached, closed after a
    /// panic): the record forgets the connection and the emptied slot goes back at once.
    pub(crate) fn check_in_empty(&self, mut record: Box<ConnectionRecord>) {
        let owner = record.owner;
        record.clear_connection();
        self.check_in(Slot { record, conn: None }, owner);
    }

    /// A reservation failed after the slot was created for it: the capacity goes back.
    pub(crate) fn release_new_capacity(&self, slot_id: u64, owner: Owner) {
        self.release_new_capacity_locked(&mut self.locked(), slot_id, owner);
    }

    /// [`release_new_capacity`](Self::release_new_capacity), under the lock.
    pub(super) fn release_new_capacity_locked(
        &self,
        st: &mut State<C>,
        slot_id: u64,
        owner: Owner,
    ) {
        if self.limits.single_holder() {
            st.holder = None;
        }
        if self.limits.per_thread() {
            if let Some(ThreadConn::Out { slot_id: held, .. }) = st.threads.get(&owner) {
                if *held == slot_id {
                    st.threads.remove(&owner);
                }
            }
        }
        st.open -= 1;
    }

    /// Closes a slot's connection, if it has one, firing `close`; a listener's panic is
    /// returned for the caller to carry on once its books are straight.
    pub(crate) fn close_slot(&self, mut slot: Slot<C>, reason: CloseReason) -> Option<Panic> {
        let conn = slot.conn.take()?;
        self.close_connection(conn, &mut slot.record, reason)
    }

    /// Closes a connection: the `close` event, the echo line, then drop. The connection is
    /// dropped even if a listener (or its own `Drop`) panics; the panic is returned.
    pub(crate) fn close_connection(
        &self,
        mut conn: C,
        record: &mut ConnectionRecord,
        reason: CloseReason,
    ) -> Option<Panic> {
        let closed = Event::Closed {
            conn: Conn::of(record),
            reason,
        };
        let fired = self.listeners_then(
            || {
                for l in self.listeners.iter() {
                    l.close(ConnectionEvent::new(&mut conn, record));
                }
            },
            closed,
        );
        let dropped = catching(|| drop(conn)).err();
        record.clear_connection();
        first(fired, dropped)
    }

    /// Runs `listeners`, then emits `event`; the first panic of either is returned (the
    /// other still runs).
    pub(super) fn listeners_then(
        &self,
        listeners: impl FnOnce(),
        event: Event<'_>,
    ) -> Option<Panic> {
        let fired = catching(listeners).err();
        let counted = catching(|| self.emit(event)).err();
        first(fired, counted)
    }

    /// First half of a return: use time, the echo line, the broken check's outcome (a
    /// panic in it counts as broken), the `reset` event. `None` when the return is over (the
    /// connection was invalidated, or closed after a listener panicked).
    /// `transaction_open` is what the reset function knows (see
    /// [`Reset::transaction_open`](crate::Reset::transaction_open)).
    pub(crate) fn start_return(
        &self,
        mut checked: Checked<C>,
        broken: Result<bool, Panic>,
        transaction_open: Option<bool>,
    ) -> Option<(Checked<C>, ReturnStep)> {
        let conn = Conn::of(&checked.record);
        let used = checked.record.checked_out_at.map(|at| at.elapsed());
        if let Err(panic) = catching(|| self.emit(Event::Returned { conn, used })) {
            self.close_after_panic(checked, panic);
            return None;
        }
        match broken {
            Ok(false) => {}
            Ok(true) => {
                self.invalidate(checked, InvalidateReason::Broken, None);
                return None;
            }
            Err(panic) => {
                self.invalidate(checked, InvalidateReason::Broken, Some(panic));
                return None;
            }
        }
        let action = self.config.reset_on_return.action();
        // SQLAlchemy's `transaction_was_reset`: nothing to roll back.
        let already_reset = transaction_open == Some(false);
        if !self.listeners.is_empty() {
            let state = ResetState {
                action,
                terminate_only: false,
                transaction_was_reset: already_reset,
            };
            let fired = catching(|| {
                for l in self.listeners.iter() {
                    l.reset(ResetEvent::new(
                        &mut checked.conn,
                        &mut checked.record,
                        state,
                    ));
                }
            });
            if let Err(panic) = fired {
                self.close_after_panic(checked, panic);
                return None;
            }
        }
        match action {
            Some(ResetAction::Rollback) if already_reset => {
                self.emit(Event::ResetSkipped(conn));
                Some((checked, ReturnStep::CheckIn))
            }
            Some(action) => {
                self.emit(Event::Resetting { conn, action });
                Some((checked, ReturnStep::Reset(action)))
            }
            None => Some((checked, ReturnStep::CheckIn)),
        }
    }

    /// A listener panicked during a return: the connection is closed, its slot goes back
    /// emptied so the books stay straight, and the panic carries on.
    fn close_after_panic(&self, checked: Checked<C>, panic: Panic) {
        let Checked { conn, record } = checked;
        let dropped = catching(|| drop(conn)).err();
        self.check_in_empty(record);
        self.carry_on(first(Some(panic), dropped));
    }

    /// Second half of a return, after the reset (if any) ran: `checkin`, then the pool keeps
    /// or closes it. A failed reset invalidates the connection instead.
    pub(crate) fn end_return(
        &self,
        mut checked: Checked<C>,
        reset: Option<(ResetAction, Result<(), Cause>)>,
    ) {
        if let Some((action, outcome)) = reset {
            let error = outcome.as_ref().err().map(|e| e as &dyn std::fmt::Display);
            if let Err(panic) = catching(|| {
                self.emit(Event::ResetDone {
                    action,
                    error,
                    pooled: true,
                })
            }) {
                self.close_after_panic(checked, panic);
                return;
            }
            if let Err(message) = outcome {
                self.invalidate(checked, InvalidateReason::ResetFailed(message), None);
                return;
            }
        }
        if !self.listeners.is_empty() {
            let fired = catching(|| {
                for l in self.listeners.iter() {
                    l.checkin(CheckinEvent::new(
                        Some(&mut checked.conn),
                        &mut checked.record,
                    ));
                }
            });
            if let Err(panic) = fired {
                self.close_after_panic(checked, panic);
                return;
            }
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

    /// Closes the idle connections. Checked-out ones are untouched and come back normally;
    /// waiters are served from the capacity this frees.
    pub(crate) fn dispose(&self) {
        let mut st = self.locked();
        let mut closing: Vec<Slot<C>> = st.idle.drain(..).collect();
        if self.limits.per_thread() {
            let threads: Vec<_> = st.threads.drain().collect();
            for (_, conn) in threads {
                if let ThreadConn::Idle(slot) = conn {
                    closing.push(slot);
                }
            }
            // Threads still using theirs lost their entries: those close on return.
        }
        let empty = closing.iter().filter(|s| s.conn.is_none()).count();
        st.open -= empty;
        st.closing += closing.len() - empty;
        drop(st);
        let mut panic = None;
        for slot in closing.into_iter().filter(|s| s.conn.is_some()) {
            panic = first(panic, self.close_slot(slot, CloseReason::Dispose));
            self.closed_locked_after(&mut self.locked());
        }
        if self.limits.logs_dispose() {
            self.emit(Event::Disposed {
                status: &self.status(),
            });
        }
        self.carry_on(panic);
    }
}
