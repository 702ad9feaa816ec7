//! `kubeseg explain` output.
//!
//! # JSON contract (schemaVersion 3)
//! `schemaVersion`, `src` and `dst` (`{"id", "kind"}`), `port` (`{"protocol", "port"}` or
//! null), `allowed` (boolean when a port is given, else null), `connections` (the allowed
//! set, shaped like `allowed` in `reach`: five keys, ICMP and ICMPv6 as `type * 256 +
//! code` ranges; so are every `allows`, `ports` and `decides` below), and `egress` / `ingress`, each
//! `{"applicable", "isolated", "isolatingPolicies": [{"policy", "location"}],
//!   "rules": [{"policy", "rule", "location", "peerMatches", "allows", "failed"}],
//!   "tiers": [{"tier", "policy", "priority", "rule", "location", "action", "ports", "decides"}],
//!   "dnsDependent": [{"policy", "rule", "location"}], "allowed"}` where `rule` reads
//! `ingress[0]`, `allows` is the rule's port set toward the destination, and `failed` is
//! null, `"peer"`, `"port"`, `"protocol"` or `"named-port"`. `rules` are the
//! NetworkPolicy layer's. `tiers` lists, in evaluation order, the rules of tiered
//! policies (`policy` reads `Kind/name`, `tier` `Admin` or `Baseline`, `action`
//! `Accept`, `Deny` or `Pass`) that apply and whose peer matches: `ports` what the rule
//! matches toward the destination, `decides` the part no earlier rule of its tier
//! decided. Baseline rules appear only when no NetworkPolicy isolates the endpoint.
//! `dnsDependent` lists `domainNames` rules whose verdict for an address depends on
//! what the names resolve to. `allowed` is the direction's verdict with every tier.
//!
//! Cilium's policies (when enforced) appear in the same lists, with `policy` reading
//! `CiliumNetworkPolicy/ns/name` or `CiliumClusterwideNetworkPolicy/name`: the specs
//! that put the endpoint into default deny in `isolatingPolicies`, the allow rules of
//! every selecting spec in `rules` (`rule` reads `ingress[0]`, or `specs[1].ingress[0]`
//! when the policy has several specs; `l7` lists the L7 rule kinds on its ports, such
//! as `["http"]`, and is absent when there are none: the L3/L4 verdict counts those
//! ports as open, and Cilium's proxy admits only the requests the rules match), and the
//! deny rules that match in `tiers` with
//! `tier` `Cilium`, `action` `Deny`, no `priority`, `rule` `ingressDeny[0]`; they come
//! after the Admin tier's and before the Baseline tier's. `isolated` is then true when
//! a NetworkPolicy or a Cilium spec isolates.

use crate::mesh::{MeshJson, mesh_json, mesh_text};
use crate::{PortsJson, SCHEMA_VERSION, to_json};
use kubeseg_engine::explain::{Direction, Explanation, Miss, TierStep};
use kubeseg_engine::index::{Region, Stage, cilium_refs};
use kubeseg_engine::mesh::{Decision, MeshVerdict, Request};
use kubeseg_model::{Action, CiliumPolicy, CiliumSpec, Cluster, ClusterPolicy, PortSet, Protocol};
use serde::Serialize;
use std::fmt::Write;

/// What the user asked about.
pub struct Query<'a> {
    /// Source display id.
    pub src: &'a str,
    /// Source kind.
    pub src_kind: &'a str,
    /// Destination display id.
    pub dst: &'a str,
    /// Destination kind.
    pub dst_kind: &'a str,
    /// The port asked about, resolved to a number.
    pub port: Option<(Protocol, u16)>,
    /// The mesh layer per TCP port (empty without a mesh).
    pub mesh: &'a [(u16, MeshVerdict)],
    /// The request the mesh was asked about.
    pub request: &'a Request,
    /// Cilium's L7 conditions: ports only allows with L7 rules admit (empty without).
    pub cilium_l7: &'a [kubeseg_engine::mesh::L7Condition],
}

#[derive(Serialize)]
struct Side<'a> {
    id: &'a str,
    kind: &'a str,
}

#[derive(Serialize)]
struct PortJson {
    protocol: &'static str,
    port: u16,
}

