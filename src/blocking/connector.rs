//! Connects that can outlive their caller. With a `pool_timeout`, the blocking pool opens
//! each connection on a connector thread and waits for it until the checkout's deadline at
//! most, as r2d2 opens its connections on threads of its own. A connect that hangs past the
//! deadline leaves its caller with [`ConnectTimeout`](crate::Error::ConnectTimeout) and its
//! slot with the connect: when the connect returns, the connection it opened (if any) is
//! closed and the slot freed. So the pool never counts fewer connections than are live or
//! being opened, and a hanging connect blocks nobody else.
//!
//! The threads are shared by every pool and reused: one is started when a connect finds
//! none idle, and an idle one exits after [`IDLE_EXIT`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::core::panics::{catching, Panic};

/// How long an idle connector thread waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(60);

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
            // A job catches its own panics (see `connect_until`).
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

/// What becomes of a connect's outcome once its caller gave up.
pub(super) type Leftover<T> = Box<dyn FnOnce(Result<T, Panic>) + Send>;

/// Where a connect's outcome meets its caller, or, once the caller gave up, what to do
/// with it.
struct Handoff<T> {
    outcome: Option<Result<T, Panic>>,
    /// Set by a caller that gave up: called with the outcome when it arrives.
    abandoned: Option<Leftover<T>>,
}

/// Runs `connect` on a connector thread and waits for it until `deadline`. `Ok(outcome)`
/// when it returned in time (a panic in it carries on here). At the deadline, `give_up` is
/// called to say what becomes of the outcome when it arrives, and `Err(())` is returned.
/// Without a connector thread, `connect` runs here, unbounded.
pub(super) fn connect_until<T: Send + 'static>(
    connect: impl FnOnce() -> T + Send + 'static,
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
        let outcome = catching(connect);
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
