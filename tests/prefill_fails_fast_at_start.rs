//! `prefill(count)`: the fail-fast start. A server that is down fails it with the connect
//! error; otherwise it leaves `count` connections idle, never more than the class keeps, on
//! both fronts. The pool stays lazy until it is called.
mod common;

use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use poolscope::{Error, PoolClass};

fn a_server_that_is_down_fails_the_start(front: Front) {
    let db = Db::new();
    db.stop();
    let pool = TestPool::build(front, &db, Opts::queue(5, 10, Duration::from_secs(1)));
    match pool.prefill(1) {
        Err(Error::Connect(e)) => assert_eq!(e.to_string(), "database is stopped"),
        Err(other) => panic!("not a connect error: {other}"),
        Ok(()) => panic!("prefill succeeded with the server down"),
    }
    let status = pool.status();
    assert_eq!((status.checked_in, status.checked_out), (0, 0), "{status}");
}

fn the_connections_stay_idle_and_never_more_than_kept(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::queue(5, 10, Duration::from_secs(1)));
    assert_eq!(db.connects(), 0, "lazy until prefill");
    pool.prefill(3).unwrap();
    assert_eq!(db.connects(), 3);
    assert_eq!(pool.settled().checked_in, 3);
    // Past pool_size, the overflow would only be closed on return: capped at 5.
    pool.prefill(50).unwrap();
    assert_eq!(db.connects(), 5);
    assert_eq!(pool.settled().checked_in, 5);
    assert_eq!(db.closes(), 0);
}

fn null_pool_checks_the_server_and_keeps_nothing(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::class(PoolClass::Null));
    pool.prefill(4).unwrap();
    assert_eq!(db.connects(), 1);
    assert_eq!(pool.settled().checked_in, 0);
    assert_eq!(db.open(), 0);
}

fn zero_opens_nothing(front: Front) {
    let db = Db::new();
    let pool = TestPool::build(front, &db, Opts::class(PoolClass::Static));
    pool.prefill(0).unwrap();
    assert_eq!(db.connects(), 0);
    pool.prefill(2).unwrap();
    assert_eq!(db.connects(), 1, "StaticPool keeps one");
}

on_both_fronts!(
    a_server_that_is_down_fails_the_start,
    the_connections_stay_idle_and_never_more_than_kept,
    null_pool_checks_the_server_and_keeps_nothing,
    zero_opens_nothing,
);
