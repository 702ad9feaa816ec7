//! NetworkPolicy compiled to nftables, per pod, straight from the specification: a
//! pod's own network namespace holds table `inet kubeseg` with an `ingress` chain on
//! the input hook (the policies that isolate it for ingress) and an `egress` chain on
//! the output hook (those that isolate it for egress).
//!
//! This compiler shares no code with the engine: it reads the model's policies and
//! the lab's pods, so `lab verify` compares two independent readings of the same
//! policies, one of them enforced by the kernel.
//!
//! - Each (peer, port entry) of a rule is one nft rule ending in `accept`, so the
//!   peers and port entries of a rule are OR'd and nothing falls through early (an
//!   `except` is subtracted from its `cidr` before the set is written, never a
//!   `return`).
//! - Named ports are resolved against the destination pod: the pod itself for
//!   ingress, each destination pod for egress (so a name that means different numbers
//!   on different pods gets one rule per pod); an address outside the cluster has no
//!   named port.
//! - An ipBlock does not match pods' addresses unless the reading says so (kubeseg's
//!   documented default; `--ipblock-pod-ips` is Calico's).
//! - `ct state established,related accept` comes first, so replies pass; loopback is
//!   never filtered.
//! - An update is one `nft -f` transaction that flushes and refills the chains and the
//!   set: base chains are never deleted, so no hook is unregistered and no packet
//!   meets a half-built ruleset.

use crate::plan::Plan;
use kubeseg_model::{Cluster, IpSet, Labels, NetworkPolicy, PeerKind, PortMatch, Protocol, Rule};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// How the lab reads semantics that implementations leave open.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    /// ipBlocks also match pods' addresses.
    pub ipblock_pod_ips: bool,
}

/// One pod's compiled policy: the bodies of its rules (without the chain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRules {
    /// Whether some policy isolates it for ingress (then the chain ends in `drop`).
    pub ingress_isolated: bool,
    /// Allow rules of the ingress chain.
    pub ingress: Vec<String>,
    /// Whether some policy isolates it for egress.
    pub egress_isolated: bool,
    /// Allow rules of the egress chain.
    pub egress: Vec<String>,
}

/// The lab cannot enforce this input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unsupported {
    /// Cluster-wide tiers are not compiled yet.
    #[error(
        "the lab does not enforce AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy yet ({0})"
    )]
    Tiers(String),
}

/// Refuses what the compiler does not enforce, so that a lab never reports agreement
/// on policies it ignored.
pub fn check(cluster: &Cluster) -> Result<(), Unsupported> {
    match cluster.cluster_policies.first() {
        Some(p) => Err(Unsupported::Tiers(p.id())),
        None => Ok(()),
    }
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// An nft set of addresses (`{ a, b-c }`), or `None` when empty.
pub fn address_set(v4: impl IntoIterator<Item = (u32, u32)>) -> Option<String> {
    let items: Vec<String> = v4
        .into_iter()
        .map(|(lo, hi)| {
            if lo == hi {
                Ipv4Addr::from(lo).to_string()
            } else {
                format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi))
            }
        })
        .collect();
    (!items.is_empty()).then(|| format!("{{ {} }}", items.join(", ")))
}

fn ips_set(ips: &[Ipv4Addr]) -> Option<String> {
    let mut v: Vec<u32> = ips.iter().map(|&ip| u32::from(ip)).collect();
    v.sort_unstable();
    v.dedup();
    address_set(v.into_iter().map(|a| (a, a)))
}

/// Who a peer entry matches, as seen from one side of the rule.
enum Peers {
    /// Every address.
    Any,
    /// These lab pods (indices into the plan).
    Pods(Vec<usize>),
    /// These addresses, outside the cluster (unless pods' addresses count).
    Addresses(IpSet),
}

fn namespace_labels<'c>(cluster: &'c Cluster, name: &str) -> Option<&'c Labels> {
    cluster.namespace(name).map(|n| &n.labels)
}

