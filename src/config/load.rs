//! YAML text → typed resources, with every problem located.
//!
//! The structure follows `../shared/reference/yaml-loading.md`:
//! 1. split the stream into documents ourselves, so that a syntax error in one document never
//!    loses the next one;
//! 2. per document, parse once into a span tree (the [`SpanIndex`]) — a failure here is the
//!    syntax error;
//! 3. read `apiVersion`/`kind` leniently, then deserialize the whole document strictly into the
//!    type for that kind, with the field path of any error;
//! 4. build each diagnostic from the error's variant and location, not from its text.

use super::kube::{
    ConfigMapData, IstioOperatorSpec, MeshConfig, PodSpec, PodStatus, ServiceSpec, WorkloadSpec,
};
use super::span::{Node, Pos, Segment, SpanIndex, YamlPath};
use super::{DestinationRule, Gateway, ServiceEntry, VirtualService, WorkloadEntry};
use crate::diag::{Code, Diagnostic, Location, codes};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_saphyr::{Error as YamlError, Options, Spanned};
use std::fmt;
use std::sync::Arc;

/// The kinds meshsim reads. Everything else is listed as ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// networking.istio.io VirtualService.
    VirtualService,
    /// networking.istio.io DestinationRule.
    DestinationRule,
    /// networking.istio.io Gateway.
    Gateway,
    /// networking.istio.io ServiceEntry.
    ServiceEntry,
    /// networking.istio.io WorkloadEntry.
    WorkloadEntry,
    /// apps Deployment.
    Deployment,
    /// apps StatefulSet.
    StatefulSet,
    /// apps ReplicaSet.
    ReplicaSet,
    /// core Service.
    Service,
    /// core Pod.
    Pod,
    /// core Namespace.
    Namespace,
    /// install.istio.io IstioOperator (for `meshConfig`).
    IstioOperator,
    /// core ConfigMap named `istio` (for its `mesh` key).
    ConfigMap,
}

