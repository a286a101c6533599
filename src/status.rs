//! `status()`: SQLAlchemy's text, and the same numbers typed.

use std::fmt;

use crate::config::PoolClass;

/// A snapshot of a pool's counts. Its `Display` is SQLAlchemy's `Pool.status()` text, exactly:
///
/// ```text
/// Pool size: 5  Connections in pool: 0 Current Overflow: -5 Current Checked out connections: 0
/// ```
///
/// and `NullPool`, `StaticPool`, `AssertionPool`, `SingletonThreadPool id:<id> size: <n>` for
/// the other classes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The pool's class.
    pub class: PoolClass,
    /// The pool's process-unique id.
    pub pool_id: u64,
    /// `pool_size` (SQLAlchemy's `size()`).
    pub size: usize,
    /// Idle slots, connected or emptied by invalidation (SQLAlchemy's `checkedin()`);
    /// for SingletonThreadPool, the threads' kept connections.
    pub checked_in: usize,
    /// Connections open beyond `pool_size` (SQLAlchemy's `overflow()`); negative while fewer
    /// are open.
    pub overflow: i64,
    /// Checked out, or being opened for a checkout (SQLAlchemy's `checkedout()`).
    pub checked_out: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// Connections held longer than the leak detection threshold right now (0 when off).
    pub suspected_leaks: usize,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.class {
            PoolClass::Queue => write!(
                f,
                "Pool size: {}  Connections in pool: {} Current Overflow: {} Current Checked out connections: {}",
                self.size, self.checked_in, self.overflow, self.checked_out
            ),
            PoolClass::SingletonThread => write!(
                f,
                "SingletonThreadPool id:{} size: {}",
                self.pool_id,
                self.checked_in + self.checked_out
            ),
            class => f.write_str(class.sqlalchemy_name()),
        }
    }
}
