//! One caller's checkout + return with poolscope's metrics on, beside the peers, interleaved
//! in time: every contender of a row runs for a short period per round, the order rotating,
//! so that the shared machine's drift hits them alike (criterion's one-after-the-other figures
//! moved by 1.5× between runs here). poolscope first, with a metrics-exporter-prometheus
//! recorder (its default `gauge_interval`: durations aggregated, flushed by its thread); the
//! ratios are poolscope / other (below 1: poolscope is faster), the median of the rounds and
//! their spread (`target/peer-benches/instrumented.json`).
//!
//! Blocking: r2d2; poolscope quiet (no recorder), with the OpenTelemetry SDK meter instead
//! (opentelemetry-prometheus reader), and with `gauge_interval(ZERO)` (every duration recorded
//! as it happens, gauges set under the lock). Async: bb8, deadpool as its users run it (no
//! `wait_timeout`) and with one, mobc (the instrumented peer) with the same recorder and
//! without one, and the same poolscope variants.
//!
//! Then the spans: poolscope's default cycle (quiet pool, idle checkout, return) with the
//! OpenTelemetry SDK taking its spans through tracing-opentelemetry, against one empty
//! `info_span!` through the same subscriber, interleaved the same way
//! (`target/peer-benches/spans_interleaved.json`, ratio = the pool's cycle / the empty span).
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench instrumented_interleaved
//! ```
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use poolscope_peer_benches::drive;
use poolscope_peer_benches::interleave::{self, Contender, Row};
use poolscope_peer_benches::noop::Noop;
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Mobc, Poolscope, PoolscopeAsync, R2d2,
};
use serde_json::json;

#[path = "support/otel_spans.rs"]
mod otel_spans;

const SIZE: usize = 8;

/// Cycles per second of one caller on `pool` for `period`, on the calling thread, as
/// criterion's uncontended figures are taken (`drive::blocking_rate` runs workers on threads
/// of their own and checks a stop flag every cycle, which is the contended bench's measure).
fn blocking_rate<P: BlockingPool>(pool: &P, period: Duration) -> f64 {
    let began = Instant::now();
    let mut done = 0u64;
    while began.elapsed() < period {
        for _ in 0..1_000 {
            pool.cycle(Hold::Touch);
        }
        done += 1_000;
    }
    done as f64 / began.elapsed().as_secs_f64()
}

