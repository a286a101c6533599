//! The `metrics` facade's count gauges (connections idle and used, requests pending) are
//! published by a background thread every `gauge_interval` (default 1 s), not by checkouts
//! and returns; `Duration::ZERO` publishes them on every change. The oracle is a recorder
//! that keeps every gauge's last value (DebuggingRecorder's snapshots reset gauges to zero,
//! so they cannot be polled).
#![cfg(feature = "metrics")]
mod common;

use std::time::{Duration, Instant};

use common::gauge_recorder::GaugeRecorder;
use common::{builder, Db};

impl GaugeRecorder {
    /// A QueuePool named `name`, its handles registered with this recorder, its count gauges
    /// published every `every`.
    fn pool(&self, name: &str, every: Duration) -> poolscope::Pool<common::FakeManager> {
        metrics::with_local_recorder(self, || {
            builder()
                .name(name)
                .gauge_interval(every)
                .build(Db::new().manager())
                .unwrap()
        })
    }

    /// Polls until the gauges hold `want` for `pool`; panics with the last value after 10 s.
    fn eventually(&self, pool: &str, want: (f64, f64, f64)) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.counts(pool);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pool}: gauges (idle, used, pending) are {got:?}, want {want:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn checkouts_and_returns_do_not_set_the_count_gauges() {
    let recorder = GaugeRecorder::default();
    let pool = recorder.pool("gauges-not-on-checkout", Duration::from_secs(3600));
    assert_eq!(
        recorder.counts("gauges-not-on-checkout"),
        (0.0, 0.0, 0.0),
        "the series exist from the build, at zero"
    );
    let held: Vec<_> = (0..2).map(|_| pool.get().unwrap()).collect();
    drop(pool.get().unwrap());
    assert_eq!(pool.status().checked_out, 2);
    assert_eq!(
        recorder.counts("gauges-not-on-checkout"),
        (0.0, 0.0, 0.0),
        "no tick in the hour: nothing but the publisher sets them"
    );
    drop(held);
}

#[test]
fn the_publisher_brings_every_count_gauge_to_the_pool_within_an_interval() {
    let recorder = GaugeRecorder::default();
    let name = "gauges-published";
    let pool = metrics::with_local_recorder(&recorder, || {
        builder()
            .name(name)
            .pool_size(2)
            .max_overflow(0)
            .pool_timeout(Duration::from_secs(30))
            .gauge_interval(Duration::from_millis(10))
            .build(Db::new().manager())
            .unwrap()
    });
    let first = pool.get().unwrap();
    let second = pool.get().unwrap();
    recorder.eventually(name, (0.0, 2.0, 0.0));
    std::thread::scope(|s| {
        let waiting = s.spawn(|| drop(pool.get().unwrap()));
        recorder.eventually(name, (0.0, 2.0, 1.0));
        drop(first);
        waiting.join().unwrap();
    });
    recorder.eventually(name, (1.0, 1.0, 0.0));
    drop(second);
    recorder.eventually(name, (2.0, 0.0, 0.0));
}

#[test]
fn the_async_pool_is_published_the_same_way() {
    let recorder = GaugeRecorder::default();
    let name = "gauges-published-async";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = metrics::with_local_recorder(&recorder, || {
        rt.block_on(
            poolscope::AsyncPool::builder()
                .name(name)
                .reset_on_return(poolscope::ResetOnReturn::None)
                .gauge_interval(Duration::from_millis(10))
                .build(Db::new().manager()),
        )
    })
    .unwrap();
    rt.block_on(async {
        let held = pool.get().await.unwrap();
        recorder.eventually(name, (0.0, 1.0, 0.0));
        drop(held);
        recorder.eventually(name, (1.0, 0.0, 0.0));
    });
}

#[test]
fn a_zero_interval_publishes_on_every_change() {
    let recorder = GaugeRecorder::default();
    let name = "gauges-on-change";
    let pool = recorder.pool(name, Duration::ZERO);
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    assert_eq!(recorder.counts(name), (0.0, 3.0, 0.0));
    drop(held);
    assert_eq!(recorder.counts(name), (3.0, 0.0, 0.0));
}

#[test]
fn dropped_pools_leave_the_publisher_serving_the_others() {
    let recorder = GaugeRecorder::default();
    let every = Duration::from_millis(5);
    for i in 0..20 {
        let pool = recorder.pool(&format!("gauges-short-lived-{i}"), every);
        drop(pool.get().unwrap());
    }
    let kept = recorder.pool("gauges-kept", every);
    let held = kept.get().unwrap();
    recorder.eventually("gauges-kept", (0.0, 1.0, 0.0));
    drop(held);
    recorder.eventually("gauges-kept", (1.0, 0.0, 0.0));
}
