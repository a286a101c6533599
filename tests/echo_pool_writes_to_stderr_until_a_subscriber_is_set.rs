//! `echo_pool` prints on its own, as SQLAlchemy's does: an application with `echo_pool` on and
//! no `tracing` subscriber gets the pool's lines on stderr, in SQLAlchemy's format; once it
//! sets a subscriber (or a `log` logger) they go there only.
//!
//! Each test runs this binary again as a child process (the ignored test `child_process`,
//! with `POOLSCOPE_ECHO_CHILD` saying what the child sets up), since a dispatcher, once set,
//! stays set for the process, and reads the child's stderr and stdout.
mod common;

use std::process::Command;

use common::{fake_reset, Db};
use poolscope::{EchoPool, Pool, ResetOnReturn};

const MODE: &str = "POOLSCOPE_ECHO_CHILD";
const LOGGER_NAME: &str = "poolscope::pool.QueuePool.echo-child";

/// The lines of the child's first checkout and return.
const FIRST_CHECKOUT: [(&str, &str); 4] = [
    ("DEBUG", "Created new connection 1"),
    ("DEBUG", "Connection 1 checked out from pool"),
    ("DEBUG", "Connection 1 being returned to pool"),
    ("DEBUG", "Connection 1 rollback-on-return"),
];

/// One checkout and return, then a dispose: the lines SQLAlchemy writes for them at DEBUG.
fn checkout_and_dispose(pool: &Pool<common::FakeManager>) {
    drop(pool.get().unwrap());
}

/// The child: a pool with `echo_pool` at DEBUG, and what `POOLSCOPE_ECHO_CHILD` says to set
/// up. Run by the tests below, never on its own.
#[test]
#[ignore = "run as a child process by the tests of this file"]
fn child_process() {
    let Ok(mode) = std::env::var(MODE) else {
        panic!("run by the other tests of this file, with {MODE} set");
    };
    let pool = Pool::builder()
        .name("echo-child")
        .pool_size(1)
        .max_overflow(0)
        .echo_pool(EchoPool::Debug)
        .reset_on_return(ResetOnReturn::Rollback)
        .reset_with(fake_reset)
        .build(Db::new().manager())
        .unwrap();
    match mode.as_str() {
        "bare" => {
            checkout_and_dispose(&pool);
            pool.dispose();
        }
        "subscriber" => {
            // Before the subscriber: stderr. After it: the subscriber (on stdout) only.
            checkout_and_dispose(&pool);
            tracing_subscriber::fmt()
                .with_writer(std::io::stdout)
                .with_max_level(tracing::Level::DEBUG)
                .without_time()
                .init();
            checkout_and_dispose(&pool);
            pool.dispose();
        }
        "logger" => {
            log::set_logger(&StdoutLogger).unwrap();
            log::set_max_level(log::LevelFilter::Debug);
            checkout_and_dispose(&pool);
            pool.dispose();
        }
        other => panic!("unknown {MODE}: {other}"),
    }
}

/// A `log` logger, as an application using `log` (env_logger, ...) sets one.
struct StdoutLogger;

impl log::Log for StdoutLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        println!("LOG {} {}", record.level(), record.args());
    }
    fn flush(&self) {}
}

/// The child's stdout and stderr.
fn run_child(mode: &str) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_process", "--exact", "--ignored", "--nocapture"])
        .env(MODE, mode)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child ran: {stdout}");
    (stdout, stderr)
}

/// The pool lines of `stderr` as (level, message), each checked to read as SQLAlchemy's
/// `2026-12-07 19:36:57,123 INFO sqlalchemy.pool.impl.QueuePool <message>`.
fn pool_lines(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.contains(" poolscope::pool."))
        .map(|line| {
            let mut parts = line.splitn(5, ' ');
            let (date, time, level, logger, message) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
            );
            let shape = |s: &str| -> String {
                s.chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect()
            };
            assert_eq!(shape(date), "9999-99-99", "{line}");
            assert_eq!(shape(time), "99:99:99,999", "{line}");
            assert_eq!(logger, LOGGER_NAME, "{line}");
            (level.to_owned(), message.to_owned())
        })
        .collect()
}

fn owned(lines: &[(&str, &str)]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|(l, m)| (l.to_string(), m.to_string()))
        .collect()
}

#[test]
fn without_a_subscriber_the_lines_go_to_stderr_as_sqlalchemy_writes_them() {
    let (_, stderr) = run_child("bare");
    let mut expected = owned(&FIRST_CHECKOUT);
    expected.extend(owned(&[
            ("DEBUG", "Closing connection 1"),
            (
                "INFO",
                "Pool disposed. Pool size: 1  Connections in pool: 0 Current Overflow: -1 Current Checked out connections: 0"
            ),
        ]));
    assert_eq!(pool_lines(&stderr), expected, "{stderr}");
}

#[test]
fn once_a_subscriber_is_set_the_lines_go_only_there() {
    let (stdout, stderr) = run_child("subscriber");
    assert_eq!(
        pool_lines(&stderr),
        owned(&FIRST_CHECKOUT),
        "before the subscriber only: {stderr}"
    );
    let to_subscriber: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("poolscope::pool"))
        .collect();
    for message in [
        "Connection 1 checked out from pool",
        "Connection 1 being returned to pool",
        "Connection 1 rollback-on-return",
        "Closing connection 1",
        "Pool disposed.",
    ] {
        assert!(
            to_subscriber.iter().any(|l| l.contains(message)),
            "{message}: {stdout}"
        );
    }
    assert!(
        !to_subscriber
            .iter()
            .any(|l| l.contains("Created new connection")),
        "what went to stderr does not go to the subscriber again: {stdout}"
    );
}

#[test]
fn a_log_logger_takes_the_lines_off_stderr() {
    let (_, stderr) = run_child("logger");
    assert_eq!(pool_lines(&stderr), vec![], "{stderr}");
}
