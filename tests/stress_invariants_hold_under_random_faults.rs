//! Seeded randomized stress, on both fronts: sixteen callers check out, hold, return,
//! invalidate, soft-invalidate, detach, dispose and panic while holding, while a chaos thread
//! stops the fake server (connects fail), makes connects, resets and `has_broken` panic,
//! restarts it (pre-pings fail), and slows closes down; the async callers give up (cancel)
//! at random. At the end, whatever happened:
//!
//! - the counts are whole: nothing checked out, nobody waiting, at most `pool_size` idle;
//! - every slot is usable: `pool_size + max_overflow` checkouts at once all work;
//! - the connections live in the pool never exceeded `pool_size + max_overflow`;
//! - no caller timed out, and no waiter reached its deadline while the pool could have
//!   served it (`missed_wakeups`).
//!
//! The seed is printed with every failure; `POOLSCOPE_STRESS_SEED=<seed>` replays a run and
//! `POOLSCOPE_STRESS_SECS=<s>` runs longer (default 5 s a front).
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use common::fronts::{Front, Opts, TestPool};
use common::stress::{self, Rng};
use common::Db;

const POOL_SIZE: usize = 4;
const MAX_OVERFLOW: i64 = 2;
const LIMIT: usize = POOL_SIZE + MAX_OVERFLOW as usize;
const CALLERS: u64 = 16;
/// Far longer than any wait can legitimately take here (holds are at most a few ms): a
/// timeout means a caller was stranded.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the callers saw.
#[derive(Default)]
struct Tally {
    checkouts: AtomicU64,
    connect_errors: AtomicU64,
    timeouts: AtomicU64,
    cancelled: AtomicU64,
    panics: AtomicU64,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} checkouts, {} connect errors, {} timeouts, {} cancelled, {} panics",
            self.checkouts.load(Relaxed),
            self.connect_errors.load(Relaxed),
            self.timeouts.load(Relaxed),
            self.cancelled.load(Relaxed),
            self.panics.load(Relaxed),
        )
    }
}

/// One caller's turn: a checkout and something done with it.
fn turn(pool: &TestPool, rng: &mut Rng, tally: &Tally) {
    let patience = match pool.front() {
        Front::Async if rng.chance(30) => Duration::from_micros(20 + rng.below(2_000)),
        _ => TIMEOUT * 2,
    };
    let Some(got) = pool.get_within(patience) else {
        tally.cancelled.fetch_add(1, Relaxed);
        return;
    };
    let mut conn = match got {
        Ok(conn) => conn,
        Err(poolscope::Error::Timeout(_)) => {
            tally.timeouts.fetch_add(1, Relaxed);
            return;
        }
        Err(_) => {
            tally.connect_errors.fetch_add(1, Relaxed);
            return;
        }
    };
    tally.checkouts.fetch_add(1, Relaxed);
    if rng.chance(20) {
        conn.begin(); // something for the reset to roll back
    }
    if rng.chance(30) {
        std::thread::sleep(Duration::from_micros(rng.below(1_500)));
    }
    match rng.below(100) {
        0..=4 => conn.invalidate(),
        5..=9 => {
            conn.soft_invalidate();
            drop(conn);
        }
        10..=12 => conn.detach_and_close(),
        13..=14 => {
            drop(conn);
            pool.dispose();
        }
        15..=16 => pool.invalidate_all(),
        17..=19 => {
            tally.panics.fetch_add(1, Relaxed);
            panic!("a caller panicked on purpose while holding {}", conn.id);
        }
        _ => drop(conn),
    }
}

/// Faults, one at a time, each for a moment, until `stop`.
fn chaos(db: &Db, seed: u64, stop: &AtomicBool) {
    let mut rng = Rng::new(seed ^ 0xC4A0_5000);
    while !stop.load(Relaxed) {
        let moment = Duration::from_micros(200 + rng.below(3_000));
        match rng.below(7) {
            0 => {
                db.stop();
                std::thread::sleep(moment);
                db.start();
            }
            1 => {
                db.panic_connects(true);
                std::thread::sleep(moment);
                db.panic_connects(false);
            }
            2 => db.restart(),
            3 => {
                db.panic_resets(true);
                std::thread::sleep(moment);
                db.panic_resets(false);
            }
            4 => {
                db.panic_has_broken(true);
                std::thread::sleep(moment);
                db.panic_has_broken(false);
            }
            5 => {
                db.set_close_delay(Duration::from_millis(1 + rng.below(3)));
                std::thread::sleep(moment);
                db.set_close_delay(Duration::ZERO);
            }
            _ => {
                db.fail_resets(true);
                std::thread::sleep(moment);
                db.fail_resets(false);
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(5_000)));
    }
}

fn invariants_hold_under_random_faults(front: Front) {
    common::quiet_deliberate_panics();
    let seed = stress::seed();
    let run_for = stress::duration(Duration::from_secs(5));
    let db = Db::new();
    let pool = TestPool::build(
        front,
        &db,
        Opts {
            pre_ping: true,
            // Async returns whose reset awaits go on on tasks: the harder path.
            reset_awaits: true,
            ..Opts::queue(POOL_SIZE, MAX_OVERFLOW, TIMEOUT)
        },
    );
    let tally = Tally::default();
    let stop = AtomicBool::new(false);
    let until = Instant::now() + run_for;
    std::thread::scope(|s| {
        s.spawn(|| chaos(&db, seed, &stop));
        for caller in 0..CALLERS {
            let (pool, tally) = (&pool, &tally);
            s.spawn(move || {
                let mut rng = Rng::new(seed ^ caller);
                while Instant::now() < until {
                    let _ = catch_unwind(AssertUnwindSafe(|| turn(pool, &mut rng, tally)));
                }
            });
        }
        std::thread::sleep(run_for);
        stop.store(true, Relaxed);
    });
    let context = format!("{front:?}, seed {seed} (POOLSCOPE_STRESS_SEED={seed} replays it)");
    eprintln!("{context}: {tally}; peak live {}", db.peak_live());

    let status = pool.settled();
    assert_eq!(
        (status.checked_out, status.waiting),
        (0, 0),
        "{context}: {status}"
    );
    assert!(status.checked_in <= POOL_SIZE, "{context}: {status}");
    assert!(
        db.peak_live() <= LIMIT,
        "{context}: {} connections live at once, limit {LIMIT}",
        db.peak_live()
    );
    assert_eq!(
        tally.timeouts.load(Relaxed),
        0,
        "{context}: callers timed out"
    );
    assert_eq!(pool.missed_wakeups(), 0, "{context}: wake-ups were missed");
    assert!(
        tally.checkouts.load(Relaxed) > 1_000,
        "{context}: too little done: {tally}"
    );

    // Every slot usable, all at once.
    let all: Vec<_> = (0..LIMIT)
        .map(|i| {
            pool.get()
                .unwrap_or_else(|e| panic!("{context}: slot {i} of {LIMIT} unusable: {e}"))
        })
        .collect();
    assert_eq!(pool.status().checked_out, LIMIT, "{context}");
    drop(all);
    let status = pool.settled();
    assert_eq!(
        (status.checked_out, status.checked_in),
        (0, POOL_SIZE),
        "{context}: {status}"
    );
}

on_both_fronts!(invariants_hold_under_random_faults);
