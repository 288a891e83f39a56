//! Bottom layer: seeded random streams and simulated time. No I/O, no global state.

pub mod decimal;
pub mod rng;
pub mod time;
