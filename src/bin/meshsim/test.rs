//! `meshsim test`: run policy tests (meshsim's, istio-config-validator's or Envoy's route check
//! tool's format) against the mesh, with coverage.

use crate::failure::Failure;
use crate::load::{MeshArgs, load_mesh};
use meshsim::check::{TestCase, parse_test_file, parse_test_file_strict, run_test};
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
    /// kubectl's `-n NAMESPACE`, refused with the flag meshsim takes for it.
    #[arg(short = 'n', hide = true, value_name = "NAMESPACE")]
    namespace_short: Option<String>,
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

/// The suites to run: the tests given, against the mesh given; or, without tests, each
/// subfolder of a lone `-f` folder that holds its own tests (`-f policies`), against its own
/// folder; else the test files found among the `-f` paths.
fn suites(args: &Args) -> Vec<(MeshArgs, Vec<PathBuf>, bool)> {
    let explicit: Vec<PathBuf> = args.tests.iter().chain(&args.more_tests).cloned().collect();
    if !explicit.is_empty() {
        return vec![(args.mesh.clone(), explicit, true)];
    }
    if let [dir] = args.mesh.files.as_slice()
        && dir.is_dir()
    {
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && has_tests(p))
            .collect();
        subdirs.sort();
        let top_level_yaml = std::fs::read_dir(dir).into_iter().flatten().any(|e| {
            e.ok().is_some_and(|e| {
                e.path().is_file()
                    && matches!(
                        e.path().extension().and_then(|x| x.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
            })
        });
        if subdirs.len() > 1 && !top_level_yaml {
            return subdirs
                .into_iter()
                .map(|d| {
                    let mut m = args.mesh.clone();
                    m.files = vec![d.clone()];
                    (m, vec![d], false)
                })
                .collect();
        }
    }
    vec![(args.mesh.clone(), args.mesh.files.clone(), false)]
}

/// Does this folder hold a test file (meshsim's, istio-config-validator's, Envoy's)?
fn has_tests(dir: &std::path::Path) -> bool {
    let (files, _) = expand_paths(&[dir]);
    files.iter().any(|f| {
        read_text(f)
            .ok()
            .is_some_and(|t| detect_format(&t).is_some())
    })
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    crate::load::refuse_short_namespace(args.namespace_short.as_deref())?;
    let suites = suites(&args);
    if suites.len() == 1 {
        let (m, tests, explicit) = &suites[0];
        return run_suite(&args, m, tests, *explicit);
    }
    if args.junit.is_some() || args.html.is_some() || matches!(args.output, Format::Json) {
        return Err(crate::failure::usage(format!(
            "{} folders each hold their own tests: run them one at a time for -o json, --junit or --html",
            suites.len()
        )));
    }
    let mut failed = Vec::new();
    for (m, tests, explicit) in &suites {
        let folder = m.files[0].display().to_string();
        println!("== {folder}");
        if run_suite(&args, m, tests, *explicit)? != ExitCode::SUCCESS {
            failed.push(folder);
        }
    }
    println!(
        "{} suite(s), {} failed{}",
        suites.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": {}", failed.join(", "))
        }
    );
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One suite: its tests against its mesh.
fn run_suite(
    args: &Args,
    mesh_args: &MeshArgs,
    test_paths: &[PathBuf],
    explicit: bool,
) -> Result<ExitCode, Failure> {
    let mesh = load_mesh(mesh_args)?;
    crate::load::report_not_simulated(&mesh, mesh_args)?;
    // Problems istiod would log for this mesh (dropped delegate rules, ...) explain failures.
    for d in crate::load::simulator(&mesh, mesh_args)?.diagnostics() {
        eprintln!("{}", render::human(d));
    }
    let (files, diags) = expand_paths(test_paths);
    // Files named one by one must be tests; files found in a folder may be configs (the
    // peers keep both in one folder: istio-config-validator's `-t examples/ examples/`).
    let named: std::collections::BTreeSet<&PathBuf> =
        test_paths.iter().filter(|p| p.is_file()).collect();
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
        if (!explicit || !named.contains(f)) && detect_format(&text).is_none() {
            continue;
        }
        let parse = if mesh_args.strict {
            parse_test_file_strict
        } else {
            parse_test_file
        };
        let (c, d) = parse(&f.display().to_string(), &text);
        for d in &d {
            if d.is_error() {
                errors.push(render::human(d));
            } else {
                eprintln!("{}", render::human(d));
            }
        }
        cases.extend(c);
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return Err(format!("{} problem(s) in the test files", errors.len()).into());
    }
    // Names the mesh lacks make a test pass or fail by accident: errors, before any request.
    for (c, found) in cases
        .iter()
        .zip(meshsim::check::unknown_names(&mesh, &cases))
    {
        for e in found {
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
        version: mesh_args.istio_version,
        seed: mesh_args.seed,
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
            let found = meshsim::analyze::analyze(&mesh, mesh_args.istio_version);
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
        let info = mesh_args.run_info("the test files".into());
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
