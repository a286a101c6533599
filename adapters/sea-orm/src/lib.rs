//! SeaORM adapter for [`poolscope`].
//!
//! This crate is a placeholder in the workspace: the SeaORM binding lands in a later release
//! (see the workspace README). It re-exports the core so that the dependency edge is real and
//! checked by the build.
#![forbid(unsafe_code)]

pub use poolscope;
