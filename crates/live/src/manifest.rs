//! Objects written back as manifests: `kubeseg snapshot` writes what it read so a run
//! can be reproduced offline, attached to a bug report, or compared later.
//!
//! The YAML is block style; every string that could read as anything else (a number,
//! a boolean, a null, or text with YAML syntax) is double-quoted with JSON's escapes,
//! which YAML's double-quoted scalars share, so reading it back gives the same values.

use serde_json::Value;

/// `objects` as one multi-document YAML stream, in the order given.
pub fn yaml_stream<'v>(objects: impl IntoIterator<Item = &'v Value>) -> String {
    let mut out = String::new();
    for v in objects {
        out.push_str("---\n");
        match v {
            Value::Object(m) if !m.is_empty() => block(&mut out, v, 0, false),
            other => {
                scalar(&mut out, other);
                out.push('\n');
            }
        }
    }
    out
}

/// Writes a non-empty mapping or sequence at `indent`; `inline` when the first line
/// continues a `- ` already written.
fn block(out: &mut String, v: &Value, indent: usize, inline: bool) {
    let mut first = true;
    let mut pad = |out: &mut String| {
        if !(first && inline) {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        first = false;
    };
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                pad(out);
                string(out, k);
                out.push(':');
                nested(out, val, indent + 2, false);
            }
        }
        Value::Array(items) => {
            for item in items {
                pad(out);
                out.push('-');
                nested(out, item, indent + 2, true);
            }
        }
        other => {
            scalar(out, other);
            out.push('\n');
        }
    }
}

/// Writes a value after `key:` or `-`.
fn nested(out: &mut String, v: &Value, indent: usize, after_dash: bool) {
    match v {
        Value::Object(m) if !m.is_empty() && after_dash => {
            out.push(' ');
            block(out, v, indent, true);
        }
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block(out, v, indent, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block(out, v, indent, false);
        }
        other => {
            out.push(' ');
            scalar(out, other);
            out.push('\n');
        }
    }
}

fn scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// A string plain when it can only read as that string, else double-quoted.
fn string(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// Plain scalars kept to names and paths that start with a letter and hold no YAML
/// syntax; words YAML 1.1 readers take as booleans or nulls are quoted.
fn plain_is_safe(s: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n"];
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_is_written_reads_back_the_same() {
        let objects = vec![
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-0", "labels": {"app": "web", "tier": "yes",
                    "version": "1.0", "empty": "", "colon": "a: b", "dash": "- x",
                    "hash": "#x", "multi": "line\nnext", "unicode": "é\u{2028}", "quote": "\"'"}},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}, {"name": "dns", "protocol": "UDP"}]}],
                    "nodeSelector": {}, "tolerations": [], "hostNetwork": false, "n": null,
                    "nested": [[1, 2], [], [{"a": [true]}]]},
                "status": {"podIP": "10.0.0.1"}
            }),
            json!({"kind": "Namespace", "metadata": {"name": "1"}}),
        ];
        let text = yaml_stream(&objects);
        let (docs, dups) = kubeseg_sources::yaml::parse_documents(&text).expect("valid YAML");
        assert!(dups.is_empty());
        let read: Vec<Value> = docs.iter().map(kubeseg_fakeapi::fixture::to_json).collect();
        assert_eq!(read, objects, "{text}");
    }

    #[test]
    fn names_stay_plain_and_lookalikes_are_quoted() {
        let text = yaml_stream(&[json!({"a": "web-0", "b": "No", "c": "10.0.0.1", "d": "x y"})]);
        assert_eq!(
            text,
            "---\na: web-0\nb: \"No\"\nc: \"10.0.0.1\"\nd: \"x y\"\n"
        );
    }
}
