//! What the blocking and the async guards have in common: access to the connection and its
//! record, invalidation, detaching. Only how they return a connection differs.

macro_rules! guard_common {
    ($guard:ident, $detached:ident, $manager:path) => {
        const HELD: &str = "a pooled connection holds its connection until it is consumed";

        impl<M: $manager> $guard<M> {
            pub(super) fn new(
                shared: std::sync::Arc<Shared<M>>,
                checked: $crate::core::Checked<M::Connection>,
                location: &'static std::panic::Location<'static>,
            ) -> Self {
                shared.core.track_checkout(
                    checked.record.slot_id,
                    checked.record.connection_id.unwrap_or(0),
                    checked.record.checked_out_at,
                    location,
                );
                $guard {
                    shared,
                    checked: Some(checked),
                    location,
                }
            }

            fn checked(&self) -> &$crate::core::Checked<M::Connection> {
                self.checked.as_ref().expect(HELD)
            }

            fn checked_mut(&mut self) -> &mut $crate::core::Checked<M::Connection> {
                self.checked.as_mut().expect(HELD)
            }

            /// The slot's record: ids, age, `info` and `record_info`.
            pub fn record(&self) -> &$crate::ConnectionRecord {
                &self.checked().record
            }

            /// The slot's record, mutably (to write `info` or `record_info`).
            pub fn record_mut(&mut self) -> &mut $crate::ConnectionRecord {
                &mut self.checked_mut().record
            }

            /// Where this connection was checked out.
            pub fn checkout_location(&self) -> &'static std::panic::Location<'static> {
                self.location
            }

            /// Closes the connection instead of returning it; its slot goes back to the pool
            /// empty at once, so a waiting caller can open a new one. No reset runs.
            pub fn invalidate(self) {
                self.invalidate_because($crate::InvalidateReason::Requested);
            }

            /// [`invalidate`](Self::invalidate) because of `error` (SQLAlchemy's
            /// `invalidate(e)`): the `invalidate` listeners get it, and the echo_pool line
            /// reads `Invalidate connection N (reason: <ErrorType>:<message>)`.
            pub fn invalidate_with<E: std::error::Error + ?Sized>(self, error: &E) {
                self.invalidate_because($crate::InvalidateReason::from_error(error));
            }

            fn invalidate_because(mut self, reason: $crate::InvalidateReason) {
                if let Some(checked) = self.checked.take() {
                    self.shared.core.invalidate(checked, reason, None);
                }
            }

            /// Marks the connection to be replaced at its next checkout; it stays usable until
            /// then and returns to the pool normally.
            pub fn soft_invalidate(&mut self) {
                self.soft_invalidate_because($crate::InvalidateReason::Requested);
            }

            /// [`soft_invalidate`](Self::soft_invalidate) because of `error` (SQLAlchemy's
            /// `invalidate(e, soft=True)`).
            pub fn soft_invalidate_with<E: std::error::Error + ?Sized>(&mut self, error: &E) {
                self.soft_invalidate_because($crate::InvalidateReason::from_error(error));
            }

            fn soft_invalidate_because(&mut self, reason: $crate::InvalidateReason) {
                let core = std::sync::Arc::clone(&self.shared.core);
                let checked = self.checked_mut();
                core.soft_invalidate(&mut checked.conn, &mut checked.record, reason);
            }

            /// Takes the connection out of the pool for good: its slot goes back to the pool
            /// empty, and the returned handle owns the connection (with this connection's
            /// `info`).
            pub fn detach(mut self) -> $detached<M> {
                let $crate::core::Checked { mut conn, record } = self.checked.take().expect(HELD);
                let id = record.connection_id.unwrap_or(0);
                let info = self.shared.core.detach(&mut conn, record);
                $detached {
                    shared: std::sync::Arc::clone(&self.shared),
                    conn: Some(conn),
                    info,
                    id,
                }
            }
        }

        impl<M: $manager> std::ops::Deref for $guard<M> {
            type Target = M::Connection;

            fn deref(&self) -> &M::Connection {
                &self.checked().conn
            }
        }

        impl<M: $manager> std::ops::DerefMut for $guard<M> {
            fn deref_mut(&mut self) -> &mut M::Connection {
                &mut self.checked_mut().conn
            }
        }

        impl<M: $manager> std::fmt::Debug for $guard<M> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($guard))
                    .field("pool", &self.shared.core.config.name)
                    .field(
                        "connection_id",
                        &self.checked.as_ref().and_then(|c| c.record.connection_id),
                    )
                    .field("checked_out_at", &format_args!("{}", self.location))
                    .finish()
            }
        }

        impl<M: $manager> $detached<M> {
            /// The `info` the connection carried when it was detached.
            pub fn info(&self) -> &$crate::Extensions {
                &self.info
            }

            /// Takes the raw connection; no reset and no `close_detached` event.
            pub fn into_inner(mut self) -> M::Connection {
                self.conn.take().expect(HELD)
            }

            /// Fires the `reset` (terminate only) event; the caller then resets if it can,
            /// and calls `closed`.
            fn closing(&self, conn: &mut M::Connection) -> Option<$crate::ResetAction> {
                let core = &self.shared.core;
                let action = core.config.reset_on_return.action();
                let mut record = $crate::ConnectionRecord::new(0);
                let state = $crate::ResetState {
                    action,
                    terminate_only: true,
                    transaction_was_reset: false,
                };
                for l in core.listeners.iter() {
                    l.reset(conn, &mut record, state);
                }
                action
            }

            /// Fires `close_detached`; the connection is dropped next.
            fn closed(&self, conn: &mut M::Connection) {
                for l in self.shared.core.listeners.iter() {
                    l.close_detached(conn);
                }
                $crate::echo::echo_debug!(self.shared.core, "Closing connection {}", self.id);
            }
        }

        impl<M: $manager> std::fmt::Debug for $detached<M> {
            /// The pool it left and the id it had there; never the connection itself (it
            /// may not be `Debug`, and may hold credentials).
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($detached))
                    .field("pool", &self.shared.core.config.name)
                    .field("connection_id", &self.id)
                    .finish_non_exhaustive()
            }
        }

        impl<M: $manager> std::ops::Deref for $detached<M> {
            type Target = M::Connection;

            fn deref(&self) -> &M::Connection {
                self.conn.as_ref().expect(HELD)
            }
        }

        impl<M: $manager> std::ops::DerefMut for $detached<M> {
            fn deref_mut(&mut self) -> &mut M::Connection {
                self.conn.as_mut().expect(HELD)
            }
        }
    };
}

pub(crate) use guard_common;