impl Kind {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::Gateway => "Gateway",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::WorkloadEntry => "WorkloadEntry",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Service => "Service",
            Kind::Pod => "Pod",
            Kind::Namespace => "Namespace",
            Kind::IstioOperator => "IstioOperator",
            Kind::ConfigMap => "ConfigMap",
        }
    }

    /// Which `apiVersion`s carry this kind: `(group, versions)`.
    fn api(self) -> (&'static str, &'static [&'static str]) {
        const ISTIO: &[&str] = &["v1alpha3", "v1beta1", "v1"];
        match self {
            Kind::VirtualService | Kind::DestinationRule | Kind::Gateway | Kind::ServiceEntry => {
                ("networking.istio.io", ISTIO)
            }
            Kind::WorkloadEntry => ("networking.istio.io", ISTIO),
            Kind::Deployment | Kind::StatefulSet | Kind::ReplicaSet => {
                ("apps", &["v1", "v1beta1", "v1beta2"])
            }
            Kind::Service | Kind::Pod | Kind::Namespace | Kind::ConfigMap => ("", &["v1"]),
            Kind::IstioOperator => ("install.istio.io", &["v1alpha1"]),
        }
    }

    fn from_name(kind: &str) -> Option<Kind> {
        Some(match kind {
            "VirtualService" => Kind::VirtualService,
            "DestinationRule" => Kind::DestinationRule,
            "Gateway" => Kind::Gateway,
            "ServiceEntry" => Kind::ServiceEntry,
            "WorkloadEntry" => Kind::WorkloadEntry,
            "Deployment" => Kind::Deployment,
            "StatefulSet" => Kind::StatefulSet,
            "ReplicaSet" => Kind::ReplicaSet,
            "Service" => Kind::Service,
            "Pod" => Kind::Pod,
            "Namespace" => Kind::Namespace,
            "IstioOperator" => Kind::IstioOperator,
            "ConfigMap" => Kind::ConfigMap,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a resource came from: its file, the line its document starts on, and the span index of
/// that document so that later checks can point at any of its fields.
#[derive(Clone, Debug)]
pub struct Origin {
    /// File name as given.
    pub file: Arc<str>,
    /// 1-based line where the document starts.
    pub line: u32,
    /// Path → location for this document.
    pub spans: Arc<SpanIndex>,
}

impl Origin {
    /// The location of a field's value (or of its nearest existing ancestor).
    pub fn locate(&self, path: &YamlPath) -> Location {
        let pos = self.spans.locate(path).unwrap_or(Pos {
            line: self.line,
            column: 1,
        });
        self.at(pos)
    }

    /// The location of a field's key.
    pub fn locate_key(&self, path: &YamlPath) -> Location {
        let pos = self.spans.locate_key(path).unwrap_or(Pos {
            line: self.line,
            column: 1,
        });
        self.at(pos)
    }

    /// The start of the document (its `kind:` line, or the first line).
    pub fn start(&self) -> Location {
        self.locate_key(&YamlPath::root().key("kind"))
    }

    fn at(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        }
    }
}

/// `metadata` of any object (other fields of Kubernetes' ObjectMeta are accepted and ignored).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name.
    pub name: Option<String>,
    /// Namespace (default `default`).
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: super::StringMap,
    /// Annotations (meshsim reads `meshsim.io/*` endpoint behaviour from them).
    #[serde(default)]
    pub annotations: super::StringMap,
}

/// A loaded resource: identity, spec and origin.
#[derive(Clone, Debug)]
pub struct Resource<T> {
    /// The kind.
    pub kind: Kind,
    /// `apiVersion` as written.
    pub api_version: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, `default` when absent.
    pub namespace: String,
    /// `metadata.labels`.
    pub labels: super::StringMap,
    /// `metadata.annotations`.
    pub annotations: super::StringMap,
    /// The typed spec.
    pub spec: T,
    /// Where it was written.
    pub origin: Origin,
}

/// A Pod's spec and status.
#[derive(Clone, Debug, Default)]
pub struct PodObject {
    /// Spec.
    pub spec: PodSpec,
    /// Status (`podIP`).
    pub status: PodStatus,
}

/// Any resource meshsim reads. Short-lived (it only carries resources from the parser to the
/// [`crate::Mesh`]), so its size spread does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum AnyResource {
    /// VirtualService.
    VirtualService(Resource<VirtualService>),
    /// DestinationRule.
    DestinationRule(Resource<DestinationRule>),
    /// Gateway.
    Gateway(Resource<Gateway>),
    /// ServiceEntry.
    ServiceEntry(Resource<ServiceEntry>),
    /// WorkloadEntry.
    WorkloadEntry(Resource<WorkloadEntry>),
    /// Deployment, StatefulSet or ReplicaSet.
    Workload(Resource<WorkloadSpec>),
    /// Service.
    Service(Resource<ServiceSpec>),
    /// Pod.
    Pod(Resource<PodObject>),
    /// Namespace.
    Namespace(Resource<()>),
    /// Mesh settings from an IstioOperator or the `istio` ConfigMap.
    MeshConfig(Resource<MeshConfig>),
}

impl AnyResource {
    /// Kind, namespace, name and origin, whatever the variant.
    pub fn id(&self) -> (Kind, &str, &str, &Origin) {
        macro_rules! id {
            ($r:expr) => {
                ($r.kind, $r.namespace.as_str(), $r.name.as_str(), &$r.origin)
            };
        }
        match self {
            AnyResource::VirtualService(r) => id!(r),
            AnyResource::DestinationRule(r) => id!(r),
            AnyResource::Gateway(r) => id!(r),
            AnyResource::ServiceEntry(r) => id!(r),
            AnyResource::WorkloadEntry(r) => id!(r),
            AnyResource::Workload(r) => id!(r),
            AnyResource::Service(r) => id!(r),
            AnyResource::Pod(r) => id!(r),
            AnyResource::Namespace(r) => id!(r),
            AnyResource::MeshConfig(r) => id!(r),
        }
    }
}

/// A document of a kind meshsim does not simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    /// `kind` as written.
    pub kind: String,
    /// `apiVersion` as written.
    pub api_version: String,
    /// `metadata.name`, if any.
    pub name: Option<String>,
    /// Where.
    pub location: Location,
}

