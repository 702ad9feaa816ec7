//! Sensitive egress (KS301–KS304) and broken DNS (KS501).

use super::{Audit, AuditConfig, Note, apiserver_ports, yaml};
use crate::attribution::{ports_text, tier_rule_text, workload_location};
use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Severity};
use crate::registry::{
    APISERVER_EGRESS, DNS_BLOCKED, INTERNET_EGRESS, KUBELET_EGRESS, METADATA_EGRESS,
};
use crate::rows::{TargetGroup, Targets};
use kubeseg_engine::index::Stage;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{Action, Cidr, IpSet, PortSet, Protocol};
use std::net::IpAddr;

/// The cloud metadata service addresses (AWS, GCP, Azure, and AWS's IPv6 one).
pub const METADATA_ADDRESSES: [&str; 2] = ["169.254.169.254", "fd00:ec2::254"];

/// Ranges that are not the public internet.
const NON_PUBLIC_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/3",
];

/// The groups of [`Targets`] the audit defines, by position.
pub struct EgressTargets {
    pub targets: Targets,
    metadata: Option<usize>,
    apiserver: Option<(usize, String)>,
    kubelet: Option<(usize, String)>,
    dns: Option<usize>,
}

/// External endpoints (address atoms) that hold a sensitive target, for reports that
/// show the target as a node of its own.
#[derive(Clone, Debug)]
pub struct SensitiveTarget {
    /// What it is: `cloud metadata service`, `API server`, `kubelet`.
    pub what: &'static str,
    /// The rule whose findings are about reaching it.
    pub code: &'static str,
    /// The atoms holding its addresses.
    pub endpoints: Vec<usize>,
}

impl EgressTargets {
    /// The sensitive targets found in the address partition.
    pub fn named(&self) -> Vec<SensitiveTarget> {
        use crate::registry::{APISERVER_EGRESS, KUBELET_EGRESS, METADATA_EGRESS};
        let groups = &self.targets.groups;
        let mut named = Vec::new();
        let mut add = |what, code, g: usize| {
            if !groups[g].endpoints.is_empty() {
                named.push(SensitiveTarget {
                    what,
                    code,
                    endpoints: groups[g].endpoints.clone(),
                });
            }
        };
        if let Some(g) = self.metadata {
            add("cloud metadata service", METADATA_EGRESS.code, g);
        }
        if let Some((g, _)) = &self.apiserver {
            add("API server", APISERVER_EGRESS.code, *g);
        }
        if let Some((g, _)) = &self.kubelet {
            add("kubelet", KUBELET_EGRESS.code, *g);
        }
        named
    }
}

fn set(cidrs: &[&str]) -> IpSet {
    cidrs.iter().fold(IpSet::empty(), |acc, c| {
        acc.union(
            &Cidr::parse(c)
                .map(Cidr::to_set)
                .unwrap_or_else(|_| IpSet::empty()),
        )
    })
}

/// Atom endpoints overlapping `addresses`.
fn atoms_overlapping(engine: &Engine, addresses: &IpSet) -> Vec<usize> {
    engine
        .endpoints()
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Endpoint::External { addresses: a, .. } if !a.intersect(addresses).is_empty()))
        .map(|(i, _)| i)
        .collect()
}

