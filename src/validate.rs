//! The options checked against the pool class and the front end, into the `Config` a pool
//! runs with, or the [`BuildError`] that says why not: the one place where the options meet
//! the errors (`config` knows nothing of errors, `error` only names options).

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, FrontEnd, Options, Overflow, PoolClass, ResetOnReturn};
use crate::error::BuildError;

impl Options {
    /// Checks the options against the class and front end; `can_reset` says whether a reset
    /// function was supplied. `pool_id` names an unnamed pool.
    pub(crate) fn validate(
        self,
        front: FrontEnd,
        can_reset: bool,
        pool_id: u64,
    ) -> Result<Config, BuildError> {
        let class = self.class;
        if front != FrontEnd::Blocking && class == PoolClass::SingletonThread {
            return Err(BuildError::ClassNotSupported { class });
        }
        let applies = |option: &'static str, set: bool, classes: &[PoolClass]| {
            if set && !classes.contains(&class) {
                Err(BuildError::OptionNotApplicable { option, class })
            } else {
                Ok(())
            }
        };
        use PoolClass::*;
        applies(
            "pool_size",
            self.pool_size.is_some(),
            &[Queue, SingletonThread],
        )?;
        applies("max_overflow", self.max_overflow.is_some(), &[Queue])?;
        applies("pool_timeout", self.timeout.is_some(), &[Queue, Static])?;
        applies("use_lifo", self.use_lifo.is_some(), &[Queue])?;
        applies(
            "store_traceback",
            self.store_traceback.is_some(),
            &[Assertion],
        )?;

        let defaults = self.defaults;
        let pool_size = self.pool_size.unwrap_or(defaults.pool_size);
        if class == SingletonThread && pool_size == 0 {
            return Err(BuildError::ZeroPoolSize { class });
        }
        let max_overflow = match self.max_overflow.unwrap_or(defaults.max_overflow) {
            -1 => Overflow::Unlimited,
            n if n < -1 => return Err(BuildError::MaxOverflowOutOfRange(n)),
            n => Overflow::Limited(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let recycle = self.recycle.unwrap_or(defaults.pool_recycle);
        if recycle == Some(Duration::ZERO) {
            return Err(BuildError::ZeroRecycle);
        }
        if self.leak_threshold == Some(Duration::ZERO) {
            return Err(BuildError::ZeroLeakThreshold);
        }
        if self.reset_on_return != ResetOnReturn::None && !can_reset {
            return Err(BuildError::ResetUnsupported {
                requested: self.reset_on_return,
            });
        }
        let name: Arc<str> = match self.name {
            Some(name) if name.trim().is_empty() => return Err(BuildError::EmptyName),
            Some(name) => name.into(),
            None => format!("pool-{pool_id}").into(),
        };
        Ok(Config {
            class,
            front,
            pool_size,
            max_overflow,
            timeout: self.timeout.unwrap_or(defaults.pool_timeout),
            recycle,
            pre_ping: self.pre_ping.unwrap_or(defaults.pre_ping),
            use_lifo: self.use_lifo.unwrap_or(false),
            reset_on_return: self.reset_on_return,
            echo: self.echo,
            name,
            store_traceback: self.store_traceback.unwrap_or(true),
            db_system: self.db_system.map(Into::into),
            leak_threshold: self.leak_threshold,
            wait_for_server_capacity: self.wait_for_server_capacity.unwrap_or(true),
        })
    }
}
