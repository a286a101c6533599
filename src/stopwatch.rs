//! The clock for wait, use and connect times and leak ages: `quanta`'s, which reads the CPU's
//! time-stamp counter where it is reliable (here about 10 ns a read against 23 ns for
//! `std::time::Instant`; a cycle reads it twice when the pool is observed). Recycling and
//! invalidation keep `std::time::Instant` through [`crate::Clock`], so that tests can move
//! time by hand.

pub(crate) use quanta::Instant;
