//! What every new connection gets before its first statement: sqlx's statement logging, the
//! PostgreSQL session settings SeaORM's `ConnectOptions` offers (application name, statement
//! timeout, search path), the SQLCipher key, and the user's own changes to sqlx's connect
//! options. Applied by [`Builder`](crate::Builder) and by [`compat`](crate::compat).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use log::LevelFilter;
use sea_orm::sqlx;

/// A change to one backend's sqlx connect options (SeaORM's `map_sqlx_*_opts`).
type MapOptions<O> = Arc<dyn Fn(O) -> O + Send + Sync>;

/// sqlx's statement logging, as SeaORM's `ConnectOptions` sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatementLogging {
    pub(crate) enabled: bool,
    pub(crate) level: LevelFilter,
    pub(crate) slow_level: LevelFilter,
    pub(crate) slow_threshold: Duration,
}

impl StatementLogging {
    /// SeaORM's defaults: every statement at INFO, slow statements not singled out.
    pub(crate) const SEA_ORM: StatementLogging = StatementLogging {
        enabled: true,
        level: LevelFilter::Info,
        slow_level: LevelFilter::Off,
        slow_threshold: Duration::from_secs(1),
    };

    fn apply<O: sqlx::ConnectOptions>(self, options: O) -> O {
        if !self.enabled {
            return options.disable_statement_logging();
        }
        let options = options.log_statements(self.level);
        match self.slow_level {
            LevelFilter::Off => options,
            level => options.log_slow_statements(level, self.slow_threshold),
        }
    }
}

/// Per-connection settings. Unset ones leave sqlx's connect options as the URL gives them.
#[derive(Clone, Default)]
pub(crate) struct Session {
    pub(crate) logging: Option<StatementLogging>,
    pub(crate) application_name: Option<String>,
    pub(crate) statement_timeout: Option<Duration>,
    pub(crate) schema_search_path: Option<String>,
    pub(crate) sqlcipher_key: Option<String>,
    #[cfg(feature = "postgres")]
    pub(crate) map_postgres: Option<MapOptions<sqlx::postgres::PgConnectOptions>>,
    #[cfg(feature = "mysql")]
    pub(crate) map_mysql: Option<MapOptions<sqlx::mysql::MySqlConnectOptions>>,
    #[cfg(feature = "sqlite")]
    pub(crate) map_sqlite: Option<MapOptions<sqlx::sqlite::SqliteConnectOptions>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("logging", &self.logging)
            .field("application_name", &self.application_name)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema_search_path", &self.schema_search_path)
            .field(
                "sqlcipher_key",
                &self.sqlcipher_key.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

impl Session {
    fn logged<O: sqlx::ConnectOptions>(&self, options: O) -> O {
        match self.logging {
            Some(logging) => logging.apply(options),
            None => options,
        }
    }

    /// PostgreSQL: logging, `application_name`, `statement_timeout` (sent at connect, no extra
    /// round trip), then the user's change.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(
        &self,
        options: sqlx::postgres::PgConnectOptions,
    ) -> sqlx::postgres::PgConnectOptions {
        let mut options = self.logged(options);
        if let Some(name) = &self.application_name {
            options = options.application_name(name);
        }
        if let Some(timeout) = self.statement_timeout {
            options = options.options([("statement_timeout", timeout.as_millis().to_string())]);
        }
        match &self.map_postgres {
            Some(map) => map(options),
            None => options,
        }
    }

    /// MySQL and MariaDB: logging, then the user's change (SeaORM applies no session setting
    /// there either).
    #[cfg(feature = "mysql")]
    pub(crate) fn mysql(
        &self,
        options: sqlx::mysql::MySqlConnectOptions,
    ) -> sqlx::mysql::MySqlConnectOptions {
        let options = self.logged(options);
        match &self.map_mysql {
            Some(map) => map(options),
            None => options,
        }
    }

    /// SQLite: the SQLCipher key, logging, then the user's change.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(
        &self,
        mut options: sqlx::sqlite::SqliteConnectOptions,
    ) -> sqlx::sqlite::SqliteConnectOptions {
        if let Some(key) = &self.sqlcipher_key {
            options = options.pragma("key", key.clone());
        }
        let options = self.logged(options);
        match &self.map_sqlite {
            Some(map) => map(options),
            None => options,
        }
    }

    /// `SET search_path = ..` for each new PostgreSQL connection, quoted as SeaORM quotes it
    /// (each comma-separated name in double quotes unless already quoted).
    pub(crate) fn search_path_sql(&self) -> Option<Arc<str>> {
        let path = self.schema_search_path.as_deref()?;
        let mut sql = String::from("SET search_path = ");
        if path.starts_with('"') {
            sql.push_str(path);
        } else {
            for (i, schema) in path.split(',').enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                if schema.starts_with('"') {
                    sql.push_str(schema);
                } else {
                    sql.push('"');
                    sql.push_str(schema);
                    sql.push('"');
                }
            }
        }
        Some(sql.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(path: &str) -> String {
        let session = Session {
            schema_search_path: Some(path.to_owned()),
            ..Session::default()
        };
        session.search_path_sql().unwrap().to_string()
    }

    #[test]
    fn search_paths_are_quoted_as_sea_orm_quotes_them() {
        assert_eq!(path("app"), r#"SET search_path = "app""#);
        assert_eq!(path("app,public"), r#"SET search_path = "app","public""#);
        assert_eq!(path(r#""My Schema""#), r#"SET search_path = "My Schema""#);
        assert_eq!(Session::default().search_path_sql(), None);
    }
}
