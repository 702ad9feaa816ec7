//! Cluster-scoped tiered policies (`policy.networking.k8s.io`): AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy v1alpha1, ClusterNetworkPolicy v1alpha2, validated as
//! their CRDs' schemas and CEL rules do; and Node objects, for `nodes` peers.

use super::ctx::{Ctx, field};
use super::meta::Meta;
use super::policy::error_count;
use super::tier_peers::{peers, pod_set};
use super::tier_ports::{ports, protocols};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{Action, ClusterPolicy, PodSet, Tier, TierPeerKind, TierRule};

/// Which tiered kind a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy.
    Admin,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy.
    Baseline,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    Cluster,
}

impl Flavor {
    /// The flavor of a correctly filed tiered policy.
    pub fn of(kind: &str, api_version: &str) -> Option<Flavor> {
        match (kind, api_version) {
            ("AdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1") => Some(Flavor::Admin),
            ("BaselineAdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1") => {
                Some(Flavor::Baseline)
            }
            ("ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2") => Some(Flavor::Cluster),
            _ => None,
        }
    }

    /// The kind.
    pub fn kind(self) -> &'static str {
        match self {
            Flavor::Admin => "AdminNetworkPolicy",
            Flavor::Baseline => "BaselineAdminNetworkPolicy",
            Flavor::Cluster => "ClusterNetworkPolicy",
        }
    }

    /// Whether this is the v1alpha2 API (`protocols`, `Accept`, at most 25 of everything).
    pub(super) fn v2(self) -> bool {
        self == Flavor::Cluster
    }

    /// The most rules per direction, and peers or ports per rule.
    pub(super) fn max_items(self) -> usize {
        if self.v2() { 25 } else { 100 }
    }

    fn spec_fields(self) -> &'static [&'static str] {
        match self {
            Flavor::Admin => &["priority", "subject", "ingress", "egress"],
            Flavor::Baseline => &["subject", "ingress", "egress"],
            Flavor::Cluster => &["tier", "priority", "subject", "ingress", "egress"],
        }
    }

    fn rule_fields(self, ingress: bool) -> &'static [&'static str] {
        match (self.v2(), ingress) {
            (false, true) => &["name", "action", "from", "ports"],
            (false, false) => &["name", "action", "to", "ports"],
            (true, true) => &["name", "action", "from", "protocols"],
            (true, false) => &["name", "action", "to", "protocols"],
        }
    }

    pub(super) fn peer_fields(self, ingress: bool) -> &'static [&'static str] {
        match (self, ingress) {
            (_, true) => &["namespaces", "pods"],
            (Flavor::Baseline, false) => &["namespaces", "pods", "nodes", "networks"],
            (_, false) => &["namespaces", "pods", "nodes", "networks", "domainNames"],
        }
    }

    pub(super) fn actions(self) -> &'static [(&'static str, Action)] {
        match self {
            Flavor::Admin => &[
                ("Allow", Action::Accept),
                ("Deny", Action::Deny),
                ("Pass", Action::Pass),
            ],
            Flavor::Baseline => &[("Allow", Action::Accept), ("Deny", Action::Deny)],
            Flavor::Cluster => &[
                ("Accept", Action::Accept),
                ("Deny", Action::Deny),
                ("Pass", Action::Pass),
            ],
        }
    }
}

/// Decodes a tiered policy; `None` when it has errors (they are reported).
pub fn cluster_policy(
    ctx: &mut Ctx,
    obj: &Node,
    meta: Meta,
    flavor: Flavor,
) -> Option<ClusterPolicy> {
    let errors_before = error_count(ctx);
    let kind = flavor.kind();
    if flavor == Flavor::Baseline && !meta.name.is_empty() && meta.name != "default" {
        let at = obj
            .get("metadata")
            .and_then(|m| m.get("name"))
            .unwrap_or(obj);
        ctx.error(at, "invalid-name", format!("a BaselineAdminNetworkPolicy must be named `default` (there is one per cluster), found `{}`", meta.name));
    }
    let Some(spec_node) = obj.get("spec").filter(|s| !s.is_null()) else {
        ctx.error(
            obj,
            "missing-spec",
            format!("{kind} has no spec; the API server requires one"),
        );
        return None;
    };
    let spec = ctx.map(spec_node, "spec")?;
    ctx.check_fields(spec, flavor.spec_fields(), &format!("{kind} spec"));
    let tier = match flavor {
        Flavor::Admin => Some(Tier::Admin),
        Flavor::Baseline => Some(Tier::Baseline),
        Flavor::Cluster => tier(ctx, spec_node, spec),
    };
    let priority = match flavor {
        Flavor::Baseline => Some(0),
        _ => priority(ctx, spec_node, spec),
    };
    let subject = match present(spec, "subject") {
        Some(n) => subject(ctx, n, flavor),
        None => {
            ctx.error(
                spec_node,
                "invalid-subject",
                format!("{kind} spec has no `subject`; the API server requires one"),
            );
            None
        }
    };
    let ingress = rules(ctx, field(spec, "ingress"), flavor, true, tier);
    let egress = rules(ctx, field(spec, "egress"), flavor, false, tier);
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(ClusterPolicy {
        kind: kind.to_string(),
        name: meta.name,
        location: Some(ctx.at(obj)),
        tier: tier?,
        priority: priority?,
        subject: subject?,
        ingress,
        egress,
    })
}

