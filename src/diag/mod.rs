//! Located diagnostics: every problem meshsim reports, from a YAML syntax error to a route that can
//! never match, is one [`Diagnostic`] that knows its file, line, column and YAML field path.
//!
//! The shape follows compilers users already read every day: `FILE:LINE:COLUMN: PATH: message`,
//! with a severity and a stable code (`error[MS0013]`) so that CI logs and JSON consumers can
//! filter on it. Rendering is kept apart from the data ([`render`]): one function per format.

pub mod render;

use std::fmt;
use std::sync::Arc;

/// How bad a finding is. Errors make `meshsim validate` exit 1; warnings do not (unless `--strict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational: e.g. a kind that meshsim does not simulate and skipped.
    Info,
    /// Admissible, but probably not what the author meant.
    Warning,
    /// Istio (or Kubernetes) would reject it, or meshsim cannot read it.
    Error,
}

impl Severity {
    /// The lowercase word used in human and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stable diagnostic code. The numbers never change meaning once released; new problems get
/// new numbers. `MS00xx` are loading problems, `MS01xx` model problems (resources that do not fit
/// together as Kubernetes would accept them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub &'static str);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The catalogue of codes, so that every producer and every test names the same constant.
pub mod codes {
    use super::Code;
    /// A file or directory could not be read.
    pub const IO: Code = Code("MS0001");
    /// A file is not UTF-8 text.
    pub const NOT_UTF8: Code = Code("MS0002");
    /// A file is larger than meshsim reads.
    pub const TOO_LARGE: Code = Code("MS0003");
    /// Malformed YAML (or JSON).
    pub const SYNTAX: Code = Code("MS0010");
    /// A document without `apiVersion` or `kind`, or not a mapping.
    pub const NOT_AN_OBJECT: Code = Code("MS0011");
    /// A value of the wrong type (a string where a number belongs, ...).
    pub const WRONG_TYPE: Code = Code("MS0012");
    /// A field that the resource's schema does not have.
    pub const UNKNOWN_FIELD: Code = Code("MS0013");
    /// A required field is missing.
    pub const MISSING_FIELD: Code = Code("MS0014");
    /// A value of the right type but not an allowed one (an unknown enum value, a bad duration).
    pub const INVALID_VALUE: Code = Code("MS0015");
    /// The same key twice in one mapping.
    pub const DUPLICATE_KEY: Code = Code("MS0016");
    /// A resource limit (nesting depth, alias expansion, size) was exceeded.
    pub const LIMIT: Code = Code("MS0017");
    /// A kind meshsim does not simulate; it was skipped.
    pub const IGNORED_KIND: Code = Code("MS0020");
    /// A kind meshsim knows, at an apiVersion it does not.
    pub const UNKNOWN_API_VERSION: Code = Code("MS0021");
    /// A second resource with the same kind, namespace and name replaced the first.
    pub const REPLACED: Code = Code("MS0030");
    /// A number is beyond what meshsim can simulate (replicas, ring sizes, ...).
    pub const OUT_OF_RANGE: Code = Code("MS0031");
    /// Two workloads were given the same address.
    pub const ADDRESS_CONFLICT: Code = Code("MS0032");
    /// A root VirtualService delegates to one that does not exist.
    pub const MISSING_DELEGATE: Code = Code("MS0040");
    /// A delegate's rule conflicts with its root rule's match and is dropped.
    pub const DELEGATE_CONFLICT: Code = Code("MS0041");
    /// Loaded but not simulated (a kind meshsim reads past, a field it does not model): the
    /// answers do not account for it.
    pub const NOT_SIMULATED: Code = Code("MS0050");

