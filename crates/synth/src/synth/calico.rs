//! The Calico side of the `*-calico` shapes (`calico_policies` > 0 on a realistic
//! shape): `projectcalico.org/v3` tiers, policies and network sets as Calico users
//! write them, beside the NetworkPolicies (Calico enforces both).
//!
//! Two tiers before `default`, both ending in Pass: `security` (order 100) with three
//! GlobalNetworkPolicies for every pod (quarantined pods may not connect in, the cloud
//! metadata address is denied, kube-dns is allowed) and `platform` (order 200) with one
//! per team letting monitoring scrape 9090 in the team's namespaces. In `default`, per
//! namespace: a default deny at order 2000 (after the Kubernetes NetworkPolicies at
//! 1000), in some namespaces a NetworkSet of legacy databases with the egress to it,
//! then per workload, in rounds until the namespace's share is spent: an ingress by
//! tier, an egress (to the next tier, to partners' GlobalNetworkSets or to the outside
//! by `nets` minus `notNets`), then ingresses from other teams' backends.

use super::{Gen, Plan, Wl, apportion};
use crate::Shape;
use crate::node::{Node, int, obj, q, s};
use crate::rng::{Rng, mix};

const API: &str = "projectcalico.org/v3";
/// The security tier's global policies.
const SECURITY: usize = 3;
/// The namespace default deny goes after the Kubernetes NetworkPolicies (order 1000).
const DENY_ORDER: i64 = 2000;
/// App policies with an order go before the Kubernetes NetworkPolicies; never 1000,
/// which Calico interleaves with them by name.
const APP_ORDER: i64 = 500;
/// GlobalNetworkSets of partners (`role: partner`), in documentation ranges.
const PARTNERS: &[(&str, &[&str])] = &[
    ("partners-payments", &["203.0.113.0/24", "198.51.100.0/24"]),
    ("partners-saas", &["192.0.2.0/24"]),
];

/// What the Calico mix needs beyond the plan.
pub(super) struct Mix {
    rng: Rng,
    /// Calico NetworkPolicies per namespace (parallel to `Plan::ns`).
    budgets: Vec<usize>,
    /// GlobalNetworkPolicies: the security ones first, then one per team.
    global: usize,
    /// Whether the mix is written at all (tiers and sets only with policies).
    on: bool,
}

impl Mix {
    /// Splits the shape's Calico policies: the global ones first, the rest over the
    /// user namespaces by workload count (no randomness, so the plan is unchanged).
    pub(super) fn new(shape: &Shape, plan: &Plan, seed: u64) -> Mix {
        let rng = Rng::new(mix(seed, 4));
        let n = plan.ns.len();
        let off = Mix {
            rng: Rng::new(0),
            budgets: vec![0; n],
            global: 0,
            on: false,
        };
        let Some(real) = plan.real.as_ref().filter(|_| shape.realistic) else {
            return off;
        };
        let total = shape.calico_policies;
        if total == 0 {
            return off;
        }
        let weights: Vec<f64> = plan
            .ns
            .iter()
            .zip(&real.ns)
            .map(|(ns, r)| r.as_ref().map_or(0.0, |_| ns.wl.len() as f64))
            .collect();
        let global = total.min(SECURITY + real.teams);
        // Without a user workload there is nowhere to put namespaced policies.
        let budgets = if weights.iter().any(|&w| w > 0.0) {
            apportion(total - global, &weights)
        } else {
            vec![0; n]
        };
        Mix {
            rng,
            budgets,
            global,
            on: true,
        }
    }
}

/// `key == 'value'`.
fn eq(key: &str, value: &str) -> String {
    format!("{key} == '{value}'")
}

/// One side of a rule, its fields in Calico's order.
#[derive(Default)]
struct Side {
    nets: Vec<&'static str>,
    selector: Option<String>,
    namespace_selector: Option<String>,
    ports: Vec<Node>,
    not_nets: Vec<&'static str>,
    not_ports: Vec<Node>,
}

impl Side {
    fn pods(selector: String) -> Side {
        Side {
            selector: Some(selector),
            ..Side::default()
        }
    }

    fn ports(mut self, ports: Vec<Node>) -> Side {
        self.ports = ports;
        self
    }

