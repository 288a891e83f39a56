//! Shared CLI plumbing: load the mesh (printing diagnostics), and build the request stream.

use crate::failure::{Failure, check_count, usage};
use meshsim::Mesh;
use meshsim::compile::IstioVersion;
use meshsim::config::traffic::{TrafficSpec, parse_jsonl, parse_traffic};
use meshsim::diag::render;
use meshsim::route::Request;
use meshsim::sim::stream::{Generator, Stream, from_spec};
use meshsim::sim::{SimOptions, Simulator};
use std::path::PathBuf;

/// Mesh files, Istio version and seed: what every simulating command takes.
#[derive(clap::Args, Clone, Debug)]
pub struct MeshArgs {
    /// Files or folders with the mesh, as `kubectl apply -f` takes them: repeatable or
    /// comma-separated, folders recursively, `-` for standard input.
    #[arg(
        short = 'f',
        long = "filename",
        required = true,
        value_name = "FILE_OR_DIR",
        value_delimiter = ','
    )]
    pub files: Vec<PathBuf>,
    /// The namespace of objects that name none (`kubectl apply -n`); an object in another
    /// namespace is an error.
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Istio version whose behaviour to follow (e.g. 1.4 for the tutorial's world).
    #[arg(long, default_value_t = IstioVersion::NEWEST, value_name = "VERSION")]
    pub istio_version: IstioVersion,
    /// Seed of every random choice (same files, requests and seed: same output).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fail (exit 1) when something loaded is not simulated (a Sidecar, an
    /// AuthorizationPolicy, VirtualService tcp routes, localityLbSetting, ...), instead of
    /// warning about it; `meshsim test` also rejects unknown fields in
    /// istio-config-validator test files (as that tool's --strict does).
    #[arg(long)]
    pub strict: bool,
}

/// Where requests come from.
#[derive(clap::Args, Clone, Debug)]
pub struct RequestArgs {
    /// A traffic spec (YAML) generating the stream.
    #[arg(long, value_name = "SPEC.yaml", conflicts_with_all = ["requests", "request"])]
    pub traffic: Option<PathBuf>,
    /// Requests, one JSON object per line.
    #[arg(long, value_name = "FILE.jsonl", conflicts_with = "request")]
    pub requests: Option<PathBuf>,
    /// One request in short form, e.g. 'GET http://myweb-service/ cookie:usertype=tester'
    /// (quote values with spaces: cookie:"a=1; usertype=tester").
    #[arg(long, value_name = "REQUEST")]
    pub request: Option<String>,
    /// A header of --request, as curl takes it: -H 'Cookie: a=1; usertype=tester'
    /// (repeatable). `Host` sets the authority, as in curl and Envoy.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", conflicts_with_all = ["requests", "traffic"])]
    pub headers: Vec<String>,
    /// The entry gateway of --request (`name` or `namespace/name`); default: the caller's
    /// sidecar.
    #[arg(long, value_name = "GATEWAY", conflicts_with_all = ["requests", "traffic"])]
    pub gateway: Option<String>,
    /// The calling workload of --request, by its labels (`app=client,version=v1`): its
    /// sidecar decides, and `sourceLabels` rules see them.
    #[arg(long, value_name = "LABELS", conflicts_with_all = ["requests", "traffic"])]
    pub source: Option<String>,
    /// The calling workload's namespace (default `default`).
    #[arg(long, value_name = "NAMESPACE", conflicts_with_all = ["requests", "traffic"])]
    pub source_namespace: Option<String>,
    /// Number of requests (repeats --request; overrides the traffic spec's count).
    #[arg(
        short = 'n',
        long = "count",
        value_name = "N",
        value_parser = parse_count,
        allow_negative_numbers = true
    )]
    pub count: Option<u64>,
    /// Arrival rate on the simulated clock, e.g. 100/s or 6000/m: requests then overlap in
    /// time. Without it, each request starts when the previous one has been answered (or at the
    /// `time` of its JSONL line).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub rate: Option<f64>,
}

impl RequestArgs {
    /// Applies `-H`, `--gateway`, `--source` and `--source-namespace` to a request.
    pub fn apply(&self, req: &mut Request) -> Result<(), String> {
        for h in &self.headers {
            req.add_header_line(h)?;
        }
        if let Some(g) = &self.gateway {
            req.gateway = Some(g.clone());
        }
        if self.source.is_some() || self.source_namespace.is_some() {
            let mut src = req.source.clone().unwrap_or_default();
            if let Some(labels) = &self.source {
                for kv in labels.split(',').filter(|kv| !kv.trim().is_empty()) {
                    let (k, v) = kv.split_once('=').ok_or_else(|| {
                        format!("--source `{kv}`: expected labels as key=value,key=value")
                    })?;
                    src.labels
                        .insert(k.trim().to_string(), v.trim().to_string());
                }
            }
            if let Some(ns) = &self.source_namespace {
                src.namespace = Some(ns.clone());
            }
            req.source = Some(src);
        }
        Ok(())
    }
}

