//! SeaORM's `Database::connect(ConnectOptions)` over a poolscope pool: switch an app by
//! changing its imports.
//!
//! ```diff
//! -use sea_orm::{ConnectOptions, Database, DatabaseConnection};
//! +use poolscope_sea_orm::compat::{ConnectOptions, Database, DatabaseConnection};
//! ```
//!
//! [`DatabaseConnection`] here is [`DatabasePool`]: a struct field, an
//! `Arc<DatabaseConnection>`, a `&DatabaseConnection` parameter, `Entity::find().all(&db)`,
//! `db.begin()`, `db.transaction(..)`, `Entity::find().stream(&db)`, `db.ping()` and
//! `db.close()` compile and run unchanged, every checkout observed. [`ConnectOptions`] has
//! SeaORM's setters and getters, translated to SQLAlchemy's options:
//!
//! | SeaORM | poolscope | note |
//! |---|---|---|
//! | `max_connections(n)` (default 10; SQLite 1) | `pool_size(n)`, `max_overflow(0)` | never more than `n` open, `n` kept idle |
//! | `min_connections(n)` | [`Builder::min_connections`] | opened by `connect`; QueuePool tops nothing up later |
//! | `acquire_timeout`, else `connect_timeout` (default 30 s) | `pool_timeout` | SeaORM gives sqlx the same: the wait for a connection, connecting included |
//! | `max_lifetime` (default 30 min) | `pool_recycle` | checked at checkout, as SQLAlchemy does |
//! | `test_before_acquire` (default on) | `pre_ping` | |
//! | `test_before_acquire_if_idle_for(d)` | `pre_ping(true)` | pings every idle checkout, not only those idle for `d` |
//! | `idle_timeout` | none | QueuePool keeps `pool_size` connections idle by design; `pre_ping` replaces one that died idle. A value is accepted (code compiles) and `connect` logs a warning that it is not applied |
//! | `sqlx_logging`, `sqlx_logging_level`, `sqlx_slow_statements_logging_settings` | the same, SeaORM's defaults (INFO, slow off) | |
//! | `set_schema_search_path`, `set_application_name`, `statement_timeout` | the same, PostgreSQL only | |
//! | `sqlcipher_key` | the same, SQLite only | |
//! | `connect_lazy` (default off) | [`Builder::build`] when on, [`Builder::connect`] when off | |
//! | `after_connect(f)` | the same | called once with the pool after connecting, as SeaORM does |
//! | `map_sqlx_*_opts` | the same | |
//! | `map_sqlx_*_pool_opts`, `map_sqlx_*_before_acquire`, `record_stmt_in_spans` | not provided | the sqlx pool's options and callbacks are poolscope's policy; a change there would undo it behind its back. Per-connection setup: `after_connect` SQL goes in `map_sqlx_*_opts` (e.g. PostgreSQL `options`) or `set_schema_search_path` |
//!
//! The pool options SeaORM does not have (`pool_class`, `max_overflow`, `reset_on_return`,
//! `echo_pool`, ...) are on [`ConnectOptions::pool`], a [`Builder`] to configure.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sea_orm::DbErr> {
//! use poolscope_sea_orm::compat::{ConnectOptions, Database, DatabaseConnection};
//! use sea_orm::ConnectionTrait;
//! use std::time::Duration;
//!
//! struct AppState {
//!     db: DatabaseConnection,
//! }
//!
//! let mut opt = ConnectOptions::new("sqlite::memory:");
//! opt.max_connections(1)
//!     .acquire_timeout(Duration::from_secs(8))
//!     .sqlx_logging(false);
//! let state = AppState { db: Database::connect(opt).await? };
//! state.db.execute_unprepared("CREATE TABLE t (x INTEGER)").await?;
//! assert_eq!(state.db.status().size, 1);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DbErr;

use crate::session::StatementLogging;
use crate::{Builder, DatabasePool, Error};

/// SeaORM's `DatabaseConnection`, observed: a [`DatabasePool`].
pub type DatabaseConnection = DatabasePool;

/// SeaORM's `DbConn`: a [`DatabasePool`].
pub type DbConn = DatabasePool;

/// What `after_connect` returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type AfterConnect =
    Arc<dyn Fn(DatabasePool) -> BoxFuture<'static, Result<(), DbErr>> + Send + Sync>;

/// SeaORM's `Database`: [`connect`](Database::connect) builds a poolscope pool.
#[derive(Debug, Clone, Copy)]
pub struct Database;

