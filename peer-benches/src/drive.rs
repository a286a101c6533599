//! Running many workers against one pool and timing the whole run.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
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

/// Cycles per second of `workers` threads cycling for about `period` (from when all have
/// started until the last one stops).
pub fn blocking_rate<P: BlockingPool>(
    pool: &P,
    workers: usize,
    period: Duration,
    hold: Hold,
) -> f64 {
    threads_rate(workers, period, || pool.cycle(hold))
}

/// Calls per second of `cycle`, called in a loop by `workers` threads for about `period`
/// (from when all have started until the last one stops).
pub fn threads_rate(workers: usize, period: Duration, cycle: impl Fn() + Sync) -> f64 {
    let start = Barrier::new(workers + 1);
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let began = std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                start.wait();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    cycle();
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        start.wait();
        let began = Instant::now();
        std::thread::sleep(period);
        stop.store(true, Ordering::Relaxed);
        began
    });
    // The scope has joined the workers: the time includes their last cycles.
    rate(began, done.load(Ordering::Relaxed))
}

/// Cycles per second of `workers` tasks on `rt` cycling for about `period` (from the first
/// spawn until the last task stops).
pub fn tasks_rate<P: AsyncPool>(
    rt: &tokio::runtime::Runtime,
    pool: &P,
    workers: usize,
    period: Duration,
    hold: Hold,
) -> f64 {
    tasks_until_stopped(rt, workers, period, |stop| {
        let pool = pool.clone();
        async move { count_until(&stop, || pool.cycle(hold)).await }
    })
}

/// Per second, the sum of what `workers` tasks on `rt` count: each runs `worker(stop)`, which
/// counts its cycles until `stop` is set (see [`count_until`]), for about `period` (from the
/// first spawn until the last task stops).
pub fn tasks_until_stopped<W, Fut>(
    rt: &tokio::runtime::Runtime,
    workers: usize,
    period: Duration,
    worker: W,
) -> f64
where
    W: Fn(Arc<AtomicBool>) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let began = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|_| tokio::spawn(worker(Arc::clone(&stop))))
            .collect();
        tokio::time::sleep(period).await;
        stop.store(true, Ordering::Relaxed);
        let mut done = 0;
        for handle in handles {
            done += handle.await.expect("a worker finished");
        }
        rate(began, done)
    })
}

/// Awaits `cycle()` again and again until `stop` is set; how many times.
pub async fn count_until<F, Fut>(stop: &AtomicBool, mut cycle: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        cycle().await;
        n += 1;
    }
    n
}

/// `cycles` per second since `began`.
fn rate(began: Instant, cycles: u64) -> f64 {
    cycles as f64 / began.elapsed().as_secs_f64()
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
