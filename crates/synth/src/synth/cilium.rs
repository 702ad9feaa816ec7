//! The Cilium side of the `*-cilium` shapes (`cilium_policies` > 0 on a realistic
//! shape): `cilium.io/v2` policies as Cilium users write them, beside the
//! NetworkPolicies (Cilium clusters keep both).
//!
//! Per namespace: a default-deny-ingress (`ingress: [{}]`) or an allow-same-namespace
//! (`fromEndpoints: [{}]`), and a DNS egress to kube-dns (most with the DNS proxy's
//! `rules.dns`, half with `enableDefaultDeny: {egress: false}`). Then per workload, in
//! rounds until the namespace's share is spent: an ingress by tier (frontends from
//! ingress-nginx, backends from frontends, some with HTTP rules, databases from
//! backends; workers egress out instead), an egress (to the next tier, or out on 443 by
//! `toEntities: [world]`, `toCIDRSet` or `toFQDNs`), then ingresses from other teams'
//! backends. Up to five CiliumClusterwideNetworkPolicies: an `ingressDeny` of
//! quarantined pods, an `egressDeny` to the kubelet port of the host, monitoring's
//! scrape port, probes from the nodes, and kube-dns's own ingress.

use super::{Gen, Plan, Wl, apportion};
use crate::Shape;
use crate::node::{Node, empty, obj, q, s};
use crate::rng::{Rng, mix};

/// Cluster-wide policies, when the budget allows.
const CLUSTERWIDE: usize = 5;
const POD_NS: &str = "k8s:io.kubernetes.pod.namespace";
const FQDNS: &[&str] = &[
    "api.example.com",
    "api.stripe.com",
    "hooks.slack.com",
    "sts.amazonaws.com",
];

/// What the Cilium mix needs beyond the plan.
pub(super) struct Mix {
    rng: Rng,
    /// CiliumNetworkPolicies per namespace (parallel to `Plan::ns`).
    budgets: Vec<usize>,
    clusterwide: usize,
}

impl Mix {
    /// Splits the shape's Cilium policies: the cluster-wide ones first, the rest over
    /// the user namespaces by workload count (no randomness, so the plan is unchanged).
    pub(super) fn new(shape: &Shape, plan: &Plan, seed: u64) -> Mix {
        let rng = Rng::new(mix(seed, 3));
        let n = plan.ns.len();
        let Some(real) = plan.real.as_ref().filter(|_| shape.realistic) else {
            return Mix {
                rng,
                budgets: vec![0; n],
                clusterwide: 0,
            };
        };
        let weights: Vec<f64> = plan
            .ns
            .iter()
            .zip(&real.ns)
            .map(|(ns, r)| match r {
                Some(_) => ns.wl.len() as f64,
                None => 0.0,
            })
            .collect();
        let total = shape.cilium_policies;
        let clusterwide = total.min(CLUSTERWIDE);
        // Without a user workload there is nowhere to put namespaced policies.
        let budgets = if weights.iter().any(|&w| w > 0.0) {
            apportion(total - clusterwide, &weights)
        } else {
            vec![0; n]
        };
        Mix {
            rng,
            budgets,
            clusterwide,
        }
    }
}

