//! Where the event stream meets its consumers: a pool (the core, or the hooks) emits each
//! [`Event`] once, and [`Emit::emit`] hands it to the metrics paths, to the pool's
//! [`Statistics`](crate::Statistics) when it counts them, and to `echo_pool`.

use crate::config::Config;
use crate::event::Event;
use crate::instrument::Instruments;

/// A pool that emits events: it names its instruments and its configuration (the echo
/// level and the pool's name).
pub(crate) trait Emit {
    fn instruments(&self) -> &Instruments;
    fn config(&self) -> &Config;

    /// Hands one decision to every consumer: the metrics paths (only what they measure),
    /// then the log line.
    #[inline(always)]
    fn emit(&self, event: Event<'_>) {
        if event.is_measured() {
            self.instruments().emit(event);
        }
        if event.is_counted() {
            if let Some(statistics) = self.instruments().statistics() {
                statistics.on(event);
            }
        }
        crate::echo::on(self.config(), event);
    }
}

impl<E: Emit> Emit for std::sync::Arc<E> {
    #[inline]
    fn instruments(&self) -> &Instruments {
        (**self).instruments()
    }

    #[inline]
    fn config(&self) -> &Config {
        (**self).config()
    }
}