    fn node(self) -> Option<Node> {
        let nets = |v: Vec<&str>| Node::Arr(v.into_iter().map(s).collect());
        let mut e = Vec::new();
        if !self.nets.is_empty() {
            e.push(("nets", nets(self.nets)));
        }
        if let Some(v) = self.selector {
            e.push(("selector", q(v)));
        }
        if let Some(v) = self.namespace_selector {
            e.push(("namespaceSelector", q(v)));
        }
        if !self.ports.is_empty() {
            e.push(("ports", Node::Arr(self.ports)));
        }
        if !self.not_nets.is_empty() {
            e.push(("notNets", nets(self.not_nets)));
        }
        if !self.not_ports.is_empty() {
            e.push(("notPorts", Node::Arr(self.not_ports)));
        }
        (!e.is_empty()).then(|| obj(e))
    }
}

fn rule(action: &str, protocol: Option<&str>, source: Side, destination: Side) -> Node {
    let mut e = vec![("action", s(action))];
    if let Some(p) = protocol {
        e.push(("protocol", s(p)));
    }
    if let Some(n) = source.node() {
        e.push(("source", n));
    }
    if let Some(n) = destination.node() {
        e.push(("destination", n));
    }
    obj(e)
}

fn pass() -> Node {
    obj(vec![("action", s("Pass"))])
}

/// An Allow over TCP from `source` (ingress) or to `destination` (egress).
fn allow(source: Side, destination: Side) -> Node {
    rule("Allow", Some("TCP"), source, destination)
}

/// A policy spec: `ingress` rules make it an Ingress policy, `egress` ones an Egress
/// one; with neither it is both and denies everything it selects.
struct Spec {
    tier: Option<&'static str>,
    order: Option<i64>,
    selector: String,
    namespace_selector: Option<String>,
    ingress: Vec<Node>,
    egress: Vec<Node>,
}

impl Spec {
    fn new(selector: String) -> Spec {
        Spec {
            tier: None,
            order: None,
            selector,
            namespace_selector: None,
            ingress: Vec::new(),
            egress: Vec::new(),
        }
    }

    fn node(self) -> Node {
        let mut e = Vec::new();
        if let Some(t) = self.tier {
            e.push(("tier", s(t)));
        }
        if let Some(o) = self.order {
            e.push(("order", int(o)));
        }
        e.push(("selector", q(self.selector)));
        if let Some(n) = self.namespace_selector {
            e.push(("namespaceSelector", q(n)));
        }
        let (i, eg) = (!self.ingress.is_empty(), !self.egress.is_empty());
        let types = match (i, eg) {
            (true, false) => vec![s("Ingress")],
            (false, true) => vec![s("Egress")],
            _ => vec![s("Ingress"), s("Egress")],
        };
        e.push(("types", Node::Arr(types)));
        if i {
            e.push(("ingress", Node::Arr(self.ingress)));
        }
        if eg {
            e.push(("egress", Node::Arr(self.egress)));
        }
        obj(e)
    }
}