fn pod_labels<'c>(cluster: &'c Cluster, plan: &Plan, i: usize) -> &'c Labels {
    let p = &plan.pods[i];
    &cluster.workloads[p.workload].pods[p.template].labels
}

fn peers_of(cluster: &Cluster, plan: &Plan, policy: &NetworkPolicy, rule: &Rule) -> Vec<Peers> {
    let Some(peers) = &rule.peers else {
        return vec![Peers::Any];
    };
    peers
        .iter()
        .map(|peer| match &peer.kind {
            PeerKind::Pods { namespaces, pods } => Peers::Pods(
                (0..plan.pods.len())
                    .filter(|&q| {
                        let ns = &plan.pods[q].namespace;
                        let ns_ok = match namespaces {
                            None => *ns == policy.namespace,
                            Some(sel) => {
                                namespace_labels(cluster, ns).is_some_and(|l| sel.matches(l))
                            }
                        };
                        ns_ok
                            && pods
                                .as_ref()
                                .is_none_or(|sel| sel.matches(pod_labels(cluster, plan, q)))
                    })
                    .collect(),
            ),
            PeerKind::IpBlock { addresses, .. } => Peers::Addresses(addresses.clone()),
        })
        .collect()
}

/// The port match of one port entry toward a destination pod (`None`: the entry
/// matches no port there, as a named port the pod does not declare).
fn port_match(
    entry: &kubeseg_model::PortRule,
    destination: Option<&crate::plan::LabPod>,
) -> Option<String> {
    let p = proto(entry.protocol);
    match &entry.port {
        PortMatch::Any => Some(format!("meta l4proto {p}")),
        PortMatch::Range(lo, hi) if lo == hi => Some(format!("{p} dport {lo}")),
        PortMatch::Range(lo, hi) => Some(format!("{p} dport {lo}-{hi}")),
        PortMatch::Named(name) => destination?
            .ports
            .iter()
            .find(|c| c.protocol() == entry.protocol && c.name.as_deref() == Some(name))
            .map(|c| format!("{p} dport {}", c.port)),
    }
}

fn selects(cluster: &Cluster, plan: &Plan, policy: &NetworkPolicy, i: usize) -> bool {
    policy.namespace == plan.pods[i].namespace
        && policy.pod_selector.matches(pod_labels(cluster, plan, i))
}

/// Compiles the policies that govern lab pod `i`.
pub fn compile_pod(cluster: &Cluster, plan: &Plan, i: usize, reading: Reading) -> PodRules {
    let all_ips: Vec<Ipv4Addr> = plan.pods.iter().filter_map(|p| p.ip).collect();
    let me = &plan.pods[i];
    let mut out = PodRules::default();
    for policy in cluster
        .policies
        .iter()
        .filter(|p| selects(cluster, plan, p, i))
    {
        if policy.isolates_ingress {
            out.ingress_isolated = true;
            for rule in &policy.ingress {
                for peers in peers_of(cluster, plan, policy, rule) {
                    let from = match &peers {
                        Peers::Any => Some(String::new()),
                        Peers::Pods(qs) => {
                            let ips: Vec<Ipv4Addr> =
                                qs.iter().filter_map(|&q| plan.pods[q].ip).collect();
                            ips_set(&ips).map(|s| format!("ip saddr {s} "))
                        }
                        Peers::Addresses(a) => {
                            address_set(a.v4.ranges().iter().copied()).map(|s| {
                                if reading.ipblock_pod_ips {
                                    format!("ip saddr {s} ")
                                } else {
                                    format!("ip saddr {s} ip saddr != @pods ")
                                }
                            })
                        }
                    };
                    let Some(from) = from else { continue };
                    match &rule.ports {
                        None => out.ingress.push(format!("{from}accept")),
                        Some(entries) => {
                            for e in entries {
                                if let Some(m) = port_match(e, Some(me)) {
                                    out.ingress.push(format!("{from}{m} accept"));
                                }
                            }
                        }
                    }
                }
            }
        }
        if policy.isolates_egress {
            out.egress_isolated = true;
            for rule in &policy.egress {
                for peers in peers_of(cluster, plan, policy, rule) {
                    egress_rules(plan, rule, &peers, &all_ips, reading, &mut out.egress);
                }
            }
        }
    }
    out
}

