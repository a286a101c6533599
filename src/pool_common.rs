//! The pool methods the blocking and the async pool share: they only read or act on the core.

macro_rules! pool_common {
    ($pool:ident, $manager:path) => {
        impl<M: $manager> $pool<M> {
            /// The pool's counts; `Display` gives SQLAlchemy's `status()` text.
            pub fn status(&self) -> $crate::Status {
                self.shared.core.status()
            }

            /// Closes the idle connections. Checked-out connections are left alone and return
            /// to the pool normally.
            pub fn dispose(&self) {
                self.shared.core.dispose();
            }

            /// A new, empty pool with the same options, listeners, reset function and manager
            /// (SQLAlchemy's `recreate()`). This pool is left as it is.
            ///
            /// # Errors
            /// None in practice: the options were validated when this pool was built.
            pub fn recreate(&self) -> Result<$pool<M>, $crate::BuildError> {
                $crate::echo::echo_info!(self.shared.core, "Pool recreating");
                // The same name, given or defaulted: the new pool's series continue the old's.
                self.shared
                    .builder
                    .clone()
                    .name(self.shared.core.config.name.to_string())
                    .build_shared(std::sync::Arc::clone(&self.shared.manager))
            }

            /// Marks every connection opened before now to be replaced at its next checkout
            /// (what a failed pre-ping does). Checked-out connections finish their work first.
            pub fn invalidate_all(&self) {
                self.shared.core.invalidate_all();
            }

            /// `pool_timeout`; `None` waits forever.
            pub fn timeout(&self) -> Option<std::time::Duration> {
                self.shared.core.config.timeout
            }

            /// The pool's name.
            pub fn name(&self) -> &str {
                &self.shared.core.config.name
            }

            /// The pool's class.
            pub fn class(&self) -> $crate::PoolClass {
                self.shared.core.config.class
            }

            /// The connection manager.
            pub fn manager(&self) -> &M {
                &self.shared.manager
            }

            /// Waiters that reached `pool_timeout` while an idle connection or free capacity
            /// was there for them: wake-ups the pool missed (such a waiter takes what is
            /// there instead of timing out). Always 0 unless the pool has a bug; the stress
            /// tests assert it.
            #[doc(hidden)]
            pub fn missed_wakeups(&self) -> u64 {
                self.shared.core.missed_wakeups()
            }
        }

        impl<M: $manager> Clone for $pool<M> {
            fn clone(&self) -> Self {
                $pool {
                    shared: std::sync::Arc::clone(&self.shared),
                }
            }
        }

        impl<M: $manager> std::fmt::Debug for $pool<M> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($pool))
                    .field("name", &self.name())
                    .field("status", &self.status())
                    .finish()
            }
        }
    };
}

pub(crate) use pool_common;