/// Everything one file yielded.
#[derive(Clone, Debug, Default)]
pub struct ParsedFile {
    /// Resources, in document order.
    pub resources: Vec<AnyResource>,
    /// Documents skipped because meshsim does not simulate their kind.
    pub ignored: Vec<Ignored>,
    /// Problems, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses every document of one YAML (or JSON) text. Never panics; a bad document yields
/// diagnostics and the others still load.
///
/// ```
/// use meshsim::config::{parse_yaml, AnyResource};
/// let text = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
///             metadata: {name: vs}\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web}\n      wieght: 10\n";
/// let parsed = parse_yaml("vs.yaml", text);
/// assert!(parsed.resources.is_empty());
/// let d = &parsed.diagnostics[0];
/// assert_eq!(d.to_string().split(": error").next().unwrap(),
///            "vs.yaml:9:7: spec.http[0].route[0].wieght");
/// assert_eq!(d.hint.as_deref(), Some("did you mean `weight`?"));
/// ```
pub fn parse_yaml(file: impl Into<Arc<str>>, text: &str) -> ParsedFile {
    let file: Arc<str> = file.into();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = ParsedFile::default();
    for chunk in split_documents(text) {
        parse_document(&file, chunk, &mut out);
    }
    out
}

/// Parses every document of a text into `T` (strictly, with located errors), for files that
/// are not Kubernetes objects (meshsim's test files, peers' suites). Each document comes with
/// its origin, so that later checks can point into it.
pub fn parse_documents<T: DeserializeOwned>(
    file: impl Into<Arc<str>>,
    text: &str,
) -> (Vec<(T, Origin)>, Vec<Diagnostic>) {
    let file: Arc<str> = file.into();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for chunk in split_documents(text) {
        let mut ctx = DocCtx {
            file: &file,
            api_version: String::new(),
            text: chunk.text,
            line_offset: chunk.first_line - 1,
            spans: None,
        };
        let spans = match span_pass(&ctx) {
            Ok((_, spans)) => spans,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        ctx.spans = Some(&spans);
        let origin = Origin {
            file: file.clone(),
            line: chunk.first_line,
            spans: spans.clone(),
        };
        match typed::<T>(&ctx, chunk.text) {
            Ok(v) => out.push((v, origin)),
            Err(d) => diags.push(d),
        }
    }
    (out, diags)
}

/// The top-level keys of every document of a text (for telling file formats apart).
pub fn top_level_keys(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut keys = Vec::new();
    for chunk in split_documents(text) {
        if let Ok(tree) =
            serde_saphyr::with_deserializer_from_str_with_options(chunk.text, options(), |de| {
                Spanned::<Node>::deserialize(de)
            })
            && let Node::Map(entries) = &tree.value
        {
            keys.extend(entries.iter().map(|(k, _)| k.value.clone()));
        }
    }
    keys
}

/// One document of a stream: its text and the 1-based line it starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunk<'a> {
    text: &'a str,
    first_line: u32,
}

/// Cuts a stream at `---` and `...` lines. YAML forbids these markers at column 0 inside any
/// scalar, so the cut is exact; a `---` line stays with the document it opens (the parser wants
/// it there, and line numbers then need no correction beyond the chunk's first line).
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    fn is_marker(line: &str, m: &str) -> bool {
        line.strip_prefix(m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
    }
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut offset = 0usize;
    let mut line_no = 1u32;
    for line in text.split_inclusive('\n') {
        if is_marker(line, "---") && offset > start {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
            });
            start = offset;
            start_line = line_no;
        }
        offset += line.len();
        line_no += 1;
        if is_marker(line, "...") {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
            });
            start = offset;
            start_line = line_no;
        }
    }
    if start < text.len() {
        chunks.push(Chunk {
            text: &text[start..],
            first_line: start_line,
        });
    }
    chunks
        .into_iter()
        .filter(|c| !is_blank_document(c.text))
        .collect()
}

