//! `meshsim simulate` and `meshsim explain`.

use crate::failure::{Failure, usage};
use crate::load::{
    MeshArgs, RequestArgs, build_stream, load_mesh, report_not_simulated, simulator,
};
use meshsim::report::html::Recorder;
use meshsim::report::{decision_json, explain_json, summary_json, summary_table};
use meshsim::sim::Progress;
use meshsim::sim::Summary;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    mesh: MeshArgs,
    #[command(flatten)]
    requests: RequestArgs,
    /// Output: a summary table, the summary as JSON, or one decision per request (JSONL).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Also write a self-contained visual report (traffic graph, panels, route tables) here.
    #[arg(long, value_name = "FILE.html")]
    html: Option<std::path::PathBuf>,
    /// Threads that share the routing work of a summary (default: every core). The output is
    /// the same whatever the count.
    #[arg(long, short = 'j', value_name = "N")]
    threads: Option<usize>,
    /// No progress bar (it is shown on a terminal for runs longer than a second, unless
    /// NO_COLOR is set).
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Jsonl,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let mesh = load_mesh(&args.mesh)?;
    report_not_simulated(&mesh, &args.mesh)?;
    let mut sim = simulator(&mesh, &args.mesh)?;
    for d in sim.diagnostics() {
        eprintln!("{}", meshsim::diag::render::human(d));
    }
    let (stream, from) = build_stream(&mesh, &args.mesh, &args.requests)?;
    let info = args.mesh.run_info(from);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let jsonl = matches!(args.output, Format::Jsonl);
    let timed = args.requests.rate.is_some() || stream.has_times();
    let mut recorder = args.html.as_ref().map(|_| Recorder::new(timed));
    let progress = Arc::new(Progress::default());
    {
        // Ctrl-C stops the run between rounds; what was decided is still reported.
        let p = progress.clone();
        let _ = ctrlc::set_handler(move || p.stop());
    }
    let bar = crate::progress::Bar::start(progress.clone(), stream.len(), args.quiet);
    if !jsonl && recorder.is_none() && !timed {
        // Only counts are wanted: the batch path, on every core.
        let threads = args.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        summary = sim.summarize_with(&stream, threads, &progress);
    }
    let batched = !jsonl && recorder.is_none() && !timed;
    let mut sink = |d: meshsim::sim::Decision| {
        if jsonl {
            let _ = writeln!(out, "{}", decision_json(&d));
        }
        if !jsonl || recorder.is_some() {
            summary.record(&d);
        }
        if let Some(r) = recorder.as_mut() {
            r.record(&d);
        }
    };
    if timed {
        let interval = args.requests.rate.map(|r| 1e9 / r);
        let arrivals = (0..stream.len())
            .take_while(|_| !progress.stopped())
            .map(|i| {
                progress.set(i + 1);
                let req = stream.get(i);
                let at = match interval {
                    Some(iv) => (i as f64 * iv) as u64,
                    None => req.time.unwrap_or(0),
                };
                (at, req)
            });
        sim.run(arrivals, &mut sink);
    } else if !batched {
        for i in 0..stream.len() {
            if progress.stopped() {
                break;
            }
            let req = stream.get(i);
            sink(sim.decide(&req));
            progress.set(i + 1);
        }
    }
    bar.finish();
    if progress.stopped() {
        eprintln!(
            "meshsim: interrupted: {} of {} requests were decided; the output covers them",
            progress.done().min(stream.len()),
            stream.len()
        );
    }
    match args.output {
        Format::Table => {
            let _ = write!(out, "{}", summary_table(&summary, &info));
        }
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&summary_json(&summary, &info)).unwrap_or_default()
            );
        }
        Format::Jsonl => {}
    }
    let _ = out.flush();
    if let (Some(path), Some(rec)) = (&args.html, &recorder) {
        let page = meshsim::report::html::page(&summary, rec, &info, Some(sim.compiled()));
        std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("meshsim: report written to {}", path.display());
    }
    // 130: interrupted by SIGINT, as shells report it.
    Ok(if progress.stopped() {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    mesh: MeshArgs,
    #[command(flatten)]
    requests: RequestArgs,
    /// Which request of the stream to trace: its `index` in `simulate -o jsonl` (0, the
    /// first, by default). The requests before it are decided first, so it meets the state
    /// they leave (round-robin positions, crashed pods, ejected hosts).
    #[arg(long, value_name = "N")]
    index: Option<u64>,
    /// Output: the trace as text, or as a JSON document (`docs/explain-json.md`).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ExplainFormat::Text)]
    output: ExplainFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExplainFormat {
    Text,
    Json,
}

pub fn explain(args: ExplainArgs) -> Result<ExitCode, Failure> {
    if args.requests.rate.is_some() {
        return Err(usage(
            "explain decides requests one after the other; --rate (overlapping requests) is for simulate",
        ));
    }
    let mesh = load_mesh(&args.mesh)?;
    report_not_simulated(&mesh, &args.mesh)?;
    let mut sim = simulator(&mesh, &args.mesh)?;
    let mut requests = args.requests.clone();
    if requests.request.is_none()
        && requests.requests.is_none()
        && requests.traffic.is_none()
        && requests.count.is_none()
    {
        // Without a stream, the default request once (not simulate's 10,000), or as many
        // times as --index needs.
        requests.count = Some(args.index.unwrap_or(0) + 1);
    }
    let (stream, _) = build_stream(&mesh, &args.mesh, &requests)?;
    let index = args.index.unwrap_or(0);
    if index >= stream.len() {
        return Err(usage(format!(
            "--index {index}: the stream has {} request(s), numbered from 0",
            stream.len()
        )));
    }
    for i in 0..index {
        sim.decide(&stream.get(i));
    }
    let req = stream.get(index);
    let (d, trace) = sim.explain(&req);
    match args.output {
        ExplainFormat::Text => {
            // Findings of the rules the request tried, shown beside them.
            let found = meshsim::analyze::analyze(&mesh, args.mesh.istio_version);
            let findings = meshsim::analyze::rule_findings(&mesh, &found);
            print!(
                "{}",
                meshsim::report::explain::explain_text_noting(&req, &d, &trace, &findings)
            );
        }
        ExplainFormat::Json => println!("{}", explain_json(&req, &d, &trace)),
    }
    Ok(ExitCode::SUCCESS)
}
