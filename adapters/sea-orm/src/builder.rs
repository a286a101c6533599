//! [`Builder`]: the core's options, then a URL.

use std::sync::Arc;

use poolscope::hooks::{HooksBuilder, PoolHooks};
use sea_orm::DatabaseConnection;

use crate::backend::Backend;
use crate::returns::Returns;
use crate::session::{Session, StatementLogging};
use crate::sqlx_hooks::pool_options;
use crate::{DatabasePool, Error};

/// Builds a [`DatabasePool`] with SQLAlchemy's pool options (the same names as
/// [`poolscope::PoolBuilder`]), defaulting to what sqlx's own pool does
/// ([`Defaults::RUST_POOLS`](poolscope::Defaults::RUST_POOLS)): QueuePool of at most 10
/// connections (`pool_size` 10, `max_overflow` 0), `pool_timeout` 30 s, `pre_ping` on (sqlx's
/// `test_before_acquire`), `pool_recycle` 30 min (its `max_lifetime`), reset-on-return
/// rollback, FIFO.
///
/// Refused at build with a clear error: SingletonThreadPool (tasks move between threads) and
/// `use_lifo(true)` (sqlx hands out its oldest idle connection first).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use poolscope_sea_orm::Builder;
/// use sea_orm::ConnectionTrait;
///
/// let db = Builder::new()
///     .pool_size(2)
///     .max_overflow(0)
///     .build("sqlite::memory:")?;
/// db.execute_unprepared("CREATE TABLE t (x INTEGER)").await?;
/// // One connection was opened for the statement (sqlx gives it back on a task of its own).
/// assert_eq!(db.status().overflow, -1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a Builder does nothing until build() or connect()"]
pub struct Builder {
    pub(crate) hooks: HooksBuilder,
    pub(crate) name_set: bool,
    pub(crate) system_set: bool,
    session: Session,
    min_connections: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            hooks: HooksBuilder::new().defaults(poolscope::Defaults::RUST_POOLS),
            name_set: false,
            system_set: false,
            session: Session::default(),
            min_connections: 0,
        }
    }
}

impl Builder {
    /// sqlx's defaults, in SQLAlchemy's terms (see the type's doc).
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections [`connect`](Self::connect) opens before it returns (sqlx's and SeaORM's
    /// `min_connections`; default 0: `connect` opens one and pings it). They go back to the
    /// pool, which keeps them idle up to `pool_size`: QueuePool tops nothing up later (no
    /// background task), and [`build`](Self::build) opens none. More than the pool's limit
    /// is refused by `connect`.
    pub fn min_connections(mut self, count: u32) -> Self {
        self.min_connections = count;
        self
    }

    /// sqlx's statement logging (through the `log` crate): `false` turns it off. Unset,
    /// sqlx's own default applies (each statement at DEBUG, slow ones at WARN).
    pub fn sqlx_logging(mut self, enabled: bool) -> Self {
        self.statement_logging().enabled = enabled;
        self
    }

    /// The level sqlx logs each statement at (SeaORM's default `Info`).
    pub fn sqlx_logging_level(mut self, level: log::LevelFilter) -> Self {
        self.statement_logging().level = level;
        self
    }

    /// The level sqlx logs statements slower than `threshold` at (`Off`: not singled out).
    pub fn sqlx_slow_statements_logging_settings(
        mut self,
        level: log::LevelFilter,
        threshold: std::time::Duration,
    ) -> Self {
        let logging = self.statement_logging();
        logging.slow_level = level;
        logging.slow_threshold = threshold;
        self
    }

    /// Every per-connection setting at once (what `compat::ConnectOptions` translates to).
    pub(crate) fn with_session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    fn statement_logging(&mut self) -> &mut StatementLogging {
        self.session
            .logging
            .get_or_insert(StatementLogging::SEA_ORM)
    }

    /// PostgreSQL's `application_name` for every connection (shown in `pg_stat_activity`).
    /// Ignored by MySQL and SQLite, as SeaORM ignores it.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.session.application_name = Some(name.into());
        self
    }

