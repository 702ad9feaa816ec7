//! What Cilium resolves against other objects before it evaluates a policy, done once
//! the whole input is assembled: each `toServices` entry of an egress rule becomes the
//! peers the agent generates for the Services it matches (pkg/policy/k8s/service.go,
//! `resolveToServices` and `processRule`, Cilium 1.17 and later):
//! - a Service with a selector: a `toEndpoints` peer of its selector plus
//!   `k8s:io.kubernetes.pod.namespace: <its namespace>` (`appendSelector`), so pods;
//! - a Service without one: a `toCIDRSet` entry per address of its EndpointSlices
//!   (`appendEndpoints`), which follow Cilium's CIDR rules (never a pod or a node).
//!
//! A rule whose entries generate nothing has no L3 selector left, which the agent
//! reads as "every peer" on its `toPorts` (`RulesToPolicyEntries` leaves `L3` empty,
//! and an empty `L3` selects all endpoints, pkg/policy/types/policyentry.go; seen in
//! cilium/cilium#20067) and as nothing without ports. Deny rules are never resolved.

use crate::assemble::NAMESPACE_NAME_LABEL;
use kubeseg_model::{
    Cidr, CiliumPeer, CiliumPeerKind, CiliumRule, CiliumService, CiliumServiceMatch, Cluster,
    Diagnostic, IpSet, PodSet, Selector, Service,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The label that hands a Service to another proxy: the agent's Service watch leaves
/// such Services out with its default empty `--k8s-service-proxy-name`
/// (pkg/k8s/utils/utils.go, `GetServiceAndEndpointListOptionsModifier`).
const SERVICE_PROXY_NAME: &str = "service.kubernetes.io/service-proxy-name";

/// The serving addresses of each Service's EndpointSlices, by (namespace, name).
type Backends<'c> = BTreeMap<(&'c str, &'c str), Vec<IpAddr>>;

/// What the entries are resolved against: the Services Cilium watches, by name (in
/// namespace order, as `cluster.services` is sorted), and their slices' addresses.
struct Input<'c> {
    services: Vec<&'c Service>,
    by_name: BTreeMap<&'c str, Vec<&'c Service>>,
    backends: Backends<'c>,
}

/// Lowers every `toServices` entry of the cluster's Cilium policies; returns what the
/// answer should say about them.
pub(crate) fn lower(cluster: &mut Cluster) -> Vec<Diagnostic> {
    let any = cluster.cilium_policies.iter().any(|p| {
        p.specs.iter().any(|s| {
            s.egress
                .iter()
                .chain(&s.egress_deny)
                .any(|r| !r.services.is_empty())
        })
    });
    if !any {
        return Vec::new();
    }
    let mut policies = std::mem::take(&mut cluster.cilium_policies);
    let services: Vec<&Service> = cluster
        .services
        .iter()
        .filter(|s| !s.labels.contains_key(SERVICE_PROXY_NAME))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for s in &services {
        by_name.entry(&s.name).or_default().push(s);
    }
    let input = Input {
        services,
        by_name,
        backends: backends(cluster),
    };
    let mut out = Vec::new();
    for p in &mut policies {
        let id = p.id();
        let labels: Vec<String> = (0..p.specs.len()).map(|i| p.spec_label(i)).collect();
        for (spec, label) in p.specs.iter_mut().zip(&labels) {
            for (deny, rules) in [(false, &mut spec.egress), (true, &mut spec.egress_deny)] {
                let list = if deny { "egressDeny" } else { "egress" };
                for (i, rule) in rules.iter_mut().enumerate() {
                    if rule.services.is_empty() {
                        continue;
                    }
                    let what = format!("{id} {label}{list}[{i}]");
                    lower_rule(&input, rule, deny, &what, &mut out);
                }
            }
        }
    }
    cluster.cilium_policies = policies;
    out
}

/// The addresses Cilium takes from each Service's EndpointSlices: those of endpoints
/// that are ready, or serving while terminating (`ParseEndpointSliceV1`,
/// pkg/k8s/endpoints.go), of IPv4 and IPv6 slices, merged over every slice labelled
/// with the Service's name in its namespace (`ParseEndpointSliceID`).
fn backends(cluster: &Cluster) -> Backends<'_> {
    let mut out: Backends = BTreeMap::new();
    for s in &cluster.endpoint_slices {
        let Some(service) = s.service_name.as_deref() else {
            continue;
        };
        let addresses = out.entry((&s.namespace, service)).or_default();
        if s.address_type == "FQDN" {
            continue;
        }
        for e in s.endpoints.iter().filter(|e| e.serving()) {
            addresses.extend(&e.addresses);
        }
    }
    for addresses in out.values_mut() {
        addresses.sort();
        addresses.dedup();
    }
    out
}

