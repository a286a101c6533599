//! [`HooksBuilder`]: the options, checked, and the instruments registered.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Weak};

use super::{Counts, Inner, PoolHooks};
use crate::builder::{PoolBuilder, PoolKind, Sealed};
use crate::config::FrontEnd;
use crate::error::BuildError;
use crate::instrument::{GaugeSource, Instruments};
use crate::policy::Limits;
use crate::sync::Mutex;

/// Builds [`PoolHooks`] from the same options as [`Builder`](crate::Builder), less those that
/// need the pool to hold its connections (listeners, clock, leak detection): its option
/// setters are [`PoolBuilder`]'s.
///
/// `build()` refuses what another pool cannot honour: SingletonThreadPool (tasks move between
/// threads) and `use_lifo(true)` (sqlx's idle queue is FIFO).
pub type HooksBuilder = PoolBuilder<Hooks>;

/// The kind of pool that another library holds (sqlx's, under SeaORM): poolscope decides
/// through its callbacks. Its builder holds nothing beyond the options.
#[derive(Debug, Default, Clone)]
pub struct Hooks;

impl Sealed for Hooks {}
impl PoolKind for Hooks {}

impl PoolBuilder<Hooks> {
    /// SQLAlchemy's defaults: QueuePool, pool_size 5, max_overflow 10, pool_timeout 30 s,
    /// reset_on_return rollback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the options and registers the pool's instruments.
    pub fn build(self) -> Result<PoolHooks, BuildError> {
        if self.options.use_lifo == Some(true) {
            return Err(BuildError::NotHonoured {
                option: "use_lifo",
                why: "the pool that holds the connections hands out its idle ones oldest first",
            });
        }
        let id = crate::core::next_pool_id();
        let config = self.options.validate(FrontEnd::Hooks, true, id)?;
        let limits = Limits::for_config(&config);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let source: Weak<dyn GaugeSource> = weak.clone();
            let instruments =
                Instruments::register(&self.instruments, &config.name, &limits, source);
            Inner {
                id,
                config,
                limits,
                instruments,
                state: Mutex::new(Counts::default()),
                open_hint: AtomicUsize::new(0),
            }
        });
        Ok(PoolHooks(inner))
    }
}
