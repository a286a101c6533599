//! Every pool behind one interface, built the same way: `size` connections, all opened and
//! idle before the first measurement, no reset on return (the peers have none), a wait
//! limit far beyond any bench, and the checkout test on only when `validated`.

use std::future::Future;
use std::ops::DerefMut;
use std::time::{Duration, Instant};

use crate::noop::{Noop, NoopConn};

/// Longer than any bench waits, so no checkout fails.
pub const NO_TIMEOUT: Duration = Duration::from_secs(120);

/// What a worker does while it holds a connection.
#[derive(Clone, Copy, Debug)]
pub enum Hold {
    /// Touches it and returns it.
    Touch,
    /// Lets the scheduler run someone else first (`yield_now`), so that with more workers
    /// than connections callers really wait.
    Yield,
    /// Sleeps this long.
    Sleep(Duration),
}

fn touch(conn: &mut NoopConn) {
    *conn = std::hint::black_box(*conn).wrapping_add(1);
}

/// A blocking pool.
pub trait BlockingPool: Clone + Send + Sync + 'static {
    /// A checked-out connection.
    type Guard: DerefMut<Target = NoopConn>;
    /// The pool's name in reports.
    const NAME: &'static str;
    /// Checks a connection out (panics on a pool error: none is expected).
    fn get(&self) -> Self::Guard;

    /// One checkout, hold, return.
    fn cycle(&self, hold: Hold) {
        let mut conn = self.get();
        touch(&mut conn);
        hold_thread(hold);
    }

    /// One cycle; returns how long the checkout waited.
    fn timed_cycle(&self, hold: Hold) -> Duration {
        let asked = Instant::now();
        let mut conn = self.get();
        let waited = asked.elapsed();
        touch(&mut conn);
        hold_thread(hold);
        waited
    }
}

/// An async pool.
pub trait AsyncPool: Clone + Send + Sync + 'static {
    /// A checked-out connection.
    type Guard<'a>: DerefMut<Target = NoopConn> + Send
    where
        Self: 'a;
    /// The pool's name in reports.
    const NAME: &'static str;
    /// Checks a connection out (panics on a pool error: none is expected).
    fn get(&self) -> impl Future<Output = Self::Guard<'_>> + Send;

    /// One checkout, hold, return.
    fn cycle(&self, hold: Hold) -> impl Future<Output = ()> + Send {
        async move {
            let mut conn = self.get().await;
            touch(&mut conn);
            hold_async(hold).await;
        }
    }

    /// One cycle; returns how long the checkout waited.
    fn timed_cycle(&self, hold: Hold) -> impl Future<Output = Duration> + Send {
        async move {
            let asked = Instant::now();
            let mut conn = self.get().await;
            let waited = asked.elapsed();
            touch(&mut conn);
            hold_async(hold).await;
            waited
        }
    }
}

fn hold_thread(hold: Hold) {
    match hold {
        Hold::Touch => {}
        Hold::Yield => std::thread::yield_now(),
        Hold::Sleep(d) => std::thread::sleep(d),
    }
}

async fn hold_async(hold: Hold) {
    match hold {
        Hold::Touch => {}
        Hold::Yield => tokio::task::yield_now().await,
        Hold::Sleep(d) => tokio::time::sleep(d).await,
    }
}

/// poolscope's blocking QueuePool (FIFO, SQLAlchemy's default), no overflow.
#[derive(Clone)]
pub struct Poolscope(pub poolscope::Pool<Noop>);

impl Poolscope {
    /// `size` connections, warmed.
    pub fn new(size: usize, validated: bool) -> Self {
        Poolscope::with(
            poolscope::Pool::builder(),
            size,
            0,
            validated,
            Noop::new(validated),
        )
    }

    /// As [`new`](Self::new), with the `metrics` facade's count gauges set on every change
    /// (`gauge_interval(Duration::ZERO)`) instead of by poolscope's publisher thread.
    #[cfg(feature = "instrumentation")]
    pub fn with_gauges_on_every_change(size: usize) -> Self {
        let builder = poolscope::Pool::builder().gauge_interval(std::time::Duration::ZERO);
        Poolscope::with(builder, size, 0, false, Noop::new(false))
    }

    /// A QueuePool of `size` plus `overflow` from `builder`, on `manager`, warmed to `size`.
    pub fn with(
        builder: poolscope::Builder<Noop>,
        size: usize,
        overflow: i64,
        validated: bool,
        manager: Noop,
    ) -> Self {
        let pool = builder
            .name("bench")
            .pool_size(size)
            .max_overflow(overflow)
            .pool_timeout(NO_TIMEOUT)
            .pre_ping(validated)
            .reset_on_return(poolscope::ResetOnReturn::None)
            .build(manager)
            .expect("valid options");
        let pool = Poolscope(pool);
        warm_blocking(&pool, size);
        pool
    }
}

