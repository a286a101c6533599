//! SQLAlchemy's `first_connect` event: it runs once per pool, on the first connection the
//! pool opens, before that connection's `connect` event, and connections opened meanwhile
//! wait for it; if it fails, the next new connection runs it again.
//!
//! No lock is held while the listener runs. The others wait at a gate: a thread sleeps on a
//! condvar, a task returns `Pending` with its waker kept, so a slow `first_connect` ties up
//! no async worker. A `first_connect` listener that checks out of its own pool (a nested
//! checkout by the thread or task running it) passes the gate instead of waiting for itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
#[cfg(feature = "tokio")]
use std::task::{Context, Poll};

use crate::owner::Owner;
#[cfg(feature = "blocking")]
use crate::sync::wait;
use crate::sync::{lock, Condvar, Mutex};

pub(crate) struct FirstConnect {
    /// Set once it ran successfully (or there is nobody to run it for): the fast path.
    done: AtomicBool,
    gate: Mutex<Gate>,
    passed: Condvar,
}

#[derive(Default)]
struct Gate {
    /// Who is running it now.
    runner: Option<Owner>,
    /// Tasks waiting for it to finish.
    wakers: Vec<Waker>,
}

/// What a new connection does about `first_connect`.
pub(crate) enum Turn<'a> {
    /// Nothing: it ran already (or this is a nested checkout by its runner).
    Passed,
    /// Run it: this connection is the first. Report success with [`RunIt::succeeded`].
    RunIt(RunIt<'a>),
}

/// The right (and duty) to run `first_connect`; dropped without [`succeeded`](Self::succeeded)
/// (it failed, or panicked), the next new connection runs it again.
pub(crate) struct RunIt<'a> {
    first: &'a FirstConnect,
    succeeded: bool,
}

impl FirstConnect {
    /// A gate; `done` when there is no listener to run.
    pub(crate) fn new(done: bool) -> Self {
        FirstConnect {
            done: AtomicBool::new(done),
            gate: Mutex::new(Gate::default()),
            passed: Condvar::new(),
        }
    }

    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Decides under the gate's lock, or says who to wait for (`None`).
    fn try_turn(&self, gate: &mut Gate, me: Owner) -> Option<Turn<'_>> {
        if self.is_done() {
            return Some(Turn::Passed);
        }
        match gate.runner {
            None => {
                gate.runner = Some(me);
                Some(Turn::RunIt(RunIt {
                    first: self,
                    succeeded: false,
                }))
            }
            Some(runner) if runner == me => Some(Turn::Passed),
            Some(_) => None,
        }
    }

    /// A thread's turn, sleeping while another runs it.
    #[cfg(feature = "blocking")]
    pub(crate) fn wait_turn(&self, me: Owner) -> Turn<'_> {
        if self.is_done() {
            return Turn::Passed;
        }
        let mut gate = lock(&self.gate);
        loop {
            if let Some(turn) = self.try_turn(&mut gate, me) {
                return turn;
            }
            gate = wait(&self.passed, gate);
        }
    }

    /// A task's turn: `Pending` while another runs it (the task is woken when it is over).
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_turn(&self, me: Owner, cx: &mut Context<'_>) -> Poll<Turn<'_>> {
        if self.is_done() {
            return Poll::Ready(Turn::Passed);
        }
        let mut gate = lock(&self.gate);
        if let Some(turn) = self.try_turn(&mut gate, me) {
            return Poll::Ready(turn);
        }
        if !gate.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            gate.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl RunIt<'_> {
    /// `first_connect` ran and succeeded: it never runs again.
    pub(crate) fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for RunIt<'_> {
    fn drop(&mut self) {
        let first = self.first;
        let wakers = {
            let mut gate = lock(&first.gate);
            gate.runner = None;
            if self.succeeded {
                first.done.store(true, Ordering::Release);
            }
            first.passed.notify_all();
            std::mem::take(&mut gate.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }
}
