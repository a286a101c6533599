//! `db.system.name` from a connection's Diesel backend.

use std::any::TypeId;

/// OpenTelemetry's `db.system.name` for Diesel backend `B`, if it is one Diesel ships.
pub(crate) fn system_name<B: 'static>() -> Option<&'static str> {
    let id = TypeId::of::<B>();
    #[cfg(any(feature = "postgres", feature = "async-postgres"))]
    if id == TypeId::of::<diesel::pg::Pg>() {
        return Some("postgresql");
    }
    #[cfg(any(feature = "mysql", feature = "async-mysql"))]
    if id == TypeId::of::<diesel::mysql::Mysql>() {
        return Some("mysql");
    }
    #[cfg(feature = "sqlite")]
    if id == TypeId::of::<diesel::sqlite::Sqlite>() {
        return Some("sqlite");
    }
    let _ = id;
    None
}
