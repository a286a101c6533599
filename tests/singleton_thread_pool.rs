//! SQLAlchemy checklist L: SingletonThreadPool.
//!
//! Rust translation of L63: SQLAlchemy hands a nested checkout on the same thread the *same*
//! handle. Two live `&mut` to one connection would be unsound, so here a nested `get()` on a
//! thread that holds its connection fails at once naming where it was checked out; code that
//! needs the connection further down is passed the `&mut` it already has. A later checkout on
//! the thread gets the same connection again.
mod common;

use common::{builder, Db};
use poolscope::{Error, PoolClass};
use std::collections::HashSet;
use std::sync::Mutex;

/// L63, translated: the nested checkout is refused at once (no hang, no second connection),
/// the outer return gives `[rollback]`, and the thread's next checkout is the same connection.
#[test]
fn l63_nested_checkout_on_the_same_thread_is_refused_and_reuse_is_shared() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::SingletonThread)
        .build(db.manager())
        .unwrap();
    let outer = pool.get().unwrap();
    let line = line!() - 1;
    let id = outer.id;
    match pool.get() {
        Err(Error::AlreadyCheckedOut(e)) => {
            assert_eq!(e.site().location().line(), line);
            assert!(
                e.to_string()
                    .starts_with("connection is already checked out at:\n"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.calls(id), Vec::<&str>::new());
    drop(outer);
    assert_eq!(db.calls(id), vec!["rollback"]);
    assert_eq!(pool.get().unwrap().id, id);
    assert_eq!(db.connects(), 1);
}

/// Each thread has its own connection.
#[test]
fn one_connection_per_thread() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::SingletonThread)
        .build(db.manager())
        .unwrap();
    let ids = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let first = pool.get().unwrap().id;
                let second = pool.get().unwrap().id;
                assert_eq!(first, second);
                ids.lock().unwrap().push(first);
            });
        }
    });
    let distinct: HashSet<_> = ids.into_inner().unwrap().into_iter().collect();
    assert_eq!(distinct.len(), 3);
    assert_eq!(
        pool.status().to_string(),
        format!("SingletonThreadPool id:{} size: 3", pool.status().pool_id)
    );
}

/// L64 (`test_cleanup`, strengthened): pool_size 3, 10 threads × 10 checkouts: afterwards
/// exactly 3 threads' connections are kept, and everything else was closed.
#[test]
fn l64_at_most_pool_size_thread_connections_are_kept() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::SingletonThread)
        .pool_size(3)
        .build(db.manager())
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                for _ in 0..10 {
                    let mut c = pool.get().unwrap();
                    c.execute().unwrap();
                }
            });
        }
    });
    assert_eq!(pool.status().checked_in, 3);
    assert_eq!(pool.status().checked_out, 0);
    assert_eq!(db.open(), 3);
}

/// A thread whose connection was evicted while in use closes it on return (SQLAlchemy closes
/// it under the user; Rust cannot, so it goes when returned).
#[test]
fn evicted_in_use_connection_closes_on_return() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::SingletonThread)
        .pool_size(1)
        .build(db.manager())
        .unwrap();
    let mine = pool.get().unwrap();
    let my_id = mine.id;
    std::thread::scope(|s| {
        s.spawn(|| drop(pool.get().unwrap()));
    });
    assert!(!db.calls(my_id).contains(&"close"));
    drop(mine);
    assert!(db.calls(my_id).contains(&"close"));
    assert_eq!(db.open(), 1);
}

/// dispose closes every idle thread connection.
#[test]
fn dispose_closes_thread_connections() {
    let db = Db::new();
    let pool = builder()
        .pool_class(PoolClass::SingletonThread)
        .build(db.manager())
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| drop(pool.get().unwrap()));
        }
    });
    assert_eq!(db.open(), 3);
    pool.dispose();
    assert_eq!(db.open(), 0);
    assert_eq!(pool.status().checked_in + pool.status().checked_out, 0);
}
