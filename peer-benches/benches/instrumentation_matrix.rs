//! What observing the pool costs, beside r2d2 and bb8 on the same manager: one caller's
//! checkout + return under each way of listening.
//!
//! | column | what listens |
//! |---|---|
//! | `features_off` | poolscope built without its metric features (run with `--no-default-features`) |
//! | `compiled_in_quiet` | metric features compiled in; no recorder, no subscriber |
//! | `metrics_recorder` | a metrics-exporter-prometheus recorder takes the pool's metrics (count gauges on the default 1 s timer) |
//! | `recorder_on_change` | the same, with `gauge_interval(Duration::ZERO)`: count gauges set on every change |
//! | `tracing_info` | a `tracing_subscriber::fmt` subscriber at INFO (spans recorded, output to a sink) |
//! | `tracing_otel_sdk` | tracing-opentelemetry with the OpenTelemetry SDK's batch span processor |
//! | `empty_span_otel` | no pool: one empty `info_span!` through the same tracing-opentelemetry layer |
//! | `all_on` | the Prometheus recorder and tracing-opentelemetry together |
//! | `otel_meter` | no `metrics` recorder: the OpenTelemetry SDK's meter provider with opentelemetry-prometheus's reader takes the pool's metrics |
//! | `mobc`, `mobc_recorder` | mobc (async), the one instrumented peer, without a recorder and with the same Prometheus recorder |
//! | `recorder_floor` | no pool: the recorder alone taking what one cycle must publish |
//! | `atomic_recorder` | metrics-util's registry of atomics as the recorder (the leanest real one) |
//! | `two_clock_reads` | no pool: the two reads of `quanta`'s clock a timed cycle makes (checkout, return) |
//!
//! With a recorder and the default `gauge_interval`, poolscope aggregates wait_time and
//! use_time itself and its publisher thread hands them to the recorder once a second: that
//! work is off the caller's path, so after the criterion groups the bench also measures it,
//! as the `poolscope-gauges` thread's CPU time (from `/proc/self/task/*/schedstat`) per cycle
//! while one caller cycles a recorded pool for 3 s (`publisher_cpu.json`).
//!
//! `recorder_floor` is the least any pool pays per checkout + return to publish OpenTelemetry's
//! pool instruments through this recorder with the count gauges off the checkout path:
//! wait_time and use_time take one value each (two histogram records, each of which reads the
//! clock inside metrics-exporter-prometheus). `metrics_recorder` minus `compiled_in_quiet`
//! minus this floor is poolscope's own share.
//!
//! Subscribers are installed for the bench's scope only (`with_default`), as tracing's own
//! benches do. The Prometheus recorder's upkeep runs every 5 s, as an installed exporter's
//! does, so its histograms' raw samples are drained, not piled up for the whole run.
//!
//! `features_off` and `compiled_in_quiet` come from two builds, so from two processes;
//! `run.sh` alternates them five times and `BENCHMARKS.md` reports the median of the pairs'
//! ratios.
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench instrumentation_matrix
//! cargo bench -p poolscope-peer-benches --bench instrumentation_matrix --no-default-features
//! ```
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use opentelemetry::metrics::MeterProvider as _;
use poolscope_peer_benches::drive;
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Hold, Mobc, Poolscope, PoolscopeAsync, R2d2,
};

const SIZE: usize = 8;

#[path = "support/otel_spans.rs"]
mod otel_spans;
use otel_spans::otel_subscriber;

fn fmt_subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish()
}

/// The two clock reads a timed checkout + return makes (the checkout instant, the return
/// instant; an idle connection handed out at once records a wait of zero without a read).
/// What they cost depends on the machine's time-stamp counter: it bounds what any pool
/// timing wait_time and use_time per checkout pays.
fn two_clock_reads(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("two_clock_reads", |b| {
        b.iter(|| {
            let checked_out = quanta::Instant::now();
            std::hint::black_box(quanta::Instant::now() - checked_out)
        })
    });
}

