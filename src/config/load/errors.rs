//! Step 4: diagnostics built from the parser error's variant and location (never from its
//! text), with what was expected and a did-you-mean hint.

use super::spans::DocCtx;
use crate::config::span::{Segment, YamlPath};
use crate::diag::{Code, Diagnostic, codes};
use serde_saphyr::Error as YamlError;

pub(super) fn convert_path(p: &serde_path_to_error::Path) -> YamlPath {
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
pub(super) fn plain_message(e: &YamlError) -> String {
    let s = e.to_string();
    let s = s.lines().next().unwrap_or("").trim().to_string();
    match s.rfind(" at line ") {
        Some(i) if s[i..].contains("column") => s[..i].to_string(),
        _ => s,
    }
}

pub(super) fn list(expected: &[&str]) -> String {
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
pub(super) fn did_you_mean<'a>(found: &str, expected: &[&'a str]) -> Option<&'a str> {
    let found_l = found.to_ascii_lowercase();
    expected
        .iter()
        .map(|e| (strsim::jaro_winkler(&found_l, &e.to_ascii_lowercase()), *e))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, e)| e)
}

pub(super) fn error_to_diagnostic(ctx: &DocCtx<'_>, e: &YamlError, path: &YamlPath) -> Diagnostic {
    diagnostic_of(ctx, e, path, true)
}

/// [`error_to_diagnostic`] for an error in a text rewritten from the document (the lenient
/// pass re-reads it without the fields it dropped): the parser's line and column are of that
/// text, so the field's own place in the document is given instead.
pub(super) fn error_to_diagnostic_by_path(
    ctx: &DocCtx<'_>,
    e: &YamlError,
    path: &YamlPath,
) -> Diagnostic {
    diagnostic_of(ctx, e, path, false)
}

/// The path of the field an error says is unknown.
pub(super) fn unknown_field_path(e: &YamlError, path: &YamlPath) -> Option<YamlPath> {
    let mut e = e;
    while let YamlError::WithSnippet { error, .. } = e {
        e = error;
    }
    match e {
        YamlError::SerdeUnknownField { field, .. } => Some(field_path(field, path)),
        _ => None,
    }
}

fn field_path(field: &str, path: &YamlPath) -> YamlPath {
    if path.0.last() == Some(&Segment::Key(field.to_string())) {
        path.clone()
    } else {
        path.key(field.to_string())
    }
}

fn diagnostic_of(
    ctx: &DocCtx<'_>,
    e: &YamlError,
    path: &YamlPath,
    parser_location: bool,
) -> Diagnostic {
    let mut e = e;
    while let YamlError::WithSnippet { error, .. } = e {
        e = error;
    }
    let loc = e.location().filter(|_| parser_location);
    let (code, message, hint, path): (Code, String, Option<String>, YamlPath) = match e {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let p = field_path(field, path);
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
    let location = if !parser_location && code == codes::UNKNOWN_FIELD {
        // The parser points at an unknown field's key; so does the span index.
        ctx.key_location(&path)
    } else {
        ctx.location(loc, &path)
    };
    let mut d = Diagnostic::error(code, message)
        .at(location)
        .with_path(path.to_string());
    if let Some(h) = hint {
        d = d.with_hint(h);
    }
    d
}

pub(super) fn describe_type(ty: &str) -> String {
    match ty {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_string(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "bool" => "`true` or `false`".to_string(),
        t => format!("a value of type {t}"),
    }
}
