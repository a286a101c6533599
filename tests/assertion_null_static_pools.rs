//! SQLAlchemy checklist M: AssertionPool, NullPool, StaticPool, on both fronts. (A nested
//! StaticPool checkout by the holder itself is refused at once: here for a thread; for a
//! task in `async_pool_semantics`.)
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use poolscope::{Error, PoolClass};

fn of(front: Front, db: &Db, class: PoolClass) -> TestPool {
    TestPool::build(front, db, Opts::class(class))
}

/// M65 (`test_connect_error`, `test_connect_multiple`): a second concurrent checkout fails at
/// once naming where the first was taken; sequential checkouts are fine.
fn m65_assertion_pool_refuses_a_second_checkout_naming_the_first(front: Front) {
    let pool = of(front, &Db::new(), PoolClass::Assertion);
    for _ in 0..5 {
        drop(pool.get().unwrap());
    }
    let first = pool.get().unwrap();
    let line = line!() - 1;
    let err = std::thread::scope(|s| {
        s.spawn(|| pool.get().map(|_| ()).err().unwrap())
            .join()
            .unwrap()
    });
    let text = err.to_string();
    let expected = format!(
        "connection is already checked out at:\n{}:{}:",
        file!(),
        line
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(matches!(err, Error::AlreadyCheckedOut(_)));
    drop(first);
    drop(pool.get().unwrap());
}

/// AssertionPool's text with stored backtraces off is exactly the location.
fn assertion_pool_text_without_backtrace(front: Front) {
    let pool = TestPool::build(
        front,
        &Db::new(),
        Opts {
            store_traceback: Some(false),
            ..Opts::class(PoolClass::Assertion)
        },
    );
    let _first = pool.get().unwrap();
    let line = line!() - 1;
    let err = pool.get().err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "connection is already checked out at:\n{}:{}:23",
            file!(),
            line
        )
    );
}

/// M66 (`NullPoolTest.test_reconnect`, with the real count): every checkout opens, every
/// return closes; close → invalidate → connect opens 3 in all.
fn m66_null_pool_opens_and_closes_every_time(front: Front) {
    let db = Db::new();
    let pool = of(front, &db, PoolClass::Null);
    let c = pool.get().unwrap();
    let id = c.id;
    drop(c);
    assert_eq!(db.calls(id), vec!["rollback", "close"]);
    pool.get().unwrap().invalidate();
    let _c = pool.get().unwrap();
    assert_eq!(db.connects(), 3);
    assert_eq!(db.open(), 1);
    assert_eq!(pool.status().to_string(), "NullPool");
}

/// M67 (`test_connect`, `test_recreate`): StaticPool hands out the same connection every time
/// and keeps it on return; recreate keeps the manager.
fn m67_static_pool_is_one_connection_for_life(front: Front) {
    let db = Db::new();
    let pool = of(front, &db, PoolClass::Static);
    let ids: Vec<_> = (0..5).map(|_| pool.get().unwrap().id).collect();
    assert_eq!(ids, vec![1; 5]);
    assert_eq!((db.connects(), db.closes()), (1, 0));
    assert_eq!(pool.status().to_string(), "StaticPool");
    let again = pool.recreate();
    assert!(pool.shares_manager_with(&again));
}

/// StaticPool: a nested checkout on the thread that holds it fails at once naming the site.
#[test]
fn static_pool_nested_checkout_fails_at_once() {
    let pool = of(Front::Blocking, &Db::new(), PoolClass::Static);
    let _held = pool.get().unwrap();
    let line = line!() - 1;
    let start = std::time::Instant::now();
    let err = pool.get().err().unwrap();
    // At once, not at the pool's 30 s `pool_timeout` (room for a busy machine).
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "no wait for itself"
    );
    match err {
        Error::AlreadyCheckedOut(e) => assert_eq!(e.site().location().line(), line),
        other => panic!("{other:?}"),
    }
}

/// Subtlety 5.9: after invalidation StaticPool opens a new connection at the next checkout.
fn static_pool_reconnects_after_invalidation(front: Front) {
    let db = Db::new();
    let pool = of(front, &db, PoolClass::Static);
    pool.get().unwrap().invalidate();
    assert_eq!(pool.get().unwrap().id, 2);
    assert_eq!(pool.status().to_string(), "StaticPool");
}

fn assertion_pool_status_text(front: Front) {
    let pool = of(front, &Db::new(), PoolClass::Assertion);
    assert_eq!(pool.status().to_string(), "AssertionPool");
}

on_both_fronts!(
    m65_assertion_pool_refuses_a_second_checkout_naming_the_first,
    assertion_pool_text_without_backtrace,
    m66_null_pool_opens_and_closes_every_time,
    m67_static_pool_is_one_connection_for_life,
    static_pool_reconnects_after_invalidation,
    assertion_pool_status_text,
);