/// Finds the endpoints behind each sensitive target; what cannot be found becomes a note.
pub fn targets(engine: &Engine, config: &AuditConfig, notes: &mut Vec<Note>) -> EgressTargets {
    let mut t = EgressTargets {
        targets: Targets::default(),
        metadata: None,
        apiserver: None,
        kubelet: None,
        dns: None,
    };
    let add = |t: &mut Targets, endpoints: Vec<usize>, ports: Option<PortSet>| {
        t.groups.push(TargetGroup { endpoints, ports });
        t.groups.len() - 1
    };
    let metadata: IpSet = METADATA_ADDRESSES
        .iter()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .fold(IpSet::empty(), |acc, ip| acc.union(&IpSet::single(ip)));
    t.metadata = Some(add(
        &mut t.targets,
        atoms_overlapping(engine, &metadata),
        None,
    ));

    let default_api = engine
        .cluster
        .services
        .iter()
        .find(|s| s.namespace == "default" && s.name == "kubernetes")
        .and_then(|s| s.cluster_ip);
    if !config.apiserver.is_empty() {
        let mut endpoints = Vec::new();
        let mut ports = PortSet::empty();
        for (_, addresses, port) in &config.apiserver {
            endpoints.extend(atoms_overlapping(engine, addresses));
            ports = ports.union(&apiserver_ports(*port));
        }
        endpoints.sort_unstable();
        endpoints.dedup();
        let what: Vec<&str> = config
            .apiserver
            .iter()
            .map(|(s, _, _)| s.as_str())
            .collect();
        let g = add(&mut t.targets, endpoints, Some(ports));
        t.apiserver = Some((g, what.join(", ")));
    } else if let Some(ip) = default_api {
        let g = add(
            &mut t.targets,
            atoms_overlapping(engine, &IpSet::single(ip)),
            Some(apiserver_ports(None)),
        );
        t.apiserver = Some((
            g,
            format!("{ip} (the ClusterIP of Service default/kubernetes)"),
        ));
        notes.push(format!("API server egress is checked against {ip}, the ClusterIP of Service default/kubernetes; with network plugins that apply egress policy after Service load balancing the API server's own addresses count: give them with --apiserver"));
    } else {
        notes.push("API server egress (KS302) not checked: no Service default/kubernetes with a clusterIP in the input; give the address with --apiserver CIDR[:PORT]".into());
    }
    if !config.node_cidrs.is_empty() {
        let all = config
            .node_cidrs
            .iter()
            .fold(IpSet::empty(), |acc, (_, s)| acc.union(s));
        let what: Vec<&str> = config.node_cidrs.iter().map(|(s, _)| s.as_str()).collect();
        let g = add(
            &mut t.targets,
            atoms_overlapping(engine, &all),
            Some(PortSet::range(Protocol::Tcp, 10250, 10250)),
        );
        t.kubelet = Some((g, what.join(", ")));
    } else {
        notes.push(
            "kubelet egress (KS303) not checked: give the nodes' addresses with --node-cidr".into(),
        );
    }
    let dns: Vec<usize> = engine
        .cluster
        .workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            w.namespace == "kube-system"
                && w.pods
                    .iter()
                    .any(|p| p.labels.get("k8s-app").map(String::as_str) == Some("kube-dns"))
        })
        .map(|(i, _)| i)
        .collect();
    if dns.is_empty() {
        notes.push("DNS breakage (KS501) not checked: no kube-system pods labelled k8s-app=kube-dns in the input".into());
    } else {
        let ports =
            PortSet::range(Protocol::Udp, 53, 53).union(&PortSet::range(Protocol::Tcp, 53, 53));
        t.dns = Some(add(&mut t.targets, dns, Some(ports)));
    }
    let public_v4 = IpSet::all()
        .difference(&set(NON_PUBLIC_V4))
        .intersect(&set(&["0.0.0.0/0"]));
    let public_v6 = set(&["2000::/3"]).difference(&set(&["2001:db8::/32"]));
    t.targets.internet_v4 = atoms_overlapping(engine, &public_v4);
    t.targets.internet_v6 = atoms_overlapping(engine, &public_v6);
    t
}

