//! The async pool on every kind of runtime a caller may be on: a multi-thread runtime, a
//! current-thread runtime, a runtime without Tokio's time driver (each flavour), a runtime
//! shut down, a runtime alive but not driven (a current-thread runtime used as a `block_on`
//! bridge, between calls), and no runtime at all (a plain executor). In each, every cell works
//! or fails with a clear error, never a hang nor a panic (out of `Drop` least of all):
//!
//! | cell | what must happen |
//! |---|---|
//! | a `get` that waits | times out at `pool_timeout` with QueuePool's error; waiters on *other* runtimes still time out afterwards |
//! | a `get` that waits and is served | gets the returned connection |
//! | a connect that hangs | `ConnectTimeout` at `pool_timeout` |
//! | a pre-ping that hangs | `ConnectTimeout` at `pool_timeout`; the connection is closed |
//! | a guard dropped (its reset awaits the server) | no panic; the connection is reset and kept where a runtime runs the reset, closed where none can |
//! | a reset that hangs | closed at `reset_timeout` wherever the reset runs |
//! | `dispose` | the idle connection is closed |
//! | the pool dropped | its connections are closed |
//!
//! Each cell runs on a thread of its own with a watchdog, so a hang fails the test with the
//! cell's name instead of hanging the suite.
mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use common::{Db, FakeAsyncReset, FakeManager};
use poolscope::{AsyncPool, Error};

type Pool = AsyncPool<FakeManager>;

const TIMEOUT: Duration = Duration::from_millis(200);
/// How much later than its deadline a give-up may come on a busy 2-core machine.
const SLACK: Duration = Duration::from_secs(3);
/// A cell that has not finished by then hangs.
const WATCHDOG: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    MultiThread,
    CurrentThread,
    CurrentThreadWithoutTime,
    MultiThreadWithoutTime,
    ShutDown,
    AliveNotDriven,
    NoRuntime,
}

/// Where a cell runs its futures.
struct Place {
    kind: Kind,
    runtime: Option<tokio::runtime::Runtime>,
    /// For `ShutDown`: the handle of a runtime that is gone.
    handle: Option<tokio::runtime::Handle>,
}

impl Place {
    fn new(kind: Kind) -> Place {
        let runtime = match kind {
            Kind::MultiThread => Some(multi_thread().enable_all().build().unwrap()),
            Kind::CurrentThread | Kind::AliveNotDriven | Kind::ShutDown => Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap(),
            ),
            Kind::CurrentThreadWithoutTime => Some(
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap(),
            ),
            Kind::MultiThreadWithoutTime => Some(multi_thread().build().unwrap()),
            Kind::NoRuntime => None,
        };
        if kind == Kind::ShutDown {
            let runtime = runtime.unwrap();
            let handle = runtime.handle().clone();
            runtime.shutdown_timeout(Duration::from_secs(1));
            return Place {
                kind,
                runtime: None,
                handle: Some(handle),
            };
        }
        Place {
            kind,
            runtime,
            handle: None,
        }
    }

    /// Runs `future` to its end here: driven by the runtime where there is one that runs,
    /// else polled by a plain executor inside the runtime's context (shut down, not driven)
    /// or outside any.
    fn run<T>(&self, future: impl Future<Output = T>) -> T {
        match (self.kind, &self.runtime, &self.handle) {
            (Kind::AliveNotDriven, Some(runtime), _) => {
                let _in = runtime.enter();
                block_on(future)
            }
            (_, Some(runtime), _) => runtime.block_on(future),
            (_, None, Some(handle)) => {
                let _in = handle.enter();
                block_on(future)
            }
            (_, None, None) => block_on(future),
        }
    }

    /// Whether a reset left pending by a dropped guard can finish here (a runtime that runs
    /// its tasks), or the connection is closed (no runtime, or one shut down).
    fn runs_spawned_resets(&self) -> bool {
        !matches!(self.kind, Kind::ShutDown | Kind::NoRuntime)
    }

    /// Lets a runtime that only runs its tasks inside `block_on` (a current-thread runtime,
    /// or one alive but not driven until now) run them for `period`, with no Tokio timer.
    fn drive_for(&self, period: Duration) {
        if let Some(runtime) = &self.runtime {
            let (done, over) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                std::thread::sleep(period);
                let _ = done.send(());
            });
            let _ = runtime.block_on(over);
        }
    }
}

