//! Policy compiled to nftables, per pod, straight from the specifications: a pod's own
//! network namespace holds table `inet kubeseg` with an `ingress` base chain on the
//! input hook and an `egress` base chain on the output hook. Each holds the Admin
//! tier's rules in evaluation order (`accept`, `reject`, or `Pass` as a `goto` to the
//! next layer), then goes to `<dir>-policies`: the allow rules of the NetworkPolicies
//! that select the pod, ending in `reject` when one isolates it, or else going to
//! `<dir>-baseline`, the Baseline tier's rules; what falls off the end is accepted.
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
use kubeseg_model::{
    Action, Cluster, IpSet, Labels, NetworkPolicy, PeerKind, PodSet, PortMatch, PortRule, Protocol,
    Tier, TierPeerKind,
};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// How the lab reads semantics that implementations leave open.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    /// ipBlocks also match pods' addresses.
    pub ipblock_pod_ips: bool,
}

/// What a compiled rule does when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed (by this generation of the rules; see [`script`]).
    Accept,
    /// Denied.
    Drop,
    /// On to the NetworkPolicy chain (an Admin `Pass`).
    Pass,
}

/// One compiled rule: its match (empty: every packet) and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledRule {
    pub matches: String,
    pub verdict: Verdict,
}

impl CompiledRule {
    /// The rule as it reads with plain verdicts (`accept`, `drop`, `pass`).
    pub fn text(&self) -> String {
        let v = match self.verdict {
            Verdict::Accept => "accept",
            Verdict::Drop => "drop",
            Verdict::Pass => "pass",
        };
        if self.matches.is_empty() {
            v.to_string()
        } else {
            format!("{} {v}", self.matches)
        }
    }
}

/// One direction of one pod's compiled policy: the rules of its three chains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chains {
    /// The Admin tier's rules in evaluation order.
    pub admin: Vec<CompiledRule>,
    /// Whether a NetworkPolicy isolates the pod in this direction.
    pub isolated: bool,
    /// The NetworkPolicies' allow rules.
    pub policies: Vec<CompiledRule>,
    /// The Baseline tier's rules, consulted only where no NetworkPolicy isolates.
    pub baseline: Vec<CompiledRule>,
}

/// One pod's compiled policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRules {
    pub ingress: Chains,
    pub egress: Chains,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// The address of the other side: the source for ingress, the destination for egress.
    fn peer_addr(self) -> &'static str {
        match self {
            Direction::Ingress => "ip saddr",
            Direction::Egress => "ip daddr",
        }
    }
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
        Protocol::Icmp => "icmp",
        Protocol::IcmpV6 => "ipv6-icmp",
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

/// Who a peer entry matches on the other side of a rule.
#[derive(Default)]
struct PeerMatch {
    /// Every address.
    any: bool,
    /// These lab pods (indices into the plan).
    pods: Vec<usize>,
    /// These addresses, where they are not a pod's.
    others: Option<IpSet>,
}

fn namespace_labels<'c>(cluster: &'c Cluster, name: &str) -> Option<&'c Labels> {
    cluster.namespace(name).map(|n| &n.labels)
}

fn pod_of<'c>(cluster: &'c Cluster, plan: &Plan, i: usize) -> &'c kubeseg_model::Pod {
    let p = &plan.pods[i];
    &cluster.workloads[p.workload].pods[p.template]
}

fn in_pod_set(cluster: &Cluster, plan: &Plan, set: &PodSet, q: usize) -> bool {
    namespace_labels(cluster, &plan.pods[q].namespace).is_some_and(|l| set.namespaces.matches(l))
        && set.pods.matches(&pod_of(cluster, plan, q).labels)
}

