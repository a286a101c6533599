use std::fmt;
use std::sync::Arc;

use super::pool::{AsyncPool, Shared};
use crate::builder_options::option_setters;
use crate::clock::{Clock, SystemClock};
use crate::config::{FrontEnd, Options};
use crate::core::Core;
use crate::error::BuildError;
use crate::events::Listeners;
use crate::instrument::InstrumentOptions;
use crate::reset::AsyncReset;

/// Builds an [`AsyncPool`]. Obtained from [`AsyncPool::builder`].
pub struct AsyncBuilder<M: bb8::ManageConnection> {
    pub(super) options: Options,
    pub(super) listeners: Listeners<M::Connection>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) instruments: InstrumentOptions,
    pub(super) reset: Option<Arc<dyn AsyncReset<M::Connection>>>,
}

impl<M: bb8::ManageConnection> Default for AsyncBuilder<M> {
    fn default() -> Self {
        AsyncBuilder {
            options: Options::default(),
            listeners: Listeners::default(),
            clock: Arc::new(SystemClock),
            instruments: InstrumentOptions::default(),
            reset: None,
        }
    }
}

impl<M: bb8::ManageConnection> Clone for AsyncBuilder<M> {
    fn clone(&self) -> Self {
        AsyncBuilder {
            options: self.options.clone(),
            listeners: self.listeners.clone(),
            clock: Arc::clone(&self.clock),
            instruments: self.instruments.clone(),
            reset: self.reset.clone(),
        }
    }
}

impl<M: bb8::ManageConnection> fmt::Debug for AsyncBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncBuilder")
            .field("options", &self.options)
            .field("reset", &self.reset.is_some())
            .finish_non_exhaustive()
    }
}

impl<M: bb8::ManageConnection> AsyncBuilder<M> {
    option_setters!(M::Connection);

    /// The async function that rolls back or commits a returned connection, as
    /// `reset_on_return` asks. Required unless `reset_on_return` is
    /// [`ResetOnReturn::None`](crate::ResetOnReturn).
    pub fn reset_with(mut self, reset: impl AsyncReset<M::Connection>) -> Self {
        self.reset = Some(Arc::new(reset));
        self
    }

    /// Builds the pool. Opens nothing: connections open on first demand.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together (SingletonThreadPool included:
    /// it has no meaning for tasks), before anything is opened.
    pub async fn build(self, manager: M) -> Result<AsyncPool<M>, BuildError> {
        self.build_shared(Arc::new(manager))
    }

    pub(super) fn build_shared(self, manager: Arc<M>) -> Result<AsyncPool<M>, BuildError> {
        let core = Core::build(
            &self.options,
            FrontEnd::Async,
            self.reset.is_some(),
            &self.listeners,
            &self.clock,
            &self.instruments,
        )?;
        Ok(AsyncPool {
            shared: Arc::new(Shared {
                core,
                manager,
                builder: self,
            }),
        })
    }
}
