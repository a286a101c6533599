use std::fmt;
use std::sync::Arc;

use super::pool::{Pool, Shared};
use crate::builder_options::option_setters;
use crate::clock::{Clock, SystemClock};
use crate::config::{FrontEnd, Options};
use crate::core::Core;
use crate::error::BuildError;
use crate::events::Listeners;
use crate::instrument::InstrumentOptions;
use crate::reset::Reset;

/// Builds a blocking [`Pool`]. Obtained from [`Pool::builder`].
pub struct Builder<M: r2d2::ManageConnection> {
    pub(super) options: Options,
    pub(super) listeners: Listeners<M::Connection>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) instruments: InstrumentOptions,
    pub(super) reset: Option<Arc<dyn Reset<M::Connection>>>,
}

impl<M: r2d2::ManageConnection> Default for Builder<M> {
    fn default() -> Self {
        Builder {
            options: Options::default(),
            listeners: Listeners::default(),
            clock: Arc::new(SystemClock),
            instruments: InstrumentOptions::default(),
            reset: None,
        }
    }
}

impl<M: r2d2::ManageConnection> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("options", &self.options)
            .field("reset", &self.reset.is_some())
            .finish_non_exhaustive()
    }
}

impl<M: r2d2::ManageConnection> Builder<M> {
    option_setters!(M::Connection);

    /// The function that rolls back or commits a returned connection, as `reset_on_return`
    /// asks. Required unless `reset_on_return` is [`ResetOnReturn::None`](crate::ResetOnReturn).
    pub fn reset_with(mut self, reset: impl Reset<M::Connection>) -> Self {
        self.reset = Some(Arc::new(reset));
        self
    }

    /// Builds the pool. Opens nothing: connections open on first demand.
    ///
    /// # Errors
    /// [`BuildError`] for options that make no sense together, before anything is opened.
    pub fn build(self, manager: M) -> Result<Pool<M>, BuildError> {
        self.build_shared(Arc::new(manager))
    }

    pub(super) fn build_shared(self, manager: Arc<M>) -> Result<Pool<M>, BuildError> {
        let core = Core::build(
            &self.options,
            FrontEnd::Blocking,
            self.reset.is_some(),
            &self.listeners,
            &self.clock,
            &self.instruments,
        )?;
        Ok(Pool {
            shared: Arc::new(Shared {
                core,
                manager,
                builder: self,
            }),
        })
    }
}

impl<M: r2d2::ManageConnection> Clone for Builder<M> {
    fn clone(&self) -> Self {
        Builder {
            options: self.options.clone(),
            listeners: self.listeners.clone(),
            clock: Arc::clone(&self.clock),
            instruments: self.instruments.clone(),
            reset: self.reset.clone(),
        }
    }
}