/// The lab pods an address set holds, by the pods' addresses as the manifests give
/// them (the lab's own addresses mean nothing to the policies); with
/// `unknown_is_any_v4`, a pod without a known address is some IPv4 address (the
/// tiers' `networks`).
fn pods_by_address(
    cluster: &Cluster,
    plan: &Plan,
    addresses: &IpSet,
    unknown_is_any_v4: bool,
) -> Vec<usize> {
    (0..plan.pods.len())
        .filter(|&q| {
            let ips = &pod_of(cluster, plan, q).ips;
            if ips.is_empty() {
                unknown_is_any_v4 && addresses.has_all_ipv4()
            } else {
                ips.iter().any(|ip| addresses.contains(*ip))
            }
        })
        .collect()
}

fn np_peer(
    cluster: &Cluster,
    plan: &Plan,
    policy: &NetworkPolicy,
    peer: &PeerKind,
    reading: Reading,
) -> PeerMatch {
    match peer {
        PeerKind::Pods { namespaces, pods } => PeerMatch {
            pods: (0..plan.pods.len())
                .filter(|&q| {
                    let ns = &plan.pods[q].namespace;
                    let ns_ok = match namespaces {
                        None => *ns == policy.namespace,
                        Some(sel) => namespace_labels(cluster, ns).is_some_and(|l| sel.matches(l)),
                    };
                    ns_ok
                        && pods
                            .as_ref()
                            .is_none_or(|sel| sel.matches(&pod_of(cluster, plan, q).labels))
                })
                .collect(),
            ..PeerMatch::default()
        },
        PeerKind::IpBlock { addresses, .. } => PeerMatch {
            pods: if reading.ipblock_pod_ips {
                pods_by_address(cluster, plan, addresses, false)
            } else {
                Vec::new()
            },
            others: Some(addresses.clone()),
            any: false,
        },
    }
}

fn tier_peer(cluster: &Cluster, plan: &Plan, peer: &TierPeerKind) -> PeerMatch {
    match peer {
        TierPeerKind::Pods(set) => PeerMatch {
            pods: (0..plan.pods.len())
                .filter(|&q| in_pod_set(cluster, plan, set, q))
                .collect(),
            ..PeerMatch::default()
        },
        TierPeerKind::Networks { addresses, .. } => PeerMatch {
            pods: pods_by_address(cluster, plan, addresses, true),
            others: Some(addresses.clone()),
            any: false,
        },
        TierPeerKind::Nodes(selector) => {
            let mut set = IpSet::empty();
            for n in cluster.nodes.iter().filter(|n| selector.matches(&n.labels)) {
                for &ip in &n.addresses {
                    set = set.union(&IpSet::single(ip));
                }
            }
            PeerMatch {
                others: Some(set),
                ..PeerMatch::default()
            }
        }
        // A name, not an address: it never matches an address (as in the engine,
        // where it is an endpoint of its own).
        TierPeerKind::DomainNames(_) => PeerMatch::default(),
    }
}

/// The port match of one port entry toward a destination pod (`None`: the entry
/// matches no port there, as a named port the pod does not declare).
fn port_match(entry: &PortRule, destination: Option<&crate::plan::LabPod>) -> Option<String> {
    let p = proto(entry.protocol);
    match &entry.port {
        PortMatch::Any => Some(format!("meta l4proto {p}")),
        // ICMP messages `type << 8 | code` are the first 16 bits of the ICMP header.
        // (NetworkPolicy and the AdminNetworkPolicy family cannot name ICMP, so the
        // lab's policies never produce this; a portless rule matches ICMP as it
        // matches everything.)
        PortMatch::Range(lo, hi) if entry.protocol.is_icmp() => {
            Some(format!("meta l4proto {p} @th,0,16 {lo}-{hi}"))
        }
        PortMatch::Range(lo, hi) if lo == hi => Some(format!("{p} dport {lo}")),
        PortMatch::Range(lo, hi) => Some(format!("{p} dport {lo}-{hi}")),
        PortMatch::Named(name) => destination?
            .ports
            .iter()
            .find(|c| c.protocol() == entry.protocol && c.name.as_deref() == Some(name))
            .map(|c| format!("{p} dport {}", c.port)),
    }
}

