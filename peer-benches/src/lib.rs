//! poolscope side by side with r2d2, bb8 and deadpool: the managers and pools every bench
//! shares, so that each pool is measured on the same connections, sized and warmed the same
//! way. Not published; see `BENCHMARKS.md` at the workspace root for the results and
//! `peer-benches/run.sh` for the one command that reproduces them.
#![forbid(unsafe_code)]

pub mod drive;
pub mod noop;
pub mod peers;
pub mod report;
pub mod stats;
