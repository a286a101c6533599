//! One pool's series in a metrics-util `DebuggingRecorder` snapshot: the oracle of the
//! metrics tests.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use metrics_util::debugging::{DebugValue, Snapshotter};
use metrics_util::MetricKind;
use poolscope::metric_names as m;

/// One series: kind, name, labels other than the pool name, value.
pub type Series = (MetricKind, String, Vec<(String, String)>, DebugValue);

/// Every series of one pool, sorted by name and labels. (A snapshot drains the recorder's
/// histograms.)
pub fn series(snapshotter: &Snapshotter, pool: &str) -> Vec<Series> {
    let mut out: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|l| l.key() == m::POOL_NAME && l.value() == pool)
        })
        .map(|(key, _, _, value)| {
            let labels = key
                .key()
                .labels()
                .filter(|l| l.key() != m::POOL_NAME)
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.kind(), key.key().name().to_owned(), labels, value)
        })
        .collect();
    out.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
    out
}
