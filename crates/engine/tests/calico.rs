//! One small test per trap of Calico's policies (`projectcalico.org/v3`), built from the
//! model directly (as the decoder leaves them after Calico's own rewriting). Every
//! expected verdict is derived by hand, with its source on the line above: a case number
//! of `docs/design/policy-ir.md` section 5, or the Calico file it was read from.
//!
//! `Setup::expect` checks each row against the naive reference and the engine.

mod pairs;
mod reference;

use pairs::{endpoint, party, row};

use kubeseg_model::{
    Action, CalicoAction, CalicoEntity, CalicoNamespaces, CalicoNetworkSet, CalicoPolicy,
    CalicoPort, CalicoPorts, CalicoRule, CalicoSelector, CalicoSubject, CalicoTier, Cidr, Cluster,
    ClusterPolicy, ContainerPort, Labels, Namespace, NetworkPolicy, Peer, PeerKind, Pod, PodSet,
    Protocol, Rule, Selector, Tier, TierPeer, TierPeerKind, TierRule, Workload,
};
use reference::Reading;
use reference::calico::allowed_calico;

const ALL: &str = "All Connections";
const NONE: &str = "No Connections";
const NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// An address outside the cluster and outside every network set.
const WORLD: &str = "203.0.113.9";

// ---------------------------------------------------------------------------------------
// Building clusters
// ---------------------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A Kubernetes `matchLabels` selector.
fn k8s_sel(pairs: &[(&str, &str)]) -> Selector {
    let mut match_labels: Vec<(String, String)> = pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match_labels.sort();
    Selector {
        match_labels,
        match_expressions: Vec::new(),
    }
}

