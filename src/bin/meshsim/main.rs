//! The `meshsim` command line: thin glue around the library.

mod diff;
mod envoy_config;
mod load;
mod ring;
mod simulate;
mod test;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Simulate Istio/Envoy traffic policy offline.
#[derive(Parser)]
#[command(name = "meshsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load YAML files and folders (like `kubectl apply -f`) and report every problem found.
    Validate(validate::Args),
    /// Run a stream of requests through the mesh and summarise what happened.
    Simulate(simulate::Args),
    /// Trace one request: the virtual host, each rule tried, the pick, the endpoint.
    Explain(simulate::ExplainArgs),
    /// Run policy tests against the mesh (meshsim's, istio-config-validator's or Envoy's route
    /// check tool's format), with coverage.
    Test(test::Args),
    /// Print the Envoy route configuration and clusters istiod would generate (v3 JSON).
    EnvoyConfig(envoy_config::Args),
    /// Run one request stream through the mesh before and after a change and report what moved.
    Diff(Box<diff::Args>),
    /// The hash-ring lab: load spread, disruption and cost of ring hash, maglev and peers.
    Ring(Box<ring::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Explain(a) => simulate::explain(a),
        Command::EnvoyConfig(a) => envoy_config::run(a),
        Command::Test(a) => test::run(a),
        Command::Ring(a) => ring::run(*a),
        Command::Diff(a) => diff::run(*a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("meshsim: {e}");
            ExitCode::from(2)
        }
    }
}
