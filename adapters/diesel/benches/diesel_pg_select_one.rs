//! Diesel `PgConnection`, `SELECT 1` per checkout, 16 threads over a pool of 8: poolscope
//! (instrumentation on, a Prometheus recorder taking its metrics) against Diesel's own r2d2
//! pool: poolscope LIFO (r2d2's discipline, the like-for-like ratio) and FIFO (poolscope's
//! default, SQLAlchemy's). Needs `POOLSCOPE_PG_URL`; says SKIPPED otherwise.
//! `BENCH_THREADS=8` runs it without waiting.
//!
//! ```sh
//! POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p poolscope-diesel --bench diesel_pg_select_one
//! ```
//! Three measurements:
//! - criterion, one pool after the other (its usual statistics per pool);
//! - then the ratios, with the pools interleaved in one process: every row once per round,
//!   the order rotating, after a warm-up round; for each row the median of its per-round
//!   ratios to r2d2 and a 95% interval of that median. Twice: in 1 s windows (15 rounds,
//!   `BENCH_ROUNDS`), which start the 16 threads afresh every second, and in 10 s windows
//!   (6 rounds, `BENCH_SUSTAINED_ROUNDS`, `BENCH_SUSTAINED_SECONDS`), where the first
//!   second after the start weighs a tenth; 0 rounds skips either. The two disagree:
//!   r2d2 is fastest in its first two seconds and then slows down, poolscope climbs to its
//!   rate over about a second and holds it (see the README). On a shared 2-core
//!   machine one pool's criterion figure moves by 20% between runs a minute apart, so only
//!   pools measured side by side are compared. `BENCH_PROFILE_MS=<n>` also prints every
//!   row's queries per `n` ms slice of the window, summed over the rounds: how each climbs
//!   after the threads start;
//! - then the same rows each alone in a process of its own, the processes alternating
//!   (`BENCH_PROCESSES` rounds, default 5, 0 skips; `BENCH_SECONDS` each, default 10), as an
//!   application runs one pool: the median of the per-round ratios again.
//!
//! The rows besides r2d2 and poolscope LIFO / FIFO:
//! - `diesel_r2d2_again`, a second r2d2 pool built like the first: its ratio to the first
//!   is the harness's own error, to read the others against;
//! - `lifo_no_recorder`, poolscope LIFO built with no recorder: the recorder's share;
//! - `lifo_gauges_on_change`, LIFO with its count gauges set on every change under the
//!   pool's lock (`gauge_interval(Duration::ZERO)`; the default has a background thread
//!   read them every second).
//!
//! Both pools are warmed to 8 connections, neither tests connections on checkout (r2d2's
//! `test_on_check_out(false)`, poolscope's `pre_ping(false)`; both test by default), and
//! poolscope's reset on return is on (nothing to roll back after a `SELECT 1`, so it sends
//! nothing).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diesel::prelude::*;
use diesel::r2d2::ConnectionManager;
use diesel::PgConnection;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(default)
}

fn threads() -> u64 {
    env_or("BENCH_THREADS", 16)
}
const POOL: u32 = 8;

fn select_one(conn: &mut PgConnection) {
    let one: i32 = diesel::select(1.into_sql::<diesel::sql_types::Integer>())
        .get_result(conn)
        .unwrap();
    assert_eq!(one, 1);
}

/// `iters` checkouts + `SELECT 1`, shared by 16 threads; the wall time of the whole.
fn run(iters: u64, checkout: &(dyn Fn() + Sync)) -> Duration {
    let per_thread = iters.div_ceil(threads());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| {
                for _ in 0..per_thread {
                    checkout();
                }
            });
        }
    });
    start.elapsed()
}

/// Queries per second with every thread checking out and querying for `period`.
fn throughput(period: Duration, checkout: &(dyn Fn() + Sync)) -> f64 {
    throughput_profiled(period, checkout, None)
}

