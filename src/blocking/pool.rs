use std::panic::Location;
use std::sync::Arc;
use std::time::Instant;

use super::builder::{Blocking, Builder};
use super::connector;
use super::guard::PooledConnection;
use crate::builder::PoolBuilder;
use crate::cause::Cause;
use crate::config::{FrontEnd, ResetAction};
use crate::core::panics::catching;
use crate::core::{
    AfterFailure, Begin, Checked, Reservation, ReturnStep, Started, Step, Waited, Waiter,
};
use crate::emit::Emit;
use crate::error::{BuildError, CheckoutSite, Error};
use crate::event::{Conn, Event};
use crate::owner::Owner;
use crate::pool::{ConnectionPool, Front};
use crate::reset::Reset;
use crate::spans::{connect_span, fail, reset_span, CheckoutClock, CheckoutTrace, ConnectTimer};

/// A blocking connection pool with SQLAlchemy's semantics over an `r2d2::ManageConnection`:
/// [`ConnectionPool`] of the [`Blocking`] front, whose methods it has, with `builder` and
/// `get` of its own.
///
/// Cloning is cheap and shares the pool.
///
/// ```
/// use poolscope::{Pool, PoolClass, ResetOnReturn};
/// # #[derive(Debug)] struct Never;
/// # impl std::fmt::Display for Never { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("never") } }
/// # impl std::error::Error for Never {}
/// # struct Manager;
/// # impl r2d2::ManageConnection for Manager {
/// #     type Connection = Vec<String>;
/// #     type Error = Never;
/// #     fn connect(&self) -> Result<Vec<String>, Never> { Ok(Vec::new()) }
/// #     fn is_valid(&self, _: &mut Vec<String>) -> Result<(), Never> { Ok(()) }
/// #     fn has_broken(&self, _: &mut Vec<String>) -> bool { false }
/// # }
/// let pool = Pool::builder()
///     .pool_size(2)
///     .max_overflow(1)
///     .reset_on_return(ResetOnReturn::None)
///     .build(Manager)?;
/// assert_eq!(
///     pool.status().to_string(),
///     "Pool size: 2  Connections in pool: 0 Current Overflow: -2 Current Checked out connections: 0"
/// );
/// {
///     let mut conn = pool.get()?;
///     conn.push("used".into());
/// }
/// assert_eq!(pool.status().checked_in, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Pool<M> = ConnectionPool<Blocking<M>>;

/// What every handle to one blocking pool shares.
pub(super) type Shared<M> = crate::pool::Shared<Blocking<M>>;

impl<M: r2d2::ManageConnection> Pool<M> {
    /// A builder with SQLAlchemy's defaults.
    pub fn builder() -> Builder<M> {
        Builder::default()
    }

    /// Checks out a connection: an idle one, a new one within the class's limits, or the next
    /// one returned, waiting up to `pool_timeout`.
    ///
    /// `pool_timeout` bounds the whole checkout, waiting and connecting (as r2d2's
    /// `connection_timeout` does), and the pre-ping with
    /// [`bounded_pre_ping`](crate::PoolBuilder::bounded_pre_ping): with one, connections are
    /// opened (and pre-pinged, if bounded) on a connector thread (shared by every pool,
    /// reused; at most 8 jobs of one pool at once), and a job still running at the deadline
    /// is left to finish there.
    /// When it does, the connection it opened or pinged is closed and its slot freed: until
    /// then the slot stays taken, so the pool never has more connections than its limit,
    /// live or being opened.
    ///
    /// # Errors
    /// [`Error::Timeout`] at the limit after `pool_timeout`; [`Error::ConnectTimeout`] when
    /// the manager's connect (or bounded pre-ping) did not return within it, or the pool's 8
    /// connector threads stayed busy with ones that did not; [`Error::AlreadyCheckedOut`] for a
    /// second checkout of AssertionPool's connection (or a nested one on StaticPool and
    /// SingletonThreadPool); [`Error::Connect`] when the manager fails; [`Error::Listener`]
    /// when a listener refuses.
    #[track_caller]
    pub fn get(&self) -> Result<PooledConnection<M>, Error<M::Error>>
    where
        M::Error: Send,
    {
        self.get_within(Location::caller(), self.shared.core.config.timeout)
    }

