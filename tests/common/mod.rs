//! Helpers shared by integration tests. Each test crate compiles this module and uses a part
//! of it, hence the allowance.
#![allow(dead_code)]

pub mod xml;

/// Runs the `meshsim` binary from the crate's folder.
pub fn meshsim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}
