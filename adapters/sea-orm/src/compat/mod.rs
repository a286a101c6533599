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

use crate::{Builder, DatabasePool, Error};

mod options;

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
