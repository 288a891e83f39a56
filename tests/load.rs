//! Loading real files: the tutorial's seed policies (CRLF, no final newline, old apiVersions,
//! kinds meshsim ignores), our own `policies/`, and one test per error class asserting the
//! exact `FILE:LINE:COLUMN: PATH` of the message.

use meshsim::Mesh;
use meshsim::diag::{Diagnostic, codes};
use std::path::{Path, PathBuf};

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-policies")
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `FILE:LINE:COLUMN: PATH` of a diagnostic, with the file name shortened to its last segment.
fn where_(d: &Diagnostic) -> String {
    let loc = d.location.as_ref().expect("located");
    let file = Path::new(&*loc.file).file_name().unwrap().to_string_lossy();
    format!("{file}:{}:{}: {}", loc.line, loc.column, d.path)
}

#[test]
fn every_seed_file_loads_unchanged() {
    let mut files: Vec<_> = std::fs::read_dir(seed_dir())
        .expect("../shared/seed-policies is present")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 16,
        "expected the 16 seed files, found {}",
        files.len()
    );
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let mesh = Mesh::load(&[f]).unwrap_or_else(|d| panic!("{}: {:?}", f.display(), d));
        // Whatever a file holds is either loaded or listed as ignored: nothing disappears.
        let docs = text.matches("kind:").count();
        let loaded = mesh.virtual_services.len()
            + mesh.destination_rules.len()
            + mesh.gateways.len()
            + mesh.service_entries.len()
            + mesh.workloads.len()
            + mesh.services.len()
            + mesh.mesh_configs.len();
        assert_eq!(loaded + mesh.ignored.len(), docs, "{}", f.display());
    }
}

#[test]
fn seed_folder_loads_as_kubectl_apply_would() {
    let mesh = Mesh::load(&[seed_dir()]).unwrap();
    // Deployments: myweb v1 (apps/v1beta2) and v2, client, retry-backend, sniffer (apps/v1beta1),
    // with 3+3+1+3+1 replicas.
    assert_eq!(mesh.workloads.len(), 5);
    assert_eq!(mesh.topology.instances.len(), 11);
    // Secrets and the 0.x DestinationPolicy are ignored, with their files; the blog's Istio 1.4
    // IstioControlPlane is read for its mesh settings (it sets no outbound policy).
    let mut ignored: Vec<_> = mesh.ignored.iter().map(|i| i.kind.as_str()).collect();
    ignored.sort();
    assert_eq!(ignored, ["DestinationPolicy", "Secret", "Secret"]);
    assert_eq!(mesh.mesh_configs.len(), 1);
    assert_eq!(
        mesh.outbound_traffic_policy,
        meshsim::config::OutboundMode::AllowAny
    );
    assert!(
        mesh.ignored
            .iter()
            .any(|i| i.location.file.ends_with("policyConnections.yaml"))
    );
    // canaryCookie.yaml's istio-canary replaces canary10percent.yaml's (it sorts later), with a
    // warning naming both places.
    let vs = mesh
        .virtual_services
        .iter()
        .find(|v| v.name == "istio-canary")
        .unwrap();
    assert!(vs.origin.file.ends_with("canaryCookie.yaml"));
    assert_eq!(vs.spec.http.len(), 2);
    let replaced = mesh
        .warnings
        .iter()
        .find(|d| {
            d.code == codes::REPLACED && d.message.contains("VirtualService default/istio-canary")
        })
        .expect("replacement warning");
    assert!(
        replaced
            .location
            .as_ref()
            .unwrap()
            .file
            .ends_with("canaryCookie.yaml")
    );
    assert!(replaced.notes[0].0.file.ends_with("canary10percent.yaml"));
}

