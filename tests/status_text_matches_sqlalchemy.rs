//! `status()`'s Display is SQLAlchemy's text exactly; the typed fields agree with it.
mod common;

use common::{builder, Db};
use poolscope::PoolClass;

#[test]
fn queue_pool_status_text_has_two_spaces_after_the_size() {
    let pool = builder().build(Db::new().manager()).unwrap();
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

#[test]
fn other_classes_status_texts() {
    for (class, text) in [
        (PoolClass::Null, "NullPool"),
        (PoolClass::Static, "StaticPool"),
        (PoolClass::Assertion, "AssertionPool"),
    ] {
        let pool = builder()
            .pool_class(class)
            .build(Db::new().manager())
            .unwrap();
        assert_eq!(pool.status().to_string(), text);
    }
    let pool = builder()
        .pool_class(PoolClass::SingletonThread)
        .build(Db::new().manager())
        .unwrap();
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