    /// Opens connections now, so that a wrong URL or a server that is down fails here, at
    /// start, rather than at the first request (what r2d2's `build` does with `min_idle`):
    /// checks `count` connections out at once and returns them, where they stay idle. The
    /// pool itself stays lazy (SQLAlchemy's way); this is the fail-fast start to call after
    /// `build`. `count` is capped at what the class keeps idle (QueuePool's `pool_size`; one
    /// for the other classes, and NullPool opens and closes it).
    ///
    /// ```
    /// # use poolscope::Pool;
    /// # struct M;
    /// # impl r2d2::ManageConnection for M {
    /// #     type Connection = ();
    /// #     type Error = std::io::Error;
    /// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn has_broken(&self, _: &mut ()) -> bool { false }
    /// # }
    /// let pool = Pool::builder()
    ///     .pool_size(3)
    ///     .reset_on_return(poolscope::ResetOnReturn::None)
    ///     .build(M)?;
    /// pool.prefill(3)?;
    /// assert_eq!(pool.status().checked_in, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get): the first checkout that fails.
    #[track_caller]
    pub fn prefill(&self, count: usize) -> Result<(), Error<M::Error>>
    where
        M::Error: Send,
    {
        let count = self.shared.core.config.prefill_count(count);
        let held = (0..count)
            .map(|_| self.get())
            .collect::<Result<Vec<_>, _>>()?;
        drop(held);
        Ok(())
    }

    /// As [`get`](Self::get), waiting (and connecting) up to `timeout` instead of
    /// `pool_timeout` (r2d2's `get_timeout`); zero fails at once when the pool is at its
    /// limit. StaticPool and QueuePool wait; for the other classes this is `get`.
    ///
    /// # Errors
    /// As [`get`](Self::get), [`Error::Timeout`] carrying `timeout`.
    #[track_caller]
    pub fn get_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<PooledConnection<M>, Error<M::Error>>
    where
        M::Error: Send,
    {
        self.get_within(Location::caller(), Some(timeout))
    }

    fn get_within(
        &self,
        location: &'static Location<'static>,
        timeout: Option<std::time::Duration>,
    ) -> Result<PooledConnection<M>, Error<M::Error>>
    where
        M::Error: Send,
    {
        let core = &self.shared.core;
        let site = core.site(location, Owner::current_thread);
        let (begun, first) = match core.begin(&site, timeout, || None).first_step() {
            // An idle connection handed out at once: its span is born knowing the outcome,
            // and nothing runs inside it to enter it for (see `spans.rs`).
            Started::AtOnce(reservation) => {
                let at = CheckoutTrace::at_once(core, reservation.outcome());
                let checked = reservation.finish(at);
                return Ok(self.hand_out(checked, location));
            }
            Started::Later(begun, first) => (begun, first),
        };
        let CheckoutTrace { span, mut clock } = CheckoutTrace::start(core, None);
        let _entered = span.enter();
        let result = self.checkout(begun, first, &site, &span, &mut clock, timeout);
        if let Err(e) = &result {
            clock.failed(&span, core, e.error_type());
        }
        result
    }

    /// A checkout that waits, connects, pings or runs listeners, from what `begin` said
    /// (and the first step it already took, if any).
    fn checkout(
        &self,
        begun: Begin<'_, M::Connection>,
        mut first: Option<Step>,
        site: &CheckoutSite,
        span: &tracing::Span,
        clock: &mut CheckoutClock,
        timeout: Option<std::time::Duration>,
    ) -> Result<PooledConnection<M>, Error<M::Error>>
    where
        M::Error: Send,
    {
        let core = &self.shared.core;
        // The checkout's deadline, read from the clock only when it waits or connects.
        let mut deadline = None;
        let mut reservation = match begun {
            Begin::Reserved(reservation) => reservation,
            Begin::Refused(failure) => return Err(failure.into()),
            Begin::Wait(waiter) => {
                clock.mark();
                deadline = deadline_after(timeout);
                self.wait_for(&waiter, deadline, timeout)?
            }
        };
        let manager = &self.shared.manager;
        loop {
            match first.take().unwrap_or_else(|| reservation.next_step()) {
                Step::Connect => {
                    clock.mark();
                    let span = connect_span(&core.config);
                    let timer = ConnectTimer::start(&self.shared.core);
                    // `pool_timeout` bounds the whole checkout: a refusal's wait after this
                    // connect ends at the same deadline.
                    deadline = deadline.or_else(|| deadline_after(timeout));
                    let connected = match deadline {
                        None => span.in_scope(|| manager.connect()),
                        Some(at) => {
                            let Some(permit) = self.shared.builder.kind.gate.enter(at) else {
                                fail(&span, "connect_timeout");
                                return Err(Error::ConnectTimeout(
                                    core.connectors_busy(timeout, connector::PER_POOL),
                                ));
                            };
                            let mut waiting = Some(reservation);
                            let connected = self.connect_until(permit, at, &span, &mut waiting);
                            match (connected, waiting) {
                                (Ok(connected), Some(still)) => {
                                    reservation = still;
                                    connected
                                }
                                _ => {
                                    fail(&span, "connect_timeout");
                                    return Err(Error::ConnectTimeout(
                                        core.connect_timed_out(timeout),
                                    ));
                                }
                            }
                        }
                    };
                    timer.done(core, &span, &connected);
                    match connected {
                        Ok(conn) => {
                            let turn = core.first_connect.wait_turn(Owner::current_thread());
                            reservation.connected(conn, turn)?;
                            self.read_server_budget(&mut reservation);
                        }
                        Err(e) => {
                            let reason = self.shared.builder.kind.classify(&e);
                            // A zero timeout refuses to wait, for capacity too.
                            let may_wait = !timeout.is_some_and(|t| t.is_zero());
                            let describe = || crate::ErrorChain(&e).to_string();
                            match reservation.connect_failed(
                                reason,
                                describe,
                                site,
                                may_wait.then_some(None),
                            ) {
                                AfterFailure::Fail => return Err(Error::Connect(e)),
                                AfterFailure::Wait(waiter) => {
                                    reservation = self.wait_for(&waiter, deadline, timeout)?;
                                }
                            }
                        }
                    }
                }
                Step::Ping => {
                    clock.mark_ping();
                    let bound = if self.shared.builder.kind.bounded_pre_ping {
                        deadline = deadline.or_else(|| deadline_after(timeout));
                        deadline
                    } else {
                        None
                    };
                    let outcome = match bound {
                        None => reservation.conn_mut().map(|conn| manager.is_valid(conn)),
                        Some(at) => {
                            let Some(permit) = self.shared.builder.kind.gate.enter(at) else {
                                // Not pinged: the connection goes back as it was.
                                reservation.ping_not_started();
                                return Err(Error::ConnectTimeout(
                                    core.connectors_busy(timeout, connector::PER_POOL),
                                ));
                            };
                            let mut waiting = Some(reservation);
                            let pinged = self.ping_until(permit, at, &mut waiting);
                            match (pinged, waiting) {
                                (Ok(outcome), Some(still)) => {
                                    reservation = still;
                                    outcome
                                }
                                _ => {
                                    return Err(Error::ConnectTimeout(core.ping_timed_out(timeout)))
                                }
                            }
                        }
                    };
                    if let Some(Err(e)) = outcome {
                        reservation.ping_failed(e.to_string());
                    }
                }
                Step::Ready => {
                    let at = clock.ready(span, core, reservation.outcome());
                    return Ok(self.hand_out(reservation.finish(at), site.location()));
                }
                Step::Fail(failure) => return Err(failure.into()),
            }
        }
    }
}

