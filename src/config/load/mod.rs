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
//!
//! The files: `documents` cuts the stream (1), `spans` holds the span pass and the per-document
//! context (2), `dispatch` reads the header and the kind's type (3), `errors` writes the
//! diagnostics (4).

mod dispatch;
mod documents;
mod errors;
mod lenient;
mod spans;

#[cfg(test)]
use errors::did_you_mean;

use super::gateway_api::{
    GatewayClassSpec, GrpcRouteSpec, HttpRouteSpec, KubeGatewaySpec, ReferenceGrantSpec,
};
use super::kube::{MeshConfig, PodSpec, PodStatus, ServiceSpec, WorkloadSpec};
use super::span::{Node, Pos, SpanIndex, YamlPath};
use super::{DestinationRule, Gateway, ServiceEntry, VirtualService, WorkloadEntry};
use crate::diag::{Diagnostic, Location};
use dispatch::{parse_document, typed};
use documents::split_documents;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_saphyr::Spanned;
use spans::{DocCtx, options, span_pass};
use std::fmt;
use std::sync::Arc;

/// The Gateway API's group.
pub const GATEWAY_API: &str = "gateway.networking.k8s.io";

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
    /// gateway.networking.k8s.io GatewayClass.
    GatewayClass,
    /// gateway.networking.k8s.io Gateway.
    KubeGateway,
    /// gateway.networking.k8s.io HTTPRoute.
    HttpRoute,
    /// gateway.networking.k8s.io GRPCRoute.
    GrpcRoute,
    /// gateway.networking.k8s.io ReferenceGrant.
    ReferenceGrant,
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
            Kind::GatewayClass => "GatewayClass",
            Kind::KubeGateway => "Gateway",
            Kind::HttpRoute => "HTTPRoute",
            Kind::GrpcRoute => "GRPCRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
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
            // v1alpha2 is Istio 1.4's IstioControlPlane.
            Kind::IstioOperator => ("install.istio.io", &["v1alpha1", "v1alpha2"]),
            // Istio serves v1 and v1beta1, and v1alpha2 for GRPCRoute and ReferenceGrant.
            Kind::GatewayClass
            | Kind::KubeGateway
            | Kind::HttpRoute
            | Kind::GrpcRoute
            | Kind::ReferenceGrant => (GATEWAY_API, &["v1", "v1beta1", "v1alpha2"]),
        }
    }

    /// Whether the kind is one of the Gateway API's.
    pub fn is_gateway_api(self) -> bool {
        self.api().0 == GATEWAY_API
    }

    fn from_name(kind: &str, group: &str) -> Option<Kind> {
        if group == GATEWAY_API {
            return Some(match kind {
                "GatewayClass" => Kind::GatewayClass,
                "Gateway" => Kind::KubeGateway,
                "HTTPRoute" => Kind::HttpRoute,
                "GRPCRoute" => Kind::GrpcRoute,
                "ReferenceGrant" => Kind::ReferenceGrant,
                _ => return None,
            });
        }
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
            "IstioOperator" | "IstioControlPlane" => Kind::IstioOperator,
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
    /// `creationTimestamp` (RFC 3339), which orders Gateway API routes.
    pub creation_timestamp: Option<String>,
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
    /// `metadata.creationTimestamp`, if written.
    pub creation_timestamp: Option<String>,
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
    /// GatewayClass.
    GatewayClass(Resource<GatewayClassSpec>),
    /// Gateway (`gateway.networking.k8s.io`).
    KubeGateway(Resource<KubeGatewaySpec>),
    /// HTTPRoute.
    HttpRoute(Resource<HttpRouteSpec>),
    /// GRPCRoute.
    GrpcRoute(Resource<GrpcRouteSpec>),
    /// ReferenceGrant.
    ReferenceGrant(Resource<ReferenceGrantSpec>),
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
            AnyResource::GatewayClass(r) => id!(r),
            AnyResource::KubeGateway(r) => id!(r),
            AnyResource::HttpRoute(r) => id!(r),
            AnyResource::GrpcRoute(r) => id!(r),
            AnyResource::ReferenceGrant(r) => id!(r),
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
    parse_yaml_with(file, text, None)
}

/// [`parse_yaml`] as `kubectl apply -n NAMESPACE` reads: objects that name no namespace are
/// put in `namespace`, and one that names another is an error.
///
/// ```
/// use meshsim::config::{AnyResource, parse_yaml_with};
/// let p = parse_yaml_with("vs.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec: {hosts: [a]}\n", Some("shop"));
/// let AnyResource::VirtualService(vs) = &p.resources[0] else { panic!() };
/// assert_eq!(vs.namespace, "shop");
/// let p = parse_yaml_with("vs.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: other}\nspec: {hosts: [a]}\n", Some("shop"));
/// assert!(p.diagnostics[0].message.contains("does not match the namespace `shop`"));
/// ```
pub fn parse_yaml_with(
    file: impl Into<Arc<str>>,
    text: &str,
    namespace: Option<&str>,
) -> ParsedFile {
    let file: Arc<str> = file.into();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = ParsedFile::default();
    let ns = (namespace.unwrap_or("default"), namespace.is_some());
    for chunk in split_documents(text) {
        parse_document(&file, chunk, ns, &mut out);
    }
    out
}

/// What [`parse_documents_with`] does with a field the type does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// An error, and the document is not read.
    #[default]
    Reject,
    /// A warning, and the field is dropped (istio-config-validator's reading of its test
    /// files unless `--strict`).
    Warn,
}

/// Parses every document of a text into `T` (strictly, with located errors), for files that
/// are not Kubernetes objects (meshsim's test files, peers' suites). Each document comes with
/// its origin, so that later checks can point into it.
pub fn parse_documents<T: DeserializeOwned>(
    file: impl Into<Arc<str>>,
    text: &str,
) -> (Vec<(T, Origin)>, Vec<Diagnostic>) {
    parse_documents_with(file, text, UnknownFields::Reject)
}

/// [`parse_documents`], choosing what an unknown field does. Warnings come in the same list
/// as errors, in document order; a document with warnings only is read.
///
/// ```
/// use meshsim::config::{UnknownFields, parse_documents_with};
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Case { name: String }
/// let text = "name: a\nnmae: b\n";
/// let (docs, diags) = parse_documents_with::<Case>("t.yaml", text, UnknownFields::Warn);
/// assert_eq!(docs[0].0.name, "a");
/// assert!(!diags[0].is_error());
/// assert!(diags[0].to_string().starts_with("t.yaml:2:1: nmae: warning"));
/// let (docs, diags) = parse_documents_with::<Case>("t.yaml", text, UnknownFields::Reject);
/// assert!(docs.is_empty() && diags[0].is_error());
/// ```
pub fn parse_documents_with<T: DeserializeOwned>(
    file: impl Into<Arc<str>>,
    text: &str,
    unknown: UnknownFields,
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
            namespace: ("default", false),
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
        let read = match unknown {
            UnknownFields::Reject => typed::<T>(&ctx, chunk.text).map(|v| (v, Vec::new())),
            UnknownFields::Warn => lenient::typed_dropping_unknown::<T>(&ctx, chunk.text),
        };
        match read {
            Ok((v, warnings)) => {
                diags.extend(warnings);
                out.push((v, origin));
            }
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

#[cfg(test)]
mod tests {
    use super::documents::split_documents;
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