#[derive(Serialize)]
struct PolicyRef {
    policy: String,
    location: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleJson {
    policy: String,
    rule: String,
    location: Option<String>,
    peer_matches: bool,
    allows: PortsJson,
    failed: Option<&'static str>,
    /// Cilium's L7 rule kinds on the rule's ports (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    l7: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DirectionJson {
    applicable: bool,
    isolated: bool,
    isolating_policies: Vec<PolicyRef>,
    rules: Vec<RuleJson>,
    tiers: Vec<TierStepJson>,
    dns_dependent: Vec<TierRuleRef>,
    allowed: PortsJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TierStepJson {
    tier: &'static str,
    policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<u32>,
    rule: String,
    location: Option<String>,
    action: &'static str,
    ports: PortsJson,
    decides: PortsJson,
}

#[derive(Serialize)]
struct TierRuleRef {
    policy: String,
    rule: String,
    location: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExplainJson<'a> {
    schema_version: u32,
    src: Side<'a>,
    dst: Side<'a>,
    port: Option<PortJson>,
    allowed: Option<bool>,
    verdict: Option<&'static str>,
    connections: PortsJson,
    egress: DirectionJson,
    ingress: DirectionJson,
    mesh: Vec<MeshJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cilium_l7: Vec<CiliumL7Json>,
}

/// Ports only allows with Cilium L7 rules admit, and the rules that filter them.
#[derive(Serialize)]
struct CiliumL7Json {
    ports: PortsJson,
    conditions: Vec<String>,
}

/// The composed verdict on the asked port: L3/L4, then the mesh on that port.
fn verdict(q: &Query, e: &Explanation) -> Option<&'static str> {
    let (proto, n) = q.port?;
    if !e.allowed.contains(proto, n) {
        return Some("denied");
    }
    // The mesh's denial wins; Cilium's L7 rules or the mesh's conditions make the
    // rest conditional.
    Some(
        match (
            q.mesh
                .iter()
                .find(|(p, _)| *p == n)
                .map(|(_, v)| &v.decision),
            l7_on(q),
        ) {
            (Some(Decision::Denied), _) => "denied",
            (Some(Decision::Conditional(_)), _) | (_, Some(_)) => "conditional",
            (None | Some(Decision::Allowed), None) => "allowed",
        },
    )
}

fn failed(
    miss: &Option<Miss>,
    ports: &PortSet,
    port: Option<(Protocol, u16)>,
) -> Option<&'static str> {
    match miss {
        Some(Miss::Peer) => Some("peer"),
        Some(Miss::NamedPortUndefined(_)) => Some("named-port"),
        None => match port {
            Some((proto, n)) if !ports.contains(proto, n) => {
                Some(if ports.ports(proto).is_empty() {
                    "protocol"
                } else {
                    "port"
                })
            }
            _ => None,
        },
    }
}

fn direction_json(
    cluster: &Cluster,
    d: &Direction,
    name: &str,
    port: Option<(Protocol, u16)>,
) -> DirectionJson {
    let pol = |i: usize| &cluster.policies[i];
    let refs = cilium_refs(cluster);
    let egress = name == "egress";
    let cilium_isolating = d.cilium.isolating.iter().map(|&i| {
        let (policy, spec, _) = cilium_spec(cluster, &refs, i);
        PolicyRef {
            policy: policy.id(),
            location: spec.location.as_ref().map(|l| l.to_string()),
        }
    });
    let cilium_rules = d.cilium.rules.iter().map(|r| {
        let (policy, spec, label) = cilium_spec(cluster, &refs, r.spec);
        let rules = if egress { &spec.egress } else { &spec.ingress };
        RuleJson {
            policy: policy.id(),
            rule: format!("{label}{name}[{}]", r.rule),
            location: rules[r.rule].location.as_ref().map(|l| l.to_string()),
            peer_matches: r.miss != Some(Miss::Peer),
            allows: PortsJson::from_set(&r.ports),
            failed: failed(&r.miss, &r.ports, port),
            l7: r.l7.clone(),
        }
    });
    DirectionJson {
        applicable: !d.not_applicable,
        isolated: d.isolated,
        isolating_policies: d
            .isolating
            .iter()
            .map(|&i| PolicyRef {
                policy: pol(i).id(),
                location: pol(i).location.as_ref().map(|l| l.to_string()),
            })
            .chain(cilium_isolating)
            .collect(),
        rules: d
            .rules
            .iter()
            .map(|r| {
                let p = pol(r.policy);
                let rules = if egress { &p.egress } else { &p.ingress };
                RuleJson {
                    policy: p.id(),
                    rule: format!("{name}[{}]", r.rule),
                    location: rules[r.rule].location.as_ref().map(|l| l.to_string()),
                    peer_matches: r.miss != Some(Miss::Peer),
                    allows: PortsJson::from_set(&r.ports),
                    failed: failed(&r.miss, &r.ports, port),
                    l7: Vec::new(),
                }
            })
            .chain(cilium_rules)
            .collect(),
        tiers: d
            .tiers
            .steps
            .iter()
            .map(|s| {
                let source = step_source(cluster, &refs, s, name);
                TierStepJson {
                    tier: s.tier.as_str(),
                    policy: source.policy,
                    priority: source.priority,
                    rule: source.rule,
                    location: source.location.as_ref().map(|l| l.to_string()),
                    action: s.action.as_str(),
                    ports: PortsJson::from_set(&s.ports),
                    decides: PortsJson::from_set(&s.decided),
                }
            })
            .collect(),
        dns_dependent: d
            .tiers
            .dns_dependent
            .iter()
            .map(|&(p, r)| {
                let (policy, rule) = tier_rule(cluster, p, r, name);
                TierRuleRef {
                    policy: policy.id(),
                    rule: format!("{name}[{r}]"),
                    location: rule.location.as_ref().map(|l| l.to_string()),
                }
            })
            .collect(),
        allowed: PortsJson::from_set(&d.allowed),
    }
}

