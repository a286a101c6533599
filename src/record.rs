//! What the pool knows about each connection slot (SQLAlchemy's `_ConnectionRecord`), as
//! listeners and guards see it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use crate::cause::Cause;
use crate::error::ErrorChain;
use crate::owner::Owner;

/// A small type map for user data attached to a connection or a slot (SQLAlchemy's `info`
/// and `record_info` dictionaries), keyed by type.
///
/// ```
/// use poolscope::Extensions;
///
/// struct Important(bool);
/// let mut info = Extensions::new();
/// info.insert(Important(true));
/// assert!(info.get::<Important>().unwrap().0);
/// ```
#[derive(Default)]
pub struct Extensions {
    /// Allocated on first insert: most pools never use `info`, and a record moves through
    /// the pool on every checkout, so it stays one pointer wide (measured: moving 48-byte
    /// maps inline cost about a third of a checkout + return cycle).
    #[allow(clippy::box_collection)]
    map: Option<Box<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, returning the previous value of that type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.map
            .get_or_insert_with(Default::default)
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|boxed| *boxed))
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.as_ref()?.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, mutably, if any.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map
            .as_mut()?
            .get_mut(&TypeId::of::<T>())?
            .downcast_mut()
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .as_mut()?
            .remove(&TypeId::of::<T>())
            .and_then(|old| old.downcast().ok().map(|boxed| *boxed))
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.as_ref().is_none_or(|m| m.is_empty())
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.map = None;
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.as_ref().map_or(0, |m| m.len()))
            .finish()
    }
}

/// One slot of the pool and the connection it holds, if any.
///
/// A slot outlives its connections: after an invalidation or a recycle, the next connection
/// opens on the same slot. `info` belongs to the connection and is cleared when it is replaced;
/// `record_info` belongs to the slot and survives.
#[derive(Debug)]
pub struct ConnectionRecord {
    pub(crate) slot_id: u64,
    pub(crate) connection_id: Option<u64>,
    pub(crate) created_at: Option<Instant>,
    pub(crate) soft_invalidated: bool,
    pub(crate) info: Extensions,
    pub(crate) record_info: Extensions,
    /// While checked out: who holds it (SingletonThreadPool keys by it).
    pub(crate) owner: Owner,
    /// While checked out: since when, if the pool times uses.
    #[cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]
    pub(crate) checked_out_at: Option<crate::stopwatch::Instant>,
}

impl ConnectionRecord {
    pub(crate) fn new(slot_id: u64) -> Self {
        ConnectionRecord {
            slot_id,
            connection_id: None,
            created_at: None,
            soft_invalidated: false,
            info: Extensions::new(),
            record_info: Extensions::new(),
            owner: Owner::Untracked,
            checked_out_at: None,
        }
    }

    /// The slot's id, stable across reconnects.
    pub fn slot_id(&self) -> u64 {
        self.slot_id
    }

    /// The current connection's id (unique within the process), `None` while the slot is empty.
    pub fn connection_id(&self) -> Option<u64> {
        self.connection_id
    }

    /// When the current connection was opened (by the pool's clock).
    pub fn created_at(&self) -> Option<Instant> {
        self.created_at
    }

    /// Data about the current connection; cleared when it is replaced.
    pub fn info(&self) -> &Extensions {
        &self.info
    }

    /// Data about the current connection, mutably.
    pub fn info_mut(&mut self) -> &mut Extensions {
        &mut self.info
    }

    /// Data about the slot; survives reconnects and invalidation.
    pub fn record_info(&self) -> &Extensions {
        &self.record_info
    }

    /// Data about the slot, mutably.
    pub fn record_info_mut(&mut self) -> &mut Extensions {
        &mut self.record_info
    }

    /// Forgets the connection: its id, age, soft-invalidation mark and `info`.
    pub(crate) fn clear_connection(&mut self) {
        self.connection_id = None;
        self.created_at = None;
        self.soft_invalidated = false;
        self.info.clear();
    }
}

/// Why a connection was invalidated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidateReason {
    /// The user called `invalidate()`.
    Requested,
    /// The pre-ping (`is_valid`) failed: the manager's error, as its text (a manager's
    /// error need not be `Send + Sync`).
    PingFailed(Cause),
    /// The reset-on-return failed: the reset function's error (or the text of its panic,
    /// or of its timeout).
    ResetFailed(Cause),
    /// The manager's `has_broken` said so on return.
    Broken,
    /// A `checkout` listener reported a disconnect (its error) or failed (the text of its
    /// error, which the failed checkout returns to the caller).
    Listener(Cause),
    /// The user invalidated the connection because of an error (`invalidate_with`,
    /// SQLAlchemy's `invalidate(e)`): the error's type name and text.
    Error {
        /// The error's type, without its module path (`io::Error` is `Error`).
        type_name: String,
        /// The error's text.
        message: String,
    },
}

impl InvalidateReason {
    /// The reason for an `error` of type `E`, as SQLAlchemy names it (`<ErrorType>:<message>`).
    pub fn from_error<E: std::error::Error + ?Sized>(error: &E) -> Self {
        let full = std::any::type_name::<E>();
        // `std::io::error::Error` → `Error`; `my::Wrapper<other::Thing>` → `Wrapper`.
        let without_generics = full.split('<').next().unwrap_or(full);
        let type_name = without_generics
            .rsplit("::")
            .next()
            .unwrap_or(without_generics)
            .trim_start_matches("dyn ")
            .to_owned();
        InvalidateReason::Error {
            type_name,
            message: error.to_string(),
        }
    }

    /// What an echo_pool line adds after `Invalidate connection N`: nothing when the user
    /// asked without a reason (as SQLAlchemy), ` (reason: <kind>:<message>)` otherwise.
    pub(crate) fn log_suffix(&self) -> String {
        match self {
            InvalidateReason::Requested => String::new(),
            reason => format!(" (reason: {reason})"),
        }
    }
}

impl fmt::Display for InvalidateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidateReason::Requested => f.write_str("requested"),
            InvalidateReason::PingFailed(m) => write!(f, "pre-ping failed:{m}"),
            InvalidateReason::ResetFailed(m) => write!(f, "reset failed:{m}"),
            InvalidateReason::Broken => f.write_str("connection reported broken"),
            InvalidateReason::Listener(m) => {
                write!(f, "checkout listener:{}", ErrorChain(m.error()))
            }
            InvalidateReason::Error { type_name, message } => write!(f, "{type_name}:{message}"),
        }
    }
}
