//! Which sqlx backend a URL names, and its OpenTelemetry `db.system.name`.

use crate::Error;

/// The database behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql { mariadb: bool },
    #[cfg(feature = "sqlite")]
    Sqlite,
}

impl Backend {
    pub(crate) fn from_url(url: &str) -> Result<Self, Error> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            #[cfg(feature = "mysql")]
            "mysql" => Ok(Backend::MySql { mariadb: false }),
            #[cfg(feature = "mysql")]
            "mariadb" => Ok(Backend::MySql { mariadb: true }),
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Backend::Sqlite),
            _ => Err(Error::UnsupportedUrl {
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// OpenTelemetry's `db.system.name`.
    pub(crate) fn system_name(self) -> &'static str {
        match self {
            #[cfg(feature = "postgres")]
            Backend::Postgres => "postgresql",
            #[cfg(feature = "mysql")]
            Backend::MySql { mariadb: false } => "mysql",
            #[cfg(feature = "mysql")]
            Backend::MySql { mariadb: true } => "mariadb",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => "sqlite",
        }
    }
}
