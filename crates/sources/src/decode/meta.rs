//! Object metadata, label selectors, and the API server's name rules.

use super::ctx::{Ctx, field};
use crate::tree::{Node, Value};
use kubeseg_model::{Labels, Operator, Requirement, Selector};

/// `metadata` fields kubeseg reads.
pub struct Meta {
    /// `metadata.name` (empty when missing; an error was reported).
    pub name: String,
    /// `metadata.namespace`, `None` when absent.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: Labels,
    /// Controller owner: (kind, name).
    pub controller: Option<(String, String)>,
}

/// Kinds without a namespace: `-n` does not apply to them.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "GlobalNetworkPolicy",
    "StagedGlobalNetworkPolicy",
    "GlobalNetworkSet",
    "Tier",
    "HostEndpoint",
    "Profile",
];

/// The namespace an object lands in: its own, `-n`'s, or `default`; empty for
/// cluster-scoped kinds. (Problems with it are reported by [`metadata`].)
pub fn landing_namespace(ctx: &Ctx, obj: &Node, kind: &str) -> String {
    if CLUSTER_SCOPED.contains(&kind) {
        return String::new();
    }
    obj.get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Node::as_str)
        .map(str::to_string)
        .or_else(|| ctx.namespace.as_deref().map(str::to_string))
        .unwrap_or_else(|| "default".into())
}

/// Reads `metadata`; reports a missing or invalid name when `name_required`.
pub fn metadata(ctx: &mut Ctx, obj: &Node, kind: &str, name_required: bool) -> Meta {
    let mut meta = Meta {
        name: String::new(),
        namespace: None,
        labels: Labels::new(),
        controller: None,
    };
    let Some(node) = obj.get("metadata") else {
        if name_required {
            ctx.error(obj, "missing-name", format!("{kind} has no metadata.name"));
        }
        return meta;
    };
    let Some(entries) = ctx.map(node, "metadata") else {
        return meta;
    };
    match field(entries, "name").or_else(|| field(entries, "generateName")) {
        Some(n) => {
            if let Some(s) = ctx.str(n, "metadata.name") {
                meta.name = s.to_string();
                if name_required && !is_dns1123_subdomain(s) {
                    ctx.error(n, "invalid-name", format!("`{s}` is not a valid {kind} name: lower-case letters, digits, '-' and '.', starting and ending with an alphanumeric, at most 253 characters"));
                }
            }
        }
        None if name_required => {
            ctx.error(node, "missing-name", format!("{kind} has no metadata.name"))
        }
        None => {}
    }
    if let Some(n) = field(entries, "namespace")
        && let Some(s) = ctx.str(n, "metadata.namespace")
    {
        if !is_dns1123_label(s) {
            ctx.error(
                n,
                "invalid-name",
                format!("`{s}` is not a valid namespace name"),
            );
        }
        meta.namespace = Some(s.to_string());
    }
    if let Some(ns) = ctx.namespace.clone()
        && !CLUSTER_SCOPED.contains(&kind)
    {
        match (&meta.namespace, field(entries, "namespace")) {
            (None, _) => meta.namespace = Some(ns.to_string()),
            (Some(other), Some(n)) if other.as_str() != &*ns => ctx.error(
                n,
                "namespace-mismatch",
                format!("{kind} names namespace `{other}` but -n says `{ns}`: kubectl apply -n {ns} refuses it; drop -n or the object's namespace"),
            ),
            _ => {}
        }
    }
    if let Some(n) = field(entries, "labels") {
        meta.labels = labels(ctx, n, "metadata.labels");
    }
    if let Some(n) = field(entries, "ownerReferences") {
        for r in ctx.seq(n, "metadata.ownerReferences").unwrap_or_default() {
            let is_controller = matches!(
                r.get("controller").map(|c| &c.value),
                Some(Value::Bool(true))
            );
            let Some(owner) = r
                .get("name")
                .and_then(Node::as_str)
                .filter(|_| is_controller)
            else {
                continue;
            };
            let owner_kind = match r.get("kind").and_then(Node::as_str) {
                Some(k) => k.to_string(),
                None => {
                    // The API server requires kind; np-guard and kubectl dumps edited by hand omit it.
                    ctx.warning_at(r.line, r.column, "owner-without-kind", format!("ownerReference `{owner}` has no kind (the API server requires one); the pod folds into `{owner}[{kind}]`"));
                    kind.to_string()
                }
            };
            meta.controller = Some((owner_kind, owner.to_string()));
        }
    }
    meta
}

/// Reads a `string: string` label map, checking label syntax.
pub fn labels(ctx: &mut Ctx, node: &Node, what: &str) -> Labels {
    let mut out = Labels::new();
    for (k, v) in ctx.map(node, what).unwrap_or_default() {
        let value = match &v.value {
            Value::Str(s) => s.clone(),
            Value::Null => String::new(),
            Value::Int(i) => {
                ctx.error(
                    v,
                    "invalid-type",
                    format!("label `{}` must be a string; quote it: \"{i}\"", k.name),
                );
                continue;
            }
            _ => {
                ctx.error(
                    v,
                    "invalid-type",
                    format!(
                        "label `{}` must be a string, found {}{}",
                        k.name,
                        v.type_name(),
                        super::ctx::quote_hint(v)
                    ),
                );
                continue;
            }
        };
        if let Err(why) = check_label_key(&k.name) {
            ctx.error_at(
                k.line,
                k.column,
                "invalid-label",
                format!("invalid label key `{}`: {why}", k.name),
            );
        }
        if !is_label_value(&value) {
            ctx.error(
                v,
                "invalid-label",
                format!("invalid label value `{value}`: {LABEL_VALUE_RULE}"),
            );
        }
        out.insert(k.name.clone(), value);
    }
    out
}