/// A chunk with nothing but markers, comments and blank lines (kubectl skips those).
fn is_blank_document(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

fn options() -> Options {
    let mut o = Options::default();
    o.with_snippet = false;
    // Istio objects nest about ten deep; 64 leaves room and still stops hostile nesting early.
    if let Some(b) = o.budget.as_mut() {
        b.max_total_scalar_bytes = 16 * 1024 * 1024;
        b.max_documents = 1;
    }
    o
}

/// Per-document context for turning parser errors into diagnostics.
struct DocCtx<'a> {
    file: &'a Arc<str>,
    api_version: String,
    text: &'a str,
    line_offset: u32,
    spans: Option<&'a SpanIndex>,
}

impl DocCtx<'_> {
    fn location(&self, loc: Option<serde_saphyr::Location>, path: &YamlPath) -> Location {
        match loc.filter(|l| l.line() > 0) {
            Some(l) => Location {
                file: self.file.clone(),
                line: (l.line() as u32).saturating_add(self.line_offset),
                column: l.column() as u32,
            },
            None => {
                let pos = self.spans.and_then(|s| s.locate(path)).unwrap_or(Pos {
                    line: self.line_offset + 1,
                    column: 1,
                });
                Location {
                    file: self.file.clone(),
                    line: pos.line,
                    column: pos.column,
                }
            }
        }
    }

    /// The source text of the token at this location (for "found `ten`").
    fn token(&self, loc: Option<serde_saphyr::Location>) -> Option<&str> {
        let span = loc?.span();
        let start = span.byte_offset()? as usize;
        let len = span.byte_len()? as usize;
        let s = self.text.get(start..start.checked_add(len)?)?;
        let s = s.trim();
        (!s.is_empty() && s.len() <= 80).then_some(s)
    }
}

/// Pass A over one document: its span tree and the index of every field's location. Its
/// failure is the document's syntax error.
fn span_pass(ctx: &DocCtx<'_>) -> Result<(Spanned<Node>, Arc<SpanIndex>), Diagnostic> {
    let tree = serde_saphyr::with_deserializer_from_str_with_options(ctx.text, options(), |de| {
        Spanned::<Node>::deserialize(de)
    })
    .map_err(|e| error_to_diagnostic(ctx, &e, &YamlPath::root()))?;
    let spans = Arc::new(SpanIndex::build(&tree, ctx.line_offset));
    Ok((tree, spans))
}