/// KS301–KS304, one finding per workload and target.
pub fn sensitive_egress(a: &mut Audit, t: &EgressTargets) {
    let metadata_v4 = ["169.254.169.254/32"];
    let metadata_v6 = ["fd00:ec2::254/128"];
    for w in 0..a.rows.workloads {
        let key = a.rows.key_of[w] as usize;
        let id = a.id(w);
        let row = &a.rows.keys[key];
        let mut hits = Vec::new();
        if let Some(g) = t.metadata
            && !row.to_targets[g].is_empty()
        {
            hits.push((
                &METADATA_EGRESS,
                g,
                "the cloud metadata service (169.254.169.254, fd00:ec2::254)".to_string(),
            ));
        }
        if let Some((g, what)) = &t.apiserver
            && !row.to_targets[*g].is_empty()
        {
            hits.push((
                &APISERVER_EGRESS,
                *g,
                format!("the Kubernetes API server at {what}"),
            ));
        }
        if let Some((g, what)) = &t.kubelet
            && !row.to_targets[*g].is_empty()
        {
            hits.push((
                &KUBELET_EGRESS,
                *g,
                format!("the kubelet API (TCP 10250) of the nodes in {what}"),
            ));
        }
        let ports: Vec<PortSet> = hits
            .iter()
            .map(|(_, g, _)| row.to_targets[*g].clone())
            .collect();
        let internet = row.internet;
        for ((rule, g, what), ports) in hits.into_iter().zip(ports) {
            let mut f = Finding::new(
                rule,
                format!("{id} can reach {what} on {}", ports_text(&ports)),
                None,
                vec![id.clone()],
            );
            f.location = workload_location(a.engine, w);
            f.evidence = egress_evidence(a, w, &t.targets.groups[g].endpoints);
            let accepted = admin_accepted(a, w, &t.targets.groups[g].endpoints);
            f.remediation = if !accepted.is_empty() {
                Remediation {
                    text: format!(
                        "The Admin tier accepts this before any NetworkPolicy is consulted ({}): no NetworkPolicy can cut it. Change {} so that it no longer accepts {what}.",
                        accepted
                            .iter()
                            .map(|(r, _)| r.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                        {
                            let mut p: Vec<&str> =
                                accepted.iter().map(|(_, p)| p.as_str()).collect();
                            p.sort_unstable();
                            p.dedup();
                            p.join(", ")
                        }
                    ),
                    yaml: None,
                }
            } else if a.np_egress_isolated[w] {
                Remediation {
                    text: "Narrow the egress rules listed as evidence so that they no longer match these addresses (an ipBlock `except`, or a narrower cidr).".into(),
                    yaml: None,
                }
            } else if std::ptr::eq(rule, &METADATA_EGRESS) {
                let labels = yaml::workload_labels(a.engine.cluster, w);
                let name = format!("{}-deny-metadata", a.engine.cluster.workloads[w].name);
                Remediation {
                    text: "Isolate the workload's egress with a policy that allows everything except the metadata service.".into(),
                    yaml: Some(yaml::egress_except(&name, &a.engine.cluster.workloads[w].namespace, &labels, &metadata_v4, &metadata_v6)),
                }
            } else {
                Remediation {
                    text: format!(
                        "Isolate the workload's egress (see KS102) and allow only the destinations it needs; do not include {what}."
                    ),
                    yaml: None,
                }
            };
            a.push(f);
        }
        if internet.v4 || internet.v6 {
            let family = match (internet.v4, internet.v6) {
                (true, true) => "every public IPv4 and IPv6 address",
                (true, false) => "every public IPv4 address",
                _ => "every public IPv6 address",
            };
            let mut f = Finding::new(
                &INTERNET_EGRESS,
                format!("{id} can reach {family}"),
                None,
                vec![id.clone()],
            );
            f.location = workload_location(a.engine, w);
            let probe: Vec<usize> = if internet.v4 {
                t.targets.internet_v4.clone()
            } else {
                t.targets.internet_v6.clone()
            };
            f.evidence = egress_evidence(a, w, &probe);
            f.remediation = Remediation {
                text: "Allow egress only to the external ranges the workload needs.".into(),
                yaml: None,
            };
            a.push(f);
        }
    }
}

/// The egress rules (or missing isolation) that let workload `w` reach any of `targets`.
fn egress_evidence(a: &mut Audit, w: usize, targets: &[usize]) -> Vec<Evidence> {
    for &t in targets {
        let ev = a.attribution.pair_evidence(a.engine, w, t);
        if !ev.is_empty() {
            return ev
                .into_iter()
                .filter(|e| !e.message.contains("outside the cluster"))
                .collect();
        }
    }
    Vec::new()
}

/// The Admin-tier `Accept` rules that let workload `w` reach any of `targets`: (the rule
/// and what it accepts, the policy), deduplicated.
fn admin_accepted(a: &mut Audit, w: usize, targets: &[usize]) -> Vec<(String, String)> {
    let mut steps: Vec<crate::attribution::TierStep> = Vec::new();
    for &t in targets {
        for s in a.attribution.admin_accepts(a.engine, w, t, true) {
            match steps
                .iter_mut()
                .find(|x| (x.policy, x.rule) == (s.policy, s.rule))
            {
                Some(x) => x.decided = x.decided.union(&s.decided),
                None => steps.push(s),
            }
        }
    }
    steps
        .iter()
        .map(|s| {
            let (rule, _) = tier_rule_text(a.engine, s, true);
            (
                format!("{rule} accepts {}", ports_text(&s.decided)),
                a.engine.cluster.cluster_policies[s.policy].id(),
            )
        })
        .collect()
}

/// KS501: egress-isolated workloads that cannot reach cluster DNS on UDP 53 or TCP 53.
pub fn dns(a: &mut Audit, t: &EgressTargets) {
    let Some(g) = t.dns else {
        return;
    };
    for w in 0..a.rows.workloads {
        if !a.egress_isolated[w] || t.targets.groups[g].endpoints.contains(&w) {
            continue;
        }
        let ports = &a.rows.keys[a.rows.key_of[w] as usize].to_targets[g];
        let (udp, tcp) = (
            ports.contains(Protocol::Udp, 53),
            ports.contains(Protocol::Tcp, 53),
        );
        if udp && tcp {
            continue;
        }
        let id = a.id(w);
        let (severity, what) = match (udp, tcp) {
            (false, false) => (
                Severity::High,
                "UDP 53 nor TCP 53: name resolution is broken",
            ),
            (false, true) => (Severity::High, "UDP 53 (only TCP 53): most lookups fail"),
            _ => (Severity::Low, "TCP 53 (only UDP 53): large answers fail"),
        };
        let mut f = Finding::new(
            &DNS_BLOCKED,
            format!("{id} cannot reach cluster DNS on {what}"),
            None,
            vec![id.clone()],
        );
        f.severity = severity;
        f.location = workload_location(a.engine, w);
        let cluster = a.engine.cluster;
        let nodes = a.engine.reach.endpoint_nodes(w);
        let mut policies: Vec<usize> = nodes
            .iter()
            .flat_map(|&n| a.attribution.egress_policies(n))
            .map(|&p| p.index())
            .collect();
        policies.sort_unstable();
        policies.dedup();
        f.evidence = policies
            .iter()
            .map(|&p| {
                let pol = &cluster.policies[p];
                Evidence::at(pol.location.clone(), format!("NetworkPolicy {} isolates its egress and no egress rule allows the kube-dns pods on {}", pol.id(), if udp { "TCP 53" } else { "UDP 53" }))
            })
            .collect();
        // Tiered Deny rules toward the kube-dns pods on port 53.
        let dns_ports =
            PortSet::range(Protocol::Udp, 53, 53).union(&PortSet::range(Protocol::Tcp, 53, 53));
        let mut denies: Vec<crate::attribution::TierStep> = Vec::new();
        if let (Some(&s), Some(&dns)) = (nodes.first(), t.targets.groups[g].endpoints.first()) {
            for d in a.engine.reach.endpoint_nodes(dns) {
                let v = a.attribution.egress(a.engine, s, d);
                for step in v.tiers.into_iter().filter(|x| x.action == Action::Deny) {
                    let ports = step.decided.intersect(&dns_ports);
                    if !ports.is_empty()
                        && !denies
                            .iter()
                            .any(|x| (x.policy, x.rule) == (step.policy, step.rule))
                    {
                        denies.push(crate::attribution::TierStep {
                            decided: ports,
                            ..step
                        });
                    }
                }
            }
        }
        for step in &denies {
            let (rule, at) = tier_rule_text(a.engine, step, true);
            f.evidence.push(Evidence::at(
                at,
                format!(
                    "{rule} denies {} toward the kube-dns pods in the {} tier",
                    ports_text(&step.decided),
                    step.tier.as_str()
                ),
            ));
        }
        let wl = &cluster.workloads[w];
        f.remediation = if denies.is_empty() && a.np_egress_isolated[w] {
            Remediation {
                text: "Add an egress rule to the kube-dns pods on UDP and TCP 53 (this policy adds one).".into(),
                yaml: Some(yaml::allow_dns(
                    &format!("{}-allow-dns", wl.name),
                    &wl.namespace,
                    &yaml::workload_labels(cluster, w),
                )),
            }
        } else if denies.is_empty() {
            Remediation {
                text: format!(
                    "No egress rule of {} blocks DNS: the ingress of the kube-dns pods does not admit it; allow it there.",
                    a.id(w)
                ),
                yaml: None,
            }
        } else {
            let mut names: Vec<String> = denies
                .iter()
                .map(|x| tier_rule_text(a.engine, x, true).0)
                .collect();
            names.dedup();
            let admin = denies.iter().any(|x| x.tier == Stage::Admin);
            let cilium = denies.iter().any(|x| x.tier == Stage::Normal);
            let calico = denies.iter().any(|x| x.tier.is_calico());
            Remediation {
                text: if calico && !admin {
                    format!(
                        "Calico denies DNS ({}): allow the kube-dns pods on UDP and TCP 53 in an earlier rule of that tier, or in a tier ordered before it.",
                        names.join(", ")
                    )
                } else if cilium && !admin {
                    format!(
                        "A Cilium deny rule blocks DNS ({}), and no allow can override it: narrow it so that it leaves the kube-dns pods on UDP and TCP 53 alone.",
                        names.join(", ")
                    )
                } else if admin {
                    format!(
                        "An Admin-tier Deny rule blocks DNS ({}), and no NetworkPolicy overrides it: add an Admin rule that accepts (or passes) the kube-dns pods on UDP and TCP 53 before it, or narrow it.",
                        names.join(", ")
                    )
                } else {
                    format!(
                        "A Baseline-tier Deny rule blocks DNS ({}): add a Baseline rule that accepts the kube-dns pods on UDP and TCP 53 before it, or narrow it (a NetworkPolicy selecting {} would replace the Baseline tier for it, but would also isolate its egress to what that policy allows).",
                        names.join(", "),
                        a.id(w)
                    )
                },
                yaml: None,
            }
        };
        a.push(f);
    }
}
