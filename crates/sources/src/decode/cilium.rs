//! Cilium's `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy,
//! validated as the CRD schema and the agent do (cilium/cilium
//! `pkg/k8s/apis/cilium.io/v2/cnp_types.go` `Parse`, `pkg/policy/api/rule_validation.go`)
//! and rewritten as the agent does (`pkg/k8s/apis/cilium.io/utils/utils.go`).

use super::cilium_peers::{L3, peers};
use super::cilium_ports::{icmps as icmps_ports, to_ports};
use super::cilium_selector::{Scope, read};
use super::ctx::Ctx;
use super::meta::Meta;
use super::policy::error_count;
use super::tier::present;
use crate::tree::{Key, Node, Value};
use kubeseg_model::{
    CiliumPeer, CiliumPeerKind, CiliumPolicy, CiliumRule, CiliumSpec, CiliumSubject,
};

/// The kinds read here.
pub const KINDS: &[&str] = &["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"];

const SPEC_FIELDS: &[&str] = &[
    "endpointSelector",
    "nodeSelector",
    "ingress",
    "ingressDeny",
    "egress",
    "egressDeny",
    "enableDefaultDeny",
    "labels",
    "description",
    "log",
];
const INGRESS_FIELDS: &[&str] = &[
    "fromEndpoints",
    "fromRequires",
    "fromCIDR",
    "fromCIDRSet",
    "fromEntities",
    "fromGroups",
    "fromNodes",
    "toPorts",
    "icmps",
    "authentication",
];
const EGRESS_FIELDS: &[&str] = &[
    "toEndpoints",
    "toRequires",
    "toCIDR",
    "toCIDRSet",
    "toEntities",
    "toServices",
    "toGroups",
    "toNodes",
    "toFQDNs",
    "toPorts",
    "icmps",
    "authentication",
];
/// Fields of allow rules that deny rules (`IngressDenyRule`, `EgressDenyRule`) lack.
const ALLOW_ONLY: &[&str] = &["toFQDNs", "authentication"];

/// A rule list: its direction and whether it denies.
#[derive(Clone, Copy, Debug)]
pub(super) struct Dir {
    pub ingress: bool,
    pub deny: bool,
}

impl Dir {
    fn key(self) -> &'static str {
        match (self.ingress, self.deny) {
            (true, false) => "ingress",
            (true, true) => "ingressDeny",
            (false, false) => "egress",
            (false, true) => "egressDeny",
        }
    }
}

