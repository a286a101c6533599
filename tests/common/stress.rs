//! Seeded randomness for the stress tests: the seed comes from `POOLSCOPE_STRESS_SEED` or
//! the clock, and every failure message carries it, so a failing run can be replayed.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The run's seed: `POOLSCOPE_STRESS_SEED`, or one from the clock.
pub fn seed() -> u64 {
    match std::env::var("POOLSCOPE_STRESS_SEED") {
        Ok(seed) => seed.parse().expect("POOLSCOPE_STRESS_SEED is a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

/// How long a stress test runs: `POOLSCOPE_STRESS_SECS`, else `default`.
pub fn duration(default: Duration) -> Duration {
    match std::env::var("POOLSCOPE_STRESS_SECS") {
        Ok(secs) => {
            Duration::from_secs_f64(secs.parse().expect("POOLSCOPE_STRESS_SECS is a number"))
        }
        Err(_) => default,
    }
}

/// xorshift64*: small, fast, and the same sequence for the same seed everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Never zero (xorshift's fixed point), and seeds that differ by little diverge.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