fn parse_document(file: &Arc<str>, chunk: Chunk<'_>, out: &mut ParsedFile) {
    let mut ctx = DocCtx {
        file,
        api_version: String::new(),
        text: chunk.text,
        line_offset: chunk.first_line - 1,
        spans: None,
    };
    let (tree, spans) = match span_pass(&ctx) {
        Ok(t) => t,
        Err(d) => {
            out.diagnostics.push(d);
            return;
        }
    };
    ctx.spans = Some(&spans);
    let origin = Origin {
        file: file.clone(),
        line: chunk.first_line,
        spans: spans.clone(),
    };
    if !matches!(tree.value, Node::Map(_)) {
        out.diagnostics.push(
            Diagnostic::error(
                codes::NOT_AN_OBJECT,
                "a document must be a mapping with `apiVersion` and `kind`",
            )
            .at(origin.locate(&YamlPath::root())),
        );
        return;
    }

    // Lenient header pass.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        api_version: Option<IgnoredString>,
        kind: Option<IgnoredString>,
        metadata: Option<IgnoredAny>,
    }
    let header: Header = match typed(&ctx, chunk.text) {
        Ok(h) => h,
        Err(d) => {
            out.diagnostics.push(d);
            return;
        }
    };
    let (Some(IgnoredString(api_version)), Some(IgnoredString(kind_name))) =
        (header.api_version, header.kind)
    else {
        // meshsim's own files (traffic specs, policy tests) and peers' test suites may sit in a
        // policy folder; `-f folder` skips them instead of failing on them.
        if let Some(kind) = own_file_kind(&spans) {
            out.ignored.push(Ignored {
                kind: kind.to_string(),
                api_version: "meshsim".to_string(),
                name: None,
                location: origin.locate(&YamlPath::root()),
            });
            return;
        }
        let missing = YamlPath::root().key("kind");
        out.diagnostics.push(
            Diagnostic::error(
                codes::NOT_AN_OBJECT,
                "a Kubernetes object needs both `apiVersion` and `kind` strings",
            )
            .at(origin.locate(&missing))
            .with_hint("e.g. `apiVersion: networking.istio.io/v1` and `kind: VirtualService`"),
        );
        return;
    };
    let _ = header.metadata;
    ctx.api_version = api_version.clone();
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version.as_str()),
    };
    let kind = Kind::from_name(&kind_name)
        .filter(|k| k.api().0 == group || kind_name == "Deployment" && group == "extensions");
    let Some(kind) = kind else {
        out.ignored.push(Ignored {
            kind: kind_name,
            api_version: api_version.clone(),
            name: None,
            location: origin.start(),
        });
        fill_ignored_name(&ctx, chunk.text, out);
        return;
    };
    let versions = kind.api().1;
    let legacy_extensions = group == "extensions" && version == "v1beta1";
    if !(versions.contains(&version) || legacy_extensions) {
        out.diagnostics.push(
            Diagnostic::warning(
                codes::UNKNOWN_API_VERSION,
                format!("{kind} at apiVersion `{api_version}` is not one meshsim reads; skipped"),
            )
            .at(origin.locate(&YamlPath::root().key("apiVersion")))
            .with_path("apiVersion")
            .with_hint(format!(
                "meshsim reads {kind} at {}",
                versions
                    .iter()
                    .map(|v| if group.is_empty() {
                        format!("`{v}`")
                    } else {
                        format!("`{group}/{v}`")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
        return;
    }

    let res = match kind {
        Kind::VirtualService => {
            istio(&ctx, chunk.text, kind, &origin).map(AnyResource::VirtualService)
        }
        Kind::DestinationRule => {
            istio(&ctx, chunk.text, kind, &origin).map(AnyResource::DestinationRule)
        }
        Kind::Gateway => istio(&ctx, chunk.text, kind, &origin).map(AnyResource::Gateway),
        Kind::ServiceEntry => istio(&ctx, chunk.text, kind, &origin).map(AnyResource::ServiceEntry),
        Kind::WorkloadEntry => {
            istio(&ctx, chunk.text, kind, &origin).map(AnyResource::WorkloadEntry)
        }
        Kind::Deployment | Kind::StatefulSet | Kind::ReplicaSet => {
            kube::<WorkloadSpec>(&ctx, chunk.text, kind, &origin).map(AnyResource::Workload)
        }
        Kind::Service => {
            kube::<ServiceSpec>(&ctx, chunk.text, kind, &origin).map(AnyResource::Service)
        }
        Kind::Namespace => kube::<IgnoredAny>(&ctx, chunk.text, kind, &origin).map(|r| {
            AnyResource::Namespace(Resource {
                spec: (),
                ..retag(r)
            })
        }),
        Kind::Pod => pod(&ctx, chunk.text, &origin).map(AnyResource::Pod),
        Kind::IstioOperator => {
            kube::<IstioOperatorSpec>(&ctx, chunk.text, kind, &origin).map(|r| {
                let mesh = r.spec.mesh_config.clone().unwrap_or_default();
                AnyResource::MeshConfig(Resource {
                    spec: mesh,
                    ..retag(r)
                })
            })
        }
        Kind::ConfigMap => match config_map(&ctx, chunk.text, &origin) {
            Ok(Some(r)) => Ok(AnyResource::MeshConfig(r)),
            Ok(None) => {
                out.ignored.push(Ignored {
                    kind: kind_name,
                    api_version,
                    name: None,
                    location: origin.start(),
                });
                fill_ignored_name(&ctx, chunk.text, out);
                return;
            }
            Err(d) => Err(d),
        },
    };
    match res {
        Ok(r) => out.resources.push(r),
        Err(d) => out.diagnostics.push(d),
    }
}

/// Recognises meshsim's own YAML files by their top-level key.
fn own_file_kind(spans: &SpanIndex) -> Option<&'static str> {
    let has = |k: &str| spans.get(&YamlPath::root().key(k)).is_some();
    if has("mix") {
        Some("meshsim traffic spec")
    } else if has("tests") || has("testCases") {
        Some("meshsim tests")
    } else {
        None
    }
}

fn retag<T, U: Default>(r: Resource<T>) -> Resource<U> {
    Resource {
        kind: r.kind,
        api_version: r.api_version,
        name: r.name,
        namespace: r.namespace,
        labels: r.labels,
        annotations: r.annotations,
        spec: U::default(),
        origin: r.origin,
    }
}

/// Reads `metadata.name` of an ignored document, leniently, for the listing.
fn fill_ignored_name(ctx: &DocCtx<'_>, text: &str, out: &mut ParsedFile) {
    #[derive(Deserialize)]
    struct M {
        metadata: Option<Meta>,
    }
    #[derive(Deserialize)]
    struct Meta {
        name: Option<IgnoredString>,
    }
    if let Ok(M {
        metadata: Some(Meta {
            name: Some(IgnoredString(n)),
        }),
    }) = typed::<M>(ctx, text)
        && let Some(last) = out.ignored.last_mut()
    {
        last.name = Some(n);
    }
}

/// A string field read leniently (any scalar becomes its text).
struct IgnoredString(String);

impl<'de> Deserialize<'de> for IgnoredString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(IgnoredString)
    }
}

/// Istio objects: strict at every level but `metadata` (Kubernetes' ObjectMeta has many fields
/// meshsim does not need) and `status` (written by the cluster).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IstioObject<T> {
    #[allow(dead_code)]
    api_version: IgnoredAny,
    #[allow(dead_code)]
    kind: IgnoredAny,
    #[serde(default)]
    metadata: ObjectMeta,
    spec: T,
    #[allow(dead_code)]
    status: Option<IgnoredAny>,
}

