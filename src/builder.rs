//! One builder for every kind of pool: the options SQLAlchemy's `create_engine` takes for its
//! pool, set the same way whatever holds the connections, and what each kind of pool adds.
//!
//! [`Builder`](crate::Builder) (blocking), [`AsyncBuilder`](crate::AsyncBuilder) (Tokio) and
//! [`HooksBuilder`](crate::hooks::HooksBuilder) (another library's pool) are
//! [`PoolBuilder`]s of three [`PoolKind`]s: the option setters are written once, here; each
//! kind adds its own (`reset_with`, `build`, ...) in its front's module.

use std::fmt;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::Options;
use crate::events::{Listeners, PoolListener};
use crate::instrument::InstrumentOptions;

/// Builds a pool of kind `K` ([`Blocking`](crate::Blocking), [`Tokio`](crate::Tokio) or
/// [`Hooks`](crate::hooks::Hooks)); reached as [`Builder`](crate::Builder),
/// [`AsyncBuilder`](crate::AsyncBuilder) and [`HooksBuilder`](crate::hooks::HooksBuilder).
/// The setters are named after SQLAlchemy's `create_engine` pool parameters.
pub struct PoolBuilder<K: PoolKind> {
    pub(crate) options: Options,
    pub(crate) instruments: InstrumentOptions,
    /// What this kind of pool adds to the options.
    pub(crate) kind: K,
}

mod sealed {
    pub trait Sealed {}
}

pub(crate) use sealed::Sealed;

/// A kind of pool a [`PoolBuilder`] builds: what it holds beyond the options. Sealed.
pub trait PoolKind: Sealed + Default + Clone + fmt::Debug {}

/// A kind of pool that holds its connections itself, and so takes listeners, a clock and leak
/// detection (the hooks for another library's pool do not). Sealed.
pub trait HoldsConnections: PoolKind {
    /// The pool's connection type.
    type Connection;
    #[doc(hidden)]
    fn holding(&mut self) -> &mut Holding<Self::Connection>;
}