#[test]
fn crlf_seed_values_and_topology() {
    let mesh = Mesh::load(&[
        seed_dir().join("canary.yaml"),
        seed_dir().join("canaryCookie.yaml"),
    ])
    .unwrap();
    let vs = &mesh.virtual_services[0];
    let regex = vs.spec.http[0].matches[0].headers["cookie"]
        .regex
        .as_deref();
    // No stray \r in values read from CRLF files.
    assert_eq!(regex, Some("^(.*?;)?(usertype=tester)(;.*)?$"));
    let svc = mesh
        .topology
        .service("myweb-service.default.svc.cluster.local")
        .unwrap();
    let eps = svc.endpoints_for(80).unwrap();
    assert_eq!(eps.len(), 6);
    for e in eps {
        let inst = &mesh.topology.instances[e.instance];
        assert!(e.address.ends_with(":80"), "{}", e.address);
        assert_eq!(e.address, format!("{}:80", inst.address));
        assert_eq!(inst.labels["app"], "myweb");
    }
    let names: Vec<_> = eps
        .iter()
        .map(|e| mesh.topology.instances[e.instance].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "myweb-deployment-v1-0",
            "myweb-deployment-v1-1",
            "myweb-deployment-v1-2",
            "myweb-deployment-v2-0",
            "myweb-deployment-v2-1",
            "myweb-deployment-v2-2"
        ]
    );
}

#[test]
fn synthetic_addresses_are_stable_whatever_else_is_loaded() {
    let alone = Mesh::load(&[seed_dir().join("canary.yaml")]).unwrap();
    let with_more = Mesh::load(&[
        seed_dir().join("retryBackend.yaml"),
        seed_dir().join("canary.yaml"),
    ])
    .unwrap();
    let addr = |m: &Mesh, name: &str| {
        m.topology
            .instances
            .iter()
            .find(|i| i.name == name)
            .unwrap()
            .address
            .clone()
    };
    assert_eq!(
        addr(&alone, "myweb-deployment-v2-1"),
        addr(&with_more, "myweb-deployment-v2-1")
    );
    let mut all: Vec<_> = with_more
        .topology
        .instances
        .iter()
        .map(|i| &i.address)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        with_more.topology.instances.len(),
        "addresses are unique"
    );
}

#[test]
fn every_policy_folder_validates_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut n = 0;
    for e in std::fs::read_dir(root).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        n += 1;
        let (mesh, diags) = Mesh::load_all(&[&dir]);
        assert!(diags.is_empty(), "{}: {:?}", dir.display(), diags);
        assert!(!mesh.topology.instances.is_empty(), "{}", dir.display());
    }
    assert!(n >= 9, "one folder per tutorial scenario");
}

#[test]
fn registry_only_comes_from_the_istio_operator() {
    let mesh = Mesh::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/service-entry")])
        .unwrap();
    assert_eq!(
        mesh.outbound_traffic_policy,
        meshsim::config::OutboundMode::RegistryOnly
    );
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n\
              data:\n  mesh: |-\n    outboundTrafficPolicy:\n      mode: REGISTRY_ONLY\n";
    let mesh = Mesh::from_yaml_str(cm, "istio-cm.yaml").unwrap();
    assert_eq!(
        mesh.outbound_traffic_policy,
        meshsim::config::OutboundMode::RegistryOnly
    );
    let mesh = Mesh::from_yaml_str(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n",
        "x.yaml",
    )
    .unwrap();
    assert_eq!(
        mesh.outbound_traffic_policy,
        meshsim::config::OutboundMode::AllowAny
    );
    assert_eq!(mesh.ignored.len(), 1);
}

// ===== error classes: exact location and path =====

fn load_errors(file: &str) -> Vec<Diagnostic> {
    let (_, mut d) = Mesh::load_all(&[data(file)]);
    d.sort();
    d.into_iter().collect()
}

#[test]
fn wrong_type_syntax_error_and_survivor_in_one_crlf_file() {
    let (mesh, diags) = Mesh::load_all(&[data("errors/crlf-three-docs.yaml")]);
    let d: Vec<_> = diags.iter().collect();
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(
        where_(d[0]),
        "crlf-three-docs.yaml:12:15: spec.http[0].route[0].weight"
    );
    assert_eq!(d[0].code, codes::WRONG_TYPE);
    assert_eq!(d[0].message, "expected an integer, found `ten`");
    assert_eq!(where_(d[1]), "crlf-three-docs.yaml:14:7: ");
    assert_eq!(d[1].code, codes::SYNTAX);
    // The third document, after the syntax error, still loads.
    assert_eq!(mesh.destination_rules.len(), 1);
    assert_eq!(mesh.destination_rules[0].name, "survivor");
}

