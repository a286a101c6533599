//! One test body, both fronts: a [`TestPool`] is the blocking [`Pool`] or the async
//! [`AsyncPool`] over the fake manager, driven from plain threads (the async pool on a
//! multi-threaded Tokio runtime of its own, every call entering it). [`on_both_fronts!`]
//! turns a `fn(Front)` into a test per front.
//!
//! The async pool's reset finishes at once by default (`FakeAsyncReset` yields first when
//! `Opts::reset_awaits` is set), so that a dropped connection is back before `drop` returns
//! on both fronts and counts can be asserted right after it.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use poolscope::{
    AsyncPool, AsyncPooledConnection, BoxError, BoxFuture, ConnectionRecord, EchoPool, Error,
    Extensions, ManualClock, Pool, PoolClass, PoolListener, PooledConnection, ResetAction,
    ResetOnReturn, Status,
};

use super::{fake_reset, Db, FakeAsyncReset, FakeConn, FakeError, FakeManager};

/// Which front end a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Blocking,
    Async,
}

/// Expands `fn name(front: Front)` bodies into `name::blocking` and `name::tokio` tests.
#[macro_export]
macro_rules! on_both_fronts {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn blocking() {
                    super::$name($crate::common::fronts::Front::Blocking)
                }
                #[test]
                fn tokio() {
                    super::$name($crate::common::fronts::Front::Async)
                }
            }
        )*
    };
}

/// The options the tests set, for either builder. Options a class does not take (sizes
/// on NullPool, say) are left out for it.
#[derive(Clone)]
pub struct Opts {
    pub class: PoolClass,
    pub pool_size: usize,
    pub max_overflow: i64,
    pub timeout: Option<Duration>,
    pub pre_ping: bool,
    pub recycle: Option<Duration>,
    pub lifo: bool,
    pub reset: ResetOnReturn,
    /// The async reset yields once before it runs, so that a return must wait for it.
    pub reset_awaits: bool,
    pub listeners: Vec<Arc<dyn PoolListener<FakeConn>>>,
    /// Listeners put in front (`listener_first`), each ahead of those before it.
    pub first_listeners: Vec<Arc<dyn PoolListener<FakeConn>>>,
    /// The `metrics` facade's `gauge_interval`, when set.
    pub gauge_interval: Option<Duration>,
    pub clock: Option<ManualClock>,
    pub echo: EchoPool,
    pub name: Option<String>,
    /// Names the pool after a URL (`name_from_url`), and gives the manager that URL.
    pub url: Option<String>,
    pub db_system: Option<String>,
    pub leak_threshold: Option<Duration>,
    pub store_traceback: Option<bool>,
    /// The OpenTelemetry meter (`otel_meter`).
    #[cfg(feature = "opentelemetry")]
    pub meter: Option<opentelemetry::metrics::Meter>,
    /// Options read from text (`options`), applied after the rest.
    pub options: Option<poolscope::PoolOptions>,
    /// The reset says whether a transaction is open (`Reset::transaction_open`), as
    /// Diesel's does.
    pub reset_knows_transactions: bool,
    /// The blocking pool's pre-ping runs on a connector thread, bounded (`bounded_pre_ping`;
    /// the async pool's always is).
    pub bounded_pre_ping: bool,
    /// `wait_for_server_capacity`, when set.
    pub wait_for_server_capacity: Option<bool>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            class: PoolClass::Queue,
            pool_size: 5,
            max_overflow: 10,
            timeout: Some(Duration::from_secs(30)),
            pre_ping: false,
            recycle: None,
            lifo: false,
            reset: ResetOnReturn::Rollback,
            reset_awaits: false,
            listeners: Vec::new(),
            first_listeners: Vec::new(),
            gauge_interval: None,
            clock: None,
            echo: EchoPool::Off,
            name: None,
            url: None,
            db_system: None,
            leak_threshold: None,
            store_traceback: None,
            #[cfg(feature = "opentelemetry")]
            meter: None,
            options: None,
            reset_knows_transactions: false,
            bounded_pre_ping: false,
            wait_for_server_capacity: None,
        }
    }
}

