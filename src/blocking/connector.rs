//! Connects and pre-pings that can outlive their caller. With a `pool_timeout`, the blocking
//! pool opens each connection, and pings each pooled connection before handing it out
//! (`pre_ping`), on a connector thread, and waits for it until the checkout's deadline at
//! most, as r2d2 opens its connections on threads of its own. A connect or a ping that hangs
//! past the deadline leaves its caller with [`ConnectTimeout`](crate::Error::ConnectTimeout)
//! and its slot with the job: when the job returns, the connection it opened or pinged (if
//! any) is closed and the slot freed. So the pool never counts fewer connections than are live
//! or being opened, and a hanging server blocks nobody else.
//!
//! The threads are shared by every pool and reused: one is started when a job finds none
//! idle, and an idle one exits after [`IDLE_EXIT`]. A pool runs at most [`PER_POOL`] jobs at
//! once (its [`Gate`]): a server that accepts connections and never answers holds that many
//! threads, not one more per `pool_timeout` until the process cannot start a thread. A
//! checkout that finds its pool's jobs all running waits for one to end, up to its deadline,
//! then fails with `ConnectTimeout` (the error says the connector threads were busy).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::core::panics::{catching, Panic};

/// How long an idle connector thread waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// Most jobs (connects, pre-pings) one pool runs on connector threads at once.
pub(crate) const PER_POOL: usize = 8;

/// One pool's share of the connector threads: how many of its jobs run now.
#[derive(Default)]
pub(crate) struct Gate {
    running: Mutex<usize>,
    freed: Condvar,
}

/// A job's place in its pool's [`Gate`], given back when the job ends.
pub(super) struct Permit(Arc<Gate>);

impl Gate {
    /// Waits until fewer than [`PER_POOL`] of this pool's jobs run, or `deadline` passes
    /// (`None` then: every thread of the pool is busy with a job that has not returned).
    pub(super) fn enter(self: &Arc<Self>, deadline: Instant) -> Option<Permit> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running >= PER_POOL {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            running = self
                .freed
                .wait_timeout(running, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *running += 1;
        Some(Permit(Arc::clone(self)))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running -= 1;
        drop(running);
        self.0.freed.notify_one();
    }
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Connectors {
    work: Mutex<Work>,
    arrived: Condvar,
}

#[derive(Default)]
struct Work {
    jobs: VecDeque<Job>,
    idle: usize,
}

fn connectors() -> &'static Connectors {
    static CONNECTORS: OnceLock<Connectors> = OnceLock::new();
    CONNECTORS.get_or_init(Connectors::default)
}

/// Runs `job` on a connector thread; gives it back if no thread could be started.
fn spawn(job: Job) -> Result<(), Job> {
    let shared = connectors();
    let mut work = shared.work.lock().unwrap_or_else(PoisonError::into_inner);
    work.jobs.push_back(job);
    // Each idle thread takes one queued job.
    if work.idle >= work.jobs.len() {
        shared.arrived.notify_one();
        return Ok(());
    }
    drop(work);
    let started = std::thread::Builder::new()
        .name("poolscope-connect".into())
        .spawn(|| serve(connectors()));
    match started {
        Ok(_) => Ok(()),
        Err(_) => {
            let mut work = shared.work.lock().unwrap_or_else(PoisonError::into_inner);
            Err(work.jobs.pop_back().expect("the job just queued"))
        }
    }
}

fn serve(shared: &Connectors) {
    let mut work = shared.work.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(job) = work.jobs.pop_front() {
            drop(work);
            // A job catches its own panics (see `run_until`).
            job();
            work = shared.work.lock().unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        work.idle += 1;
        let (next, waited) = shared
            .arrived
            .wait_timeout(work, IDLE_EXIT)
            .unwrap_or_else(PoisonError::into_inner);
        work = next;
        work.idle -= 1;
        if waited.timed_out() && work.jobs.is_empty() {
            return;
        }
    }
}

/// What becomes of a job's outcome once its caller gave up.
pub(super) type Leftover<T> = Box<dyn FnOnce(Result<T, Panic>) + Send>;

/// Where a job's outcome meets its caller, or, once the caller gave up, what to do with it.
struct Handoff<T> {
    outcome: Option<Result<T, Panic>>,
    /// Set by a caller that gave up: called with the outcome when it arrives.
    abandoned: Option<Leftover<T>>,
}

/// Runs `job` on a connector thread, in the place `permit` holds in its pool's gate, and
/// waits for it until `deadline`. `Ok(outcome)` when it returned in time (a panic in it
/// carries on here). At the deadline, `give_up` is called to say what becomes of the outcome
/// when it arrives, and `Err(())` is returned. Without a connector thread, `job` runs here,
/// unbounded.
pub(super) fn run_until<T: Send + 'static>(
    permit: Permit,
    job: impl FnOnce() -> T + Send + 'static,
    deadline: Instant,
    give_up: impl FnOnce() -> Leftover<T>,
) -> Result<T, ()> {
    let meeting = Arc::new((
        Mutex::new(Handoff {
            outcome: None,
            abandoned: None,
        }),
        Condvar::new(),
    ));
    let theirs = Arc::clone(&meeting);
    let job: Job = Box::new(move || {
        let outcome = catching(job);
        // The pool's place is free once the job returned, before its leftover runs.
        drop(permit);
        let (handoff, returned) = &*theirs;
        let mut handoff = handoff.lock().unwrap_or_else(PoisonError::into_inner);
        match handoff.abandoned.take() {
            Some(abandoned) => {
                drop(handoff);
                let _ = catching(|| abandoned(outcome));
            }
            None => {
                handoff.outcome = Some(outcome);
                returned.notify_one();
            }
        }
    });
    if let Err(job) = spawn(job) {
        job();
    }
    let (handoff, returned) = &*meeting;
    let mut handoff = handoff.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(outcome) = handoff.outcome.take() {
            return outcome.map_err(|panic| std::panic::resume_unwind(panic));
        }
        let now = Instant::now();
        if now >= deadline {
            handoff.abandoned = Some(give_up());
            return Err(());
        }
        handoff = returned
            .wait_timeout(handoff, deadline - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}
