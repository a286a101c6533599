//! One test body, both fronts: a [`TestPool`] is the blocking [`Pool`] or the async
//! [`AsyncPool`] over the fake manager, driven from plain threads (the async pool on a
//! multi-threaded Tokio runtime of its own, every call entering it). [`on_both_fronts!`]
//! turns a `fn(Front)` into a test per front.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use poolscope::{
    AsyncPool, AsyncPooledConnection, Error, Pool, PoolClass, PoolListener, PooledConnection,
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

/// The options the tests set, for either builder.
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
    pub listeners: Vec<Arc<dyn PoolListener<FakeConn>>>,
    /// The `metrics` facade's `gauge_interval`, when set.
    pub gauge_interval: Option<Duration>,
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
            listeners: Vec::new(),
            gauge_interval: None,
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

    pub fn listener(mut self, listener: impl PoolListener<FakeConn> + 'static) -> Self {
        self.listeners.push(Arc::new(listener));
        self
    }
}

/// A shared listener, registered on a builder.
struct SharedListener(Arc<dyn PoolListener<FakeConn>>);

macro_rules! forward_listener {
    ($($event:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
        impl PoolListener<FakeConn> for SharedListener {
            $(fn $event(&self, $($arg: $ty),*) $(-> $ret)? {
                self.0.$event($($arg),*)
            })*
        }
    };
}

forward_listener! {
    first_connect(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord) -> Result<(), poolscope::ListenerError>;
    connect(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord) -> Result<(), poolscope::ListenerError>;
    checkout(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord) -> Result<(), poolscope::ListenerError>;
    checkin(c: Option<&mut FakeConn>, r: &mut poolscope::ConnectionRecord);
    reset(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord, s: poolscope::ResetState);
    invalidate(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord, why: &poolscope::InvalidateReason);
    soft_invalidate(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord, why: &poolscope::InvalidateReason);
    close(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord);
    detach(c: &mut FakeConn, r: &mut poolscope::ConnectionRecord);
    close_detached(c: &mut FakeConn);
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
    runtime: Option<tokio::runtime::Handle>,
}

enum Inner {
    Blocking(PooledConnection<FakeManager>),
    Async(AsyncPooledConnection<FakeManager>),
}

impl TestPool {
    pub fn build(front: Front, db: &Db, opts: Opts) -> TestPool {
        match front {
            Front::Blocking => {
                let mut b = Pool::builder()
                    .pool_class(opts.class)
                    .pool_timeout(opts.timeout)
                    .pool_recycle(opts.recycle)
                    .pre_ping(opts.pre_ping)
                    .use_lifo(opts.lifo)
                    .reset_on_return(opts.reset)
                    .reset_with(fake_reset);
                if needs_sizes(opts.class) {
                    b = b.pool_size(opts.pool_size).max_overflow(opts.max_overflow);
                }
                for l in opts.listeners {
                    b = b.listener(SharedListener(l));
                }
                if let Some(every) = opts.gauge_interval {
                    b = b.gauge_interval(every);
                }
                TestPool::Blocking(b.build(db.manager()).unwrap())
            }
            Front::Async => {
                let rt = Arc::new(
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .unwrap(),
                );
                let mut b = AsyncPool::builder()
                    .pool_class(opts.class)
                    .pool_timeout(opts.timeout)
                    .pool_recycle(opts.recycle)
                    .pre_ping(opts.pre_ping)
                    .use_lifo(opts.lifo)
                    .reset_on_return(opts.reset)
                    .reset_with(FakeAsyncReset);
                if needs_sizes(opts.class) {
                    b = b.pool_size(opts.pool_size).max_overflow(opts.max_overflow);
                }
                for l in opts.listeners {
                    b = b.listener(SharedListener(l));
                }
                if let Some(every) = opts.gauge_interval {
                    b = b.gauge_interval(every);
                }
                let pool = rt.block_on(b.build(db.manager())).unwrap();
                TestPool::Async(pool, rt)
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
                runtime: Some(rt.handle().clone()),
            }),
        }
    }

    pub fn status(&self) -> Status {
        match self {
            TestPool::Blocking(pool) => pool.status(),
            TestPool::Async(pool, _) => pool.status(),
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

    pub fn invalidate_all(&self) {
        match self {
            TestPool::Blocking(pool) => pool.invalidate_all(),
            TestPool::Async(pool, _) => pool.invalidate_all(),
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
                    runtime: Some(rt.handle().clone()),
                }))
            }
        }
    }

    /// Waits until `n` callers wait (5 s at most).
    pub fn until_waiting(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.status().waiting < n {
            assert!(std::time::Instant::now() < deadline, "{}", self.status());
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until the counts settle with nothing checked out (an async return whose reset
    /// must await runs on a task), or 5 s; returns the status then.
    pub fn settled(&self) -> Status {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let status = self.status();
            if status.checked_out == 0 || std::time::Instant::now() > deadline {
                return status;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn needs_sizes(class: PoolClass) -> bool {
    matches!(class, PoolClass::Queue | PoolClass::SingletonThread)
}

impl Conn {
    fn inner(&self) -> &Inner {
        self.inner.as_ref().expect("held until consumed")
    }

    fn inner_mut(&mut self) -> &mut Inner {
        self.inner.as_mut().expect("held until consumed")
    }

    /// Runs `f` on the connection's guard, inside its runtime when it has one.
    fn consume(mut self, f: impl FnOnce(Inner)) {
        let _in = self.runtime.as_ref().map(|rt| rt.enter());
        if let Some(inner) = self.inner.take() {
            f(inner);
        }
    }

    pub fn connection_id(&self) -> u64 {
        match self.inner() {
            Inner::Blocking(c) => c.record().connection_id(),
            Inner::Async(c) => c.record().connection_id(),
        }
        .unwrap_or(0)
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

    /// Detaches the connection and closes the detached handle at once.
    pub fn detach_and_close(mut self) {
        self.leave_pool();
        self.consume(|inner| match inner {
            Inner::Blocking(c) => drop(c.detach()),
            Inner::Async(c) => drop(c.detach()),
        })
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

impl TestPool {
    /// Waiters that reached their deadline while the pool could have served them.
    pub fn missed_wakeups(&self) -> u64 {
        match self {
            TestPool::Blocking(pool) => pool.missed_wakeups(),
            TestPool::Async(pool, _) => pool.missed_wakeups(),
        }
    }
}
