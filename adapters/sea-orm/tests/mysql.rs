//! The SeaORM suite on MariaDB / MySQL (`POOLSCOPE_MYSQL_URL`; says SKIPPED without it).
#![cfg(feature = "mysql")]

mod common;
mod suite;

suite::sea_orm_suite!(|test: &str| common::Target::mysql(&format!("so_{test}")));
