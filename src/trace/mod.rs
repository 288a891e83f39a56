//! What the router and the balancer did for one request, and why: typed events, no wording.
//!
//! The engine reports through a [`Tracer`]; the hot path uses [`NoTrace`], whose methods are
//! empty and vanish after inlining, and `explain` uses [`Trace`], which keeps the events.
//! Events are data (which stage, which resource, what was expected and what was found);
//! every sentence a user reads is written from them in [`crate::report`], once per format.
//!
//! The events serialize to the JSON that `meshsim explain -o json` prints (each has an
//! `"event"` tag in camelCase; times are nanoseconds on the simulated clock, in fields ending
//! in `Ns`). `docs/explain-json.md` documents that format; it only grows.
//!
//! ```
//! use meshsim::trace::{Trace, TraceEvent, Tracer};
//! let mut t = Trace::default();
//! t.event(TraceEvent::NoRouteMatched);
//! let json = serde_json::to_string(&t.0).unwrap();
//! assert_eq!(json, r#"[{"event":"noRouteMatched"}]"#);
//! let back: Vec<TraceEvent> = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, t.0);
//! ```

mod events;

pub use events::*;

/// Receives events. Implementations decide what to keep.
pub trait Tracer {
    /// Is anyone listening? Lets the engine skip building expensive events.
    fn enabled(&self) -> bool;
    /// Records one event.
    fn event(&mut self, e: TraceEvent);
    /// Records the event `e` builds, only when someone listens: the hot path never builds it.
    #[inline(always)]
    fn emit(&mut self, e: impl FnOnce() -> TraceEvent) {
        if self.enabled() {
            self.event(e());
        }
    }
}

/// Keeps nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn enabled(&self) -> bool {
        false
    }
    #[inline(always)]
    fn event(&mut self, _e: TraceEvent) {}
}

/// Keeps every event, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace(pub Vec<TraceEvent>);

impl Tracer for Trace {
    fn enabled(&self) -> bool {
        true
    }
    fn event(&mut self, e: TraceEvent) {
        self.0.push(e);
    }
}

impl Tracer for Vec<TraceEvent> {
    fn enabled(&self) -> bool {
        true
    }
    fn event(&mut self, e: TraceEvent) {
        self.push(e);
    }
}
