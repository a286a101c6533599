//! The async suite on MariaDB / MySQL with diesel-async (`POOLSCOPE_MYSQL_URL`).
mod async_suite;
mod common;

async_suite::async_suite!(diesel_async::AsyncMysqlConnection, common::Target::mysql);
