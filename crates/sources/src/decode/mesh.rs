//! Istio AuthorizationPolicy and PeerAuthentication, read for `lint`: the fields it
//! checks, and unknown fields with did-you-mean.

use super::ctx::{Ctx, field};
use super::meta::{Meta, labels};
use crate::tree::{Node, Value};
use kubeseg_model::{AuthorizationPolicy, AuthorizationRule, Labels, PeerAuthentication};

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
                    }
                }
                for to in items(rule.get("to")) {
                    if let Some(entries) = to.get("operation").and_then(Node::as_map) {
                        ctx.check_fields(entries, AP_OPERATION, "rule operation");
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
    }
}