/// The value of `key` unless absent or `null` (the API server prunes nulls from custom resources).
pub(super) fn present<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    field(entries, key).filter(|n| !n.is_null())
}

fn tier(ctx: &mut Ctx, spec_node: &Node, spec: &[(Key, Node)]) -> Option<Tier> {
    let Some(n) = present(spec, "tier") else {
        ctx.error(
            spec_node,
            "invalid-tier",
            "ClusterNetworkPolicy spec has no `tier`; it must be Admin or Baseline",
        );
        return None;
    };
    match n.as_str() {
        Some("Admin") => Some(Tier::Admin),
        Some("Baseline") => Some(Tier::Baseline),
        _ => {
            ctx.error(
                n,
                "invalid-tier",
                format!("tier must be Admin or Baseline, found {}", describe(n)),
            );
            None
        }
    }
}

fn priority(ctx: &mut Ctx, spec_node: &Node, spec: &[(Key, Node)]) -> Option<u32> {
    let Some(n) = present(spec, "priority") else {
        ctx.error(
            spec_node,
            "invalid-priority",
            "spec has no `priority`; the API server requires one from 0 to 1000",
        );
        return None;
    };
    match n.value {
        Value::Int(p) if (0..=1000).contains(&p) => Some(p as u32),
        _ => {
            ctx.error(
                n,
                "invalid-priority",
                format!(
                    "priority must be an integer from 0 to 1000, found {}",
                    describe(n)
                ),
            );
            None
        }
    }
}

/// `` `text` `` for a string, the value for an integer, else the type.
pub(super) fn describe(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("`{s}`"),
        Value::Int(i) => i.to_string(),
        _ => node.type_name().to_string(),
    }
}

