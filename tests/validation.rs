//! Istio's admission rules and meshsim's analyses: one file per rule in `tests/invalid/`, whose
//! first line says the expected finding (`# expect: CODE LINE:COL PATH: message`), and the
//! passing side in `tests/valid/`.

use meshsim::Mesh;
use meshsim::compile::IstioVersion;
use meshsim::diag::{Diagnostic, Diagnostics};
use std::path::{Path, PathBuf};

fn findings(paths: &[PathBuf]) -> Diagnostics {
    let (mesh, mut d) = Mesh::load_all(paths);
    d.extend(meshsim::validate::validate(&mesh, IstioVersion::NEWEST));
    d.extend(meshsim::analyze::analyze(&mesh, IstioVersion::NEWEST));
    d
}

fn corpus(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn every_invalid_file_gets_its_finding_at_its_place() {
    let files = corpus("tests/invalid");
    assert!(
        files.len() >= 50,
        "one file per rule and analysis ({})",
        files.len()
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .expect("an expect line");
        let (code, rest) = expect.split_once(' ').unwrap();
        let (loc, rest) = rest.split_once(' ').unwrap();
        let (path, message) = rest.split_once(": ").unwrap();
        let (line, col) = loc.split_once(':').unwrap();
        let d = findings(std::slice::from_ref(&f));
        let hit: Vec<&Diagnostic> = d
            .iter()
            .filter(|x| x.code.0 == code && x.path == path)
            .collect();
        assert!(
            !hit.is_empty(),
            "{}: no {code} at {path}; got {:#?}",
            f.display(),
            d.iter().map(|x| x.to_string()).collect::<Vec<_>>()
        );
        let x = hit[0];
        let l = x.location.as_ref().unwrap();
        assert_eq!(
            (l.line.to_string(), l.column.to_string()),
            (line.to_string(), col.to_string()),
            "{}",
            f.display()
        );
        assert!(
            x.message.contains(message),
            "{}: {:?} does not contain {:?}",
            f.display(),
            x.message,
            message
        );
        // Admission rules are errors (deprecations warn); analyses are warnings.
        let is_analysis = code.starts_with("MS2") || code == "MS1027";
        assert_eq!(x.is_error(), !is_analysis, "{}: {x}", f.display());
    }
}

#[test]
fn a_correct_mesh_gets_no_finding() {
    let d = findings(&corpus("tests/valid"));
    assert!(
        d.is_empty(),
        "{:#?}",
        d.iter().map(|x| x.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn shipped_policies_get_only_true_findings() {
    for dir in corpus("policies") {
        let d = findings(std::slice::from_ref(&dir));
        let codes: Vec<&str> = d.iter().map(|x| x.code.0).collect();
        if dir.ends_with("retry") {
            // True: 16 tries of 1 s cannot fit in the tutorial's 15 s timeout.
            assert_eq!(codes, ["MS2012"], "{}", dir.display());
        } else {
            assert!(
                codes.is_empty(),
                "{}: {:?}",
                dir.display(),
                d.iter().map(|x| x.to_string()).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn seed_policies_get_only_true_findings() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-policies");
    let d = findings(&[seed]);
    let mut codes: Vec<&str> = d.iter().map(|x| x.code.0).collect();
    codes.sort();
    codes.dedup();
    // Redefinitions across the folder (MS0030, MS2006, MS2007), the tutorial's cookie regex
    // that misses the cookie after a browser's `; ` (MS2010), its retry policy that cannot fit
    // in its timeout (MS2012), and the deprecated consecutiveErrors of the later variant (MS1027).
    assert_eq!(
        codes,
        ["MS0030", "MS1027", "MS2006", "MS2007", "MS2010", "MS2012"]
    );
    assert!(!d.has_errors());
}