    // ===== Istio's admission rules (errors unless noted) =====
    /// A host that is not a valid (wildcard) DNS name or IP, or not allowed here.
    pub const INVALID_HOST: Code = Code("MS1001");
    /// A gateway reference of the wrong form.
    pub const INVALID_GATEWAY_REF: Code = Code("MS1002");
    /// An HTTP rule without an action, or with actions that exclude each other.
    pub const INVALID_ACTION: Code = Code("MS1003");
    /// A string match with several or no usable match types.
    pub const INVALID_STRING_MATCH: Code = Code("MS1004");
    /// A regex RE2 refuses, empty, or longer than 1024 characters.
    pub const INVALID_REGEX: Code = Code("MS1005");
    /// A header name that is not an HTTP token.
    pub const INVALID_HEADER_NAME: Code = Code("MS1006");
    /// A port outside 1..65535.
    pub const INVALID_PORT: Code = Code("MS1007");
    /// A negative weight, or weights that add up to nothing.
    pub const INVALID_WEIGHT: Code = Code("MS1008");
    /// A duration under 1 ms or finer than 1 ms.
    pub const INVALID_DURATION: Code = Code("MS1009");
    /// A retry policy Istio refuses.
    pub const INVALID_RETRIES: Code = Code("MS1010");
    /// A `retryOn` value Envoy does not know.
    pub const INVALID_RETRY_ON: Code = Code("MS1011");
    /// A percentage outside its range.
    pub const INVALID_PERCENTAGE: Code = Code("MS1012");
    /// A fault injection Istio refuses.
    pub const INVALID_FAULT: Code = Code("MS1013");
    /// `mirror` and `mirrors` together, or a mirror without destination.
    pub const INVALID_MIRROR: Code = Code("MS1014");
    /// A redirect Istio refuses.
    pub const INVALID_REDIRECT: Code = Code("MS1015");
    /// A rewrite Istio refuses.
    pub const INVALID_REWRITE: Code = Code("MS1016");
    /// A subset name that is not a DNS-1123 label.
    pub const INVALID_SUBSET_NAME: Code = Code("MS1017");
    /// The same subset name twice.
    pub const DUPLICATE_SUBSET: Code = Code("MS1018");
    /// A label key or value Kubernetes refuses.
    pub const INVALID_LABEL: Code = Code("MS1019");
    /// Load-balancer settings Istio refuses.
    pub const INVALID_LOAD_BALANCER: Code = Code("MS1020");
    /// Outlier-detection settings Istio refuses.
    pub const INVALID_OUTLIER: Code = Code("MS1021");
    /// Connection-pool settings Istio refuses.
    pub const INVALID_POOL: Code = Code("MS1022");
    /// A traffic policy (or port-level setting) that sets nothing.
    pub const EMPTY_POLICY: Code = Code("MS1023");
    /// A gateway server Istio refuses.
    pub const INVALID_SERVER: Code = Code("MS1024");
    /// A ServiceEntry Istio refuses.
    pub const INVALID_SERVICE_ENTRY: Code = Code("MS1025");
    /// A WorkloadEntry Istio refuses.
    pub const INVALID_WORKLOAD_ENTRY: Code = Code("MS1026");
    /// A deprecated field (warning).
    pub const DEPRECATED: Code = Code("MS1027");
    /// A delegate used where Istio does not allow it.
    pub const INVALID_DELEGATE: Code = Code("MS1028");
    /// A Gateway API object that the CRD's schema or its CEL validations reject (the CRD's
    /// own message).
    pub const GATEWAY_API_SCHEMA: Code = Code("MS1030");