/// Renders an explanation as JSON.
pub fn json(cluster: &Cluster, q: &Query, e: &Explanation) -> String {
    to_json(&ExplainJson {
        schema_version: SCHEMA_VERSION,
        src: Side {
            id: q.src,
            kind: q.src_kind,
        },
        dst: Side {
            id: q.dst,
            kind: q.dst_kind,
        },
        port: q.port.map(|(p, n)| PortJson {
            protocol: p.as_str(),
            port: n,
        }),
        allowed: verdict(q, e).map(|v| v == "allowed"),
        verdict: verdict(q, e),
        connections: PortsJson::from_set(&e.allowed),
        egress: direction_json(cluster, &e.egress, "egress", q.port),
        ingress: direction_json(cluster, &e.ingress, "ingress", q.port),
        mesh: q
            .mesh
            .iter()
            .map(|(p, v)| mesh_json(cluster, *p, v))
            .collect(),
        cilium_l7: q
            .cilium_l7
            .iter()
            .map(|c| CiliumL7Json {
                ports: PortsJson::from_set(&c.ports),
                conditions: c.conditions.clone(),
            })
            .collect(),
    })
}

/// The Cilium L7 conditions on the asked port, when its allows all carry L7 rules.
fn l7_on<'q>(q: &Query<'q>) -> Option<&'q kubeseg_engine::mesh::L7Condition> {
    let (proto, n) = q.port?;
    q.cilium_l7.iter().find(|c| c.ports.contains(proto, n))
}

/// Renders an explanation for a terminal.
pub fn text(cluster: &Cluster, q: &Query, e: &Explanation) -> String {
    let mut out = String::new();
    match q.port {
        Some((proto, n)) => {
            let verdict = match verdict(q, e) {
                Some("allowed") => "ALLOWED".to_string(),
                Some("conditional") => {
                    let mut parts: Vec<String> =
                        l7_on(q).map(|c| c.conditions.clone()).unwrap_or_default();
                    let mesh = q
                        .mesh
                        .iter()
                        .any(|(p, v)| *p == n && matches!(v.decision, Decision::Conditional(_)));
                    if mesh {
                        parts.push("the mesh conditions below hold".into());
                    }
                    format!("ALLOWED ONLY IF {}", parts.join(" and "))
                }
                _ if e.allowed.contains(proto, n) => "DENIED (by the mesh)".to_string(),
                _ => "DENIED".to_string(),
            };
            let asked = PortSet::range(proto, n, n);
            let _ = writeln!(out, "{} => {} on {asked}: {verdict}", q.src, q.dst);
        }
        None => {
            let what = if e.allowed.is_empty() {
                "No Connections".to_string()
            } else {
                e.allowed.to_string()
            };
            let _ = writeln!(out, "{} => {} : {what}", q.src, q.dst);
        }
    }
    direction_text(&mut out, cluster, &e.egress, "egress", q.src, q.port);
    direction_text(&mut out, cluster, &e.ingress, "ingress", q.dst, q.port);
    for (p, v) in q.mesh {
        mesh_text(&mut out, cluster, *p, v, q.request);
    }
    out
}