/// Decodes a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy; `None` when it has
/// errors (they are reported): the agent refuses the whole object then.
pub fn cilium_policy(ctx: &mut Ctx, obj: &Node, meta: Meta, kind: &str) -> Option<CiliumPolicy> {
    let errors_before = error_count(ctx);
    let namespace = if kind == "CiliumNetworkPolicy" {
        meta.namespace.unwrap_or_else(|| "default".to_string())
    } else {
        String::new()
    };
    let scope = if namespace.is_empty() {
        Scope::Cluster
    } else {
        Scope::Namespaced(&namespace)
    };
    let spec = obj.get("spec").filter(|n| !n.is_null());
    let specs = obj.get("specs").filter(|n| !n.is_null());
    if spec.is_none() && specs.is_none() {
        ctx.error(obj, "missing-spec", format!("Invalid {kind} spec(s): empty policy: it has neither `spec` nor `specs`, and Cilium rejects it"));
        return None;
    }
    let mut out = Vec::new();
    if let Some(s) = spec {
        out.extend(rule(ctx, s, scope, kind, "spec"));
    }
    if let Some(list) = specs {
        for s in ctx.seq(list, "specs").unwrap_or_default() {
            out.extend(rule(ctx, s, scope, kind, "a specs entry"));
        }
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(CiliumPolicy {
        kind: kind.to_string(),
        namespace: namespace.clone(),
        name: meta.name,
        location: Some(ctx.at(obj)),
        specs: out,
    })
}

/// One policy rule (`api.Rule`).
fn rule(ctx: &mut Ctx, node: &Node, scope: Scope, kind: &str, what: &str) -> Option<CiliumSpec> {
    let entries = ctx.map(node, what)?;
    ctx.check_fields(entries, SPEC_FIELDS, &format!("{kind} {what}"));
    let subject = subject(ctx, node, entries, scope)?;
    let host = matches!(subject, CiliumSubject::Nodes(_));
    // The CRD requires one of the four rule lists (`anyOf`), as the newest
    // `Rule.Validate` does.
    let lists = ["ingress", "ingressDeny", "egress", "egressDeny"];
    if lists.iter().all(|k| present(entries, k).is_none()) {
        ctx.error(
            node,
            "empty-rule",
            "rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny",
        );
        return None;
    }
    let rules =
        |ctx: &mut Ctx, ingress, deny| rules(ctx, entries, Dir { ingress, deny }, scope, host);
    let ingress = rules(ctx, true, false);
    let ingress_deny = rules(ctx, true, true);
    let egress = rules(ctx, false, false);
    let egress_deny = rules(ctx, false, true);
    // `Rule.Sanitize`: an unset direction defaults to deny when it has allow or deny
    // entries (with the agent's default enable-non-default-deny-policies).
    let (dd_in, dd_eg) = default_deny(ctx, entries);
    Some(CiliumSpec {
        location: Some(ctx.at(node)),
        subject,
        default_deny_ingress: dd_in.unwrap_or(!ingress.is_empty() || !ingress_deny.is_empty()),
        default_deny_egress: dd_eg.unwrap_or(!egress.is_empty() || !egress_deny.is_empty()),
        ingress,
        egress,
        ingress_deny,
        egress_deny,
    })
}

/// Exactly one of `endpointSelector` and `nodeSelector` (`Rule.Validate`); a namespaced
/// policy cannot have a `nodeSelector` (`CiliumNetworkPolicy.Parse`).
fn subject(
    ctx: &mut Ctx,
    node: &Node,
    entries: &[(Key, Node)],
    scope: Scope,
) -> Option<CiliumSubject> {
    let find = |k: &str| {
        entries
            .iter()
            .find(|(key, v)| key.name == k && !v.is_null())
    };
    match (find("endpointSelector"), find("nodeSelector")) {
        (None, None) => {
            ctx.error(
                node,
                "invalid-field-count",
                "rule must have one of EndpointSelector or NodeSelector",
            );
            None
        }
        (Some((a, _)), Some((b, _))) => {
            let later = if (a.line, a.column) > (b.line, b.column) {
                a
            } else {
                b
            };
            ctx.error_at(
                later.line,
                later.column,
                "invalid-field-count",
                "rule cannot have both EndpointSelector and NodeSelector",
            );
            None
        }
        (Some((_, sel)), None) => {
            let s = read(ctx, sel, "endpointSelector")?;
            Some(CiliumSubject::Pods(s.subject(ctx, scope)))
        }
        (None, Some((key, sel))) => {
            if let Scope::Namespaced(_) = scope {
                ctx.error_at(key.line, key.column, "invalid-field-count", "Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector (host policies are CiliumClusterwideNetworkPolicies)");
                return None;
            }
            let s = read(ctx, sel, "nodeSelector")?;
            ctx.warning_at(key.line, key.column, "unmodelled-policy", "a nodeSelector makes this a host policy: it guards nodes, which kubeseg does not answer about; the results ignore this rule");
            Some(CiliumSubject::Nodes(s.nodes()))
        }
    }
}

/// `enableDefaultDeny`: `(ingress, egress)`, each `None` when unset.
fn default_deny(ctx: &mut Ctx, entries: &[(Key, Node)]) -> (Option<bool>, Option<bool>) {
    let Some(node) = present(entries, "enableDefaultDeny") else {
        return (None, None);
    };
    let Some(e) = ctx.map(node, "enableDefaultDeny") else {
        return (None, None);
    };
    ctx.check_fields(e, &["ingress", "egress"], "enableDefaultDeny");
    let mut get = |k: &str| {
        let n = present(e, k)?;
        match n.value {
            Value::Bool(b) => Some(b),
            _ => {
                ctx.error(
                    n,
                    "invalid-type",
                    format!(
                        "enableDefaultDeny.{k} must be true or false, found {}",
                        n.type_name()
                    ),
                );
                None
            }
        }
    };
    (get("ingress"), get("egress"))
}

/// The rules of one list.
fn rules(
    ctx: &mut Ctx,
    spec: &[(Key, Node)],
    dir: Dir,
    scope: Scope,
    host: bool,
) -> Vec<CiliumRule> {
    let Some(node) = present(spec, dir.key()) else {
        return Vec::new();
    };
    let what = format!("an {} rule", dir.key());
    let mut out = Vec::new();
    for item in ctx.seq(node, dir.key()).unwrap_or_default() {
        let Some(entries) = ctx.map(item, &what) else {
            continue;
        };
        if let Some(r) = one_rule(ctx, item, entries, dir, scope, host, &what) {
            out.push(r);
        }
    }
    out
}

fn one_rule(
    ctx: &mut Ctx,
    item: &Node,
    entries: &[(Key, Node)],
    dir: Dir,
    scope: Scope,
    host: bool,
    what: &str,
) -> Option<CiliumRule> {
    let errors_before = error_count(ctx);
    let fields = if dir.ingress {
        INGRESS_FIELDS
    } else {
        EGRESS_FIELDS
    };
    ctx.check_fields(entries, fields, what);
    if dir.deny {
        for (key, _) in entries
            .iter()
            .filter(|(k, _)| ALLOW_ONLY.contains(&k.name.as_str()))
        {
            ctx.error_at(
                key.line,
                key.column,
                "unknown-field",
                format!(
                    "{what} has no `{}`: Cilium's deny rules do not take it",
                    key.name
                ),
            );
        }
    }
    let l3 = peers(ctx, entries, dir, scope);
    let (ports, l7, plain_ports) =
        to_ports(ctx, present(entries, "toPorts"), dir, host).unwrap_or_default();
    let icmps =
        present(entries, "icmps").filter(|n| !matches!(&n.value, Value::Seq(s) if s.is_empty()));
    let mut ports = ports;
    if let Some(n) = icmps {
        // `IngressRule.sanitize` / `EgressRule.sanitize` (pkg/policy/api/rule_validation.go,
        // `errUnsupportedICMPWithToPorts`): a rule has one or the other.
        if ports.is_some() {
            ctx.error(n, "invalid-port", "the ICMPs block may only be present without ToPorts. Define a separate rule to use ToPorts");
        } else if let Some(list) = icmps_ports(ctx, n) {
            ports = Some(list);
        }
    }
    if !dir.deny
        && let Some(n) = present(entries, "authentication")
    {
        let disabled = n.get("mode").and_then(Node::as_str) == Some("disabled");
        if !disabled {
            ctx.warning_at(n.line, n.column, "cilium-auth", "authentication: kubeseg counts the traffic as allowed; Cilium drops it unless the two sides authenticate");
        }
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    // No L3 field: any peer on the listed ports, none without ports (`ingress: [{}]`).
    // ICMP types are ports to the agent (`RulesToPolicyEntries` appends `icmps` to the
    // rule's L4 part, beside `toPorts`), so `icmps` without an L3 field is any peer too.
    let listed = |k: &str| {
        present(entries, k).is_some_and(|n| matches!(&n.value, Value::Seq(s) if !s.is_empty()))
    };
    let l3 = match l3? {
        Some(l3) => l3,
        None if listed("toPorts") || listed("icmps") => L3 {
            peers: vec![CiliumPeer {
                location: Some(ctx.at(item)),
                kind: CiliumPeerKind::All,
            }],
            services: Vec::new(),
        },
        None => L3::default(),
    };
    Some(CiliumRule {
        location: Some(ctx.at(item)),
        peers: l3.peers,
        ports,
        l7,
        plain_ports,
        services: l3.services,
    })
}