/// Kubernetes objects: lenient (Deployments carry images, env, probes, ...).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KubeObject<T> {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default = "Option::default")]
    spec: Option<T>,
}

fn istio<T: DeserializeOwned>(
    ctx: &DocCtx<'_>,
    text: &str,
    kind: Kind,
    origin: &Origin,
) -> Result<Resource<T>, Diagnostic> {
    let obj: IstioObject<T> = typed(ctx, text)?;
    resource(ctx, kind, obj.metadata, obj.spec, origin)
}

fn kube<T: DeserializeOwned + Default>(
    ctx: &DocCtx<'_>,
    text: &str,
    kind: Kind,
    origin: &Origin,
) -> Result<Resource<T>, Diagnostic> {
    let obj: KubeObject<T> = typed(ctx, text)?;
    resource(
        ctx,
        kind,
        obj.metadata,
        obj.spec.unwrap_or_default(),
        origin,
    )
}

fn pod(ctx: &DocCtx<'_>, text: &str, origin: &Origin) -> Result<Resource<PodObject>, Diagnostic> {
    #[derive(Deserialize)]
    struct PodDoc {
        #[serde(default)]
        metadata: ObjectMeta,
        #[serde(default)]
        spec: PodSpec,
        #[serde(default)]
        status: PodStatus,
    }
    let d: PodDoc = typed(ctx, text)?;
    resource(
        ctx,
        Kind::Pod,
        d.metadata,
        PodObject {
            spec: d.spec,
            status: d.status,
        },
        origin,
    )
}

