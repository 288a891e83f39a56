//! How a command fails, and the exit code each failure gets (the table the README and
//! `--help` show): 0 success; 1 invalid input (YAML, request files, test files), failed tests
//! or gates, or warnings under `--strict`; 2 usage errors (a flag or value the command
//! cannot take: clap's own, and ours below).

use std::process::ExitCode;

/// A command's failure.
#[derive(Debug)]
pub enum Failure {
    /// The input is invalid (exit 1).
    Input(String),
    /// The command line is (exit 2).
    Usage(String),
}

/// A usage error: the flags, not the files.
pub fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Input(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Self {
        Failure::Input(s.to_string())
    }
}

impl Failure {
    /// Prints the message and gives the exit code.
    pub fn report(self) -> ExitCode {
        let (msg, code) = match self {
            Failure::Input(m) => (m, 1),
            Failure::Usage(m) => (m, 2),
        };
        eprintln!("meshsim: {msg}");
        ExitCode::from(code)
    }
}

/// Requests one run may decide: above it, a count is a mistake (at tens of millions of
/// decisions a second, ten billion already takes minutes).
pub const MAX_REQUESTS: u64 = 10_000_000_000;

/// `-n N`: at least 1, at most [`MAX_REQUESTS`].
pub fn check_count(n: u64) -> Result<u64, Failure> {
    match n {
        0 => Err(usage("-n 0: give at least one request")),
        n if n > MAX_REQUESTS => Err(usage(format!(
            "-n {n}: more than {MAX_REQUESTS} requests in one run is refused (split the run, or use --rate and a shorter stream)"
        ))),
        n => Ok(n),
    }
}
