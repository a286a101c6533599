//! User code — the manager, listeners, reset functions, recorders — may panic wherever the
//! pool calls it. The pool catches the panic, puts its books straight (the connection closed,
//! the slot freed), and then lets the panic carry on to the caller. A panic caught while the
//! thread is already unwinding from another one (a guard dropped during a panic) is logged
//! and dropped instead: carried on out of `Drop`, it would abort the process.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::Core;
use crate::emit::Emit;
use crate::event::Event;

/// A caught panic's payload.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Runs `f`, catching a panic.
#[inline]
pub(crate) fn catching<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    catch_unwind(AssertUnwindSafe(f))
}

/// The first of two panics (the second is dropped: one panic carries on at a time).
pub(crate) fn first(a: Option<Panic>, b: Option<Panic>) -> Option<Panic> {
    a.or(b)
}

/// The text a panic was raised with, if it was raised with one.
fn message(panic: &Panic) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(a panic without a message)"
    }
}

impl<C> Core<C> {
    /// Lets a caught panic carry on, once the books are straight; logs and drops it if the
    /// thread is already unwinding.
    pub(crate) fn carry_on(&self, panic: Option<Panic>) {
        let Some(panic) = panic else { return };
        if std::thread::panicking() {
            self.emit(Event::PanicDropped(message(&panic)));
        } else {
            resume_unwind(panic);
        }
    }
}