/// A request the user typed must name a gateway that exists, and a host the mesh knows or a
/// warning says which one it probably meant.
pub fn check_request(mesh: &Mesh, req: &Request) -> Result<(), String> {
    if let Some(g) = &req.gateway {
        let name = meshsim::compile::resolve_gateway_name(g, "default");
        let known = mesh.gateway_names();
        if !known.contains(&name) {
            let hint = meshsim::common::closest(&name, known.iter().map(String::as_str), 3)
                .map_or(String::new(), |k| format!("; did you mean `{k}`?"));
            return Err(format!(
                "gateway `{g}` is not in the mesh (gateways: {}){hint}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        return Ok(());
    }
    if let meshsim::trace::HostKnowledge::Unknown {
        did_you_mean: Some(d),
    } = meshsim::model::host_knowledge(mesh, &req.host(), req.source_namespace())
    {
        eprintln!(
            "meshsim: warning: host `{}` is not in the mesh; did you mean `{d}`?",
            req.host()
        );
    }
    Ok(())
}

/// `-n N`. kubectl users reach for `-n NAMESPACE`; here `-n` counts requests, as in `ab` and
/// `hey`, so a name gets pointed at `--namespace`.
fn parse_count(s: &str) -> Result<u64, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    if s.strip_prefix('-')
        .is_some_and(|d| d.parse::<u64>().is_ok())
    {
        return Err("the number of requests cannot be negative".into());
    }
    if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "-n is the number of requests (`-n 100`); the namespace of objects that name none is `--namespace {s}`"
        ));
    }
    Err("expected the number of requests, e.g. -n 100".into())
}

/// `-n NAMESPACE` given to a command without a request count (`validate`, `test`,
/// `envoy-config`): refused with the flag it means, so that `-n` never means a namespace in one
/// command and a count in the next.
pub fn refuse_short_namespace(n: Option<&str>) -> Result<(), Failure> {
    match n {
        None => Ok(()),
        Some(ns) => Err(usage(format!(
            "-n {ns}: the namespace of objects that name none is `--namespace {ns}` (meshsim keeps -n for the request count of simulate, explain and diff)"
        ))),
    }
}

/// `100/s`, `6000/m`, `100` → requests per second.
fn parse_rate(s: &str) -> Result<f64, String> {
    let (n, per) = match s.split_once('/') {
        Some((n, u)) => (n, u),
        None => (s, "s"),
    };
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected a rate such as 100/s"))?;
    let secs = match per.trim() {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("`{s}`: unknown unit `{u}` (use /s, /m or /h)")),
    };
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("`{s}`: the rate must be positive"));
    }
    Ok(n / secs)
}

impl MeshArgs {
    /// What the run was, for reports that must be reproducible.
    pub fn run_info(&self, requests_from: String) -> meshsim::report::RunInfo {
        meshsim::report::RunInfo {
            files: self.files.iter().map(|f| f.display().to_string()).collect(),
            istio_version: self.istio_version.to_string(),
            seed: self.seed,
            requests_from,
        }
    }
}

/// Loads the mesh; prints every diagnostic; fails on errors.
pub fn load_mesh(args: &MeshArgs) -> Result<Mesh, String> {
    let (mesh, mut diags) = read_mesh(&args.files, args.namespace.as_deref())?;
    // A configuration Istio would refuse is not simulated.
    diags.extend(meshsim::validate::validate(&mesh, args.istio_version));
    diags.sort();
    for d in &diags {
        eprintln!("{}", render::human(d));
    }
    if diags.has_errors() {
        return Err(format!(
            "the mesh has {} error(s); `meshsim validate` lists them",
            diags.error_count()
        ));
    }
    Ok(mesh)
}

/// Reads files, folders and `-` (standard input, once) as `kubectl apply -f` does, in order.
pub fn read_mesh(
    paths: &[PathBuf],
    namespace: Option<&str>,
) -> Result<(Mesh, meshsim::diag::Diagnostics), String> {
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut diags = meshsim::diag::Diagnostics::default();
    let mut stdin_read = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if stdin_read {
                return Err("-f - is given twice: standard input can be read once".into());
            }
            stdin_read = true;
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
                .map_err(|e| format!("standard input: {e}"))?;
            texts.push(("<stdin>".into(), text));
            continue;
        }
        let (t, d) = meshsim::files::read_all(std::slice::from_ref(p));
        texts.extend(t);
        diags.extend(d);
    }
    Ok(Mesh::build_with(
        texts.iter().map(|(n, t)| (n.as_str(), t.as_str())),
        diags,
        namespace,
    ))
}