impl<M: r2d2::ManageConnection> Pool<M> {
    /// Asks the pool's first connection how many connections the server admits (the
    /// adapter's reader; its future is polled once: a blocking adapter queries in that poll).
    fn read_server_budget(&self, reservation: &mut Reservation<'_, M::Connection>) {
        let Some(read) = self.shared.builder.kind.budget else {
            return;
        };
        if !self.shared.core.asks_budget() {
            return;
        }
        let Some(conn) = reservation.conn_mut() else {
            return;
        };
        let answer = catching(|| {
            let mut asked = read(conn)?;
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match asked.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(answer) => answer,
                std::task::Poll::Pending => None,
            }
        });
        if let Ok(Some(connections)) = answer {
            self.report_server_budget(connections);
        }
    }

    /// Waits for `waiter`'s grant until `deadline`; at the deadline, takes what is free or
    /// times out (`timeout` for the error's text).
    fn wait_for(
        &self,
        waiter: &Arc<Waiter<M::Connection>>,
        deadline: Option<Instant>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Reservation<'_, M::Connection>, Error<M::Error>> {
        let core = &self.shared.core;
        match core.wait_blocking(waiter, deadline) {
            Waited::Granted(grant) => Ok(core.reservation_for(waiter, grant)),
            // Taken off the queue by the connect that failed.
            Waited::Failed(error) => Err(Error::ConnectFailed(error)),
            Waited::TimedOut => core
                .cancel_wait(waiter, true)
                .ok_or_else(|| Error::Timeout(core.timeout_error(timeout))),
        }
    }
}

/// `timeout` from now; `None` without one, with zero (which refuses to wait but lets a
/// connect take its time), or with one too far to represent.
fn deadline_after(timeout: Option<std::time::Duration>) -> Option<Instant> {
    let timeout = timeout.filter(|t| !t.is_zero())?;
    Instant::now().checked_add(timeout)
}

impl<M: r2d2::ManageConnection> Pool<M> {
    /// Opens a connection on a connector thread, waiting until `deadline` at most. At the
    /// deadline the reservation is taken out of `waiting` and left with the connect, which
    /// frees its slot when it returns; `Err(())` then.
    fn connect_until(
        &self,
        permit: connector::Permit,
        deadline: Instant,
        span: &tracing::Span,
        waiting: &mut Option<Reservation<'_, M::Connection>>,
    ) -> Result<Result<M::Connection, M::Error>, ()>
    where
        M::Error: Send,
    {
        let manager = Arc::clone(&self.shared.manager);
        let span = span.clone();
        let core = Arc::clone(&self.shared.core);
        connector::run_until(
            permit,
            move || span.in_scope(|| manager.connect()),
            deadline,
            || {
                let abandoned = waiting
                    .take()
                    .expect("the reservation waits for its connect")
                    .abandon();
                Box::new(move |outcome| {
                    let conn = outcome.ok().and_then(Result::ok);
                    core.release_abandoned(abandoned, conn);
                })
            },
        )
    }
}