/// [`throughput`], also adding to `counts[k]` the queries completed in the k-th `slice`
/// since the threads started, for `profile: Some((counts, slice))` (the slices past the end
/// are dropped).
fn throughput_profiled(
    period: Duration,
    checkout: &(dyn Fn() + Sync),
    profile: Option<(&[AtomicU64], Duration)>,
) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    checkout();
                    n += 1;
                    if let Some((counts, slice)) = profile {
                        let k = start.elapsed().as_nanos() / slice.as_nanos();
                        if let Some(count) = counts.get(k as usize) {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(period);
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// `BENCH_PROFILE_MS=<n>`: the interleaved measurements also print every row's queries per
/// `n` ms slice of the window, summed over the rounds, beside r2d2's: how the throughput
/// climbs after the threads start.
fn profile_slice() -> Option<Duration> {
    let ms = env_or("BENCH_PROFILE_MS", 0);
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// One contender alone for `BENCH_SECONDS` (default 10), after a 1 s warm-up, for profiling
/// it (`perf stat -a`, schedstat) and for [`separate_processes`].
fn only(contenders: &[(&str, &(dyn Fn() + Sync))], only: &str) {
    let Some((name, checkout)) = contenders.iter().find(|(name, _)| *name == only) else {
        panic!("BENCH_ONLY={only}: no such contender");
    };
    throughput(Duration::from_secs(1), *checkout);
    let seconds = Duration::from_secs(env_or("BENCH_SECONDS", 10));
    println!("{name}: {:.0} queries/s", throughput(seconds, *checkout));
}

/// Every contender for `window` once per round, `rounds` rounds, the order rotating from
/// round to round, after one discarded warm-up round. Prints each one's median throughput
/// and the median of its per-round ratios to the first contender (r2d2).
fn interleaved(contenders: &[(&str, &(dyn Fn() + Sync))], window: Duration, rounds: usize) {
    if rounds == 0 {
        return;
    }
    for (_, checkout) in contenders {
        throughput(window, *checkout);
    }
    let slice = profile_slice();
    let slices = slice.map_or(0, |slice| {
        (window.as_nanos() / slice.as_nanos()).max(1) as usize
    });
    let profiles: Vec<Vec<AtomicU64>> = contenders
        .iter()
        .map(|_| (0..slices).map(|_| AtomicU64::new(0)).collect())
        .collect();
    let mut runs = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for turn in 0..contenders.len() {
            let i = (round + turn) % contenders.len();
            let profile = slice.map(|slice| (profiles[i].as_slice(), slice));
            runs[i].push(throughput_profiled(window, contenders[i].1, profile));
        }
    }
    let names: Vec<&str> = contenders.iter().map(|(name, _)| *name).collect();
    report(
        &format!(
            "interleaved, {rounds} rounds of {window:?} each, {} threads, pool {POOL}:",
            threads()
        ),
        &names,
        &runs,
    );
    if let Some(slice) = slice {
        print_profile(slice, &names, &profiles);
    }
}

/// Each slice's queries, summed over the rounds, for every row, and each row's ratio to the
/// first row's in that slice.
fn print_profile(slice: Duration, names: &[&str], profiles: &[Vec<AtomicU64>]) {
    println!("  queries per {slice:?} slice since the threads started, all rounds:");
    println!("  {:>8} {}", "from", names.join(" / "));
    for k in 0..profiles[0].len() {
        let counts: Vec<u64> = profiles
            .iter()
            .map(|p| p[k].load(Ordering::Relaxed))
            .collect();
        let cells: Vec<String> = counts
            .iter()
            .map(|&n| match counts[0] {
                0 => n.to_string(),
                base => format!("{n} ({:.3})", n as f64 / base as f64),
            })
            .collect();
        println!("  {:>8?} {}", slice * k as u32, cells.join(" / "));
    }
}

/// The median of `values` and a distribution-free 95% interval for it: the order statistics
/// `n/2 ∓ 0.98·√n` (the normal approximation of the binomial; the whole range below 6 values).
fn median_and_interval(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let half = (0.98 * (n as f64).sqrt()).ceil() as usize;
    let low = values[(n / 2).saturating_sub(half)];
    let high = values[(n / 2 + half).min(n - 1)];
    (values[n / 2], low, high)
}

/// Each contender's median throughput and the median of its per-round ratios to the first,
/// with a 95% interval of that median.
fn report(title: &str, names: &[&str], runs: &[Vec<f64>]) {
    println!("{title}");
    for (name, runs_i) in names.iter().zip(runs).skip(1) {
        let ratios = runs_i.iter().zip(&runs[0]).map(|(x, base)| x / base);
        let (ratio, low, high) = median_and_interval(ratios.collect());
        println!(
            "  {name:22} median {:>8.0} queries/s, median ratio to {}: {ratio:.3} (95% interval {low:.3}-{high:.3})",
            median_and_interval(runs_i.clone()).0,
            names[0],
        );
    }
    println!(
        "  {:22} median {:>8.0} queries/s",
        names[0],
        median_and_interval(runs[0].clone()).0
    );
}

/// The same contenders, each alone in a process of its own (this bench again, with
/// `BENCH_ONLY`), the processes alternating in a rotating order, `BENCH_PROCESSES` rounds
/// (default 5, 0 skips) of `BENCH_SECONDS` (default 10) each. An application runs one pool
/// for good; interleaving the pools in one process switches the server's backends in and
/// out at every window, and the two measurements have disagreed (see the README).
fn separate_processes(names: &[&str]) {
    let rounds = env_or("BENCH_PROCESSES", 5) as usize;
    if rounds == 0 {
        return;
    }
    let seconds = env_or("BENCH_SECONDS", 10);
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut runs = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for turn in 0..names.len() {
            let i = (round + turn) % names.len();
            let out = std::process::Command::new(&exe)
                .args(["--bench", "nothing"])
                .env("BENCH_ONLY", names[i])
                .env("BENCH_SECONDS", seconds.to_string())
                .output()
                .expect("the bench runs itself");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let rate = stdout
                .lines()
                .find_map(|line| {
                    let rest = line.strip_prefix(names[i])?.strip_prefix(": ")?;
                    rest.strip_suffix(" queries/s")?.parse::<f64>().ok()
                })
                .unwrap_or_else(|| panic!("no rate from the {} process: {stdout}", names[i]));
            runs[i].push(rate);
        }
    }
    report(
        &format!(
            "separate processes, {rounds} rounds of {seconds} s each, {} threads, pool {POOL}:",
            threads()
        ),
        names,
        &runs,
    );
}

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("POOLSCOPE_PG_URL") else {
        eprintln!("SKIPPED diesel_pg_select_one: POOLSCOPE_PG_URL is not set");
        return;
    };

    let r2d2_pool = || {
        diesel::r2d2::Pool::builder()
            .max_size(POOL)
            .min_idle(Some(POOL))
            .test_on_check_out(false)
            .build(ConnectionManager::<PgConnection>::new(url.as_str()))
            .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached")
    };
    // The second is the calibration row: the same pool again, measured as a contender.
    let (r2d2_pool, r2d2_again_pool) = (r2d2_pool(), r2d2_pool());

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(poolscope::metric_names::DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let scrape = recorder.handle();
    // The upkeep an installed exporter runs every 5 s: drains the histograms' raw samples,
    // which otherwise pile up for the whole run (hundreds of MB here), as no service sees.
    let upkeep = recorder.handle();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(5));
        upkeep.run_upkeep();
    });
    // Every poolscope row: pool 8, no overflow, in the given order.
    let builder = |lifo: bool| {
        poolscope_diesel::Pool::<PgConnection>::builder()
            .pool_size(POOL as usize)
            .max_overflow(0)
            .pre_ping(false)
            .use_lifo(lifo)
    };
    let with_recorder = |builder: poolscope_diesel::Builder<PgConnection>| {
        metrics::with_local_recorder(&recorder, || builder.build(url.as_str()).unwrap())
    };
    // Both disciplines, both with the recorder: LIFO is r2d2's (like for like), FIFO is
    // poolscope's default (SQLAlchemy's).
    let (lifo_pool, fifo_pool) = (with_recorder(builder(true)), with_recorder(builder(false)));
    // LIFO with the count gauges set on every change under the pool's lock (the default has
    // a background thread read them every second): what keeping them off the checkout path
    // is worth under contention.
    let on_change_pool = with_recorder(builder(true).gauge_interval(Duration::ZERO));
    // The same LIFO pool with no recorder installed as it is built: the interleaved run's
    // fourth row, so the recorder's share of the gap to r2d2 is measured, not guessed.
    let bare_pool = builder(true).build(url.as_str()).unwrap();
    // Warm: all 8 open.
    for pool in [&lifo_pool, &fifo_pool, &bare_pool, &on_change_pool] {
        let held: Vec<_> = (0..POOL).map(|_| pool.get().unwrap()).collect();
        drop(held);
    }

    let mut group = c.benchmark_group("diesel_pg_select_one_16_threads_pool_8");
    group.throughput(Throughput::Elements(1));
    let r2d2_checkout = || select_one(&mut r2d2_pool.get().unwrap());
    let r2d2_again_checkout = || select_one(&mut r2d2_again_pool.get().unwrap());
    let lifo_checkout = || select_one(&mut lifo_pool.get().unwrap());
    let fifo_checkout = || select_one(&mut fifo_pool.get().unwrap());
    let bare_checkout = || select_one(&mut bare_pool.get().unwrap());
    let on_change_checkout = || select_one(&mut on_change_pool.get().unwrap());
    group.bench_function("diesel_r2d2", |b| {
        b.iter_custom(|iters| run(iters, &r2d2_checkout))
    });
    group.bench_function("poolscope_lifo", |b| {
        b.iter_custom(|iters| run(iters, &lifo_checkout))
    });
    group.bench_function("poolscope_fifo", |b| {
        b.iter_custom(|iters| run(iters, &fifo_checkout))
    });
    group.finish();
    let contenders: [(&str, &(dyn Fn() + Sync)); 6] = [
        ("diesel_r2d2", &r2d2_checkout),
        ("diesel_r2d2_again", &r2d2_again_checkout),
        ("poolscope_lifo", &lifo_checkout),
        ("poolscope_fifo", &fifo_checkout),
        ("lifo_no_recorder", &bare_checkout),
        ("lifo_gauges_on_change", &on_change_checkout),
    ];
    // `BENCH_ROWS=poolscope_lifo,diesel_r2d2_again`: r2d2 and those rows alone, for a longer
    // run of the ratios that matter.
    let rows = std::env::var("BENCH_ROWS").unwrap_or_default();
    let contenders: Vec<_> = contenders
        .into_iter()
        .enumerate()
        .filter(|(i, (name, _))| *i == 0 || rows.is_empty() || rows.split(',').any(|r| r == *name))
        .map(|(_, contender)| contender)
        .collect();
    if let Ok(row) = std::env::var("BENCH_ONLY") {
        only(&contenders, &row);
    } else {
        let short = env_or("BENCH_ROUNDS", 15) as usize;
        interleaved(&contenders, Duration::from_secs(1), short);
        let sustained = Duration::from_secs(env_or("BENCH_SUSTAINED_SECONDS", 10).max(1));
        interleaved(
            &contenders,
            sustained,
            env_or("BENCH_SUSTAINED_ROUNDS", 6) as usize,
        );
        let names: Vec<&str> = contenders.iter().map(|(name, _)| *name).collect();
        separate_processes(&names);
    }
    assert!(
        scrape
            .render()
            .contains("db_client_connection_use_time_seconds_count"),
        "the recorder took poolscope's metrics"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
