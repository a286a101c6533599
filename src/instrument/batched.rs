//! Durations aggregated by the pool and handed to the recorder in batches.
//!
//! A histogram record through metrics-exporter-prometheus costs about 100 ns (it reads the
//! clock and appends to a lock-free block list); a checkout + return records two. Here a record
//! is one atomic addition on a fixed bucket (its count and its sum in nanoseconds, side by side
//! in one 128-bit word), and the gauge publisher thread hands each bucket to the recorder once
//! per `gauge_interval` as `record_many(bucket mean, bucket count)`.
//!
//! The buckets refine [`DURATION_BUCKETS`]: every boundary there is a boundary here, each
//! exporter bucket split into [`SUB`] sub-buckets. So an exporter configured with
//! `DURATION_BUCKETS` (as the dashboards need) counts exactly what it would have counted
//! value by value, its sum is the same sum, and a summary (the exporter's default without
//! buckets) sees each value as its sub-bucket's mean.
//!
//! A bucket's count and sum change together in one atomic operation, and a flush takes both
//! at once (`swap`), so a value is counted exactly once, in its own bucket, with its own
//! nanoseconds, however records and flushes interleave. (`portable_atomic::AtomicU128`: one
//! `lock cmpxchg16b` loop on x86_64, a lock-free pair on aarch64, a fallback lock elsewhere.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use portable_atomic::AtomicU128;

use super::names::DURATION_BUCKETS;

/// Sub-buckets per exporter bucket.
pub(super) const SUB: usize = 8;
/// Exporter buckets, with the one above the last boundary (+Inf).
const MAIN: usize = DURATION_BUCKETS.len() + 1;

/// A count (high 64 bits) and a sum of nanoseconds (low 64 bits: 584 years between flushes).
type Cell = AtomicU128;

const ONE: u128 = 1 << 64;
/// The longest duration a record keeps (about 52 days); longer ones count as this.
const MAX_NANOS: u64 = 1 << 52;

/// The bucket layout, computed once: the exporter boundaries and every sub-bucket's upper
/// bound, in nanoseconds.
struct Layout {
    /// Upper bound of each exporter bucket (the last is `u64::MAX`).
    main: [u64; MAIN],
    /// Upper bound of each sub-bucket, `SUB` per exporter bucket.
    sub: [[u64; SUB]; MAIN],
}

fn layout() -> &'static Layout {
    static LAYOUT: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
    LAYOUT.get_or_init(|| {
        let mut main = [u64::MAX; MAIN];
        for (bound, seconds) in main.iter_mut().zip(DURATION_BUCKETS) {
            // The exporter compares seconds as f64 (`value <= bound`); a value of exactly
            // `bound` nanoseconds converts to the same f64 as the boundary.
            *bound = (seconds * 1e9).round() as u64;
        }
        let mut sub = [[u64::MAX; SUB]; MAIN];
        let mut low = 0u64;
        for (i, &high) in main.iter().enumerate() {
            if high == u64::MAX {
                break; // +Inf: one sub-bucket
            }
            let width = high - low;
            for (j, bound) in sub[i].iter_mut().enumerate() {
                *bound = low + width * (j as u64 + 1) / SUB as u64;
            }
            sub[i][SUB - 1] = high;
            low = high;
        }
        Layout { main, sub }
    })
}

/// One duration histogram, aggregated.
pub(super) struct Batched {
    /// Values of exactly zero (a checkout served at once waited no time: most `wait_time`
    /// values), counted alone: one 64-bit addition, no sum to keep.
    zeros: AtomicU64,
    cells: Box<[Cell]>,
    layout: &'static Layout,
}

impl Batched {
    pub(super) fn new() -> Self {
        Batched {
            zeros: AtomicU64::new(0),
            cells: (0..MAIN * SUB).map(|_| Cell::new(0)).collect(),
            layout: layout(),
        }
    }

