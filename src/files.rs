//! Reading files and folders the way `kubectl apply -f` does: a file, or a folder walked
//! recursively for `.yaml`, `.yml` and `.json`, in sorted order. This is the library's only I/O;
//! everything it reads goes through the pure [`Mesh::build`].

use crate::diag::{Diagnostic, Diagnostics, Location, codes};
use crate::model::Mesh;
use std::path::{Path, PathBuf};

/// Files larger than this are refused (Istio objects are small; a 16 MiB YAML is a mistake).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Expands files and folders into the list of files to read, in apply order. Problems (a path
/// that does not exist, a folder that cannot be listed) become diagnostics.
pub fn expand_paths<P: AsRef<Path>>(paths: &[P]) -> (Vec<PathBuf>, Diagnostics) {
    let mut files = Vec::new();
    let mut diags = Diagnostics::default();
    for p in paths {
        let p = p.as_ref();
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                let before = files.len();
                walk(p, &mut files, &mut diags);
                if files.len() == before {
                    diags.push(
                        Diagnostic::error(
                            codes::IO,
                            "this folder has no .yaml, .yml or .json file (folders are read recursively)",
                        )
                        .at(Location {
                            file: p.display().to_string().into(),
                            line: 1,
                            column: 1,
                        }),
                    );
                }
            }
            Ok(_) => files.push(p.to_path_buf()),
            Err(e) => diags.push(io_error(p, &e)),
        }
    }
    (files, diags)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, diags: &mut Diagnostics) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(io_error(dir, &e));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files, diags);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(path);
        }
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(codes::IO, format!("cannot read: {e}")).at(Location {
        file: path.display().to_string().into(),
        line: 1,
        column: 1,
    })
}

/// Reads files and folders (recursively) into `(name, text)` pairs, in apply order; what
/// cannot be read becomes a diagnostic.
pub fn read_all<P: AsRef<Path>>(paths: &[P]) -> (Vec<(String, String)>, Diagnostics) {
    let (files, mut diags) = expand_paths(paths);
    let mut texts = Vec::new();
    for f in &files {
        match read_text(f) {
            Ok(t) => texts.push((f.display().to_string(), t)),
            Err(d) => diags.push(d),
        }
    }
    (texts, diags)
}

/// Reads one file as UTF-8 text, bounded in size.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let loc = Location {
        file: path.display().to_string().into(),
        line: 1,
        column: 1,
    };
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            codes::TOO_LARGE,
            format!(
                "file is {} bytes; meshsim reads files up to {MAX_FILE_BYTES} bytes",
                meta.len()
            ),
        )
        .at(loc));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let column = upto
            .rsplit(|&b| b == b'\n')
            .next()
            .map_or(0, |l| String::from_utf8_lossy(l).chars().count()) as u32
            + 1;
        Diagnostic::error(codes::NOT_UTF8, "file is not UTF-8 text").at(Location {
            line,
            column,
            ..loc
        })
    })
}

impl Mesh {
    /// Loads files and folders (recursively) as `kubectl apply -f` would, in the order given.
    /// Returns the mesh, or every diagnostic if any is an error.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Mesh, Diagnostics> {
        let (mesh, diags) = Self::load_all(paths);
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(mesh)
        }
    }

    /// Like [`Mesh::load`], but always returns what loaded together with every diagnostic.
    pub fn load_all<P: AsRef<Path>>(paths: &[P]) -> (Mesh, Diagnostics) {
        let (texts, diags) = read_all(paths);
        Mesh::build(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())), diags)
    }
}