/// The `istio` ConfigMap holds the mesh config as YAML text under `data.mesh`.
fn config_map(
    ctx: &DocCtx<'_>,
    text: &str,
    origin: &Origin,
) -> Result<Option<Resource<MeshConfig>>, Diagnostic> {
    #[derive(Deserialize)]
    struct Cm {
        #[serde(default)]
        metadata: ObjectMeta,
        #[serde(default)]
        data: ConfigMapData,
    }
    let cm: Cm = typed(ctx, text)?;
    let Some(mesh_text) = cm
        .data
        .get("mesh")
        .filter(|_| cm.metadata.name.as_deref() == Some("istio"))
    else {
        return Ok(None);
    };
    let path = YamlPath::root().key("data").key("mesh");
    let mesh: MeshConfig = if mesh_text.trim().is_empty() {
        MeshConfig::default()
    } else {
        serde_saphyr::from_str_with_options(mesh_text, options()).map_err(|e| {
            Diagnostic::error(
                codes::INVALID_VALUE,
                format!(
                    "the mesh config in this ConfigMap is not valid: {}",
                    plain_message(&e)
                ),
            )
            .at(origin.locate(&path))
            .with_path(path.to_string())
        })?
    };
    resource(ctx, Kind::ConfigMap, cm.metadata, mesh, origin).map(Some)
}

fn resource<T>(
    ctx: &DocCtx<'_>,
    kind: Kind,
    meta: ObjectMeta,
    spec: T,
    origin: &Origin,
) -> Result<Resource<T>, Diagnostic> {
    let name_path = YamlPath::root().key("metadata").key("name");
    let Some(name) = meta.name.filter(|n| !n.is_empty()) else {
        return Err(Diagnostic::error(
            codes::MISSING_FIELD,
            format!("{kind} has no `metadata.name`"),
        )
        .at(origin.locate(&name_path))
        .with_path(name_path.to_string()));
    };
    let api_version = ctx.api_version.clone();
    Ok(Resource {
        kind,
        api_version,
        name,
        namespace: meta
            .namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string()),
        labels: meta.labels,
        annotations: meta.annotations,
        spec,
        origin: origin.clone(),
    })
}

/// Strict typed pass over one document, with the field path of the first error.
fn typed<T: DeserializeOwned>(ctx: &DocCtx<'_>, text: &str) -> Result<T, Diagnostic> {
    let mut path = None;
    let r = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(convert_path(e.path()));
            e.into_inner()
        })
    });
    r.map_err(|e| error_to_diagnostic(ctx, &e, &path.unwrap_or_default()))
}

fn convert_path(p: &serde_path_to_error::Path) -> YamlPath {
    use serde_path_to_error::Segment as S;
    YamlPath(
        p.iter()
            .filter_map(|s| match s {
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Enum { variant } => Some(Segment::Key(variant.clone())),
                S::Unknown => None,
            })
            .collect(),
    )
}

/// The error's message without the " at line X, column Y" that the parser appends.
fn plain_message(e: &YamlError) -> String {
    let s = e.to_string();
    let s = s.lines().next().unwrap_or("").trim().to_string();
    match s.rfind(" at line ") {
        Some(i) if s[i..].contains("column") => s[..i].to_string(),
        _ => s,
    }
}

