//! Every checkout error says its own part in `Display`, and its cause comes as `source()`:
//! walking the chain (as anyhow's `{:#}` or a log of the chain does) shows each message
//! once, and `ErrorChain` prints them on one line. On both fronts.
mod common;

use poolscope::ConnectionEvent;
use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, FakeConn};
use poolscope::{Error, ErrorChain, ListenerError, PoolListener};

/// `error`'s message, then each source's.
fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        texts.push(cause.to_string());
        next = cause.source();
    }
    texts
}

/// No message repeats the one after it, and `ErrorChain` is the chain joined.
fn assert_each_message_once(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let texts = chain(error);
    for pair in texts.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "a message repeats its source: {texts:?}"
        );
    }
    assert_eq!(ErrorChain(error).to_string(), texts.join(": "));
    texts
}

fn a_failed_connect_says_so_and_its_cause_is_the_managers_error(front: Front) {
    let db = Db::new();
    db.stop();
    let pool = TestPool::build(front, &db, Opts::queue(1, 0, Duration::from_secs(5)));
    let error = pool.get().err().expect("the server is stopped");
    assert!(matches!(error, Error::Connect(_)), "{error:?}");
    assert_eq!(
        assert_each_message_once(&error),
        ["could not open a connection", "database is stopped"]
    );
}

fn a_timeout_is_one_message(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(1, 0, Duration::from_millis(50)));
    let _held = pool.get().unwrap();
    let error = pool.get().err().expect("the one connection is held");
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert_eq!(
        assert_each_message_once(&error),
        ["QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.05"]
    );
}

struct RefusesCheckouts;

impl PoolListener<FakeConn> for RefusesCheckouts {
    fn checkout(&self, _event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        Err(ListenerError::fatal("tenant database is read-only"))
    }
}

fn a_listener_failure_says_so_and_its_cause_is_the_listeners_error(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::default().listener(RefusesCheckouts));
    let error = pool.get().err().expect("the listener refuses");
    assert!(matches!(error, Error::Listener(_)), "{error:?}");
    assert_eq!(
        assert_each_message_once(&error),
        ["a pool listener failed", "tenant database is read-only"]
    );
}

on_both_fronts!(
    a_failed_connect_says_so_and_its_cause_is_the_managers_error,
    a_timeout_is_one_message,
    a_listener_failure_says_so_and_its_cause_is_the_listeners_error,
);