    /// PostgreSQL's `statement_timeout` for every connection, sent with the connect (no extra
    /// round trip). Ignored by MySQL and SQLite, as SeaORM ignores it.
    pub fn statement_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.session.statement_timeout = Some(timeout);
        self
    }

    /// PostgreSQL's `search_path` for every connection (`SET search_path = "a","b"` after
    /// connecting, quoted as SeaORM quotes it). Ignored by MySQL and SQLite.
    pub fn schema_search_path(mut self, path: impl Into<String>) -> Self {
        self.session.schema_search_path = Some(path.into());
        self
    }

    /// SQLCipher's key for every SQLite connection (`PRAGMA key`).
    pub fn sqlcipher_key(mut self, key: impl Into<String>) -> Self {
        self.session.sqlcipher_key = Some(key.into());
        self
    }

    /// Changes sqlx's PostgreSQL connect options (after the URL and the settings above).
    #[cfg(feature = "postgres")]
    pub fn map_sqlx_postgres_opts(
        mut self,
        map: impl Fn(
                sea_orm::sqlx::postgres::PgConnectOptions,
            ) -> sea_orm::sqlx::postgres::PgConnectOptions
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.session.map_postgres = Some(Arc::new(map));
        self
    }

    /// Changes sqlx's MySQL / MariaDB connect options (after the URL and the settings above).
    #[cfg(feature = "mysql")]
    pub fn map_sqlx_mysql_opts(
        mut self,
        map: impl Fn(
                sea_orm::sqlx::mysql::MySqlConnectOptions,
            ) -> sea_orm::sqlx::mysql::MySqlConnectOptions
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.session.map_mysql = Some(Arc::new(map));
        self
    }

    /// Changes sqlx's SQLite connect options (after the URL and the settings above).
    #[cfg(feature = "sqlite")]
    pub fn map_sqlx_sqlite_opts(
        mut self,
        map: impl Fn(
                sea_orm::sqlx::sqlite::SqliteConnectOptions,
            ) -> sea_orm::sqlx::sqlite::SqliteConnectOptions
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.session.map_sqlite = Some(Arc::new(map));
        self
    }

    /// The pool, opening nothing yet (SQLAlchemy's pools are lazy). The pool name defaults to
    /// the URL without credentials and `db.system.name` to its scheme's database.
    pub fn build(self, url: &str) -> Result<DatabasePool, Error> {
        let backend = Backend::from_url(url)?;
        let mut hooks = self.hooks;
        if !self.name_set {
            hooks = hooks.name_from_url(url);
        }
        if !self.system_set {
            hooks = hooks.db_system_name(backend.system_name());
        }
        let hooks = hooks.build()?;
        let returns = Arc::new(Returns::default());
        let db = lazy_connection(backend, url, &hooks, &returns, &self.session)?;
        Ok(DatabasePool::new(db, hooks, returns))
    }

    /// [`build`](Self::build), then opens [`min_connections`](Self::min_connections) (or one
    /// connection, pinged), so that a wrong URL or a server that is down shows now (as
    /// SeaORM's `Database::connect` does). The error says which.
    pub async fn connect(self, url: &str) -> Result<DatabasePool, Error> {
        let min = self.min_connections;
        let pool = self.build(url)?;
        if let Some(limit) = pool.hooks().max_open() {
            if min as usize > limit {
                return Err(Error::MinConnectionsAboveLimit { min, limit });
            }
        }
        match min {
            0 => pool.ping().await,
            n => pool.open(n as usize).await,
        }
        .map_err(Error::Connect)?;
        Ok(pool)
    }
}

/// PostgreSQL's `SET search_path`, run on each new connection.
#[cfg(feature = "postgres")]
fn search_path_setup(
    session: &Session,
) -> Option<crate::sqlx_hooks::Setup<sea_orm::sqlx::Postgres>> {
    let sql = session.search_path_sql()?;
    Some(Arc::new(move |conn| {
        let sql = sql.to_string();
        Box::pin(async move {
            sea_orm::sqlx::Executor::execute(conn, sea_orm::sqlx::AssertSqlSafe(sql))
                .await
                .map(|_| ())
        })
    }))
}

fn lazy_connection(
    backend: Backend,
    url: &str,
    hooks: &PoolHooks,
    returns: &Arc<Returns>,
    session: &Session,
) -> Result<DatabaseConnection, Error> {
    use sea_orm::sqlx;
    Ok(match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let options: sqlx::postgres::PgConnectOptions =
                url.parse().map_err(Error::InvalidUrl)?;
            let pool = pool_options::<sqlx::Postgres>(hooks, returns, search_path_setup(session))
                .connect_lazy_with(session.postgres(options));
            sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
        }
        #[cfg(feature = "mysql")]
        Backend::MySql { mariadb } => {
            let url = match mariadb {
                // sqlx knows the protocol as mysql://.
                true => format!("mysql{}", &url["mariadb".len()..]),
                false => url.to_owned(),
            };
            let options: sqlx::mysql::MySqlConnectOptions =
                url.parse().map_err(Error::InvalidUrl)?;
            let pool = pool_options::<sqlx::MySql>(hooks, returns, None)
                .connect_lazy_with(session.mysql(options));
            sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool)
        }
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions =
                url.parse().map_err(Error::InvalidUrl)?;
            let pool = pool_options::<sqlx::Sqlite>(hooks, returns, None)
                .connect_lazy_with(session.sqlite(options));
            sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
        }
    })
}
