//! Step 2: the span pass (a document's syntax error, and the index of where every field is),
//! and the per-document context that turns parser locations into file locations.

use super::errors::error_to_diagnostic;
use crate::config::span::{Node, Pos, SpanIndex, YamlPath};
use crate::diag::{Diagnostic, Location};
use serde::Deserialize;
use serde_saphyr::{Options, Spanned};
use std::sync::Arc;

pub(super) fn options() -> Options {
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
pub(super) struct DocCtx<'a> {
    pub(super) file: &'a Arc<str>,
    pub(super) api_version: String,
    pub(super) text: &'a str,
    pub(super) line_offset: u32,
    pub(super) spans: Option<&'a SpanIndex>,
    /// The namespace of objects that name none (`kubectl apply -n`; `default` otherwise),
    /// and whether it was asked for (then an object in another namespace is an error).
    pub(super) namespace: (&'a str, bool),
}

impl DocCtx<'_> {
    pub(super) fn location(
        &self,
        loc: Option<serde_saphyr::Location>,
        path: &YamlPath,
    ) -> Location {
        match loc.filter(|l| l.line() > 0) {
            Some(l) => Location {
                file: self.file.clone(),
                line: (l.line() as u32).saturating_add(self.line_offset),
                column: l.column() as u32,
            },
            None => self.span_location(self.spans.and_then(|s| s.locate(path))),
        }
    }

    /// Where the key of the field at `path` is (its value's place if it has no key).
    pub(super) fn key_location(&self, path: &YamlPath) -> Location {
        self.span_location(self.spans.and_then(|s| s.locate_key(path)))
    }

    /// A place from the span index; the document's first line if the index has none.
    fn span_location(&self, pos: Option<Pos>) -> Location {
        let pos = pos.unwrap_or(Pos {
            line: self.line_offset + 1,
            column: 1,
        });
        Location {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// The source text of the token at this location (for "found `ten`").
    pub(super) fn token(&self, loc: Option<serde_saphyr::Location>) -> Option<&str> {
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
pub(super) fn span_pass(ctx: &DocCtx<'_>) -> Result<(Spanned<Node>, Arc<SpanIndex>), Diagnostic> {
    let tree = serde_saphyr::with_deserializer_from_str_with_options(ctx.text, options(), |de| {
        Spanned::<Node>::deserialize(de)
    })
    .map_err(|e| error_to_diagnostic(ctx, &e, &YamlPath::root()))?;
    let spans = Arc::new(SpanIndex::build(&tree, ctx.line_offset));
    Ok((tree, spans))
}