/// A Calico selector, as written.
fn sel(text: &str) -> CalicoSelector {
    CalicoSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn nets(cidrs: &[&str]) -> kubeseg_model::IpSet {
    cidrs.iter().fold(kubeseg_model::IpSet::empty(), |acc, c| {
        acc.union(&Cidr::parse(c).unwrap().to_set())
    })
}

/// A Calico NetworkPolicy in `prod` in the `default` tier without order, selecting
/// `selector`, applying to ingress only and without rules (what `types` defaults to).
fn np(name: &str, selector: &str) -> CalicoPolicy {
    CalicoPolicy {
        kind: "NetworkPolicy".to_string(),
        namespace: "prod".to_string(),
        name: name.to_string(),
        location: None,
        tier: "default".to_string(),
        order: None,
        subject: CalicoSubject {
            selector: sel(selector),
            namespaces: CalicoNamespaces::Own("prod".to_string()),
        },
        applies_ingress: true,
        applies_egress: false,
        ingress: Vec::new(),
        egress: Vec::new(),
        staged: false,
    }
}

/// A GlobalNetworkPolicy without namespaceSelector, otherwise as `np`.
fn gnp(name: &str, selector: &str) -> CalicoPolicy {
    CalicoPolicy {
        kind: "GlobalNetworkPolicy".to_string(),
        namespace: String::new(),
        subject: CalicoSubject {
            selector: sel(selector),
            namespaces: CalicoNamespaces::Any,
        },
        ..np(name, selector)
    }
}

/// Policy adjustments, chained.
trait Adjust {
    fn tier(self, tier: &str) -> Self;
    fn order(self, order: f64) -> Self;
    fn ingress(self, rules: Vec<CalicoRule>) -> Self;
    fn egress(self, rules: Vec<CalicoRule>) -> Self;
}

impl Adjust for CalicoPolicy {
    fn tier(mut self, tier: &str) -> Self {
        self.tier = tier.to_string();
        self
    }
    fn order(mut self, order: f64) -> Self {
        self.order = Some(order);
        self
    }
    fn ingress(mut self, rules: Vec<CalicoRule>) -> Self {
        self.ingress = rules;
        self
    }
    fn egress(mut self, rules: Vec<CalicoRule>) -> Self {
        self.egress = rules;
        self
    }
}

/// A rule for every protocol and port.
fn rule(action: CalicoAction, peer: CalicoEntity) -> CalicoRule {
    CalicoRule {
        location: None,
        action,
        protocols: [true; 5],
        icmp: None,
        not_icmp: None,
        peer,
        ports: None,
    }
}

fn allow(peer: CalicoEntity) -> CalicoRule {
    rule(CalicoAction::Allow, peer)
}

fn deny(peer: CalicoEntity) -> CalicoRule {
    rule(CalicoAction::Deny, peer)
}

/// An entity with no field: everything.
fn anything() -> CalicoEntity {
    CalicoEntity::default()
}

/// `selector: <selector>` in a namespaced policy of `ns` (own namespace).
fn pods_of(ns: &str, selector: &str) -> CalicoEntity {
    CalicoEntity {
        selector: Some(sel(selector)),
        namespaces: Some(CalicoNamespaces::Own(ns.to_string())),
        ..CalicoEntity::default()
    }
}

fn tier(name: &str, order: Option<f64>, default_action: CalicoAction) -> CalicoTier {
    CalicoTier {
        name: name.to_string(),
        order,
        default_action,
        location: None,
    }
}

fn network_set(
    ns: &str,
    name: &str,
    set_labels: &[(&str, &str)],
    cidrs: &[&str],
) -> CalicoNetworkSet {
    CalicoNetworkSet {
        kind: if ns.is_empty() {
            "GlobalNetworkSet"
        } else {
            "NetworkSet"
        }
        .to_string(),
        namespace: ns.to_string(),
        name: name.to_string(),
        labels: labels(set_labels),
        nets: nets(cidrs),
        location: None,
    }
}

/// A Kubernetes NetworkPolicy in `prod` selecting `app: <app>`, isolating its ingress,
/// allowing the `prod` pods labelled `app` in `from`.
fn k8s_np(name: &str, app: &str, from: &[&str]) -> NetworkPolicy {
    NetworkPolicy {
        namespace: "prod".to_string(),
        name: name.to_string(),
        location: None,
        pod_selector: k8s_sel(&[("app", app)]),
        isolates_ingress: true,
        isolates_egress: false,
        policy_types_explicit: true,
        ingress: vec![Rule {
            location: None,
            peers: Some(
                from.iter()
                    .map(|f| Peer {
                        location: None,
                        kind: PeerKind::Pods {
                            namespaces: None,
                            pods: Some(k8s_sel(&[("app", f)])),
                        },
                    })
                    .collect(),
            ),
            ports: None,
        }],
        egress: Vec::new(),
    }
}

/// A cluster under construction: namespaces `prod` (env=prod) and `dev` (env=dev).
struct Setup {
    cluster: Cluster,
}

impl Setup {
    fn new() -> Setup {
        let namespace = |name: &str, env: &str| {
            let l = labels(&[(NAME_LABEL, name), ("env", env)]);
            Namespace {
                name: name.to_string(),
                labels: l,
                location: None,
            }
        };
        Setup {
            cluster: Cluster {
                namespaces: vec![namespace("dev", "dev"), namespace("prod", "prod")],
                ..Cluster::default()
            },
        }
    }

    /// A Pod `ns/name` labelled `app: <name>` plus `extra`, with this IP (or none) and
    /// these TCP container ports `(name, port)`.
    fn pod_with(
        mut self,
        ns: &str,
        name: &str,
        ip: Option<&str>,
        extra: &[(&str, &str)],
        ports: &[(&str, u16)],
    ) -> Setup {
        let mut pod_labels = labels(extra);
        pod_labels.insert("app".to_string(), name.to_string());
        self.cluster.workloads.push(Workload {
            namespace: ns.to_string(),
            name: name.to_string(),
            kind: "Pod".to_string(),
            pods: vec![Pod {
                name: name.to_string(),
                labels: pod_labels,
                ports: ports
                    .iter()
                    .map(|&(n, port)| ContainerPort {
                        name: Some(n.to_string()),
                        port,
                        protocol: Protocol::Tcp,
                    })
                    .collect(),
                ips: ip.iter().map(|ip| ip.parse().unwrap()).collect(),
                host_network: false,
                host_port: false,
                images: Vec::new(),
                service_account: None,
                inject_annotation: None,
                location: None,
            }],
            location: None,
        });
        self
    }

    fn pod(self, ns: &str, name: &str, ip: &str) -> Setup {
        self.pod_with(ns, name, Some(ip), &[], &[])
    }

    /// Pods `prod/a` (10.0.0.1), `prod/b` (10.0.0.2), `prod/c` (10.0.0.3).
    fn abc() -> Setup {
        Setup::new()
            .pod("prod", "a", "10.0.0.1")
            .pod("prod", "b", "10.0.0.2")
            .pod("prod", "c", "10.0.0.3")
    }

    fn calico(mut self, policy: CalicoPolicy) -> Setup {
        self.cluster.calico_policies.push(policy);
        self
    }

    fn staged(mut self, mut policy: CalicoPolicy) -> Setup {
        policy.staged = true;
        policy.kind = format!("Staged{}", policy.kind);
        self.cluster.calico_policies.push(policy);
        self
    }

    fn tier(mut self, t: CalicoTier) -> Setup {
        self.cluster.calico_tiers.push(t);
        self
    }

    fn set(mut self, s: CalicoNetworkSet) -> Setup {
        self.cluster.calico_network_sets.push(s);
        self
    }

    fn k8s(mut self, policy: NetworkPolicy) -> Setup {
        self.cluster.policies.push(policy);
        self
    }

    fn tiered(mut self, policy: ClusterPolicy) -> Setup {
        self.cluster.cluster_policies.push(policy);
        self
    }

    /// Asserts each `(from, to, ports)`: endpoints are workload ids (`prod/a[Pod]`) or
    /// outside addresses.
    fn expect(self, rows: &[(&str, &str, &str)]) {
        self.check(rows, None);
    }

    /// Asserts each row against the reference, and that the engine refuses the cluster
    /// with a reason containing `reason` (the CLI reports it as an error).
    fn expect_unsupported(self, rows: &[(&str, &str, &str)], reason: &str) {
        self.check(rows, Some(reason));
    }

    fn check(mut self, rows: &[(&str, &str, &str)], unsupported: Option<&str>) {
        let c = &mut self.cluster;
        c.workloads.sort_by_cached_key(Workload::id);
        c.policies
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        c.calico_policies.sort_by(|a, b| {
            (a.namespace.is_empty(), &a.namespace, &a.name).cmp(&(
                b.namespace.is_empty(),
                &b.namespace,
                &b.name,
            ))
        });
        c.calico_tiers.sort_by(|a, b| a.name.cmp(&b.name));
        let cluster = &self.cluster;
        let want: Vec<String> = rows.iter().map(|r| row(r.0, r.1, r.2)).collect();
        let by_reference: Vec<String> = rows
            .iter()
            .map(|&(from, to, _)| {
                let ports = allowed_calico(
                    cluster,
                    party(cluster, from),
                    party(cluster, to),
                    Reading::default(),
                );
                row(from, to, &ports.to_string())
            })
            .collect();
        assert_eq!(by_reference, want, "the reference disagrees");
        let refused = kubeseg_engine::index::calico_unsupported(cluster);
        if let Some(reason) = unsupported {
            assert!(
                refused.iter().any(|(_, why)| why.contains(reason)),
                "{refused:?}"
            );
            return;
        }
        assert!(refused.is_empty(), "{refused:?}");
        // Calico's settings: ipBlocks match pod addresses.
        let options = kubeseg_engine::Options {
            ipblock_pod_ips: true,
            ..kubeseg_engine::Options::default()
        };
        let mut engine = kubeseg_engine::Engine::new(cluster, options);
        let by_engine: Vec<String> = rows
            .iter()
            .map(|&(from, to, _)| {
                let (s, d) = (endpoint(&engine, from), endpoint(&engine, to));
                row(from, to, &engine.pair(s, d).to_string())
            })
            .collect();
        assert_eq!(by_engine, want, "the engine disagrees");
    }
}

// ---------------------------------------------------------------------------------------
// Design-doc cases 16-29
// ---------------------------------------------------------------------------------------

#[test]
fn case16_global_rule_selector_spans_namespaces() {
    let peer = CalicoEntity {
        selector: Some(sel("app == 'x'")),
        namespaces: Some(CalicoNamespaces::Any),
        ..CalicoEntity::default()
    };
    Setup::abc()
        .pod("prod", "x", "10.0.0.4")
        .pod("dev", "x", "10.0.1.4")
        .calico(gnp("from-x", "app == 'b'").ingress(vec![allow(peer)]))
        .expect(&[
            // Case 16: a GlobalNetworkPolicy rule without namespaceSelector matches app=x
            // in every namespace (rules.go).
            ("prod/x[Pod]", "prod/b[Pod]", ALL),
            ("dev/x[Pod]", "prod/b[Pod]", ALL),
            // The default tier applies to b and ends with Deny.
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            (WORLD, "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn case17_not_selector_alone_is_own_namespace() {
    let peer = CalicoEntity {
        not_selector: Some(sel("app == 'x'")),
        namespaces: Some(CalicoNamespaces::Own("prod".to_string())),
        ..CalicoEntity::default()
    };
    Setup::abc()
        .pod("prod", "x", "10.0.0.4")
        .pod("dev", "d", "10.0.1.4")
        .calico(np("not-x", "app == 'b'").ingress(vec![allow(peer)]))
        .expect(&[
            // Case 17: `notSelector` alone = own-namespace pods without app=x (rules.go).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/x[Pod]", "prod/b[Pod]", NONE),
            ("dev/d[Pod]", "prod/b[Pod]", NONE),
            (WORLD, "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn case18_service_account_names() {
    // Case 18 (names half): `serviceAccounts.names: [a]` becomes
    // `projectcalico.org/serviceaccount in {"a"}` (rules.go parseServiceAccounts).
    let mut s = Setup::abc();
    s.cluster.workloads[0].pods[0].service_account = Some("a".to_string());
    s.cluster.workloads[2].pods[0].service_account = Some("other".to_string());
    s.calico(np("sa", "app == 'b'").ingress(vec![allow(pods_of(
        "prod",
        "projectcalico.org/serviceaccount in {'a'}",
    ))]))
    .expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/c[Pod]", "prod/b[Pod]", NONE),
    ]);
}

#[test]
fn case18_service_account_selector_reads_the_accounts_labels() {
    // `serviceAccounts.selector: team == 'red'` becomes `pcsa.team == 'red'` (rules.go
    // parseServiceAccounts); an endpoint inherits `pcsa.` + each label of its account
    // from the account's profile (conversion.go ServiceAccountToProfile), but its own
    // labels win over inherited ones (labelindex/label_inheritance_index.go).
    let mut s = Setup::abc().pod("prod", "d", "10.0.0.4");
    // a runs as red-sa; c as blue-sa; d as blue-sa with its own `pcsa.team: red` label.
    s.cluster.workloads[0].pods[0].service_account = Some("red-sa".to_string());
    s.cluster.workloads[2].pods[0].service_account = Some("blue-sa".to_string());
    s.cluster.workloads[3].pods[0].service_account = Some("blue-sa".to_string());
    s.cluster.workloads[3].pods[0]
        .labels
        .insert("pcsa.team".to_string(), "red".to_string());
    for (name, team) in [("blue-sa", "blue"), ("red-sa", "red")] {
        s.cluster
            .service_accounts
            .push(kubeseg_model::ServiceAccount {
                namespace: "prod".to_string(),
                name: name.to_string(),
                labels: labels(&[("team", team)]),
                location: None,
            });
    }
    let lowered = kubeseg_model::calico::service_account_match(&[], Some(sel("team == 'red'")));
    s.calico(np("sa", "app == 'b'").ingress(vec![allow(CalicoEntity {
        selector: lowered,
        namespaces: Some(CalicoNamespaces::Own("prod".to_string())),
        ..CalicoEntity::default()
    })]))
    .expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/c[Pod]", "prod/b[Pod]", NONE),
        // d's own label shadows its account's `team: blue`.
        ("prod/d[Pod]", "prod/b[Pod]", ALL),
    ]);
}

#[test]
fn case18_service_account_selector_on_the_policy_and_namespace_profile_labels() {
    // `serviceAccountSelector: team == 'red'` is ANDed to the policy's selector as
    // `pcsa.team == 'red'` (networkpolicy.go prefixAndAppendSelector), and the
    // `projectcalico.org/name` label of the account's profile names it. An endpoint
    // also inherits `pcns.` + each namespace label (conversion.go NamespaceToProfile).
    let mut s = Setup::abc();
    s.cluster.workloads[1].pods[0].service_account = Some("red-sa".to_string());
    s.cluster
        .service_accounts
        .push(kubeseg_model::ServiceAccount {
            namespace: "prod".to_string(),
            name: "red-sa".to_string(),
            labels: labels(&[("team", "red")]),
            location: None,
        });
    let mut p = np("red-only", "has(app)");
    p.subject.selector = sel("has(app)").and(sel("team == 'red'").with_key_prefix("pcsa."));
    // Sources: pods whose namespace profile gives `pcns.env == 'prod'` and whose
    // account's profile names it `default`: a and c (no account written).
    s.calico(p.ingress(vec![allow(pods_of(
        "prod",
        "pcns.env == 'prod' && pcsa.projectcalico.org/name == 'default'",
    ))]))
    .expect(&[
        // b runs as red-sa: selected, so only a and c reach it.
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/c[Pod]", "prod/b[Pod]", ALL),
        // a and c run as `default`, whose (undeclared) account has no `team` label: not
        // selected, so nothing isolates them.
        ("prod/b[Pod]", "prod/a[Pod]", ALL),
        (WORLD, "prod/a[Pod]", ALL),
        (WORLD, "prod/b[Pod]", NONE),
    ]);
}

#[test]
fn case19_earlier_tier_deny_beats_kubernetes_allow() {
    Setup::abc()
        .tier(tier("security", Some(100.0), CalicoAction::Pass))
        .calico(
            gnp("security.deny-a", "app == 'b'")
                .tier("security")
                .ingress(vec![deny(pods_of("prod", "app == 'a'"))]),
        )
        .k8s(k8s_np("allow-a-c", "b", &["a", "c"]))
        .expect(&[
            // Case 19: tier order 100 comes before `default`, where Kubernetes
            // NetworkPolicies live (policy_sorter.go TierLess, endpoints.go).
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            // The security tier passes what it does not match; the NetworkPolicy allows.
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
        ]);
}

#[test]
fn case20_unordered_calico_deny_runs_after_kubernetes() {
    Setup::abc()
        .calico(np("deny-all", "app == 'b'").ingress(vec![deny(anything())]))
        .k8s(k8s_np("allow-a", "b", &["a"]))
        .expect(&[
            // Case 20: no order is +Inf, after the NetworkPolicy's 1000 (PolKVLess,
            // conversion.go).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn case21_calico_deny_at_500_runs_before_kubernetes() {
    Setup::abc()
        .calico(
            np("deny-all", "app == 'b'")
                .order(500.0)
                .ingress(vec![deny(anything())]),
        )
        .k8s(k8s_np("allow-a", "b", &["a"]))
        .expect(&[
            // Case 21: 500 < 1000 (PolKVLess).
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn case22_equal_orders_tie_by_name() {
    let everyone = || anything();
    Setup::abc()
        .calico(
            np("a-allow", "app == 'b'")
                .order(100.0)
                .ingress(vec![allow(everyone())]),
        )
        .calico(
            np("b-deny", "app == 'b'")
                .order(100.0)
                .ingress(vec![deny(everyone())]),
        )
        .calico(
            np("a-deny", "app == 'c'")
                .order(100.0)
                .ingress(vec![deny(everyone())]),
        )
        .calico(
            np("b-allow", "app == 'c'")
                .order(100.0)
                .ingress(vec![allow(everyone())]),
        )
        .expect(&[
            // Case 22: equal orders run by name (PolKVLess).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
        ]);
}

#[test]
fn case23_pass_with_no_later_tier_reaches_the_profile() {
    Setup::abc()
        .tier(tier("t1", Some(100.0), CalicoAction::Deny))
        .calico(gnp("t1.pass", "app == 'b'").tier("t1").ingress(vec![rule(
            CalicoAction::Pass,
            pods_of("prod", "app == 'a'"),
        )]))
        .expect(&[
            // Case 23: passed, no later tier selects b, the kns profile allows
            // (endpoints.go, conversion.go NamespaceToProfile).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            // Not passed: t1 ends with Deny.
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn case23_egress_pass_with_no_later_tier_reaches_the_profile() {
    Setup::abc()
        .tier(tier("t1", Some(100.0), CalicoAction::Deny))
        .calico(CalicoPolicy {
            applies_ingress: false,
            applies_egress: true,
            ..gnp("t1.pass", "app == 'a'").tier("t1").egress(vec![rule(
                CalicoAction::Pass,
                pods_of("prod", "app == 'b'"),
            )])
        })
        .expect(&[
            // Case 23 toward a destination: the Pass decides every port toward b, so
            // t1's end denies nothing there; no later tier selects a, the kns profile
            // allows (endpoints.go). The engine keeps such a destination apart from the
            // ones the tier's end denies.
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            // Not passed: t1 ends with Deny.
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
            ("prod/a[Pod]", WORLD, NONE),
        ]);
}

#[test]
fn case24_default_deny_of_a_tier_beats_a_later_allow() {
    Setup::abc()
        .tier(tier("t1", Some(100.0), CalicoAction::Deny))
        .calico(
            gnp("t1.only-c", "app == 'b'")
                .tier("t1")
                .ingress(vec![allow(pods_of("prod", "app == 'c'"))]),
        )
        .k8s(k8s_np("allow-a", "b", &["a"]))
        .expect(&[
            // Case 24: t1 applies to b, nothing matches a, t1's defaultAction Deny
            // drops it before the default tier (endpoints.go).
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
        ]);
}

#[test]
fn case25_default_pass_of_a_tier_lets_a_later_tier_decide() {
    Setup::abc()
        .pod("prod", "x", "10.0.0.4")
        .tier(tier("t1", Some(100.0), CalicoAction::Pass))
        .calico(
            gnp("t1.only-c", "app == 'b'")
                .tier("t1")
                .ingress(vec![allow(pods_of("prod", "app == 'c'"))]),
        )
        .k8s(k8s_np("allow-a", "b", &["a"]))
        .expect(&[
            // Case 25: t1 ends with Pass; the NetworkPolicy in `default` decides
            // (endpoints.go).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
            ("prod/x[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn case26_staged_policies_do_not_make_a_tier_apply() {
    Setup::abc()
        .tier(tier("t1", Some(100.0), CalicoAction::Deny))
        .staged(
            gnp("t1.deny-b", "app == 'b'")
                .tier("t1")
                .ingress(vec![deny(anything())]),
        )
        .calico(gnp("t1.select-c", "app == 'c'").tier("t1"))
        .expect(&[
            // Case 26: b's only t1 policy is staged: its rules are ignored and t1 does
            // not drop (endpoints.go endOfTierDrop, policy.go).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            // c's t1 policy is enforced and has no rule: the tier's Deny.
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
        ]);
}

#[test]
fn case27_types_decide_the_directions() {
    // Case 27: without `types`, egress rules alone give [Egress] and no rules give
    // [Ingress] (defaults/networkpolicy.go); the decoder sets the flags so.
    let mut egress_only =
        np("egress-only", "app == 'b'").egress(vec![allow(pods_of("prod", "app == 'c'"))]);
    egress_only.applies_ingress = false;
    egress_only.applies_egress = true;
    Setup::abc()
        .calico(egress_only)
        .calico(np("no-rules", "app == 'c'"))
        .expect(&[
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/b[Pod]", "prod/a[Pod]", NONE),
            ("prod/b[Pod]", "prod/c[Pod]", NONE),
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
            ("prod/c[Pod]", "prod/a[Pod]", ALL),
        ]);
}

#[test]
fn case28_log_goes_on() {
    Setup::abc()
        .tier(tier("t1", Some(100.0), CalicoAction::Pass))
        .calico(gnp("t1.log", "app == 'b'").tier("t1").ingress(vec![
            rule(CalicoAction::Log, anything()),
            deny(pods_of("prod", "app == 'a'")),
        ]))
        .calico(np("deny-c", "app == 'c'").ingress(vec![rule(CalicoAction::Log, anything())]))
        .expect(&[
            // Case 28: Log before Deny: still denied (policy.go).
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            // Log alone changes nothing: t1 passes, the profile allows.
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
            // A Log-only policy still makes its tier apply: `default` ends with Deny.
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
        ]);
}

#[test]
fn case29_kube_baseline_passes_to_the_profile() {
    let banp = ClusterPolicy {
        kind: "BaselineAdminNetworkPolicy".to_string(),
        name: "default".to_string(),
        location: None,
        tier: Tier::Baseline,
        priority: 0,
        subject: PodSet {
            namespaces: k8s_sel(&[(NAME_LABEL, "prod")]),
            pods: k8s_sel(&[("app", "b")]),
        },
        ingress: vec![TierRule {
            name: None,
            location: None,
            action: Action::Deny,
            peers: vec![TierPeer {
                location: None,
                kind: TierPeerKind::Pods(PodSet {
                    namespaces: k8s_sel(&[(NAME_LABEL, "prod")]),
                    pods: k8s_sel(&[("app", "a")]),
                }),
            }],
            ports: None,
        }],
        egress: Vec::new(),
    };
    Setup::abc().tiered(banp).expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", NONE),
        // Case 29: kube-baseline's defaultAction is Pass, then the profile allows
        // (tier.go, client.go ensureTierExists).
        ("prod/c[Pod]", "prod/b[Pod]", ALL),
    ]);
}

// ---------------------------------------------------------------------------------------
// More traps
// ---------------------------------------------------------------------------------------

#[test]
fn not_equal_matches_a_pod_without_the_label() {
    Setup::abc()
        .pod_with("prod", "f", Some("10.0.0.4"), &[("tier", "front")], &[])
        .pod_with("prod", "g", Some("10.0.0.5"), &[("tier", "back")], &[])
        .calico(
            np("not-front", "app == 'b'").ingress(vec![allow(pods_of("prod", "tier != 'front'"))]),
        )
        .expect(&[
            // `!=` is true when the label is missing (ast.go LabelNeValueNode.Evaluate).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/g[Pod]", "prod/b[Pod]", ALL),
            ("prod/f[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn namespace_selector_all_versus_global_with_network_sets() {
    let all_namespaces = CalicoEntity {
        namespaces: Some(CalicoNamespaces::Selected(CalicoSelector::All)),
        ..CalicoEntity::default()
    };
    let global = CalicoEntity {
        namespaces: Some(CalicoNamespaces::Global),
        ..CalicoEntity::default()
    };
    Setup::abc()
        .pod("dev", "d", "10.0.1.4")
        .set(network_set(
            "prod",
            "partners",
            &[("role", "partner")],
            &["192.0.2.0/24"],
        ))
        .set(network_set(
            "",
            "outside",
            &[("role", "ext")],
            &["198.51.100.0/24"],
        ))
        .calico(np("all-ns", "app == 'b'").ingress(vec![allow(all_namespaces)]))
        .calico(np("global-ns", "app == 'c'").ingress(vec![allow(global)]))
        .expect(&[
            // `namespaceSelector: all()` matches every namespaced endpoint and
            // NetworkSet, no GlobalNetworkSet (rules.go, case 15).
            ("dev/d[Pod]", "prod/b[Pod]", ALL),
            ("192.0.2.7", "prod/b[Pod]", ALL),
            ("198.51.100.7", "prod/b[Pod]", NONE),
            (WORLD, "prod/b[Pod]", NONE),
            // `global()` matches only non-namespaced things (rules.go, case 14).
            ("198.51.100.7", "prod/c[Pod]", ALL),
            ("dev/d[Pod]", "prod/c[Pod]", NONE),
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
            ("192.0.2.7", "prod/c[Pod]", NONE),
        ]);
}

#[test]
fn pass_in_the_last_tier_reaches_the_profile() {
    Setup::abc()
        .tier(tier("last", None, CalicoAction::Deny))
        .calico(
            gnp("last.pass-a", "app == 'b'")
                .tier("last")
                .ingress(vec![rule(
                    CalicoAction::Pass,
                    pods_of("prod", "app == 'a'"),
                )]),
        )
        .expect(&[
            // A tier without order sorts after every ordered one, kube-baseline too
            // (policy_sorter.go TierLess); passing out of it reaches the profile.
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn kubernetes_policy_ties_at_order_1000_by_name() {
    Setup::abc()
        .calico(
            np("deny-a", "app == 'b'")
                .order(1000.0)
                .ingress(vec![deny(pods_of("prod", "app == 'a'"))]),
        )
        .k8s(k8s_np("allow-a", "b", &["a"]))
        .calico(
            np("aaa-deny", "app == 'c'")
                .order(1000.0)
                .ingress(vec![deny(pods_of("prod", "app == 'a'"))]),
        )
        .k8s(k8s_np("allow-a-to-c", "c", &["a"]))
        .expect(&[
            // At equal order 1000, `allow-a` sorts before `deny-a` (PolKVLess).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            // `aaa-deny` sorts before `allow-a-to-c`.
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
        ]);
}

#[test]
fn not_nets_excludes_one_pod_ip() {
    let peer = CalicoEntity {
        not_nets: Some(nets(&["10.0.0.1/32"])),
        ..CalicoEntity::default()
    };
    Setup::abc()
        .pod_with("prod", "n", None, &[], &[])
        .calico(np("not-a", "app == 'b'").ingress(vec![allow(peer)]))
        .expect(&[
            // `notNets` alone puts no endpoint constraint (rules.go getEndpointSelector,
            // case 13): every address but a's.
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
            (WORLD, "prod/b[Pod]", ALL),
            // A pod without known IP may get any IPv4 address, 10.0.0.1 among them:
            // kubeseg matches an address condition only when it holds whatever
            // address the pod gets (README, "Pods whose address is unknown").
            ("prod/n[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn a_pod_without_ip_matches_only_what_any_address_would() {
    // 10.0.0.0/8 is a source's `nets` in one rule and its `notNets` in another.
    let on_port = |port: u16, peer: CalicoEntity| {
        let mut r = allow(peer);
        r.protocols = [true, false, false, false, false];
        r.ports = Some(CalicoPorts {
            ports: Some(vec![CalicoPort::Range(port, port)]),
            not_ports: Vec::new(),
        });
        r
    };
    let inside = CalicoEntity {
        nets: Some(nets(&["10.0.0.0/8"])),
        ..CalicoEntity::default()
    };
    let outside = CalicoEntity {
        not_nets: Some(nets(&["10.0.0.0/8"])),
        ..CalicoEntity::default()
    };
    Setup::abc()
        .pod_with("prod", "n", None, &[], &[])
        .calico(np("split", "app == 'b'").ingress(vec![on_port(80, inside), on_port(443, outside)]))
        .expect(&[
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 80"),
            (WORLD, "prod/b[Pod]", "TCP 443"),
            // n's address may or may not be in 10.0.0.0/8: neither rule holds whatever
            // address it gets.
            ("prod/n[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn named_port_and_not_ports_range() {
    let mut r = allow(anything());
    r.protocols = [true, false, false, false, false];
    r.ports = Some(CalicoPorts {
        ports: Some(vec![
            CalicoPort::Named("http".to_string()),
            CalicoPort::Range(9000, 9100),
        ]),
        not_ports: vec![CalicoPort::Range(9050, 9060)],
    });
    Setup::new()
        .pod("prod", "a", "10.0.0.1")
        .pod_with("prod", "b", Some("10.0.0.2"), &[], &[("http", 8080)])
        .pod_with("prod", "c", Some("10.0.0.3"), &[], &[("web", 8080)])
        .calico(np("ports", "has(app)").ingress(vec![r]))
        .expect(&[
            // A named port resolves on the destination; `notPorts` takes the range
            // out (rules.go, felix rules).
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 8080,9000-9049,9061-9100"),
            // c names 8080 `web`, not `http`.
            ("prod/a[Pod]", "prod/c[Pod]", "TCP 9000-9049,9061-9100"),
        ]);
}

#[test]
fn a_policy_between_kubernetes_policies_at_order_1000_is_refused() {
    // Calico sorts `default` at order 1000 by name (PolKVLess): `a-allow` (Kubernetes),
    // then `m-deny`, then `z-allow` (Kubernetes). The reference walks that order; the
    // engine, which evaluates the Kubernetes policies as one block, refuses.
    Setup::abc()
        .k8s(k8s_np("a-allow", "b", &["a"]))
        .calico(
            np("m-deny", "app == 'b'")
                .order(1000.0)
                .ingress(vec![deny(pods_of("prod", "app == 'a' || app == 'c'"))]),
        )
        .k8s(k8s_np("z-allow", "b", &["c"]))
        .expect_unsupported(
            &[
                // `a-allow` decides a before `m-deny` is reached.
                ("prod/a[Pod]", "prod/b[Pod]", ALL),
                // `m-deny` denies c before `z-allow` allows it.
                ("prod/c[Pod]", "prod/b[Pod]", NONE),
            ],
            "a name between those of the Kubernetes NetworkPolicies",
        );
}
