//! Invalidation: of one connection (`invalidate`, `soft_invalidate`, the announcement the
//! checkout path makes before it closes a connection itself), of the whole pool (the idle
//! connections opened before it are closed at once), and detaching a connection from the
//! pool. Every listener runs outside the lock and may panic: the books are put straight
//! first (see `panics`).

use super::panics::{catching, first, Panic};
use super::{Checked, Core, Slot};
use crate::emit::Emit;
use crate::event::{Conn, Event};
use crate::events::{CheckinEvent, ConnectionEvent, InvalidateEvent};
use crate::reasons::{CloseReason, RecycleReason};
use crate::record::{ConnectionRecord, InvalidateReason};
use std::collections::VecDeque;

impl<C> Core<C> {
    /// After a pool invalidation at `at`: closes the idle connections opened before it now,
    /// rather than at their next checkout (SQLAlchemy's way), so that the pool never counts
    /// as idle a connection the server has dropped (a failed pre-ping says the server lost
    /// its connections). Each is logged and counted as a recycle for pool invalidation; its
    /// slot goes back empty, its capacity held as `closing` meanwhile. Connections checked
    /// out are replaced at their next checkout, as before. SingletonThreadPool's threads'
    /// connections are left to their next checkout.
    pub(crate) fn close_stale_idle(&self, at: std::time::Instant) {
        let stale: Vec<Slot<C>> = {
            let mut st = self.locked();
            let idle = std::mem::take(&mut st.idle);
            let (stale, kept): (VecDeque<Slot<C>>, VecDeque<Slot<C>>) =
                idle.into_iter().partition(|slot| {
                    slot.conn.is_some() && slot.record.created_at.is_some_and(|c| at > c)
                });
            st.idle = kept;
            st.closing += stale.len();
            stale.into_iter().collect()
        };
        let mut panic = None;
        for mut slot in stale {
            let counted = catching(|| {
                self.emit(Event::Recycled {
                    conn: Conn::of(&slot.record),
                    why: RecycleReason::PoolInvalidated,
                })
            });
            panic = first(panic, counted.err());
            panic = first(
                panic,
                self.close_slot_keeping(&mut slot, CloseReason::Recycled),
            );
            let owner = slot.record.owner;
            slot.record.clear_connection();
            let mut st = self.locked();
            st.closing -= 1;
            // The empty slot goes back under the class's policy (it is no connection, so
            // nothing is closed).
            let nothing = self.check_in_locked(&mut st, slot, owner);
            debug_assert!(nothing.is_none());
        }
        self.carry_on(panic);
    }

    /// Fires `invalidate` and logs it; the caller closes the connection next.
    pub(crate) fn announce_invalidate(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
        reason: &InvalidateReason,
    ) -> Option<Panic> {
        // SQLAlchemy's order: the listeners, then the line.
        let invalidated = Event::Invalidated {
            conn: Conn::of(record),
            reason,
        };
        self.listeners_then(
            || {
                for l in self.listeners.iter() {
                    l.invalidate(InvalidateEvent::new(conn, record, reason));
                }
            },
            invalidated,
        )
    }

    /// Invalidates a checked-out connection: `invalidate`, close, `checkin(None)`, and the
    /// emptied slot goes back to the pool at once. `panic` (from the caller's own callback)
    /// and any listener's carry on afterwards.
    pub(crate) fn invalidate(
        &self,
        checked: Checked<C>,
        reason: InvalidateReason,
        panic: Option<Panic>,
    ) {
        let Checked {
            mut conn,
            mut record,
        } = checked;
        let mut panic = first(
            panic,
            self.announce_invalidate(&mut conn, &mut record, &reason),
        );
        panic = first(
            panic,
            self.close_connection(conn, &mut record, CloseReason::Invalidated),
        );
        let fired = catching(|| {
            for l in self.listeners.iter() {
                l.checkin(CheckinEvent::new(None, &mut record));
            }
        });
        panic = first(panic, fired.err());
        self.check_in_empty(record);
        self.carry_on(panic);
    }

    /// Marks a checked-out connection for replacement at its next checkout.
    pub(crate) fn soft_invalidate(
        &self,
        conn: &mut C,
        record: &mut ConnectionRecord,
        reason: InvalidateReason,
    ) {
        record.soft_invalidated = true;
        for l in self.listeners.iter() {
            l.soft_invalidate(InvalidateEvent::new(conn, record, &reason));
        }
        self.emit(Event::SoftInvalidated {
            conn: Conn::of(record),
            reason: &reason,
        });
    }

    /// Detaches a checked-out connection: `detach` fires, and its emptied slot returns to the
    /// pool; the caller keeps the connection (and drops it, closing it, if a listener's panic
    /// carries on from here).
    pub(crate) fn detach(
        &self,
        conn: &mut C,
        mut record: Box<ConnectionRecord>,
    ) -> crate::record::Extensions {
        let fired = catching(|| {
            for l in self.listeners.iter() {
                l.detach(ConnectionEvent::new(conn, &mut record));
            }
        });
        let info = std::mem::take(&mut record.info);
        self.check_in_empty(record);
        self.carry_on(fired.err());
        info
    }
}
