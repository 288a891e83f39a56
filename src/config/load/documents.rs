//! Step 1: the stream cut into documents, so that a syntax error in one never loses the next.

/// One document of a stream: its text and the 1-based line it starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Chunk<'a> {
    pub(super) text: &'a str,
    pub(super) first_line: u32,
}

/// Cuts a stream at `---` and `...` lines. YAML forbids these markers at column 0 inside any
/// scalar, so the cut is exact; a `---` line stays with the document it opens (the parser wants
/// it there, and line numbers then need no correction beyond the chunk's first line).
pub(super) fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    fn is_marker(line: &str, m: &str) -> bool {
        line.strip_prefix(m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
    }
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut offset = 0usize;
    let mut line_no = 1u32;
    for line in text.split_inclusive('\n') {
        if is_marker(line, "---") && offset > start {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
            });
            start = offset;
            start_line = line_no;
        }
        offset += line.len();
        line_no += 1;
        if is_marker(line, "...") {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line: start_line,
            });
            start = offset;
            start_line = line_no;
        }
    }
    if start < text.len() {
        chunks.push(Chunk {
            text: &text[start..],
            first_line: start_line,
        });
    }
    chunks
        .into_iter()
        .filter(|c| !is_blank_document(c.text))
        .collect()
}

/// A chunk with nothing but markers, comments and blank lines (kubectl skips those).
fn is_blank_document(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}
