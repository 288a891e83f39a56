//! `meshsim test`: run policy tests (meshsim's, istio-config-validator's or Envoy's route check
//! tool's format) against the mesh, with coverage.

use crate::failure::Failure;
use crate::load::{MeshArgs, load_mesh};
use meshsim::check::{TestCase, parse_test_file, run_test};
use meshsim::config::tests::detect_format;
use meshsim::diag::render;
use meshsim::files::{expand_paths, read_text};
use meshsim::report::tests as render_tests;
use meshsim::sim::SimOptions;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    mesh: MeshArgs,
    /// Test files or folders (also given with -t). Without any, test files found among the
    /// -f folders run (e.g. policies/canary-cookie/tests.yaml).
    #[arg(value_name = "TESTS")]
    tests: Vec<PathBuf>,
    /// Test files or folders.
    #[arg(short = 't', long = "tests", value_name = "TESTS")]
    more_tests: Vec<PathBuf>,
    /// Output: text or JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Also write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the results as a self-contained HTML page (failing tests with their graph).
    #[arg(long, value_name = "FILE.html")]
    html: Option<PathBuf>,
    /// Fail when fewer than this percentage of rules and weighted destinations are exercised.
    #[arg(long, value_name = "PCT")]
    fail_under: Option<f64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let mesh = load_mesh(&args.mesh)?;
    crate::load::report_not_simulated(&mesh, &args.mesh)?;
    // Problems istiod would log for this mesh (dropped delegate rules, ...) explain failures.
    for d in crate::load::simulator(&mesh, &args.mesh)?.diagnostics() {
        eprintln!("{}", render::human(d));
    }
    let mut test_paths: Vec<PathBuf> = args.tests.iter().chain(&args.more_tests).cloned().collect();
    let explicit = !test_paths.is_empty();
    if !explicit {
        test_paths = args.mesh.files.clone();
    }
    let (files, diags) = expand_paths(&test_paths);
    let mut errors: Vec<String> = diags.iter().map(render::human).collect();
    let mut cases: Vec<TestCase> = Vec::new();
    for f in &files {
        let text = match read_text(f) {
            Ok(t) => t,
            Err(d) => {
                errors.push(render::human(&d));
                continue;
            }
        };
        if !explicit && detect_format(&text).is_none() {
            continue;
        }
        let (c, d) = parse_test_file(&f.display().to_string(), &text);
        errors.extend(d.iter().map(render::human));
        cases.extend(c);
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return Err(format!("{} problem(s) in the test files", errors.len()).into());
    }
    // Names the mesh lacks make a test pass or fail by accident: errors, before any request.
    for c in &cases {
        for e in meshsim::check::unknown_names(&mesh, c) {
            errors.push(format!("{}: test {:?}: {e}", c.location, c.name));
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return Err(format!("{} problem(s) in the test files", errors.len()).into());
    }
    if cases.is_empty() {
        return Err("no tests found: give test files (meshsim's tests:, istio-config-validator's testCases: or Envoy's route check tests:)".into());
    }
    let options = SimOptions {
        version: args.mesh.istio_version,
        seed: args.mesh.seed,
    };
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let mut coverage = meshsim::check::Coverage::of(&mesh);
    let mut results = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if progress && started.elapsed().as_secs_f64() > 1.0 {
            eprint!("\r\x1b[2K[{}/{}] {}", i + 1, cases.len(), c.name);
        }
        results.push(run_test(&mesh, c, options, &mut coverage));
    }
    if progress && started.elapsed().as_secs_f64() > 1.0 {
        eprint!("\r\x1b[2K");
    }
    let suite = meshsim::check::SuiteResult {
        tests: results,
        coverage,
    };
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Text => {
            let found = meshsim::analyze::analyze(&mesh, args.mesh.istio_version);
            let findings = meshsim::analyze::rule_findings(&mesh, &found);
            let _ = write!(out, "{}", render_tests::text(&suite, colour, &findings));
        }
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&render_tests::json(&suite)).unwrap_or_default()
            );
        }
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, render_tests::junit(&suite))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &args.html {
        let info = args.mesh.run_info("the test files".into());
        std::fs::write(path, meshsim::report::html::tests_page::page(&suite, &info))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut ok = suite.failed() == 0;
    if let Some(min) = args.fail_under
        && suite.coverage.percent() + 1e-9 < min
    {
        eprintln!(
            "coverage {:.1}% is under --fail-under {min}%",
            suite.coverage.percent()
        );
        ok = false;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
