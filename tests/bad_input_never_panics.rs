//! Bad input gets a clear error and loses nothing: property tests over every builder option
//! (nonsense included: overflow below -1, zero and enormous durations, blank and odd names,
//! options a class does not take) and over option text. `build()` gives a pool or a
//! `BuildError` with a message, never a panic; a built pool hands out a connection or a clear
//! error within its timeout and its books stay whole; a waiter with any timeout, up to
//! `Duration::MAX`, never overflows its deadline. 256 cases for each of the three builder / text
//! properties and 24 for the waiting one: 792 in all.
mod common;

use std::time::Duration;

use common::Db;
use poolscope::{AsyncPool, EchoPool, PoolClass, PoolOptions, ResetOnReturn};
use proptest::prelude::*;

fn class() -> impl Strategy<Value = PoolClass> {
    prop_oneof![
        Just(PoolClass::Queue),
        Just(PoolClass::Null),
        Just(PoolClass::SingletonThread),
        Just(PoolClass::Static),
        Just(PoolClass::Assertion),
    ]
}

/// Durations people type, and the extremes.
fn duration() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        Just(None),
        Just(Some(Duration::ZERO)),
        Just(Some(Duration::from_nanos(1))),
        (1u64..500).prop_map(|ms| Some(Duration::from_millis(ms))),
        Just(Some(Duration::from_secs(u64::MAX))),
        Just(Some(Duration::MAX)),
    ]
}

/// Every option of the builders, nonsense included.
#[derive(Debug, Clone)]
struct Options {
    class: PoolClass,
    pool_size: Option<usize>,
    max_overflow: Option<i64>,
    timeout: Option<Option<Duration>>,
    recycle: Option<Option<Duration>>,
    pre_ping: bool,
    lifo: Option<bool>,
    reset: ResetOnReturn,
    echo: EchoPool,
    name: Option<String>,
    leak: Option<Duration>,
    store_traceback: Option<bool>,
}

fn options() -> impl Strategy<Value = Options> {
    (
        (
            class(),
            prop::option::of(prop_oneof![0usize..12, Just(usize::MAX)]),
            prop::option::of(prop_oneof![-3i64..12, Just(i64::MIN), Just(i64::MAX)]),
            prop::option::of(duration()),
            prop::option::of(duration()),
            any::<bool>(),
        ),
        (
            prop::option::of(any::<bool>()),
            prop_oneof![
                Just(ResetOnReturn::Rollback),
                Just(ResetOnReturn::Commit),
                Just(ResetOnReturn::None)
            ],
            prop_oneof![
                Just(EchoPool::Off),
                Just(EchoPool::Info),
                Just(EchoPool::Debug)
            ],
            prop::option::of(prop_oneof![
                Just(String::new()),
                Just("   ".to_owned()),
                "[a-z]{1,8}",
                "\\PC{0,12}",
            ]),
            duration(),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |((class, pool_size, max_overflow, timeout, recycle, pre_ping), rest)| {
                let (lifo, reset, echo, name, leak, store_traceback) = rest;
                Options {
                    class,
                    pool_size,
                    max_overflow,
                    timeout,
                    recycle,
                    pre_ping,
                    lifo,
                    reset,
                    echo,
                    name,
                    leak: leak.filter(|d| *d < Duration::from_secs(3600)),
                    store_traceback,
                }
            },
        )
}

macro_rules! apply {
    ($builder:expr, $o:expr) => {{
        let o = $o;
        let mut b = $builder
            .pool_class(o.class)
            .pre_ping(o.pre_ping)
            .reset_on_return(o.reset)
            .echo_pool(o.echo)
            .leak_detection_threshold(o.leak);
        if let Some(size) = o.pool_size {
            b = b.pool_size(size);
        }
        if let Some(overflow) = o.max_overflow {
            b = b.max_overflow(overflow);
        }
        if let Some(timeout) = o.timeout {
            b = b.pool_timeout(timeout);
        }
        if let Some(recycle) = o.recycle {
            b = b.pool_recycle(recycle);
        }
        if let Some(lifo) = o.lifo {
            b = b.use_lifo(lifo);
        }
        if let Some(name) = o.name.clone() {
            b = b.name(name);
        }
        if let Some(store) = o.store_traceback {
            b = b.store_traceback(store);
        }
        b
    }};
}

/// The longest a checkout may take here: its timeout (capped, the property uses short ones
/// for waits that matter) plus a margin.
fn patience(o: &Options) -> Duration {
    let timeout = o.timeout.flatten().unwrap_or(Duration::from_secs(30));
    timeout.min(Duration::from_secs(1)) + Duration::from_secs(2)
}

/// No failure files beside the sources (the seed is printed on failure).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(ProptestConfig::default().cases))]

    #[test]
    fn blocking_builds_or_refuses_and_never_panics(o in options()) {
        let db = Db::new();
        match apply!(common::builder(), o.clone()).build(db.manager()) {
            Err(refused) => prop_assert!(!refused.to_string().trim().is_empty()),
            Ok(pool) => {
                let started = std::time::Instant::now();
                let got = pool.get();
                prop_assert!(started.elapsed() < patience(&o), "{:?}", started.elapsed());
                drop(got);
                // The books are whole: nothing checked out once a connect that outlived a
                // tiny timeout has come back on its connector thread, no more open than one.
                let until = std::time::Instant::now() + Duration::from_secs(2);
                while pool.status().checked_out > 0 && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let status = pool.status();
                prop_assert_eq!(status.checked_out, 0, "{}", status);
                prop_assert!(db.open() <= 1, "{} open", db.open());
            }
        }
    }

    #[test]
    fn async_builds_or_refuses_and_never_panics(o in options()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = Db::new();
        rt.block_on(async {
            let builder = apply!(AsyncPool::builder(), o.clone()).reset_with(common::FakeAsyncReset);
            match builder.build(db.manager()).await {
                Err(refused) => prop_assert!(!refused.to_string().trim().is_empty()),
                Ok(pool) => {
                    let started = std::time::Instant::now();
                    let got = tokio::time::timeout(patience(&o), pool.get()).await;
                    prop_assert!(got.is_ok(), "a checkout outlived its timeout");
                    if let Ok(Ok(conn)) = got {
                        conn.close().await;
                    }
                    prop_assert!(started.elapsed() < patience(&o));
                    prop_assert_eq!(pool.status().checked_out, 0, "{}", pool.status());
                }
            }
            Ok(())
        })?;
    }

}

