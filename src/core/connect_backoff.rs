//! The books of a pool's connects: whether they work, the back-off to the next probe, and
//! whether a probe is out. Kept under the pool's lock (`state.rs`); what the pool does with
//! them is `connects.rs`.

use std::time::{Duration, Instant};

use crate::cause::Cause;
use crate::refusal::Refusal;

/// The first back-off after a failed connect; it doubles with each failure since the pool's
/// last connect that worked.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest back-off: what a caller that waits for a probe waits at most beyond it.
const LONGEST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest back-off while the server refuses for capacity: its connections come free as
/// other clients return them, within milliseconds, and a pool that backed off long would
/// leave them to the pools that ask more often.
const LONGEST_CAPACITY_BACKOFF: Duration = Duration::from_millis(50);

/// The pool's connects, as the books know them.
#[derive(Default)]
pub(super) struct Connects {
    failing: Option<Failing>,
    /// The back-off's jitter (xorshift).
    seed: u64,
}

struct Failing {
    /// Failed connects since the last one that worked.
    failures: u32,
    /// No probe before this.
    next_probe: Instant,
    /// A probe is connecting.
    probing: bool,
    /// Of `failures`, refusals for capacity (what a timeout reports).
    refused: u32,
    /// What the server (or the network) said last.
    last: Cause,
    reason: Refusal,
}

/// Whether a caller that may have new capacity by the class's limits may open a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MayOpen {
    /// Connects work.
    Yes,
    /// Connects fail and no probe is out: this caller's connect is the probe.
    Probe,
    /// Connects fail and a probe is out, or the back-off is not over: wait.
    No,
}

/// The last refusal, for a timeout's text.
pub(crate) struct Refused {
    pub(crate) count: u32,
    pub(crate) last: Cause,
}

impl Connects {
    /// Whether connects work (the usual case: one comparison).
    #[inline]
    pub(super) fn working(&self) -> bool {
        self.failing.is_none()
    }

    /// Whether a caller may open a connection at `now` (read it only when not
    /// [`working`](Self::working)). Changes nothing: [`start_probe`](Self::start_probe) takes
    /// the probe.
    pub(super) fn may_open(&self, now: impl FnOnce() -> Instant) -> MayOpen {
        match &self.failing {
            None => MayOpen::Yes,
            Some(f) if !f.probing && now() >= f.next_probe => MayOpen::Probe,
            Some(_) => MayOpen::No,
        }
    }

    /// The caller told [`MayOpen::Probe`] connects now.
    pub(super) fn start_probe(&mut self) {
        if let Some(failing) = &mut self.failing {
            failing.probing = true;
        }
    }

    /// A connect worked: the pool is no longer failing.
    pub(super) fn worked(&mut self) {
        self.failing = None;
    }

    /// A probe ended without an outcome (its checkout was cancelled or panicked): another
    /// caller may probe.
    pub(super) fn probe_gone(&mut self) {
        if let Some(failing) = &mut self.failing {
            failing.probing = false;
        }
    }

    /// A connect failed at `now` with `reason`: the next probe is backed off. `probe`: it was
    /// the probe (another may go when the back-off is over).
    pub(super) fn failed(&mut self, now: Instant, reason: Refusal, last: Cause, probe: bool) {
        let failures = self.failing.as_ref().map_or(0, |f| f.failures) + 1;
        let longest = match reason {
            Refusal::ServerCapacity => LONGEST_CAPACITY_BACKOFF,
            _ => LONGEST_BACKOFF,
        };
        let backoff = self.backoff(failures, longest);
        let refused = self.failing.as_ref().map_or(0, |f| f.refused)
            + u32::from(reason == Refusal::ServerCapacity);
        let probing = !probe && self.failing.as_ref().is_some_and(|f| f.probing);
        self.failing = Some(Failing {
            failures,
            next_probe: now + backoff,
            probing,
            refused,
            last,
            reason,
        });
    }