/// Writes the rules of one chain, for one pod and direction.
struct Emit<'a> {
    plan: &'a Plan,
    /// The pod whose chain this is.
    subject: usize,
    direction: Direction,
}

impl Emit<'_> {
    /// Rules for one peer and a rule's ports, each ending in `verdict`. Named ports
    /// resolve at the destination: the subject for ingress, each destination pod for
    /// egress (addresses outside the cluster have no names).
    fn rules(
        &self,
        m: &PeerMatch,
        ports: Option<&[PortRule]>,
        verdict: Verdict,
        out: &mut Vec<CompiledRule>,
    ) {
        let rule = |matches: String| CompiledRule {
            matches: matches.trim_end().to_string(),
            verdict,
        };
        let x = self.direction.peer_addr();
        let pod_ips: Vec<Ipv4Addr> = m
            .pods
            .iter()
            .filter_map(|&q| self.plan.pods[q].ip)
            .collect();
        let mut matches: Vec<String> = Vec::new();
        if m.any {
            matches.push(String::new());
        } else {
            if let Some(set) = ips_set(&pod_ips) {
                matches.push(format!("{x} {set} "));
            }
            let others = m
                .others
                .as_ref()
                .and_then(|a| address_set(a.v4.ranges().iter().copied()));
            if let Some(set) = others {
                // Pods are matched above, by the manifests' reading; never by address here.
                matches.push(format!("{x} {set} {x} != @pods "));
            }
        }
        let Some(entries) = ports else {
            out.extend(matches.iter().map(|m| rule(m.clone())));
            return;
        };
        for e in entries {
            if let (PortMatch::Named(_), Direction::Egress) = (&e.port, self.direction) {
                let candidates: Vec<usize> = if m.any {
                    (0..self.plan.pods.len()).collect()
                } else {
                    m.pods.clone()
                };
                for q in candidates {
                    let pod = &self.plan.pods[q];
                    if let (Some(ip), Some(pm)) = (pod.ip, port_match(e, Some(pod))) {
                        out.push(rule(format!("ip daddr {ip} {pm}")));
                    }
                }
            } else if let Some(pm) = port_match(e, Some(&self.plan.pods[self.subject])) {
                out.extend(matches.iter().map(|m| rule(format!("{m}{pm}"))));
            }
        }
    }
}

/// Compiles the policies that govern lab pod `i`: the Admin tier, the NetworkPolicies
/// that select it, the Baseline tier.
pub fn compile_pod(cluster: &Cluster, plan: &Plan, i: usize, reading: Reading) -> PodRules {
    let me = pod_of(cluster, plan, i);
    let mut out = PodRules::default();
    for direction in [Direction::Ingress, Direction::Egress] {
        let chains = match direction {
            Direction::Ingress => &mut out.ingress,
            Direction::Egress => &mut out.egress,
        };
        let emit = Emit {
            plan,
            subject: i,
            direction,
        };
        // `cluster_policies` is in evaluation order (tier, then priority).
        for policy in &cluster.cluster_policies {
            if !in_pod_set(cluster, plan, &policy.subject, i) {
                continue;
            }
            let rules = match direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            for rule in rules {
                let (list, verdict) = match (policy.tier, rule.action) {
                    (Tier::Admin, Action::Accept) => (&mut chains.admin, Verdict::Accept),
                    (Tier::Admin, Action::Deny) => (&mut chains.admin, Verdict::Drop),
                    (Tier::Admin, Action::Pass) => (&mut chains.admin, Verdict::Pass),
                    (Tier::Baseline, Action::Deny) => (&mut chains.baseline, Verdict::Drop),
                    // The API has no Baseline `Pass`; anything else there allows.
                    (Tier::Baseline, _) => (&mut chains.baseline, Verdict::Accept),
                };
                for peer in &rule.peers {
                    let m = tier_peer(cluster, plan, &peer.kind);
                    emit.rules(&m, rule.ports.as_deref(), verdict, list);
                }
            }
        }
        for policy in &cluster.policies {
            let isolates = match direction {
                Direction::Ingress => policy.isolates_ingress,
                Direction::Egress => policy.isolates_egress,
            };
            if !isolates
                || policy.namespace != plan.pods[i].namespace
                || !policy.pod_selector.matches(&me.labels)
            {
                continue;
            }
            chains.isolated = true;
            let rules = match direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            for rule in rules {
                let peers: Vec<PeerMatch> = match &rule.peers {
                    None => vec![PeerMatch {
                        any: true,
                        ..PeerMatch::default()
                    }],
                    Some(list) => list
                        .iter()
                        .map(|p| np_peer(cluster, plan, policy, &p.kind, reading))
                        .collect(),
                };
                for m in &peers {
                    emit.rules(
                        m,
                        rule.ports.as_deref(),
                        Verdict::Accept,
                        &mut chains.policies,
                    );
                }
            }
        }
    }
    out
}

