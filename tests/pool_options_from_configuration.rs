//! Options read from text (a configuration file section, environment variables) set the pool
//! exactly as the setters do, on both fronts: what they leave out keeps the builder's value,
//! and a value that parses but makes no sense gets the builder's own `BuildError`.

mod common;

use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::Db;
use poolscope::{OptionError, PoolOptions, ResetOnReturn};

fn with(options: PoolOptions) -> Opts {
    Opts {
        options: Some(options),
        ..Opts::default()
    }
}

fn options_from_text_set_the_pool(front: Front) {
    let db = Db::new();
    let options = PoolOptions::from_pairs([
        ("pool_class", "QueuePool"),
        ("pool_size", "2"),
        ("max_overflow", "1"),
        ("pool_timeout", "150ms"),
        ("pool_logging_name", "orders"),
    ])
    .unwrap();
    let pool = TestPool::build(front, &db, with(options));
    assert_eq!(pool.name(), "orders");
    let _held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let started = Instant::now();
    let Err(error) = pool.get() else {
        panic!("a fourth checkout got a connection from a pool of 2 + 1");
    };
    let waited = started.elapsed();
    assert!(
        error.to_string().starts_with(
            "QueuePool limit of size 2 overflow 1 reached, connection timed out, timeout 0.15"
        ),
        "{error}"
    );
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

fn left_out_options_keep_the_builders(front: Front) {
    let db = Db::new();
    // The test builder sets pool_size 5 and max_overflow 10; the options change only the size.
    let options = PoolOptions::from_pairs([("pool_size", "3")]).unwrap();
    let pool = TestPool::build(front, &db, with(options));
    assert_eq!(pool.status().size, 3);
    assert_eq!(pool.status().overflow, -3);
    let _held: Vec<_> = (0..13).map(|_| pool.get().unwrap()).collect();
    assert_eq!(pool.status().overflow, 10);
}

fn invalid_values_get_the_builders_own_error(front: Front) {
    let db = Db::new();
    let options = PoolOptions::from_pairs([("max_overflow", "-5")]).unwrap();
    let Err(via_options) = TestPool::try_build(front, &db, with(options)) else {
        panic!("max_overflow -5 was accepted from options");
    };
    let Err(via_setter) = TestPool::try_build(
        front,
        &db,
        Opts {
            max_overflow: -5,
            ..Opts::default()
        },
    ) else {
        panic!("max_overflow -5 was accepted from the setter");
    };
    assert_eq!(via_options.to_string(), via_setter.to_string());
    assert!(
        via_options.to_string().contains("max_overflow"),
        "{via_options}"
    );
}

on_both_fronts!(
    options_from_text_set_the_pool,
    left_out_options_keep_the_builders,
    invalid_values_get_the_builders_own_error,
);

#[test]
fn environment_variables_set_options_and_name_themselves_in_errors() {
    // Names no other test uses: the environment is the process's.
    std::env::set_var("POOLSCOPE_OPTS_TEST_POOL_SIZE", "7");
    std::env::set_var("POOLSCOPE_OPTS_TEST_PRE_PING", "off");
    std::env::set_var("POOLSCOPE_OPTS_TEST_POOL_RECYCLE", "none");
    std::env::set_var("POOLSCOPE_OPTS_TEST_RESET_ON_RETURN", "commit");
    let options = PoolOptions::from_env("POOLSCOPE_OPTS_TEST_").unwrap();
    assert_eq!(options.pool_size, Some(7));
    assert_eq!(options.pre_ping, Some(false));
    assert_eq!(options.pool_recycle, Some(None));
    assert_eq!(options.reset_on_return, Some(ResetOnReturn::Commit));
    assert_eq!(options.pool_timeout, None, "not set, left out");

    std::env::set_var("POOLSCOPE_OPTS_BAD_MAX_OVERFLOW", "ten");
    let error = PoolOptions::from_env("POOLSCOPE_OPTS_BAD_").unwrap_err();
    assert_eq!(
        error,
        OptionError::Invalid {
            key: "POOLSCOPE_OPTS_BAD_MAX_OVERFLOW".into(),
            value: "ten".into(),
            expected: "a whole number (-1: no limit)",
        }
    );
}

#[cfg(feature = "serde")]
#[test]
fn a_configuration_file_section_sets_options() {
    use poolscope::{EchoPool, PoolClass};

    let options: PoolOptions = serde_json::from_str(
        r#"{
            "poolclass": "QueuePool",
            "pool_size": 4,
            "max_overflow": -1,
            "pool_timeout": 2.5,
            "pool_recycle": "30m",
            "pool_pre_ping": true,
            "echo_pool": "debug",
            "name": "orders"
        }"#,
    )
    .unwrap();
    assert_eq!(options.pool_class, Some(PoolClass::Queue));
    assert_eq!(options.pool_size, Some(4));
    assert_eq!(options.max_overflow, Some(-1));
    assert_eq!(
        options.pool_timeout,
        Some(Some(Duration::from_millis(2500)))
    );
    assert_eq!(options.pool_recycle, Some(Some(Duration::from_secs(1800))));
    assert_eq!(options.pre_ping, Some(true));
    assert_eq!(options.echo_pool, Some(EchoPool::Debug));
    assert_eq!(options.name.as_deref(), Some("orders"));

    let forever: PoolOptions = serde_json::from_str(r#"{"pool_timeout": null}"#).unwrap();
    assert_eq!(forever.pool_timeout, Some(None));

    let misspelt = serde_json::from_str::<PoolOptions>(r#"{"pool_sise": 4}"#).unwrap_err();
    assert!(
        misspelt
            .to_string()
            .starts_with("unknown pool option `pool_sise` (known: pool_class, pool_size"),
        "{misspelt}"
    );
    let bad = serde_json::from_str::<PoolOptions>(r#"{"pool_timeout": "soon"}"#).unwrap_err();
    assert!(
        bad.to_string().starts_with(
            "pool option `pool_timeout` = `soon`: expected a duration (`30`, `2.5`, `500ms`, \
             `30s`, `2m`, `1h`) or `none`"
        ),
        "{bad}"
    );
}
