//! Istio AuthorizationPolicy and PeerAuthentication, read for `lint`: the fields it
//! checks, and unknown fields with did-you-mean.

use super::ctx::{Ctx, field};
use super::meta::{Meta, labels};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{
    AuthorizationPolicy, AuthorizationRule, Clause, Condition, Labels, PeerAuthentication,
    ServiceAccount,
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
const AP_SOURCE: &[&str] = &[
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "serviceAccounts",
    "notServiceAccounts",
];
const AP_OPERATION: &[&str] = &[
    "hosts",
    "notHosts",
    "ports",
    "notPorts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
];
const HTTP_FIELDS: &[&str] = &[
    "hosts",
    "notHosts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
];

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
                        ctx.check_fields(entries, AP_SOURCE, "rule source");
                        out.principals |= field(entries, "principals").is_some()
                            || field(entries, "notPrincipals").is_some();
                        out.from.push(clause(ctx, from, entries, AP_SOURCE));
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
                        ctx.check_fields(entries, AP_OPERATION, "rule operation");
                        out.to.push(clause(ctx, to, entries, AP_OPERATION));
                        for f in HTTP_FIELDS {
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
            .and_then(Node::as_str)
            .unwrap_or("ALLOW")
            .to_string(),
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
            .and_then(Node::as_str)
            .map(str::to_string),
        port_level: spec
            .and_then(|s| s.get("portLevelMtls"))
            .and_then(Node::as_map)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let port = k.name.parse::<u16>().ok()?;
                        let mode = v.get("mode").and_then(Node::as_str)?;
                        Some((port, mode.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Reads a ServiceAccount.
pub fn service_account(ctx: &mut Ctx, obj: &Node, meta: Meta) -> ServiceAccount {
    ServiceAccount {
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        name: meta.name,
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
