//! A `metrics` recorder that keeps every gauge's last value, the oracle of the count-gauge
//! tests (DebuggingRecorder's snapshots reset gauges to zero, so they cannot be polled).
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use poolscope::metric_names as m;

/// Keeps every gauge registered with it; counters and histograms go nowhere.
#[derive(Default)]
pub struct GaugeRecorder(Mutex<Vec<(Key, Arc<AtomicU64>)>>);

impl metrics::Recorder for GaugeRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let value = Arc::new(AtomicU64::new(f64::NAN.to_bits()));
        self.0
            .lock()
            .unwrap()
            .push((key.clone(), Arc::clone(&value)));
        Gauge::from_arc(value)
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

impl GaugeRecorder {
    /// (idle, used, pending) as last set for `pool`; NaN where never set.
    pub fn counts(&self, pool: &str) -> (f64, f64, f64) {
        let mut out = (f64::NAN, f64::NAN, f64::NAN);
        for (key, value) in self.0.lock().unwrap().iter() {
            if !key
                .labels()
                .any(|l| l.key() == m::POOL_NAME && l.value() == pool)
            {
                continue;
            }
            let value = f64::from_bits(value.load(Ordering::SeqCst));
            let state = key.labels().find(|l| l.key() == m::STATE);
            match (key.name(), state.map(|l| l.value())) {
                (m::CONNECTION_COUNT, Some("idle")) => out.0 = value,
                (m::CONNECTION_COUNT, Some("used")) => out.1 = value,
                (m::PENDING_REQUESTS, None) => out.2 = value,
                _ => {}
            }
        }
        out
    }
}
