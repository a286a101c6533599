//! The blocking suite on SQLite: always runs (a fresh file per test).
mod blocking_suite;
mod common;

blocking_suite::blocking_suite!(diesel::SqliteConnection, |test: &str| Some(
    common::Target::sqlite(test)
));
