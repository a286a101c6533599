use std::future::{poll_fn, Future};
use std::panic::Location;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use super::builder::{AsyncBuilder, Tokio};
use super::catch_unwind::CatchUnwind;
use super::guard::AsyncPooledConnection;
use crate::builder::PoolBuilder;
use crate::cause::Cause;
use crate::config::FrontEnd;
use crate::config::ResetAction;
use crate::core::panics::catching;
use crate::core::{
    AfterFailure, Begin, Checked, Core, Reservation, ReturnStep, Started, Step, Waited, Waiter,
};
use crate::error::BuildError;
use crate::error::{CheckoutSite, Error, PoolFailure};
use crate::owner::Owner;
use crate::pool::{ConnectionPool, Front};
use crate::reset::AsyncReset;
use crate::spans::{connect_span, fail, reset_span, CheckoutClock, CheckoutTrace, ConnectTimer};
use crate::timer;
use tracing::Instrument;

/// An async connection pool with SQLAlchemy's semantics over a `bb8::ManageConnection`, on
/// Tokio: [`ConnectionPool`] of the [`Tokio`] front, whose methods it has, with `builder` and
/// `get` of its own. Cloning is cheap and shares the pool.
///
/// ```
/// use poolscope::{AsyncPool, ResetOnReturn};
/// # struct Manager;
/// # impl bb8::ManageConnection for Manager {
/// #     type Connection = Vec<String>;
/// #     type Error = std::io::Error;
/// #     async fn connect(&self) -> Result<Vec<String>, std::io::Error> { Ok(Vec::new()) }
/// #     async fn is_valid(&self, _: &mut Vec<String>) -> Result<(), std::io::Error> { Ok(()) }
/// #     fn has_broken(&self, _: &mut Vec<String>) -> bool { false }
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let pool = AsyncPool::builder()
///     .pool_size(2)
///     .reset_on_return(ResetOnReturn::None)
///     .build(Manager)
///     .await?;
/// {
///     let mut conn = pool.get().await?;
///     conn.push("used".into());
/// }
/// assert_eq!(pool.status().checked_in, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub type AsyncPool<M> = ConnectionPool<Tokio<M>>;

/// What every handle to one async pool shares.
pub(super) type Shared<M> = crate::pool::Shared<Tokio<M>>;

/// Removes a waiter from the queue if the waiting future is dropped (cancelled), and gives
/// back any grant that reached it meanwhile.
struct CancelWait<'a, C> {
    core: &'a Arc<Core<C>>,
    waiter: Option<Arc<Waiter<C>>>,
}

impl<C> Drop for CancelWait<'_, C> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            drop(self.core.cancel_wait(&waiter, false));
        }
    }
}

impl<M: bb8::ManageConnection> AsyncPool<M> {
    /// A builder with SQLAlchemy's defaults.
    pub fn builder() -> AsyncBuilder<M> {
        AsyncBuilder::default()
    }

    /// Opens connections now, so that a wrong URL or a server that is down fails here, at
    /// start, rather than at the first request (what bb8's `build` does with `min_idle`);
    /// see [`Pool::prefill`](crate::Pool::prefill).
    ///
    /// # Errors
    /// As [`get`](Self::get): the first checkout that fails.
    pub async fn prefill(&self, count: usize) -> Result<(), Error<M::Error>> {
        let count = self.shared.core.config.prefill_count(count);
        let mut held = Vec::with_capacity(count);
        for _ in 0..count {
            held.push(self.get().await?);
        }
        drop(held);
        Ok(())
    }

