//! One renderer per output format. All are pure functions of the diagnostics.

use super::Diagnostic;
use std::fmt::Write;

/// `FILE:LINE:COLUMN: PATH: severity[CODE]: message`; parts that are unknown are left out
/// (a file that cannot be read has no line; a syntax error has no field path).
pub fn one_line(d: &Diagnostic) -> String {
    let mut s = String::new();
    if let Some(loc) = &d.location {
        let _ = write!(s, "{loc}: ");
    }
    if !d.path.is_empty() {
        let _ = write!(s, "{}: ", d.path);
    }
    let _ = write!(s, "{}[{}]: {}", d.severity, d.code, d.message);
    s
}

/// The human form: the one-line summary, then indented hint and notes.
pub fn human(d: &Diagnostic) -> String {
    let mut s = one_line(d);
    if let Some(h) = &d.hint {
        let _ = write!(s, "\n  = hint: {h}");
    }
    for (loc, note) in &d.notes {
        let _ = write!(s, "\n  = note: {loc}: {note}");
    }
    s
}

/// A JSON value for `-o json`: `{code, severity, file, line, column, path, message, hint, notes}`.
pub fn json(d: &Diagnostic) -> serde_json::Value {
    let (file, line, column) = match &d.location {
        Some(l) => (
            serde_json::Value::from(&*l.file),
            serde_json::Value::from(l.line),
            serde_json::Value::from(l.column),
        ),
        None => (
            serde_json::Value::Null,
            serde_json::Value::Null,
            serde_json::Value::Null,
        ),
    };
    serde_json::json!({
        "code": d.code.0,
        "severity": d.severity.as_str(),
        "file": file,
        "line": line,
        "column": column,
        "path": d.path,
        "message": d.message,
        "hint": d.hint,
        "notes": d.notes.iter().map(|(l, n)| serde_json::json!({
            "file": &*l.file, "line": l.line, "column": l.column, "message": n
        })).collect::<Vec<_>>(),
    })
}
