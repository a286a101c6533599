//! Model check of the accounting core with loom: every interleaving of concurrent checkout,
//! return, invalidation and abandoned waits (the timeout path), on the real core code.
//!
//! Run: `RUSTFLAGS="--cfg poolscope_loom" cargo test --release --lib loom_model`
//!
//! Under loom a waiting thread wakes only when notified (loom's condvar has no timeout), so a
//! lost wakeup is reported as a deadlock.

use std::sync::Arc;

use loom::thread;

use super::{Begin, Checked, Core, Step};
use crate::clock::SystemClock;
use crate::config::{FrontEnd, Options};
use crate::events::Listeners;
use crate::owner::Owner;
use crate::record::InvalidateReason;

fn core(pool_size: usize, max_overflow: i64, wait: bool) -> Arc<Core<u32>> {
    let options = Options {
        pool_size: Some(pool_size),
        max_overflow: Some(max_overflow),
        timeout: Some(if wait {
            None
        } else {
            Some(std::time::Duration::ZERO)
        }),
        reset_on_return: crate::ResetOnReturn::None,
        ..Options::default()
    };
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(SystemClock);
    Core::build(
        &options,
        FrontEnd::Blocking,
        false,
        &Listeners::default(),
        &clock,
        &crate::instrument::InstrumentOptions::default(),
    )
    .unwrap()
}

fn drive(mut reservation: super::Reservation<'_, u32>) -> Checked<u32> {
    loop {
        match reservation.next_step() {
            Step::Connect => reservation
                .connected(7, super::first_connect::Turn::Passed)
                .unwrap(),
            Step::Ready => return reservation.finish(None),
            other => panic!("unexpected step {other:?}"),
        }
    }
}

/// Checks out, waiting (without deadline) when the class says so; `None` when refused.
fn checkout(core: &Arc<Core<u32>>) -> Option<Checked<u32>> {
    let site = core.site(std::panic::Location::caller(), Owner::current_thread);
    match core.begin(&site, core.config.timeout, || None) {
        Begin::Reserved(r) => Some(drive(r)),
        Begin::Wait(waiter) => match core.wait_blocking(&waiter, None) {
            super::checkout::Waited::Granted(grant) => {
                Some(drive(core.reservation_for(&waiter, grant)))
            }
            _ => panic!("a wait without deadline ended without a grant"),
        },
        Begin::Refused(_) => None,
    }
}

fn checkin(core: &Core<u32>, checked: Checked<u32>) {
    core.end_return(checked, None);
}

/// A one-slot pool whose connection is out, a checkout waiting for it, and a thread
/// returning it (racing whatever the caller does next with the waiter).
fn a_waiter_and_a_return_racing() -> (
    Arc<Core<u32>>,
    Arc<super::Waiter<u32>>,
    thread::JoinHandle<()>,
) {
    let core = core(1, 0, true);
    let held = checkout(&core).unwrap();
    let site = core.site(std::panic::Location::caller(), Owner::current_thread);
    let Begin::Wait(waiter) = core.begin(&site, core.config.timeout, || None) else {
        panic!("the only slot is out: the checkout must wait");
    };
    let giver = {
        let core = Arc::clone(&core);
        thread::spawn(move || checkin(&core, held))
    };
    (core, waiter, giver)
}

/// A one-slot pool whose connection is out, and a thread that checks out (waiting) and
/// returns.
fn one_slot_out_and_a_thread_waiting() -> (Arc<Core<u32>>, Checked<u32>, thread::JoinHandle<()>) {
    let core = core(1, 0, true);
    let held = checkout(&core).unwrap();
    let waiter = {
        let core = Arc::clone(&core);
        thread::spawn(move || {
            let c = checkout(&core).unwrap();
            checkin(&core, c);
        })
    };
    (core, held, waiter)
}

fn assert_whole(core: &Core<u32>, idle: usize) {
    let s = core.status();
    assert_eq!(
        (s.checked_out, s.waiting, s.checked_in),
        (0, 0, idle),
        "{s}"
    );
}

#[test]
fn two_threads_share_one_slot_without_lost_wakeups() {
    loom::model(|| {
        let core = core(1, 0, true);
        let others: Vec<_> = (0..2)
            .map(|_| {
                let core = Arc::clone(&core);
                thread::spawn(move || {
                    let c = checkout(&core).unwrap();
                    checkin(&core, c);
                })
            })
            .collect();
        for t in others {
            t.join().unwrap();
        }
        assert_whole(&core, 1);
    });
}

#[test]
fn invalidation_hands_capacity_to_a_waiter() {
    loom::model(|| {
        let (core, held, waiter) = one_slot_out_and_a_thread_waiting();
        core.invalidate(held, InvalidateReason::Requested, None);
        waiter.join().unwrap();
        assert_whole(&core, 1);
    });
}

#[test]
fn an_abandoned_wait_racing_a_return_loses_nothing() {
    loom::model(|| {
        let (core, waiter, giver) = a_waiter_and_a_return_racing();
        // The timeout fires now: the waiter gives up, racing the return.
        if let Some(reservation) = core.cancel_wait(&waiter, true) {
            let c = drive(reservation);
            checkin(&core, c);
        }
        giver.join().unwrap();
        assert_whole(&core, 1);
    });
}

#[test]
fn two_returns_back_to_back_serve_two_waiters() {
    loom::model(|| {
        let core = core(1, 1, true);
        let a = checkout(&core).unwrap();
        let b = checkout(&core).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let core = Arc::clone(&core);
                // Each keeps what it gets until both are served: the second can only be
                // served by the second return (a lost wake-up is a loom deadlock).
                thread::spawn(move || checkout(&core).unwrap())
            })
            .collect();
        checkin(&core, a);
        checkin(&core, b);
        let served: Vec<_> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        for c in served {
            checkin(&core, c);
        }
        let s = core.status();
        assert_eq!((s.checked_out, s.waiting), (0, 0), "{s}");
        assert_eq!(core.missed_wakeups(), 0);
    });
}

#[test]
fn dispose_hands_the_freed_capacity_to_a_waiter() {
    loom::model(|| {
        let (core, held, waiter) = one_slot_out_and_a_thread_waiting();
        checkin(&core, held);
        core.dispose();
        waiter.join().unwrap();
        let s = core.status();
        assert_eq!((s.checked_out, s.waiting), (0, 0), "{s}");
        assert!(s.checked_in <= 1, "{s}");
    });
}

#[test]
fn a_grant_to_a_cancelled_waiter_goes_back_with_its_connection() {
    loom::model(|| {
        let (core, waiter, giver) = a_waiter_and_a_return_racing();
        // The waiting future is dropped now, racing the return: a grant that reached it
        // goes back to the pool with its connection, not closed.
        drop(core.cancel_wait(&waiter, false));
        giver.join().unwrap();
        assert_whole(&core, 1);
        let again = checkout(&core).unwrap();
        assert_eq!(again.conn, 7, "the same connection, still open");
        checkin(&core, again);
    });
}

#[test]
fn overflow_never_exceeds_its_limit() {
    loom::model(|| {
        let core = core(1, 1, false);
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let core = Arc::clone(&core);
                thread::spawn(move || {
                    if let Some(c) = checkout(&core) {
                        assert!(core.status().overflow <= 1);
                        checkin(&core, c);
                    }
                })
            })
            .collect();
        for t in workers {
            t.join().unwrap();
        }
        let s = core.status();
        assert_eq!((s.checked_out, s.waiting), (0, 0));
        assert!(
            s.checked_in <= 1,
            "overflow connections are closed on return"
        );
    });
}
