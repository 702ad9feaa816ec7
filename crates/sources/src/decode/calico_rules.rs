//! The rules of Calico policies (`Rule` in projectcalico/calico
//! `api/pkg/apis/projectcalico/v3/policy_common.go`): action, protocol, ICMP and HTTP
//! matches, and the two sides of the connection, checked as `validateRule` does.

use super::calico::Scope;
use super::calico_entity::{entity, subject_side};
use super::calico_ports::{Proto, ports, protocol};
use super::ctx::Ctx;
use super::policy::error_count;
use super::tier::{check_len, describe, present};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{CalicoAction, CalicoIcmp, CalicoRule};

const RULE_FIELDS: &[&str] = &[
    "action",
    "ipVersion",
    "protocol",
    "icmp",
    "notProtocol",
    "notICMP",
    "source",
    "destination",
    "http",
    "metadata",
];

/// The rules of `spec.ingress` or `spec.egress`; `None` when one has errors.
pub(super) fn rules(
    ctx: &mut Ctx,
    spec: &[(Key, Node)],
    ingress: bool,
    scope: Scope,
) -> Option<Vec<CalicoRule>> {
    let key = if ingress { "ingress" } else { "egress" };
    let Some(node) = present(spec, key) else {
        return Some(Vec::new());
    };
    let items = ctx.seq(node, &format!("spec.{key}"))?;
    let mut ok = check_len(ctx, node, items.len(), 0, 1024, &format!("spec.{key}"));
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match rule(ctx, item, ingress, scope) {
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn rule(ctx: &mut Ctx, item: &Node, ingress: bool, scope: Scope) -> Option<CalicoRule> {
    let errors_before = error_count(ctx);
    let what = if ingress {
        "an ingress rule"
    } else {
        "an egress rule"
    };
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, RULE_FIELDS, what);
    let action = action(ctx, item, entries);
    let proto = present(entries, "protocol").map(|n| (n, protocol(ctx, n, "protocol")));
    let not_proto = present(entries, "notProtocol").and_then(|n| protocol(ctx, n, "notProtocol"));
    // No protocol: every protocol; one of TCP, UDP, SCTP, ICMP, ICMPv6: only that
    // one; another: none of them. `notProtocol` then removes its own.
    let mut protocols = match &proto {
        None => [true; 5],
        Some((_, Some(Proto::Ported(i) | Proto::Icmp(i)))) => {
            let mut p = [false; 5];
            p[*i] = true;
            p
        }
        Some((n, Some(Proto::Other(name)))) => {
            ctx.warning_at(
                n.line,
                n.column,
                "calico-protocol",
                format!("{name} is not modelled: this rule matches no TCP, UDP, SCTP, ICMP or ICMPv6 traffic"),
            );
            [false; 5]
        }
        Some((_, None)) => [false; 5],
    };
    if let Some(Proto::Ported(i) | Proto::Icmp(i)) = not_proto {
        protocols[i] = false;
    }
    if let Some(n) = present(entries, "ipVersion") {
        ctx.error(
            n,
            "unsupported-field",
            "ipVersion is not modelled yet: kubeseg cannot restrict a rule to one IP family",
        );
    }
    let rule_proto = proto.as_ref().and_then(|(_, p)| p.as_ref());
    let (icmp, not_icmp) = icmp(ctx, entries, rule_proto);
    http(ctx, entries, ingress, action, rule_proto);
    // The peer is the source of an ingress rule and the destination of an egress rule;
    // the other side is the policy's own endpoint.
    let side = |ctx: &mut Ctx, key: &str| -> Option<&[(Key, Node)]> {
        let node = present(entries, key)?;
        ctx.map(node, &format!("{what}'s {key}"))
    };
    let source = side(ctx, "source");
    let destination = side(ctx, "destination");
    for (key, _) in source.unwrap_or_default() {
        if matches!(key.name.as_str(), "ports" | "notPorts") {
            ctx.error_at(key.line, key.column, "unsupported-field", format!("source.{} is not modelled: kubeseg does not know the ports connections come from", key.name));
        }
    }
    let (peer_key, own_key) = if ingress {
        ("source", "destination")
    } else {
        ("destination", "source")
    };
    let (peer, own) = if ingress {
        (source, destination)
    } else {
        (destination, source)
    };
    subject_side(ctx, own.unwrap_or_default(), own_key);
    let peer = entity(ctx, peer.unwrap_or_default(), scope, peer_key);
    // `validateRule`: a destination Service brings its endpoints' ports.
    if !ingress && peer.as_ref().is_some_and(|p| p.services.is_some()) {
        for (key, _) in destination.unwrap_or_default() {
            if matches!(key.name.as_str(), "ports" | "notPorts") {
                let what = if key.name == "ports" {
                    "ports"
                } else {
                    "notports"
                };
                ctx.error_at(
                    key.line,
                    key.column,
                    "invalid-value",
                    format!(
                        "destination.{}: cannot specify {what} with a service selector",
                        key.name
                    ),
                );
            }
        }
    }
    let ports = ports(ctx, destination.unwrap_or_default(), proto.as_ref());
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(CalicoRule {
        location: Some(ctx.at(item)),
        action: action?,
        protocols,
        icmp,
        not_icmp,
        peer: peer?,
        ports: ports?,
    })
}

/// `action`: required, one of the CRD's enum.
fn action(ctx: &mut Ctx, item: &Node, entries: &[(Key, Node)]) -> Option<CalicoAction> {
    let Some(n) = present(entries, "action") else {
        ctx.error(
            item,
            "invalid-action",
            "Required value: a rule needs an `action` (Allow, Deny, Log or Pass)",
        );
        return None;
    };
    let actions = [
        CalicoAction::Allow,
        CalicoAction::Deny,
        CalicoAction::Log,
        CalicoAction::Pass,
    ];
    let found = n
        .as_str()
        .and_then(|s| actions.into_iter().find(|a| a.as_str() == s));
    if found.is_none() {
        ctx.error(
            n,
            "invalid-action",
            format!(
                "Unsupported value: {}: supported values: \"Allow\", \"Deny\", \"Log\", \"Pass\"",
                describe(n)
            ),
        );
    }
    found
}

/// `icmp` and `notICMP`: checked (`ICMPFields`, the `Rule` CEL rules) and read. They
/// narrow the rule's ICMP and ICMPv6 traffic only (felix renders them as `-m icmp
/// --icmp-type` / `icmp6`, beside `-p icmp`); Calico refuses `icmp` unless the rule's
/// protocol is ICMP or ICMPv6.
fn icmp(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    proto: Option<&Proto>,
) -> (Option<CalicoIcmp>, Option<CalicoIcmp>) {
    let mut out = [None, None];
    for (slot, key) in ["icmp", "notICMP"].into_iter().enumerate() {
        let Some(n) = present(entries, key) else {
            continue;
        };
        let Some(fields) = ctx.map(n, key) else {
            continue;
        };
        ctx.check_fields(fields, &["type", "code"], key);
        let int = |ctx: &mut Ctx, k: &str, max: i64| {
            let v = present(fields, k)?;
            match v.value {
                Value::Int(i) if (0..=max).contains(&i) => Some(i as u8),
                _ => {
                    ctx.error(
                        v,
                        "invalid-value",
                        format!("{key}.{k} must be an integer from 0 to {max}"),
                    );
                    None
                }
            }
        };
        let icmp_type = int(ctx, "type", 254);
        let has_type = icmp_type.is_some() || present(fields, "type").is_some();
        let code = int(ctx, "code", 255);
        if code.is_some() && !has_type {
            ctx.error(
                n,
                "invalid-value",
                "ICMP code specified without an ICMP type",
            );
        }
        let icmp_proto = matches!(proto, Some(Proto::Icmp(_)));
        if key == "icmp" && !icmp_proto {
            ctx.error(
                n,
                "invalid-value",
                "ICMP fields require protocol to be ICMP or ICMPv6",
            );
        } else if !icmp_proto {
            // Felix renders `notICMP` as an ICMP match (`-m icmp ! --icmp-type`), which
            // only an ICMP protocol carries; without one the dataplanes differ.
            ctx.warning_at(
                n.line,
                n.column,
                "calico-icmp",
                "notICMP without protocol ICMP or ICMPv6: kubeseg applies it to the rule's ICMP and ICMPv6 traffic only",
            );
        }
        out[slot] = Some(CalicoIcmp { icmp_type, code });
    }
    let [icmp, not_icmp] = out;
    (icmp, not_icmp)
}

/// `http`: checked as the CEL rules and `validateHTTPRule` do, and reported as an L7
/// match kubeseg counts at L4.
fn http(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    ingress: bool,
    action: Option<CalicoAction>,
    proto: Option<&Proto>,
) {
    let Some(n) = present(entries, "http") else {
        return;
    };
    let Some(fields) = ctx.map(n, "http") else {
        return;
    };
    ctx.check_fields(fields, &["methods", "paths"], "http");
    if !ingress {
        ctx.error(n, "invalid-value", "HTTP: not allowed in egress rule");
    }
    if action.is_some_and(|a| a != CalicoAction::Allow) {
        ctx.error(
            n,
            "invalid-value",
            "HTTP match is only valid on Allow rules",
        );
    }
    if proto.is_some_and(|p| *p != Proto::Ported(0)) {
        ctx.error(
            n,
            "invalid-value",
            "rules with HTTP match must have protocol TCP or unset",
        );
    }
    if let Some(m) = present(fields, "methods") {
        let items = ctx.seq(m, "http.methods").unwrap_or_default();
        check_len(ctx, m, items.len(), 0, 20, "http.methods");
        let mut seen = Vec::new();
        for item in items {
            if let Some(s) = ctx.str(item, "an http.methods entry") {
                if seen.contains(&s) {
                    ctx.error(
                        item,
                        "duplicate-value",
                        format!("Invalid methods (duplicates): `{s}`"),
                    );
                }
                seen.push(s);
            }
        }
    }
    if let Some(p) = present(fields, "paths") {
        let items = ctx.seq(p, "http.paths").unwrap_or_default();
        check_len(ctx, p, items.len(), 0, 20, "http.paths");
        for item in items {
            http_path(ctx, item);
        }
    }
    ctx.warning_at(n.line, n.column, "calico-http", "the http match is an application-layer condition: kubeseg counts the rule as matching every request on its ports");
}

/// One `paths` entry: exactly one of `exact` and `prefix`, a path starting with `/`
/// without `?`, `#` or space (`validateHTTPPaths`).
fn http_path(ctx: &mut Ctx, item: &Node) {
    let Some(fields) = ctx.map(item, "an http.paths entry") else {
        return;
    };
    ctx.check_fields(fields, &["exact", "prefix"], "an http.paths entry");
    let get = |ctx: &mut Ctx, k: &str| {
        present(fields, k)
            .and_then(|n| ctx.str(n, &format!("http.paths.{k}")))
            .filter(|s| !s.is_empty())
    };
    let (exact, prefix) = (get(ctx, "exact"), get(ctx, "prefix"));
    let message = match (exact, prefix) {
        (Some(_), Some(_)) => "Invalid path match. Both 'exact' and 'prefix' are set".to_string(),
        (None, None) => "Invalid path match. Either 'exact' or 'prefix' must be set".to_string(),
        (Some(v), None) | (None, Some(v)) => {
            if v.starts_with('/') && !v.contains(['?', ' ', '#']) {
                return;
            }
            format!("Invalid path {v}. (must start with `/` and not contain `?` or `#`")
        }
    };
    ctx.error(item, "invalid-value", message);
}
