//! While connects fail (`src/core/connects.rs`), the pool keeps its capacity, its callers'
//! deadlines and its waiters: a probe abandoned by its caller costs the timer thread no CPU,
//! a caller waiting for a returned connection is not failed by someone else's connect, a
//! panic in the driver's error text gives the slot and the probe back, a refusal for
//! capacity does not restart `pool_timeout`, NullPool (no `pool_timeout`) fails a refusal
//! at once; and the probe is cleared however its caller goes away, counts stay whole for
//! every class, and `wait_for_server_capacity(false)` fails at once.
//! Each test uses its own small scripted manager (a connect that fails with a given text,
//! waits, or panics).

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use poolscope::{Error, Pool, Refusal, ResetOnReturn};

// ---------------------------------------------------------------- a scripted server

#[derive(Debug)]
struct E(String);
impl fmt::Display for E {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for E {}

#[derive(Default)]
struct Script {
    /// Connects fail with this text while set.
    fail: Mutex<Option<String>>,
    /// The next connect fails with this text.
    fail_next: Mutex<Option<String>>,
    /// Each connect sleeps this long first.
    delay_ms: AtomicU64,
    /// Connects block here while `held` is true.
    held: Mutex<bool>,
    released: Condvar,
    /// Connects that entered (started).
    entered: AtomicUsize,
    connects: AtomicUsize,
    /// The next connect panics.
    panic_next: std::sync::atomic::AtomicBool,
}

impl Script {
    fn hold(&self) {
        *self.held.lock().unwrap() = true;
    }
    fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }
    fn fail_with(&self, text: Option<&str>) {
        *self.fail.lock().unwrap() = text.map(str::to_owned);
    }
    fn fail_next(&self, text: &str) {
        *self.fail_next.lock().unwrap() = Some(text.to_owned());
    }
    fn connect(&self) -> Result<(), E> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        drop(held);
        if self.panic_next.swap(false, Ordering::SeqCst) {
            panic!("connect panicked");
        }
        if let Some(text) = self.fail_next.lock().unwrap().take() {
            return Err(E(text));
        }
        if let Some(text) = self.fail.lock().unwrap().clone() {
            return Err(E(text));
        }
        self.connects.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn until_entered(&self, n: usize) {
        let give_up = Instant::now() + Duration::from_secs(5);
        while self.entered.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < give_up, "connect never entered");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[derive(Clone, Default)]
struct M(Arc<Script>);

impl r2d2::ManageConnection for M {
    type Connection = ();
    type Error = E;
    fn connect(&self) -> Result<(), E> {
        self.0.connect()
    }
    fn is_valid(&self, _: &mut ()) -> Result<(), E> {
        Ok(())
    }
    fn has_broken(&self, _: &mut ()) -> bool {
        false
    }
}

impl bb8::ManageConnection for M {
    type Connection = ();
    type Error = E;
    async fn connect(&self) -> Result<(), E> {
        let script = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || script.connect())
            .await
            .unwrap()
    }
    async fn is_valid(&self, _: &mut ()) -> Result<(), E> {
        Ok(())
    }
    fn has_broken(&self, _: &mut ()) -> bool {
        false
    }
}

fn blocking(m: &M, size: usize, overflow: i64, timeout: Option<Duration>) -> Pool<M> {
    Pool::builder()
        .pool_size(size)
        .max_overflow(overflow)
        .pool_timeout(timeout)
        .reset_on_return(ResetOnReturn::None)
        .build(m.clone())
        .unwrap()
}

