//! Running many workers against one pool and timing the whole run.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::peers::{AsyncPool, BlockingPool, Hold};

/// `workers` threads, each doing `per_worker` cycles; the time from when all have started
/// (thread start-up is not timed) until the last one finishes.
pub fn blocking<P: BlockingPool>(
    pool: &P,
    workers: usize,
    per_worker: u64,
    hold: Hold,
) -> Duration {
    let start = Barrier::new(workers + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    for _ in 0..per_worker {
                        pool.cycle(hold);
                    }
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        for handle in handles {
            handle.join().expect("a worker finished");
        }
        began.elapsed()
    })
}

/// `workers` tasks on `rt`, each doing `per_worker` cycles; the time from the first spawn
/// until the last task finishes.
pub fn tasks<P: AsyncPool>(
    rt: &tokio::runtime::Runtime,
    pool: &P,
    workers: usize,
    per_worker: u64,
    hold: Hold,
) -> Duration {
    rt.block_on(async {
        let began = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    for _ in 0..per_worker {
                        pool.cycle(hold).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a worker finished");
        }
        began.elapsed()
    })
}

/// One task doing `iters` cycles in a row on `rt`, each touching its connection; how long
/// they took.
pub fn one_task<P: AsyncPool>(rt: &tokio::runtime::Runtime, pool: &P, iters: u64) -> Duration {
    rt.block_on(async {
        let began = Instant::now();
        for _ in 0..iters {
            pool.cycle(Hold::Touch).await;
        }
        began.elapsed()
    })
}

/// How many cycles each of `workers` does so that together they do at least `iters`, and
/// the factor that scales their time back to `iters` cycles.
pub fn split(iters: u64, workers: usize) -> (u64, f64) {
    let per_worker = iters.div_ceil(workers as u64).max(1);
    let done = per_worker * workers as u64;
    (per_worker, iters as f64 / done as f64)
}

/// A multi-threaded runtime with one worker per core, as a server would run.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A single-threaded runtime, for uncontended cycles.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
