//! Server faults under load: workers loop checkout / query / return on a pool while the
//! harness kills every backend, restarts the server, stops it for a while, and freezes it
//! (`SIGSTOP`) past `pool_timeout`, on a server of the test's own. What each fault cost the
//! callers is measured and returned as a table row (shared by the core's and the adapters'
//! suites through `#[path]`).
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)] // each suite uses part of it

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::private_mariadb::PrivateMariadb;
use super::private_postgres::PrivatePostgres;

/// A server of the test's own that the harness can hurt. `who` names the pool's
/// connections on it (a role on PostgreSQL, a database on MariaDB).
pub trait Faulty {
    fn kill(&self, who: &str) -> i64;
    fn stop(&self);
    fn start_again(&self);
    fn freeze(&self);
    fn thaw(&self);
}

/// One checkout and query: how long `get()` took, and the outcome.
pub type Op = Arc<dyn Fn() -> (Duration, Result<(), String>) + Send + Sync>;

/// How an op says its checkout failed in a connect of its own (one connect attempt to the
/// server), so that the table counts the attempts: the error's text after this mark.
pub const OWN_CONNECT: &str = "[connect] ";

/// An error of the pool as an op reports it: a failed connect of the caller's own marked
/// [`OWN_CONNECT`] (another's, shared with the callers that waited for it, is not).
pub fn pool_error<E: std::fmt::Display>(error: &poolscope::Error<E>) -> String {
    match error {
        poolscope::Error::Connect(_) => format!("{OWN_CONNECT}{error}"),
        other => other.to_string(),
    }
}

/// What one fault cost.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: &'static str,
    /// Backends the fault killed (the kill fault), else 0.
    pub killed: i64,
    /// Calls that failed from the fault's start to the next fault.
    pub errors: usize,
    /// Of those, pool timeouts (`QueuePool limit ..`) and connect timeouts.
    pub timeouts: usize,
    /// Connect attempts that failed during the fault, per second of it (the ops' own
    /// connects, [`OWN_CONNECT`]): what an outage costs the server.
    pub failed_connects_per_s: f64,
    /// Failed calls more than `settle` after the fault ended.
    pub late_errors: usize,
    /// From the fault's end to the last failed call (0 if none after it).
    pub recovered_in: Duration,
    /// The longest `get()`.
    pub max_get: Duration,
    pub calls: usize,
}

impl Row {
    pub fn print_header() {
        eprintln!(
            "| adapter | pre_ping | fault | calls | errors | killed | timeouts | failed connects / s | recovered in | longest get() | errors after settling |"
        );
        eprintln!("|---|---|---|---|---|---|---|---|---|---|---|");
    }

    pub fn print(&self, adapter: &str, pre_ping: &str) {
        eprintln!(
            "| {adapter} | {pre_ping} | {} | {} | {} | {} | {} | {:.0} | {:.2} s | {:.2} s | {} |",
            self.fault,
            self.calls,
            self.errors,
            self.killed,
            self.timeouts,
            self.failed_connects_per_s,
            self.recovered_in.as_secs_f64(),
            self.max_get.as_secs_f64(),
            self.late_errors
        );
    }
}

impl Row {
    /// What every fault must keep to: no call longer than `bound` (plus [`SLACK`] for the
    /// machine), no error once the fault has settled, at most one error per killed
    /// connection.
    pub fn assert_kept(&self, who: &str, bound: Duration) {
        assert!(
            self.max_get <= bound + SLACK,
            "{who} {}: a call took {:?}, bound {bound:?} (+ {SLACK:?} for a busy machine)",
            self.fault,
            self.max_get
        );
        assert_eq!(
            self.late_errors, 0,
            "{who} {}: errors after settling",
            self.fault
        );
        if self.killed > 0 {
            assert!(
                self.errors as i64 <= self.killed,
                "{who}: {} errors for {} killed connections",
                self.errors,
                self.killed
            );
        }
    }
}

struct Event {
    at: Instant,
    got_in: Duration,
    error: Option<String>,
}

/// How long `run` stops and freezes the server. Longer than `pool_timeout` plus [`SLACK`], so
/// that a call bounded by `pool_timeout` and a call that waited for the server to come back
/// tell apart on a busy machine.
pub const OUTAGE: Duration = Duration::from_secs(4);

/// How much longer than the bound it keeps to a call may take on a busy 2-core machine
/// (other tests and builds beside it): the scheduler's delay in waking the caller, not the
/// pool's.
pub const SLACK: Duration = Duration::from_millis(1_500);

