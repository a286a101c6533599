//! The async pool, over any `bb8::ManageConnection`, on Tokio.

mod builder;
mod catch_unwind;
mod guard;
mod pool;

pub use builder::{AsyncBuilder, Tokio, DEFAULT_RESET_TIMEOUT};
pub use guard::{AsyncDetachedConnection, AsyncPooledConnection};
pub use pool::AsyncPool;