fn until(what: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(5);
    while !what() {
        assert!(Instant::now() < give_up, "never happened");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------- the timer thread

/// CPU time (ms) of the process's `poolscope-timer` thread, from /proc.
fn timer_thread_cpu_ms() -> u64 {
    let ticks_per_s = 100; // USER_HZ on Linux
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "poolscope-timer" {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            let f: Vec<&str> = after.split(' ').collect();
            // fields 14 and 15 (utime, stime) are at 11, 12 after the state field (3).
            let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
            return ticks * 1000 / ticks_per_s;
        }
    }
    panic!("no poolscope-timer thread");
}

/// Connects fail (failing state), then the probe's connect hangs past `pool_timeout` and is
/// abandoned on its connector thread: `Reservation::drop` clears the probe (probe_gone) while
/// the abandoned job keeps the slot. A caller waits at capacity. The alarm is set for the
/// next probe, which is in the past and which nobody can take (the pool is at its limit); an
/// alarm set again for that past instant each time it rang had the timer thread spin on the
/// pool's lock (800-960 ms of CPU a second) until the hanging connect returned.
#[test]
fn an_abandoned_probe_costs_the_timer_thread_no_cpu() {
    let m = M::default();
    let pool = blocking(&m, 1, 0, Some(Duration::from_millis(300)));
    m.0.fail_with(Some("Connection refused (os error 111)"));
    assert!(matches!(pool.get(), Err(Error::Connect(_))));
    std::thread::sleep(Duration::from_millis(20)); // the back-off is over
    m.0.fail_with(None);
    m.0.delay_ms.store(2_000, Ordering::SeqCst); // the next connect hangs 2 s, then works
    std::thread::scope(|s| {
        let probe = s.spawn(|| pool.get().map(drop));
        m.0.until_entered(2);
        let waiter = s.spawn(|| pool.get_timeout(Duration::from_secs(5)).map(drop));
        until(|| pool.status().waiting == 1);
        // The probe is abandoned at its 300 ms deadline.
        assert!(matches!(
            probe.join().unwrap(),
            Err(Error::ConnectTimeout(_))
        ));
        std::thread::sleep(Duration::from_millis(50));
        let before = timer_thread_cpu_ms();
        std::thread::sleep(Duration::from_millis(1_000));
        let spent = timer_thread_cpu_ms() - before;
        m.0.delay_ms.store(0, Ordering::SeqCst);
        let served = waiter.join().unwrap();
        eprintln!("timer thread CPU over 1 s of waiting: {spent} ms; waiter: {served:?}");
        assert!(
            spent < 100,
            "the timer thread burned {spent} ms of CPU in 1 s while one caller waited"
        );
    });
}

// ---------------------------------------------------------------- a waiter for a return

/// Connects work. The pool is at its limit (2): one connection checked out, one being
/// opened. A caller queues for a returned connection. The connect fails (the server refused
/// that one connect): its error is not the waiter's, who waited for a returned connection,
/// not for a connect (it used to get it at once). The waiter is then first for the freed
/// capacity: after the back-off it connects itself (the server takes it), or a connection
/// comes back 100 ms later; either serves it.
#[test]
fn a_waiter_for_a_returned_connection_keeps_waiting_when_a_connect_fails_blocking() {
    let m = M::default();
    let pool = blocking(&m, 2, 0, Some(Duration::from_secs(5)));
    let held = pool.get().unwrap();
    m.0.hold();
    m.0.fail_next("FATAL: password authentication failed for user \"app\"");
    std::thread::scope(|s| {
        let opener = s.spawn(|| pool.get().map(drop));
        m.0.until_entered(2);
        let waiter = s.spawn(|| {
            let asked = Instant::now();
            let got = pool.get().map(drop);
            (got, asked.elapsed())
        });
        until(|| pool.status().waiting == 1);
        m.0.release(); // the opener's connect fails
        assert!(matches!(opener.join().unwrap(), Err(Error::Connect(_))));
        std::thread::sleep(Duration::from_millis(100));
        drop(held); // a healthy connection comes back for the waiter
        let (got, took) = waiter.join().unwrap();
        assert!(
            got.is_ok(),
            "the waiter was waiting for a returned connection, got {:?} after {took:?}",
            got.map_err(|e| e.to_string())
        );
    });
}

#[test]
fn a_waiter_for_a_returned_connection_keeps_waiting_when_a_connect_fails_async() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = M::default();
        let pool = poolscope::AsyncPool::builder()
            .pool_size(2)
            .max_overflow(0)
            .pool_timeout(Duration::from_secs(5))
            .reset_on_return(ResetOnReturn::None)
            .build(m.clone())
            .await
            .unwrap();
        let held = pool.get().await.unwrap();
        m.0.hold();
        m.0.fail_next("FATAL: password authentication failed for user \"app\"");
        let p = pool.clone();
        let opener = tokio::spawn(async move { p.get().await.map(drop) });
        m.0.until_entered(2);
        let p = pool.clone();
        let waiter = tokio::spawn(async move { p.get().await.map(drop) });
        while pool.status().waiting < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        m.0.release();
        assert!(matches!(opener.await.unwrap(), Err(Error::Connect(_))));
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        let got = waiter.await.unwrap();
        assert!(
            got.is_ok(),
            "the waiter was waiting for a returned connection, got {:?}",
            got.map_err(|e| e.to_string())
        );
    });
}

// ---------------------------------------------------------------- pool_timeout bounds the checkout

