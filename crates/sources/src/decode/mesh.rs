//! Istio AuthorizationPolicy and PeerAuthentication, read for `lint`: the fields it
//! checks, and unknown fields with did-you-mean.

use super::ctx::{Ctx, field};
use super::meta::{Meta, labels};
use crate::tree::{Key, Node, Value};
use kubeseg_model::mesh::{HTTP_ONLY_FIELDS, OPERATION_FIELDS, SOURCE_FIELDS};
use kubeseg_model::{
    AuthorizationPolicy, AuthorizationRule, AuthzAction, Clause, Condition, Labels, MtlsMode,
    PeerAuthentication, ServiceAccount,
};

const AP_SPEC: &[&str] = &[
    "selector",
    "targetRef",
    "targetRefs",
    "action",
    "provider",
    "rules",
];
const AP_RULE: &[&str] = &["from", "to", "when"];
/// `selector.matchLabels`, if any.
fn match_labels(ctx: &mut Ctx, spec: Option<&Node>) -> Option<Labels> {
    let sel = spec?.get("selector")?;
    Some(
        sel.get("matchLabels")
            .map(|m| labels(ctx, m, "selector.matchLabels"))
            .unwrap_or_default(),
    )
}

fn items(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

/// Reads an AuthorizationPolicy.
pub fn authorization_policy(ctx: &mut Ctx, obj: &Node, meta: Meta) -> AuthorizationPolicy {
    let spec = obj.get("spec");
    if let Some(entries) = spec.and_then(Node::as_map) {
        ctx.check_fields(entries, AP_SPEC, "AuthorizationPolicy spec");
    }
    let rules = spec.and_then(|s| s.get("rules")).map(|r| {
        items(Some(r))
            .iter()
            .map(|rule| {
                let mut out = AuthorizationRule {
                    location: Some(ctx.at(rule)),
                    ..Default::default()
                };
                if let Some(entries) = rule.as_map() {
                    ctx.check_fields(entries, AP_RULE, "AuthorizationPolicy rule");
                    out.matches_all = entries.is_empty();
                }
                for from in items(rule.get("from")) {
                    if let Some(entries) = from.get("source").and_then(Node::as_map) {
                        ctx.check_fields(entries, SOURCE_FIELDS, "rule source");
                        out.principals |= field(entries, "principals").is_some()
                            || field(entries, "notPrincipals").is_some();
                        out.from.push(clause(ctx, from, entries, SOURCE_FIELDS));
                    }
                }
                for when in items(rule.get("when")) {
                    if let Some(entries) = when.as_map() {
                        ctx.check_fields(
                            entries,
                            &["key", "values", "notValues"],
                            "rule condition",
                        );
                        out.when.push(Condition {
                            location: Some(ctx.at(when)),
                            key: field(entries, "key")
                                .and_then(Node::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            values: strings(field(entries, "values")),
                            not_values: strings(field(entries, "notValues")),
                        });
                    }
                }
                for to in items(rule.get("to")) {
                    if let Some(entries) = to.get("operation").and_then(Node::as_map) {
                        ctx.check_fields(entries, OPERATION_FIELDS, "rule operation");
                        out.to.push(clause(ctx, to, entries, OPERATION_FIELDS));
                        for f in HTTP_ONLY_FIELDS
                            .iter()
                            .filter(|f| OPERATION_FIELDS.contains(f))
                        {
                            if field(entries, f).is_some()
                                && !out.http_fields.iter().any(|x| x == f)
                            {
                                out.http_fields.push(f.to_string());
                            }
                        }
                        out.ports
                            .extend(items(field(entries, "ports")).iter().filter_map(|p| {
                                match &p.value {
                                    Value::Str(s) => Some(s.clone()),
                                    Value::Int(i) => Some(i.to_string()),
                                    _ => None,
                                }
                            }));
                    }
                }
                out
            })
            .collect()
    });
    AuthorizationPolicy {
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        name: meta.name,
        location: Some(ctx.at(obj)),
        selector: match_labels(ctx, spec),
        target_refs: spec
            .is_some_and(|s| s.get("targetRef").is_some() || s.get("targetRefs").is_some()),
        targets: spec
            .map(|s| {
                s.get("targetRef")
                    .into_iter()
                    .chain(items(s.get("targetRefs")))
                    .map(|t| {
                        let get = |k| t.get(k).and_then(Node::as_str).unwrap_or_default();
                        (get("group").into(), get("kind").into(), get("name").into())
                    })
                    .collect()
            })
            .unwrap_or_default(),
        provider: spec
            .and_then(|s| s.get("provider"))
            .and_then(|p| p.get("name"))
            .and_then(Node::as_str)
            .map(str::to_string),
        action: spec
            .and_then(|s| s.get("action"))
            .and_then(|a| one_of(ctx, a, "AuthorizationPolicy action", &AuthzAction::ALL))
            .unwrap_or(AuthzAction::Allow),
        rules,
    }
}

/// Reads a PeerAuthentication.
pub fn peer_authentication(ctx: &mut Ctx, obj: &Node, meta: Meta) -> PeerAuthentication {
    let spec = obj.get("spec");
    if let Some(entries) = spec.and_then(Node::as_map) {
        ctx.check_fields(
            entries,
            &["selector", "mtls", "portLevelMtls"],
            "PeerAuthentication spec",
        );
    }
    PeerAuthentication {
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        name: meta.name,
        location: Some(ctx.at(obj)),
        selector: match_labels(ctx, spec),
        mode: spec
            .and_then(|s| s.get("mtls"))
            .and_then(|m| m.get("mode"))
            .and_then(|m| one_of(ctx, m, "mtls.mode", &MtlsMode::ALL)),
        port_level: spec
            .and_then(|s| s.get("portLevelMtls"))
            .map(|node| port_level(ctx, node))
            .unwrap_or_default(),
    }
}

/// `portLevelMtls`: port numbers (1–65535) to `{mode}`.
fn port_level(ctx: &mut Ctx, node: &Node) -> Vec<(u16, MtlsMode)> {
    let Some(entries) = ctx.map(node, "portLevelMtls") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(port) = k.name.parse::<u16>().ok().filter(|p| *p != 0) else {
            ctx.error_at(
                k.line,
                k.column,
                "invalid-port",
                format!(
                    "portLevelMtls key `{}` is not a port number (1-65535)",
                    kubeseg_model::clip(&k.name)
                ),
            );
            continue;
        };
        let Some(fields) = ctx.map(v, "a portLevelMtls entry") else {
            continue;
        };
        ctx.check_fields(fields, &["mode"], "portLevelMtls entry");
        if let Some(mode) =
            field(fields, "mode").and_then(|m| one_of(ctx, m, "portLevelMtls mode", &MtlsMode::ALL))
        {
            out.push((port, mode));
        }
    }
    out
}

/// A string enum spelled exactly as the CRD's schema lists it, or an error naming the
/// accepted values (with the right case when only the case is wrong).
fn one_of<T: Copy>(ctx: &mut Ctx, node: &Node, what: &str, values: &[(&str, T)]) -> Option<T> {
    let text = ctx.str(node, what)?;
    if let Some((_, v)) = values.iter().find(|(n, _)| *n == text) {
        return Some(*v);
    }
    let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
    let hint = match names.iter().find(|n| n.eq_ignore_ascii_case(text)) {
        Some(n) => format!("; did you mean `{n}`? The values are case-sensitive"),
        None => String::new(),
    };
    ctx.error(
        node,
        "invalid-value",
        format!(
            "{what} `{}` is not one of {}: the CRD rejects the object{hint}",
            kubeseg_model::clip(text),
            names.join(", ")
        ),
    );
    None
}

/// Reads a ServiceAccount.
pub fn service_account(ctx: &mut Ctx, obj: &Node, meta: Meta) -> ServiceAccount {
    ServiceAccount {
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        name: meta.name,
        labels: meta.labels,
        location: Some(ctx.at(obj)),
    }
}

/// The fields of a `source` or `operation` (known ones only; unknown ones were reported).
fn clause(ctx: &mut Ctx, node: &Node, entries: &[(Key, Node)], known: &[&str]) -> Clause {
    for (k, v) in entries {
        if !k.name.to_ascii_lowercase().ends_with("ipblocks") {
            continue;
        }
        for item in items(Some(v)) {
            let text = item.as_str().unwrap_or_default();
            if text.parse::<std::net::IpAddr>().is_err()
                && kubeseg_model::Cidr::parse(text).is_err()
            {
                ctx.warning_at(item.line, item.column, "invalid-address", format!("`{text}` in {} is neither an IP address nor a CIDR: Istio rejects the policy; kubeseg lets this value match no address", k.name));
            }
        }
    }
    Clause {
        location: Some(ctx.at(node)),
        fields: entries
            .iter()
            .filter(|(k, _)| known.contains(&k.name.as_str()))
            .map(|(k, v)| (k.name.clone(), strings(Some(v))))
            .collect(),
    }
}

/// A list of scalars as strings (ports are often written as numbers).
fn strings(node: Option<&Node>) -> Vec<String> {
    items(node)
        .iter()
        .filter_map(|v| match &v.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        })
        .collect()
}