    /// When the next probe may go, if one may and none is out (for the pool's alarm).
    pub(super) fn next_probe(&self) -> Option<Instant> {
        self.failing
            .as_ref()
            .filter(|f| !f.probing)
            .map(|f| f.next_probe)
    }

    /// The refusals for capacity since connects last worked, and the last thing the server
    /// said, if any.
    pub(super) fn refused(&self) -> Option<Refused> {
        let failing = self.failing.as_ref()?;
        (failing.refused > 0).then(|| Refused {
            count: failing.refused,
            last: failing.last.clone(),
        })
    }

    /// Why connects fail, if they do.
    #[allow(dead_code)]
    pub(super) fn reason(&self) -> Option<Refusal> {
        self.failing.as_ref().map(|f| f.reason)
    }

    /// The back-off after `failures` failures: 5 ms doubling to `longest`, each between half
    /// and all of it (so that pools refused together do not probe together).
    fn backoff(&mut self, failures: u32, longest: Duration) -> Duration {
        let full = FIRST_BACKOFF
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(longest);
        if self.seed == 0 {
            let clock = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64);
            self.seed = (clock ^ (std::ptr::from_ref(self) as usize as u64)) | 1;
        }
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let half = full / 2;
        half + half.mul_f64((self.seed % 1_000) as f64 / 1_000.0)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> Cause {
        Cause::text("FATAL: sorry, too many clients already")
    }

    #[test]
    fn one_probe_at_a_time_after_the_back_off() {
        let mut connects = Connects::default();
        let t0 = Instant::now();
        assert_eq!(connects.may_open(|| t0), MayOpen::Yes);
        connects.failed(t0, Refusal::ServerCapacity, refused(), false);
        assert_eq!(connects.may_open(|| t0), MayOpen::No, "backed off");
        let after = connects.next_probe().unwrap();
        assert!(
            after > t0 && after <= t0 + FIRST_BACKOFF,
            "{:?}",
            after - t0
        );
        assert_eq!(connects.may_open(|| after), MayOpen::Probe);
        connects.start_probe();
        assert_eq!(connects.may_open(|| after), MayOpen::No, "a probe is out");
        assert_eq!(connects.next_probe(), None);
        connects.probe_gone();
        assert_eq!(
            connects.may_open(|| after),
            MayOpen::Probe,
            "the probe went away"
        );
        connects.start_probe();
        connects.worked();
        assert_eq!(connects.may_open(|| after), MayOpen::Yes);
        assert!(connects.refused().is_none());
    }

    #[test]
    fn the_back_off_doubles_to_half_a_second_with_jitter() {
        let mut connects = Connects::default();
        let t0 = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..12 {
            connects.failed(t0, Refusal::Unreachable, Cause::text("refused"), true);
            seen.push(connects.next_probe().unwrap() - t0);
        }
        assert!(
            seen[0] >= FIRST_BACKOFF / 2 && seen[0] <= FIRST_BACKOFF,
            "{seen:?}"
        );
        assert!(
            seen[3] >= FIRST_BACKOFF * 4 && seen[3] <= FIRST_BACKOFF * 8,
            "{seen:?}"
        );
        for late in &seen[8..] {
            assert!(
                *late >= LONGEST_BACKOFF / 2 && *late <= LONGEST_BACKOFF,
                "{seen:?}"
            );
        }
    }

    #[test]
    fn a_timeout_reports_the_refusals_for_capacity() {
        let mut connects = Connects::default();
        let t0 = Instant::now();
        connects.failed(t0, Refusal::Unreachable, Cause::text("refused"), true);
        assert!(connects.refused().is_none(), "not for capacity");
        connects.failed(t0, Refusal::ServerCapacity, refused(), true);
        connects.failed(t0, Refusal::ServerCapacity, refused(), true);
        let seen = connects.refused().unwrap();
        assert_eq!(seen.count, 2);
        assert_eq!(seen.last, refused());
    }
}