/// `pool_timeout` bounds the whole checkout, waiting and connecting, on both fronts. A
/// connect that takes 0.8 s and is refused for capacity, `pool_timeout` 1 s: the wait that
/// follows ends at the checkout's deadline, about 1 s after it began (it used to start a
/// fresh `pool_timeout`: 1.8 s). The bound, 1.4 s, leaves 0.4 s either side for a busy
/// machine.
#[test]
fn a_refusal_for_capacity_does_not_restart_the_pool_timeout() {
    let timeout = Duration::from_secs(1);
    let bound = Duration::from_millis(1_400);
    let m = M::default();
    m.0.delay_ms.store(800, Ordering::SeqCst);
    m.0.fail_with(Some("FATAL: sorry, too many clients already"));
    let pool = blocking(&m, 1, 0, Some(timeout));
    let asked = Instant::now();
    let got = pool.get().map(drop);
    let took = asked.elapsed();
    eprintln!(
        "blocking: {:?} after {took:?}",
        got.as_ref().map_err(|e| e.to_string())
    );
    assert!(got.is_err());
    assert!(
        took < bound,
        "blocking: pool_timeout 1 s, the checkout took {took:?}"
    );

    rt().block_on(async {
        let pool = async_pool(&m, 1, timeout).await;
        let asked = Instant::now();
        let got = pool.get().await.map(drop);
        let took = asked.elapsed();
        eprintln!(
            "async: {:?} after {took:?}",
            got.as_ref().map_err(|e| e.to_string())
        );
        assert!(got.is_err());
        assert!(
            took < bound,
            "async: pool_timeout 1 s, the checkout took {took:?}"
        );
    });
}

// ---------------------------------------------------------------- a probe always cleared

#[derive(Debug)]
struct Panicky(bool);
impl fmt::Display for Panicky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 {
            panic!("the driver's Display panicked")
        }
        f.write_str("Connection refused")
    }
}
impl std::error::Error for Panicky {}

/// Connects: 0 fails plainly, 1 fails with an error whose Display panics, then they work.
#[derive(Clone, Default)]
struct PanickyM(Arc<AtomicUsize>);
impl r2d2::ManageConnection for PanickyM {
    type Connection = ();
    type Error = Panicky;
    fn connect(&self) -> Result<(), Panicky> {
        match self.0.fetch_add(1, Ordering::SeqCst) {
            0 => Err(Panicky(false)),
            1 => Err(Panicky(true)),
            _ => Ok(()),
        }
    }
    fn is_valid(&self, _: &mut ()) -> Result<(), Panicky> {
        Ok(())
    }
    fn has_broken(&self, _: &mut ()) -> bool {
        false
    }
}

/// `Reservation::connect_failed` calls `describe()` (user code: the error's Display) while
/// the reservation still holds its slot and its probe: if it panics, the dropped reservation
/// gives both back. (It used to take them out first: the slot's capacity was lost and the
/// probe never ended, so every later caller timed out while the server was fine.)
#[test]
fn a_panic_while_describing_the_connect_error_gives_back_the_slot_and_the_probe() {
    let m = PanickyM::default();
    let pool = Pool::builder()
        .pool_size(2)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(500))
        .reset_on_return(ResetOnReturn::None)
        .classify_connect_errors(|_| Refusal::Unreachable)
        .build(m.clone())
        .unwrap();
    assert!(matches!(pool.get(), Err(Error::Connect(_)))); // failing state
    std::thread::sleep(Duration::from_millis(20)); // back-off over: the next is the probe
    let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.get().map(drop)));
    assert!(probe.is_err(), "describe() panicked in the probe's failure");
    eprintln!("after the panic: {}", pool.status());
    std::thread::sleep(Duration::from_millis(20));
    // The server is fine now.
    let asked = Instant::now();
    let next = pool.get().map(drop);
    let status = pool.status();
    eprintln!(
        "then, after {:?}: {:?}; {status}",
        asked.elapsed(),
        next.as_ref().map_err(|e| e.to_string())
    );
    assert_eq!(status.checked_out, 0, "a slot leaked: {status}");
    assert!(
        next.is_ok(),
        "the server is fine: {:?}",
        next.map_err(|e| e.to_string())
    );
}

// ---------------------------------------------------------------- every way a probe ends

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn async_pool(m: &M, size: usize, timeout: Duration) -> poolscope::AsyncPool<M> {
    poolscope::AsyncPool::builder()
        .pool_size(size)
        .max_overflow(0)
        .pool_timeout(timeout)
        .reset_on_return(ResetOnReturn::None)
        .build(m.clone())
        .await
        .unwrap()
}

