//! [`ConnectOptions`]' setters and getters, SeaORM's names translated to SQLAlchemy's options,
//! and the [`Builder`] they make.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DbErr;

use super::{BoxFuture, ConnectOptions};
use crate::session::StatementLogging;
use crate::{Builder, DatabasePool, Error};

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

    /// Not applied: QueuePool keeps `pool_size` connections idle (see the [module](super));
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

    pub(super) async fn open(&self) -> Result<DatabasePool, Error> {
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