#[test]
fn unknown_field_with_did_you_mean() {
    let d = load_errors("errors/unknown-field.yaml");
    assert_eq!(d.len(), 1);
    assert_eq!(
        where_(&d[0]),
        "unknown-field.yaml:13:5: spec.http[0].mirrorPercentag"
    );
    assert_eq!(d[0].code, codes::UNKNOWN_FIELD);
    assert!(
        d[0].message
            .starts_with("unknown field `mirrorPercentag`, expected one of")
    );
    assert_eq!(
        d[0].hint.as_deref(),
        Some("did you mean `mirrorPercentage`?")
    );
    assert!(d[0].to_string().starts_with(&format!(
        "{}/tests/data/errors/unknown-field.yaml:13:5: spec.http[0].mirrorPercentag: error[MS0013]: ",
        env!("CARGO_MANIFEST_DIR")
    )));
}

#[test]
fn missing_required_field() {
    let d = load_errors("errors/missing-field.yaml");
    assert_eq!(d.len(), 1);
    assert_eq!(where_(&d[0]), "missing-field.yaml:6:3: spec.host");
    assert_eq!(d[0].code, codes::MISSING_FIELD);
}

#[test]
fn invalid_enum_value_and_duration() {
    let d = load_errors("errors/bad-enum-and-duration.yaml");
    assert_eq!(d.len(), 2);
    assert_eq!(
        where_(&d[0]),
        "bad-enum-and-duration.yaml:9:15: spec.trafficPolicy.loadBalancer.simple"
    );
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `ROUND_ROBIN`?"));
    assert_eq!(
        where_(&d[1]),
        "bad-enum-and-duration.yaml:20:14: spec.http[0].timeout"
    );
    assert!(d[1].message.contains("missing unit"), "{}", d[1].message);
}

#[test]
fn unreadable_and_non_utf8_files() {
    let d = load_errors("errors/not-utf8.yaml");
    assert_eq!(where_(&d[0]), "not-utf8.yaml:4:12: ");
    assert_eq!(d[0].code, codes::NOT_UTF8);
    let (_, d) = Mesh::load_all(&[data("does-not-exist.yaml")]);
    let d: Vec<_> = d.into_iter().collect();
    assert_eq!(d[0].code, codes::IO);
    assert!(
        d[0].location
            .as_ref()
            .unwrap()
            .file
            .ends_with("does-not-exist.yaml")
    );
}

#[test]
fn one_bad_document_never_drops_the_others() {
    // Every error class at once, in one folder: all reported, and the good documents load.
    let (mesh, diags) = Mesh::load_all(&[data("errors")]);
    assert_eq!(diags.error_count(), 7);
    assert_eq!(mesh.destination_rules.len(), 1);
}

#[test]
fn non_objects_and_unknown_kinds() {
    let text = "- a\n- b\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\nkind: VirtualService\n";
    let (mesh, d) = Mesh::build([("x.yaml", text)], Default::default());
    let d: Vec<_> = d.into_iter().collect();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].code, codes::NOT_AN_OBJECT);
    assert_eq!(d[0].location.as_ref().unwrap().line, 1);
    assert_eq!(d[1].code, codes::NOT_AN_OBJECT);
    assert_eq!(d[1].location.as_ref().unwrap().line, 8);
    assert_eq!(mesh.ignored[0].kind, "Secret");
    assert_eq!(mesh.ignored[0].name.as_deref(), Some("s"));
}

#[test]
fn hostile_inputs_are_bounded_errors() {
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n\
                g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_block = (0..10_000)
        .map(|i| format!("{}- x\n", " ".repeat(i)))
        .collect::<String>();
    for text in [
        bomb,
        deep.as_str(),
        deep_block.as_str(),
        "\u{0}\u{1}binary",
        ":",
        "",
    ] {
        let (_, d) = Mesh::build([("hostile.yaml", text)], Default::default());
        if !text.is_empty() {
            assert!(d.has_errors(), "{:?}", &text[..text.len().min(40)]);
        }
    }
}

