//! QueuePool lets a running caller take a returned connection ahead of sleeping waiters (no
//! wake-up on the connection's path), but a waiter kept waiting 50 ms is handed the next
//! return directly, so a caller hammering the pool cannot starve it. (The rule itself is
//! unit-tested in `policy`.)
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fake_reset, Db};
use poolscope::Pool;

#[test]
fn a_waiter_is_served_while_another_thread_checks_out_in_a_tight_loop() {
    let db = Db::new();
    let pool = Pool::builder()
        .pool_size(1)
        .max_overflow(0)
        .pool_timeout(Duration::from_secs(10))
        .reset_with(fake_reset)
        .build(db.manager())
        .unwrap();
    drop(pool.get().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let (pool, stop) = (pool.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let conn = pool.get().unwrap();
                std::hint::black_box(&conn);
                drop(conn);
                rounds += 1;
            }
            rounds
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    let started = Instant::now();
    let conn = pool.get().unwrap();
    let waited = started.elapsed();
    drop(conn);
    stop.store(true, Ordering::Relaxed);
    let rounds = hammer.join().unwrap();
    assert!(rounds > 0);
    assert!(
        waited < Duration::from_secs(2),
        "the waiter was starved for {waited:?} (bound: 50 ms plus scheduling)"
    );
}

#[test]
fn a_waiter_kept_past_the_bound_is_handed_the_return_directly() {
    let db = Db::new();
    let pool = Pool::builder()
        .pool_size(1)
        .max_overflow(0)
        .reset_with(fake_reset)
        .build(db.manager())
        .unwrap();
    let held = pool.get().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let conn = pool.get()?;
            let _ = released.recv(); // holds it until the test has looked
            Ok::<_, poolscope::Error<common::FakeError>>(conn.id)
        })
    };
    while pool.status().waiting == 0 {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(80)); // past the 50 ms bound
    drop(held);
    // Handed over inside the return: nothing idle for anyone else to take.
    let status = pool.status();
    assert_eq!(
        (status.checked_in, status.checked_out),
        (0, 1),
        "{status:?}"
    );
    drop(release);
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
    assert_eq!(pool.status().checked_in, 1);
}