impl BlockingPool for Poolscope {
    type Guard = poolscope::PooledConnection<Noop>;
    const NAME: &'static str = "poolscope";
    fn get(&self) -> Self::Guard {
        self.0.get().expect("a checkout within the timeout")
    }
}

/// r2d2 with `min_idle` = `max_size`.
#[derive(Clone)]
pub struct R2d2(pub r2d2::Pool<Noop>);

impl R2d2 {
    /// `size` connections, warmed.
    pub fn new(size: usize, validated: bool) -> Self {
        let pool = r2d2::Pool::builder()
            .max_size(size as u32)
            .min_idle(Some(size as u32))
            .test_on_check_out(validated)
            .connection_timeout(NO_TIMEOUT)
            .build(Noop::new(validated))
            .expect("valid options");
        let pool = R2d2(pool);
        warm_blocking(&pool, size);
        pool
    }
}

impl BlockingPool for R2d2 {
    type Guard = r2d2::PooledConnection<Noop>;
    const NAME: &'static str = "r2d2";
    fn get(&self) -> Self::Guard {
        self.0.get().expect("a checkout within the timeout")
    }
}

fn warm_blocking<P: BlockingPool>(pool: &P, size: usize) {
    let held: Vec<_> = (0..size).map(|_| pool.get()).collect();
    drop(held);
}

/// poolscope's async QueuePool (FIFO), no overflow.
#[derive(Clone)]
pub struct PoolscopeAsync(pub poolscope::AsyncPool<Noop>);

impl PoolscopeAsync {
    /// `size` connections, warmed.
    pub async fn new(size: usize, validated: bool) -> Self {
        PoolscopeAsync::with(
            poolscope::AsyncPool::builder(),
            size,
            0,
            validated,
            Noop::new(validated),
        )
        .await
    }

    /// As [`new`](Self::new), with the `metrics` facade's count gauges set on every change
    /// (`gauge_interval(Duration::ZERO)`) instead of by poolscope's publisher thread.
    #[cfg(feature = "instrumentation")]
    pub async fn with_gauges_on_every_change(size: usize) -> Self {
        let builder = poolscope::AsyncPool::builder().gauge_interval(std::time::Duration::ZERO);
        PoolscopeAsync::with(builder, size, 0, false, Noop::new(false)).await
    }

    /// As [`new`](Self::new) with no `pool_timeout`: a checkout waits for good, with no
    /// timer, like deadpool with its defaults (no `wait_timeout`).
    pub async fn without_timeout(size: usize) -> Self {
        let builder = poolscope::AsyncPool::builder().pool_timeout(None);
        PoolscopeAsync::built(builder, size, 0, false, Noop::new(false)).await
    }

    /// A QueuePool of `size` plus `overflow` from `builder`, on `manager`, warmed to `size`.
    pub async fn with(
        builder: poolscope::AsyncBuilder<Noop>,
        size: usize,
        overflow: i64,
        validated: bool,
        manager: Noop,
    ) -> Self {
        let builder = builder.pool_timeout(NO_TIMEOUT);
        PoolscopeAsync::built(builder, size, overflow, validated, manager).await
    }

    /// [`with`](Self::with), the `pool_timeout` as `builder` has it.
    async fn built(
        builder: poolscope::AsyncBuilder<Noop>,
        size: usize,
        overflow: i64,
        validated: bool,
        manager: Noop,
    ) -> Self {
        let pool = builder
            .name("bench")
            .pool_size(size)
            .max_overflow(overflow)
            .pre_ping(validated)
            .reset_on_return(poolscope::ResetOnReturn::None)
            .build(manager)
            .await
            .expect("valid options");
        let pool = PoolscopeAsync(pool);
        warm_async(&pool, size).await;
        pool
    }
}

impl AsyncPool for PoolscopeAsync {
    type Guard<'a> = poolscope::AsyncPooledConnection<Noop>;
    const NAME: &'static str = "poolscope";
    async fn get(&self) -> Self::Guard<'_> {
        self.0.get().await.expect("a checkout within the timeout")
    }
}

/// bb8 with `min_idle` = `max_size`.
#[derive(Clone)]
pub struct Bb8(pub bb8::Pool<Noop>);

impl Bb8 {
    /// `size` connections, warmed.
    pub async fn new(size: usize, validated: bool) -> Self {
        let pool = bb8::Pool::builder()
            .max_size(size as u32)
            .min_idle(Some(size as u32))
            .test_on_check_out(validated)
            .connection_timeout(NO_TIMEOUT)
            .build(Noop::new(validated))
            .await
            .expect("valid options");
        let pool = Bb8(pool);
        warm_async(&pool, size).await;
        pool
    }
}

impl AsyncPool for Bb8 {
    type Guard<'a> = bb8::PooledConnection<'a, Noop>;
    const NAME: &'static str = "bb8";
    async fn get(&self) -> Self::Guard<'_> {
        self.0.get().await.expect("a checkout within the timeout")
    }
}