fn multi_thread() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(1);
    builder
}

/// A plain executor: polls `future` on this thread, parking between wake-ups.
fn block_on<T>(future: impl Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// A healthy runtime that lives as long as the test binary, on which nothing of the cell's
/// runs: the pools are built there, and connections set up or returned there have their
/// resets finished there.
fn elsewhere<T>(future: impl Future<Output = T>) -> T {
    static HEALTHY: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    HEALTHY
        .get_or_init(|| multi_thread().enable_all().build().unwrap())
        .block_on(future)
}

fn pool(db: &Db) -> Pool {
    elsewhere(
        AsyncPool::builder()
            .reset_with(FakeAsyncReset)
            .pool_size(1)
            .max_overflow(0)
            .pool_timeout(TIMEOUT)
            .reset_timeout(TIMEOUT)
            .build(db.manager()),
    )
    .unwrap()
}

/// Waits until `pool` says `what`, up to the slack.
fn settles(pool: &Pool, what: impl Fn(&poolscope::Status) -> bool) -> poolscope::Status {
    let give_up = Instant::now() + SLACK;
    loop {
        let status = pool.status();
        if what(&status) || Instant::now() > give_up {
            return status;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_gave_up_at_its_deadline(kind: Kind, what: &str, took: Duration) {
    assert!(
        took >= TIMEOUT && took < TIMEOUT + SLACK,
        "{kind:?}: {what} ended after {took:?}, not at its {TIMEOUT:?} deadline"
    );
}

fn waits_and_times_out(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    let held = elsewhere(pool.get()).unwrap();
    let asked = Instant::now();
    let got = place.run(pool.get());
    assert!(matches!(got, Err(Error::Timeout(_))), "{kind:?}: {got:?}");
    assert_gave_up_at_its_deadline(kind, "a waiting get", asked.elapsed());
    // The pool keeps every other waiter's deadline afterwards, on another runtime.
    let asked = Instant::now();
    let got = elsewhere(pool.get());
    assert!(matches!(got, Err(Error::Timeout(_))), "{kind:?}: {got:?}");
    assert_gave_up_at_its_deadline(kind, "the next waiter elsewhere", asked.elapsed());
    drop(held);
    // A waiter whose get is never polled again (a bridge runtime that gave up) keeps no
    // deadline for others: nothing of it is left in the pool.
    let status = settles(&pool, |s| s.waiting == 0);
    assert_eq!(status.waiting, 0, "{kind:?}: {status}");
}

fn waits_and_is_served(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    let held = elsewhere(pool.get()).unwrap();
    let returner = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        elsewhere(async move { drop(held) });
    });
    let got = place.run(async { pool.get().await.map(drop) });
    returner.join().unwrap();
    assert!(got.is_ok(), "{kind:?}: not served: {got:?}");
}

fn connect_hangs(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    db.hang_connects(true);
    let asked = Instant::now();
    let got = place.run(pool.get());
    assert!(
        matches!(got, Err(Error::ConnectTimeout(_))),
        "{kind:?}: {got:?}"
    );
    assert_gave_up_at_its_deadline(kind, "a hanging connect", asked.elapsed());
    db.hang_connects(false);
    assert_eq!(pool.status().checked_out, 0, "{kind:?}: the slot came back");
}

fn ping_hangs(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = elsewhere(
        AsyncPool::builder()
            .reset_with(FakeAsyncReset)
            .pool_size(1)
            .max_overflow(0)
            .pool_timeout(TIMEOUT)
            .pre_ping(true)
            .build(db.manager()),
    )
    .unwrap();
    elsewhere(async { drop(pool.get().await.unwrap()) });
    assert_eq!(settles(&pool, |s| s.checked_in == 1).checked_in, 1);
    db.hang_pings(true);
    let asked = Instant::now();
    let got = place.run(pool.get());
    assert!(
        matches!(got, Err(Error::ConnectTimeout(_))),
        "{kind:?}: {got:?}"
    );
    assert_gave_up_at_its_deadline(kind, "a hanging pre-ping", asked.elapsed());
    db.hang_pings(false);
    // Its slot stays in the pool, empty (SQLAlchemy's record without a connection).
    assert_eq!(pool.status().checked_out, 0, "{kind:?}");
    assert_eq!(
        db.live(),
        0,
        "{kind:?}: the connection whose ping hung is open"
    );
}

fn guard_dropped(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    let conn = place.run(pool.get()).unwrap();
    // Its reset awaits the server (it yields once), so it cannot finish inside `drop`.
    place.run(async move { drop(conn) });
    if place.runs_spawned_resets() {
        place.drive_for(Duration::from_millis(50));
        let status = settles(&pool, |s| s.checked_in == 1);
        assert_eq!(
            (status.checked_out, status.checked_in),
            (0, 1),
            "{kind:?}: {status}"
        );
        assert_eq!(db.closes(), 0, "{kind:?}: a healthy connection was closed");
    } else {
        let status = settles(&pool, |s| s.checked_out == 0);
        assert_eq!(status.checked_out, 0, "{kind:?}: {status}");
        assert_eq!(
            db.live(),
            0,
            "{kind:?}: with no runtime to finish its reset the connection is closed"
        );
    }
}

fn reset_hangs(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    let conn = place.run(pool.get()).unwrap();
    db.hang_resets(true);
    let dropped = Instant::now();
    place.run(async move { drop(conn) });
    place.drive_for(TIMEOUT + Duration::from_millis(300));
    let status = settles(&pool, |s| s.checked_out == 0);
    assert_eq!(status.checked_out, 0, "{kind:?}: {status}");
    assert!(dropped.elapsed() < TIMEOUT + SLACK, "{kind:?}");
    assert_eq!(
        db.live(),
        0,
        "{kind:?}: a reset that hangs closes its connection at reset_timeout"
    );
}

fn dispose(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    elsewhere(async { drop(pool.get().await.unwrap()) });
    assert_eq!(settles(&pool, |s| s.checked_in == 1).checked_in, 1);
    place.run(async { pool.dispose() });
    assert_eq!(pool.status().checked_in, 0, "{kind:?}");
    assert_eq!(db.live(), 0, "{kind:?}");
}

fn pool_dropped(kind: Kind) {
    let place = Place::new(kind);
    let db = Db::new();
    let pool = pool(&db);
    elsewhere(async { drop(pool.get().await.unwrap()) });
    assert_eq!(settles(&pool, |s| s.checked_in == 1).checked_in, 1);
    place.run(async move { drop(pool) });
    assert_eq!(
        db.live(),
        0,
        "{kind:?}: the dropped pool's connection is open"
    );
}

/// Runs every cell for `kind`, each on a thread with a watchdog; fails naming each cell that
/// failed or hung.
fn every_cell(kind: Kind) {
    type Cell = (&'static str, fn(Kind));
    let cells: [Cell; 8] = [
        ("a get that waits and times out", waits_and_times_out),
        ("a get that waits and is served", waits_and_is_served),
        ("a connect that hangs", connect_hangs),
        ("a pre-ping that hangs", ping_hangs),
        ("a guard dropped", guard_dropped),
        ("a reset that hangs", reset_hangs),
        ("dispose", dispose),
        ("the pool dropped", pool_dropped),
    ];
    let mut failed = Vec::new();
    for (name, cell) in cells {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| cell(kind));
            let _ = done.send(outcome.map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            }));
        });
        match finished.recv_timeout(WATCHDOG) {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => failed.push(format!("{name}: panicked: {panic}")),
            Err(_) => failed.push(format!("{name}: hung (no end after {WATCHDOG:?})")),
        }
    }
    assert!(failed.is_empty(), "{kind:?}:\n  {}", failed.join("\n  "));
}

#[test]
fn on_a_multi_thread_runtime() {
    every_cell(Kind::MultiThread);
}

#[test]
fn on_a_current_thread_runtime() {
    every_cell(Kind::CurrentThread);
}

#[test]
fn on_a_current_thread_runtime_without_the_time_driver() {
    every_cell(Kind::CurrentThreadWithoutTime);
}

#[test]
fn on_a_multi_thread_runtime_without_the_time_driver() {
    every_cell(Kind::MultiThreadWithoutTime);
}

#[test]
fn on_a_runtime_shut_down() {
    every_cell(Kind::ShutDown);
}

#[test]
fn on_a_runtime_alive_but_not_driven() {
    every_cell(Kind::AliveNotDriven);
}

#[test]
fn outside_any_runtime() {
    every_cell(Kind::NoRuntime);
}