fn direction_text(
    out: &mut String,
    cluster: &Cluster,
    d: &Direction,
    name: &str,
    who: &str,
    port: Option<(Protocol, u16)>,
) {
    let _ = write!(out, "\n{name} of {who}:");
    if d.not_applicable {
        let _ = writeln!(
            out,
            " not subject to policy (outside the cluster or host network): everything allowed"
        );
        return;
    }
    let _ = writeln!(out);
    // Steps come in evaluation order; the union layer sits between Pre and Post.
    let early = |s: &&TierStep| matches!(s.tier.region(), Region::Before | Region::Pre);
    for s in d.tiers.steps.iter().filter(early) {
        tier_step_text(out, cluster, s, name);
    }
    network_policy_text(out, cluster, d, name, port);
    if !cluster.cilium_policies.is_empty() {
        cilium_allows_text(out, cluster, d, name, port);
    }
    if !d.tiers.calico_isolating.is_empty() {
        let names: Vec<String> = (d.tiers.calico_isolating.iter())
            .map(|&i| cluster.calico_policies[i].id())
            .collect();
        let _ = writeln!(
            out,
            "  [Calico] tier default applies ({}): what it leaves is denied",
            names.join(", ")
        );
    }
    for s in d.tiers.steps.iter().filter(|s| !early(s)) {
        tier_step_text(out, cluster, s, name);
    }
    for &(p, r) in &d.tiers.dns_dependent {
        let (policy, rule) = tier_rule(cluster, p, r, name);
        let _ = writeln!(
            out,
            "  note: {} {name}[{r}]{} names domains: if the address is one they resolve to, it {} (depends on DNS)",
            policy_label(policy),
            location(&rule.location),
            rule.action.as_str().to_lowercase() + "s",
        );
    }
    if let Some((proto, n)) = port {
        let _ = writeln!(
            out,
            "  {} decided by {}",
            PortSet::range(proto, n, n),
            decider(cluster, d, name, proto, n)
        );
    }
    let allowed = if d.allowed.is_empty() {
        "No Connections".to_string()
    } else {
        d.allowed.to_string()
    };
    let _ = writeln!(out, "  {name} allows: {allowed}");
}

fn location(l: &Option<kubeseg_model::Location>) -> String {
    l.as_ref().map(|l| format!(" ({l})")).unwrap_or_default()
}

fn policy_label(p: &ClusterPolicy) -> String {
    format!("[{}] {} (priority {})", p.tier.as_str(), p.id(), p.priority)
}

/// The `i`-th Cilium spec (`cilium_refs` order), its policy, and its label prefix.
fn cilium_spec<'c>(
    cluster: &'c Cluster,
    refs: &[kubeseg_engine::index::CiliumRef],
    i: usize,
) -> (&'c CiliumPolicy, &'c CiliumSpec, String) {
    let r = refs[i];
    let policy = &cluster.cilium_policies[r.policy as usize];
    (
        policy,
        &policy.specs[r.spec as usize],
        policy.spec_label(r.spec as usize),
    )
}

/// What a step of the ordered stages points at.
struct StepSource {
    /// `[Admin] Kind/name (priority N)` or `[Cilium] Kind/ns/name`.
    label: String,
    policy: String,
    priority: Option<u32>,
    /// `ingress[0]`, `ingressDeny[0]`, `specs[1].egressDeny[0]`.
    rule: String,
    location: Option<kubeseg_model::Location>,
}

fn step_source(
    cluster: &Cluster,
    refs: &[kubeseg_engine::index::CiliumRef],
    s: &TierStep,
    name: &str,
) -> StepSource {
    if s.tier.is_calico() {
        let policy = &cluster.calico_policies[s.policy];
        let order = policy
            .order
            .map(|o| format!(", order {o}"))
            .unwrap_or_default();
        if s.end {
            return StepSource {
                label: format!("[Calico tier {}]", policy.tier),
                policy: format!("Tier/{}", policy.tier),
                priority: None,
                rule: "end of tier (defaultAction)".into(),
                location: None,
            };
        }
        let rules = if name == "egress" {
            &policy.egress
        } else {
            &policy.ingress
        };
        return StepSource {
            label: format!("[Calico tier {}] {}{order}", policy.tier, policy.id()),
            policy: policy.id(),
            priority: None,
            rule: format!("{name}[{}]", s.rule),
            location: rules.get(s.rule).and_then(|r| r.location.clone()),
        };
    }
    if s.tier == Stage::Normal {
        let (policy, spec, label) = cilium_spec(cluster, refs, s.policy);
        let rules = if name == "egress" {
            &spec.egress_deny
        } else {
            &spec.ingress_deny
        };
        return StepSource {
            label: format!("[Cilium] {}", policy.id()),
            policy: policy.id(),
            priority: None,
            rule: format!("{label}{name}Deny[{}]", s.rule),
            location: rules[s.rule].location.clone(),
        };
    }
    let (policy, rule) = tier_rule(cluster, s.policy, s.rule, name);
    StepSource {
        label: policy_label(policy),
        policy: policy.id(),
        priority: Some(policy.priority),
        rule: format!("{name}[{}]", s.rule),
        location: rule.location.clone(),
    }
}

