//! One pool's metrics in a `DebuggingRecorder` snapshot, the oracle of the metric tests
//! (shared by the Diesel and SeaORM adapters' tests).
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use metrics_util::debugging::{DebugValue, Snapshot};
use metrics_util::{CompositeKey, MetricKind};
use poolscope::metric_names::POOL_NAME;

/// The snapshot's metrics, looked up for the pool named `pool`.
pub struct PoolMetrics {
    entries: Vec<(CompositeKey, DebugValue)>,
    pool: String,
}

impl PoolMetrics {
    pub fn new(snapshot: Snapshot, pool: &str) -> Self {
        PoolMetrics {
            entries: snapshot
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| (key, value))
                .collect(),
            pool: pool.to_owned(),
        }
    }

    /// The value of `kind` metric `name` for this pool with every label in `labels`; panics
    /// when there is none.
    pub fn get(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> &DebugValue {
        self.entries
            .iter()
            .find(|(key, _)| {
                let has =
                    |k: &str, v: &str| key.key().labels().any(|l| l.key() == k && l.value() == v);
                key.kind() == kind
                    && key.key().name() == name
                    && has(POOL_NAME, &self.pool)
                    && labels.iter().all(|(k, v)| has(k, v))
            })
            .map(|(_, value)| value)
            .unwrap_or_else(|| panic!("no {name} {labels:?}"))
    }
}
