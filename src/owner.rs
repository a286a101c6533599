//! Who holds a checkout: an OS thread (blocking pool) or an async task.
//!
//! StaticPool refuses a nested checkout by the same holder at once instead of letting it wait
//! for itself; SingletonThreadPool keys its connections by thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;

/// The holder of a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    Thread(ThreadId),
    #[cfg(feature = "tokio")]
    Task(tokio::task::Id),
    /// A future polled outside a Tokio task: equal to nothing else.
    Anonymous(u64),
    /// Not looked up: the pool's class never compares holders (QueuePool, NullPool), and
    /// finding the current thread or task would cost the checkout for nothing.
    Untracked,
}

impl Owner {
    #[cfg(feature = "blocking")]
    pub(crate) fn current_thread() -> Self {
        thread_local! {
            // `thread::current()` clones an `Arc` each time; the id never changes.
            static ID: ThreadId = std::thread::current().id();
        }
        Owner::Thread(ID.with(|id| *id))
    }

    /// The current Tokio task, or (outside a task, or without the `tokio` feature) a holder
    /// equal to nothing else.
    pub(crate) fn current_task() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        #[cfg(feature = "tokio")]
        if let Some(id) = tokio::task::try_id() {
            return Owner::Task(id);
        }
        Owner::Anonymous(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}
