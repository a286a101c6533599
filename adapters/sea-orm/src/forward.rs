//! The core's option setters on the SeaORM [`Builder`], each passed to the
//! [`HooksBuilder`](poolscope::hooks::HooksBuilder) it holds, so that a SeaORM pool is
//! configured exactly like a core pool (the adapter adds only the URL defaults).

use crate::Builder;

impl Builder {
    fn map(
        mut self,
        f: impl FnOnce(poolscope::hooks::HooksBuilder) -> poolscope::hooks::HooksBuilder,
    ) -> Self {
        self.hooks = f(self.hooks);
        self
    }

    /// The pool class (Queue, Null, Static, Assertion; SingletonThread is refused); see
    /// [`poolscope::PoolBuilder::pool_class`].
    pub fn pool_class(self, class: poolscope::PoolClass) -> Self {
        self.map(|b| b.pool_class(class))
    }

    /// Connections kept idle (0: no limit); see [`poolscope::PoolBuilder::pool_size`].
    pub fn pool_size(self, size: usize) -> Self {
        self.map(|b| b.pool_size(size))
    }

    /// Extra connections under load, closed on return (-1: no limit); see
    /// [`poolscope::PoolBuilder::max_overflow`].
    pub fn max_overflow(self, max_overflow: i64) -> Self {
        self.map(|b| b.max_overflow(max_overflow))
    }

    /// How long a checkout waits (`None`: forever); see
    /// [`poolscope::PoolBuilder::pool_timeout`].
    pub fn pool_timeout(self, timeout: impl Into<Option<std::time::Duration>>) -> Self {
        self.map(|b| b.pool_timeout(timeout))
    }

    /// Replace connections older than this at checkout; see
    /// [`poolscope::PoolBuilder::pool_recycle`].
    pub fn pool_recycle(self, recycle: impl Into<Option<std::time::Duration>>) -> Self {
        self.map(|b| b.pool_recycle(recycle))
    }

    /// Ping idle connections before handing them out (sqlx's `ping`); see
    /// [`poolscope::PoolBuilder::pre_ping`].
    pub fn pre_ping(self, pre_ping: bool) -> Self {
        self.map(|b| b.pre_ping(pre_ping))
    }

    /// What the options left unset default to (default
    /// [`Defaults::RUST_POOLS`](poolscope::Defaults::RUST_POOLS), what sqlx's own pool
    /// does; [`Defaults::SQLALCHEMY`](poolscope::Defaults::SQLALCHEMY) for SQLAlchemy's).
    pub fn defaults(self, defaults: poolscope::Defaults) -> Self {
        self.map(|b| b.defaults(defaults))
    }

    /// Only `false` can be honoured: sqlx's idle queue is FIFO, and `build()` refuses
    /// `true`.
    pub fn use_lifo(self, use_lifo: bool) -> Self {
        self.map(|b| b.use_lifo(use_lifo))
    }

    /// Rollback (default), commit or nothing for a connection returned with a transaction
    /// open; see the crate docs for which transactions are seen.
    pub fn reset_on_return(self, reset: poolscope::ResetOnReturn) -> Self {
        self.map(|b| b.reset_on_return(reset))
    }

    /// Logs pool decisions; see [`poolscope::PoolBuilder::echo_pool`].
    pub fn echo_pool(self, echo: poolscope::EchoPool) -> Self {
        self.map(|b| b.echo_pool(echo))
    }

    /// Applies options read from configuration or the environment; see
    /// [`poolscope::PoolOptions`] (feature `serde` for configuration files).
    pub fn options(mut self, options: &poolscope::PoolOptions) -> Self {
        if options.name.is_some() {
            self.name_set = true;
        }
        self.map(|b| b.options(options))
    }

    /// The pool's name in logs and metrics (default: the URL without credentials).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name_set = true;
        self.map(|b| b.name(name))
    }

    /// AssertionPool backtraces; see [`poolscope::PoolBuilder::store_traceback`].
    pub fn store_traceback(self, store: bool) -> Self {
        self.map(|b| b.store_traceback(store))
    }

    /// `db.system.name` (default: from the URL's scheme).
    pub fn db_system_name(mut self, system: impl Into<String>) -> Self {
        self.system_set = true;
        self.map(|b| b.db_system_name(system))
    }

    /// How often the facade's count gauges are published and durations flushed; see
    /// [`poolscope::PoolBuilder::gauge_interval`].
    #[cfg(any(feature = "metrics", feature = "opentelemetry"))]
    pub fn gauge_interval(self, every: std::time::Duration) -> Self {
        self.map(|b| b.gauge_interval(every))
    }

    /// The OpenTelemetry meter; see [`poolscope::PoolBuilder::otel_meter`].
    #[cfg(feature = "opentelemetry")]
    pub fn otel_meter(self, meter: opentelemetry::metrics::Meter) -> Self {
        self.map(|b| b.otel_meter(meter))
    }
}
