//! The core builders' option setters, forwarded by the adapter's builders so that a Diesel
//! pool is configured exactly like a core pool (the adapter adds only the Diesel defaults).

/// Forwards each core option setter to `self.inner`; `$conn` is the connection type.
macro_rules! forward_options {
    ($conn:ty) => {
        /// The pool class; see [`poolscope::Builder::pool_class`].
        pub fn pool_class(self, class: poolscope::PoolClass) -> Self {
            self.map(|b| b.pool_class(class))
        }

        /// Connections kept idle; see [`poolscope::Builder::pool_size`].
        pub fn pool_size(self, size: usize) -> Self {
            self.map(|b| b.pool_size(size))
        }

        /// Extra connections under load (-1: no limit); see
        /// [`poolscope::Builder::max_overflow`].
        pub fn max_overflow(self, max_overflow: i64) -> Self {
            self.map(|b| b.max_overflow(max_overflow))
        }

        /// How long a checkout waits; see [`poolscope::Builder::pool_timeout`].
        pub fn pool_timeout(self, timeout: impl Into<Option<std::time::Duration>>) -> Self {
            self.map(|b| b.pool_timeout(timeout))
        }

        /// Replace connections older than this; see [`poolscope::Builder::pool_recycle`].
        pub fn pool_recycle(self, recycle: impl Into<Option<std::time::Duration>>) -> Self {
            self.map(|b| b.pool_recycle(recycle))
        }

        /// Test connections with `SELECT 1` before handing them out; see
        /// [`poolscope::Builder::pre_ping`].
        pub fn pre_ping(self, pre_ping: bool) -> Self {
            self.map(|b| b.pre_ping(pre_ping))
        }

        /// What the options left unset default to (default
        /// [`Defaults::RUST_POOLS`](poolscope::Defaults::RUST_POOLS), what Diesel's own pools
        /// do; [`Defaults::SQLALCHEMY`](poolscope::Defaults::SQLALCHEMY) for SQLAlchemy's).
        pub fn defaults(self, defaults: poolscope::Defaults) -> Self {
            self.map(|b| b.defaults(defaults))
        }

        /// Most recently returned first; see [`poolscope::Builder::use_lifo`].
        pub fn use_lifo(self, use_lifo: bool) -> Self {
            self.map(|b| b.use_lifo(use_lifo))
        }

        /// Rollback (default), commit or nothing on return, through Diesel's transaction
        /// manager; see [`poolscope::Builder::reset_on_return`].
        pub fn reset_on_return(self, reset: poolscope::ResetOnReturn) -> Self {
            self.map(|b| b.reset_on_return(reset))
        }

        /// Logs pool decisions; see [`poolscope::Builder::echo_pool`].
        pub fn echo_pool(self, echo: poolscope::EchoPool) -> Self {
            self.map(|b| b.echo_pool(echo))
        }

        /// Applies options read from configuration or the environment; see
        /// [`poolscope::PoolOptions`] (feature `serde` for configuration files).
        pub fn options(mut self, options: &poolscope::PoolOptions) -> Self {
            if options.name.is_some() {
                self.user_set.name = true;
            }
            self.map(|b| b.options(options))
        }

        /// The pool's name in logs and metrics (default: from the URL, without credentials).
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.user_set.name = true;
            self.map(|b| b.name(name))
        }

        /// AssertionPool backtraces; see [`poolscope::Builder::store_traceback`].
        pub fn store_traceback(self, store: bool) -> Self {
            self.map(|b| b.store_traceback(store))
        }

        /// `db.system.name` (default: from the connection's Diesel backend).
        pub fn db_system_name(mut self, system: impl Into<String>) -> Self {
            self.user_set.system = true;
            self.map(|b| b.db_system_name(system))
        }

        /// How often the facade's count gauges are published and durations flushed; see
        /// [`poolscope::Builder::gauge_interval`].
        #[cfg(any(feature = "metrics", feature = "opentelemetry"))]
        pub fn gauge_interval(self, every: std::time::Duration) -> Self {
            self.map(|b| b.gauge_interval(every))
        }

        /// The OpenTelemetry meter; see [`poolscope::Builder::otel_meter`].
        #[cfg(feature = "opentelemetry")]
        pub fn otel_meter(self, meter: opentelemetry::metrics::Meter) -> Self {
            self.map(|b| b.otel_meter(meter))
        }

        /// Leak reports; see [`poolscope::Builder::leak_detection_threshold`].
        pub fn leak_detection_threshold(
            self,
            threshold: impl Into<Option<std::time::Duration>>,
        ) -> Self {
            self.map(|b| b.leak_detection_threshold(threshold))
        }

        /// Adds a listener; see [`poolscope::Builder::listener`].
        pub fn listener(self, listener: impl poolscope::PoolListener<$conn> + 'static) -> Self {
            self.map(|b| b.listener(listener))
        }

        /// Adds a listener in front; see [`poolscope::Builder::listener_first`].
        pub fn listener_first(
            self,
            listener: impl poolscope::PoolListener<$conn> + 'static,
        ) -> Self {
            self.map(|b| b.listener_first(listener))
        }

        /// The clock for connection ages; see [`poolscope::Builder::clock`].
        pub fn clock(self, clock: impl poolscope::Clock) -> Self {
            self.map(|b| b.clock(clock))
        }
    };
}

pub(crate) use forward_options;