    /// The cell a value of `nanos` belongs to.
    #[inline]
    fn cell_of(&self, nanos: u64) -> usize {
        // Most durations (short holds) are in the first sub-bucket.
        if nanos <= self.layout.sub[0][0] {
            return 0;
        }
        let main = self
            .layout
            .main
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(MAIN - 1);
        let sub = self.layout.sub[main].partition_point(|&bound| bound < nanos);
        main * SUB + sub.min(SUB - 1)
    }

    #[inline]
    pub(super) fn record(&self, took: Duration) {
        // Capped at 52 days, so that 4,096 of them fit in a bucket's sum between two flushes.
        let nanos = u64::try_from(took.as_nanos()).map_or(MAX_NANOS, |n| n.min(MAX_NANOS));
        if nanos == 0 {
            self.zeros.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.cells[self.cell_of(nanos)].fetch_add(ONE | u128::from(nanos), Ordering::Relaxed);
    }

    /// Hands what was recorded since the last flush to `sink` as (mean in seconds, count),
    /// one call per non-empty sub-bucket.
    pub(super) fn flush(&self, mut sink: impl FnMut(f64, u64)) {
        if self.zeros.load(Ordering::Relaxed) > 0 {
            sink(0.0, self.zeros.swap(0, Ordering::Relaxed));
        }
        for (i, cell) in self.cells.iter().enumerate() {
            if cell.load(Ordering::Relaxed) == 0 {
                continue;
            }
            // Every addition carries a count, so a non-empty cell counts at least one value.
            let both = cell.swap(0, Ordering::Relaxed);
            let (count, nanos) = ((both >> 64) as u64, both as u64);
            let mut mean = nanos as f64 / count as f64 / 1e9;
            // The values are at most the bucket's bound; the division must not round the
            // mean past it.
            if let Some(&bound) = DURATION_BUCKETS.get(i / SUB) {
                mean = mean.min(bound);
            }
            sink(mean, count);
        }
    }
}

/// A [`Batched`] histogram and the recorder's histogram it is flushed to; flushed when
/// dropped too (the pool is gone), so nothing recorded is lost.
#[cfg(feature = "metrics")]
pub(super) struct ToRecorder {
    batched: Batched,
    histogram: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl ToRecorder {
    pub(super) fn new(histogram: metrics::Histogram) -> Self {
        ToRecorder {
            batched: Batched::new(),
            histogram,
        }
    }

    #[inline]
    pub(super) fn record(&self, took: Duration) {
        self.batched.record(took);
    }

    /// Hands what was recorded since the last flush to the recorder.
    pub(super) fn flush(&self) {
        self.batched.flush(|mean, count| {
            self.histogram
                .record_many(mean, usize::try_from(count).unwrap_or(usize::MAX));
        });
    }
}

#[cfg(feature = "metrics")]
impl Drop for ToRecorder {
    fn drop(&mut self) {
        flush_in_drop(|| self.flush());
    }
}

/// Flushes as a pool is dropped. A recorder or meter that panics must not take the drop
/// down with it (a panic in a drop while unwinding aborts the process): the panic is caught
/// and said, and what was being flushed is lost.
fn flush_in_drop(flush: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(flush)).is_err() {
        tracing::warn!(
            target: "poolscope::pool",
            "the metrics recorder panicked while a dropped pool flushed its durations"
        );
    }
}

/// One pool's `wait_time` and `use_time` for the OpenTelemetry path, aggregated, and the
/// instruments they go to. The SDK asks for them as it collects (a callback of the pool's
/// observable instruments calls [`flush`](Self::flush) before the histograms are read), so a
/// collection, a `force_flush` or a scrape sees every duration recorded before it; a dropped
/// pool flushes what it holds. The OpenTelemetry API has no "record many": a flush records
/// each bucket's mean once per value it holds, on the collecting thread. A histogram's min
/// and max are then those of the sub-bucket means, within an eighth of a bucket of the true
/// extremes.
#[cfg(feature = "opentelemetry")]
pub(super) struct ToMeter {
    pub(super) wait_time: Batched,
    pub(super) use_time: Batched,
    wait_histogram: opentelemetry::metrics::Histogram<f64>,
    use_histogram: opentelemetry::metrics::Histogram<f64>,
    attributes: std::sync::Arc<[opentelemetry::KeyValue]>,
}

#[cfg(feature = "opentelemetry")]
impl ToMeter {
    pub(super) fn new(
        wait_histogram: opentelemetry::metrics::Histogram<f64>,
        use_histogram: opentelemetry::metrics::Histogram<f64>,
        attributes: std::sync::Arc<[opentelemetry::KeyValue]>,
    ) -> Self {
        ToMeter {
            wait_time: Batched::new(),
            use_time: Batched::new(),
            wait_histogram,
            use_histogram,
            attributes,
        }
    }

