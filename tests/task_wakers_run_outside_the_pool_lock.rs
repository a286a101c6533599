//! A waiting task's waker is called after the pool's lock is released, never under it: a
//! waker may run any code (an executor can poll the task from `wake`), here code that asks
//! the same pool for its status, which takes that lock. Were it called under the lock, the
//! returning thread would deadlock on it; the test then fails after a few seconds instead of
//! hanging. (Blocking waiters are notified under the lock: a condvar runs nobody's code.)
mod common;

use common::{Db, FakeAsyncReset, FakeManager};
use poolscope::AsyncPool;
use std::future::Future;
use std::sync::{mpsc, Arc};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

/// A waker that reads the pool's status (taking its lock) and reports what it saw.
struct StatusWaker {
    pool: Arc<AsyncPool<FakeManager>>,
    saw: mpsc::Sender<usize>,
}

impl Wake for StatusWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let _ = self.saw.send(self.pool.status().checked_out);
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_waiting_tasks_waker_may_take_the_pool_lock() {
    let rt = current_thread();
    let pool = Arc::new(
        rt.block_on(
            AsyncPool::builder()
                .reset_with(FakeAsyncReset)
                .pool_size(1)
                .max_overflow(0)
                .pool_timeout(None)
                .build(Db::new().manager()),
        )
        .unwrap(),
    );
    let held = rt.block_on(pool.get()).unwrap();

    let (saw, seen) = mpsc::channel();
    let waker = Waker::from(Arc::new(StatusWaker {
        pool: Arc::clone(&pool),
        saw,
    }));
    let mut waiting = Box::pin(pool.get());
    assert!(waiting
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    assert_eq!(pool.status().waiting, 1);

    // The return hands the connection to the waiting task and wakes it.
    let returner = std::thread::spawn(move || current_thread().block_on(held.close()));
    let Ok(checked_out) = seen.recv_timeout(Duration::from_secs(5)) else {
        // The return is stuck holding the pool's lock: dropping the waiting checkout or the
        // pool would block on it too, so they are leaked and the test fails at once.
        std::mem::forget(waiting);
        std::mem::forget(waker);
        std::mem::forget(pool);
        panic!("the waker never reported: a waker run under the pool's lock deadlocks the return");
    };
    assert_eq!(checked_out, 1, "the connection went to the waiting task");
    returner.join().expect("the return finished");

    let conn = rt.block_on(waiting);
    assert!(conn.is_ok(), "the woken task has the connection");
    drop(conn);
    assert_eq!(pool.status().checked_in, 1);
}
