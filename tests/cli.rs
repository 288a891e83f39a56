//! The `meshsim` binary: output and exit codes.

use std::process::Command;

fn meshsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run meshsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_a_policy_folder() {
    let (code, out, err) = meshsim(&["validate", "-f", "policies/canary-10-percent"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "1 VirtualService, 1 DestinationRule, 3 Deployment (7 pods), 1 Service"
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn validate_reports_every_error_and_exits_1() {
    let (code, out, err) = meshsim(&["validate", "-f", "tests/data/errors"]);
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "1 DestinationRule");
    assert_eq!(
        err.lines().filter(|l| l.contains(": error[")).count(),
        7,
        "{err}"
    );
    assert!(err.contains(
        "tests/data/errors/crlf-three-docs.yaml:12:15: spec.http[0].route[0].weight: error[MS0012]: expected an integer, found `ten`"
    ), "{err}");
    assert!(
        err.contains("  = hint: did you mean `mirrorPercentage`?"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("7 errors, 0 warnings"), "{err}");
}

#[test]
fn strict_turns_warnings_into_a_failure() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/seed-policies");
    let (code, out, err) = meshsim(&["validate", "-f", seed]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ignored: DestinationPolicy myweb-service-policy"),
        "{out}"
    );
    assert!(err.contains("warning[MS0030]"), "{err}");
    let (code, _, _) = meshsim(&["validate", "--strict", "-f", seed]);
    assert_eq!(code, 2);
}

#[test]
fn json_output_lists_every_finding() {
    let (code, out, _) = meshsim(&[
        "validate",
        "-o",
        "json",
        "-f",
        "tests/data/errors/unknown-field.yaml",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["code"], "MS0013");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["line"], 13);
    assert_eq!(f["column"], 5);
    assert_eq!(f["path"], "spec.http[0].mirrorPercentag");
    assert_eq!(f["hint"], "did you mean `mirrorPercentage`?");
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let (code, _, err) = meshsim(&["validate", "-f", "no/such/file.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no/such/file.yaml:1:1: error[MS0001]: cannot read"),
        "{err}"
    );
}