proptest! {
    // Six kinds of timeout, each case waits 150 ms: 24 cases cover them.
    #![proptest_config(config(24))]

    /// A waiter with any timeout (zero, one nanosecond, `u64::MAX` seconds, `Duration::MAX`):
    /// its deadline never overflows into a panic; a short one ends in QueuePool's timeout.
    #[test]
    fn waiting_with_any_timeout_never_panics(timeout in duration()) {
        let db = Db::new();
        let pool = common::builder()
            .pool_size(1)
            .max_overflow(0)
            .pool_timeout(timeout)
            .build(db.manager())
            .unwrap();
        // A timeout shorter than a connect bounds the connect too: a clear error, no panic.
        let held = match pool.get() {
            Ok(held) => held,
            Err(poolscope::Error::ConnectTimeout(_)) if timeout < Some(Duration::from_millis(1)) => {
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
        };
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.get().map(drop).map_err(|e| e.to_string()))
        };
        std::thread::sleep(Duration::from_millis(150));
        if waiter.is_finished() {
            let waited = waiter.join();
            prop_assert!(waited.is_ok(), "the waiter panicked");
            if let Ok(Err(text)) = waited {
                prop_assert!(text.starts_with("QueuePool limit of size 1 overflow 0 reached"), "{text}");
            }
        } else {
            // Still waiting (a long timeout): it is served by the return.
            drop(held);
            let waited = waiter.join();
            prop_assert!(matches!(waited, Ok(Ok(()))), "{waited:?}");
            return Ok(());
        }
        drop(held);

        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let pool = AsyncPool::builder()
                .pool_size(1)
                .max_overflow(0)
                .pool_timeout(timeout)
                .reset_with(common::FakeAsyncReset)
                .build(db.manager())
                .await
                .unwrap();
            let held = pool.get().await.unwrap();
            let waited = tokio::time::timeout(Duration::from_millis(100), pool.get()).await;
            // (The async pool's connect timeout is covered above by the blocking one's.)
            if let Ok(Err(e)) = &waited {
                prop_assert!(e.to_string().starts_with("QueuePool limit"), "{e}");
            }
            prop_assert!(!matches!(waited, Ok(Ok(_))), "served while the only one is held");
            held.close().await;
            Ok(())
        })?;
    }

}

proptest! {
    #![proptest_config(config(ProptestConfig::default().cases))]

    #[test]
    fn option_text_reads_or_names_the_key(
        key in prop_oneof![
            Just("pool_size".to_owned()), Just("max_overflow".to_owned()),
            Just("pool_timeout".to_owned()), Just("pool_recycle".to_owned()),
            Just("pre_ping".to_owned()), Just("poolclass".to_owned()),
            Just("echo_pool".to_owned()), Just("reset_on_return".to_owned()),
            "\\PC{0,16}",
        ],
        value in prop_oneof![
            "-?[0-9]{0,25}(\\.[0-9]{0,5})?(ms|s|m|h|d|)?",
            "\\PC{0,24}",
            Just("none".to_owned()), Just("1e400".to_owned()), Just("NaN".to_owned()),
        ],
    ) {
        match PoolOptions::from_pairs([(key.as_str(), value.as_str())]) {
            Ok(options) => {
                // Whatever it read, a builder takes it and build() decides.
                let _ = common::builder().options(&options).build(Db::new().manager());
            }
            Err(error) => prop_assert!(error.to_string().contains(&key), "{error}"),
        }
    }
}
