//! The `metrics` facade path, with metrics-util's DebuggingRecorder as the oracle: exact values
//! after scripted scenarios. (A snapshot drains the recorder, so each test takes one, at the
//! end.) The count gauges are published on every change here (`gauge_interval(ZERO)`);
//! `count_gauges_publish_off_the_checkout_path.rs` tests the default, a timer. Both fronts.
#![cfg(feature = "metrics")]
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::pool_series::{series, Series};
use common::Db;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use poolscope::metric_names as m;
use std::time::Duration;

fn value<'a>(all: &'a [Series], name: &str, labels: &[(&str, &str)]) -> &'a DebugValue {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.iter()
        .find(|(_, n, l, _)| n == name && *l == labels)
        .map(|(.., v)| v)
        .unwrap_or_else(|| panic!("no series {name} {labels:?} in {all:#?}"))
}

fn counter(all: &[Series], name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(all, name, labels) {
        DebugValue::Counter(n) => *n,
        other => panic!("{name} is {other:?}"),
    }
}

fn gauge(all: &[Series], name: &str, labels: &[(&str, &str)]) -> f64 {
    match value(all, name, labels) {
        DebugValue::Gauge(v) => v.into_inner(),
        other => panic!("{name} is {other:?}"),
    }
}

fn samples(all: &[Series], name: &str) -> Vec<f64> {
    match value(all, name, &[]) {
        DebugValue::Histogram(v) => v.iter().map(|x| x.into_inner()).collect(),
        other => panic!("{name} is {other:?}"),
    }
}

fn three_checkouts_one_timeout_all_returned(front: Front) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let pool = TestPool::build(
            front,
            &Db::new(),
            Opts {
                name: Some("facade-scenario".into()),
                // Exact gauges at the end: published on every change, not on a timer.
                gauge_interval: Some(Duration::ZERO),
                ..Opts::queue(2, 1, Duration::from_millis(50))
            },
        );
        let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
        assert_eq!(pool.status().checked_out, 3);
        assert!(pool.get().is_err());
        std::thread::sleep(Duration::from_millis(5));
        drop(held);
    });
    let all = series(&snapshotter, "facade-scenario");
    assert_eq!(gauge(&all, m::CONNECTION_COUNT, &[(m::STATE, "used")]), 0.0);
    assert_eq!(gauge(&all, m::CONNECTION_COUNT, &[(m::STATE, "idle")]), 2.0);
    assert_eq!(gauge(&all, m::PENDING_REQUESTS, &[]), 0.0);
    assert_eq!(gauge(&all, m::CONNECTION_MAX, &[]), 3.0);
    assert_eq!(gauge(&all, m::IDLE_MAX, &[]), 2.0);
    assert_eq!(gauge(&all, m::IDLE_MIN, &[]), 0.0);
    assert_eq!(counter(&all, m::TIMEOUTS, &[]), 1);
    assert_eq!(counter(&all, m::OVERFLOW_OPENED, &[]), 1);
    assert_eq!(counter(&all, m::OVERFLOW_CLOSED, &[]), 1);
    assert_eq!(
        counter(&all, m::CLOSES, &[(m::CLOSE_REASON, "overflow")]),
        1
    );
    assert_eq!(
        counter(
            &all,
            m::RESETS,
            &[(m::RESET_ACTION, "rollback"), (m::RESET_OUTCOME, "ok")]
        ),
        3
    );
    assert_eq!(
        counter(
            &all,
            m::RESETS,
            &[(m::RESET_ACTION, "rollback"), (m::RESET_OUTCOME, "error")]
        ),
        0
    );
    assert_eq!(samples(&all, m::CREATE_TIME).len(), 3);
    let waits = samples(&all, m::WAIT_TIME);
    assert_eq!(waits.len(), 4, "three checkouts and the timeout");
    assert!(
        waits.iter().any(|w| *w >= 0.05),
        "the timeout waited its 50 ms: {waits:?}"
    );
    let uses = samples(&all, m::USE_TIME);
    assert_eq!(uses.len(), 3);
    assert!(
        uses.iter().all(|u| *u >= 0.05),
        "held across the 50 ms timeout: {uses:?}"
    );
    for reason in [
        "no_pooling",
        "dispose",
        "invalidated",
        "recycled",
        "evicted",
        "checkout_failed",
    ] {
        assert_eq!(
            counter(&all, m::CLOSES, &[(m::CLOSE_REASON, reason)]),
            0,
            "{reason}"
        );
    }
}

