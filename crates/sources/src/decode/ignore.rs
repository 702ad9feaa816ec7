//! `kubeseg.io/ignore` annotations: findings a team accepted, on the objects they concern.

use super::ctx::Ctx;
use crate::tree::{Node, Value};
use kubeseg_model::Ignore;
use kubeseg_model::ignore::{IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION};

/// Reads the object's `kubeseg.io/ignore` annotation, if any.
pub fn ignore(ctx: &mut Ctx, obj: &Node, kind: &str) -> Option<Ignore> {
    let annotations = obj.get("metadata")?.get("annotations")?;
    let value = annotations.get(IGNORE_ANNOTATION)?;
    let Value::Str(text) = &value.value else {
        ctx.warning_at(
            value.line,
            value.column,
            "invalid-ignore",
            format!("`{IGNORE_ANNOTATION}` must be a string of finding codes or rule names, e.g. \"KS101,KS301\"; kubeseg ignores this one"),
        );
        return None;
    };
    let codes: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    if codes.is_empty() {
        ctx.warning_at(
            value.line,
            value.column,
            "invalid-ignore",
            format!("`{IGNORE_ANNOTATION}` names no finding code; kubeseg ignores it"),
        );
        return None;
    }
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or_default();
    Some(Ignore {
        kind: kind.to_string(),
        namespace: super::meta::landing_namespace(ctx, obj, kind),
        name: name.to_string(),
        location: ctx.at(obj),
        end: obj.last_position(),
        codes,
        reason: annotations
            .get(IGNORE_REASON_ANNOTATION)
            .and_then(Node::as_str)
            .map(str::to_string),
    })
}
