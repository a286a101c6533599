//! The blocking suite on MariaDB / MySQL (`POOLSCOPE_MYSQL_URL`), counting
//! `information_schema.processlist`. Needs the `mysql` feature (libmysqlclient); `.ci/run`
//! turns it on.
mod blocking_suite;
mod common;

blocking_suite::blocking_suite!(diesel::MysqlConnection, common::Target::mysql);
