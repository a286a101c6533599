//! Runs `N` checkout + return cycles of one pool on a no-op manager (pool 8, one caller), for
//! counting instructions with callgrind (`peer-benches/instructions.py`): the count of a run
//! with `N` cycles less the count with fewer, divided by the difference, is what one cycle
//! costs, free of the noise a shared machine puts on wall-clock times.
//!
//! ```sh
//! cargo run --release -p poolscope-peer-benches --example cycles -- poolscope 100000 [recorder]
//! ```
//! Pools: `poolscope`, `r2d2` (blocking), `poolscope_async`, `bb8`, `deadpool` (async, one
//! task on a current-thread runtime). `recorder`: a Prometheus recorder takes the pool's
//! metrics (the peers have none; for them it changes nothing).
use poolscope_peer_benches::drive;
use poolscope_peer_benches::peers::{
    AsyncPool, Bb8, BlockingPool, Deadpool, Hold, Poolscope, PoolscopeAsync, R2d2,
};

const SIZE: usize = 8;

fn blocking(pool: impl BlockingPool, cycles: u64) {
    for _ in 0..cycles {
        pool.cycle(Hold::Touch);
    }
}

fn nonblocking<P: AsyncPool>(rt: &tokio::runtime::Runtime, pool: P, cycles: u64) {
    drive::one_task(rt, &pool, cycles);
}

fn run(pool: &str, cycles: u64) {
    let rt = drive::current_thread();
    match pool {
        "poolscope" => blocking(Poolscope::new(SIZE, false), cycles),
        "r2d2" => blocking(R2d2::new(SIZE, false), cycles),
        "poolscope_async" => {
            nonblocking(&rt, rt.block_on(PoolscopeAsync::new(SIZE, false)), cycles)
        }
        "bb8" => nonblocking(&rt, rt.block_on(Bb8::new(SIZE, false)), cycles),
        "deadpool" => nonblocking(&rt, rt.block_on(Deadpool::new(SIZE, false)), cycles),
        other => {
            eprintln!("unknown pool {other:?}");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(pool), Some(cycles)) = (args.first(), args.get(1).and_then(|n| n.parse().ok()))
    else {
        eprintln!("usage: cycles <pool> <cycles> [recorder]");
        std::process::exit(2);
    };
    if args.get(2).map(String::as_str) == Some("recorder") {
        let recorder = poolscope_peer_benches::prometheus_recorder();
        metrics::with_local_recorder(&recorder, || run(pool, cycles));
    } else {
        run(pool, cycles);
    }
}