/// Reads a `metav1.LabelSelector`.
pub fn selector(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Selector> {
    let entries = ctx.map(node, what)?;
    ctx.check_fields(entries, &["matchLabels", "matchExpressions"], what);
    let mut sel = Selector::default();
    let errors_before = ctx.diagnostics.len();
    if let Some(ml) = field(entries, "matchLabels") {
        sel.match_labels = labels(ctx, ml, &format!("{what}.matchLabels"))
            .into_iter()
            .collect();
    }
    if let Some(me) = field(entries, "matchExpressions") {
        for expr in ctx
            .seq(me, &format!("{what}.matchExpressions"))
            .unwrap_or_default()
        {
            let Some(e) = ctx.map(expr, "a matchExpressions entry") else {
                continue;
            };
            ctx.check_fields(
                e,
                &["key", "operator", "values"],
                "a matchExpressions entry",
            );
            let key = match field(e, "key") {
                Some(k) => ctx.str(k, "key").map(str::to_string),
                None => {
                    ctx.error(
                        expr,
                        "invalid-selector",
                        "matchExpressions entry without `key`",
                    );
                    None
                }
            };
            let op = match field(e, "operator") {
                Some(o) => match ctx.str(o, "operator") {
                    Some(s) => match Operator::parse(s) {
                        Some(op) => Some(op),
                        None => {
                            ctx.error(o, "invalid-selector", format!("unknown selector operator `{s}`; expected In, NotIn, Exists or DoesNotExist"));
                            None
                        }
                    },
                    None => None,
                },
                None => {
                    ctx.error(
                        expr,
                        "invalid-selector",
                        "matchExpressions entry without `operator`",
                    );
                    None
                }
            };
            let mut values = Vec::new();
            if let Some(v) = field(e, "values") {
                for item in ctx.seq(v, "values").unwrap_or_default() {
                    match &item.value {
                        // The API server validates selector values as label values.
                        Value::Str(s) => {
                            if !is_label_value(s) {
                                ctx.error(item, "invalid-label", format!("invalid label value `{s}` in matchExpressions: {LABEL_VALUE_RULE}"));
                            }
                            values.push(s.clone());
                        }
                        _ => ctx.error(
                            item,
                            "invalid-type",
                            format!(
                                "selector values must be strings, found {}",
                                item.type_name()
                            ),
                        ),
                    }
                }
            }
            let (Some(key), Some(operator)) = (key, op) else {
                continue;
            };
            if let Err(why) = check_label_key(&key) {
                ctx.error(
                    field(e, "key").unwrap_or(expr),
                    "invalid-label",
                    format!("invalid label key `{key}`: {why}"),
                );
            }
            match operator {
                Operator::In | Operator::NotIn if values.is_empty() => ctx.error(
                    expr,
                    "invalid-selector",
                    format!("operator {operator:?} needs at least one value"),
                ),
                Operator::Exists | Operator::DoesNotExist if !values.is_empty() => ctx.error(
                    expr,
                    "invalid-selector",
                    format!("operator {operator:?} takes no values"),
                ),
                _ => {}
            }
            values.sort();
            values.dedup();
            sel.match_expressions.push(Requirement {
                key,
                operator,
                values,
            });
        }
    }
    (ctx.diagnostics[errors_before..]
        .iter()
        .all(|d| d.severity != kubeseg_model::Severity::Error))
    .then_some(sel)
}

/// A DNS-1123 label: namespaces, port names' shape.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: most object names. As the API server's
/// `IsDNS1123Subdomain`, it checks the total length and the pattern only: a
/// dot-separated part may be longer than 63 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

pub(super) const LABEL_VALUE_RULE: &str =
    "at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";

pub(super) fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

pub(super) fn check_label_key(key: &str) -> Result<(), &'static str> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if !is_dns1123_subdomain(prefix) {
                return Err("the prefix must be a DNS subdomain");
            }
            name
        }
        None => key,
    };
    if !name.is_empty() && name.len() <= 63 && is_label_value(name) {
        Ok(())
    } else {
        Err(
            "the name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
        )
    }
}

/// An IANA service name as a named port: 1-15 lower-case alphanumerics or '-',
/// at least one letter, no leading, trailing or double '-'.
pub fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_follow_the_api_server() {
        assert!(is_dns1123_subdomain("deny-backend.v2"));
        assert!(!is_dns1123_subdomain("CI-CD"));
        assert!(!is_dns1123_label("a.b"));
        assert!(is_port_name("http-alt"));
        assert!(!is_port_name("80"));
        assert!(!is_port_name("http--alt"));
        assert!(!is_port_name("a-very-long-port-name"));
        assert!(check_label_key("app.kubernetes.io/name").is_ok());
        assert!(check_label_key("bad key").is_err());
    }
}