    // ===== analysis (warnings) =====
    /// A destination host that no Service or ServiceEntry declares (istioctl IST0101).
    pub const UNKNOWN_HOST: Code = Code("MS2001");
    /// A destination subset no DestinationRule defines (IST0101): 503 NC.
    pub const UNKNOWN_SUBSET: Code = Code("MS2002");
    /// A subset whose labels select no endpoint (IST0173): 503 UH.
    pub const EMPTY_SUBSET: Code = Code("MS2003");
    /// A gateway that does not exist (IST0101).
    pub const UNKNOWN_GATEWAY: Code = Code("MS2004");
    /// A gateway that does not admit the VirtualService's host (IST0132).
    pub const HOST_NOT_IN_GATEWAY: Code = Code("MS2005");
    /// Several sidecar VirtualServices for one host: only the first applies (IST0109).
    pub const CONFLICTING_VIRTUAL_SERVICES: Code = Code("MS2006");
    /// Several DestinationRules for one host: merged, first definition wins.
    pub const MERGED_DESTINATION_RULES: Code = Code("MS2007");
    /// A rule no request can reach (IST0130).
    pub const UNREACHABLE_RULE: Code = Code("MS2008");
    /// A consistent hash behind a weighted split: not sticky across subsets.
    pub const HASH_BEHIND_SPLIT: Code = Code("MS2009");
    /// A cookie regex that misses the cookie in some position of a browser cookie header.
    pub const COOKIE_REGEX_POSITION: Code = Code("MS2010");
    /// A hash ring too small for its endpoints: uneven load.
    pub const SMALL_RING: Code = Code("MS2011");
    /// Retries that the route timeout makes impossible.
    pub const RETRIES_EXCEED_TIMEOUT: Code = Code("MS2012");
    /// A retry policy on a gateway-only VirtualService, which sidecar traffic never sees.
    pub const GATEWAY_ONLY_RETRIES: Code = Code("MS2013");
    /// A Gateway API route that does not attach to a parentRef (the route status's
    /// `Accepted: False` with `NotAllowedByListeners`, `NoMatchingListenerHostname` or
    /// `NoMatchingParent`).
    pub const ROUTE_NOT_ACCEPTED: Code = Code("MS2020");
    /// A Gateway API backendRef that does not resolve (`ResolvedRefs: False` with
    /// `BackendNotFound`, `RefNotPermitted` or `InvalidKind`): its share gets 500.
    pub const BACKEND_NOT_RESOLVED: Code = Code("MS2021");
    /// A Gateway API route istiod drops entirely (an unsupported filter, a backendRef without
    /// a port): it routes nothing.
    pub const ROUTE_DROPPED: Code = Code("MS2022");
    /// A Gateway or listener istiod does not program (not Istio's class, an unsupported
    /// protocol, HTTPS without `tls`).
    pub const LISTENER_NOT_PROGRAMMED: Code = Code("MS2023");
}

/// Where in which file: 1-based line and column (columns count characters, as editors do).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file name as the user gave it (relative paths stay relative).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, see [`codes`].
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// Where it is, when it is anywhere (a missing file has only a file).
    pub location: Option<Location>,
    /// The YAML field path, e.g. `spec.http[0].route[1].weight`; empty for whole-file problems.
    pub path: String,
    /// What is wrong: what was expected and what was found.
    pub message: String,
    /// How to fix it, when we can guess (`did you mean ...`).
    pub hint: Option<String>,
    /// Further places that matter (e.g. the earlier definition a resource replaced).
    pub notes: Vec<(Location, String)>,
}

impl Diagnostic {
    /// A new diagnostic with no location yet.
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            location: None,
            path: String::new(),
            message: message.into(),
            hint: None,
            notes: Vec::new(),
        }
    }

    /// An error.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    /// A warning.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    /// An informational note.
    pub fn info(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message)
    }

    /// Sets where it is.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Sets where it is, if known.
    pub fn at_opt(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    /// Sets the YAML path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a note pointing at another place.
    pub fn with_note(mut self, location: Location, note: impl Into<String>) -> Self {
        self.notes.push((location, note.into()));
        self
    }

    /// Is it an error?
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// The one-line form, `FILE:LINE:COLUMN: PATH: severity[CODE]: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render::one_line(self))
    }
}

/// A list of diagnostics with helpers to count and sort them. It is an error type, so that
/// loading works with `?` in a `main` that returns `Box<dyn Error>`:
///
/// ```
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mesh = meshsim::Mesh::load(&["policies/canary-cookie"])?;
///     assert_eq!(mesh.virtual_services.len(), 1);
///     let err = meshsim::Mesh::load(&["no/such/folder"]).unwrap_err();
///     let boxed: Box<dyn std::error::Error> = Box::new(err);
///     assert!(boxed.to_string().contains("no/such/folder"));
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    /// Each diagnostic as `meshsim validate` prints it (with its hint), one after another;
    /// a count first when there are several.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            writeln!(
                f,
                "{} error(s), {} warning(s):",
                self.error_count(),
                self.0.len() - self.error_count()
            )?;
        }
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&render::human(d))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
    /// Any error?
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    /// Sorted by file, line, column, then code: the order in which people read them.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.location, a.code, &a.path, &a.message).cmp(&(
                &b.location,
                b.code,
                &b.path,
                &b.message,
            ))
        });
    }
    /// Iterates.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<T: IntoIterator<Item = Diagnostic>>(&mut self, iter: T) {
        self.0.extend(iter)
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