/// The Cilium specs that select the endpoint, and their allow rules.
fn cilium_allows_text(
    out: &mut String,
    cluster: &Cluster,
    d: &Direction,
    name: &str,
    port: Option<(Protocol, u16)>,
) {
    let refs = cilium_refs(cluster);
    if d.cilium.rules.is_empty() && d.cilium.isolating.is_empty() {
        return;
    }
    let isolating: Vec<String> = d
        .cilium
        .isolating
        .iter()
        .map(|&i| {
            let (policy, spec, label) = cilium_spec(cluster, &refs, i);
            format!("{label}{}{}", policy.id(), location(&spec.location))
        })
        .collect();
    if !isolating.is_empty() {
        let _ = writeln!(out, "  [Cilium] default deny by {}", isolating.join(", "));
    }
    for r in &d.cilium.rules {
        let (policy, spec, label) = cilium_spec(cluster, &refs, r.spec);
        let rules = if name == "egress" {
            &spec.egress
        } else {
            &spec.ingress
        };
        let mut what = rule_outcome(&r.miss, &r.ports, port);
        if r.miss.is_none() && !r.l7.is_empty() {
            what += &format!(
                " (only the requests its L7 {} rules match: Cilium's proxy filters them)",
                r.l7.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "    {} {label}{name}[{}]{}: {what}",
            policy.id(),
            r.rule,
            location(&rules[r.rule].location)
        );
    }
}

/// What one allow rule does for the asked port, as a phrase.
fn rule_outcome(miss: &Option<Miss>, ports: &PortSet, port: Option<(Protocol, u16)>) -> String {
    match (miss, failed(miss, ports, port)) {
        (Some(Miss::Peer), _) => "no peer matches".to_string(),
        (Some(Miss::NamedPortUndefined(names)), _) => format!(
            "peer matches, but the destination defines no port named {}",
            names.join(", ")
        ),
        (None, Some("protocol")) => {
            format!("peer matches, but the protocol is not allowed (rule allows {ports})")
        }
        (None, Some(_)) => {
            format!("peer matches, but the port is not allowed (rule allows {ports})")
        }
        (None, None) => format!("allows {ports}"),
    }
}

fn tier_rule<'c>(
    cluster: &'c Cluster,
    p: usize,
    r: usize,
    name: &str,
) -> (&'c ClusterPolicy, &'c kubeseg_model::TierRule) {
    let policy = &cluster.cluster_policies[p];
    let rules = if name == "egress" {
        &policy.egress
    } else {
        &policy.ingress
    };
    (policy, &rules[r])
}

fn tier_step_text(out: &mut String, cluster: &Cluster, s: &TierStep, name: &str) {
    let source = step_source(cluster, &cilium_refs(cluster), s, name);
    let what = if s.ports.is_empty() {
        "peer matches, but no port toward this destination".to_string()
    } else if s.decided.is_empty() {
        format!("{} {} (already decided above)", s.action.as_str(), s.ports)
    } else if s.decided == s.ports {
        format!("{} {}", s.action.as_str(), s.ports)
    } else {
        format!("{} {} (decides {})", s.action.as_str(), s.ports, s.decided)
    };
    let _ = writeln!(
        out,
        "  {} {}{}: {what}",
        source.label,
        source.rule,
        location(&source.location)
    );
}

