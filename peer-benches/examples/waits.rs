//! Async checkouts that wait, counted in instructions (`peer-benches/instructions.py`): a pool
//! of 1 and two tasks on a current-thread runtime, each holding its connection across a yield,
//! so that nearly every checkout waits for the other task's return. One thread, so the count
//! is deterministic: the waiting path's cost, free of the 2-3x spread the contended bench shows
//! on two shared cores.
//!
//! ```sh
//! cargo run --release -p poolscope-peer-benches --example waits -- poolscope_async 10000
//! ```
//! Pools: `poolscope_async`, `bb8`, `deadpool`. The count is for `2 × cycles` checkouts.
use poolscope_peer_benches::drive;
use poolscope_peer_benches::peers::{AsyncPool, Bb8, Deadpool, Hold, PoolscopeAsync};

async fn two_tasks<P: AsyncPool>(pool: P, cycles: u64) {
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for _ in 0..cycles {
                    pool.cycle(Hold::Yield).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task of the bench panicked");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(pool), Some(cycles)) = (args.first(), args.get(1).and_then(|n| n.parse().ok()))
    else {
        eprintln!("usage: waits <pool> <cycles>");
        std::process::exit(2);
    };
    let rt = drive::current_thread();
    match pool.as_str() {
        "poolscope_async" => {
            rt.block_on(async { two_tasks(PoolscopeAsync::new(1, false).await, cycles).await })
        }
        "bb8" => rt.block_on(async { two_tasks(Bb8::new(1, false).await, cycles).await }),
        "deadpool" => rt.block_on(async { two_tasks(Deadpool::new(1, false).await, cycles).await }),
        other => {
            eprintln!("unknown pool {other:?}");
            std::process::exit(2);
        }
    }
}