/// The one field of `keys` that `entries` sets, reporting none or several as the API
/// server's MinProperties/MaxProperties do.
pub(super) fn one_of<'n>(
    ctx: &mut Ctx,
    node: &Node,
    entries: &'n [(Key, Node)],
    keys: &[&'static str],
    what: &str,
) -> Option<(&'static str, &'n Node)> {
    let mut set: Vec<(&Key, &Node, &'static str)> = keys
        .iter()
        .filter_map(|&k| {
            let (key, value) = entries.iter().rev().find(|(key, _)| key.name == k)?;
            (!value.is_null()).then_some((key, value, k))
        })
        .collect();
    set.sort_by_key(|(key, _, _)| (key.line, key.column));
    let list = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match set.as_slice() {
        [(_, value, k)] => Some((k, value)),
        [] => {
            let null = keys
                .iter()
                .find(|k| field(entries, k).is_some_and(Node::is_null))
                .map(|k| format!(" (`{k}` is null, which the API server drops; write `{k}: {{}}` to select everything)"))
                .unwrap_or_default();
            ctx.error(
                node,
                "invalid-field-count",
                format!("{what} must set exactly one of {list}{null}"),
            );
            None
        }
        [(_, _, first), (second, _, k), ..] => {
            ctx.error_at(
                second.line,
                second.column,
                "invalid-field-count",
                format!("{what} must set exactly one of {list}, found `{first}` and `{k}`"),
            );
            None
        }
    }
}

/// Checks a list's length against the CRD's MinItems and MaxItems.
pub(super) fn check_len(
    ctx: &mut Ctx,
    node: &Node,
    len: usize,
    min: usize,
    max: usize,
    what: &str,
) -> bool {
    if len < min {
        ctx.error(
            node,
            "invalid-list-length",
            format!("{what} must have at least {min} item(s); leave it out instead"),
        );
        false
    } else if len > max {
        ctx.error(
            node,
            "invalid-list-length",
            format!("{what} has {len} items; at most {max} are allowed"),
        );
        false
    } else {
        true
    }
}

fn subject(ctx: &mut Ctx, node: &Node, flavor: Flavor) -> Option<PodSet> {
    let entries = ctx.map(node, "spec.subject")?;
    ctx.check_fields(entries, &["namespaces", "pods"], "spec.subject");
    let (key, value) = one_of(ctx, node, entries, &["namespaces", "pods"], "spec.subject")?;
    pod_set(ctx, key, value, flavor, "spec.subject")
}

fn rules(
    ctx: &mut Ctx,
    node: Option<&Node>,
    flavor: Flavor,
    ingress: bool,
    tier: Option<Tier>,
) -> Vec<TierRule> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let dir = if ingress { "ingress" } else { "egress" };
    let peers_key = if ingress { "from" } else { "to" };
    let ports_key = if flavor.v2() { "protocols" } else { "ports" };
    let items = ctx.seq(node, &format!("spec.{dir}")).unwrap_or_default();
    check_len(
        ctx,
        node,
        items.len(),
        0,
        flavor.max_items(),
        &format!("spec.{dir}"),
    );
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let what = format!("a {dir} rule");
        let Some(entries) = ctx.map(item, &what) else {
            continue;
        };
        ctx.check_fields(entries, flavor.rule_fields(ingress), &what);
        let name = present(entries, "name").and_then(|n| {
            let s = ctx.str(n, "a rule's name")?;
            if s.chars().count() > 100 {
                ctx.error(
                    n,
                    "invalid-name",
                    format!("a rule's name is at most 100 characters, found {}", s.len()),
                );
            }
            Some(s.to_string())
        });
        let action = action(ctx, item, entries, flavor, tier);
        let peers = match present(entries, peers_key) {
            Some(p) => peers(ctx, p, flavor, ingress, action),
            None => {
                ctx.error(
                    item,
                    "invalid-peer",
                    format!(
                        "{what} has no `{peers_key}`; the API server requires at least one peer"
                    ),
                );
                None
            }
        };
        let ports = match present(entries, ports_key) {
            None => Some(None),
            Some(p) if flavor.v2() => protocols(ctx, p, flavor).map(Some),
            Some(p) => ports(ctx, p, flavor).map(Some),
        };
        // CEL on egress rules: named ports only make sense towards pods.
        if let (Some(peers), Some(Some((_, named)))) = (&peers, &ports)
            && let Some(other) = peers
                .iter()
                .find(|p| !matches!(p.kind, TierPeerKind::Pods(_)))
        {
            let peer = match other.kind {
                TierPeerKind::Networks { .. } => "networks",
                TierPeerKind::Nodes(_) => "nodes",
                _ => "domainNames",
            };
            for n in named {
                ctx.error(n, "invalid-port", format!("a named port cannot be used in a rule with a `{peer}` peer: networks, nodes and domain names have no named ports"));
            }
        }
        if let (Some(action), Some(peers), Some(ports)) = (action, peers, ports) {
            out.push(TierRule {
                name,
                location: Some(ctx.at(item)),
                action,
                peers,
                ports: ports.map(|(p, _)| p),
            });
        }
    }
    out
}

fn action(
    ctx: &mut Ctx,
    item: &Node,
    entries: &[(Key, Node)],
    flavor: Flavor,
    tier: Option<Tier>,
) -> Option<Action> {
    let allowed = flavor.actions();
    let list = allowed
        .iter()
        .map(|(s, _)| *s)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(n) = present(entries, "action") else {
        ctx.error(
            item,
            "invalid-action",
            format!("rule has no `action`; it must be one of {list}"),
        );
        return None;
    };
    let written = n.as_str().unwrap_or_default();
    if let Some((_, a)) = allowed.iter().find(|(s, _)| *s == written) {
        if *a == Action::Pass && tier == Some(Tier::Baseline) {
            ctx.warning_at(n.line, n.column, "baseline-pass", "Pass in the Baseline tier skips the rest of the tier to the default, which allows: it acts like Accept");
        }
        return Some(*a);
    }
    let hint = match (flavor, written) {
        (Flavor::Cluster, "Allow") => " (`Allow` is v1alpha1's spelling; v1alpha2 says `Accept`)",
        (Flavor::Admin | Flavor::Baseline, "Accept") => {
            " (`Accept` is v1alpha2's spelling; v1alpha1 says `Allow`)"
        }
        (Flavor::Baseline, "Pass") => {
            " (a BaselineAdminNetworkPolicy cannot pass: there is no later tier)"
        }
        _ => "",
    };
    ctx.error(
        n,
        "invalid-action",
        format!("action must be one of {list}, found {}{hint}", describe(n)),
    );
    None
}