/// Which layer decides one port, as a phrase.
fn decider(cluster: &Cluster, d: &Direction, name: &str, proto: Protocol, n: u16) -> String {
    let refs = cilium_refs(cluster);
    let label = |s: &TierStep| {
        let source = step_source(cluster, &refs, s, name);
        format!("{} {} {}", source.label, source.rule, s.action.as_str())
    };
    if !cluster.calico_policies.is_empty() {
        return calico_decider(d, proto, n, &label);
    }
    let step = |tier: Stage| {
        d.tiers
            .steps
            .iter()
            .find(|s| s.tier == tier && s.decided.contains(proto, n))
    };
    if let Some(s) = step(Stage::Admin).filter(|s| s.action != Action::Pass) {
        return label(s);
    }
    let passed = step(Stage::Admin)
        .map(|s| format!("{} → ", label(s)))
        .unwrap_or_default();
    if let Some(s) = step(Stage::Normal) {
        return format!("{passed}{}", label(s));
    }
    if d.isolated && d.cilium.rules.is_empty() && d.cilium.isolating.is_empty() {
        return format!("{passed}[NetworkPolicy]");
    }
    if d.isolated {
        return format!("{passed}[NetworkPolicy and Cilium allows]");
    }
    match step(Stage::Baseline) {
        Some(s) => format!("{passed}[NetworkPolicy] not isolated → {}", label(s)),
        None => format!("{passed}[NetworkPolicy] not isolated → no Baseline rule: default allow"),
    }
}

/// Which step decides one port when Calico's tiers are in the walk: the first that
/// decides it, passes on through the tiers it passes, and the union layer in between.
fn calico_decider(
    d: &Direction,
    proto: Protocol,
    n: u16,
    label: &dyn Fn(&TierStep) -> String,
) -> String {
    let mut trail = String::new();
    let deciding = |region: &[Region]| {
        d.tiers
            .steps
            .iter()
            .filter(|s| region.contains(&s.tier.region()) && s.decided.contains(proto, n))
            .collect::<Vec<_>>()
    };
    for s in deciding(&[Region::Before, Region::Pre]) {
        if s.action != Action::Pass {
            return format!("{trail}{}", label(s));
        }
        trail += &format!("{} → ", label(s));
    }
    let passed_in_pre = deciding(&[Region::Pre])
        .iter()
        .any(|s| s.action == Action::Pass);
    if !passed_in_pre {
        let union: PortSet = d
            .rules
            .iter()
            .map(|r| &r.ports)
            .chain(d.cilium.rules.iter().map(|r| &r.ports))
            .fold(PortSet::empty(), |acc, p| acc.union(p));
        if d.isolated && union.contains(proto, n) {
            return format!("{trail}[NetworkPolicy]");
        }
        for s in deciding(&[Region::Post]) {
            if s.action != Action::Pass {
                return format!("{trail}{}", label(s));
            }
            trail += &format!("{} → ", label(s));
        }
        let passed_in_post = deciding(&[Region::Post])
            .iter()
            .any(|s| s.action == Action::Pass);
        if d.isolated && !passed_in_post {
            return format!("{trail}[Calico] tier default applies: Deny");
        }
    }
    for s in deciding(&[Region::After]) {
        if s.action != Action::Pass {
            return format!("{trail}{}", label(s));
        }
        trail += &format!("{} → ", label(s));
    }
    format!("{trail}[Calico] no tier decides: the namespace profile allows")
}

fn network_policy_text(
    out: &mut String,
    cluster: &Cluster,
    d: &Direction,
    name: &str,
    port: Option<(Protocol, u16)>,
) {
    if !d.isolated {
        let kind = if name == "egress" {
            "Egress"
        } else {
            "Ingress"
        };
        let _ = writeln!(
            out,
            "  [NetworkPolicy] not isolated (no NetworkPolicy with {kind} selects it)"
        );
        return;
    }
    if d.isolating.is_empty() {
        let _ = writeln!(
            out,
            "  [NetworkPolicy] none selects it (a Cilium policy isolates it)"
        );
        return;
    }
    let names: Vec<String> = d
        .isolating
        .iter()
        .map(|&i| {
            let p = &cluster.policies[i];
            match &p.location {
                Some(l) => format!("{} ({l})", p.id()),
                None => p.id(),
            }
        })
        .collect();
    let _ = writeln!(out, "  [NetworkPolicy] isolated by {}", names.join(", "));
    if d.rules.is_empty() {
        let _ = writeln!(out, "    no {name} rule in these policies: nothing allowed");
    }
    for r in &d.rules {
        let p = &cluster.policies[r.policy];
        let rules = if name == "egress" {
            &p.egress
        } else {
            &p.ingress
        };
        let loc = location(&rules[r.rule].location);
        let what = rule_outcome(&r.miss, &r.ports, port);
        let _ = writeln!(out, "    {} {name}[{}]{loc}: {what}", p.id(), r.rule);
    }
}