/// How a denied packet ends: rejected, so that a probe learns the verdict at once
/// instead of waiting out a timeout. NetworkPolicy leaves drop or reject to the
/// implementation.
const DENY: &str = "goto deny";

/// The chain [`DENY`] goes to: a TCP reset for TCP (a connecting socket takes it even
/// while busy, where it may drop an ICMP error and wait out its timeout), an ICMP
/// port-unreachable error (related, in the sender's conntrack) for the rest.
const DENY_CHAIN: &str = "add chain inet kubeseg deny
flush chain inet kubeseg deny
add rule inet kubeseg deny meta l4proto tcp reject with tcp reset
add rule inet kubeseg deny reject
";

/// The mark bit a generation sets on packets its rules allow.
fn bit(generation: u8) -> u32 {
    1 << generation
}

/// The rules of one generation of a pod's policy, and the base chains that consult
/// the `active` generations, in one transaction.
///
/// Each generation `g` has its own chains (`<dir>-g<g>`, `-policies`, `-baseline`)
/// and pod set. An allow in them sets bit `1 << g` of the packet mark and returns; a
/// deny rejects ([`DENY`]). The base chains accept replies and loopback, clear the mark, consult
/// every active generation, and accept only a packet that every one of them allowed.
/// An update installs the new generation beside the old one with both active (so
/// that a pod allows only what both allow), then, once every pod has it, activates
/// the new one alone ([`activate`]): a connection that both policies allow never
/// fails, one that both deny never passes, whatever the order the pods change in.
/// Base chains are only flushed and refilled, never deleted.
pub fn script(rules: &PodRules, pod_ips: &[Ipv4Addr], generation: u8, active: &[u8]) -> String {
    let g = generation;
    let mut s = format!("add table inet kubeseg\n{DENY_CHAIN}");
    for dir in ["ingress", "egress"] {
        for chain in [
            format!("{dir}-g{g}"),
            format!("{dir}-g{g}-policies"),
            format!("{dir}-g{g}-baseline"),
        ] {
            let _ = writeln!(
                s,
                "add chain inet kubeseg {chain}\nflush chain inet kubeseg {chain}"
            );
        }
    }
    let _ = writeln!(
        s,
        "add set inet kubeseg pods-g{g} {{ type ipv4_addr; flags interval; }}\nflush set inet kubeseg pods-g{g}"
    );
    // Every pod's address is needed only by ipBlock rules that exclude pods; at 1,000
    // pods the set is most of the script, and most pods have no such rule.
    let uses_pods = [&rules.ingress, &rules.egress]
        .iter()
        .flat_map(|c| c.admin.iter().chain(&c.policies).chain(&c.baseline))
        .any(|r| r.matches.contains("@pods"));
    if uses_pods && let Some(set) = ips_set(pod_ips) {
        let _ = writeln!(s, "add element inet kubeseg pods-g{g} {set}");
    }
    let allow = format!("meta mark set meta mark | 0x{:x}", bit(g));
    for (dir, c) in [("ingress", &rules.ingress), ("egress", &rules.egress)] {
        let render = |r: &CompiledRule| -> String {
            let m = r.matches.replace("@pods", &format!("@pods-g{g}"));
            let v = match r.verdict {
                Verdict::Accept => format!("{allow} return"),
                Verdict::Drop => DENY.to_string(),
                Verdict::Pass => format!("goto {dir}-g{g}-policies"),
            };
            if m.is_empty() { v } else { format!("{m} {v}") }
        };
        let mut add = |chain: &str, rule: &str| {
            let _ = writeln!(s, "add rule inet kubeseg {chain} {rule}");
        };
        let (top, policies, baseline) = (
            format!("{dir}-g{g}"),
            format!("{dir}-g{g}-policies"),
            format!("{dir}-g{g}-baseline"),
        );
        for r in &c.admin {
            add(&top, &render(r));
        }
        add(&top, &format!("goto {policies}"));
        for r in &c.policies {
            add(&policies, &render(r));
        }
        if c.isolated {
            add(&policies, DENY);
        } else {
            add(&policies, &format!("goto {baseline}"));
        }
        for r in &c.baseline {
            add(&baseline, &render(r));
        }
        // What falls off the Baseline tier is allowed.
        add(&baseline, &allow);
    }
    // A pod that never had another active generation (it joined, or the policy did not
    // describe it, while that one was in force) gets it empty: until the update ends,
    // the pod allows nothing new rather than failing the transaction.
    for other in active.iter().filter(|&&a| a != g) {
        for dir in ["ingress", "egress"] {
            let _ = writeln!(s, "add chain inet kubeseg {dir}-g{other}");
        }
    }
    s.push_str(&base_chains(active));
    s
}

