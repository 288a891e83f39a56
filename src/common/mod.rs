//! Bottom layer: seeded random streams and simulated time. No I/O, no global state.

pub mod rng;
pub mod time;