/// Runs `workers` threads of `op` against `server` and inflicts each fault in turn, `settle`
/// apart; the workers stop when it returns. `user` is the role the pool connects as.
pub fn run(server: &dyn Faulty, user: &str, workers: usize, op: Op, settle: Duration) -> Vec<Row> {
    let events = Arc::new(Mutex::new(Vec::<Event>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (op, events, stop) = (Arc::clone(&op), Arc::clone(&events), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (got_in, result) = op();
                    let failed = result.is_err();
                    events.lock().unwrap().push(Event {
                        at: Instant::now(),
                        got_in,
                        error: result.err(),
                    });
                    // A refused connect fails at once: do not spin on it.
                    std::thread::sleep(Duration::from_millis(if failed { 20 } else { 2 }));
                }
            })
        })
        .collect();
    std::thread::sleep(settle);
    let mut marks = Vec::new();
    type Fault<'a> = (&'static str, Box<dyn Fn() -> i64 + 'a>);
    let faults: Vec<Fault<'_>> = vec![
        ("kill every backend", Box::new(|| server.kill(user))),
        (
            "restart",
            Box::new(|| {
                server.stop();
                server.start_again();
                0
            }),
        ),
        (
            "stop 4 s",
            Box::new(|| {
                server.stop();
                std::thread::sleep(OUTAGE);
                server.start_again();
                0
            }),
        ),
        (
            "freeze 4 s (SIGSTOP)",
            Box::new(|| {
                server.freeze();
                std::thread::sleep(OUTAGE);
                server.thaw();
                0
            }),
        ),
    ];
    for (name, inflict) in &faults {
        let start = Instant::now();
        let killed = inflict();
        let end = Instant::now();
        marks.push((*name, killed, start, end));
        std::thread::sleep(settle);
    }
    let finished = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let events = events.lock().unwrap();
    marks
        .iter()
        .enumerate()
        .map(|(i, (fault, killed, start, end))| {
            let until = marks.get(i + 1).map_or(finished, |m| m.2);
            let window: Vec<&Event> = events
                .iter()
                .filter(|e| e.at >= *start && e.at < until)
                .collect();
            let errors: Vec<&&Event> = window.iter().filter(|e| e.error.is_some()).collect();
            let last_error = errors.iter().map(|e| e.at).max();
            Row {
                fault,
                killed: *killed,
                errors: errors.len(),
                timeouts: errors
                    .iter()
                    .filter(|e| {
                        let text = e.error.as_deref().unwrap_or("");
                        text.contains("connection timed out") || text.contains("pool_timeout")
                    })
                    .count(),
                late_errors: errors.iter().filter(|e| e.at > *end + settle / 2).count(),
                failed_connects_per_s: errors
                    .iter()
                    .filter(|e| e.at >= *start && e.at <= *end)
                    .filter(|e| {
                        e.error
                            .as_deref()
                            .is_some_and(|t| t.starts_with(OWN_CONNECT))
                    })
                    .count() as f64
                    / end.saturating_duration_since(*start).as_secs_f64().max(1.0),
                recovered_in: last_error
                    .map_or(Duration::ZERO, |at| at.saturating_duration_since(*end)),
                max_get: window.iter().map(|e| e.got_in).max().unwrap_or_default(),
                calls: window.len(),
            }
        })
        .collect()
}

impl Faulty for PrivatePostgres {
    fn kill(&self, user: &str) -> i64 {
        self.kill_backends(user)
    }
    fn stop(&self) {
        PrivatePostgres::stop(self)
    }
    fn start_again(&self) {
        PrivatePostgres::start_again(self)
    }
    fn freeze(&self) {
        PrivatePostgres::freeze(self)
    }
    fn thaw(&self) {
        PrivatePostgres::thaw(self)
    }
}

impl Faulty for PrivateMariadb {
    fn kill(&self, database: &str) -> i64 {
        self.kill_in(database)
    }
    fn stop(&self) {
        PrivateMariadb::stop(self)
    }
    fn start_again(&self) {
        PrivateMariadb::start_again(self)
    }
    fn freeze(&self) {
        PrivateMariadb::freeze(self)
    }
    fn thaw(&self) {
        PrivateMariadb::thaw(self)
    }
}

/// The pool's status once its callers have all returned (waits up to 10 s for them).
pub fn settled(status: impl Fn() -> poolscope::Status) -> poolscope::Status {
    let until = Instant::now() + Duration::from_secs(10);
    while status().checked_out > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    status()
}

/// After the faults: nothing checked out, the pool back at `pool_size` idle connections, and
/// the server counting exactly the pool's (`on_server`).
pub fn assert_back_to_normal(
    who: &str,
    status: &poolscope::Status,
    on_server: i64,
    pool_size: usize,
) {
    assert_eq!(status.checked_out, 0, "{who}: {status}");
    assert_eq!(
        status.checked_in, pool_size,
        "{who}: the pool is back at pool_size idle: {status}"
    );
    assert_eq!(
        on_server, status.checked_in as i64,
        "{who}: the server has {on_server} connections, {status}"
    );
}