/// What the builder of a pool that holds its connections keeps beyond the options: its
/// listeners and its clock.
#[doc(hidden)]
pub struct Holding<C> {
    pub(crate) listeners: Listeners<C>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl<C> Default for Holding<C> {
    fn default() -> Self {
        Holding {
            listeners: Listeners::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl<C> fmt::Debug for Holding<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Holding").finish_non_exhaustive()
    }
}

impl<C> Clone for Holding<C> {
    fn clone(&self) -> Self {
        Holding {
            listeners: self.listeners.clone(),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<K: PoolKind> Default for PoolBuilder<K> {
    fn default() -> Self {
        PoolBuilder {
            options: Options::default(),
            instruments: InstrumentOptions::default(),
            kind: K::default(),
        }
    }
}

impl<K: PoolKind> Clone for PoolBuilder<K> {
    fn clone(&self) -> Self {
        PoolBuilder {
            options: self.options.clone(),
            instruments: self.instruments.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl<K: PoolKind> fmt::Debug for PoolBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("options", &self.options)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<K: PoolKind> PoolBuilder<K> {
    /// Sets what `set` sets in the options.
    fn with(mut self, set: impl FnOnce(&mut Options)) -> Self {
        set(&mut self.options);
        self
    }

    /// The pool class (default [`PoolClass::Queue`](crate::PoolClass::Queue)).
    pub fn pool_class(self, class: crate::PoolClass) -> Self {
        self.with(|o| o.class = class)
    }

    /// Connections kept idle (QueuePool, default 5; 0 means no limit at all), or threads'
    /// connections kept (SingletonThreadPool, default 5).
    pub fn pool_size(self, size: usize) -> Self {
        self.with(|o| o.pool_size = Some(size))
    }

    /// Extra connections QueuePool may open beyond `pool_size` under load, closed again on
    /// return (default 10; -1 means no limit; below -1 is refused by `build()`).
    pub fn max_overflow(self, max_overflow: i64) -> Self {
        self.with(|o| o.max_overflow = Some(max_overflow))
    }

    /// How long a checkout waits for a connection at the limit (default 30 s; `None` waits
    /// forever; zero fails at once). QueuePool and StaticPool.
    pub fn pool_timeout(self, timeout: impl Into<Option<std::time::Duration>>) -> Self {
        self.with(|o| o.timeout = Some(timeout.into()))
    }

    /// Replaces a connection at checkout once it is older than this (default off;
    /// `None` turns it off).
    pub fn pool_recycle(self, recycle: impl Into<Option<std::time::Duration>>) -> Self {
        self.with(|o| o.recycle = Some(recycle.into()))
    }

    /// Tests a pooled connection with the manager's `is_valid` before handing it out, and
    /// replaces it (and every older one) if the test fails (default off).
    pub fn pre_ping(self, pre_ping: bool) -> Self {
        self.with(|o| o.pre_ping = Some(pre_ping))
    }

    /// Whether a connect the server refuses because it is at its connection budget
    /// ([`Refusal::ServerCapacity`](crate::Refusal::ServerCapacity): PostgreSQL's `too many
    /// clients already`, a role's connection limit, MySQL's `Too many connections`,
    /// PgBouncer's `max_client_conn`, ...) makes the caller wait (default `true`): it is served
    /// by the next connection returned to the pool or by a later connect, within
    /// `pool_timeout`, and a timeout says what the server said. While connects fail, the pool
    /// tries one at a time, backed off (5 ms doubling to 500 ms), so replicas sharing one
    /// server's budget do not storm it. `false` is SQLAlchemy's behaviour: the refused
    /// caller fails at once with the connect error. Other connect failures (the server down,
    /// the credentials refused) fail their caller, and every caller waiting for a connect, at
    /// once either way; a caller waiting for a returned connection keeps waiting. The wait
    /// ends at the checkout's deadline (`pool_timeout` from the `get()`, the connect's time
    /// included). QueuePool and StaticPool wait; NullPool, which has no `pool_timeout`, and
    /// SingletonThreadPool and AssertionPool fail a refusal at once.
    pub fn wait_for_server_capacity(self, wait: bool) -> Self {
        self.with(|o| o.wait_for_server_capacity = Some(wait))
    }

    /// What the options left unset default to (default
    /// [`Defaults::SQLALCHEMY`](crate::Defaults::SQLALCHEMY)); adapters for stacks used to
    /// r2d2's, bb8's or sqlx's behaviour start from
    /// [`Defaults::RUST_POOLS`](crate::Defaults::RUST_POOLS).
    pub fn defaults(self, defaults: crate::Defaults) -> Self {
        self.with(|o| o.defaults = defaults)
    }

    /// Hands out the most recently returned idle connection first (QueuePool; default
    /// FIFO, SQLAlchemy's). With more callers than connections, LIFO keeps a caller on
    /// the connection it just returned, as r2d2 does: on PostgreSQL with 16 threads over
    /// 8 connections on 2 cores, `SELECT 1` throughput was ~15% higher than FIFO
    /// (`BENCHMARKS.md`). FIFO spreads use evenly over the connections.
    pub fn use_lifo(self, use_lifo: bool) -> Self {
        self.with(|o| o.use_lifo = Some(use_lifo))
    }

    /// What to do to a connection when it comes back (default
    /// [`ResetOnReturn::Rollback`](crate::ResetOnReturn::Rollback), which needs a reset
    /// function: see `reset_with`).
    pub fn reset_on_return(self, reset: crate::ResetOnReturn) -> Self {
        self.with(|o| o.reset_on_return = reset)
    }

    /// Logs pool decisions through `tracing`, or to stderr until the application sets a
    /// subscriber (default [`EchoPool::Off`](crate::EchoPool::Off); see [`EchoPool`](crate::EchoPool)).
    pub fn echo_pool(self, echo: crate::EchoPool) -> Self {
        self.with(|o| o.echo = echo)
    }

    /// Applies options read from configuration or the environment (see
    /// [`PoolOptions`](crate::PoolOptions)): each one set there wins over this builder's;
    /// those left out keep it. `build()` checks them as it checks the setters'.
    pub fn options(mut self, options: &crate::PoolOptions) -> Self {
        options.apply(&mut self.options);
        self
    }

    /// The pool's name in logs and metrics (default `pool-<id>`, numbered in build order
    /// and kept by `recreate()`; name your pools, or use `name_from_url`, so that saved
    /// queries and dashboards survive a change in the order pools are built).
    pub fn name(self, name: impl Into<String>) -> Self {
        self.with(|o| o.name = Some(name.into()))
    }

    /// Names the pool after a database URL as OpenTelemetry's conventions suggest,
    /// `server.address:server.port/db.namespace`, without credentials (see
    /// [`pool_name_from_url`](crate::pool_name_from_url)).
    pub fn name_from_url(self, url: &str) -> Self {
        self.name(crate::pool_name_from_url(url))
    }

    /// AssertionPool: capture a backtrace at each checkout, shown when a second checkout is
    /// refused (default on; `RUST_BACKTRACE` must enable backtraces too).
    pub fn store_traceback(self, store: bool) -> Self {
        self.with(|o| o.store_traceback = Some(store))
    }

    /// `db.system.name` on the pool's spans, as OpenTelemetry names database systems
    /// (`postgresql`, `mysql`, `mariadb`, `sqlite`, ...). Adapters set it from the URL.
    pub fn db_system_name(self, system: impl Into<String>) -> Self {
        self.with(|o| o.db_system = Some(system.into()))
    }

    /// How often the `metrics` facade's count gauges (`db.client.connection.count` by
    /// state, `db.client.connection.pending_requests`) are published and its
    /// `wait_time` / `use_time` histograms flushed (default 1 s): one background thread,
    /// shared by every pool, reads the pool's counts and hands the durations the pool
    /// aggregated (in buckets that refine [`DURATION_BUCKETS`](crate::metric_names::DURATION_BUCKETS):
    /// same bucket counts, same sum) to the recorder every interval, so checkouts and
    /// returns never call the recorder and a scrape reads values at most one interval
    /// old; a dropped pool flushes what it holds. `Duration::ZERO` publishes the gauges on
    /// every change instead, under the pool's lock (exact at every instant, four gauge
    /// sets per checkout + return), and records each duration as it happens. The
    /// OpenTelemetry path reads the counts when its reader collects, whatever this says;
    /// its `wait_time` and `use_time` are aggregated until then (their min and max are
    /// then sub-bucket means) unless this is `Duration::ZERO`, which records them as they
    /// happen.
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
    /// use std::time::Duration;
    /// let pool = Pool::builder()
    ///     .gauge_interval(Duration::from_millis(250))
    ///     .reset_on_return(poolscope::ResetOnReturn::None)
    ///     .build(M)?;
    /// # Ok::<(), poolscope::BuildError>(())
    /// ```
    #[cfg(any(feature = "metrics", feature = "opentelemetry"))]
    pub fn gauge_interval(mut self, every: std::time::Duration) -> Self {
        self.instruments.gauge_interval = Some(every);
        self
    }

    /// The OpenTelemetry meter for this pool's metrics (default: the global meter provider's
    /// `poolscope` meter, as it is when the pool is built).
    #[cfg(feature = "opentelemetry")]
    pub fn otel_meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.instruments.meter = Some(meter);
        self
    }
}

impl<K: HoldsConnections> PoolBuilder<K> {
    /// Reports a connection held longer than `threshold` once at WARN (pool name, how long,
    /// the `file:line` of its checkout), and its later return at INFO; counts them in
    /// `poolscope.leaks.suspected` / `poolscope.leaks.current` (default off, like
    /// HikariCP's `leakDetectionThreshold`). A watcher thread per pool does the looking.
    pub fn leak_detection_threshold(
        mut self,
        threshold: impl Into<Option<std::time::Duration>>,
    ) -> Self {
        self.options.leak_threshold = threshold.into();
        self
    }

    /// Counts the pool's [`Statistics`](crate::Statistics), bb8's figures (checkouts direct,
    /// waited and timed out, the time spent waiting, connections opened and closed by
    /// reason), read in-process with [`statistics()`](crate::ConnectionPool::statistics)
    /// (default off: the metrics carry the same figures; counting costs two atomic additions
    /// per checkout, and a clock read for a checkout that waits). `poolscope_diesel::bb8`
    /// turns it on for bb8's `state().statistics`.
    pub fn statistics(mut self, count: bool) -> Self {
        self.instruments.statistics = count;
        self
    }

    /// Adds a listener for the pool's events, after those already added.
    pub fn listener(mut self, listener: impl PoolListener<K::Connection> + 'static) -> Self {
        self.kind.holding().listeners.push(Arc::new(listener));
        self
    }

    /// Adds a listener in front of those already added (SQLAlchemy's `insert=True`).
    pub fn listener_first(mut self, listener: impl PoolListener<K::Connection> + 'static) -> Self {
        self.kind.holding().listeners.push_front(Arc::new(listener));
        self
    }

    /// The clock for connection ages (`pool_recycle`, invalidation); default the system
    /// clock. Tests use [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl crate::Clock) -> Self {
        self.kind.holding().clock = Arc::new(clock);
        self
    }
}
