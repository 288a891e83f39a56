//! Step 3: one document's header read leniently (`apiVersion`, `kind`), then the whole
//! document read strictly into its kind's type.

use super::documents::Chunk;
use super::errors::{convert_path, error_to_diagnostic, plain_message};
use super::spans::{DocCtx, options, span_pass};
use super::{AnyResource, Ignored, Kind, ObjectMeta, Origin, ParsedFile, PodObject, Resource};
use crate::config::kube::{
    ConfigMapData, IstioOperatorSpec, MeshConfig, PodSpec, PodStatus, ServiceSpec, WorkloadSpec,
};
use crate::config::span::{Node, Pos, SpanIndex, YamlPath};
use crate::diag::{Diagnostic, Location, codes};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use std::sync::Arc;

/// One document: the span pass, the lenient header, the kind, then the strict typed pass.
/// Every failure lands in `out` as a located diagnostic (or an ignored entry) and the next
/// document is read regardless.
pub(super) fn parse_document(
    file: &Arc<str>,
    chunk: Chunk<'_>,
    namespace: (&str, bool),
    out: &mut ParsedFile,
) {
    let mut ctx = DocCtx {
        file,
        api_version: String::new(),
        text: chunk.text,
        line_offset: chunk.first_line - 1,
        spans: None,
        namespace,
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
    let Some((api_version, kind_name)) = header(&ctx, &spans, &origin, out) else {
        return;
    };
    if kind_name == "List" && api_version == "v1" {
        list_items(file, chunk, &spans, namespace, out);
        return;
    }
    ctx.api_version = api_version.clone();
    let Some(kind) = known_kind(&ctx, &api_version, &kind_name, &origin, out) else {
        return;
    };
    match read_kind(&ctx, kind, &origin) {
        Ok(Some(r)) => out.resources.push(r),
        Ok(None) => ignore(&ctx, kind_name, api_version, &origin, out),
        Err(d) => out.diagnostics.push(d),
    }
}

/// `kind: List`, what `kubectl get -o yaml` prints: each of its `items` is read as a
/// document of its own, in place (the lines before it blank, its `- ` replaced by spaces), so
/// that every line and column of a diagnostic stays the file's. Items must be in block style,
/// as kubectl writes them.
fn list_items(
    file: &Arc<str>,
    chunk: Chunk<'_>,
    spans: &SpanIndex,
    namespace: (&str, bool),
    out: &mut ParsedFile,
) {
    let lines: Vec<&str> = chunk.text.split_inclusive('\n').collect();
    let items = YamlPath::root().key("items");
    let starts: Vec<Pos> = (0..)
        .map_while(|i| spans.get(&items.index(i)).map(|s| s.value))
        .collect();
    for (i, start) in starts.iter().enumerate() {
        let first = (start.line - chunk.first_line) as usize;
        // The item's mapping starts after its `- `; its lines are indented at least that far.
        let indent = start.column.saturating_sub(1) as usize;
        let end = match starts.get(i + 1) {
            Some(next) => (next.line - chunk.first_line) as usize,
            None => (first + 1..lines.len())
                .find(|&k| {
                    let l = lines[k];
                    let t = l.trim_start();
                    !t.is_empty() && !t.starts_with('#') && l.len() - t.len() < indent
                })
                .unwrap_or(lines.len()),
        };
        let Some(head) = lines.get(first).filter(|l| l.len() > indent && first < end) else {
            out.diagnostics.push(
                Diagnostic::error(
                    codes::NOT_AN_OBJECT,
                    "a List's items must be written in block style, one `- ` per item, as kubectl prints them",
                )
                .at(Location {
                    file: file.clone(),
                    line: start.line,
                    column: start.column,
                }),
            );
            continue;
        };
        let mut text = " ".repeat(indent);
        text.push_str(&head[indent..]);
        for l in &lines[first + 1..end] {
            text.push_str(l);
        }
        let item = Chunk {
            text: &text,
            first_line: start.line,
        };
        parse_document(file, item, namespace, out);
    }
}

/// The lenient header pass: `apiVersion` and `kind` as strings. meshsim's own files (traffic
/// specs, policy tests) and peers' suites have neither; `-f folder` skips them.
fn header(
    ctx: &DocCtx<'_>,
    spans: &SpanIndex,
    origin: &Origin,
    out: &mut ParsedFile,
) -> Option<(String, String)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        api_version: Option<IgnoredString>,
        kind: Option<IgnoredString>,
        #[allow(dead_code)]
        metadata: Option<IgnoredAny>,
    }
    let header: Header = match typed(ctx, ctx.text) {
        Ok(h) => h,
        Err(d) => {
            out.diagnostics.push(d);
            return None;
        }
    };
    if let (Some(IgnoredString(api_version)), Some(IgnoredString(kind))) =
        (header.api_version, header.kind)
    {
        return Some((api_version, kind));
    }
    if let Some(kind) = own_file_kind(spans) {
        out.ignored.push(Ignored {
            kind: kind.to_string(),
            api_version: "meshsim".to_string(),
            name: None,
            location: origin.locate(&YamlPath::root()),
        });
        return None;
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
    None
}

/// A kind meshsim reads, at a version it reads; other kinds are listed as ignored, other
/// versions of a known kind are a warning.
fn known_kind(
    ctx: &DocCtx<'_>,
    api_version: &str,
    kind_name: &str,
    origin: &Origin,
    out: &mut ParsedFile,
) -> Option<Kind> {
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let kind = Kind::from_name(kind_name, group)
        .filter(|k| k.api().0 == group || kind_name == "Deployment" && group == "extensions");
    let Some(kind) = kind else {
        ignore(ctx, kind_name.into(), api_version.into(), origin, out);
        return None;
    };
    let versions = kind.api().1;
    let legacy_extensions = group == "extensions" && version == "v1beta1";
    if versions.contains(&version) || legacy_extensions {
        return Some(kind);
    }
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
    None
}

