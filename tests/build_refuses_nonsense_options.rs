//! `build()` refuses options that make no sense, with a clear message, opening nothing.
mod common;

use common::{builder, Db, FakeManager};
use poolscope::{AsyncPool, BuildError, Pool, PoolClass, ResetOnReturn};
use std::time::Duration;

type Setter = fn(poolscope::Builder<FakeManager>) -> poolscope::Builder<FakeManager>;

fn refused(b: poolscope::Builder<FakeManager>) -> BuildError {
    let db = Db::new();
    let err = b.build(db.manager()).unwrap_err();
    assert_eq!(db.connects(), 0);
    err
}

#[test]
fn max_overflow_below_minus_one_is_refused() {
    let err = refused(builder().max_overflow(-2));
    assert_eq!(err, BuildError::MaxOverflowOutOfRange(-2));
    assert_eq!(
        err.to_string(),
        "max_overflow must be -1 (no limit) or at least 0, got -2"
    );
}

#[test]
fn options_a_class_would_ignore_are_refused() {
    let cases: [(PoolClass, Setter, &str); 6] = [
        (PoolClass::Null, |b| b.pool_size(3), "pool_size"),
        (PoolClass::Static, |b| b.max_overflow(3), "max_overflow"),
        (
            PoolClass::Assertion,
            |b| b.pool_timeout(Duration::from_secs(1)),
            "pool_timeout",
        ),
        (PoolClass::SingletonThread, |b| b.use_lifo(true), "use_lifo"),
        (PoolClass::Null, |b| b.pool_timeout(None), "pool_timeout"),
        (
            PoolClass::Queue,
            |b| b.store_traceback(false),
            "store_traceback",
        ),
    ];
    for (class, set, option) in cases {
        let err = refused(set(builder().pool_class(class)));
        assert_eq!(err, BuildError::OptionNotApplicable { option, class });
        assert_eq!(
            err.to_string(),
            format!("{option} does not apply to {class}; remove it or choose a class that uses it")
        );
    }
}

#[test]
fn zero_sized_singleton_and_zero_recycle_and_blank_name_are_refused() {
    assert_eq!(
        refused(
            builder()
                .pool_class(PoolClass::SingletonThread)
                .pool_size(0)
        )
        .to_string(),
        "pool_size must be at least 1 for SingletonThreadPool"
    );
    assert_eq!(
        refused(builder().pool_recycle(Duration::ZERO)),
        BuildError::ZeroRecycle
    );
    assert_eq!(refused(builder().name("  ")), BuildError::EmptyName);
}

#[test]
fn rollback_without_a_reset_function_is_refused_not_ignored() {
    let db = Db::new();
    let err = Pool::builder().build(db.manager()).unwrap_err();
    assert_eq!(
        err,
        BuildError::ResetUnsupported {
            requested: ResetOnReturn::Rollback
        }
    );
    assert!(err.to_string().contains("reset_with"), "{err}");
    let err = Pool::builder()
        .reset_on_return(ResetOnReturn::Commit)
        .build(db.manager())
        .unwrap_err();
    assert!(err.to_string().contains("commit"), "{err}");
    assert!(Pool::builder()
        .reset_on_return(ResetOnReturn::None)
        .build(db.manager())
        .is_ok());
}

#[tokio::test]
async fn async_pool_refuses_singleton_thread() {
    let err = AsyncPool::builder()
        .pool_class(PoolClass::SingletonThread)
        .reset_on_return(ResetOnReturn::None)
        .build(Db::new().manager())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        BuildError::ClassNotSupported {
            class: PoolClass::SingletonThread
        }
    );
    assert!(err
        .to_string()
        .starts_with("SingletonThreadPool is not available on the async pool"));
}

#[test]
fn pool_size_zero_on_queue_is_valid_and_sensible_options_build() {
    let pool = builder()
        .pool_size(0)
        .pool_timeout(Duration::ZERO)
        .pool_recycle(Duration::from_secs(1))
        .name("ok")
        .build(Db::new().manager())
        .unwrap();
    assert_eq!(pool.name(), "ok");
}
