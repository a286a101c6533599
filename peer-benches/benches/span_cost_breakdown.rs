//! Where a default cycle's span cost goes under tracing-opentelemetry (the SDK, every span
//! sampled, exported to nowhere): poolscope's blocking cycle (idle checkout, return with
//! nothing to roll back: one `poolscope.checkout` span) against spans built by hand that
//! add one of its parts at a time, all interleaved in time through the same subscriber.
//! Ratios are each row's time per cycle / one empty `info_span!`'s.
//!
//! | row | what |
//! |---|---|
//! | `empty_span` | `info_span!("empty")`, entered and closed |
//! | `name_field` | + the pool name, set at creation |
//! | `created_fields` | + the class, as the checkout span sets them at creation (the empty fields declared too) |
//! | `created_and_recorded` | + the outcome recorded after creation, as the checkout span does |
//! | `pool_spans` | poolscope's cycle with its span |
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench span_cost_breakdown
//! ```
use std::time::{Duration, Instant};

use poolscope_peer_benches::interleave::{self, Contender, Row};
use poolscope_peer_benches::peers::{BlockingPool, Hold, Poolscope};
use serde_json::json;
use tracing::field::Empty;

#[path = "support/otel_spans.rs"]
mod otel_spans;

/// Cycles per second of `cycle` run on the calling thread for `period`.
fn rate(period: Duration, cycle: &dyn Fn()) -> f64 {
    let began = Instant::now();
    let mut done = 0u64;
    while began.elapsed() < period {
        for _ in 0..1_000 {
            cycle();
        }
        done += 1_000;
    }
    done as f64 / began.elapsed().as_secs_f64()
}

const NAME: &str = "poolscope-bench";

fn empty() {
    tracing::info_span!("empty").in_scope(|| std::hint::black_box(1));
}

fn name_field() {
    tracing::info_span!("named", "db.client.connection.pool.name" = NAME)
        .in_scope(|| std::hint::black_box(1));
}

fn checkout_like(record: bool) {
    let span = tracing::info_span!(
        target: "poolscope::pool",
        "poolscope.checkout",
        "db.client.connection.pool.name" = NAME,
        "db.system.name" = Empty,
        "poolscope.pool.class" = "QueuePool",
        "poolscope.checkout.outcome" = Empty,
        "error.type" = Empty,
        "otel.status_code" = Empty,
    );
    span.in_scope(|| {
        if record {
            span.record("poolscope.checkout.outcome", "idle");
        }
        std::hint::black_box(1)
    });
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let pool = Poolscope::new(8, false);
    let (subscriber, provider) = otel_spans::otel_subscriber();
    let dispatch = tracing::Dispatch::new(subscriber);
    let traced = |period: Duration, cycle: &dyn Fn()| {
        tracing::dispatcher::with_default(&dispatch, || rate(period, cycle))
    };
    let rows = vec![Row {
        labels: json!({"front": "blocking"}),
        contenders: vec![
            Contender::new("empty_span", |p| traced(p, &empty)),
            Contender::new("name_field", |p| traced(p, &name_field)),
            Contender::new("created_fields", |p| traced(p, &|| checkout_like(false))),
            Contender::new("created_and_recorded", |p| {
                traced(p, &|| checkout_like(true))
            }),
            Contender::new("pool_spans", |p| traced(p, &|| pool.cycle(Hold::Touch))),
        ],
    }];
    interleave::run_and_write("span_cost_breakdown", &rows, 15, 200);
    drop(provider.shutdown());
}