    /// Checks out a connection: an idle one, a new one within the class's limits, or the next
    /// one returned, waiting up to `pool_timeout`. Dropping the future while it waits leaves
    /// the pool as if it had never asked.
    ///
    /// # Errors
    /// As [`Pool::get`](crate::Pool::get).
    #[track_caller]
    pub fn get(
        &self,
    ) -> impl Future<Output = Result<AsyncPooledConnection<M>, Error<M::Error>>> + Send + '_ {
        let location = Location::caller();
        async move {
            let core = &self.shared.core;
            let site = core.site(location, Owner::current_task);
            let deadline = || self.deadline();
            let (begun, first) = match core
                .begin(&site, core.config.timeout, deadline)
                .first_step()
            {
                // An idle connection handed out at once: its span is born knowing the
                // outcome, and nothing runs inside it to enter it for (see `spans.rs`).
                Started::AtOnce(reservation) => {
                    let at = CheckoutTrace::at_once(core, reservation.outcome());
                    let checked = reservation.finish(at);
                    return Ok(self.hand_out(checked, location));
                }
                Started::Later(begun, first) => (begun, first),
            };
            let mut trace = CheckoutTrace::start(core, None);
            // Entered on every poll, as `.instrument(span)` would, but not again to drop the
            // finished future (a span enter and exit more per checkout under a subscriber,
            // 1.76x an empty span's cost under tracing-opentelemetry against 1.40x blocking),
            // and the span is not cloned.
            let result = {
                let mut checkout = std::pin::pin!(self.checkout(
                    begun,
                    first,
                    &site,
                    &trace.span,
                    &mut trace.clock
                ));
                std::future::poll_fn(|cx| trace.span.in_scope(|| checkout.as_mut().poll(cx))).await
            };
            if let Err(e) = &result {
                let CheckoutTrace { span, clock } = &trace;
                span.in_scope(|| clock.failed(span, core, e.error_type()));
            }
            result
        }
    }

    /// A checkout that waits, connects, pings or runs listeners, from what `begin` said
    /// (and the first step it already took, if any).
    async fn checkout(
        &self,
        begun: Begin<'_, M::Connection>,
        mut first: Option<Step>,
        site: &CheckoutSite,
        span: &tracing::Span,
        clock: &mut CheckoutClock,
    ) -> Result<AsyncPooledConnection<M>, Error<M::Error>> {
        let core = &self.shared.core;
        // The checkout's deadline (`pool_timeout` from its start), read from the clock only
        // when it waits or connects.
        let mut deadline = None;
        let mut reservation = match begun {
            Begin::Reserved(reservation) => reservation,
            Begin::Refused(failure) => return Err(failure.into()),
            Begin::Wait(waiter) => {
                clock.mark();
                deadline = waiter.deadline();
                self.wait(waiter).await?
            }
        };
        let manager = &self.shared.manager;
        loop {
            match first.take().unwrap_or_else(|| reservation.next_step()) {
                Step::Connect => {
                    clock.mark();
                    // `pool_timeout` bounds the whole checkout: a refusal's wait after this
                    // connect ends at the same deadline.
                    deadline = deadline.or_else(|| self.deadline());
                    // Boxed: connecting is rare, and its timer and the manager's future would
                    // otherwise make every `get()` future larger (608 -> 760 bytes).
                    let Some(e) = Box::pin(self.connect(&mut reservation, deadline)).await? else {
                        continue;
                    };
                    let reason = self.shared.builder.kind.classify(&e);
                    // A zero timeout refuses to wait, for capacity too.
                    let may_wait = !core.config.timeout.is_some_and(|t| t.is_zero());
                    // bb8's managers promise only `Debug` for their errors.
                    let describe = || format!("{e:?}");
                    match reservation.connect_failed(
                        reason,
                        describe,
                        site,
                        may_wait.then_some(deadline),
                    ) {
                        AfterFailure::Fail => return Err(Error::Connect(e)),
                        AfterFailure::Wait(waiter) => {
                            reservation = self.wait(waiter).await?;
                        }
                    }
                }
                Step::Ping => {
                    clock.mark_ping();
                    // Bounded like a connect: a server that does not answer the ping (frozen,
                    // a dead network path) costs the caller `pool_timeout`, not forever.
                    let at = core.bound(deadline.or_else(|| self.deadline()));
                    if let Some(conn) = reservation.conn_mut() {
                        let outcome = timer::within(at, manager.is_valid(conn)).await;
                        match outcome {
                            Some(Ok(())) => {}
                            Some(Err(e)) => reservation.ping_failed(format!("{e:?}")),
                            // No answer: the connection's state is unknown. Dropping the
                            // reservation (the ping counts as user code) closes it and frees
                            // the slot.
                            None => {
                                return Err(Error::ConnectTimeout(
                                    core.ping_timed_out(core.config.timeout),
                                ))
                            }
                        }
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

    /// Opens a connection for `reservation` (bounded by `deadline`, else by `pool_timeout`
    /// from now) and hands it over, `first_connect` included; the manager's error, if it
    /// failed (the checkout decides what comes of it).
    async fn connect(
        &self,
        reservation: &mut Reservation<'_, M::Connection>,
        deadline: Option<Instant>,
    ) -> Result<Option<M::Error>, Error<M::Error>> {
        let core = &self.shared.core;
        let span = connect_span(&core.config);
        let timer = ConnectTimer::start(core);
        let connecting = self.shared.manager.connect().instrument(span.clone());
        // A connect that hangs is dropped (cancelled) at the deadline.
        let bound = core.bound(deadline.or_else(|| self.deadline()));
        let Some(connected) = timer::within(bound, connecting).await else {
            fail(&span, "connect_timeout");
            return Err(Error::ConnectTimeout(
                core.connect_timed_out(core.config.timeout),
            ));
        };
        timer.done(core, &span, &connected);
        match connected {
            Ok(mut conn) => {
                if let Some(hook) = &self.shared.builder.kind.on_connect {
                    let set_up = CatchUnwind::new(hook.on_connect(&mut conn)).await;
                    let refused = match set_up {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e),
                        Err(()) => Some("the on_connect hook panicked".into()),
                    };
                    if let Some(e) = refused {
                        reservation.setup_failed(|| e.to_string());
                        drop(conn);
                        return Err(Error::Listener(crate::ListenerError::fatal(e)));
                    }
                }
                let turn = if core.first_connect.is_done() {
                    crate::core::first_connect::Turn::Passed
                } else {
                    let me = Owner::current_task();
                    poll_fn(|cx| core.first_connect.poll_turn(me, cx)).await
                };
                reservation.connected(conn, turn)?;
                self.read_server_budget(reservation).await;
                Ok(None)
            }
            Err(e) => Ok(Some(e)),
        }
    }

    /// Asks the pool's first connection how many connections the server admits (the
    /// adapter's reader), bounded by `pool_timeout`.
    async fn read_server_budget(&self, reservation: &mut Reservation<'_, M::Connection>) {
        let Some(read) = self.shared.builder.kind.budget else {
            return;
        };
        let core = &self.shared.core;
        if !core.asks_budget() {
            return;
        }
        let Some(asked) = reservation.conn_mut().and_then(read) else {
            return;
        };
        let answer = timer::within(core.bound(self.deadline()), CatchUnwind::new(asked)).await;
        if let Some(Ok(Some(connections))) = answer {
            self.report_server_budget(connections);
        }
    }

    /// `pool_timeout` from now; `None` without one, with zero (which refuses to wait but
    /// lets a connect take its time), or with one too far to represent.
    fn deadline(&self) -> Option<Instant> {
        let timeout = self.shared.core.config.timeout.filter(|t| !t.is_zero())?;
        Instant::now().checked_add(timeout)
    }

    /// Waits for a grant until the waiter's deadline, kept by the pool's alarm on
    /// poolscope's timer thread (see `core/deadlines.rs`).
    async fn wait(
        &self,
        waiter: Arc<Waiter<M::Connection>>,
    ) -> Result<Reservation<'_, M::Connection>, PoolFailure> {
        let core = &self.shared.core;
        let mut cancel = CancelWait {
            core,
            waiter: Some(Arc::clone(&waiter)),
        };
        let waited = poll_fn(|cx| core.poll_wait(&waiter, cx)).await;
        cancel.waiter = None;
        match waited {
            Waited::Granted(grant) => Ok(core.reservation_for(&waiter, grant)),
            // Taken off the queue by the connect that failed.
            Waited::Failed(error) => Err(PoolFailure::ConnectFailed(error)),
            Waited::TimedOut => core
                .cancel_wait(&waiter, true)
                .ok_or_else(|| PoolFailure::Timeout(core.timeout_error(core.config.timeout))),
        }
    }
}

impl<M: bb8::ManageConnection> Shared<M> {
    /// Runs the async reset function; an error, a panic or a timeout becomes the cause.
    async fn run_reset(&self, conn: &mut M::Connection, action: ResetAction) -> Result<(), Cause> {
        let Some(reset) = self.builder.kind.reset.as_ref() else {
            return Err(Cause::text("no reset function"));
        };
        let span = reset_span(&self.core.config, action);
        let reset = CatchUnwind::new(reset.reset(conn, action)).instrument(span.clone());
        // Bounded by poolscope's timer, which needs no runtime: a reset polled from `Drop`
        // on a runtime without the time driver is bounded too.
        let limit = self.builder.kind.reset_timeout;
        let bound = limit.and_then(|limit| {
            self.core
                .bound(std::time::Instant::now().checked_add(limit))
        });
        let finished = timer::within(bound, reset)
            .await
            .ok_or_else(|| limit.unwrap_or_default());
        let outcome = match finished {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(Cause::new(e)),
            Ok(Err(())) => Err(Cause::text(format!(
                "the {} function panicked",
                action.as_str()
            ))),
            Err(limit) => Err(Cause::text(format!(
                "the {} did not finish within its reset_timeout of {:.2} s; the connection \
                 is closed",
                action.as_str(),
                limit.as_secs_f64()
            ))),
        };
        if outcome.is_err() {
            fail(&span, "reset");
        }
        outcome
    }

    /// The first half of a return: a broken connection is invalidated and one with nothing
    /// to reset is checked in at once; a connection whose reset must be awaited comes back.
    fn start_return(
        &self,
        mut checked: Checked<M::Connection>,
    ) -> Option<(Checked<M::Connection>, ResetAction)> {
        let core = &self.core;
        let broken = catching(|| self.manager.has_broken(&mut checked.conn));
        let open = self.builder.kind.reset.as_ref().and_then(|reset| {
            catching(|| reset.transaction_open(&mut checked.conn))
                .ok()
                .flatten()
        });
        match core.start_return(checked, broken, open)? {
            (checked, ReturnStep::CheckIn) => core.end_return(checked, None),
            (checked, ReturnStep::Reset(action)) => return Some((checked, action)),
        }
        None
    }

    /// The second half: the awaited reset, then check-in (or invalidation if it failed). If
    /// this future is dropped before the reset finishes, the connection is closed.
    async fn reset_and_check_in(
        self: Arc<Self>,
        checked: Checked<M::Connection>,
        action: ResetAction,
    ) {
        let mut pending = PendingReturn {
            shared: self,
            checked: Some(checked),
            action,
        };
        let Some(checked) = pending.checked.as_mut() else {
            return;
        };
        let outcome = pending.shared.run_reset(&mut checked.conn, action).await;
        if let Some(checked) = pending.checked.take() {
            pending
                .shared
                .core
                .end_return(checked, Some((action, outcome)));
        }
    }

    /// Returns a connection, running the reset inline.
    pub(super) async fn give_back_async(self: &Arc<Self>, checked: Checked<M::Connection>) {
        if let Some((checked, action)) = self.start_return(checked) {
            Arc::clone(self).reset_and_check_in(checked, action).await;
        }
    }
}

/// A return whose reset has not finished: dropped before it does (its task cancelled, or no
/// runtime to run it on), it closes the connection and frees the slot rather than lose it.
struct PendingReturn<M: bb8::ManageConnection> {
    shared: Arc<Shared<M>>,
    checked: Option<Checked<M::Connection>>,
    action: ResetAction,
}

impl<M: bb8::ManageConnection> Drop for PendingReturn<M> {
    fn drop(&mut self) {
        if let Some(checked) = self.checked.take() {
            let unfinished = format!(
                "the {} did not finish (no Tokio runtime to run it on, or its task was \
                 cancelled); the connection is closed instead",
                self.action.as_str()
            );
            self.shared
                .core
                .end_return(checked, Some((self.action, Err(Cause::text(unfinished)))));
        }
    }
}

impl<M: bb8::ManageConnection> Front for Tokio<M> {
    type Manager = M;
    type Reset = dyn AsyncReset<M::Connection>;
    const POOL_NAME: &'static str = "AsyncPool";
    const GUARD_NAME: &'static str = "AsyncPooledConnection";
    const DETACHED_NAME: &'static str = "AsyncDetachedConnection";

    /// Returns a connection from `Drop`. The reset is polled once here: one that finishes at
    /// once (nothing to roll back) is done before `drop` returns. One that must wait for the
    /// server goes on on a spawned Tokio task, the slot counted as checked out until it
    /// finishes; with no Tokio runtime to run it on, the connection is closed instead.
    fn give_back(shared: &Arc<Shared<M>>, checked: Checked<M::Connection>) {
        let Some((checked, action)) = shared.start_return(checked) else {
            return;
        };
        let mut task = Box::pin(Arc::clone(shared).reset_and_check_in(checked, action));
        let mut cx = Context::from_waker(Waker::noop());
        if task.as_mut().poll(&mut cx).is_ready() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(task);
        }
        // Otherwise dropping the task closes the connection (see `PendingReturn`).
    }

    /// No async reset can run here: closing ends any transaction on the server.
    fn reset_detached(_: &Shared<M>, _: &mut M::Connection, _: Option<ResetAction>, _: u64) {}

    fn build_pool(builder: PoolBuilder<Self>, manager: Arc<M>) -> Result<AsyncPool<M>, BuildError> {
        if builder.kind.reset_timeout == Some(Duration::ZERO) {
            return Err(BuildError::ZeroResetTimeout);
        }
        let can_reset = builder.kind.reset.is_some();
        builder.into_pool(manager, FrontEnd::Async, can_reset)
    }
}