impl Opts {
    /// QueuePool `pool_size` + `max_overflow`, waiting up to `timeout`.
    pub fn queue(pool_size: usize, max_overflow: i64, timeout: Duration) -> Self {
        Opts {
            pool_size,
            max_overflow,
            timeout: Some(timeout),
            ..Opts::default()
        }
    }

    /// Another class, with its defaults.
    pub fn class(class: PoolClass) -> Self {
        Opts {
            class,
            ..Opts::default()
        }
    }

    pub fn listener(mut self, listener: impl PoolListener<FakeConn> + 'static) -> Self {
        self.listeners.push(Arc::new(listener));
        self
    }
}

/// The async reset for the fake connections that finishes at once (the fake's rollback is
/// instant), so that returns complete inside `drop` as on the blocking pool.
struct InstantAsyncReset;

impl poolscope::AsyncReset<FakeConn> for InstantAsyncReset {
    fn reset<'a>(
        &'a self,
        conn: &'a mut FakeConn,
        action: ResetAction,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { fake_reset(conn, action) })
    }
}

/// The fake reset, telling the pool whether a transaction is open (as Diesel's does).
struct KnowingReset;

impl poolscope::Reset<FakeConn> for KnowingReset {
    fn reset(&self, conn: &mut FakeConn, action: ResetAction) -> Result<(), BoxError> {
        fake_reset(conn, action)
    }
    fn transaction_open(&self, conn: &mut FakeConn) -> Option<bool> {
        Some(conn.in_transaction)
    }
}

impl poolscope::AsyncReset<FakeConn> for KnowingReset {
    fn reset<'a>(
        &'a self,
        conn: &'a mut FakeConn,
        action: ResetAction,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { fake_reset(conn, action) })
    }
    fn transaction_open(&self, conn: &mut FakeConn) -> Option<bool> {
        Some(conn.in_transaction)
    }
}

/// Applies `opts` to a builder of either front (their setters share names).
macro_rules! configure {
    ($builder:expr, $opts:expr) => {{
        let opts = $opts;
        let class = opts.class;
        let mut b = $builder
            .pool_class(class)
            .pool_recycle(opts.recycle)
            .pre_ping(opts.pre_ping)
            .reset_on_return(opts.reset)
            .echo_pool(opts.echo)
            .leak_detection_threshold(opts.leak_threshold);
        if matches!(class, PoolClass::Queue | PoolClass::Static) {
            b = b.pool_timeout(opts.timeout);
        }
        if matches!(class, PoolClass::Queue | PoolClass::SingletonThread) {
            b = b.pool_size(opts.pool_size);
        }
        if class == PoolClass::Queue {
            b = b.max_overflow(opts.max_overflow).use_lifo(opts.lifo);
        }
        if let Some(store) = opts.store_traceback {
            b = b.store_traceback(store);
        }
        if let Some(name) = opts.name {
            b = b.name(name);
        }
        if let Some(url) = &opts.url {
            b = b.name_from_url(url);
        }
        if let Some(system) = opts.db_system {
            b = b.db_system_name(system);
        }
        if let Some(clock) = opts.clock {
            b = b.clock(clock);
        }
        if let Some(options) = &opts.options {
            b = b.options(options);
        }
        if let Some(wait) = opts.wait_for_server_capacity {
            b = b.wait_for_server_capacity(wait);
        }
        #[cfg(any(feature = "metrics", feature = "opentelemetry"))]
        if let Some(every) = opts.gauge_interval {
            b = b.gauge_interval(every);
        }
        #[cfg(feature = "opentelemetry")]
        if let Some(meter) = opts.meter {
            b = b.otel_meter(meter);
        }
        for l in opts.listeners {
            b = b.listener(l);
        }
        for l in opts.first_listeners {
            b = b.listener_first(l);
        }
        b
    }};
}

fn manager(db: &Db, opts: &Opts) -> FakeManager {
    match &opts.url {
        Some(url) => db.manager_with_url(url),
        None => db.manager(),
    }
}

/// A pool under test, on either front. Cloning shares the pool.
#[derive(Clone)]
pub enum TestPool {
    Blocking(Pool<FakeManager>),
    Async(AsyncPool<FakeManager>, Arc<tokio::runtime::Runtime>),
}