fn egress_rules(
    plan: &Plan,
    rule: &Rule,
    peers: &Peers,
    all_ips: &[Ipv4Addr],
    reading: Reading,
    out: &mut Vec<String>,
) {
    // Destination pods this peer can be, for named ports.
    let pods: Vec<usize> = match peers {
        Peers::Any => (0..plan.pods.len()).collect(),
        Peers::Pods(qs) => qs.clone(),
        Peers::Addresses(a) if reading.ipblock_pod_ips => (0..plan.pods.len())
            .filter(|&q| plan.pods[q].ip.is_some_and(|ip| a.contains(ip.into())))
            .collect(),
        Peers::Addresses(_) => Vec::new(),
    };
    let to = match peers {
        Peers::Any => Some(String::new()),
        Peers::Pods(qs) => {
            let ips: Vec<Ipv4Addr> = qs.iter().filter_map(|&q| plan.pods[q].ip).collect();
            ips_set(&ips).map(|s| format!("ip daddr {s} "))
        }
        Peers::Addresses(a) => address_set(a.v4.ranges().iter().copied()).map(|s| {
            if reading.ipblock_pod_ips || all_ips.is_empty() {
                format!("ip daddr {s} ")
            } else {
                format!("ip daddr {s} ip daddr != @pods ")
            }
        }),
    };
    let Some(entries) = &rule.ports else {
        if let Some(to) = to {
            out.push(format!("{to}accept"));
        }
        return;
    };
    for e in entries {
        if let PortMatch::Named(_) = e.port {
            for &q in &pods {
                if let (Some(ip), Some(m)) = (plan.pods[q].ip, port_match(e, Some(&plan.pods[q]))) {
                    out.push(format!("ip daddr {ip} {m} accept"));
                }
            }
        } else if let (Some(to), Some(m)) = (&to, port_match(e, None)) {
            out.push(format!("{to}{m} accept"));
        }
    }
}

/// The nft script that installs (or updates) a pod's rules in one transaction.
pub fn script(rules: &PodRules, pod_ips: &[Ipv4Addr]) -> String {
    let mut s = String::from(
        "add table inet kubeseg\n\
add chain inet kubeseg ingress { type filter hook input priority 0; policy accept; }\n\
add chain inet kubeseg egress { type filter hook output priority 0; policy accept; }\n\
add set inet kubeseg pods { type ipv4_addr; flags interval; }\n\
flush chain inet kubeseg ingress\n\
flush chain inet kubeseg egress\n\
flush set inet kubeseg pods\n",
    );
    if let Some(set) = ips_set(pod_ips) {
        let _ = writeln!(s, "add element inet kubeseg pods {set}");
    }
    for (chain, lo, isolated, body) in [
        ("ingress", "iif", rules.ingress_isolated, &rules.ingress),
        ("egress", "oif", rules.egress_isolated, &rules.egress),
    ] {
        if !isolated {
            continue;
        }
        let _ = writeln!(
            s,
            "add rule inet kubeseg {chain} ct state established,related accept"
        );
        let _ = writeln!(s, "add rule inet kubeseg {chain} {lo} \"lo\" accept");
        for r in body {
            let _ = writeln!(s, "add rule inet kubeseg {chain} {r}");
        }
        let _ = writeln!(s, "add rule inet kubeseg {chain} drop");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;

    const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: yy, labels: {team: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x, labels: {app: web}}
spec:
  containers:
  - name: c
    image: nginx
    ports:
    - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: yy, labels: {app: api}}
spec:
  containers:
  - name: c
    image: nginx
    ports:
    - {name: http, containerPort: 9090}
    - {containerPort: 53, protocol: UDP}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: x}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - port: http
    - {port: 7000, endPort: 7010, protocol: UDP}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-out, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports:
    - port: http