/// The same for one task on a current-thread runtime.
fn task_rate<P: AsyncPool>(rt: &tokio::runtime::Runtime, pool: &P, period: Duration) -> f64 {
    let began = Instant::now();
    let mut done = 0u64;
    while began.elapsed() < period {
        drive::one_task(rt, pool, 1_000);
        done += 1_000;
    }
    done as f64 / began.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let recorder = poolscope_peer_benches::prometheus_recorder();
    poolscope_peer_benches::drain_every_5s(recorder.handle());
    let meters = poolscope_peer_benches::otel_meter_provider();

    let recorded = metrics::with_local_recorder(&recorder, || Poolscope::new(SIZE, false));
    let quiet = Poolscope::new(SIZE, false);
    let metered = Poolscope::with(
        poolscope::Pool::builder().otel_meter(meters.meter("poolscope")),
        SIZE,
        0,
        false,
        Noop::new(false),
    );
    let value_by_value =
        metrics::with_local_recorder(&recorder, || Poolscope::with_gauges_on_every_change(SIZE));
    let r2d2 = R2d2::new(SIZE, false);

    let rt = drive::current_thread();
    let a_recorded =
        metrics::with_local_recorder(&recorder, || rt.block_on(PoolscopeAsync::new(SIZE, false)));
    let a_quiet = rt.block_on(PoolscopeAsync::new(SIZE, false));
    let a_metered = rt.block_on(PoolscopeAsync::with(
        poolscope::AsyncPool::builder().otel_meter(meters.meter("poolscope")),
        SIZE,
        0,
        false,
        Noop::new(false),
    ));
    let a_value_by_value = metrics::with_local_recorder(&recorder, || {
        rt.block_on(PoolscopeAsync::with_gauges_on_every_change(SIZE))
    });
    let bb8 = rt.block_on(Bb8::new(SIZE, false));
    let deadpool = rt.block_on(Deadpool::with_defaults(SIZE, false));
    let deadpool_timeout = rt.block_on(Deadpool::new(SIZE, false));
    let mobc = rt.block_on(Mobc::new(SIZE, false));
    let rt = &rt;
    let recorder = &recorder;

    let rows = vec![
        Row {
            labels: json!({"front": "blocking"}),
            contenders: vec![
                Contender::new("poolscope_recorder", |p| blocking_rate(&recorded, p)),
                Contender::new("r2d2", |p| blocking_rate(&r2d2, p)),
                Contender::new("poolscope_quiet", |p| blocking_rate(&quiet, p)),
                Contender::new("poolscope_otel_meter", |p| blocking_rate(&metered, p)),
                Contender::new("poolscope_value_by_value", |p| {
                    blocking_rate(&value_by_value, p)
                }),
            ],
        },
        Row {
            labels: json!({"front": "async"}),
            contenders: vec![
                Contender::new("poolscope_recorder", |p| task_rate(rt, &a_recorded, p)),
                Contender::new("bb8", |p| task_rate(rt, &bb8, p)),
                Contender::new("deadpool", |p| task_rate(rt, &deadpool, p)),
                Contender::new("deadpool_wait_timeout", |p| {
                    task_rate(rt, &deadpool_timeout, p)
                }),
                Contender::new("mobc_recorder", |p| {
                    metrics::with_local_recorder(recorder, || task_rate(rt, &mobc, p))
                }),
                Contender::new("mobc", |p| task_rate(rt, &mobc, p)),
                Contender::new("poolscope_quiet", |p| task_rate(rt, &a_quiet, p)),
                Contender::new("poolscope_otel_meter", |p| task_rate(rt, &a_metered, p)),
                Contender::new("poolscope_value_by_value", |p| {
                    task_rate(rt, &a_value_by_value, p)
                }),
            ],
        },
    ];
    interleave::run_and_write("instrumented", &rows, 15, 200);
    drop(meters.shutdown());

    // Spans, after the rows above: a subscriber registered anywhere makes every callsite
    // ask the current dispatcher from then on, which is not what those rows measure.
    let (subscriber, provider) = otel_spans::otel_subscriber();
    let dispatch = tracing::Dispatch::new(subscriber);
    let traced = |rate: &dyn Fn() -> f64| tracing::dispatcher::with_default(&dispatch, rate);
    let spans = vec![
        Row {
            labels: json!({"front": "blocking"}),
            contenders: vec![
                Contender::new("pool_spans", |p| traced(&|| blocking_rate(&quiet, p))),
                Contender::new("empty_span", |p| traced(&|| empty_span_rate(p))),
            ],
        },
        Row {
            labels: json!({"front": "async"}),
            contenders: vec![
                Contender::new("pool_spans", |p| traced(&|| task_rate(rt, &a_quiet, p))),
                Contender::new("empty_span", |p| traced(&|| empty_span_rate(p))),
            ],
        },
    ];
    interleave::run_and_write("spans_interleaved", &spans, 15, 200);
    drop(provider.shutdown());
}

/// One empty `info_span!`, entered and closed, per cycle: the floor a pool's spans are
/// measured against, through whatever subscriber is the default.
fn empty_span_rate(period: Duration) -> f64 {
    let began = Instant::now();
    let mut done = 0u64;
    while began.elapsed() < period {
        for _ in 0..1_000 {
            tracing::info_span!("empty").in_scope(|| std::hint::black_box(1));
        }
        done += 1_000;
    }
    done as f64 / began.elapsed().as_secs_f64()
}
