//! [`Builder`]: the core's options, then a URL.

use std::sync::Arc;

use poolscope::hooks::{HooksBuilder, PoolHooks};
use sea_orm::DatabaseConnection;

use crate::backend::Backend;
use crate::returns::Returns;
use crate::sqlx_hooks::pool_options;
use crate::{DatabasePool, Error};

/// Builds a [`DatabasePool`] with SQLAlchemy's pool options (the same names as
/// [`poolscope::Builder`]), defaulting to what sqlx's own pool does
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
    hooks: HooksBuilder,
    name_set: bool,
    system_set: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            hooks: HooksBuilder::new().defaults(poolscope::Defaults::RUST_POOLS),
            name_set: false,
            system_set: false,
        }
    }
}

impl Builder {
    /// sqlx's defaults, in SQLAlchemy's terms (see the type's doc).
    pub fn new() -> Self {
        Self::default()
    }

    fn map(mut self, f: impl FnOnce(HooksBuilder) -> HooksBuilder) -> Self {
        self.hooks = f(self.hooks);
        self
    }

    crate::forward::forward_options!();

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
        let db = lazy_connection(backend, url, &hooks, &returns)?;
        Ok(DatabasePool::new(db, hooks, returns))
    }

    /// [`build`](Self::build), then one checkout and ping, so that a wrong URL or a server that
    /// is down shows now (as SeaORM's `Database::connect` does).
    pub async fn connect(self, url: &str) -> Result<DatabasePool, Error> {
        let pool = self.build(url)?;
        pool.ping().await.map_err(Error::Connect)?;
        Ok(pool)
    }
}

fn lazy_connection(
    backend: Backend,
    url: &str,
    hooks: &PoolHooks,
    returns: &Arc<Returns>,
) -> Result<DatabaseConnection, Error> {
    use sea_orm::sqlx;
    Ok(match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let options: sqlx::postgres::PgConnectOptions =
                url.parse().map_err(Error::InvalidUrl)?;
            let pool = pool_options::<sqlx::Postgres>(hooks, returns).connect_lazy_with(options);
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
            let pool = pool_options::<sqlx::MySql>(hooks, returns).connect_lazy_with(options);
            sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool)
        }
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions =
                url.parse().map_err(Error::InvalidUrl)?;
            let pool = pool_options::<sqlx::Sqlite>(hooks, returns).connect_lazy_with(options);
            sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
        }
    })
}
