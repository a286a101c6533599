//! The SeaORM suite on SQLite (always runs).
#![cfg(feature = "sqlite")]

mod common;
mod suite;

suite::sea_orm_suite!(|test: &str| Some(common::Target::sqlite(&format!("so_{test}"))));
