//! Tells the test suites whether the tools they drive are on this machine, so that a suite
//! that cannot run is reported by `cargo test` as ignored, with the reason, and never as a
//! pass: `has_envoy` (an `envoy` from ENVOY_BIN, `.venv/bin/envoy` or PATH) and
//! `has_chromium` (CHROMIUM_BIN, or chromium on PATH). Only the tests read these cfgs; the
//! library and the binary are the same on every machine. It also records the commit for
//! `meshsim --version`.

use std::path::{Path, PathBuf};

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The commit the binary is built from, for `--version` (`unknown` outside a git checkout).
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}, modified") } else { c }
        }
        _ => "unknown".into(),
    }
}

fn main() {
    println!("cargo::rustc-env=MESHSIM_COMMIT={}", commit());
    println!("cargo::rerun-if-changed=.git/HEAD");
    println!("cargo::rerun-if-changed=.git/refs/heads");
    println!("cargo::rerun-if-changed=.git/index");
    println!("cargo::rustc-check-cfg=cfg(has_envoy)");
    println!("cargo::rustc-check-cfg=cfg(has_chromium)");
    println!("cargo::rerun-if-env-changed=ENVOY_BIN");
    println!("cargo::rerun-if-env-changed=CHROMIUM_BIN");
    println!("cargo::rerun-if-env-changed=PATH");
    let venv =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join(".venv/bin/envoy");
    // Watching the file makes cargo look again once .ci/run (or a user) installs it.
    println!("cargo::rerun-if-changed={}", venv.display());
    let envoy = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| venv.is_file().then(|| venv.clone()))
        .or_else(|| on_path("envoy"));
    if envoy.is_some() {
        println!("cargo::rustc-cfg=has_envoy");
    }
    let chromium = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .find_map(|b| on_path(b))
        });
    if chromium.is_some() {
        println!("cargo::rustc-cfg=has_chromium");
    }
}
