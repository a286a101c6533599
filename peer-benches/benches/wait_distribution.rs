//! 1000 callers over 50 connections for a few seconds, each holding its connection for 1 ms
//! (a short query): every checkout's wait, its p50 / p99 / p99.9, and how evenly the callers
//! were served (Jain's index of checkouts per caller: 1.0 is perfectly even). Async: tasks,
//! poolscope against bb8 and deadpool; blocking: threads, poolscope against r2d2. Each pool
//! runs three rounds, interleaved with the others; the median round is reported.
//!
//! ```sh
//! cargo bench -p poolscope-peer-benches --bench wait_distribution
//! ```
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Mobc, Poolscope, PoolscopeAsync, R2d2,
};
use poolscope_peer_benches::{drive, report, stats};
use serde_json::{json, Value};

const CALLERS: usize = 1000;
const CONNECTIONS: usize = 50;
const HOLD: Hold = Hold::Sleep(Duration::from_millis(1));
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;

/// One round's waits and checkouts per caller.
struct Round {
    waits: Vec<Duration>,
    per_caller: Vec<u64>,
    elapsed: Duration,
}

impl Round {
    fn new(results: Vec<Vec<Duration>>, elapsed: Duration) -> Self {
        let per_caller = results.iter().map(|w| w.len() as u64).collect();
        Round {
            waits: results.into_iter().flatten().collect(),
            per_caller,
            elapsed,
        }
    }

    fn summary(mut self) -> Value {
        let waits = stats::waits(&mut self.waits).expect("every round checks out");
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        json!({
            "checkouts": waits.count,
            "checkouts_per_s": waits.count as f64 / self.elapsed.as_secs_f64(),
            "p50_us": us(waits.p50),
            "p99_us": us(waits.p99),
            "p999_us": us(waits.p999),
            "max_us": us(waits.max),
            "jain": stats::jain(&self.per_caller),
            "fewest_per_caller": self.per_caller.iter().min(),
            "most_per_caller": self.per_caller.iter().max(),
        })
    }
}

fn tasks_round<P: AsyncPool>(rt: &tokio::runtime::Runtime, pool: &P) -> Round {
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let began = Instant::now();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (pool, stop) = (pool.clone(), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut waits = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        waits.push(pool.timed_cycle(HOLD).await);
                    }
                    waits
                })
            })
            .collect();
        tokio::time::sleep(ROUND).await;
        stop.store(true, Ordering::Relaxed);
        let mut results = Vec::with_capacity(CALLERS);
        for caller in callers {
            results.push(caller.await.expect("a caller finished"));
        }
        Round::new(results, began.elapsed())
    })
}

fn threads_round<P: BlockingPool>(pool: &P) -> Round {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let began = Instant::now();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let stop = &stop;
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn_scoped(scope, move || {
                        let mut waits = Vec::new();
                        while !stop.load(Ordering::Relaxed) {
                            waits.push(pool.timed_cycle(HOLD));
                        }
                        waits
                    })
                    .expect("a thread")
            })
            .collect();
        std::thread::sleep(ROUND);
        stop.store(true, Ordering::Relaxed);
        let results = callers
            .into_iter()
            .map(|c| c.join().expect("a caller finished"))
            .collect();
        Round::new(results, began.elapsed())
    })
}

/// The round whose p99 is the median of the rounds.
fn median_round(mut rounds: Vec<Value>) -> Value {
    rounds.sort_by(|a, b| {
        a["p99_us"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["p99_us"].as_f64().unwrap())
    });
    rounds.swap_remove(rounds.len() / 2)
}

fn print(front: &str, name: &str, v: &Value) {
    println!(
        "{front:8} {name:9}  p50 {:>9.0} us  p99 {:>9.0} us  p99.9 {:>9.0} us  max {:>9.0} us  jain {:.4}  {:>8.0} checkouts/s",
        v["p50_us"].as_f64().unwrap(),
        v["p99_us"].as_f64().unwrap(),
        v["p999_us"].as_f64().unwrap(),
        v["max_us"].as_f64().unwrap(),
        v["jain"].as_f64().unwrap_or(0.0),
        v["checkouts_per_s"].as_f64().unwrap(),
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` ask for names only
    }
    let rt = drive::runtime();
    let poolscope = rt.block_on(PoolscopeAsync::new(CONNECTIONS, false));
    let bb8 = rt.block_on(Bb8::new(CONNECTIONS, false));
    let deadpool = rt.block_on(Deadpool::new(CONNECTIONS, false));
    let mobc = rt.block_on(Mobc::new(CONNECTIONS, false));
    let mut rounds: [Vec<Value>; 4] = Default::default();
    for _ in 0..ROUNDS {
        rounds[0].push(tasks_round(&rt, &poolscope).summary());
        rounds[1].push(tasks_round(&rt, &bb8).summary());
        rounds[2].push(tasks_round(&rt, &deadpool).summary());
        rounds[3].push(tasks_round(&rt, &mobc).summary());
    }
    let [p, b, d, m] = rounds.map(median_round);
    for (name, v) in [
        ("poolscope", &p),
        ("bb8", &b),
        ("deadpool", &d),
        ("mobc", &m),
    ] {
        print("async", name, v);
    }
    let nonblocking = json!({"poolscope": p, "bb8": b, "deadpool": d, "mobc": m});

    let poolscope = Poolscope::new(CONNECTIONS, false);
    let r2d2 = R2d2::new(CONNECTIONS, false);
    let mut rounds: [Vec<Value>; 2] = Default::default();
    for _ in 0..ROUNDS {
        rounds[0].push(threads_round(&poolscope).summary());
        rounds[1].push(threads_round(&r2d2).summary());
    }
    let [p, r] = rounds.map(median_round);
    for (name, v) in [("poolscope", &p), ("r2d2", &r)] {
        print("blocking", name, v);
    }
    let blocking = json!({"poolscope": p, "r2d2": r});

    report::write(
        "wait_distribution",
        &json!({
            "callers": CALLERS,
            "connections": CONNECTIONS,
            "hold_ms": 1,
            "round_s": ROUND.as_secs(),
            "rounds": ROUNDS,
            "async": nonblocking,
            "blocking": blocking,
        }),
    );
}