/// A connection checked out of a [`TestPool`]. An async one is returned, invalidated or
/// detached inside its runtime (its return may spawn a task).
pub struct Conn {
    inner: Option<Inner>,
    runtime: Option<Arc<tokio::runtime::Runtime>>,
}

enum Inner {
    Blocking(PooledConnection<FakeManager>),
    Async(AsyncPooledConnection<FakeManager>),
}

impl TestPool {
    /// A pool of `front` over `db`, as `opts` say.
    pub fn build(front: Front, db: &Db, opts: Opts) -> TestPool {
        Self::try_build(front, db, opts).unwrap()
    }

    /// As [`build`](Self::build), with the builder's refusal as an error.
    pub fn try_build(front: Front, db: &Db, opts: Opts) -> Result<TestPool, poolscope::BuildError> {
        match front {
            Front::Blocking => {
                let manager = manager(db, &opts);
                let knows = opts.reset_knows_transactions;
                let bounded = opts.bounded_pre_ping;
                let b = configure!(Pool::builder(), opts).bounded_pre_ping(bounded);
                let b = if knows {
                    b.reset_with(KnowingReset)
                } else {
                    b.reset_with(fake_reset)
                };
                Ok(TestPool::Blocking(b.build(manager)?))
            }
            Front::Async => {
                let rt = Arc::new(
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .unwrap(),
                );
                let awaits = opts.reset_awaits;
                let knows = opts.reset_knows_transactions;
                let manager = manager(db, &opts);
                let b = configure!(AsyncPool::builder(), opts);
                let b = if knows {
                    b.reset_with(KnowingReset)
                } else if awaits {
                    b.reset_with(FakeAsyncReset)
                } else {
                    b.reset_with(InstantAsyncReset)
                };
                let pool = rt.block_on(b.build(manager))?;
                Ok(TestPool::Async(pool, rt))
            }
        }
    }

    pub fn front(&self) -> Front {
        match self {
            TestPool::Blocking(_) => Front::Blocking,
            TestPool::Async(..) => Front::Async,
        }
    }

    #[track_caller]
    pub fn get(&self) -> Result<Conn, Error<FakeError>> {
        match self {
            TestPool::Blocking(pool) => Ok(Conn {
                inner: Some(Inner::Blocking(pool.get()?)),
                runtime: None,
            }),
            TestPool::Async(pool, rt) => Ok(Conn {
                inner: Some(Inner::Async(rt.block_on(pool.get())?)),
                runtime: Some(Arc::clone(rt)),
            }),
        }
    }

    /// Checks out, giving up after `patience`: the async pool's `get()` future is dropped
    /// (cancelled) then; the blocking pool cannot be cancelled and waits its `pool_timeout`.
    /// `None` when it gave up.
    pub fn get_within(&self, patience: Duration) -> Option<Result<Conn, Error<FakeError>>> {
        match self {
            TestPool::Blocking(_) => Some(self.get()),
            TestPool::Async(pool, rt) => {
                let got = rt
                    .block_on(async { tokio::time::timeout(patience, pool.get()).await })
                    .ok()?;
                Some(got.map(|conn| Conn {
                    inner: Some(Inner::Async(conn)),
                    runtime: Some(Arc::clone(rt)),
                }))
            }
        }
    }

    pub fn prefill(&self, count: usize) -> Result<(), Error<FakeError>> {
        match self {
            TestPool::Blocking(pool) => pool.prefill(count),
            TestPool::Async(pool, rt) => rt.block_on(pool.prefill(count)),
        }
    }

    pub fn status(&self) -> Status {
        match self {
            TestPool::Blocking(pool) => pool.status(),
            TestPool::Async(pool, _) => pool.status(),
        }
    }

    /// SQLAlchemy's `(size, checkedin, overflow, checkedout)`.
    pub fn counts(&self) -> (usize, usize, i64, usize) {
        let s = self.status();
        (s.size, s.checked_in, s.overflow, s.checked_out)
    }

