//! The option setters the builders share, named after SQLAlchemy's `create_engine` pool
//! parameters. [`policy_setters`] needs fields `options` and `instruments`; [`option_setters`]
//! adds those of pools that hold their connections themselves (fields `listeners`, `clock`).

macro_rules! policy_setters {
    () => {
        /// The pool class (default [`PoolClass::Queue`](crate::PoolClass::Queue)).
        pub fn pool_class(mut self, class: $crate::PoolClass) -> Self {
            self.options.class = class;
            self
        }

        /// Connections kept idle (QueuePool, default 5; 0 means no limit at all), or threads'
        /// connections kept (SingletonThreadPool, default 5).
        pub fn pool_size(mut self, size: usize) -> Self {
            self.options.pool_size = Some(size);
            self
        }

        /// Extra connections QueuePool may open beyond `pool_size` under load, closed again on
        /// return (default 10; -1 means no limit; below -1 is refused by `build()`).
        pub fn max_overflow(mut self, max_overflow: i64) -> Self {
            self.options.max_overflow = Some(max_overflow);
            self
        }

        /// How long a checkout waits for a connection at the limit (default 30 s; `None` waits
        /// forever; zero fails at once). QueuePool and StaticPool.
        pub fn pool_timeout(mut self, timeout: impl Into<Option<std::time::Duration>>) -> Self {
            self.options.timeout = Some(timeout.into());
            self
        }

        /// Replaces a connection at checkout once it is older than this (default off;
        /// `None` turns it off).
        pub fn pool_recycle(mut self, recycle: impl Into<Option<std::time::Duration>>) -> Self {
            self.options.recycle = Some(recycle.into());
            self
        }

        /// Tests a pooled connection with the manager's `is_valid` before handing it out, and
        /// replaces it (and every older one) if the test fails (default off).
        pub fn pre_ping(mut self, pre_ping: bool) -> Self {
            self.options.pre_ping = Some(pre_ping);
            self
        }

        /// What the options left unset default to (default
        /// [`Defaults::SQLALCHEMY`](crate::Defaults::SQLALCHEMY)); adapters for stacks used to
        /// r2d2's, bb8's or sqlx's behaviour start from
        /// [`Defaults::RUST_POOLS`](crate::Defaults::RUST_POOLS).
        pub fn defaults(mut self, defaults: $crate::Defaults) -> Self {
            self.options.defaults = defaults;
            self
        }

        /// Hands out the most recently returned idle connection first (QueuePool; default
        /// FIFO, SQLAlchemy's). With more callers than connections, LIFO keeps a caller on
        /// the connection it just returned, as r2d2 does: on PostgreSQL with 16 threads over
        /// 8 connections on 2 cores, `SELECT 1` throughput was ~15% higher than FIFO
        /// (`BENCHMARKS.md`). FIFO spreads use evenly over the connections.
        pub fn use_lifo(mut self, use_lifo: bool) -> Self {
            self.options.use_lifo = Some(use_lifo);
            self
        }

        /// What to do to a connection when it comes back (default
        /// [`ResetOnReturn::Rollback`](crate::ResetOnReturn::Rollback), which needs a reset
        /// function: see `reset_with`).
        pub fn reset_on_return(mut self, reset: $crate::ResetOnReturn) -> Self {
            self.options.reset_on_return = reset;
            self
        }

        /// Logs pool decisions through `tracing` (default
        /// [`EchoPool::Off`](crate::EchoPool::Off)).
        pub fn echo_pool(mut self, echo: $crate::EchoPool) -> Self {
            self.options.echo = echo;
            self
        }

        /// Applies options read from configuration or the environment (see
        /// [`PoolOptions`](crate::PoolOptions)): each one set there wins over this builder's;
        /// those left out keep it. `build()` checks them as it checks the setters'.
        pub fn options(mut self, options: &$crate::PoolOptions) -> Self {
            options.apply(&mut self.options);
            self
        }

        /// The pool's name in logs and metrics (default `pool-<id>`, numbered in build order
        /// and kept by `recreate()`; name your pools, or use `name_from_url`, so that saved
        /// queries and dashboards survive a change in the order pools are built).
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.options.name = Some(name.into());
            self
        }

        /// Names the pool after a database URL as OpenTelemetry's conventions suggest,
        /// `server.address:server.port/db.namespace`, without credentials (see
        /// [`pool_name_from_url`](crate::pool_name_from_url)).
        pub fn name_from_url(self, url: &str) -> Self {
            self.name(crate::pool_name_from_url(url))
        }

        /// AssertionPool: capture a backtrace at each checkout, shown when a second checkout is
        /// refused (default on; `RUST_BACKTRACE` must enable backtraces too).
        pub fn store_traceback(mut self, store: bool) -> Self {
            self.options.store_traceback = Some(store);
            self
        }

        /// `db.system.name` on the pool's spans, as OpenTelemetry names database systems
        /// (`postgresql`, `mysql`, `mariadb`, `sqlite`, ...). Adapters set it from the URL.
        pub fn db_system_name(mut self, system: impl Into<String>) -> Self {
            self.options.db_system = Some(system.into());
            self
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
    };
}

macro_rules! option_setters {
    ($conn:ty) => {
        $crate::builder_options::policy_setters!();

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

        /// Adds a listener for the pool's events, after those already added.
        pub fn listener(mut self, listener: impl $crate::PoolListener<$conn> + 'static) -> Self {
            self.listeners.push(std::sync::Arc::new(listener));
            self
        }

        /// Adds a listener in front of those already added (SQLAlchemy's `insert=True`).
        pub fn listener_first(
            mut self,
            listener: impl $crate::PoolListener<$conn> + 'static,
        ) -> Self {
            self.listeners.push_front(std::sync::Arc::new(listener));
            self
        }

        /// The clock for connection ages (`pool_recycle`, invalidation); default the system
        /// clock. Tests use [`ManualClock`](crate::ManualClock).
        pub fn clock(mut self, clock: impl $crate::Clock) -> Self {
            self.clock = std::sync::Arc::new(clock);
            self
        }
    };
}

pub(crate) use {option_setters, policy_setters};
