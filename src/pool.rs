//! One pool type for both fronts: what the blocking and the async pool share (they only read
//! or act on the core), written once. Each front adds `builder`, `get` and the return path
//! in its own module.

// Only a front uses this module: unused in the hooks-only build (neither front).
#![cfg_attr(
    not(any(feature = "blocking", feature = "tokio")),
    allow(dead_code, unused_imports)
)]

use std::fmt;
use std::sync::Arc;

use crate::builder::{HoldsConnections, PoolBuilder};
use crate::config::{FrontEnd, ResetAction};
use crate::core::{Checked, Core};
use crate::emit::Emit;
use crate::error::BuildError;
use crate::event::Event;

/// A connection pool of front `F` ([`Blocking`](crate::Blocking) or
/// [`Tokio`](crate::Tokio)); reached as [`Pool`](crate::Pool) and
/// [`AsyncPool`](crate::AsyncPool). Cloning is cheap and shares the pool.
pub struct ConnectionPool<F: Front> {
    pub(crate) shared: Arc<Shared<F>>,
}

/// What every handle to one pool shares: its books, its manager, and the builder it came
/// from (to `recreate()` it with the same options, listeners and reset).
#[doc(hidden)]
pub struct Shared<F: Front> {
    pub(crate) core: Arc<Core<F::Connection>>,
    pub(crate) manager: Arc<F::Manager>,
    pub(crate) builder: PoolBuilder<F>,
}

/// A front end: a kind of pool that holds its connections and opens them through a manager
/// (r2d2's for [`Blocking`](crate::Blocking), bb8's for [`Tokio`](crate::Tokio)). Sealed.
pub trait Front: HoldsConnections<Connection: Send + 'static> + Sized {
    /// The connection manager.
    type Manager: Send + Sync + 'static;
    /// What resets a returned connection: `dyn` [`Reset`](crate::Reset) or
    /// [`AsyncReset`](crate::AsyncReset) of the connection.
    type Reset: ?Sized + Send + Sync + 'static;
    /// The pool's, its guard's and its detached handle's names in `Debug` output.
    #[doc(hidden)]
    const POOL_NAME: &'static str;
    #[doc(hidden)]
    const GUARD_NAME: &'static str;
    #[doc(hidden)]
    const DETACHED_NAME: &'static str;
    /// Takes a connection back from a guard that is dropped.
    #[doc(hidden)]
    fn give_back(shared: &Arc<Shared<Self>>, checked: Checked<Self::Connection>);
    /// Resets a detached connection about to be closed (`action`, if `reset_on_return` has
    /// one), where the front can.
    #[doc(hidden)]
    fn reset_detached(
        shared: &Shared<Self>,
        conn: &mut Self::Connection,
        action: Option<ResetAction>,
        id: u64,
    );
    /// Builds a pool from `builder` over `manager` (for `recreate()`).
    #[doc(hidden)]
    fn build_pool(
        builder: PoolBuilder<Self>,
        manager: Arc<Self::Manager>,
    ) -> Result<ConnectionPool<Self>, BuildError>;
}

impl<F: Front> fmt::Debug for Shared<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("pool", &self.core.config.name)
            .finish_non_exhaustive()
    }
}

impl<F: Front> ConnectionPool<F> {
    /// The pool's counts; `Display` gives SQLAlchemy's `status()` text.
    pub fn status(&self) -> crate::Status {
        self.shared.core.status()
    }

    /// Closes the idle connections. Checked-out connections are left alone and return to the
    /// pool normally.
    pub fn dispose(&self) {
        self.shared.core.dispose();
    }

    /// A new, empty pool with the same options, listeners, reset function and manager
    /// (SQLAlchemy's `recreate()`). This pool is left as it is.
    ///
    /// # Errors
    /// None in practice: the options were validated when this pool was built.
    pub fn recreate(&self) -> Result<Self, BuildError> {
        self.shared.core.emit(Event::Recreating);
        // The same name, given or defaulted: the new pool's series continue the old's.
        let builder = self
            .shared
            .builder
            .clone()
            .name(self.shared.core.config.name.to_string());
        F::build_pool(builder, Arc::clone(&self.shared.manager))
    }

    /// Says how many connections the server admits for this pool's user and database (its
    /// `max_connections` less the reserved ones, a role's or user's limit): published as the
    /// gauge `poolscope.server.connection.budget`, which the dashboard's Fleet row holds the
    /// replicas' connections and their `max` against. The Diesel adapter reads and reports it
    /// by itself after its first connect; a pool over a manager of your own reports it where
    /// it knows it.
    ///
    /// ```
    /// # struct M;
    /// # impl r2d2::ManageConnection for M {
    /// #     type Connection = ();
    /// #     type Error = std::io::Error;
    /// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn has_broken(&self, _: &mut ()) -> bool { false }
    /// # }
    /// let pool = poolscope::Pool::builder()
    ///     .reset_on_return(poolscope::ResetOnReturn::None)
    ///     .build(M)?;
    /// pool.report_server_budget(97); // max_connections 100, 3 reserved
    /// # Ok::<(), poolscope::BuildError>(())
    /// ```
    pub fn report_server_budget(&self, connections: usize) {
        self.shared.core.instruments.server_budget(connections);
    }

    /// Marks every connection opened before now to be replaced at its next checkout (what a
    /// failed pre-ping does). Checked-out connections finish their work first.
    pub fn invalidate_all(&self) {
        self.shared.core.invalidate_all();
    }

    /// `pool_timeout`; `None` waits forever.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.shared.core.config.timeout
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.shared.core.config.name
    }

    /// The pool's class.
    pub fn class(&self) -> crate::PoolClass {
        self.shared.core.config.class
    }

    /// What the pool did since it was built, counted (bb8's `Statistics`); `None` unless it
    /// was built with [`statistics(true)`](crate::PoolBuilder::statistics).
    pub fn statistics(&self) -> Option<crate::Statistics> {
        self.shared
            .core
            .instruments()
            .statistics()
            .map(|counters| counters.snapshot())
    }

    /// The connection manager.
    pub fn manager(&self) -> &F::Manager {
        &self.shared.manager
    }

    /// Waiters that reached `pool_timeout` while an idle connection or free capacity was there
    /// for them: wake-ups the pool missed (such a waiter takes what is there instead of
    /// timing out). Always 0 unless the pool has a bug; the stress tests assert it.
    #[doc(hidden)]
    pub fn missed_wakeups(&self) -> u64 {
        self.shared.core.missed_wakeups()
    }
}

impl<F: Front> PoolBuilder<F> {
    /// Validates the options for `front` and makes the pool over `manager`, its instruments
    /// registered once; `can_reset`: a reset function was given. Both fronts build (and
    /// `recreate()`) through here.
    pub(crate) fn into_pool(
        mut self,
        manager: Arc<F::Manager>,
        front: FrontEnd,
        can_reset: bool,
    ) -> Result<ConnectionPool<F>, BuildError> {
        let holding = self.kind.holding();
        let core = Core::build(
            &self.options,
            front,
            can_reset,
            &holding.listeners,
            &holding.clock,
            &self.instruments,
        )?;
        Ok(ConnectionPool {
            shared: Arc::new(Shared {
                core,
                manager,
                builder: self,
            }),
        })
    }
}

impl<F: Front> Clone for ConnectionPool<F> {
    fn clone(&self) -> Self {
        ConnectionPool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<F: Front> fmt::Debug for ConnectionPool<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(F::POOL_NAME)
            .field("name", &self.name())
            .field("status", &self.status())
            .finish()
    }
}
