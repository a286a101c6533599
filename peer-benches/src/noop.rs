//! A connection manager whose connections cost nothing, implemented for every pool's manager
//! trait, so that what is measured is the pool.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A free connection: a number the holder can touch.
pub type NoopConn = u64;

/// Opens free connections and counts how many it opened. With `validate`, a checkout's test
/// (r2d2's and bb8's `test_on_check_out`, poolscope's `pre_ping`, deadpool's `recycle`) runs
/// the manager's (free) check; without it deadpool's `recycle` returns at once and the other
/// pools skip the test.
#[derive(Clone, Debug, Default)]
pub struct Noop {
    validate: bool,
    connects: Arc<AtomicU64>,
}

impl Noop {
    /// A manager whose checkouts are tested when `validate`.
    pub fn new(validate: bool) -> Self {
        Noop {
            validate,
            connects: Arc::default(),
        }
    }

    /// Connections opened so far.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    fn open(&self) -> NoopConn {
        self.connects.fetch_add(1, Ordering::Relaxed)
    }

    fn check(conn: &NoopConn) -> Result<(), Infallible> {
        std::hint::black_box(conn);
        Ok(())
    }
}

impl r2d2::ManageConnection for Noop {
    type Connection = NoopConn;
    type Error = Infallible;

    fn connect(&self) -> Result<NoopConn, Infallible> {
        Ok(self.open())
    }

    fn is_valid(&self, conn: &mut NoopConn) -> Result<(), Infallible> {
        Noop::check(conn)
    }

    fn has_broken(&self, _: &mut NoopConn) -> bool {
        false
    }
}

impl bb8::ManageConnection for Noop {
    type Connection = NoopConn;
    type Error = Infallible;

    async fn connect(&self) -> Result<NoopConn, Infallible> {
        Ok(self.open())
    }

    async fn is_valid(&self, conn: &mut NoopConn) -> Result<(), Infallible> {
        Noop::check(conn)
    }

    fn has_broken(&self, _: &mut NoopConn) -> bool {
        false
    }
}

#[mobc::async_trait]
impl mobc::Manager for Noop {
    type Connection = NoopConn;
    type Error = Infallible;

    async fn connect(&self) -> Result<NoopConn, Infallible> {
        Ok(self.open())
    }

    async fn check(&self, conn: NoopConn) -> Result<NoopConn, Infallible> {
        Noop::check(&conn)?;
        Ok(conn)
    }
}

impl deadpool::managed::Manager for Noop {
    type Type = NoopConn;
    type Error = Infallible;

    async fn create(&self) -> Result<NoopConn, Infallible> {
        Ok(self.open())
    }

    async fn recycle(
        &self,
        conn: &mut NoopConn,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        if self.validate {
            Noop::check(conn)?;
        }
        Ok(())
    }
}