/// The base chains, consulting the `active` generations (whose chains must exist).
pub fn activate(active: &[u8]) -> String {
    format!(
        "add table inet kubeseg\n{DENY_CHAIN}{}",
        base_chains(active)
    )
}

/// The base chains' part of a script.
fn base_chains(active: &[u8]) -> String {
    let mut s = String::from(
        "add chain inet kubeseg ingress { type filter hook input priority 0; policy accept; }\n\
add chain inet kubeseg egress { type filter hook output priority 0; policy accept; }\n\
flush chain inet kubeseg ingress\n\
flush chain inet kubeseg egress\n",
    );
    let mask: u32 = active.iter().map(|&g| bit(g)).fold(0, |a, b| a | b);
    for (dir, lo) in [("ingress", "iif"), ("egress", "oif")] {
        let mut add = |rule: &str| {
            let _ = writeln!(s, "add rule inet kubeseg {dir} {rule}");
        };
        add("ct state established,related accept");
        add(&format!("{lo} \"lo\" accept"));
        add("meta mark set 0x0");
        for g in active {
            add(&format!("jump {dir}-g{g}"));
        }
        add(&format!("meta mark & 0x{mask:x} == 0x{mask:x} accept"));
        add(DENY);
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

    fn texts(rules: &[CompiledRule]) -> Vec<String> {
        rules.iter().map(CompiledRule::text).collect()
    }

    fn index(p: &Plan, pod: &str) -> usize {
        p.pods.iter().position(|x| x.pod == pod).unwrap()
    }

    #[test]
    fn ingress_rules_are_one_per_peer_and_port_with_except_subtracted() {
        let (cluster, p) = lab();
        let web = compile_pod(&cluster, &p, index(&p, "x/web"), Reading::default());
        assert!(web.ingress.isolated && web.egress.isolated);
        assert_eq!(
            texts(&web.ingress.policies),
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
            texts(&web.egress.policies),
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
        // (No pod here has a known address in 10.0.0.0/8, so the rules stay the same.)
        assert_eq!(calico.ingress.policies, web.ingress.policies);
    }

    #[test]
    fn an_unselected_pod_is_not_isolated() {
        let (cluster, p) = lab();
        let api = compile_pod(&cluster, &p, index(&p, "yy/api"), Reading::default());
        assert_eq!(api, PodRules::default());
        let s = script(&api, &[Ipv4Addr::new(10, 233, 0, 2)], 0, &[0]);
        assert!(!s.contains("-policies goto deny"), "{s}");
        // Its chains go on to the Baseline tier, which is empty: it allows everything.
        assert!(s.contains("add rule inet kubeseg ingress-g0-policies goto ingress-g0-baseline\n"));
        assert!(
            s.contains("add rule inet kubeseg ingress-g0-baseline meta mark set meta mark | 0x1\n")
        );
    }

    #[test]
    fn icmp_entries_match_the_icmp_header() {
        // Messages `type << 8 | code` are the ICMP header's first 16 bits; a port entry
        // of TCP never matches ICMP (it names its protocol), and `Any` of ICMP is every
        // message. (NetworkPolicy cannot name ICMP; this keeps the compiler total.)
        let entry = |protocol, port| PortRule { protocol, port };
        assert_eq!(
            port_match(&entry(Protocol::Icmp, PortMatch::Range(2048, 2303)), None),
            Some("meta l4proto icmp @th,0,16 2048-2303".to_string())
        );
        assert_eq!(
            port_match(&entry(Protocol::IcmpV6, PortMatch::Any), None),
            Some("meta l4proto ipv6-icmp".to_string())
        );
        assert_eq!(
            port_match(&entry(Protocol::Tcp, PortMatch::Range(80, 80)), None),
            Some("tcp dport 80".to_string())
        );
    }

    #[test]
    fn the_script_updates_in_place_without_deleting_base_chains() {
        let (cluster, p) = lab();
        let web = compile_pod(&cluster, &p, index(&p, "x/web"), Reading::default());
        let ips = [Ipv4Addr::new(10, 233, 0, 2), Ipv4Addr::new(10, 233, 0, 3)];
        let s = script(&web, &ips, 1, &[0, 1]);
        assert!(!s.contains("delete"), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines.contains(&"flush chain inet kubeseg ingress-g1-policies"));
        assert!(lines.contains(&"flush chain inet kubeseg ingress"));
        assert!(lines.contains(&"add element inet kubeseg pods-g1 { 10.233.0.2, 10.233.0.3 }"));
        let rules = |chain: &str| -> Vec<String> {
            let prefix = format!("add rule inet kubeseg {chain} ");
            lines
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(String::from)
                .collect()
        };
        // The base chain: replies, loopback, then both generations must allow.
        assert_eq!(
            rules("ingress"),
            [
                "ct state established,related accept",
                "iif \"lo\" accept",
                "meta mark set 0x0",
                "jump ingress-g0",
                "jump ingress-g1",
                "meta mark & 0x3 == 0x3 accept",
                "goto deny"
            ]
        );
        // Generation 1's allows set bit 2 and return; the isolated pod's chain rejects the rest.
        let policies = rules("ingress-g1-policies");
        assert_eq!(policies.len(), 4 + 1);
        assert_eq!(
            policies[2],
            "ip saddr { 10.0.0.0-10.0.255.255, 10.2.0.0-10.255.255.255 } ip saddr != @pods-g1 tcp dport 8080 meta mark set meta mark | 0x2 return"
        );
        assert_eq!(policies.last().map(String::as_str), Some("goto deny"));
        // TCP is reset, the rest gets an ICMP error.
        assert_eq!(
            rules("deny"),
            ["meta l4proto tcp reject with tcp reset", "reject"]
        );
        // Activating generation 1 alone rewrites only the base chains.
        let a = activate(&[1]);
        assert!(a.contains("jump ingress-g1") && !a.contains("jump ingress-g0"));
        assert!(a.contains("meta mark & 0x2 == 0x2 accept"));
        assert!(!a.contains("-g1-"), "{a}");
    }
}
