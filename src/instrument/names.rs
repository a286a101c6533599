//! The metric contract: instrument names and attribute keys, the same on the `metrics` facade
//! and the OpenTelemetry path, so one dashboard serves both.
//!
//! The `db.client.connection.*` instruments follow OpenTelemetry's database-client pool
//! conventions; `poolscope.*` ones are this crate's. In Prometheus the dots become
//! underscores, counters end in `_total` and the durations in `_seconds` (configure
//! metrics-exporter-prometheus with `with_recommended_naming(true)`; OpenTelemetry's
//! Prometheus exporter does this by default).

/// `db.client.connection.count` (gauge, `{connection}`): open connections by
/// [`STATE`] `idle` / `used`. Connections, not slots: an invalidated connection's slot,
/// back in the pool empty, is in `status().checked_in` (SQLAlchemy's `checkedin()`) and not
/// here, and a connection being closed is in neither state. Tested against
/// `pg_stat_activity` and `information_schema.processlist` (`gauges_count_what_the_server_has`).
pub const CONNECTION_COUNT: &str = "db.client.connection.count";
/// `db.client.connection.max` (gauge): most connections allowed open (absent when unlimited).
pub const CONNECTION_MAX: &str = "db.client.connection.max";
/// `db.client.connection.idle.max` (gauge): most idle connections kept.
pub const IDLE_MAX: &str = "db.client.connection.idle.max";
/// `db.client.connection.idle.min` (gauge): idle connections kept at least (always 0: the
/// pool opens lazily).
pub const IDLE_MIN: &str = "db.client.connection.idle.min";
/// `db.client.connection.pending_requests` (gauge): callers waiting for a connection.
pub const PENDING_REQUESTS: &str = "db.client.connection.pending_requests";
/// `db.client.connection.timeouts` (counter): checkouts that timed out.
pub const TIMEOUTS: &str = "db.client.connection.timeouts";
/// `db.client.connection.create_time` (histogram, seconds): opening a connection.
pub const CREATE_TIME: &str = "db.client.connection.create_time";
/// `db.client.connection.wait_time` (histogram, seconds): from `get()` to a usable
/// connection, waiting, connecting and pinging included; one sample per `get()`, also when it
/// fails (a timeout records the time it waited).
pub const WAIT_TIME: &str = "db.client.connection.wait_time";
/// `db.client.connection.use_time` (histogram, seconds): from checkout to return.
pub const USE_TIME: &str = "db.client.connection.use_time";

/// `poolscope.overflow.opened` (counter): connections opened beyond `pool_size`.
pub const OVERFLOW_OPENED: &str = "poolscope.overflow.opened";
/// `poolscope.overflow.closed` (counter): connections closed on return because `pool_size`
/// were already idle.
pub const OVERFLOW_CLOSED: &str = "poolscope.overflow.closed";
/// `poolscope.resets` (counter), by [`RESET_ACTION`] and [`RESET_OUTCOME`].
pub const RESETS: &str = "poolscope.resets";
/// `poolscope.recycles` (counter): pooled connections replaced at checkout, by
/// [`RECYCLE_REASON`] (`age`, `pool_invalidated`, `soft_invalidated`).
pub const RECYCLES: &str = "poolscope.recycles";
/// `poolscope.invalidations` (counter), by [`INVALIDATE_REASON`] (`requested`,
/// `ping_failed`, `reset_failed`, `broken`, `listener`).
pub const INVALIDATIONS: &str = "poolscope.invalidations";
/// `poolscope.pre_ping.failures` (counter).
pub const PRE_PING_FAILURES: &str = "poolscope.pre_ping.failures";
/// `poolscope.closes` (counter), by [`CLOSE_REASON`] (`overflow`, `no_pooling`, `dispose`,
/// `invalidated`, `recycled`, `evicted`, `checkout_failed`).
pub const CLOSES: &str = "poolscope.closes";
/// `poolscope.connection.refusals` (counter): connects that failed, by [`REFUSAL_REASON`]
/// (`server_capacity`: the server at its connection budget; `unreachable`, `authentication`,
/// `other`). A fleet's refusals for capacity say its replicas' pools add up to more than
/// the server admits.
pub const REFUSALS: &str = "poolscope.connection.refusals";
/// `poolscope.server.connection.budget` (gauge, `{connection}`): the most connections the
/// server admits for this pool's user and database, where the adapter could read it once
/// (PostgreSQL: `max_connections` less the reserved ones, or the role's or the database's
/// `CONNECTION LIMIT` if lower; MySQL and MariaDB: `max_connections`, or the user's
/// `max_user_connections` if lower), or as the application reported it
/// (`report_server_budget`). 0 while unknown. Every replica reports the same budget: a
/// fleet's `sum(db.client.connection.max)` over it is its over-commitment.
pub const SERVER_BUDGET: &str = "poolscope.server.connection.budget";
/// `poolscope.leaks.suspected` (counter): connections held past the leak threshold.
pub const LEAKS_SUSPECTED: &str = "poolscope.leaks.suspected";
/// `poolscope.leaks.current` (gauge): connections held past the threshold right now.
pub const LEAKS_CURRENT: &str = "poolscope.leaks.current";

/// Attribute: the pool's name (every instrument).
pub const POOL_NAME: &str = "db.client.connection.pool.name";
/// Attribute: `idle` or `used` ([`CONNECTION_COUNT`]).
pub const STATE: &str = "db.client.connection.state";
/// Attribute: `rollback` or `commit` ([`RESETS`]).
pub const RESET_ACTION: &str = "poolscope.reset.action";
/// Attribute: `ok` or `error` ([`RESETS`]).
pub const RESET_OUTCOME: &str = "poolscope.reset.outcome";
/// Attribute of [`RECYCLES`].
pub const RECYCLE_REASON: &str = "poolscope.recycle.reason";
/// Attribute of [`INVALIDATIONS`].
pub const INVALIDATE_REASON: &str = "poolscope.invalidate.reason";
/// Attribute of [`CLOSES`].
pub const CLOSE_REASON: &str = "poolscope.close.reason";
/// Attribute of [`REFUSALS`].
pub const REFUSAL_REASON: &str = "poolscope.refusal.reason";

/// Histogram bucket boundaries (seconds) for the three durations, on both paths. Give them to
/// metrics-exporter-prometheus (`set_buckets_for_metric`) so it renders histograms, not
/// summaries.
pub const DURATION_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];