fn recycles_invalidations_pre_ping_failures_reset_errors_and_dispose(front: Front) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let clock = poolscope::ManualClock::new();
    let db = Db::new();
    metrics::with_local_recorder(&recorder, || {
        let pool = TestPool::build(
            front,
            &db,
            Opts {
                name: Some("facade-counters".into()),
                // Exact gauges at the end: published on every change, not on a timer.
                gauge_interval: Some(Duration::ZERO),
                pre_ping: true,
                recycle: Some(Duration::from_secs(60)),
                clock: Some(clock.clone()),
                ..Opts::queue(2, 10, Duration::from_secs(30))
            },
        );
        drop(pool.get().unwrap());
        clock.advance(Duration::from_secs(61));
        drop(pool.get().unwrap()); // recycled by age
        pool.get().unwrap().invalidate(); // requested
        let mut c = pool.get().unwrap();
        c.soft_invalidate();
        drop(c);
        drop(pool.get().unwrap()); // recycled: soft
        db.restart();
        drop(pool.get().unwrap()); // pre-ping fails: invalidated, pool invalidated
        db.fail_resets(true);
        drop(pool.get().unwrap()); // reset error: invalidated
        db.fail_resets(false);
        drop(pool.get().unwrap());
        pool.dispose();
    });
    let all = series(&snapshotter, "facade-counters");
    assert_eq!(counter(&all, m::RECYCLES, &[(m::RECYCLE_REASON, "age")]), 1);
    assert_eq!(
        counter(
            &all,
            m::RECYCLES,
            &[(m::RECYCLE_REASON, "soft_invalidated")]
        ),
        1
    );
    assert_eq!(
        counter(
            &all,
            m::RECYCLES,
            &[(m::RECYCLE_REASON, "pool_invalidated")]
        ),
        0
    );
    assert_eq!(
        counter(
            &all,
            m::INVALIDATIONS,
            &[(m::INVALIDATE_REASON, "requested")]
        ),
        1
    );
    assert_eq!(
        counter(
            &all,
            m::INVALIDATIONS,
            &[(m::INVALIDATE_REASON, "ping_failed")]
        ),
        1
    );
    assert_eq!(
        counter(
            &all,
            m::INVALIDATIONS,
            &[(m::INVALIDATE_REASON, "reset_failed")]
        ),
        1
    );
    assert_eq!(counter(&all, m::PRE_PING_FAILURES, &[]), 1);
    assert_eq!(
        counter(
            &all,
            m::RESETS,
            &[(m::RESET_ACTION, "rollback"), (m::RESET_OUTCOME, "error")]
        ),
        1
    );
    assert_eq!(
        counter(&all, m::CLOSES, &[(m::CLOSE_REASON, "recycled")]),
        2
    );
    assert_eq!(
        counter(&all, m::CLOSES, &[(m::CLOSE_REASON, "invalidated")]),
        3
    );
    assert_eq!(counter(&all, m::CLOSES, &[(m::CLOSE_REASON, "dispose")]), 1);
    assert_eq!(gauge(&all, m::CONNECTION_COUNT, &[(m::STATE, "idle")]), 0.0);
    assert_eq!(db.open(), 0);
}

fn null_pool_and_waiting_callers_show_in_their_series(front: Front) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let pool = TestPool::build(
            front,
            &Db::new(),
            Opts {
                name: Some("facade-null".into()),
                ..Opts::class(poolscope::PoolClass::Null)
            },
        );
        drop(pool.get().unwrap());
        drop(pool.get().unwrap());
    });
    let all = series(&snapshotter, "facade-null");
    assert_eq!(
        counter(&all, m::CLOSES, &[(m::CLOSE_REASON, "no_pooling")]),
        2
    );
    assert!(
        all.iter().all(|(_, n, ..)| n != m::CONNECTION_MAX),
        "no limit: no max series"
    );
}

on_both_fronts!(
    three_checkouts_one_timeout_all_returned,
    recycles_invalidations_pre_ping_failures_reset_errors_and_dispose,
    null_pool_and_waiting_callers_show_in_their_series,
);
