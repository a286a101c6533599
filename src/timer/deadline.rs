//! A future ready at an instant, rung by poolscope's timer: what the async pool bounds its
//! connects, pre-pings and resets with, on every runtime and outside one.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::Mutex;

use super::{Alarm, Key, Timer};

/// A future that is ready at an instant, rung by the timer; it registers nothing with any
/// runtime, so it works on every one, and outside one. Dropping it takes its alarm out.
pub(crate) struct Deadline {
    timer: &'static Timer,
    key: Key,
    state: Arc<Rung>,
}

#[derive(Default)]
struct Rung {
    rung: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Alarm for Rung {
    fn ring(&self, _: Key, _: Instant) {
        self.rung.store(true, Ordering::Release);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Deadline {
    /// Ready at `at`.
    pub(crate) fn at(timer: &'static Timer, at: Instant) -> Self {
        let state = Arc::new(Rung::default());
        let weak: Weak<Rung> = Arc::downgrade(&state);
        let key = timer.set(at, weak);
        Deadline { timer, key, state }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.rung.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut waker = self.state.waker.lock();
        match &mut *waker {
            Some(known) if known.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        drop(waker);
        // Rung between the first look and the waker being stored: it found no waker.
        if self.state.rung.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.timer.cancel(self.key);
    }
}

/// Runs `future` until `deadline` (`None`: without one); `None` if the deadline came first
/// (the future is dropped then).
pub(crate) async fn within<F: Future>(deadline: Option<Deadline>, future: F) -> Option<F::Output> {
    let Some(deadline) = deadline else {
        return Some(future.await);
    };
    let mut future = std::pin::pin!(future);
    let mut deadline = std::pin::pin!(deadline);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer::tests::wait_until;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn a_deadline_is_ready_without_any_runtime() {
        let timer = super::super::timer().unwrap();
        let at = Instant::now() + Duration::from_millis(20);
        let deadline = Deadline::at(timer, at);
        let waker = Arc::new(WakeCount(AtomicUsize::new(0)));
        let as_waker = Waker::from(Arc::clone(&waker));
        let mut cx = Context::from_waker(&as_waker);
        let mut deadline = Box::pin(deadline);
        assert!(deadline.as_mut().poll(&mut cx).is_pending());
        wait_until(|| waker.0.load(Ordering::SeqCst) == 1);
        assert!(Instant::now() >= at);
        assert!(deadline.as_mut().poll(&mut cx).is_ready());
    }

    struct WakeCount(AtomicUsize);

    impl std::task::Wake for WakeCount {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}