    /// Records what was aggregated since the last flush into the histograms.
    pub(super) fn flush(&self) {
        for (batched, histogram) in [
            (&self.wait_time, &self.wait_histogram),
            (&self.use_time, &self.use_histogram),
        ] {
            batched.flush(|mean, count| {
                for _ in 0..count {
                    histogram.record(mean, &self.attributes);
                }
            });
        }
    }
}

#[cfg(feature = "opentelemetry")]
impl Drop for ToMeter {
    fn drop(&mut self) {
        flush_in_drop(|| self.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an exporter with `DURATION_BUCKETS` would hold: a count per bucket, the count and
    /// the sum.
    #[derive(Debug, PartialEq)]
    struct Buckets {
        per_bucket: Vec<u64>,
        count: u64,
        sum: f64,
    }

    impl Buckets {
        fn new() -> Self {
            Buckets {
                per_bucket: vec![0; MAIN],
                count: 0,
                sum: 0.0,
            }
        }

        fn add(&mut self, seconds: f64, count: u64) {
            let i = DURATION_BUCKETS
                .iter()
                .position(|&b| seconds <= b)
                .unwrap_or(MAIN - 1);
            self.per_bucket[i] += count;
            self.count += count;
            self.sum += seconds * count as f64;
        }

        fn assert_same(&self, other: &Buckets) {
            assert_eq!(self.per_bucket, other.per_bucket);
            assert_eq!(self.count, other.count);
            let scale = self.sum.abs().max(1e-12);
            assert!(
                (self.sum - other.sum).abs() / scale < 1e-9,
                "sums {} and {}",
                self.sum,
                other.sum
            );
        }
    }

    fn durations(seed: u64, n: usize) -> Vec<Duration> {
        // xorshift: values spread over every bucket, boundaries included.
        let mut x = seed.max(1);
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match i % 5 {
                    0 => Duration::from_nanos(x % 2_000),
                    1 => Duration::from_nanos(x % 200_000_000),
                    2 => Duration::from_secs_f64(DURATION_BUCKETS[(x % 18) as usize]),
                    3 => Duration::from_nanos((x % 90_000_000_000) + 1),
                    _ => Duration::from_nanos(x % 5_000_000),
                }
            })
            .collect()
    }

    #[test]
    fn batches_count_what_value_by_value_records_count() {
        for seed in [1, 7, 42, 1234] {
            let values = durations(seed, 20_000);
            let mut direct = Buckets::new();
            let batched = Batched::new();
            let mut flushed = Buckets::new();
            for (i, value) in values.iter().enumerate() {
                direct.add(value.as_secs_f64(), 1);
                batched.record(*value);
                if i % 997 == 0 {
                    batched.flush(|mean, count| flushed.add(mean, count));
                }
            }
            batched.flush(|mean, count| flushed.add(mean, count));
            direct.assert_same(&flushed);
        }
    }

    #[test]
    fn values_recorded_while_flushing_are_neither_lost_nor_moved() {
        let batched = std::sync::Arc::new(Batched::new());
        let values = durations(99, 200_000);
        let mut direct = Buckets::new();
        for value in &values {
            direct.add(value.as_secs_f64(), 1);
        }
        let flushed = std::sync::Mutex::new(Buckets::new());
        std::thread::scope(|s| {
            for part in values.chunks(50_000) {
                let batched = &batched;
                s.spawn(move || part.iter().for_each(|v| batched.record(*v)));
            }
            let done = std::time::Instant::now() + Duration::from_millis(300);
            while std::time::Instant::now() < done {
                batched.flush(|mean, count| flushed.lock().unwrap().add(mean, count));
            }
        });
        batched.flush(|mean, count| flushed.lock().unwrap().add(mean, count));
        direct.assert_same(&flushed.lock().unwrap());
    }

