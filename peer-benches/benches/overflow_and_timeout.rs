//! Two behaviours where the pools differ by design, reported as facts rather than speeds.
//!
//! 1. Overflow churn under bursts: 16 callers check out together, hold 200 µs (1 ms on
//!    Tokio's timer), return, and wait for each other before the next burst; the pool keeps 8
//!    and may open 8 more. poolscope's QueuePool closes a connection returned while `pool_size`
//!    are idle (SQLAlchemy's overflow), so each burst reopens its 8 extra; r2d2, bb8,
//!    deadpool and mobc (`max_idle` 8) keep all 16 until an idle timeout. Reported: connections opened per 1000
//!    checkouts, and checkouts per second.
//! 2. At the timeout: a pool of 2 with both held and a 100 ms wait limit. Reported: how long
//!    the refused checkout took (median of 5), its error text, and whether the pool serves
//!    the next caller once the connections come back.
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench overflow_and_timeout
//! ```
use std::time::{Duration, Instant};

use poolscope_peer_benches::noop::Noop;
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Mobc, Poolscope, PoolscopeAsync, R2d2,
};
use poolscope_peer_benches::{drive, report, stats};
use serde_json::{json, Value};

const KEEP: usize = 8;
const EXTRA: usize = 8;
const CALLERS: usize = 16;
const BURSTS: u64 = 1_000;
/// Long enough that all 16 callers hold a connection at once.
const HOLD: Hold = Hold::Sleep(Duration::from_micros(200));
const TIMEOUT: Duration = Duration::from_millis(100);

fn churn(name: &str, connects: impl Fn() -> u64, run: impl FnOnce() -> Duration) -> Value {
    let before = connects();
    let elapsed = run();
    let checkouts = CALLERS as u64 * BURSTS;
    let opened = connects() - before;
    let v = json!({
        "connects_per_1000": opened as f64 * 1000.0 / checkouts as f64,
        "checkouts_per_s": checkouts as f64 / elapsed.as_secs_f64(),
    });
    println!(
        "churn    {name:18} {:>8.2} connects per 1000 checkouts  {:>10.0} checkouts/s",
        v["connects_per_1000"].as_f64().unwrap(),
        v["checkouts_per_s"].as_f64().unwrap()
    );
    v
}

fn bursts_of_threads<P: BlockingPool>(pool: &P) -> Duration {
    let together = std::sync::Barrier::new(CALLERS);
    let began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..CALLERS {
            scope.spawn(|| {
                for _ in 0..BURSTS {
                    together.wait();
                    pool.cycle(HOLD);
                }
            });
        }
    });
    began.elapsed()
}

