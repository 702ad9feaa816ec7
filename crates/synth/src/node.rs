//! A tiny ordered document tree with block-style YAML and compact JSON writers.
//!
//! Keys keep insertion order (unlike `serde_json::Value`, whose order depends on
//! a cargo feature), so output is byte-identical across builds.

use std::io::Write as _;

/// A document node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// String, plain in YAML when unambiguous.
    Str(String),
    /// String that is always double-quoted in YAML (label values).
    QStr(String),
    /// Integer.
    Int(i64),
    /// Boolean.
    Bool(bool),
    /// Sequence.
    Arr(Vec<Node>),
    /// Mapping with ordered keys.
    Obj(Vec<(&'static str, Node)>),
}

/// Plain string node.
pub fn s(v: impl Into<String>) -> Node {
    Node::Str(v.into())
}

/// Always-quoted string node.
pub fn q(v: impl Into<String>) -> Node {
    Node::QStr(v.into())
}

/// Integer node.
pub fn int(v: impl Into<i64>) -> Node {
    Node::Int(v.into())
}

/// Mapping node.
pub fn obj(v: Vec<(&'static str, Node)>) -> Node {
    Node::Obj(v)
}

/// Empty mapping `{}`.
pub fn empty() -> Node {
    Node::Obj(Vec::new())
}

/// Whether a YAML plain scalar would be misread (number, bool, null,
/// indicator characters, ...).
pub fn needs_quote(v: &str) -> bool {
    let b = v.as_bytes();
    let Some(&first) = b.first() else {
        return true;
    };
    if b"-?:,[]{}#&*!|>'\"%@`=<~ .+".contains(&first) || first.is_ascii_digit() {
        return true;
    }
    let last = b[b.len() - 1];
    if last == b' ' || last == b':' {
        return true;
    }
    if b.iter().any(|&c| !(0x20..0x7f).contains(&c)) || v.contains(": ") || v.contains(" #") {
        return true;
    }
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
    )
}

fn json_str(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    for c in v.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn int_str(out: &mut Vec<u8>, v: i64) {
    let _ = write!(out, "{v}");
}

/// Appends compact JSON.
pub fn write_json(n: &Node, out: &mut Vec<u8>) {
    match n {
        Node::Str(v) | Node::QStr(v) => json_str(out, v),
        Node::Int(v) => int_str(out, *v),
        Node::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        Node::Arr(items) => {
            out.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(it, out);
            }
            out.push(b']');
        }
        Node::Obj(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, k);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
    }
}

fn yaml_scalar(n: &Node, out: &mut Vec<u8>) {
    match n {
        Node::Str(v) if !needs_quote(v) => out.extend_from_slice(v.as_bytes()),
        Node::Str(v) | Node::QStr(v) => json_str(out, v),
        Node::Int(v) => int_str(out, *v),
        Node::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        Node::Arr(_) => out.extend_from_slice(b"[]"),
        Node::Obj(_) => out.extend_from_slice(b"{}"),
    }
}

fn is_block(n: &Node) -> bool {
    match n {
        Node::Arr(v) => !v.is_empty(),
        Node::Obj(v) => !v.is_empty(),
        _ => false,
    }
}

fn pad(out: &mut Vec<u8>, indent: usize) {
    out.resize(out.len() + indent, b' ');
}

fn yaml_key(k: &str, out: &mut Vec<u8>) {
    if needs_quote(k) {
        json_str(out, k);
    } else {
        out.extend_from_slice(k.as_bytes());
    }
    out.push(b':');
}

/// Writes the value following `key:` (on the same line for scalars).
fn yaml_after_key(v: &Node, indent: usize, out: &mut Vec<u8>) {
    match v {
        Node::Obj(entries) if !entries.is_empty() => {
            out.push(b'\n');
            yaml_map(entries, indent + 2, out);
        }
        Node::Arr(items) if !items.is_empty() => {
            out.push(b'\n');
            yaml_seq(items, indent, out);
        }
        _ => {
            out.push(b' ');
            yaml_scalar(v, out);
            out.push(b'\n');
        }
    }
}

fn yaml_map(entries: &[(&'static str, Node)], indent: usize, out: &mut Vec<u8>) {
    for (k, v) in entries {
        pad(out, indent);
        yaml_key(k, out);
        yaml_after_key(v, indent, out);
    }
}

fn yaml_seq(items: &[Node], indent: usize, out: &mut Vec<u8>) {
    for it in items {
        pad(out, indent);
        match it {
            Node::Obj(entries) if !entries.is_empty() => {
                out.extend_from_slice(b"- ");
                let (k, v) = &entries[0];
                yaml_key(k, out);
                yaml_after_key(v, indent + 2, out);
                yaml_map(&entries[1..], indent + 2, out);
            }
            Node::Arr(items) if !items.is_empty() => {
                out.extend_from_slice(b"-\n");
                yaml_seq(items, indent + 2, out);
            }
            _ => {
                out.extend_from_slice(b"- ");
                yaml_scalar(it, out);
                out.push(b'\n');
            }
        }
    }
}

/// Appends one YAML document (starting with `---`).
pub fn write_yaml_doc(n: &Node, out: &mut Vec<u8>) {
    out.extend_from_slice(b"---\n");
    match n {
        Node::Obj(entries) if !entries.is_empty() => yaml_map(entries, 0, out),
        Node::Arr(items) if is_block(n) => yaml_seq(items, 0, out),
        _ => {
            yaml_scalar(n, out);
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        for v in [
            "",
            "1",
            "1.5",
            "true",
            "No",
            "null",
            "-x",
            "a: b",
            "x #c",
            "10.0.0.0/8",
            "~",
        ] {
            assert!(needs_quote(v), "{v}");
        }
        for v in ["app", "kube-system", "v1", "networking.k8s.io/v1", "a:b"] {
            assert!(!needs_quote(v), "{v}");
        }
    }

    #[test]
    fn yaml_shape() {
        let n = obj(vec![
            ("kind", s("Pod")),
            ("labels", obj(vec![("app", q("web"))])),
            ("empty", empty()),
            ("list", Node::Arr(vec![])),
            (
                "items",
                Node::Arr(vec![
                    obj(vec![("port", int(80)), ("name", s("http"))]),
                    Node::Arr(vec![s("a")]),
                    s("8080"),
                ]),
            ),
        ]);
        let mut out = Vec::new();
        write_yaml_doc(&n, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "---\nkind: Pod\nlabels:\n  app: \"web\"\nempty: {}\nlist: []\nitems:\n- port: 80\n  name: http\n-\n  - a\n- \"8080\"\n"
        );
        let mut js = Vec::new();
        write_json(&n, &mut js);
        assert_eq!(
            String::from_utf8(js).unwrap(),
            r#"{"kind":"Pod","labels":{"app":"web"},"empty":{},"list":[],"items":[{"port":80,"name":"http"},["a"],"8080"]}"#
        );
    }
}