/// The strict typed pass for the kind. `Ok(None)`: a document of a known kind that carries
/// nothing meshsim reads (a ConfigMap other than `istio`).
fn read_kind(
    ctx: &DocCtx<'_>,
    kind: Kind,
    origin: &Origin,
) -> Result<Option<AnyResource>, Diagnostic> {
    let text = ctx.text;
    let r = match kind {
        Kind::VirtualService => istio(ctx, text, kind, origin).map(AnyResource::VirtualService),
        Kind::DestinationRule => istio(ctx, text, kind, origin).map(AnyResource::DestinationRule),
        Kind::Gateway => istio(ctx, text, kind, origin).map(AnyResource::Gateway),
        Kind::ServiceEntry => istio(ctx, text, kind, origin).map(AnyResource::ServiceEntry),
        Kind::WorkloadEntry => istio(ctx, text, kind, origin).map(AnyResource::WorkloadEntry),
        Kind::Deployment | Kind::StatefulSet | Kind::ReplicaSet => {
            kube::<WorkloadSpec>(ctx, text, kind, origin).map(AnyResource::Workload)
        }
        Kind::Service => kube::<ServiceSpec>(ctx, text, kind, origin).map(AnyResource::Service),
        Kind::Namespace => kube::<IgnoredAny>(ctx, text, kind, origin).map(|r| {
            AnyResource::Namespace(Resource {
                spec: (),
                ..retag(r)
            })
        }),
        Kind::Pod => pod(ctx, text, origin).map(AnyResource::Pod),
        Kind::IstioOperator => kube::<IstioOperatorSpec>(ctx, text, kind, origin).map(|r| {
            let mesh = r.spec.mesh();
            AnyResource::MeshConfig(Resource {
                spec: mesh,
                ..retag(r)
            })
        }),
        Kind::ConfigMap => return Ok(config_map(ctx, text, origin)?.map(AnyResource::MeshConfig)),
        Kind::GatewayClass => istio(ctx, text, kind, origin).map(AnyResource::GatewayClass),
        Kind::KubeGateway => istio(ctx, text, kind, origin).map(AnyResource::KubeGateway),
        Kind::HttpRoute => istio(ctx, text, kind, origin).map(AnyResource::HttpRoute),
        Kind::GrpcRoute => istio(ctx, text, kind, origin).map(AnyResource::GrpcRoute),
        Kind::ReferenceGrant => istio(ctx, text, kind, origin).map(AnyResource::ReferenceGrant),
    };
    r.map(Some)
}

/// Lists a document meshsim does not read, with its name when it has one.
fn ignore(
    ctx: &DocCtx<'_>,
    kind: String,
    api_version: String,
    origin: &Origin,
    out: &mut ParsedFile,
) {
    out.ignored.push(Ignored {
        kind,
        api_version,
        name: None,
        location: origin.start(),
    });
    fill_ignored_name(ctx, ctx.text, out);
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
        creation_timestamp: r.creation_timestamp,
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
    // istioctl's install files need no name (`istioctl install -f` names the installation).
    let unnamed_ok = kind == Kind::IstioOperator;
    let name = meta
        .name
        .filter(|n| !n.is_empty())
        .or_else(|| unnamed_ok.then(|| "(unnamed)".to_string()));
    let Some(name) = name else {
        return Err(Diagnostic::error(
            codes::MISSING_FIELD,
            format!("{kind} has no `metadata.name`"),
        )
        .at(origin.locate(&name_path))
        .with_path(name_path.to_string()));
    };
    let api_version = ctx.api_version.clone();
    let (default_ns, asked) = ctx.namespace;
    let namespace = match meta.namespace.filter(|n| !n.is_empty()) {
        Some(n) if asked && n != default_ns => {
            let path = YamlPath::root().key("metadata").key("namespace");
            return Err(Diagnostic::error(
                codes::INVALID_VALUE,
                format!(
                    "{kind} {name}: namespace `{n}` does not match the namespace `{default_ns}` given with --namespace"
                ),
            )
            .at(origin.locate(&path))
            .with_path(path.to_string())
            .with_hint("kubectl apply -n refuses this too: drop one of the two"));
        }
        Some(n) => n,
        None => default_ns.to_string(),
    };
    Ok(Resource {
        kind,
        api_version,
        name,
        namespace,
        labels: meta.labels,
        annotations: meta.annotations,
        creation_timestamp: meta.creation_timestamp,
        spec,
        origin: origin.clone(),
    })
}

/// Strict typed pass over one document, with the field path of the first error.
pub(super) fn typed<T: DeserializeOwned>(ctx: &DocCtx<'_>, text: &str) -> Result<T, Diagnostic> {
    typed_raw(text).map_err(|(e, path)| error_to_diagnostic(ctx, &e, &path))
}

/// The typed pass with the parser's own error, for callers that look into it.
pub(super) fn typed_raw<T: DeserializeOwned>(
    text: &str,
) -> Result<T, (serde_saphyr::Error, YamlPath)> {
    let mut path = None;
    let r = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(convert_path(e.path()));
            e.into_inner()
        })
    });
    r.map_err(|e| (e, path.unwrap_or_default()))
}
