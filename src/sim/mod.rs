//! The engine: requests in, decisions out, exactly as the sidecar (or gateway) would decide.
//!
//! ```
//! use meshsim::{Mesh, route::Request, sim::Simulator};
//! let mesh = Mesh::load(&["policies/canary-cookie"]).unwrap();
//! let mut sim = Simulator::new(&mesh).unwrap();
//! let tester = Request::get("myweb-service").with_header("cookie", "a=1; usertype=tester");
//! assert_eq!(sim.decide(&tester).subset.as_deref(), Some("v2"));
//! assert_eq!(sim.decide(&Request::get("myweb-service")).subset.as_deref(), Some("v1"));
//! ```

mod batch;
mod decision;
mod engine;
mod latency;
mod routing;
pub mod stream;
mod summary;
mod upstream;

pub use batch::Progress;
pub use decision::{
    Attempt, Decision, DestinationOut, Flags, LbChoice, MirrorOut, ResponseHeaderChanges, RuleRef,
    UpstreamRequest, short_host,
};
pub use engine::{DEFAULT_CLIENT_IP, SimOptions, Simulator};
pub use latency::Latencies;
pub use stream::{RequestSource, Stream};
pub use summary::{Count, Summary};