/// Failing; the probe's future is dropped mid-connect (tokio::time::timeout), a panicking
/// probe, a probe bounded by pool_timeout: each time the waiter behind is served at once
/// once the server answers.
#[test]
fn a_probe_cancelled_panicked_or_timed_out_is_cleared_async() {
    rt().block_on(async {
        let m = M::default();
        let pool = async_pool(&m, 2, Duration::from_millis(400)).await;
        for how in ["cancelled", "panicked"] {
            pool.dispose(); // no idle connection: the next checkout connects
            m.0.fail_with(Some("Connection refused"));
            assert!(pool.get().await.is_err());
            tokio::time::sleep(Duration::from_millis(600)).await; // any back-off is over
            m.0.fail_with(None);
            let entered = m.0.entered.load(Ordering::SeqCst);
            match how {
                "cancelled" => m.0.hold(),
                "panicked" => {
                    m.0.hold();
                    m.0.panic_next.store(true, Ordering::SeqCst)
                }
                _ => m.0.delay_ms.store(600, Ordering::SeqCst),
            }
            let p = pool.clone();
            let probe = tokio::spawn(async move {
                tokio::time::timeout(Duration::from_millis(100), p.get())
                    .await
                    .map(|r| r.map(drop))
            });
            m.0.until_entered(entered + 1);
            let p = pool.clone();
            let waiter = tokio::spawn(async move {
                let asked = Instant::now();
                (p.get().await.map(drop), asked.elapsed())
            });
            while pool.status().waiting < 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if how == "panicked" {
                m.0.release();
                assert!(probe.await.unwrap_err().is_panic());
            } else {
                let _ = probe.await;
                m.0.delay_ms.store(0, Ordering::SeqCst);
                m.0.release();
            }
            let (got, took) = waiter.await.unwrap();
            eprintln!(
                "{how}: waiter {:?} after {took:?}",
                got.as_ref().map_err(|e| e.to_string())
            );
            assert!(got.is_ok(), "{how}");
            let status = pool.status();
            assert_eq!(
                (status.checked_out, status.waiting),
                (0, 0),
                "{how}: {status}"
            );
        }
        // A probe whose connect outlives pool_timeout: the next caller probes and is served.
        pool.dispose();
        m.0.fail_with(Some("Connection refused"));
        assert!(pool.get().await.is_err());
        tokio::time::sleep(Duration::from_millis(600)).await;
        m.0.fail_with(None);
        m.0.delay_ms.store(600, Ordering::SeqCst);
        assert!(matches!(pool.get().await, Err(Error::ConnectTimeout(_))));
        m.0.delay_ms.store(0, Ordering::SeqCst);
        assert!(pool.get().await.is_ok());
    });
}

/// Counts after failed connects, every class; the failing state ends once the server is back;
/// wait_for_server_capacity(false) fails a refusal at once.
#[test]
fn counts_stay_whole_and_connects_recover_for_every_class() {
    use poolscope::PoolClass;
    for class in [
        PoolClass::Queue,
        PoolClass::Null,
        PoolClass::Static,
        PoolClass::SingletonThread,
        PoolClass::Assertion,
    ] {
        let m = M::default();
        let timeout = matches!(class, PoolClass::Queue | PoolClass::Static)
            .then_some(Duration::from_millis(300));
        let mut builder = Pool::builder().pool_class(class);
        if let Some(timeout) = timeout {
            builder = builder.pool_timeout(timeout);
        }
        let pool = builder
            .reset_on_return(ResetOnReturn::None)
            .build(m.clone())
            .unwrap();
        for text in [
            "Connection refused",
            "FATAL: sorry, too many clients already",
        ] {
            m.0.fail_with(Some(text));
            let _ = pool.get().map(drop);
            let status = pool.status();
            assert_eq!(status.checked_out, 0, "{class:?} {text}: {status}");
            assert!(status.overflow <= 0, "{class:?}: {status}");
        }
        m.0.fail_with(None);
        std::thread::sleep(Duration::from_millis(60));
        let conn = pool.get().expect("the server is back");
        drop(conn);
        let status = pool.status();
        assert_eq!(status.checked_out, 0, "{class:?}: {status}");
    }
    let m = M::default();
    let pool = Pool::builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_secs(5))
        .wait_for_server_capacity(false)
        .reset_on_return(ResetOnReturn::None)
        .build(m.clone())
        .unwrap();
    m.0.fail_with(Some("FATAL: sorry, too many clients already"));
    // At once: within the back-off's 50 ms and the probe's connect, far from pool_timeout's
    // 5 s (1 s leaves room for a busy machine).
    for _ in 0..5 {
        let asked = Instant::now();
        assert!(pool.get().is_err());
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
    }
}

/// NullPool has no `pool_timeout` (the builder refuses one): a connect refused for capacity
/// fails at once, as in SQLAlchemy (it used to wait for the hidden default of 30 s, and then
/// said "NullPool connection is checked out elsewhere").
#[test]
fn null_pool_fails_a_refusal_for_capacity_at_once() {
    let m = M::default();
    let pool = Pool::builder()
        .pool_class(poolscope::PoolClass::Null)
        .reset_on_return(ResetOnReturn::None)
        .build(m.clone())
        .unwrap();
    m.0.fail_with(Some("FATAL: sorry, too many clients already"));
    let asked = Instant::now();
    let got = pool.get().map(drop).map_err(|e| e.to_string());
    let took = asked.elapsed();
    eprintln!("{got:?} after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "NullPool, no pool_timeout settable: waited {took:?}"
    );
}
