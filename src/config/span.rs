//! The span index: YAML field path → where that field's key and value stand in the file.
//!
//! Typed deserialization forgets where values came from, but checks that run later (a weight that
//! is negative, a subset that does not exist) must still point at the exact token. So every
//! document is parsed twice with the same parser: once into a tiny span tree that is flattened
//! into this index, once into the typed model. The typed model stays free of wrapper types.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;

/// One step of a YAML path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path into a document, printed as `spec.http[0].route[1].weight`; keys that are not plain
/// identifiers are quoted: `metadata.annotations["meshsim.io/fail-rate"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YamlPath(pub Vec<Segment>);

impl YamlPath {
    /// The empty path (the document itself).
    pub fn root() -> Self {
        YamlPath(Vec::new())
    }
    /// Parses the printed form back (used by tests and rules that write paths as text).
    pub fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                rest = r;
                continue;
            }
            if let Some(r) = rest.strip_prefix("[\"") {
                let end = r.find("\"]").unwrap_or(r.len());
                segs.push(Segment::Key(r[..end].to_string()));
                rest = r.get(end + 2..).unwrap_or("");
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').unwrap_or(r.len());
                match r[..end].parse() {
                    Ok(i) => segs.push(Segment::Index(i)),
                    Err(_) => segs.push(Segment::Key(r[..end].to_string())),
                }
                rest = r.get(end + 1..).unwrap_or("");
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                segs.push(Segment::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        YamlPath(segs)
    }
    /// This path with one more key.
    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(k.into()));
        p
    }
    /// This path with one more index.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }
    /// The path without its last segment.
    pub fn parent(&self) -> Option<Self> {
        if self.0.is_empty() {
            None
        } else {
            Some(YamlPath(self.0[..self.0.len() - 1].to_vec()))
        }
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '@')
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Key(k) if is_plain_key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => write!(f, "[{k:?}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Line and column (1-based) relative to the start of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// Where one field stands: its key (absent for sequence items and the root) and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpan {
    /// The key token, for mapping entries.
    pub key: Option<Pos>,
    /// The value token (for a mapping or sequence, where it starts).
    pub value: Pos,
}

/// Path → span, for one document.
#[derive(Clone, Debug, Default)]
pub struct SpanIndex {
    map: BTreeMap<YamlPath, FieldSpan>,
}

impl SpanIndex {
    /// The span of exactly this path.
    pub fn get(&self, path: &YamlPath) -> Option<FieldSpan> {
        self.map.get(path).copied()
    }

    /// Where to point for this path: the value if the path exists, otherwise the nearest
    /// ancestor that does (a missing field is reported at the mapping that lacks it).
    pub fn locate(&self, path: &YamlPath) -> Option<Pos> {
        let mut p = path.clone();
        loop {
            if let Some(s) = self.map.get(&p) {
                return Some(s.value);
            }
            p = p.parent()?;
        }
    }

    /// Where the key of this path stands (falls back to [`SpanIndex::locate`]).
    pub fn locate_key(&self, path: &YamlPath) -> Option<Pos> {
        match self.map.get(path) {
            Some(FieldSpan { key: Some(k), .. }) => Some(*k),
            _ => self.locate(path),
        }
    }

    /// Number of indexed nodes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Builds the index of one document. `line_offset` is added to every line (the document's
    /// first line in the file, minus one), because documents are parsed one at a time.
    pub(crate) fn build(root: &Spanned<Node>, line_offset: u32) -> Self {
        let mut idx = SpanIndex::default();
        let pos = |l: &serde_saphyr::Location| Pos {
            line: (l.line() as u32).saturating_add(line_offset),
            column: l.column() as u32,
        };
        // An explicit stack, not recursion: depth is bounded by the parser's budget anyway, but
        // this way the index can never be the thing that overflows.
        let mut stack: Vec<(YamlPath, Option<Pos>, &Spanned<Node>)> =
            vec![(YamlPath::root(), None, root)];
        while let Some((path, key, node)) = stack.pop() {
            idx.map.insert(
                path.clone(),
                FieldSpan {
                    key,
                    value: pos(&node.referenced),
                },
            );
            match &node.value {
                Node::Scalar(_) => {}
                Node::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        stack.push((path.index(i), None, item));
                    }
                }
                Node::Map(entries) => {
                    for (k, v) in entries {
                        stack.push((path.key(k.value.clone()), Some(pos(&k.referenced)), v));
                    }
                }
            }
        }
        idx
    }
}

/// The span tree: just enough structure to find every node again.
#[derive(Debug)]
pub(crate) enum Node {
    Scalar(#[allow(dead_code)] ()),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<KeyString>>()? {
            let v = map.next_value()?;
            entries.push((Spanned::new(k.value.0, k.referenced, k.defined), v));
        }
        Ok(Node::Map(entries))
    }
}

/// A mapping key of any scalar type, kept as text (YAML allows `80: x`).
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".to_string()))
            }
            fn visit_none<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display_and_parse_round_trip() {
        for s in [
            "spec.http[0].route[1].weight",
            "metadata.annotations[\"meshsim.io/fail-rate\"]",
            "spec",
            "",
        ] {
            assert_eq!(YamlPath::parse(s).to_string(), s);
        }
        let p = YamlPath::root().key("spec").key("http").index(0);
        assert_eq!(p.to_string(), "spec.http[0]");
    }
}