#[test]
fn invalid_endpoint_annotations_are_located_errors() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {app: web}\n      annotations:\n        meshsim.io/fail-rate: \"50%\"\n";
    let (_, d) = Mesh::build([("web.yaml", text)], Default::default());
    let d: Vec<_> = d.into_iter().collect();
    assert_eq!(d.len(), 1);
    assert_eq!(
        where_(&d[0]),
        "web.yaml:9:31: spec.template.metadata.annotations[\"meshsim.io/fail-rate\"]"
    );
    assert!(
        d[0].message.contains("not a probability"),
        "{}",
        d[0].message
    );
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {meshsim.io/failure: explode}\n";
    let (_, d) = Mesh::build([("pod.yaml", text)], Default::default());
    let d: Vec<_> = d.into_iter().collect();
    assert_eq!(d[0].path, "metadata.annotations[\"meshsim.io/failure\"]");
    assert!(
        d[0].message
            .contains("expected a status code (100-599), reset, timeout or crash")
    );
}

/// The ~180 public Istio and Gateway API files in `../shared/real-world-configs/` load without a
/// panic, and without an error except in the eight that are genuinely invalid (a field Istio
/// removed, a template placeholder, a documentation fragment, a rule Istio's admission rejects).
#[test]
fn real_world_configs_load_without_false_rejections() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-world-configs");
    if !root.is_dir() {
        eprintln!("real_world_configs_load_without_false_rejections: NOT RUN (no ../shared)");
        return;
    }
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(files.len() >= 170, "{} files", files.len());
    // Each genuinely invalid file, with what makes it so.
    let invalid = [
        ("route-rule-reviews-test-v2.yaml", "unknown field `name`"),
        (
            "recommendation-service-fault.yml",
            "unknown field `percent`",
        ),
        ("04-vs-cookie-regex.yaml", "wildcard host * is not allowed"),
        ("05-vs-fragment-elided-route.yaml", "invalid YAML"),
        (
            "09-vs-bind-gateway-no-routes.yaml",
            "http, tcp or tls must be provided",
        ),
        (
            "jupyter-web-app/upstream/overlays/istio/virtual-service.yaml",
            "is not a valid DNS label",
        ),
        (
            "dex/overlays/istio/virtual-service.yaml",
            "is not a valid DNS label",
        ),
        ("guestbook-service-503-vs.yaml", "unknown field `percent`"),
    ];
    let mut rejected = 0;
    let mut gateway_api = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.display().to_string();
        let (mesh, mut diags) =
            meshsim::Mesh::build([(name.as_str(), text.as_str())], Default::default());
        diags.extend(meshsim::validate::validate(
            &mesh,
            meshsim::compile::IstioVersion::NEWEST,
        ));
        gateway_api += usize::from(
            !mesh.gateway_api.http_routes.is_empty() || !mesh.gateway_api.gateways.is_empty(),
        );
        if !diags.has_errors() {
            continue;
        }
        rejected += 1;
        let first = diags.iter().find(|d| d.is_error()).unwrap().to_string();
        assert!(
            invalid
                .iter()
                .any(|(file, why)| name.ends_with(file) && first.contains(why)),
            "false rejection: {first}"
        );
    }
    assert_eq!(rejected, invalid.len());
    assert!(
        gateway_api >= 20,
        "{gateway_api} files with Gateway API objects"
    );
}

/// Fields Istio 1.31's CRDs have (`manifests/charts/base/files/crd-all.gen.yaml`) load:
/// `redirect.prefixRewrite` (simulated, checked against Envoy in the conformance suite),
/// `http2KeepAlive`, `zoneAwareLbSetting` and ServiceEntry `resolution: DYNAMIC_DNS` (accepted
/// and said to be not simulated).
#[test]
fn istio_1_31_fields_load() {
    let text = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    connectionPool: {http: {http2KeepAlive: {interval: 10s, timeout: 2s}}}
    loadBalancer: {zoneAwareLbSetting: {enabled: true}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: any-api}
spec:
  hosts: [\"*.api.example.com\"]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new}
";
    let mesh = meshsim::Mesh::from_yaml_str(text, "new.yaml").unwrap_or_else(|d| panic!("{d}"));
    let found: Vec<String> = meshsim::analyze::not_simulated(&mesh)
        .iter()
        .map(|d| d.to_string())
        .collect();
    for needle in [
        "connectionPool.http.http2KeepAlive",
        "loadBalancer.zoneAwareLbSetting",
        "spec.resolution",
    ] {
        assert!(
            found.iter().any(|f| f.contains(needle)),
            "{needle} in {found:#?}"
        );
    }
    assert!(
        !found.iter().any(|f| f.contains("prefixRewrite")),
        "{found:#?}"
    );
}