/// mobc, the one Rust pool that records metrics through the `metrics` facade on every
/// checkout (connections opened / closed, open / busy / idle gauges, a wait histogram), with
/// its defaults but the checkout test, which follows `validated` as for the other peers
/// (mobc tests by default). Its default `get_timeout` (30 s) puts a timer on every checkout,
/// as its users have it. Its metrics go to whatever recorder is installed when it runs.
#[derive(Clone)]
pub struct Mobc(pub mobc::Pool<Noop>);

impl Mobc {
    /// `size` connections, warmed.
    pub async fn new(size: usize, validated: bool) -> Self {
        let pool = mobc::Pool::builder()
            .max_open(size as u64)
            .max_idle(size as u64)
            .test_on_check_out(validated)
            .build(Noop::new(validated));
        let pool = Mobc(pool);
        warm_async(&pool, size).await;
        pool
    }
}

impl AsyncPool for Mobc {
    type Guard<'a> = mobc::Connection<Noop>;
    const NAME: &'static str = "mobc";
    async fn get(&self) -> Self::Guard<'_> {
        self.0.get().await.expect("a checkout within the timeout")
    }
}

/// [`Mobc`] with its metrics going to `recorder` wherever its tasks run: every poll of a
/// checkout and every return runs with `recorder` as the thread's local recorder (mobc looks
/// the recorder up on each record, so a recorder set around `block_on` would not reach the
/// worker threads of a multi-threaded runtime).
#[derive(Clone)]
pub struct MobcRecorded {
    pool: mobc::Pool<Noop>,
    recorder: std::sync::Arc<metrics_exporter_prometheus::PrometheusRecorder>,
}

impl MobcRecorded {
    /// `size` connections, warmed, recording to `recorder`.
    pub async fn new(
        size: usize,
        validated: bool,
        recorder: std::sync::Arc<metrics_exporter_prometheus::PrometheusRecorder>,
    ) -> Self {
        // Warmed by `Mobc::new`.
        MobcRecorded {
            pool: Mobc::new(size, validated).await.0,
            recorder,
        }
    }
}

/// A mobc connection whose return (its drop) records to the pool's recorder.
pub struct RecordedConnection {
    conn: Option<mobc::Connection<Noop>>,
    recorder: std::sync::Arc<metrics_exporter_prometheus::PrometheusRecorder>,
}

impl std::ops::Deref for RecordedConnection {
    type Target = NoopConn;
    fn deref(&self) -> &NoopConn {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl DerefMut for RecordedConnection {
    fn deref_mut(&mut self) -> &mut NoopConn {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for RecordedConnection {
    fn drop(&mut self) {
        let conn = self.conn.take();
        metrics::with_local_recorder(&*self.recorder, || drop(conn));
    }
}

impl AsyncPool for MobcRecorded {
    type Guard<'a> = RecordedConnection;
    const NAME: &'static str = "mobc_recorder";
    async fn get(&self) -> Self::Guard<'_> {
        let mut checkout = std::pin::pin!(self.pool.get());
        let conn = std::future::poll_fn(|cx| {
            metrics::with_local_recorder(&*self.recorder, || checkout.as_mut().poll(cx))
        })
        .await
        .expect("a checkout within the timeout");
        RecordedConnection {
            conn: Some(conn),
            recorder: std::sync::Arc::clone(&self.recorder),
        }
    }
}

/// deadpool's managed pool (FIFO, its default).
#[derive(Clone)]
pub struct Deadpool(pub deadpool::managed::Pool<Noop>);

impl Deadpool {
    /// `size` connections, warmed, with a `wait_timeout` (like the other pools' checkout
    /// timeout; a timer on every checkout).
    pub async fn new(size: usize, validated: bool) -> Self {
        Deadpool::built(size, validated, Some(NO_TIMEOUT)).await
    }

    /// As its users run it: no `wait_timeout` (deadpool's default), so no timer per checkout.
    pub async fn with_defaults(size: usize, validated: bool) -> Self {
        Deadpool::built(size, validated, None).await
    }

    async fn built(
        size: usize,
        validated: bool,
        wait_timeout: Option<std::time::Duration>,
    ) -> Self {
        let pool = deadpool::managed::Pool::builder(Noop::new(validated))
            .max_size(size)
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(wait_timeout)
            .build()
            .expect("valid options");
        let pool = Deadpool(pool);
        warm_async(&pool, size).await;
        pool
    }
}

impl AsyncPool for Deadpool {
    type Guard<'a> = deadpool::managed::Object<Noop>;
    const NAME: &'static str = "deadpool";
    async fn get(&self) -> Self::Guard<'_> {
        self.0.get().await.expect("a checkout within the timeout")
    }
}

async fn warm_async<P: AsyncPool>(pool: &P, size: usize) {
    let mut held = Vec::with_capacity(size);
    for _ in 0..size {
        held.push(pool.get().await);
    }
    drop(held);
}
