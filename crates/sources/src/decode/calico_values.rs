//! Scalar values of Calico objects: numbers and selectors.

use super::ctx::Ctx;
use super::tier::describe;
use crate::tree::{Node, Value};
use kubeseg_model::CalicoSelector;

/// The longest selector the CRD schema accepts (`MaxLength=1024`).
const MAX_SELECTOR: usize = 1024;

/// A number (`*float64`).
pub(super) fn number(ctx: &mut Ctx, node: &Node, what: &str) -> Option<f64> {
    match node.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) if f.is_finite() => Some(f),
        _ => {
            ctx.error(
                node,
                "invalid-type",
                format!("{what} must be a number, found {}", describe(node)),
            );
            None
        }
    }
}

/// A selector string, parsed; `global()` is refused unless `global_ok` (only a rule's
/// `namespaceSelector` may use it: the CEL rules test the text for `global(`).
pub(super) fn selector(
    ctx: &mut Ctx,
    node: &Node,
    what: &str,
    global_ok: bool,
) -> Option<CalicoSelector> {
    let text = ctx.str(node, what)?;
    if text.len() > MAX_SELECTOR {
        ctx.error(
            node,
            "invalid-selector",
            format!(
                "{what} is {} bytes long; the CRD allows at most {MAX_SELECTOR}",
                text.len()
            ),
        );
        return None;
    }
    if !global_ok && text.contains("global(") {
        ctx.error(
            node,
            "invalid-selector",
            format!("{what}: global() can only be used in an EntityRule namespaceSelector"),
        );
        return None;
    }
    match CalicoSelector::parse(text) {
        Ok(s) => Some(s),
        Err(e) => {
            ctx.error(
                node,
                "invalid-selector",
                format!(
                    "{what} `{}` is not a valid Calico selector: {e}",
                    clip(text)
                ),
            );
            None
        }
    }
}

fn clip(text: &str) -> String {
    kubeseg_model::clip(text).to_string()
}