fn bursts_of_tasks<P: AsyncPool>(rt: &tokio::runtime::Runtime, pool: &P) -> Duration {
    rt.block_on(async {
        let together = std::sync::Arc::new(tokio::sync::Barrier::new(CALLERS));
        let began = Instant::now();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (pool, together) = (pool.clone(), together.clone());
                tokio::spawn(async move {
                    for _ in 0..BURSTS {
                        together.wait().await;
                        pool.cycle(HOLD).await;
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.expect("a caller finished");
        }
        began.elapsed()
    })
}

fn overflow_churn(rt: &tokio::runtime::Runtime) -> Value {
    let manager = Noop::new(false);
    let poolscope = Poolscope::with(
        poolscope::Pool::builder(),
        KEEP,
        EXTRA as i64,
        false,
        manager.clone(),
    );
    let p = churn(
        "poolscope",
        || manager.connects(),
        || bursts_of_threads(&poolscope),
    );

    let manager = Noop::new(false);
    let r2d2 = R2d2(
        r2d2::Pool::builder()
            .max_size((KEEP + EXTRA) as u32)
            .min_idle(Some(KEEP as u32))
            .build(manager.clone())
            .expect("valid options"),
    );
    let r = churn("r2d2", || manager.connects(), || bursts_of_threads(&r2d2));

    let manager = Noop::new(false);
    let poolscope_async = rt.block_on(PoolscopeAsync::with(
        poolscope::AsyncPool::builder(),
        KEEP,
        EXTRA as i64,
        false,
        manager.clone(),
    ));
    let pa = churn(
        "poolscope (async)",
        || manager.connects(),
        || bursts_of_tasks(rt, &poolscope_async),
    );

    let manager = Noop::new(false);
    let bb8 = Bb8(rt
        .block_on(
            bb8::Pool::builder()
                .max_size((KEEP + EXTRA) as u32)
                .min_idle(Some(KEEP as u32))
                .build(manager.clone()),
        )
        .expect("valid options"));
    let b = churn("bb8", || manager.connects(), || bursts_of_tasks(rt, &bb8));

    let manager = Noop::new(false);
    let deadpool = Deadpool(
        deadpool::managed::Pool::builder(manager.clone())
            .max_size(KEEP + EXTRA)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("valid options"),
    );
    let d = churn(
        "deadpool",
        || manager.connects(),
        || bursts_of_tasks(rt, &deadpool),
    );

    let manager = Noop::new(false);
    let mobc = Mobc(
        mobc::Pool::builder()
            .max_open((KEEP + EXTRA) as u64)
            .max_idle(KEEP as u64)
            .test_on_check_out(false)
            .build(manager.clone()),
    );
    let m = churn("mobc", || manager.connects(), || bursts_of_tasks(rt, &mobc));
    json!({
        "pool_size": KEEP, "max_overflow": EXTRA, "callers": CALLERS, "bursts": BURSTS,
        "blocking": {"poolscope": p, "r2d2": r},
        "async": {"poolscope": pa, "bb8": b, "deadpool": d, "mobc": m},
    })
}

/// Holds both connections, asks for a third five times, then checks the pool serves again.
fn at_timeout<G, E: std::fmt::Display>(name: &str, mut get: impl FnMut() -> Result<G, E>) -> Value {
    let held = (get().ok().expect("first"), get().ok().expect("second"));
    let mut took = Vec::new();
    let mut error = String::new();
    for _ in 0..5 {
        let asked = Instant::now();
        match get() {
            Ok(_) => panic!("{name}: a third checkout succeeded in a pool of 2"),
            Err(e) => error = e.to_string(),
        }
        took.push(asked.elapsed().as_secs_f64() * 1e3);
    }
    drop(held);
    let serves_again = get().is_ok();
    let took_ms = stats::median(&mut took).expect("five tries");
    println!("timeout  {name:18} {took_ms:>7.1} ms (limit 100)  serves again: {serves_again}  error: {error}");
    json!({"took_ms": took_ms, "error": error, "serves_again": serves_again})
}

fn timeouts(rt: &tokio::runtime::Runtime) -> Value {
    let poolscope = poolscope::Pool::builder()
        .pool_size(2)
        .max_overflow(0)
        .pool_timeout(TIMEOUT)
        .reset_on_return(poolscope::ResetOnReturn::None)
        .build(Noop::new(false))
        .expect("valid options");
    let p = at_timeout("poolscope", || poolscope.get());

    let r2d2 = r2d2::Pool::builder()
        .max_size(2)
        .connection_timeout(TIMEOUT)
        .build(Noop::new(false))
        .expect("valid options");
    let r = at_timeout("r2d2", || r2d2.get());

    let poolscope_async = rt
        .block_on(
            poolscope::AsyncPool::builder()
                .pool_size(2)
                .max_overflow(0)
                .pool_timeout(TIMEOUT)
                .reset_on_return(poolscope::ResetOnReturn::None)
                .build(Noop::new(false)),
        )
        .expect("valid options");
    let pa = at_timeout("poolscope (async)", || rt.block_on(poolscope_async.get()));

    let bb8 = rt
        .block_on(
            bb8::Pool::builder()
                .max_size(2)
                .connection_timeout(TIMEOUT)
                .build(Noop::new(false)),
        )
        .expect("valid options");
    let b = at_timeout("bb8", || rt.block_on(bb8.get_owned()));

    let deadpool: deadpool::managed::Pool<Noop> =
        deadpool::managed::Pool::builder(Noop::new(false))
            .max_size(2)
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .build()
            .expect("valid options");
    let d = at_timeout("deadpool", || rt.block_on(deadpool.get()));

    // mobc returns a connection by spawning a task: the runtime must be at hand as one drops.
    let _runtime = rt.enter();
    let mobc = mobc::Pool::builder()
        .max_open(2)
        .get_timeout(Some(TIMEOUT))
        .test_on_check_out(false)
        .build(Noop::new(false));
    let m = at_timeout("mobc", || rt.block_on(mobc.get()));
    json!({
        "pool_size": 2, "timeout_ms": TIMEOUT.as_millis() as u64,
        "blocking": {"poolscope": p, "r2d2": r},
        "async": {"poolscope": pa, "bb8": b, "deadpool": d, "mobc": m},
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = drive::runtime();
    let churn = overflow_churn(&rt);
    let timeout = timeouts(&rt);
    report::write(
        "overflow_and_timeout",
        &json!({"overflow_churn": churn, "at_timeout": timeout}),
    );
}
