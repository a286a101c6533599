//! `build()` refuses options that make no sense, with a clear message, opening nothing — the
//! blocking and the async builder alike.
mod common;

use common::{Db, FakeAsyncReset};
use poolscope::{AsyncPool, BuildError, Pool, PoolClass, ResetOnReturn};
use std::time::Duration;

/// Builds with `$set` applied to the blocking and to the async builder (their setters share
/// names); both must refuse, with the same error, having opened nothing. Evaluates to it.
macro_rules! refused_on_both {
    ($b:ident => $set:expr) => {{
        let db = Db::new();
        let blocking = {
            let $b = Pool::builder().reset_with(common::fake_reset);
            $set
        }
        .build(db.manager())
        .map(drop)
        .unwrap_err();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let nonblocking = runtime
            .block_on(
                {
                    let $b = AsyncPool::builder().reset_with(FakeAsyncReset);
                    $set
                }
                .build(db.manager()),
            )
            .map(drop)
            .unwrap_err();
        assert_eq!(blocking, nonblocking, "the two builders agree");
        assert_eq!(db.connects(), 0);
        blocking
    }};
}

#[test]
fn max_overflow_below_minus_one_is_refused() {
    let err = refused_on_both!(b => b.max_overflow(-2));
    assert_eq!(err, BuildError::MaxOverflowOutOfRange(-2));
    assert_eq!(
        err.to_string(),
        "max_overflow must be -1 (no limit) or at least 0, got -2"
    );
}

#[test]
fn options_a_class_would_ignore_are_refused() {
    let check = |err: BuildError, class: PoolClass, option: &'static str| {
        assert_eq!(err, BuildError::OptionNotApplicable { option, class });
        assert_eq!(
            err.to_string(),
            format!("{option} does not apply to {class}; remove it or choose a class that uses it")
        );
    };
    let class = PoolClass::Null;
    check(
        refused_on_both!(b => b.pool_class(class).pool_size(3)),
        class,
        "pool_size",
    );
    check(
        refused_on_both!(b => b.pool_class(class).pool_timeout(None)),
        class,
        "pool_timeout",
    );
    let class = PoolClass::Static;
    check(
        refused_on_both!(b => b.pool_class(class).max_overflow(3)),
        class,
        "max_overflow",
    );
    let class = PoolClass::Assertion;
    check(
        refused_on_both!(b => b.pool_class(class).pool_timeout(Duration::from_secs(1))),
        class,
        "pool_timeout",
    );
    let class = PoolClass::Queue;
    check(
        refused_on_both!(b => b.pool_class(class).store_traceback(false)),
        class,
        "store_traceback",
    );
    // SingletonThreadPool exists on the blocking pool only.
    let class = PoolClass::SingletonThread;
    let err = Pool::builder()
        .pool_class(class)
        .use_lifo(true)
        .reset_with(common::fake_reset)
        .build(Db::new().manager())
        .map(drop)
        .unwrap_err();
    check(err, class, "use_lifo");
}

#[test]
fn zero_sized_singleton_and_zero_recycle_and_blank_name_are_refused() {
    let err = Pool::builder()
        .pool_class(PoolClass::SingletonThread)
        .pool_size(0)
        .reset_with(common::fake_reset)
        .build(Db::new().manager())
        .map(drop)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pool_size must be at least 1 for SingletonThreadPool"
    );
    assert_eq!(
        refused_on_both!(b => b.pool_recycle(Duration::ZERO)),
        BuildError::ZeroRecycle
    );
    assert_eq!(refused_on_both!(b => b.name("  ")), BuildError::EmptyName);
    assert_eq!(
        refused_on_both!(b => b.leak_detection_threshold(Duration::ZERO)),
        BuildError::ZeroLeakThreshold
    );
}

#[test]
fn rollback_without_a_reset_function_is_refused_not_ignored() {
    let db = Db::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let errors = [
        Pool::builder().build(db.manager()).map(drop).unwrap_err(),
        runtime
            .block_on(AsyncPool::builder().build(db.manager()))
            .map(drop)
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(
            err,
            BuildError::ResetUnsupported {
                requested: ResetOnReturn::Rollback
            }
        );
        assert!(err.to_string().contains("reset_with"), "{err}");
    }
    let err = Pool::builder()
        .reset_on_return(ResetOnReturn::Commit)
        .build(db.manager())
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("commit"), "{err}");
    let err = runtime
        .block_on(
            AsyncPool::builder()
                .reset_on_return(ResetOnReturn::Commit)
                .build(db.manager()),
        )
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("commit"), "{err}");
    assert!(Pool::builder()
        .reset_on_return(ResetOnReturn::None)
        .build(db.manager())
        .is_ok());
    assert!(runtime
        .block_on(
            AsyncPool::builder()
                .reset_on_return(ResetOnReturn::None)
                .build(db.manager())
        )
        .is_ok());
    assert_eq!(db.connects(), 0);
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
    let pool = Pool::builder()
        .pool_size(0)
        .pool_timeout(Duration::ZERO)
        .pool_recycle(Duration::from_secs(1))
        .name("ok")
        .reset_with(common::fake_reset)
        .build(Db::new().manager())
        .unwrap();
    assert_eq!(pool.name(), "ok");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let pool = runtime
        .block_on(
            AsyncPool::builder()
                .pool_size(0)
                .pool_timeout(Duration::ZERO)
                .pool_recycle(Duration::from_secs(1))
                .name("ok")
                .reset_with(FakeAsyncReset)
                .build(Db::new().manager()),
        )
        .unwrap();
    assert_eq!(pool.name(), "ok");
}
