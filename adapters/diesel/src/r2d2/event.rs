//! r2d2's event subscriptions (`diesel::r2d2::event`), with the same names and accessors:
//! r2d2's own event types can be built by r2d2 alone, so an application's
//! [`HandleEvent`] names these instead (the import line is what changes). Each event is
//! filled from what poolscope did, which is not always what r2d2 would have done (see
//! [`HandleEvent`]).

use std::fmt;
use std::time::Duration;

/// Told of the pool's events (r2d2's `HandleEvent`). Every method does nothing by default.
///
/// | event | when poolscope fires it |
/// |---|---|
/// | `handle_acquire` | a new connection was opened, after the connection customizer accepted it |
/// | `handle_release` | a connection is being closed, whatever the reason: an overflow connection returned while `min_idle` are idle, one past `max_lifetime` replaced at checkout, a broken one, `dispose()`. A connection returned inside a transaction is rolled back and kept: no release, where r2d2 closes it |
/// | `handle_checkout` | `get`, `get_timeout` or `try_get` handed out a connection; `duration` is how long that took |
/// | `handle_timeout` | `get` or `get_timeout` gave up (waiting or connecting); not `try_get`, which does not wait |
/// | `handle_checkin` | a connection came back, after its reset; `duration` is how long it was out. A connection found broken is closed first (its release comes before its checkin) |
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use poolscope_diesel::r2d2::event::CheckoutEvent;
/// use poolscope_diesel::r2d2::{ConnectionManager, HandleEvent, Pool};
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// #[derive(Debug, Default)]
/// struct SlowCheckouts(Arc<AtomicU64>);
///
/// impl HandleEvent for SlowCheckouts {
///     fn handle_checkout(&self, event: CheckoutEvent) {
///         if event.duration().as_millis() > 100 {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let slow = Arc::new(AtomicU64::new(0));
/// let pool = Pool::builder()
///     .max_size(1)
///     .event_handler(Box::new(SlowCheckouts(Arc::clone(&slow))))
///     .build(ConnectionManager::<diesel::SqliteConnection>::new(":memory:"))?;
/// drop(pool.get()?);
/// assert_eq!(slow.load(Ordering::Relaxed), 0);
/// # Ok::<(), poolscope_diesel::r2d2::PoolError>(())
/// ```
pub trait HandleEvent: fmt::Debug + Sync + Send {
    /// A new connection was opened.
    #[allow(unused_variables)]
    fn handle_acquire(&self, event: AcquireEvent) {}

    /// A connection is being closed.
    #[allow(unused_variables)]
    fn handle_release(&self, event: ReleaseEvent) {}

    /// A connection was checked out.
    #[allow(unused_variables)]
    fn handle_checkout(&self, event: CheckoutEvent) {}

    /// A checkout timed out.
    #[allow(unused_variables)]
    fn handle_timeout(&self, event: TimeoutEvent) {}

    /// A connection was checked back in.
    #[allow(unused_variables)]
    fn handle_checkin(&self, event: CheckinEvent) {}
}

/// A [`HandleEvent`] that does nothing (r2d2's default).
#[derive(Copy, Clone, Debug)]
pub struct NopEventHandler;

impl HandleEvent for NopEventHandler {}

/// A new connection was opened.
#[derive(Debug)]
pub struct AcquireEvent {
    pub(crate) id: u64,
}

impl AcquireEvent {
    /// The connection's id (poolscope's, as its `echo_pool` lines and records name it).
    #[inline]
    pub fn connection_id(&self) -> u64 {
        self.id
    }
}

/// A connection is being closed.
#[derive(Debug)]
pub struct ReleaseEvent {
    pub(crate) id: u64,
    pub(crate) age: Duration,
}

impl ReleaseEvent {
    /// The connection's id.
    #[inline]
    pub fn connection_id(&self) -> u64 {
        self.id
    }

    /// How long ago the connection was opened.
    #[inline]
    pub fn age(&self) -> Duration {
        self.age
    }
}

/// An event about one connection and a duration (r2d2 has two: the checkout and the
/// checkin), with r2d2's accessors.
macro_rules! timed_event {
    ($(#[$doc:meta])* $name:ident, $duration:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            pub(crate) id: u64,
            pub(crate) duration: Duration,
        }

        impl $name {
            /// The connection's id.
            #[inline]
            pub fn connection_id(&self) -> u64 {
                self.id
            }

            #[doc = $duration]
            #[inline]
            pub fn duration(&self) -> Duration {
                self.duration
            }
        }
    };
}

timed_event!(
    /// A connection was checked out.
    CheckoutEvent,
    "How long the checkout took (waiting, connecting, the pre-ping)."
);

timed_event!(
    /// A connection was checked back in.
    CheckinEvent,
    "How long the connection was checked out."
);

/// A checkout timed out.
#[derive(Debug)]
pub struct TimeoutEvent {
    pub(crate) timeout: Duration,
}

impl TimeoutEvent {
    /// The timeout the checkout had.
    #[inline]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}