fn ml(pairs: &[(&'static str, &str)]) -> Node {
    obj(vec![(
        "matchLabels",
        obj(pairs.iter().map(|(k, v)| (*k, q(*v))).collect()),
    )])
}

fn arr(v: Node) -> Node {
    Node::Arr(vec![v])
}

/// `toPorts` with one entry: the ports (number, protocol) and optional L7 rules.
fn to_ports(ports: &[(u16, &'static str)], rules: Option<Node>) -> Node {
    let ports = ports
        .iter()
        .map(|(p, proto)| obj(vec![("port", q(p.to_string())), ("protocol", s(*proto))]))
        .collect();
    let mut e = vec![("ports", Node::Arr(ports))];
    if let Some(r) = rules {
        e.push(("rules", r));
    }
    arr(obj(e))
}

fn rule(peer_key: &'static str, peers: Node, ports: Option<Node>) -> Node {
    let mut e = vec![(peer_key, peers)];
    if let Some(p) = ports {
        e.push(("toPorts", p));
    }
    obj(e)
}

fn default_deny(ingress: bool, egress: bool) -> Node {
    let mut e = Vec::new();
    if !ingress {
        e.push(("ingress", Node::Bool(false)));
    }
    if !egress {
        e.push(("egress", Node::Bool(false)));
    }
    obj(e)
}

/// A spec: the subject, then the rule lists in Cilium's field order.
fn spec(selector: Node, lists: Vec<(&'static str, Node)>) -> Node {
    let mut e = vec![("endpointSelector", selector)];
    e.extend(lists);
    obj(e)
}

fn policy(
    kind: &str,
    name: String,
    namespace: Option<(&str, &str)>,
    uid: String,
    spec: Node,
) -> Node {
    let mut meta = vec![("name", s(name))];
    if let Some((ns, team)) = namespace {
        meta.push(("namespace", s(ns)));
        meta.push(("uid", s(uid)));
        meta.push(("labels", obj(vec![("team", q(team))])));
    } else {
        meta.push(("uid", s(uid)));
    }
    obj(vec![
        ("apiVersion", s("cilium.io/v2")),
        ("kind", s(kind)),
        ("metadata", obj(meta)),
        ("spec", spec),
    ])
}

/// Egress on 443 to the outside, as a world entity, a CIDR set or (when the
/// namespace runs DNS through the proxy, which toFQDNs needs) a name.
fn external(rng: &mut Rng, dns_proxy: bool) -> Node {
    let peers = match rng.below(100) {
        0..40 if dns_proxy => (
            "toFQDNs",
            arr(obj(vec![("matchName", s(*rng.pick(FQDNS)))])),
        ),
        0..70 => ("toEntities", arr(s("world"))),
        _ => (
            "toCIDRSet",
            arr(obj(vec![
                ("cidr", s("0.0.0.0/0")),
                ("except", arr(s("10.0.0.0/8"))),
            ])),
        ),
    };
    arr(rule(
        peers.0,
        peers.1,
        Some(to_ports(&[(443, "TCP")], None)),
    ))
}

/// The namespace's choices, drawn once.
struct NsStyle {
    dns_proxy: bool,
    backend_port: u16,
    db_ports: Vec<(u16, &'static str)>,
    /// Teams whose backends may call in, partners first.
    callers: Vec<usize>,
}

impl Gen<'_> {
    /// The CiliumNetworkPolicies of namespace `i` (exactly its share of them).
    pub(super) fn cilium_policies(&mut self, i: usize) -> Vec<Node> {
        let Gen { plan, cilium, .. } = self;
        let budget = cilium.budgets.get(i).copied().unwrap_or(0);
        let Some(Some(nr)) = plan.real.as_ref().map(|r| &r.ns[i]) else {
            return Vec::new();
        };
        if budget == 0 {
            return Vec::new();
        }
        let rp = plan.real.as_ref().expect("realistic plan");
        let ns = &plan.ns[i];
        let r = &mut cilium.rng;
        let mut callers = rp.partners[nr.team].clone();
        for d in 1..rp.teams {
            let t = (nr.team + d) % rp.teams;
            if !callers.contains(&t) {
                callers.push(t);
            }
        }
        if callers.is_empty() {
            callers.push(nr.team);
        }
        let st = NsStyle {
            dns_proxy: r.pct(70),
            backend_port: if nr.backend_grpc { 9000 } else { 8080 },
            db_ports: nr.db_ports.iter().map(|&p| (p, "TCP")).collect(),
            callers,
        };
        let mut items: Vec<(String, Node)> = Vec::with_capacity(budget);
        // Namespace-wide: ingress isolation (or only same-namespace), then DNS.
        if r.pct(70) {
            let sp = spec(empty(), vec![("ingress", arr(empty()))]);
            items.push(("default-deny-ingress".into(), sp));
        } else {
            let ing = arr(rule("fromEndpoints", arr(empty()), None));
            items.push((
                "allow-same-namespace".into(),
                spec(empty(), vec![("ingress", ing)]),
            ));
        }
        if items.len() < budget {
            let rules = st
                .dns_proxy
                .then(|| obj(vec![("dns", arr(obj(vec![("matchPattern", q("*"))])))]));
            let mut lists = Vec::new();
            // Half the namespaces only watch DNS and keep egress open.
            if r.pct(50) {
                lists.push(("enableDefaultDeny", default_deny(true, false)));
            }
            let dns = ml(&[(POD_NS, "kube-system"), ("k8s-app", "kube-dns")]);
            let ports = to_ports(&[(53, "UDP"), (53, "TCP")], rules);
            lists.push(("egress", arr(rule("toEndpoints", arr(dns), Some(ports)))));
            items.push(("allow-dns".into(), spec(empty(), lists)));
        }
        let wls = &plan.wls[ns.wl.clone()];
        let mut k = 0;
        while items.len() < budget && !wls.is_empty() {
            let w = &wls[k % wls.len()];
            items.push(app_policy(r, &st, w, k / wls.len()));
            k += 1;
        }
        items
            .into_iter()
            .map(|(name, sp)| {
                let meta = Some((ns.name.as_str(), ns.team.as_str()));
                policy("CiliumNetworkPolicy", name, meta, r.uuid(), sp)
            })
            .collect()
    }

    /// The CiliumClusterwideNetworkPolicies (up to five, as the budget allows).
    pub(super) fn cilium_clusterwide(&mut self) -> Vec<Node> {
        let n = self.cilium.clusterwide;
        let all = empty();
        // Each keeps the default-deny of the pods it selects off where it must: a
        // cluster-wide deny or extra allow must not isolate every pod.
        let specs = [
            (
                "quarantine-deny-ingress",
                spec(
                    all.clone(),
                    vec![
                        ("enableDefaultDeny", default_deny(false, true)),
                        (
                            "ingressDeny",
                            arr(rule(
                                "fromEndpoints",
                                arr(ml(&[("quarantine", "true")])),
                                None,
                            )),
                        ),
                    ],
                ),
            ),
            (
                "deny-kubelet-egress",
                spec(
                    all.clone(),
                    vec![
                        ("enableDefaultDeny", default_deny(true, false)),
                        (
                            "egressDeny",
                            arr(rule(
                                "toEntities",
                                arr(s("host")),
                                Some(to_ports(&[(10250, "TCP")], None)),
                            )),
                        ),
                    ],
                ),
            ),
            (
                "allow-monitoring-scrape",
                spec(
                    all.clone(),
                    vec![
                        ("enableDefaultDeny", default_deny(false, true)),
                        (
                            "ingress",
                            arr(rule(
                                "fromEndpoints",
                                arr(ml(&[(POD_NS, "monitoring")])),
                                Some(to_ports(&[(9090, "TCP")], None)),
                            )),
                        ),
                    ],
                ),
            ),
            (
                "allow-probes-from-nodes",
                spec(
                    all,
                    vec![
                        ("enableDefaultDeny", default_deny(false, true)),
                        (
                            "ingress",
                            arr(rule(
                                "fromEntities",
                                Node::Arr(vec![s("host"), s("remote-node")]),
                                None,
                            )),
                        ),
                    ],
                ),
            ),
            (
                "kube-dns-ingress",
                spec(
                    ml(&[(POD_NS, "kube-system"), ("k8s-app", "kube-dns")]),
                    vec![(
                        "ingress",
                        arr(rule(
                            "fromEntities",
                            arr(s("cluster")),
                            Some(to_ports(&[(53, "UDP"), (53, "TCP")], None)),
                        )),
                    )],
                ),
            ),
        ];
        specs
            .into_iter()
            .take(n)
            .map(|(name, sp)| {
                let uid = self.cilium.rng.uuid();
                policy("CiliumClusterwideNetworkPolicy", name.into(), None, uid, sp)
            })
            .collect()
    }
}

/// Workload `w`'s policy of round `round`: 0 its ingress, 1 its egress, then
/// ingresses from other teams' backends.
fn app_policy(r: &mut Rng, st: &NsStyle, w: &Wl, round: usize) -> (String, Node) {
    let app = w.label("app").unwrap_or(w.name.as_str());
    let tier = w.label("tier").unwrap_or("backend");
    let sel = ml(&[("app", app)]);
    let main = w
        .containers
        .first()
        .and_then(|c| c.ports.first())
        .map_or(8080, |p| p.port);
    match (round, tier) {
        (0, "frontend") => {
            let from = ml(&[
                (POD_NS, "ingress-nginx"),
                ("app.kubernetes.io/name", "ingress-nginx"),
            ]);
            let ports = to_ports(&[(main, "TCP")], None);
            let ing = arr(rule("fromEndpoints", arr(from), Some(ports)));
            (format!("{app}-ingress"), spec(sel, vec![("ingress", ing)]))
        }
        (0, "db") => {
            let ports = to_ports(&[(main, "TCP")], None);
            let ing = arr(rule(
                "fromEndpoints",
                arr(ml(&[("tier", "backend")])),
                Some(ports),
            ));
            (format!("{app}-ingress"), spec(sel, vec![("ingress", ing)]))
        }
        (0, "worker") => (
            format!("{app}-egress-external"),
            spec(sel, vec![("egress", external(r, st.dns_proxy))]),
        ),
        (0, _) => {
            // The proxy filters HTTP on some backends (never on gRPC ports).
            let http = (st.backend_port == 8080 && r.pct(30)).then(|| {
                obj(vec![(
                    "http",
                    arr(obj(vec![("method", s("GET")), ("path", q("/api/.*"))])),
                )])
            });
            let ports = to_ports(&[(st.backend_port, "TCP")], http);
            let ing = arr(rule(
                "fromEndpoints",
                arr(ml(&[("tier", "frontend")])),
                Some(ports),
            ));
            (format!("{app}-ingress"), spec(sel, vec![("ingress", ing)]))
        }
        (1, "db") => (
            format!("{app}-egress-backup"),
            spec(sel, vec![("egress", external(r, st.dns_proxy))]),
        ),
        (1, _) => {
            let (to, ports) = if tier == "backend" {
                ("db", to_ports(&st.db_ports, None))
            } else {
                ("backend", to_ports(&[(st.backend_port, "TCP")], None))
            };
            let eg = arr(rule("toEndpoints", arr(ml(&[("tier", to)])), Some(ports)));
            (format!("{app}-egress"), spec(sel, vec![("egress", eg)]))
        }
        _ => {
            let k = round - 2;
            let team = super::real::TEAMS[st.callers[k % st.callers.len()]];
            let v = k / st.callers.len();
            let (name, from) = if v == 0 {
                (
                    format!("{app}-from-{team}"),
                    ml(&[(NS_TEAM, team), ("tier", "backend")]),
                )
            } else {
                let version = format!("v{}", 1 + (v - 1) % 3);
                (
                    format!("{app}-from-{team}-{v}"),
                    ml(&[(NS_TEAM, team), ("tier", "backend"), ("version", &version)]),
                )
            };
            let ports = to_ports(&[(main, "TCP")], None);
            let ing = arr(rule("fromEndpoints", arr(from), Some(ports)));
            (name, spec(sel, vec![("ingress", ing)]))
        }
    }
}

/// Cilium's label for a namespace's `team` label on every pod of it.
const NS_TEAM: &str = "k8s:io.cilium.k8s.namespace.labels.team";
