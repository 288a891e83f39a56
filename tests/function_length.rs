//! The function-length rule: no function in `src/sim`, `src/route`, `src/compile`,
//! `src/validate`, `src/config` or `src/report` is longer than 120 lines unless the comments right above it say why it must
//! be ("long because ..."). Long functions there are where routing and translation logic hides;
//! the rule keeps each one a stage a reader can hold in their head.

use std::path::{Path, PathBuf};

const LIMIT: usize = 120;
const DIRS: [&str; 6] = [
    "src/sim",
    "src/route",
    "src/compile",
    "src/validate",
    "src/config",
    "src/report",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Is this line the start of a function item (`fn name`, with its qualifiers)?
fn fn_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    if let Some(r) = rest.strip_prefix("pub") {
        rest = r.trim_start();
        if rest.starts_with('(') {
            rest = rest[rest.find(')')? + 1..].trim_start();
        }
    }
    for q in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(q).unwrap_or(rest).trim_start();
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Braces of code only: string, char and comment contents are blanked. Good enough for this
/// crate's code (raw strings with `#` are handled; nested block comments are not used).
fn code_only(src: &str) -> Vec<String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == 'r' && (next == Some('"') || next == Some('#')) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                j += 1;
                let closing: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let closing: Vec<char> = closing.chars().collect();
                while j < chars.len() && !chars[j..].starts_with(&closing) {
                    if chars[j] == '\n' {
                        out.push('\n');
                    }
                    j += 1;
                }
                i = j + closing.len();
                out.push_str("\"\"");
                continue;
            }
        }
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), else a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
                continue;
            }
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out.lines().map(str::to_string).collect()
}

/// Functions over the limit without a justification: `path:line fn name (N lines)`.
fn offenders(path: &Path) -> Vec<String> {
    let src = std::fs::read_to_string(path).unwrap();
    let raw: Vec<&str> = src.lines().collect();
    let code = code_only(&src);
    let mut out = Vec::new();
    for (start, line) in code.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        // Find the body: the first `{` before any `;` (a `;` first is a declaration).
        let mut depth = 0i32;
        // `(`/`[` depth of the signature: a `;` inside `[T; N]` does not end it.
        let mut nest = 0i32;
        let mut opened = false;
        let mut end = None;
        'scan: for (k, l) in code.iter().enumerate().skip(start) {
            let from = if k == start {
                l.find("fn ").unwrap_or(0)
            } else {
                0
            };
            for ch in l[from..].chars() {
                match ch {
                    '(' | '[' if !opened => nest += 1,
                    ')' | ']' if !opened => nest -= 1,
                    ';' if !opened && depth == 0 && nest == 0 => break 'scan,
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => {
                        depth -= 1;
                        if opened && depth == 0 {
                            end = Some(k);
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
        let Some(end) = end else { continue };
        let len = end - start + 1;
        if len <= LIMIT {
            continue;
        }
        // The comments and attributes right above the function.
        let mut k = start;
        let mut justified = false;
        while k > 0 {
            let above = raw[k - 1].trim_start();
            if !(above.starts_with("//") || above.starts_with("#[")) {
                break;
            }
            justified |= above.to_ascii_lowercase().contains("long because");
            k -= 1;
        }
        if !justified {
            out.push(format!(
                "{}:{} fn {name} ({len} lines)",
                path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(path)
                    .display(),
                start + 1
            ));
        }
    }
    out
}

#[test]
fn no_function_is_over_the_limit_without_a_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in DIRS {
        rust_files(&root.join(d), &mut files);
    }
    files.sort();
    let found: Vec<String> = files.iter().flat_map(|f| offenders(f)).collect();
    assert!(
        found.is_empty(),
        "functions over {LIMIT} lines without a \"long because\" comment above them:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_measures_functions_and_sees_reasons() {
    let dir = std::env::temp_dir().join(format!("meshsim-fnlen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = |n: usize| "    let _ = \"}\"; // }\n".repeat(n);
    let src = format!(
        "fn short(a: [u8; 2]) {{\n{}}}\n\nfn long<'a>(x: &'a str) -> char {{\n{}    '}}'\n}}\n\n// Long because it is a table.\npub(crate) fn table() {{\n{}}}\n",
        body(3),
        body(LIMIT),
        body(LIMIT)
    );
    let f = dir.join("sample.rs");
    std::fs::write(&f, src).unwrap();
    let found = offenders(&f);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with(&format!("fn long ({} lines)", LIMIT + 3)),
        "{found:?}"
    );
}
