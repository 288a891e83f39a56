//! `meshsim validate`.

use crate::failure::Failure;
use meshsim::diag::render;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders to load, as `kubectl apply -f` takes them: repeatable or
    /// comma-separated, folders recursively (.yaml, .yml, .json), `-` for standard input.
    #[arg(
        short = 'f',
        long = "filename",
        required = true,
        value_name = "FILE_OR_DIR",
        value_delimiter = ','
    )]
    files: Vec<PathBuf>,
    /// The namespace of objects that name none (`kubectl apply -n`).
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// kubectl's `-n NAMESPACE`, refused with the flag meshsim takes for it.
    #[arg(short = 'n', hide = true, value_name = "NAMESPACE")]
    namespace_short: Option<String>,
    /// Treat warnings as failures (exit status 1 when there are warnings but no errors).
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Istio version whose admission rules apply.
    #[arg(long, default_value_t = meshsim::compile::IstioVersion::NEWEST, value_name = "VERSION")]
    istio_version: meshsim::compile::IstioVersion,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Human-readable lines.
    Table,
    /// One JSON object with the summary and every finding.
    Json,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    crate::load::refuse_short_namespace(args.namespace_short.as_deref())?;
    let (mesh, mut diags) = crate::load::read_mesh(&args.files, args.namespace.as_deref())?;
    // Admission rules, then the analyses (which need a mesh that loaded).
    diags.extend(meshsim::validate::validate(&mesh, args.istio_version));
    diags.extend(meshsim::analyze::analyze(&mesh, args.istio_version));
    diags.sort();
    let errors = diags.error_count();
    let warnings = diags.warning_count();
    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Table => {
            let mut err = std::io::stderr().lock();
            for d in &diags {
                let _ = writeln!(err, "{}", render::human(d));
            }
            let _ = writeln!(out, "{}", mesh.summary());
            let _ = write!(out, "{}", mesh.ignored_summary());
            if errors + warnings > 0 {
                let _ = writeln!(
                    err,
                    "{errors} error{}, {warnings} warning{}",
                    if errors == 1 { "" } else { "s" },
                    if warnings == 1 { "" } else { "s" }
                );
            }
        }
        Format::Json => {
            let v = serde_json::json!({
                "summary": mesh.summary(),
                "ignored": mesh.ignored.iter().map(|i| serde_json::json!({
                    "kind": i.kind, "apiVersion": i.api_version, "name": i.name,
                    "file": &*i.location.file, "line": i.location.line,
                })).collect::<Vec<_>>(),
                "errors": errors,
                "warnings": warnings,
                "findings": diags.iter().map(render::json).collect::<Vec<_>>(),
            });
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            );
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else if args.strict && warnings > 0 {
        // Findings in the input, like errors: never the usage code.
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