impl Database {
    /// SeaORM's `Database::connect`: the pool, with one connection opened and pinged (or
    /// `min_connections` opened) unless `connect_lazy`, then `after_connect`. Errors are
    /// SeaORM's `DbErr::Conn` with the cause's text (a refused option, a bad URL, the
    /// connect error).
    pub async fn connect<C>(options: C) -> Result<DatabasePool, DbErr>
    where
        C: Into<ConnectOptions>,
    {
        let options: ConnectOptions = options.into();
        let after_connect = options.after_connect.clone();
        let pool = options.open().await.map_err(|error| match error {
            Error::Connect(error) => error,
            other => DbErr::Conn(sea_orm::RuntimeErr::Internal(
                poolscope::ErrorChain(&other).to_string(),
            )),
        })?;
        if let Some(after_connect) = after_connect {
            after_connect(pool.clone()).await?;
        }
        Ok(pool)
    }
}

/// SeaORM's `ConnectOptions`, same setters (`&mut self -> &mut Self`), getters and defaults;
/// see the [module](self) for how each maps.
#[derive(Clone)]
pub struct ConnectOptions {
    url: String,
    max_connections: Option<u32>,
    min_connections: Option<u32>,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Option<Duration>>,
    acquire_timeout: Option<Duration>,
    max_lifetime: Option<Option<Duration>>,
    sqlx_logging: bool,
    sqlx_logging_level: log::LevelFilter,
    sqlx_slow_statements_logging_level: log::LevelFilter,
    sqlx_slow_statements_logging_threshold: Duration,
    test_before_acquire: bool,
    test_before_acquire_if_idle_for: Option<Duration>,
    connect_lazy: bool,
    after_connect: Option<AfterConnect>,
    session: crate::session::Session,
    pool: Arc<dyn Fn(Builder) -> Builder + Send + Sync>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &redacted(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("sqlx_logging", &self.sqlx_logging)
            .field("test_before_acquire", &self.test_before_acquire)
            .field("connect_lazy", &self.connect_lazy)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The URL without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl<T: Into<String>> From<T> for ConnectOptions {
    fn from(url: T) -> Self {
        ConnectOptions::new(url)
    }
}

impl ConnectOptions {
    /// Options for `url` with SeaORM's defaults.
    pub fn new<T: Into<String>>(url: T) -> Self {
        ConnectOptions {
            url: url.into(),
            max_connections: None,
            min_connections: None,
            connect_timeout: None,
            idle_timeout: None,
            acquire_timeout: None,
            max_lifetime: None,
            sqlx_logging: true,
            sqlx_logging_level: log::LevelFilter::Info,
            sqlx_slow_statements_logging_level: log::LevelFilter::Off,
            sqlx_slow_statements_logging_threshold: Duration::from_secs(1),
            test_before_acquire: true,
            test_before_acquire_if_idle_for: None,
            connect_lazy: false,
            after_connect: None,
            session: crate::session::Session::default(),
            pool: Arc::new(|builder| builder),
        }
    }

    /// The database URL.
    pub fn get_url(&self) -> &str {
        &self.url
    }

    /// The most connections open at once: `pool_size(value)`, `max_overflow(0)`.
    pub fn max_connections(&mut self, value: u32) -> &mut Self {
        self.max_connections = Some(value);
        self
    }

    /// See [`max_connections`](Self::max_connections).
    pub fn get_max_connections(&self) -> Option<u32> {
        self.max_connections
    }

    /// Connections opened by `connect` (see [`Builder::min_connections`]).
    pub fn min_connections(&mut self, value: u32) -> &mut Self {
        self.min_connections = Some(value);
        self
    }

    /// See [`min_connections`](Self::min_connections).
    pub fn get_min_connections(&self) -> Option<u32> {
        self.min_connections
    }

    /// How long a checkout waits, connecting included, unless
    /// [`acquire_timeout`](Self::acquire_timeout) is set (SeaORM gives sqlx the same).
    pub fn connect_timeout(&mut self, value: Duration) -> &mut Self {
        self.connect_timeout = Some(value);
        self
    }

    /// See [`connect_timeout`](Self::connect_timeout).
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Not applied: QueuePool keeps `pool_size` connections idle (see the [module](self));
    /// `connect` logs a warning when a duration is set.
    pub fn idle_timeout<T>(&mut self, value: T) -> &mut Self
    where
        T: Into<Option<Duration>>,
    {
        self.idle_timeout = Some(value.into());
        self
    }

    /// See [`idle_timeout`](Self::idle_timeout).
    pub fn get_idle_timeout(&self) -> Option<Option<Duration>> {
        self.idle_timeout
    }

    /// How long a checkout waits: `pool_timeout`.
    pub fn acquire_timeout(&mut self, value: Duration) -> &mut Self {
        self.acquire_timeout = Some(value);
        self
    }

    /// See [`acquire_timeout`](Self::acquire_timeout).
    pub fn get_acquire_timeout(&self) -> Option<Duration> {
        self.acquire_timeout
    }

    /// Replace connections older than this at checkout: `pool_recycle` (`None`: never).
    pub fn max_lifetime<T>(&mut self, lifetime: T) -> &mut Self
    where
        T: Into<Option<Duration>>,
    {
        self.max_lifetime = Some(lifetime.into());
        self
    }

    /// See [`max_lifetime`](Self::max_lifetime).
    pub fn get_max_lifetime(&self) -> Option<Option<Duration>> {
        self.max_lifetime
    }

    /// sqlx's statement logging (default on).
    pub fn sqlx_logging(&mut self, value: bool) -> &mut Self {
        self.sqlx_logging = value;
        self
    }

    /// See [`sqlx_logging`](Self::sqlx_logging).
    pub fn get_sqlx_logging(&self) -> bool {
        self.sqlx_logging
    }

    /// The level statements are logged at (default `Info`).
    pub fn sqlx_logging_level(&mut self, level: log::LevelFilter) -> &mut Self {
        self.sqlx_logging_level = level;
        self
    }

    /// See [`sqlx_logging_level`](Self::sqlx_logging_level).
    pub fn get_sqlx_logging_level(&self) -> log::LevelFilter {
        self.sqlx_logging_level
    }

    /// The level statements slower than `duration` are logged at (default `Off`, 1 s).
    pub fn sqlx_slow_statements_logging_settings(
        &mut self,
        level: log::LevelFilter,
        duration: Duration,
    ) -> &mut Self {
        self.sqlx_slow_statements_logging_level = level;
        self.sqlx_slow_statements_logging_threshold = duration;
        self
    }

    /// See [`sqlx_slow_statements_logging_settings`](Self::sqlx_slow_statements_logging_settings).
    pub fn get_sqlx_slow_statements_logging_settings(&self) -> (log::LevelFilter, Duration) {
        (
            self.sqlx_slow_statements_logging_level,
            self.sqlx_slow_statements_logging_threshold,
        )
    }

    /// SQLCipher's key (SQLite only).
    pub fn sqlcipher_key<T: Into<std::borrow::Cow<'static, str>>>(
        &mut self,
        value: T,
    ) -> &mut Self {
        self.session.sqlcipher_key = Some(value.into().into_owned());
        self
    }

    /// PostgreSQL's `search_path` for every connection.
    pub fn set_schema_search_path<T: Into<String>>(&mut self, schema_search_path: T) -> &mut Self {
        self.session.schema_search_path = Some(schema_search_path.into());
        self
    }

    /// PostgreSQL's `application_name` for every connection.
    pub fn set_application_name<T: Into<String>>(&mut self, application_name: T) -> &mut Self {
        self.session.application_name = Some(application_name.into());
        self
    }

    /// PostgreSQL's `statement_timeout` for every connection.
    pub fn statement_timeout(&mut self, value: Duration) -> &mut Self {
        self.session.statement_timeout = Some(value);
        self
    }

    /// See [`statement_timeout`](Self::statement_timeout).
    pub fn get_statement_timeout(&self) -> Option<Duration> {
        self.session.statement_timeout
    }

    /// Ping an idle connection before handing it out: `pre_ping` (default on).
    pub fn test_before_acquire(&mut self, value: bool) -> &mut Self {
        self.test_before_acquire = value;
        self
    }

    /// See [`test_before_acquire`](Self::test_before_acquire).
    pub fn get_test_before_acquire(&self) -> bool {
        self.test_before_acquire
    }

    /// SeaORM pings only connections idle for `idle`; here every idle connection is pinged
    /// (`pre_ping(true)`), which checks more, never less.
    pub fn test_before_acquire_if_idle_for(&mut self, idle: Duration) -> &mut Self {
        self.test_before_acquire_if_idle_for = Some(idle);
        self
    }

    /// See [`test_before_acquire_if_idle_for`](Self::test_before_acquire_if_idle_for).
    pub fn get_test_before_acquire_if_idle_for(&self) -> Option<Duration> {
        self.test_before_acquire_if_idle_for
    }

    /// Open nothing at `connect` (default off: one connection is opened and pinged).
    pub fn connect_lazy(&mut self, value: bool) -> &mut Self {
        self.connect_lazy = value;
        self
    }

    /// See [`connect_lazy`](Self::connect_lazy).
    pub fn get_connect_lazy(&self) -> bool {
        self.connect_lazy
    }

    /// Called once with the pool when `connect` has built it (as SeaORM does); its error is
    /// `connect`'s.
    pub fn after_connect<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(DatabasePool) -> BoxFuture<'static, Result<(), DbErr>> + Send + Sync + 'static,
    {
        self.after_connect = Some(Arc::new(f));
        self
    }

    /// Changes sqlx's PostgreSQL connect options.
    #[cfg(feature = "postgres")]
    pub fn map_sqlx_postgres_opts<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(
                sea_orm::sqlx::postgres::PgConnectOptions,
            ) -> sea_orm::sqlx::postgres::PgConnectOptions
            + Send
            + Sync
            + 'static,
    {
        self.session.map_postgres = Some(Arc::new(f));
        self
    }

    /// Changes sqlx's MySQL / MariaDB connect options.
    #[cfg(feature = "mysql")]
    pub fn map_sqlx_mysql_opts<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(
                sea_orm::sqlx::mysql::MySqlConnectOptions,
            ) -> sea_orm::sqlx::mysql::MySqlConnectOptions
            + Send
            + Sync
            + 'static,
    {
        self.session.map_mysql = Some(Arc::new(f));
        self
    }

    /// Changes sqlx's SQLite connect options.
    #[cfg(feature = "sqlite")]
    pub fn map_sqlx_sqlite_opts<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(
                sea_orm::sqlx::sqlite::SqliteConnectOptions,
            ) -> sea_orm::sqlx::sqlite::SqliteConnectOptions
            + Send
            + Sync
            + 'static,
    {
        self.session.map_sqlite = Some(Arc::new(f));
        self
    }

    /// poolscope's own options, applied after the translated ones (`pool_class`,
    /// `max_overflow`, `reset_on_return`, `echo_pool`, `name`, ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sea_orm::DbErr> {
    /// use poolscope::EchoPool;
    /// use poolscope_sea_orm::compat::{ConnectOptions, Database};
    ///
    /// let mut opt = ConnectOptions::new("sqlite::memory:");
    /// opt.max_connections(1)
    ///     .pool(|pool| pool.echo_pool(EchoPool::Debug).name("orders"));
    /// let db = Database::connect(opt).await?;
    /// assert_eq!(db.name(), "orders");
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(Builder) -> Builder + Send + Sync + 'static,
    {
        self.pool = Arc::new(f);
        self
    }

    /// The [`Builder`] these options translate to.
    pub fn builder(&self) -> Result<Builder, Error> {
        let sqlite = self.url.starts_with("sqlite:");
        let max = match self.max_connections {
            Some(0) => {
                return Err(Error::InvalidOption {
                    option: "max_connections",
                    reason: "must be at least 1",
                });
            }
            Some(max) => max,
            // SeaORM opens one SQLite connection unless told otherwise.
            None if sqlite => 1,
            None => 10,
        };
        let mut builder = Builder::new()
            .pool_size(max as usize)
            .max_overflow(0)
            .pre_ping(self.test_before_acquire || self.test_before_acquire_if_idle_for.is_some())
            .min_connections(self.min_connections.unwrap_or(0))
            .with_session(crate::session::Session {
                logging: Some(StatementLogging {
                    enabled: self.sqlx_logging,
                    level: self.sqlx_logging_level,
                    slow_level: self.sqlx_slow_statements_logging_level,
                    slow_threshold: self.sqlx_slow_statements_logging_threshold,
                }),
                ..self.session.clone()
            });
        if let Some(timeout) = self.acquire_timeout.or(self.connect_timeout) {
            builder = builder.pool_timeout(timeout);
        }
        if let Some(lifetime) = self.max_lifetime {
            builder = builder.pool_recycle(lifetime);
        }
        Ok((self.pool)(builder))
    }

    async fn open(&self) -> Result<DatabasePool, Error> {
        if let Some(Some(idle)) = self.idle_timeout {
            tracing::warn!(
                target: "poolscope",
                "idle_timeout({idle:?}) is not applied: QueuePool keeps pool_size connections \
                 idle, and pre_ping replaces one that died idle"
            );
        }
        let builder = self.builder()?;
        if self.connect_lazy {
            builder.build(&self.url)
        } else {
            builder.connect(&self.url).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_debug() {
        let opt = ConnectOptions::new("postgres://app:secret@db:5432/orders");
        let text = format!("{opt:?}");
        assert!(text.contains("postgres://app:***@db:5432/orders"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn zero_connections_is_refused() {
        let mut opt = ConnectOptions::new("postgres://db/orders");
        opt.max_connections(0);
        let error = opt.builder().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid max_connections: must be at least 1"
        );
    }
}
