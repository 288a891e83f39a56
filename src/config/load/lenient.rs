//! The lenient typed pass: a field the type does not know becomes a warning and is dropped,
//! and the document is read again without it.
//!
//! istio-config-validator reads its test files this way unless `--strict`: its
//! `ParseTestCases` (internal/pkg/parser/testcase.go) decodes each document with Go's JSON
//! decoder, which ignores unknown fields, and calls `DisallowUnknownFields` only when strict.
//! Its users' suites carry fields it ignores, so meshsim must read them as it does; saying
//! so (a located warning, with the did-you-mean hint) is what keeps a typo from passing
//! silently.

use super::dispatch::typed_raw;
use super::errors::{error_to_diagnostic, error_to_diagnostic_by_path, unknown_field_path};
use super::spans::{DocCtx, options};
use crate::config::span::{Segment, YamlPath};
use crate::diag::{Diagnostic, Severity};
use serde::de::DeserializeOwned;

/// At most this many fields are dropped from one document; past it the document is not
/// read (each drop re-reads the document, so the bound keeps the pass linear in practice).
const MAX_DROPPED: usize = 256;

/// The typed pass that drops unknown fields, with one warning per dropped field.
pub(super) fn typed_dropping_unknown<T: DeserializeOwned>(
    ctx: &DocCtx<'_>,
    text: &str,
) -> Result<(T, Vec<Diagnostic>), Diagnostic> {
    let mut warnings = Vec::new();
    // The document as data, made only once a field has to go.
    let mut value: Option<serde_json::Value> = None;
    loop {
        let rewritten = value.as_ref().map(serde_json::Value::to_string);
        let (e, path) = match typed_raw::<T>(rewritten.as_deref().unwrap_or(text)) {
            Ok(t) => return Ok((t, warnings)),
            Err(x) => x,
        };
        let diagnostic = if rewritten.is_some() {
            error_to_diagnostic_by_path(ctx, &e, &path)
        } else {
            error_to_diagnostic(ctx, &e, &path)
        };
        let Some(field) = unknown_field_path(&e, &path) else {
            return Err(diagnostic);
        };
        if warnings.len() >= MAX_DROPPED {
            return Err(diagnostic.with_hint(format!(
                "more than {MAX_DROPPED} unknown fields: is this the right kind of file?"
            )));
        }
        let v = match value.as_mut() {
            Some(v) => v,
            None => value.insert(document_value(text).map_err(|_| diagnostic.clone())?),
        };
        if !remove(v, &field) {
            return Err(diagnostic);
        }
        warnings.push(Diagnostic {
            severity: Severity::Warning,
            message: format!(
                "{}; ignored (pass --strict to make it an error)",
                diagnostic.message
            ),
            ..diagnostic
        });
    }
}

fn document_value(text: &str) -> Result<serde_json::Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// Removes the mapping entry at `path`; false if there is none (then the error stands).
fn remove(value: &mut serde_json::Value, path: &YamlPath) -> bool {
    let Some((Segment::Key(last), parents)) = path.0.split_last() else {
        return false;
    };
    let mut v = value;
    for s in parents {
        let next = match s {
            Segment::Key(k) => v.get_mut(k.as_str()),
            Segment::Index(i) => v.get_mut(*i),
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    v.as_object_mut().is_some_and(|m| m.remove(last).is_some())
}