/// The histogram records one checkout + return publishes, with no pool.
fn recorder_floor(group: &mut BenchmarkGroup<'_, WallTime>, recorder: &impl metrics::Recorder) {
    let (wait, used_for) = metrics::with_local_recorder(recorder, || {
        (
            metrics::histogram!(poolscope::metric_names::WAIT_TIME),
            metrics::histogram!(poolscope::metric_names::USE_TIME),
        )
    });
    group.bench_function("recorder_floor", |b| {
        b.iter(|| {
            wait.record(0.0);
            used_for.record(2e-7);
        })
    });
}

/// CPU time the `poolscope-gauges` thread has used so far, in nanoseconds (Linux); `None`
/// where `/proc` does not say.
fn publisher_cpu_ns() -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        // The kernel keeps 15 characters of a thread's name.
        if name.trim() == "poolscope-gauge" {
            let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            return stat.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

/// The publisher thread's CPU per cycle while `cycles(n)` runs for about 3 s, the last
/// flush included.
fn publisher_share(mut cycles: impl FnMut(u64)) -> Option<f64> {
    // The flushes of what earlier groups recorded are not this row's.
    std::thread::sleep(Duration::from_millis(1100));
    let before = publisher_cpu_ns()?;
    let began = std::time::Instant::now();
    let mut done = 0u64;
    while began.elapsed() < Duration::from_secs(3) {
        cycles(100_000);
        done += 100_000;
    }
    std::thread::sleep(Duration::from_millis(1100));
    Some((publisher_cpu_ns()? - before) as f64 / done as f64)
}

/// One empty `info_span!`, entered and closed, through whatever subscriber is the default:
/// the floor a pool's spans are measured against.
fn empty_span(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("empty_span_otel", |b| {
        b.iter(|| tracing::info_span!("empty").in_scope(|| std::hint::black_box(1)))
    });
}

fn blocking<P: BlockingPool>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, pool: &P) {
    group.bench_function(name, |b| b.iter(|| pool.cycle(Hold::Touch)));
}

fn nonblocking<P: AsyncPool>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    pool: &P,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| drive::one_task(rt, pool, iters))
    });
}

