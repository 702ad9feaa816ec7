//! Objects that change connectivity but that an answer leaves out (policy kinds not
//! modelled yet, custom resources no operator description covers), named in every
//! output format so that an answer never looks complete when it is not.

use serde_json::{Value, json};

/// How an output is shaped, for adding the list to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Lines for a terminal.
    Text,
    /// A JSON document: a top-level `unmodelled` list.
    Json,
    /// SARIF: tool execution notifications of the first run's invocation.
    Sarif,
    /// Markdown: a list after the rest.
    Md,
    /// TAP: comment lines.
    Tap,
    /// JUnit XML: the suite's `system-err`.
    Junit,
}

const SAID: &str = "not modelled, the answer ignores it";

/// `out` with `unmodelled` (one message with its location each) added; unchanged when
/// the list is empty.
pub fn add(shape: Shape, out: String, unmodelled: &[String]) -> String {
    if unmodelled.is_empty() {
        return out;
    }
    let one_line = |m: &String| m.replace(['\n', '\r'], " ");
    match shape {
        Shape::Text => {
            let mut out = out;
            out.push_str(&format!("\n{SAID}:\n"));
            for m in unmodelled {
                out.push_str(&format!("  - {}\n", one_line(m)));
            }
            out
        }
        Shape::Md => {
            let mut out = out;
            out.push_str("\n**Not modelled** (the answer ignores them):\n\n");
            for m in unmodelled {
                out.push_str(&format!("- {}\n", crate::md_cell(&one_line(m))));
            }
            out
        }
        Shape::Tap => {
            let mut out = out;
            for m in unmodelled {
                out.push_str(&format!("# {SAID}: {}\n", one_line(m)));
            }
            out
        }
        Shape::Junit => {
            let text: Vec<String> = unmodelled
                .iter()
                .map(|m| crate::test::xml(&format!("{SAID}: {}", one_line(m))))
                .collect();
            let element = format!("    <system-err>{}</system-err>\n", text.join("&#10;"));
            match out.rfind("  </testsuite>") {
                Some(at) => format!("{}{element}{}", &out[..at], &out[at..]),
                None => out,
            }
        }
        Shape::Json => {
            // Appended as the last key, so the document keeps its key order and is not
            // parsed again (a diff can be large).
            let body = out.trim_end();
            let Some(open) = body.strip_suffix('}') else {
                return out;
            };
            let list = serde_json::to_string(unmodelled).unwrap_or_default();
            format!("{},\n  \"unmodelled\": {list}\n}}\n", open.trim_end())
        }
        Shape::Sarif => {
            let Ok(mut doc) = serde_json::from_str::<Value>(&out) else {
                return out;
            };
            {
                let notes: Vec<Value> = unmodelled
                    .iter()
                    .map(|m| json!({"level": "warning", "message": {"text": format!("{SAID}: {m}")}}))
                    .collect();
                let run = &mut doc["runs"][0];
                if !run["invocations"].is_array() {
                    run["invocations"] = json!([{"executionSuccessful": true}]);
                }
                let inv = &mut run["invocations"][0];
                if !inv["toolExecutionNotifications"].is_array() {
                    inv["toolExecutionNotifications"] = json!([]);
                }
                if let Some(list) = inv["toolExecutionNotifications"].as_array_mut() {
                    list.extend(notes);
                }
            }
            crate::to_json(&doc)
        }
    }
}
