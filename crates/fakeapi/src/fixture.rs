//! Reading fixture files (multi-document YAML, JSON, `List`s) into JSON objects.

use kubeseg_sources::tree::{Node, Value as Tree};
use serde_json::{Map, Number, Value};
use std::path::Path;

/// Reads every object of a fixture file. YAML goes through kubeseg's own parser so the
/// double reads fixtures exactly as the analyzer reads manifests.
pub fn read_file(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads every object of a YAML or JSON text; `List`s are flattened into their items.
pub fn parse(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = if text.trim_start().starts_with(['{', '[']) {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(e) => return Err(format!("JSON: {e}")),
        }
    } else {
        let (nodes, _) = kubeseg_sources::yaml::parse_documents(text)
            .map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))?;
        nodes.iter().map(to_json).collect()
    };
    let mut out = Vec::new();
    for doc in docs {
        flatten(doc, &mut out)?;
    }
    Ok(out)
}

fn flatten(doc: Value, out: &mut Vec<Value>) -> Result<(), String> {
    match doc {
        Value::Null => Ok(()),
        Value::Object(ref m) if m.get("kind").and_then(Value::as_str).is_some_and(is_list) => {
            if let Some(Value::Array(items)) = m.get("items") {
                for item in items {
                    flatten(item.clone(), out)?;
                }
            }
            Ok(())
        }
        Value::Object(_) => {
            out.push(doc);
            Ok(())
        }
        other => Err(format!("a document is not an object: {other}")),
    }
}

fn is_list(kind: &str) -> bool {
    kind == "List" || kind.ends_with("List")
}

/// Converts a parsed YAML node to JSON.
pub fn to_json(node: &Node) -> Value {
    match &node.value {
        Tree::Null => Value::Null,
        Tree::Bool(b) => Value::Bool(*b),
        Tree::Int(i) => Value::Number((*i).into()),
        // A float JSON cannot hold (NaN, infinity) becomes its text.
        Tree::Float(f) => {
            Number::from_f64(*f).map_or_else(|| Value::String(f.to_string()), Value::Number)
        }
        Tree::Str(s) => Value::String(s.clone()),
        Tree::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Tree::Map(entries) => {
            let mut m = Map::new();
            for (key, value) in entries {
                m.insert(key.name.clone(), to_json(value));
            }
            Value::Object(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_lists_and_json_arrays_flatten() {
        let yaml = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {x: '1'}}\n";
        let objs = parse(yaml).unwrap_or_default();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1]["metadata"]["labels"]["x"], "1");
        let json = r#"{"kind":"PodList","items":[{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","n":3}}]}"#;
        let objs = parse(json).unwrap_or_default();
        assert_eq!(objs[0]["metadata"]["n"], 3);
        assert!(parse("- 1\n- 2\n").is_err());
    }
}