/// Says, once, what was loaded but is not simulated (warnings on stderr); under `--strict`
/// that is a failure.
pub fn report_not_simulated(mesh: &Mesh, args: &MeshArgs) -> Result<(), Failure> {
    report_not_simulated_in(&[mesh], args.strict)
}

/// [`report_not_simulated`] for several meshes (a diff's two sides), each finding once.
pub fn report_not_simulated_in(meshes: &[&Mesh], strict: bool) -> Result<(), Failure> {
    let mut found = meshsim::diag::Diagnostics(
        meshes
            .iter()
            .flat_map(|m| meshsim::analyze::not_simulated(m))
            .collect(),
    );
    found.sort();
    found.0.dedup();
    let found = found.0;
    for d in &found {
        eprintln!("{}", render::human(d));
    }
    if strict && !found.is_empty() {
        return Err(Failure::Input(format!(
            "{} resource(s) or field(s) are loaded but not simulated (--strict)",
            found.len()
        )));
    }
    Ok(())
}

/// The simulator for the loaded mesh, with the version and seed of the command line; errors
/// found while compiling (regexes RE2 refuses, ...) are printed, one per line.
pub fn simulator<'m>(mesh: &'m Mesh, args: &MeshArgs) -> Result<Simulator<'m>, String> {
    let options = SimOptions {
        version: args.istio_version,
        seed: args.seed,
    };
    Simulator::with_options(mesh, options)
        .map_err(|d| d.iter().map(render::human).collect::<Vec<_>>().join("\n"))
}

/// Builds the stream and a description of it. Without any request option, a folder's traffic
/// spec (`traffic.yaml`) is used if there is one, else `GET /` to the first VirtualService host.
pub fn build_stream(
    mesh: &Mesh,
    m: &MeshArgs,
    r: &RequestArgs,
) -> Result<(Stream, String), Failure> {
    let default_n = 10_000;
    if let Some(n) = r.count {
        check_count(n)?;
    }
    if let Some(path) = &r.traffic {
        return Ok(traffic_stream(path, m, r.count)?);
    }
    if let Some(path) = &r.requests {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (reqs, diags) = parse_jsonl(&path.display().to_string(), &text);
        if !diags.is_empty() {
            for d in &diags {
                eprintln!("{}", render::human(d));
            }
            return Err(format!("{} bad request line(s)", diags.len()).into());
        }
        let list: Vec<Request> = reqs.iter().map(|(_, s)| from_spec(s)).collect();
        return Ok((Stream::List(list), format!("from {}", path.display())));
    }
    if let Some(s) = &r.request {
        let (mut req, notes) = Request::parse_short_noting(s).map_err(usage)?;
        for n in notes {
            eprintln!("meshsim: warning: {n}");
        }
        r.apply(&mut req).map_err(usage)?;
        check_request(mesh, &req).map_err(usage)?;
        let n = r.count.unwrap_or(1);
        return Ok((
            Stream::Repeat(Box::new(req.clone()), n),
            format!("{n} × {req}"),
        ));
    }
    // Nothing given: a traffic spec shipped with the policy, or a plain GET.
    for f in &m.files {
        let candidate = if f.is_dir() {
            f.join("traffic.yaml")
        } else {
            continue;
        };
        if candidate.is_file() {
            return Ok(traffic_stream(&candidate, m, r.count)?);
        }
    }
    let host = mesh
        .virtual_services
        .iter()
        .filter(|v| v.spec.gateways.is_empty())
        .flat_map(|v| v.spec.hosts.first())
        .next()
        .cloned()
        .or_else(|| mesh.services.first().map(|s| s.name.clone()))
        .ok_or("no request given and no service to send one to: use --request, --requests or --traffic")?;
    let mut req = Request::get(&host);
    r.apply(&mut req).map_err(usage)?;
    check_request(mesh, &req).map_err(usage)?;
    let n = r.count.unwrap_or(default_n);
    Ok((
        Stream::Repeat(Box::new(req.clone()), n),
        format!("{n} × {req}"),
    ))
}

fn traffic_stream(
    path: &PathBuf,
    m: &MeshArgs,
    count: Option<u64>,
) -> Result<(Stream, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec: TrafficSpec =
        parse_traffic(&path.display().to_string(), &text).map_err(|d| render::human(&d))?;
    let n = count.or(spec.requests).unwrap_or(10_000);
    let g = Generator::new(&spec, spec.seed.unwrap_or(m.seed))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((
        Stream::Generated(Box::new(g), n),
        format!("{n} from {}", path.display()),
    ))
}
