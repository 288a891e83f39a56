//! Helpers shared by integration tests.

pub mod xml;

/// Runs the `meshsim` binary from the crate's folder.
pub fn meshsim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}