/// An object: metadata (namespace and labels when given), then its spec.
fn object(
    kind: &str,
    name: String,
    namespace: Option<&str>,
    uid: String,
    labels: &[(&'static str, &str)],
    spec: Node,
) -> Node {
    let mut meta = vec![("name", s(name))];
    if let Some(ns) = namespace {
        meta.push(("namespace", s(ns)));
    }
    meta.push(("uid", s(uid)));
    if !labels.is_empty() {
        let l = labels.iter().map(|(k, v)| (*k, q(*v))).collect();
        meta.push(("labels", obj(l)));
    }
    obj(vec![
        ("apiVersion", s(API)),
        ("kind", s(kind)),
        ("metadata", obj(meta)),
        ("spec", spec),
    ])
}

/// Egress on 443 to the outside: partners' GlobalNetworkSets or the internet.
fn external(r: &mut Rng) -> Node {
    let to = if r.pct(50) {
        Side {
            selector: Some(eq("role", "partner")),
            namespace_selector: Some("global()".into()),
            ..Side::default()
        }
    } else {
        Side {
            nets: vec!["0.0.0.0/0"],
            not_nets: vec!["10.0.0.0/8"],
            ..Side::default()
        }
    };
    allow(Side::default(), to.ports(vec![int(443)]))
}

/// The namespace's choices, drawn once.
struct NsStyle {
    /// Backends serve frontends on the named port `grpc` (else 8080).
    grpc: bool,
    db_ports: Vec<u16>,
    /// Teams whose backends may call in, partners first.
    callers: Vec<usize>,
}

impl Gen<'_> {
    /// The NetworkSets and Calico NetworkPolicies of namespace `i` (exactly its share
    /// of policies).
    pub(super) fn calico_namespaced(&mut self, i: usize) -> (Vec<Node>, Vec<Node>) {
        let Gen { plan, calico, .. } = self;
        let budget = calico.budgets.get(i).copied().unwrap_or(0);
        let Some(Some(nr)) = plan.real.as_ref().map(|r| &r.ns[i]) else {
            return (Vec::new(), Vec::new());
        };
        if budget == 0 {
            return (Vec::new(), Vec::new());
        }
        let rp = plan.real.as_ref().expect("realistic plan");
        let ns = &plan.ns[i];
        let r = &mut calico.rng;
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
            grpc: nr.backend_grpc,
            db_ports: nr.db_ports.clone(),
            callers,
        };
        let mut sets = Vec::new();
        let mut items: Vec<(String, Spec)> = Vec::with_capacity(budget);
        let mut deny = Spec::new("all()".into());
        deny.order = Some(DENY_ORDER);
        items.push(("default-deny".into(), deny));
        // Some namespaces still reach databases outside the cluster, named by a set.
        if items.len() < budget && r.pct(30) {
            let net = format!("172.{}.{}.0/24", 16 + r.below(16), r.below(256));
            let spec = obj(vec![("nets", Node::Arr(vec![s(net)]))]);
            let uid = r.uuid();
            let labels = [("role", "legacy-db")];
            let name = "legacy-dbs".to_string();
            sets.push(object(
                "NetworkSet",
                name,
                Some(&ns.name),
                uid,
                &labels,
                spec,
            ));
            let mut sp = Spec::new(eq("tier", "backend"));
            sp.order = Some(APP_ORDER);
            let to = Side::pods(eq("role", "legacy-db")).ports(vec![int(5432)]);
            sp.egress.push(allow(Side::default(), to));
            items.push(("backend-egress-legacy-db".into(), sp));
        }
        let wls = &plan.wls[ns.wl.clone()];
        let mut k = 0;
        while items.len() < budget && !wls.is_empty() {
            let w = &wls[k % wls.len()];
            let (name, mut sp) = app_policy(r, &st, w, k / wls.len());
            // Most teams order their policies; the rest leave it to Calico (last).
            sp.order = r.pct(60).then_some(APP_ORDER);
            items.push((name, sp));
            k += 1;
        }
        let team = ns.team.as_str();
        let policies = items
            .into_iter()
            .map(|(name, sp)| {
                let uid = r.uuid();
                let labels = [("team", team)];
                object(
                    "NetworkPolicy",
                    name,
                    Some(&ns.name),
                    uid,
                    &labels,
                    sp.node(),
                )
            })
            .collect();
        (sets, policies)
    }

    /// The Tiers and GlobalNetworkSets, then the GlobalNetworkPolicies (the security
    /// ones, then one per team, as the budget allows).
    pub(super) fn calico_global(&mut self) -> (Vec<Node>, Vec<Node>) {
        if !self.calico.on {
            return (Vec::new(), Vec::new());
        }
        let r = &mut self.calico.rng;
        let mut objects = Vec::new();
        for (name, order) in [("security", 100), ("platform", 200)] {
            let spec = obj(vec![("order", int(order)), ("defaultAction", s("Pass"))]);
            objects.push(object("Tier", name.into(), None, r.uuid(), &[], spec));
        }
        for (name, nets) in PARTNERS {
            let nets = Node::Arr(nets.iter().map(|n| s(*n)).collect());
            let spec = obj(vec![("nets", nets)]);
            let labels = [("role", "partner")];
            let uid = r.uuid();
            objects.push(object(
                "GlobalNetworkSet",
                (*name).into(),
                None,
                uid,
                &labels,
                spec,
            ));
        }
        let teams = self.plan.real.as_ref().map_or(0, |p| p.teams);
        let mut specs = security();
        for t in super::real::TEAMS.iter().take(teams) {
            let mut sp = Spec::new("all()".into());
            sp.tier = Some("platform");
            sp.order = Some(100);
            sp.namespace_selector = Some(eq("team", t));
            let from = Side {
                namespace_selector: Some(eq("projectcalico.org/name", "monitoring")),
                ..Side::default()
            };
            sp.ingress = vec![allow(from, Side::default().ports(vec![int(9090)])), pass()];
            specs.push((format!("platform.monitoring-{t}"), sp));
        }
        let policies = specs
            .into_iter()
            .take(self.calico.global)
            .map(|(name, sp)| {
                let uid = r.uuid();
                object("GlobalNetworkPolicy", name, None, uid, &[], sp.node())
            })
            .collect();
        (objects, policies)
    }
}

