//! The SeaORM suite on PostgreSQL (`POOLSCOPE_PG_URL`; says SKIPPED without it).
#![cfg(feature = "postgres")]

mod common;
mod suite;

suite::sea_orm_suite!(|test: &str| common::Target::postgres(&format!("so_{test}")));
