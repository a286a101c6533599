//! The blocking pool, over any `r2d2::ManageConnection`.

mod builder;
mod connector;
mod guard;
mod pool;

pub use builder::{Blocking, Builder};
pub use guard::{DetachedConnection, PooledConnection};
pub use pool::Pool;