impl<M: r2d2::ManageConnection> Pool<M> {
    /// Pings the reservation's connection on a connector thread, waiting until `deadline` at
    /// most: the ping's outcome, the connection back in the reservation (`None`: it had none;
    /// a panic in the ping carries on here, the connection closed by the reservation). At the
    /// deadline the reservation is taken out of `waiting` and left with the ping, which closes
    /// the connection and frees its slot when it returns; `Err(())` then.
    fn ping_until(
        &self,
        permit: connector::Permit,
        deadline: Instant,
        waiting: &mut Option<Reservation<'_, M::Connection>>,
    ) -> Result<Option<Result<(), M::Error>>, ()>
    where
        M::Error: Send,
    {
        let lent = waiting.as_mut().and_then(Reservation::lend_conn);
        let Some(mut conn) = lent else {
            return Ok(None);
        };
        let manager = Arc::clone(&self.shared.manager);
        let core = Arc::clone(&self.shared.core);
        let (conn, outcome) = connector::run_until(
            permit,
            move || {
                // The connection outlives a panicking ping, to be closed with its event.
                let outcome = catching(|| manager.is_valid(&mut conn));
                (conn, outcome)
            },
            deadline,
            || {
                let abandoned = waiting
                    .take()
                    .expect("the reservation waits for its ping")
                    .abandon();
                Box::new(move |outcome| {
                    let conn = outcome.ok().map(|(conn, _)| conn);
                    core.release_abandoned(abandoned, conn);
                })
            },
        )?;
        if let Some(reservation) = waiting.as_mut() {
            reservation.conn_back(conn);
        }
        match outcome {
            Ok(pinged) => Ok(Some(pinged)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<M: r2d2::ManageConnection> Shared<M> {
    /// Runs the reset function; an error or a panic in it becomes the cause.
    pub(super) fn run_reset(
        &self,
        conn: &mut M::Connection,
        action: crate::ResetAction,
    ) -> Result<(), Cause> {
        let Some(reset) = self.builder.kind.reset.as_ref() else {
            return Err(Cause::text("no reset function"));
        };
        match catching(|| reset.reset(conn, action)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Cause::new(e)),
            Err(_) => Err(Cause::text(format!(
                "the {} function panicked",
                action.as_str()
            ))),
        }
    }
}

impl<M: r2d2::ManageConnection> Front for Blocking<M> {
    type Manager = M;
    type Reset = dyn Reset<M::Connection>;
    const POOL_NAME: &'static str = "Pool";
    const GUARD_NAME: &'static str = "PooledConnection";
    const DETACHED_NAME: &'static str = "DetachedConnection";

    /// Returns a connection: broken check, reset per policy, then keep or close.
    fn give_back(shared: &Arc<Shared<M>>, checked: Checked<M::Connection>) {
        let core = &shared.core;
        let mut checked = checked;
        let broken = catching(|| shared.manager.has_broken(&mut checked.conn));
        let open = shared.builder.kind.reset.as_ref().and_then(|reset| {
            catching(|| reset.transaction_open(&mut checked.conn))
                .ok()
                .flatten()
        });
        let Some((mut checked, step)) = core.start_return(checked, broken, open) else {
            return;
        };
        match step {
            ReturnStep::CheckIn => core.end_return(checked, None),
            ReturnStep::Reset(action) => {
                let span = reset_span(&core.config, action);
                let outcome = span.in_scope(|| shared.run_reset(&mut checked.conn, action));
                if outcome.is_err() {
                    fail(&span, "reset");
                }
                core.end_return(checked, Some((action, outcome)));
            }
        }
    }

    fn reset_detached(
        shared: &Shared<M>,
        conn: &mut M::Connection,
        action: Option<ResetAction>,
        id: u64,
    ) {
        let Some(action) = action else {
            return;
        };
        let core = &shared.core;
        core.emit(Event::Resetting {
            conn: Conn::Id(id),
            action,
        });
        if let Err(message) = shared.run_reset(conn, action) {
            core.emit(Event::ResetDone {
                action,
                error: Some(&message),
                pooled: false,
            });
        }
    }

    fn build_pool(builder: PoolBuilder<Self>, manager: Arc<M>) -> Result<Pool<M>, BuildError> {
        let can_reset = builder.kind.reset.is_some();
        builder.into_pool(manager, FrontEnd::Blocking, can_reset)
    }
}
