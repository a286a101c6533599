//! `status()`'s Display is SQLAlchemy's text exactly; the typed fields agree with it. Both
//! fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use poolscope::PoolClass;

fn queue_pool_status_text_has_two_spaces_after_the_size(front: Front) {
    let pool = TestPool::build(front, &Db::new(), Opts::default());
    assert_eq!(
        pool.status().to_string(),
        "Pool size: 5  Connections in pool: 0 Current Overflow: -5 Current Checked out connections: 0"
    );
    let held: Vec<_> = (0..7).map(|_| pool.get().unwrap()).collect();
    assert_eq!(
        pool.status().to_string(),
        "Pool size: 5  Connections in pool: 0 Current Overflow: 2 Current Checked out connections: 7"
    );
    drop(held);
    assert_eq!(
        pool.status().to_string(),
        "Pool size: 5  Connections in pool: 5 Current Overflow: 0 Current Checked out connections: 0"
    );
}

fn other_classes_status_texts(front: Front) {
    for (class, text) in [
        (PoolClass::Null, "NullPool"),
        (PoolClass::Static, "StaticPool"),
        (PoolClass::Assertion, "AssertionPool"),
    ] {
        let pool = TestPool::build(front, &Db::new(), Opts::class(class));
        assert_eq!(pool.status().to_string(), text);
    }
    if front == Front::Async {
        return; // SingletonThreadPool is the blocking pool's only
    }
    let pool = TestPool::build(front, &Db::new(), Opts::class(PoolClass::SingletonThread));
    let id = pool.status().pool_id;
    assert_eq!(
        pool.status().to_string(),
        format!("SingletonThreadPool id:{id} size: 0")
    );
    let _c = pool.get().unwrap();
    assert_eq!(
        pool.status().to_string(),
        format!("SingletonThreadPool id:{id} size: 1")
    );
}

on_both_fronts!(
    queue_pool_status_text_has_two_spaces_after_the_size,
    other_classes_status_texts,
);