"#;

    fn lab() -> (kubeseg_model::Cluster, Plan) {
        let loaded = kubeseg_sources::load_str("c.yaml", CLUSTER);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let cluster = loaded.cluster;
        let mut p = plan(&cluster, "t", 1, vec![]);
        // The order of the cluster's workloads: x/web first, then yy/api (sorted by id).
        for (pod, ip) in p.pods.iter_mut().zip([[10, 233, 0, 2], [10, 233, 0, 3]]) {
            pod.ip = Some(Ipv4Addr::from(ip));
        }
        (cluster, p)
    }

    fn index(p: &Plan, pod: &str) -> usize {
        p.pods.iter().position(|x| x.pod == pod).unwrap()
    }

    #[test]
    fn ingress_rules_are_one_per_peer_and_port_with_except_subtracted() {
        let (cluster, p) = lab();
        let web = compile_pod(&cluster, &p, index(&p, "x/web"), Reading::default());
        assert!(web.ingress_isolated && web.egress_isolated);
        assert_eq!(
            web.ingress,
            [
                // From the pods of namespaces labelled team=b: yy/api only.
                "ip saddr { 10.233.0.3 } tcp dport 8080 accept",
                "ip saddr { 10.233.0.3 } udp dport 7000-7010 accept",
                // 10.0.0.0/8 minus 10.1.0.0/16, never a pod's address.
                "ip saddr { 10.0.0.0-10.0.255.255, 10.2.0.0-10.255.255.255 } ip saddr != @pods tcp dport 8080 accept",
                "ip saddr { 10.0.0.0-10.0.255.255, 10.2.0.0-10.255.255.255 } ip saddr != @pods udp dport 7000-7010 accept",
            ]
        );
        // Egress to any destination on the port named http, resolved per destination
        // pod: 8080 on web itself, 9090 on api; addresses outside have no named port.
        assert_eq!(
            web.egress,
            [
                "ip daddr 10.233.0.2 tcp dport 8080 accept",
                "ip daddr 10.233.0.3 tcp dport 9090 accept",
            ]
        );
        // Calico's reading lets the ipBlock match pods.
        let calico = compile_pod(
            &cluster,
            &p,
            index(&p, "x/web"),
            Reading {
                ipblock_pod_ips: true,
            },
        );
        assert!(calico.ingress[2].ends_with("} tcp dport 8080 accept"));
        assert!(!calico.ingress[2].contains("@pods"));
    }

    #[test]
    fn an_unselected_pod_is_not_isolated() {
        let (cluster, p) = lab();
        let api = compile_pod(&cluster, &p, index(&p, "yy/api"), Reading::default());
        assert_eq!(api, PodRules::default());
        let s = script(&api, &[Ipv4Addr::new(10, 233, 0, 2)]);
        assert!(!s.contains("drop"), "{s}");
    }

    #[test]
    fn the_script_updates_in_place_without_deleting_base_chains() {
        let (cluster, p) = lab();
        let web = compile_pod(&cluster, &p, index(&p, "x/web"), Reading::default());
        let s = script(
            &web,
            &[Ipv4Addr::new(10, 233, 0, 2), Ipv4Addr::new(10, 233, 0, 3)],
        );
        assert!(!s.contains("delete"), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines.contains(&"flush chain inet kubeseg ingress"));
        assert!(lines.contains(&"add element inet kubeseg pods { 10.233.0.2, 10.233.0.3 }"));
        // Replies first, then loopback, the allows, and the drop last, per chain.
        let ingress: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("add rule inet kubeseg ingress "))
            .collect();
        assert_eq!(ingress[0], "ct state established,related accept");
        assert_eq!(ingress[1], "iif \"lo\" accept");
        assert_eq!(ingress.last(), Some(&"drop"));
        assert_eq!(ingress.len(), 2 + 4 + 1);
    }
}