fn bench(c: &mut Criterion) {
    let rt = drive::current_thread();
    let quiet = if cfg!(feature = "instrumentation") {
        "compiled_in_quiet"
    } else {
        "features_off"
    };
    let recorder = poolscope_peer_benches::prometheus_recorder();
    // What `PrometheusBuilder::install_recorder` would run: the upkeep that drains the
    // histograms' raw samples every 5 s (the default). Without it they pile up for the whole
    // run, which no exporting service sees.
    poolscope_peer_benches::drain_every_5s(recorder.handle());

    let mut group = c.benchmark_group("instrumentation_blocking");
    blocking(&mut group, quiet, &Poolscope::new(SIZE, false));
    if cfg!(feature = "instrumentation") {
        blocking(&mut group, "r2d2", &R2d2::new(SIZE, false));
        let recorded = metrics::with_local_recorder(&recorder, || Poolscope::new(SIZE, false));
        blocking(&mut group, "metrics_recorder", &recorded);
        #[cfg(feature = "instrumentation")]
        blocking(
            &mut group,
            "recorder_on_change",
            &metrics::with_local_recorder(&recorder, || {
                Poolscope::with_gauges_on_every_change(SIZE)
            }),
        );
        recorder_floor(&mut group, &recorder);
        two_clock_reads(&mut group);
        #[cfg(feature = "instrumentation")]
        {
            let meters = poolscope_peer_benches::otel_meter_provider();
            let metered = Poolscope::with(
                poolscope::Pool::builder().otel_meter(meters.meter("poolscope")),
                SIZE,
                0,
                false,
                poolscope_peer_benches::noop::Noop::new(false),
            );
            blocking(&mut group, "otel_meter", &metered);
        }
        let atomic = poolscope_peer_benches::AtomicRecorder::new();
        let lean = metrics::with_local_recorder(&atomic, || Poolscope::new(SIZE, false));
        blocking(&mut group, "atomic_recorder", &lean);
        let traced = Poolscope::new(SIZE, false);
        tracing::subscriber::with_default(fmt_subscriber(), || {
            blocking(&mut group, "tracing_info", &traced)
        });
        let (subscriber, provider) = otel_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            blocking(&mut group, "tracing_otel_sdk", &traced);
            empty_span(&mut group);
        });
        let (subscriber, provider_all) = otel_subscriber();
        tracing::subscriber::with_default(subscriber, || blocking(&mut group, "all_on", &recorded));
        drop((provider.shutdown(), provider_all.shutdown()));
    }
    group.finish();

    let mut group = c.benchmark_group("instrumentation_async");
    nonblocking(
        &mut group,
        &rt,
        quiet,
        &rt.block_on(PoolscopeAsync::new(SIZE, false)),
    );
    if cfg!(feature = "instrumentation") {
        nonblocking(&mut group, &rt, "bb8", &rt.block_on(Bb8::new(SIZE, false)));
        // mobc, the instrumented peer: without a recorder, and with the same Prometheus
        // recorder as poolscope (its macros reach the recorder of the thread they run on).
        let mobc = rt.block_on(Mobc::new(SIZE, false));
        nonblocking(&mut group, &rt, "mobc", &mobc);
        metrics::with_local_recorder(&recorder, || {
            nonblocking(&mut group, &rt, "mobc_recorder", &mobc)
        });
        let recorded = metrics::with_local_recorder(&recorder, || {
            rt.block_on(PoolscopeAsync::new(SIZE, false))
        });
        nonblocking(&mut group, &rt, "metrics_recorder", &recorded);
        #[cfg(feature = "instrumentation")]
        nonblocking(
            &mut group,
            &rt,
            "recorder_on_change",
            &metrics::with_local_recorder(&recorder, || {
                rt.block_on(PoolscopeAsync::with_gauges_on_every_change(SIZE))
            }),
        );
        recorder_floor(&mut group, &recorder);
        two_clock_reads(&mut group);
        #[cfg(feature = "instrumentation")]
        {
            let meters = poolscope_peer_benches::otel_meter_provider();
            let metered = rt.block_on(PoolscopeAsync::with(
                poolscope::AsyncPool::builder().otel_meter(meters.meter("poolscope")),
                SIZE,
                0,
                false,
                poolscope_peer_benches::noop::Noop::new(false),
            ));
            nonblocking(&mut group, &rt, "otel_meter", &metered);
        }
        let atomic = poolscope_peer_benches::AtomicRecorder::new();
        let lean =
            metrics::with_local_recorder(&atomic, || rt.block_on(PoolscopeAsync::new(SIZE, false)));
        nonblocking(&mut group, &rt, "atomic_recorder", &lean);
        let traced = rt.block_on(PoolscopeAsync::new(SIZE, false));
        tracing::subscriber::with_default(fmt_subscriber(), || {
            nonblocking(&mut group, &rt, "tracing_info", &traced)
        });
        let (subscriber, provider) = otel_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            nonblocking(&mut group, &rt, "tracing_otel_sdk", &traced);
            empty_span(&mut group);
        });
        let (subscriber, provider_all) = otel_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            nonblocking(&mut group, &rt, "all_on", &recorded)
        });
        drop((provider.shutdown(), provider_all.shutdown()));
    }
    group.finish();
}

/// The publisher thread's CPU per cycle, both fronts, written for `report.py`.
fn publisher_cpu(_: &mut Criterion) {
    if !cfg!(feature = "instrumentation") {
        return;
    }
    let recorder = poolscope_peer_benches::prometheus_recorder();
    poolscope_peer_benches::drain_every_5s(recorder.handle());
    let blocking = metrics::with_local_recorder(&recorder, || Poolscope::new(SIZE, false));
    let blocking = publisher_share(|n| (0..n).for_each(|_| blocking.cycle(Hold::Touch)));
    let rt = drive::current_thread();
    let pool =
        metrics::with_local_recorder(&recorder, || rt.block_on(PoolscopeAsync::new(SIZE, false)));
    let nonblocking = publisher_share(|n| {
        drive::one_task(&rt, &pool, n);
    });
    println!("publisher thread CPU per cycle: blocking {blocking:?} ns, async {nonblocking:?} ns");
    poolscope_peer_benches::report::write(
        "publisher_cpu",
        &serde_json::json!({ "blocking": blocking, "async": nonblocking }),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench, publisher_cpu
}
criterion_main!(benches);
