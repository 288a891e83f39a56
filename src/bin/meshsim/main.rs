//! The `meshsim` command line: thin glue around the library.

mod diff;
mod envoy_config;
mod failure;
mod load;
mod progress;
mod ring;
mod simulate;
mod test;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Simulate Istio/Envoy traffic policy offline.
#[derive(Parser)]
#[command(
    name = "meshsim",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MESHSIM_COMMIT"), ")"),
    about,
    long_about = None,
    after_help = "Exit status: 0 success; 1 invalid input (YAML, request or test files), failed tests or gates, or warnings under --strict; 2 usage errors (a flag or value the command cannot take)."
)]
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
    /// Print a shell completion script: `meshsim completions bash > /etc/bash_completion.d/meshsim`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Explain(a) => simulate::explain(a),
        Command::EnvoyConfig(a) => envoy_config::run(a),
        Command::Test(a) => test::run(a),
        // The lab reads flags only: what it refuses is a usage error.
        Command::Ring(a) => ring::run(*a).map_err(failure::Failure::Usage),
        Command::Diff(a) => diff::run(*a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "meshsim",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(failure::Failure::report)
}
