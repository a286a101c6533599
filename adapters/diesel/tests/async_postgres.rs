//! The async suite on PostgreSQL with diesel-async (`POOLSCOPE_PG_URL`).
mod async_suite;
mod common;

async_suite::async_suite!(diesel_async::AsyncPgConnection, common::Target::postgres);