    /// `pool_timeout`.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            TestPool::Blocking(pool) => pool.timeout(),
            TestPool::Async(pool, _) => pool.timeout(),
        }
    }

    /// The pool's `Debug`.
    pub fn debug(&self) -> String {
        match self {
            TestPool::Blocking(pool) => format!("{pool:?}"),
            TestPool::Async(pool, _) => format!("{pool:?}"),
        }
    }

    pub fn name(&self) -> String {
        match self {
            TestPool::Blocking(pool) => pool.name().to_owned(),
            TestPool::Async(pool, _) => pool.name().to_owned(),
        }
    }

    pub fn dispose(&self) {
        match self {
            TestPool::Blocking(pool) => pool.dispose(),
            TestPool::Async(pool, rt) => {
                let _in = rt.enter();
                pool.dispose()
            }
        }
    }

    /// SQLAlchemy's `recreate()`: a new, empty pool like this one.
    pub fn recreate(&self) -> TestPool {
        match self {
            TestPool::Blocking(pool) => TestPool::Blocking(pool.recreate().unwrap()),
            TestPool::Async(pool, rt) => TestPool::Async(pool.recreate().unwrap(), Arc::clone(rt)),
        }
    }

    /// Whether two pools use the same manager (as `recreate()` promises).
    pub fn shares_manager_with(&self, other: &TestPool) -> bool {
        match (self, other) {
            (TestPool::Blocking(a), TestPool::Blocking(b)) => {
                std::ptr::eq(a.manager(), b.manager())
            }
            (TestPool::Async(a, _), TestPool::Async(b, _)) => {
                std::ptr::eq(a.manager(), b.manager())
            }
            _ => false,
        }
    }

    pub fn class(&self) -> PoolClass {
        match self {
            TestPool::Blocking(pool) => pool.class(),
            TestPool::Async(pool, _) => pool.class(),
        }
    }

    pub fn invalidate_all(&self) {
        match self {
            TestPool::Blocking(pool) => pool.invalidate_all(),
            TestPool::Async(pool, _) => pool.invalidate_all(),
        }
    }

    /// Waiters that reached their deadline while the pool could have served them.
    pub fn missed_wakeups(&self) -> u64 {
        match self {
            TestPool::Blocking(pool) => pool.missed_wakeups(),
            TestPool::Async(pool, _) => pool.missed_wakeups(),
        }
    }

    /// Waits until `n` callers wait (10 s at most).
    pub fn until_waiting(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.status().waiting < n {
            assert!(std::time::Instant::now() < deadline, "{}", self.status());
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until `n` connections are checked out (an async return whose reset must await
    /// counts as checked out until its task is done), 10 s at most; the status then.
    pub fn until_checked_out(&self, n: usize) -> Status {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status();
            if status.checked_out == n || std::time::Instant::now() > deadline {
                return status;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until the counts settle with nothing checked out (an async return whose reset
    /// must await runs on a task), or 10 s; returns the status then.
    pub fn settled(&self) -> Status {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status();
            if status.checked_out == 0 || std::time::Instant::now() > deadline {
                return status;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Conn {
    fn inner(&self) -> &Inner {
        self.inner.as_ref().expect("held until consumed")
    }

    fn inner_mut(&mut self) -> &mut Inner {
        self.inner.as_mut().expect("held until consumed")
    }

    /// Runs `f` on the connection's guard, inside its runtime when it has one.
    fn consume<T>(mut self, f: impl FnOnce(Inner) -> T) -> T {
        let runtime = self.runtime.take();
        let _in = runtime.as_ref().map(|rt| rt.enter());
        f(self.inner.take().expect("held until consumed"))
    }

    pub fn record(&self) -> &ConnectionRecord {
        match self.inner() {
            Inner::Blocking(c) => c.record(),
            Inner::Async(c) => c.record(),
        }
    }

    pub fn record_mut(&mut self) -> &mut ConnectionRecord {
        match self.inner_mut() {
            Inner::Blocking(c) => c.record_mut(),
            Inner::Async(c) => c.record_mut(),
        }
    }

    /// The guard's `Debug`.
    pub fn debug(&self) -> String {
        match self.inner() {
            Inner::Blocking(c) => format!("{c:?}"),
            Inner::Async(c) => format!("{c:?}"),
        }
    }

    pub fn connection_id(&self) -> u64 {
        self.record().connection_id().unwrap_or(0)
    }

    pub fn checkout_location(&self) -> &'static std::panic::Location<'static> {
        match self.inner() {
            Inner::Blocking(c) => c.checkout_location(),
            Inner::Async(c) => c.checkout_location(),
        }
    }

    /// Returns the connection explicitly: `close()` (the async one awaits its reset).
    pub fn close(self) {
        let runtime = self.runtime.clone();
        self.consume(|inner| match inner {
            Inner::Blocking(c) => c.close(),
            Inner::Async(c) => runtime.expect("an async pool's").block_on(c.close()),
        })
    }

    /// Invalidates the connection: closed, its slot back empty.
    pub fn invalidate(self) {
        self.consume(|inner| match inner {
            Inner::Blocking(c) => c.invalidate(),
            Inner::Async(c) => c.invalidate(),
        })
    }

    pub fn soft_invalidate(&mut self) {
        match self.inner_mut() {
            Inner::Blocking(c) => c.soft_invalidate(),
            Inner::Async(c) => c.soft_invalidate(),
        }
    }

    /// Invalidates the connection because of `error` (SQLAlchemy's `invalidate(e)`).
    pub fn invalidate_with(self, error: &FakeError) {
        self.consume(|inner| match inner {
            Inner::Blocking(c) => c.invalidate_with(error),
            Inner::Async(c) => c.invalidate_with(error),
        })
    }

    /// Soft-invalidates the connection because of `error`.
    pub fn soft_invalidate_with(&mut self, error: &FakeError) {
        match self.inner_mut() {
            Inner::Blocking(c) => c.soft_invalidate_with(error),
            Inner::Async(c) => c.soft_invalidate_with(error),
        }
    }

    /// Detaches the connection: the pool forgets it; the handle closes it when dropped.
    pub fn detach(mut self) -> Detached {
        self.leave_pool();
        let runtime = self.runtime.clone();
        let inner = self.consume(|inner| match inner {
            Inner::Blocking(c) => DetachedInner::Blocking(c.detach()),
            Inner::Async(c) => DetachedInner::Async(c.detach()),
        });
        Detached {
            inner: Some(inner),
            runtime,
        }
    }

    /// Detaches the connection and closes the detached handle at once.
    pub fn detach_and_close(self) {
        drop(self.detach());
    }
}

impl Deref for Conn {
    type Target = FakeConn;
    fn deref(&self) -> &FakeConn {
        match self.inner() {
            Inner::Blocking(c) => c,
            Inner::Async(c) => c,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut FakeConn {
        match self.inner_mut() {
            Inner::Blocking(c) => c,
            Inner::Async(c) => c,
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _in = self.runtime.as_ref().map(|rt| rt.enter());
        drop(self.inner.take());
    }
}

/// A connection detached from a [`TestPool`].
pub struct Detached {
    inner: Option<DetachedInner>,
    runtime: Option<Arc<tokio::runtime::Runtime>>,
}

enum DetachedInner {
    Blocking(poolscope::DetachedConnection<FakeManager>),
    Async(poolscope::AsyncDetachedConnection<FakeManager>),
}

impl Detached {
    /// Takes the raw connection: no reset, no `close_detached` event.
    pub fn into_inner(mut self) -> FakeConn {
        match self.inner.take().expect("held until dropped") {
            DetachedInner::Blocking(d) => d.into_inner(),
            DetachedInner::Async(d) => d.into_inner(),
        }
    }

    /// The handle's `Debug` text.
    pub fn debug(&self) -> String {
        match self.inner.as_ref().expect("held until dropped") {
            DetachedInner::Blocking(d) => format!("{d:?}"),
            DetachedInner::Async(d) => format!("{d:?}"),
        }
    }

    /// The `info` the connection carried.
    pub fn info(&self) -> &Extensions {
        match self.inner.as_ref().expect("held until dropped") {
            DetachedInner::Blocking(d) => d.info(),
            DetachedInner::Async(d) => d.info(),
        }
    }
}

impl Deref for Detached {
    type Target = FakeConn;
    fn deref(&self) -> &FakeConn {
        match self.inner.as_ref().expect("held until dropped") {
            DetachedInner::Blocking(d) => d,
            DetachedInner::Async(d) => d,
        }
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        let _in = self.runtime.as_ref().map(|rt| rt.enter());
        drop(self.inner.take());
    }
}
