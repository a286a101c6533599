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
            Step::Connect => reservation.connected(7).unwrap(),
            Step::Ready => return reservation.finish(None),
            other => panic!("unexpected step {other:?}"),
        }
    }
}

/// Checks out, waiting (without deadline) when the class says so; `None` when refused.
fn checkout(core: &Arc<Core<u32>>) -> Option<Checked<u32>> {
    let site = core.site(std::panic::Location::caller(), Owner::current_thread);
    match core.begin(&site) {
        Begin::Reserved(r) => Some(drive(r)),
        Begin::Wait(waiter) => {
            let grant = core.wait_blocking(&waiter, None).expect("no deadline");
            Some(drive(core.reservation_for(&waiter, grant)))
        }
        Begin::Refused(_) => None,
    }
}

fn checkin(core: &Core<u32>, checked: Checked<u32>) {
    core.end_return(checked, None, Ok(()));
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
        let core = core(1, 0, true);
        let held = checkout(&core).unwrap();
        let waiter = {
            let core = Arc::clone(&core);
            thread::spawn(move || {
                let c = checkout(&core).unwrap();
                checkin(&core, c);
            })
        };
        core.invalidate(held, InvalidateReason::Requested);
        waiter.join().unwrap();
        assert_whole(&core, 1);
    });
}

#[test]
fn an_abandoned_wait_racing_a_return_loses_nothing() {
    loom::model(|| {
        let core = core(1, 0, true);
        let held = checkout(&core).unwrap();
        let site = core.site(std::panic::Location::caller(), Owner::current_thread);
        let Begin::Wait(waiter) = core.begin(&site) else {
            panic!("the only slot is out: the checkout must wait");
        };
        let giver = {
            let core = Arc::clone(&core);
            thread::spawn(move || checkin(&core, held))
        };
        // The timeout fires now: the waiter gives up, racing the return.
        if let Some(reservation) = core.cancel_wait(&waiter) {
            let c = drive(reservation);
            checkin(&core, c);
        }
        giver.join().unwrap();
        assert_whole(&core, 1);
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
