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

/// [`meshsim`], as (exit code, stdout, stderr) text.
pub fn meshsim_text(args: &[&str]) -> (i32, String, String) {
    let out = meshsim(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