fn list(expected: &[&str]) -> String {
    if expected.is_empty() {
        return "no fields".to_string();
    }
    expected
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest known name, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(found: &str, expected: &[&'a str]) -> Option<&'a str> {
    let found_l = found.to_ascii_lowercase();
    expected
        .iter()
        .map(|e| (strsim::jaro_winkler(&found_l, &e.to_ascii_lowercase()), *e))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, e)| e)
}

fn error_to_diagnostic(ctx: &DocCtx<'_>, e: &YamlError, path: &YamlPath) -> Diagnostic {
    let mut e = e;
    while let YamlError::WithSnippet { error, .. } = e {
        e = error;
    }
    let loc = e.location();
    let (code, message, hint, path): (Code, String, Option<String>, YamlPath) = match e {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let p = if path.0.last() == Some(&Segment::Key(field.clone())) {
                path.clone()
            } else {
                path.key(field.clone())
            };
            (
                codes::UNKNOWN_FIELD,
                format!(
                    "unknown field `{field}`, expected one of {}",
                    list(expected)
                ),
                did_you_mean(field, expected).map(|m| format!("did you mean `{m}`?")),
                p,
            )
        }
        YamlError::SerdeMissingField { field, .. } => (
            codes::MISSING_FIELD,
            format!("missing required field `{field}`"),
            None,
            path.key(*field),
        ),
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => (
            codes::INVALID_VALUE,
            format!(
                "unknown value `{variant}`, expected one of {}",
                list(expected)
            ),
            did_you_mean(variant, expected).map(|m| format!("did you mean `{m}`?")),
            path.clone(),
        ),
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => (
            codes::WRONG_TYPE,
            format!("expected {expected}, found {unexpected}"),
            None,
            path.clone(),
        ),
        YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => (
            codes::INVALID_VALUE,
            format!("expected {expected}, found {unexpected}"),
            None,
            path.clone(),
        ),
        YamlError::InvalidScalar { ty, .. } => {
            let found = ctx
                .token(loc)
                .map(|t| format!(", found `{t}`"))
                .unwrap_or_default();
            (
                codes::WRONG_TYPE,
                format!("expected {}{found}", describe_type(ty)),
                None,
                path.clone(),
            )
        }
        YamlError::Message { msg, .. } => (codes::INVALID_VALUE, msg.clone(), None, path.clone()),
        YamlError::DuplicateMappingKey { key, .. } => (
            codes::DUPLICATE_KEY,
            match key {
                Some(k) => format!("duplicate key `{k}`"),
                None => "duplicate key".to_string(),
            },
            Some("a key may appear only once in a mapping; remove one of them".to_string()),
            path.clone(),
        ),
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => (
            codes::LIMIT,
            format!("document exceeds meshsim's limits: {}", plain_message(e)),
            Some(
                "Istio and Kubernetes objects nest about ten levels deep and use few aliases"
                    .to_string(),
            ),
            YamlPath::root(),
        ),
        _ => (
            codes::SYNTAX,
            format!("invalid YAML: {}", plain_message(e)),
            None,
            YamlPath::root(),
        ),
    };
    let mut d = Diagnostic::error(code, message)
        .at(ctx.location(loc, &path))
        .with_path(path.to_string());
    if let Some(h) = hint {
        d = d.with_hint(h);
    }
    d
}

fn describe_type(ty: &str) -> String {
    match ty {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_string(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "bool" => "`true` or `false`".to_string(),
        t => format!("a value of type {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_line_numbers_and_skips_empty_documents() {
        let text = "---\r\na: 1\r\n---\r\n# only a comment\r\n---\r\nb: 2";
        let chunks = split_documents(text);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].first_line, 1);
        assert_eq!(chunks[1].first_line, 5);
        assert!(chunks[1].text.ends_with("b: 2"));
    }

    #[test]
    fn markers_need_column_zero_and_a_separator() {
        let text = "a: |\n  ---\nb: ---x\n---x: 1\n";
        assert_eq!(split_documents(text).len(), 1);
    }

    #[test]
    fn did_you_mean_finds_close_names_only() {
        let fields = ["mirror", "mirrorPercentage", "mirrors", "route"];
        assert_eq!(
            did_you_mean("mirrorPercent", &fields),
            Some("mirrorPercentage")
        );
        assert_eq!(did_you_mean("xyz", &fields), None);
    }
}