    /// The `wait_time` lines (buckets, sum, count) a Prometheus exporter with
    /// `DURATION_BUCKETS` renders for `feed`.
    #[cfg(feature = "metrics")]
    fn rendered(feed: impl FnOnce(metrics::Histogram)) -> Vec<String> {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(DURATION_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        let histogram =
            metrics::with_local_recorder(&recorder, || metrics::histogram!("wait_time"));
        feed(histogram);
        handle
            .render()
            .lines()
            .filter(|l| l.starts_with("wait_time"))
            .map(|l| {
                // The sum as rendered, rounded to 1e-9 s: float addition in another order.
                match l.strip_prefix("wait_time_sum ") {
                    Some(sum) => format!("sum {:.9}", sum.parse::<f64>().unwrap()),
                    None => l.to_owned(),
                }
            })
            .collect()
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn a_prometheus_exporter_renders_batches_as_it_renders_values() {
        let values = durations(5, 50_000);
        let direct = rendered(|h| values.iter().for_each(|v| h.record(v.as_secs_f64())));
        let batched = rendered(|h| {
            let batched = ToRecorder::new(h);
            for (i, v) in values.iter().enumerate() {
                batched.record(*v);
                if i % 4_999 == 0 {
                    batched.flush();
                }
            }
            // The rest goes when it is dropped.
        });
        assert_eq!(direct.len(), DURATION_BUCKETS.len() + 3, "{direct:#?}");
        assert_eq!(direct, batched);
    }

    /// (bucket counts, count, sum) of the `wait_time` histogram an OpenTelemetry SDK with
    /// `DURATION_BUCKETS` collects after `feed`.
    #[cfg(feature = "opentelemetry")]
    fn collected(
        feed: impl FnOnce(opentelemetry::metrics::Histogram<f64>),
    ) -> (Vec<u64>, u64, f64) {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(exporter.clone()).build(),
            )
            .build();
        let histogram = provider
            .meter("t")
            .f64_histogram("wait_time")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        feed(histogram);
        provider.force_flush().unwrap();
        let metrics = exporter.get_finished_metrics().unwrap();
        let metric = metrics
            .last()
            .unwrap()
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == "wait_time")
            .unwrap();
        let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
            panic!("not a histogram");
        };
        let point = h.data_points().next().unwrap();
        (point.bucket_counts().collect(), point.count(), point.sum())
    }

    #[cfg(feature = "opentelemetry")]
    #[test]
    fn an_opentelemetry_sdk_collects_batches_as_it_collects_values() {
        let values = durations(11, 50_000);
        let direct = collected(|h| values.iter().for_each(|v| h.record(v.as_secs_f64(), &[])));
        let batched = collected(|h| {
            let batched = ToMeter::new(h.clone(), h, std::sync::Arc::new([]));
            for (i, v) in values.iter().enumerate() {
                batched.wait_time.record(*v);
                if i % 4_999 == 0 {
                    batched.flush();
                }
            }
            // The rest goes when it is dropped.
        });
        assert_eq!(direct.0, batched.0, "bucket counts");
        assert_eq!(direct.1, batched.1, "count");
        assert!(
            (direct.2 - batched.2).abs() / direct.2 < 1e-9,
            "sums {} and {}",
            direct.2,
            batched.2
        );
    }

    #[test]
    fn every_exporter_boundary_is_a_sub_bucket_boundary() {
        let layout = layout();
        for (i, &seconds) in DURATION_BUCKETS.iter().enumerate() {
            assert_eq!(layout.sub[i][SUB - 1], layout.main[i]);
            assert!(layout.sub[i].windows(2).all(|w| w[0] < w[1]));
            let value = Duration::from_nanos(layout.main[i]);
            assert_eq!(value.as_secs_f64(), seconds, "bucket {i}");
        }
    }
}
