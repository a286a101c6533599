//! The blocking suite on PostgreSQL (`POOLSCOPE_PG_URL`), counting `pg_stat_activity`.
mod blocking_suite;
mod common;

blocking_suite::blocking_suite!(diesel::PgConnection, common::Target::postgres);