/// The security tier's policies, each passing what it does not decide.
fn security() -> Vec<(String, Spec)> {
    let tiered = |order, ingress, egress| Spec {
        tier: Some("security"),
        order: Some(order),
        selector: "all()".into(),
        namespace_selector: None,
        ingress,
        egress,
    };
    let quarantined = Side::pods(eq("quarantine", "true"));
    let metadata = Side {
        nets: vec!["169.254.169.254/32"],
        ..Side::default()
    };
    let dns = |proto| {
        let to = Side {
            selector: Some(eq("k8s-app", "kube-dns")),
            namespace_selector: Some(eq("projectcalico.org/name", "kube-system")),
            ports: vec![int(53)],
            ..Side::default()
        };
        rule("Allow", Some(proto), Side::default(), to)
    };
    vec![
        (
            "security.quarantine".into(),
            tiered(
                10,
                vec![rule("Deny", None, quarantined, Side::default()), pass()],
                vec![],
            ),
        ),
        (
            "security.block-cloud-metadata".into(),
            tiered(
                20,
                vec![],
                vec![rule("Deny", None, Side::default(), metadata), pass()],
            ),
        ),
        (
            "security.allow-kube-dns".into(),
            tiered(30, vec![], vec![dns("UDP"), dns("TCP"), pass()]),
        ),
    ]
}

/// Workload `w`'s policy of round `round`: 0 its ingress, 1 its egress, then
/// ingresses from other teams' backends.
fn app_policy(r: &mut Rng, st: &NsStyle, w: &Wl, round: usize) -> (String, Spec) {
    let app = w.label("app").unwrap_or(w.name.as_str());
    let tier = w.label("tier").unwrap_or("backend");
    let mut sp = Spec::new(eq("app", app));
    let main = w
        .containers
        .first()
        .and_then(|c| c.ports.first())
        .map_or(8080, |p| p.port);
    let backend_port = || {
        if st.grpc { s("grpc") } else { int(8080) }
    };
    let name = match (round, tier) {
        (0, "frontend") => {
            let from = Side {
                selector: Some(eq("app.kubernetes.io/name", "ingress-nginx")),
                namespace_selector: Some(eq("projectcalico.org/name", "ingress-nginx")),
                ..Side::default()
            };
            let port = if r.pct(50) { s("http") } else { int(main) };
            sp.ingress
                .push(allow(from, Side::default().ports(vec![port])));
            format!("{app}-ingress")
        }
        (0, "db") => {
            let from = Side::pods(eq("tier", "backend"));
            sp.ingress
                .push(allow(from, Side::default().ports(vec![int(main)])));
            format!("{app}-ingress")
        }
        (0, "worker") | (1, "db") => {
            sp.egress.push(external(r));
            format!("{app}-egress-external")
        }
        (0, _) => {
            let from = Side::pods(eq("tier", "frontend"));
            // Some teams open a port range but keep the metrics port out of it.
            let to = if !st.grpc && r.pct(25) {
                Side {
                    ports: vec![s("8000:9999")],
                    not_ports: vec![int(9090)],
                    ..Side::default()
                }
            } else {
                Side::default().ports(vec![backend_port()])
            };
            sp.ingress.push(allow(from, to));
            format!("{app}-ingress")
        }
        (1, _) => {
            let to = if tier == "backend" {
                let ports = st.db_ports.iter().map(|&p| int(p)).collect();
                Side::pods(eq("tier", "db")).ports(ports)
            } else {
                Side::pods(eq("tier", "backend")).ports(vec![backend_port()])
            };
            sp.egress.push(allow(Side::default(), to));
            format!("{app}-egress")
        }
        _ => {
            let k = round - 2;
            let team = super::real::TEAMS[st.callers[k % st.callers.len()]];
            let v = k / st.callers.len();
            let (name, pods) = if v == 0 {
                (format!("{app}-from-{team}"), eq("tier", "backend"))
            } else {
                let version = format!("v{}", 1 + (v - 1) % 3);
                (
                    format!("{app}-from-{team}-{v}"),
                    format!("{} && {}", eq("tier", "backend"), eq("version", &version)),
                )
            };
            let from = Side {
                selector: Some(pods),
                namespace_selector: Some(eq("team", team)),
                ..Side::default()
            };
            sp.ingress
                .push(allow(from, Side::default().ports(vec![int(main)])));
            name
        }
    };
    (name, sp)
}