/// One rule's `toServices`: the generated peers, each placed at the entry that made it.
fn lower_rule(
    input: &Input,
    rule: &mut CiliumRule,
    deny: bool,
    what: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut generated: Vec<CiliumPeer> = Vec::new();
    let mut seen = BTreeSet::new();
    if !deny {
        for entry in &rule.services {
            for kind in entry_peers(input, entry, what, out) {
                if seen.insert(kind.clone()) {
                    generated.push(CiliumPeer {
                        location: entry.location.clone(),
                        kind,
                    });
                }
            }
        }
    }
    if generated.is_empty() && rule.ports.is_some() {
        out.push(Diagnostic::warning(
            "cilium-service-wildcard",
            rule.location.clone(),
            format!("{what}: its toServices give no peer, so the rule has no L3 selector left and Cilium applies its toPorts to every destination (cilium/cilium#20067); kubeseg reads it the same way"),
        ));
        generated.push(CiliumPeer {
            location: rule.services.first().and_then(|s| s.location.clone()),
            kind: CiliumPeerKind::All,
        });
    }
    rule.peers.extend(generated);
}

/// The peers one entry generates, Service by Service in namespace and name order.
fn entry_peers(
    input: &Input,
    entry: &CiliumService,
    what: &str,
    out: &mut Vec<Diagnostic>,
) -> Vec<CiliumPeerKind> {
    // A name is looked up; only a selector tests every Service.
    let candidates = match &entry.matches {
        CiliumServiceMatch::Name(name) => input
            .by_name
            .get(name.as_str())
            .map_or(&[][..], Vec::as_slice),
        CiliumServiceMatch::Labels(_) => &input.services,
        CiliumServiceMatch::Nothing => &[][..],
    };
    let matched: Vec<&Service> = candidates
        .iter()
        .copied()
        .filter(|s| matches(entry, s))
        .collect();
    if matched.is_empty() {
        out.push(Diagnostic::warning(
            "cilium-service-missing",
            entry.location.clone(),
            format!(
                "{what}: this toServices entry matches no Service of the input ({}): Cilium generates no peer from it",
                describe(entry)
            ),
        ));
    }
    let mut peers = Vec::new();
    for s in matched {
        match s.selector.as_ref().filter(|l| !l.is_empty()) {
            Some(selector) => peers.push(CiliumPeerKind::Pods(PodSet {
                namespaces: Selector {
                    match_labels: vec![(NAMESPACE_NAME_LABEL.to_string(), s.namespace.clone())],
                    match_expressions: Vec::new(),
                },
                pods: Selector {
                    match_labels: selector.clone().into_iter().collect(),
                    match_expressions: Vec::new(),
                },
            })),
            None => {
                let addresses = input
                    .backends
                    .get(&(s.namespace.as_str(), s.name.as_str()))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if addresses.is_empty() {
                    out.push(Diagnostic::warning(
                        "cilium-service-no-endpoints",
                        entry.location.clone(),
                        format!(
                            "{what}: Service {}/{} has no selector and the input has no serving address for it in an EndpointSlice labelled kubernetes.io/service-name={}: Cilium generates no peer from it",
                            s.namespace, s.name, s.name
                        ),
                    ));
                }
                peers.extend(addresses.iter().map(|&ip| host_cidr(ip)));
            }
        }
    }
    peers
}

/// Whether an entry names the Service: its namespace, when written, and its name or
/// labels (`serviceRefMatches`, `serviceSelectorMatches`). Cilium leaves an empty
/// `namespace` empty, even in a CiliumNetworkPolicy (`parseToCiliumEgressCommonRule`
/// copies `ToServices` as written), so it matches in every namespace.
fn matches(entry: &CiliumService, s: &Service) -> bool {
    if !(entry.namespace.is_empty() || entry.namespace == s.namespace) {
        return false;
    }
    match &entry.matches {
        CiliumServiceMatch::Name(name) => *name == s.name,
        CiliumServiceMatch::Labels(selector) => selector.matches(&s.labels),
        CiliumServiceMatch::Nothing => false,
    }
}

/// The entry as the warning names it.
fn describe(entry: &CiliumService) -> String {
    let namespace = if entry.namespace.is_empty() {
        "any namespace".to_string()
    } else {
        format!("namespace {}", entry.namespace)
    };
    match &entry.matches {
        CiliumServiceMatch::Name(name) => format!("name {name}, {namespace}"),
        CiliumServiceMatch::Labels(_) => format!("labels matching its selector, {namespace}"),
        CiliumServiceMatch::Nothing => "it names no Service".to_string(),
    }
}

/// A generated `toCIDRSet` entry for one address (`/32` or `/128`).
fn host_cidr(ip: IpAddr) -> CiliumPeerKind {
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    let written = format!("{ip}/{bits}");
    let addresses = Cidr::parse(&written)
        .map(Cidr::to_set)
        .unwrap_or_else(|_| IpSet::single(ip));
    CiliumPeerKind::Cidr { written, addresses }
}
