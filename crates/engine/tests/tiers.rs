//! One small test per trap of the tiered policies (AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy v1alpha1, ClusterNetworkPolicy v1alpha2). Every expected
//! verdict is derived by hand from the API's doc comments (kubernetes-sigs/
//! network-policy-api, `apis/v1alpha2/clusternetworkpolicy_types.go` and
//! `apis/v1alpha1/*_types.go`), quoted where it matters. Every scenario is also checked
//! pair by pair against `explain`, and where it matters the deciding rule of the tier walk
//! is named.

use kubeseg_engine::explain::{Side, explain};
use kubeseg_engine::{Endpoint, Engine, Options};
use kubeseg_model::{Cluster, PortSet, Protocol};
use kubeseg_sources::{Loaded, load_str};
use std::net::IpAddr;

const ALL: &str = "All Connections";
const NONE: &str = "No Connections";
/// Everything but TCP 80.
/// Everything (ICMP and ICMPv6 included) but TCP 80.
const ALL_BUT_TCP_80: &str = "TCP 1-79,81-65535; UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6";

/// A Pod in namespace `prod`: `labels` and `ports` are YAML flow-map / flow-list contents.
fn pod(name: &str, labels: &str, ports: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: prod, labels: {{{labels}}}}}\n\
         spec: {{containers: [{{name: main, image: app, ports: [{ports}]}}]}}\n"
    )
}

/// A Pod in namespace `prod` whose IP is known.
fn pod_ip(name: &str, labels: &str, ip: &str) -> String {
    pod(name, labels, "") + &format!("status: {{podIP: {ip}}}\n")
}

/// Pods `prod/a` (app: a) and `prod/b` (app: b), no ports.
fn a_b() -> String {
    pod("a", "app: a", "") + &pod("b", "app: b", "")
}

/// Any YAML document appended to a stream.
fn doc(text: &str) -> String {
    format!("---\n{}\n", text.trim_matches('\n'))
}

/// A NetworkPolicy in `prod` with the given spec (indented two spaces).
fn netpol(name: &str, spec: &str) -> String {
    doc(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: prod}}\nspec:\n{spec}"
    ))
}

/// A loaded cluster and its engine; every pair has been checked against `explain`.
struct World {
    loaded: Loaded,
}

impl World {
    fn new(yaml: &str) -> World {
        let loaded = load_str("t.yaml", yaml);
        assert!(
            !loaded.has_errors(),
            "manifests do not load: {:#?}",
            loaded.diagnostics
        );
        let w = World { loaded };
        w.explain_agrees();
        w
    }

    fn cluster(&self) -> &Cluster {
        &self.loaded.cluster
    }

    fn engine(&self) -> Engine<'_> {
        Engine::new(self.cluster(), Options::default())
    }

    /// The endpoint written as an id (`prod/a[Pod]`, `api.example.com[Domain]`) or as an
    /// address (the external atom holding it).
    fn endpoint(&self, engine: &Engine, name: &str) -> usize {
        let ip = name.parse::<IpAddr>().ok();
        (0..engine.endpoints().len())
            .find(|&e| match (&engine.endpoints()[e], ip) {
                (Endpoint::External { addresses, .. }, Some(ip)) => addresses.contains(ip),
                (_, Some(_)) => false,
                _ => engine.endpoint_id(e) == name,
            })
            .unwrap_or_else(|| {
                let ids: Vec<String> = (0..engine.endpoints().len())
                    .map(|e| engine.endpoint_id(e))
                    .collect();
                panic!("no endpoint {name} among {ids:?}")
            })
    }

    /// What `from` may send to `to`, as the engine says.
    fn pair(&self, from: &str, to: &str) -> String {
        let mut engine = self.engine();
        let (s, d) = (self.endpoint(&engine, from), self.endpoint(&engine, to));
        engine.pair(s, d).to_string()
    }

    /// Asserts each `(from, to, ports)`.
    fn expect(&self, rows: &[(&str, &str, &str)]) {
        let got: Vec<(&str, &str, String)> = rows
            .iter()
            .map(|&(f, t, _)| (f, t, self.pair(f, t)))
            .collect();
        let want: Vec<(&str, &str, String)> = rows
            .iter()
            .map(|&(f, t, p)| (f, t, p.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    /// Every connection line `src => dst : ports` of the engine, sorted.
    fn lines(&self) -> Vec<String> {
        let mut engine = self.engine();
        let mut out: Vec<String> = engine
            .connections(|_| true, |_| true)
            .into_iter()
            .map(|c| {
                format!(
                    "{} => {} : {}",
                    engine.endpoint_id(c.src),
                    engine.endpoint_id(c.dst),
                    c.ports
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The explain side of an endpoint (`None` for a domain as a source).
    fn side<'a>(&'a self, engine: &Engine, e: usize, as_source: bool) -> Option<Side<'a>> {
        match &engine.endpoints()[e] {
            Endpoint::Workload { workload, .. } => {
                let w = &self.cluster().workloads[*workload];
                assert_eq!(w.pods.len(), 1, "these tests use single pods");
                Some(Side::Pod {
                    namespace: &w.namespace,
                    pod: &w.pods[0],
                })
            }
            Endpoint::External { addresses, .. } => {
                let first = addresses.range_strings()[0].clone();
                let start = first.split('-').next().unwrap();
                Some(Side::Address(start.parse().unwrap()))
            }
            Endpoint::Domain { .. } if as_source => None,
            Endpoint::Domain { name, .. } => {
                let name = self.leak_domain(name);
                Some(Side::Domain(name))
            }
        }
    }

    /// The domain name as stored in the cluster's policies (borrowed from the cluster).
    fn leak_domain(&self, name: &str) -> &str {
        self.cluster()
            .cluster_policies
            .iter()
            .flat_map(|p| p.egress.iter().flat_map(|r| r.peers.iter()))
            .find_map(|peer| match &peer.kind {
                kubeseg_model::TierPeerKind::DomainNames(names) => names
                    .iter()
                    .find(|n| n.trim_end_matches('.').eq_ignore_ascii_case(name)),
                _ => None,
            })
            .map(String::as_str)
            .unwrap_or_else(|| panic!("domain {name} not in any policy"))
    }

    /// `explain` gives the engine's answer for every pair (self pairs and
    /// external-to-external pairs left out).
    fn explain_agrees(&self) {
        let mut engine = self.engine();
        let n = engine.endpoints().len();
        let is_pod = |e: &Endpoint| matches!(e, Endpoint::Workload { .. });
        for s in 0..n {
            let Some(src) = self.side(&engine, s, true) else {
                continue;
            };
            for d in 0..n {
                if s == d || !(is_pod(&engine.endpoints()[s]) || is_pod(&engine.endpoints()[d])) {
                    continue;
                }
                let dst = self.side(&engine, d, false).unwrap();
                let x = explain(self.cluster(), &src, &dst, Options::default());
                assert_eq!(
                    x.allowed,
                    engine.pair(s, d),
                    "explain and pair disagree on {} => {}: {x:#?}",
                    engine.endpoint_id(s),
                    engine.endpoint_id(d)
                );
            }
        }
    }

    /// The tier steps of `from → to` in one direction that decide `protocol port`, as
    /// `Tier policy-name direction[i] Action`.
    fn deciders(
        &self,
        from: &str,
        to: &str,
        egress: bool,
        protocol: Protocol,
        port: u16,
    ) -> Vec<String> {
        let engine = self.engine();
        let (s, d) = (self.endpoint(&engine, from), self.endpoint(&engine, to));
        let src = self.side(&engine, s, true).unwrap();
        let dst = self.side(&engine, d, false).unwrap();
        let x = explain(self.cluster(), &src, &dst, Options::default());
        let direction = if egress { &x.egress } else { &x.ingress };
        let word = if egress { "egress" } else { "ingress" };
        direction
            .tiers
            .steps
            .iter()
            .filter(|step| step.decided.contains(protocol, port))
            .map(|step| {
                format!(
                    "{} {} {word}[{}] {}",
                    step.tier.as_str(),
                    self.cluster().cluster_policies[step.policy].name,
                    step.rule,
                    step.action.as_str()
                )
            })
            .collect()
    }
}

/// The same scenario written in v1alpha1 and in v1alpha2: both give `rows`, and exactly
/// the same connection lines. Returns the v1alpha2 world.
fn both(base: &str, v1alpha1: &str, v1alpha2: &str, rows: &[(&str, &str, &str)]) -> World {
    let one = World::new(&(base.to_string() + &doc(v1alpha1)));
    let two = World::new(&(base.to_string() + &doc(v1alpha2)));
    one.expect(rows);
    two.expect(rows);
    assert_eq!(one.lines(), two.lines(), "v1alpha1 and v1alpha2 differ");
    two
}

// ---------------------------------------------------------------------------------------
// Accept / Deny / Pass in the Admin tier.

/// "Allow: allows the selected traffic (even if it would otherwise have been denied by
/// NetworkPolicy)" (v1alpha1) and "Accept: ... No further ingress ClusterNetworkPolicy or
/// NetworkPolicy rules will be processed" (v1alpha2): b's default-deny NetworkPolicy
/// cannot stop TCP 80 from a; every other port and source is left to that policy, which
/// denies them.
#[test]
fn admin_accept_ingress_overrides_a_network_policy_default_deny() {
    let base = a_b()
        + &netpol(
            "b-deny-all",
            "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Ingress]",
        );
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: accept-a}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Allow
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
    ports: [{portNumber: {protocol: TCP, port: 80}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: accept-a}
spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Accept
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 80"),
            ("8.8.8.8", "prod/b[Pod]", NONE),
            ("prod/b[Pod]", "prod/a[Pod]", ALL),
            ("8.8.8.8", "prod/a[Pod]", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 80),
        ["Admin accept-a ingress[0] Accept"]
    );
    assert!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 81)
            .is_empty(),
        "no tier rule decides TCP 81: the NetworkPolicy does"
    );
}

/// "Deny: Drops the selected traffic. No further ClusterNetworkPolicy or NetworkPolicy
/// rules will be processed": b's NetworkPolicy allows everything in, yet TCP 80 from a is
/// dropped; the other ports from a and everything from elsewhere stay allowed.
#[test]
fn admin_deny_ingress_overrides_a_network_policy_allow() {
    let base = a_b()
        + &netpol(
            "b-allow-all",
            "  podSelector: {matchLabels: {app: b}}\n  ingress: [{}]",
        );
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-a}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: prod}}}]
    ports: [{portNumber: {port: 80}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: deny-a}
spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: prod}}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", ALL_BUT_TCP_80),
            // The `namespaces` peer selects pods only, never outside addresses.
            ("8.8.8.8", "prod/b[Pod]", ALL),
            ("prod/b[Pod]", "prod/a[Pod]", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 80),
        ["Admin deny-a ingress[0] Deny"]
    );
}

/// Egress Accept: "No further egress ClusterNetworkPolicy or NetworkPolicy rules will be
/// processed but any ingress rules at the destination do apply". a's egress default-deny
/// is overridden for TCP 80 to b; nothing else leaves a.
#[test]
fn admin_accept_egress_overrides_a_network_policy_default_deny() {
    let base = a_b()
        + &netpol(
            "a-no-egress",
            "  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]",
        );
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a-to-b}
spec:
  priority: 3
  subject: {namespaces: {}}
  egress:
  - action: Allow
    to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}]
    ports: [{portNumber: {protocol: TCP, port: 80}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: a-to-b}
spec:
  tier: Admin
  priority: 3
  subject: {namespaces: {}}
  egress:
  - action: Accept
    to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 80"),
            ("prod/a[Pod]", "8.8.8.8", NONE),
            ("prod/b[Pod]", "prod/a[Pod]", ALL),
            ("prod/b[Pod]", "8.8.8.8", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", true, Protocol::Tcp, 80),
        ["Admin a-to-b egress[0] Accept"]
    );
}

/// An egress Accept does not open the destination's ingress: "any ingress rules at the
/// destination do apply". b's default-deny ingress still drops a's traffic.
#[test]
fn admin_egress_accept_does_not_bypass_the_destination_ingress() {
    let yaml = a_b()
        + &netpol(
            "b-deny-all",
            "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Ingress]",
        )
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: a-out}
spec:
  tier: Admin
  priority: 3
  subject: {pods: {podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Accept
    to: [{namespaces: {}}]
"#);
    World::new(&yaml).expect(&[("prod/a[Pod]", "prod/b[Pod]", NONE)]);
}

/// Egress Deny on every port to b: a cannot send to b, but a still reaches outside
/// addresses and b still reaches a.
#[test]
fn admin_deny_egress() {
    let w = both(
        &a_b(),
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a-not-b}
spec:
  priority: 3
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: a-not-b}
spec:
  tier: Admin
  priority: 3
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/a[Pod]", "8.8.8.8", ALL),
            ("prod/b[Pod]", "prod/a[Pod]", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", true, Protocol::Udp, 53),
        ["Admin a-not-b egress[0] Deny"]
    );
}

// ---------------------------------------------------------------------------------------
// Pass.

/// Pass "skips all further ClusterNetworkPolicy rules in the current tier ... and passes
/// evaluation to the next tier": the lower-precedence Accept (priority 20) is never
/// reached, so b's NetworkPolicy decides: TCP 443 from a only.
#[test]
fn admin_pass_ingress_hands_over_to_the_network_policy_and_skips_the_rest_of_the_tier() {
    let base = pod("a", "app: a", "")
        + &pod("b", "app: b", "")
        + &pod("c", "app: c", "")
        + &netpol(
            "b-from-a-443",
            "  podSelector: {matchLabels: {app: b}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: a}}}]\n    ports: [{port: 443}]",
        );
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: accept-late}
spec:
  priority: 20
  subject: {namespaces: {}}
  ingress:
  - action: Allow
    from: [{namespaces: {}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-first}
spec:
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Pass
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: accept-late}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{namespaces: {}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass-first}
spec:
  tier: Admin
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Pass
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
"#,
        &[
            // Passed: b's NetworkPolicy allows TCP 443 from a only.
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 443"),
            // Not passed: accept-late accepts everything from every pod.
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
            // accept-late's peer is pods only; b's NetworkPolicy drops the outside.
            ("8.8.8.8", "prod/b[Pod]", NONE),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 443),
        ["Admin pass-first ingress[0] Pass"]
    );
    assert_eq!(
        w.deciders("prod/c[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 443),
        ["Admin accept-late ingress[0] Accept"]
    );
}

/// Egress Pass to a NetworkPolicy that allows only UDP 53 to b.
#[test]
fn admin_pass_egress_hands_over_to_a_network_policy() {
    let yaml = a_b()
        + &netpol(
            "a-dns-to-b",
            "  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: b}}}]\n    ports: [{port: 53, protocol: UDP}]",
        )
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass-out}
spec:
  tier: Admin
  priority: 1
  subject: {pods: {podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Pass
    to: [{namespaces: {}}]
  - action: Accept
    to: [{namespaces: {}}]
"#);
    let w = World::new(&yaml);
    w.expect(&[
        // The Accept after the Pass is not reached (same ports, same peers).
        ("prod/a[Pod]", "prod/b[Pod]", "UDP 53"),
        ("prod/a[Pod]", "8.8.8.8", NONE),
        ("prod/b[Pod]", "prod/a[Pod]", ALL),
    ]);
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", true, Protocol::Udp, 53),
        ["Admin pass-out egress[0] Pass"]
    );
}

/// A Pass to a NetworkPolicy that denies: b is isolated and nothing admits a.
#[test]
fn admin_pass_to_a_network_policy_that_denies() {
    let yaml = a_b()
        + &netpol(
            "b-deny-all",
            "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Ingress]",
        )
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Pass, from: [{namespaces: {}}]}
  - {action: Allow, from: [{namespaces: {}}]}
"#);
    World::new(&yaml).expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", NONE),
        ("prod/b[Pod]", "prod/a[Pod]", ALL),
    ]);
}

/// "If the pod is not selected by any NetworkPolicies then execution is passed to any
/// BaselineAdminNetworkPolicies that select the pod" (v1alpha1 Pass): nothing isolates b,
/// so the Baseline Deny from a decides. c is not passed nor denied: default allow.
#[test]
fn admin_pass_without_network_policy_reaches_the_baseline() {
    let base = pod("a", "app: a", "") + &pod("b", "app: b", "") + &pod("c", "app: c", "");
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Pass, from: [{namespaces: {}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Pass, from: [{namespaces: {}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 0
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/c[Pod]", "prod/b[Pod]", ALL),
            ("prod/a[Pod]", "prod/c[Pod]", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 1),
        [
            "Admin pass ingress[0] Pass",
            "Baseline default ingress[0] Deny"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// The Baseline tier.

/// "v1.NetworkPolicy always makes a final decision for selected pods. Further evaluation
/// only happens for Pods not selected by a v1.NetworkPolicy": b is isolated, so the
/// Baseline Deny from a and the Baseline Accept from c are both ignored; a is isolated
/// by nothing, so the Baseline Deny from b into a applies; c→a matches nothing: default
/// allow.
#[test]
fn baseline_is_ignored_where_a_network_policy_isolates() {
    let base = pod("a", "app: a", "")
        + &pod("b", "app: b", "")
        + &pod("c", "app: c", "")
        + &netpol(
            "b-from-a",
            "  podSelector: {matchLabels: {app: b}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: a}}}]",
        );
    both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
  - action: Allow
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}}]
  - action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]
  - action: Accept
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}}]
  - action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
            ("prod/b[Pod]", "prod/a[Pod]", NONE),
            ("prod/c[Pod]", "prod/a[Pod]", ALL),
            ("prod/b[Pod]", "prod/c[Pod]", NONE),
            ("prod/a[Pod]", "prod/c[Pod]", NONE),
            ("8.8.8.8", "prod/a[Pod]", ALL),
        ],
    );
}

/// With no tiered rule and no NetworkPolicy, "the default kubernetes policy is applied,
/// which says that all pods can communicate with each other".
#[test]
fn default_allow_when_no_tier_matches() {
    let yaml = a_b()
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: elsewhere}
spec:
  tier: Admin
  priority: 0
  subject: {namespaces: {matchLabels: {team: x}}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
  egress:
  - {action: Deny, to: [{networks: ["0.0.0.0/0", "::/0"]}]}
"#);
    World::new(&yaml).expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/a[Pod]", "8.8.8.8", ALL),
        ("8.8.8.8", "prod/a[Pod]", ALL),
    ]);
}

// ---------------------------------------------------------------------------------------
// Precedence.

/// "Policies with lower priority values have higher precedence": the file order does
/// not matter. Into b, priority 10 denies before priority 20 accepts; into a, priority 10
/// accepts before priority 20 denies. Both policies are written highest number first.
#[test]
fn lower_priority_number_wins_whatever_the_file_order() {
    let yaml = a_b()
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: aa-twenty}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{pods: {podSelector: {matchLabels: {app: a}}}}]
  - action: Deny
    from: [{pods: {podSelector: {matchLabels: {app: b}}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: zz-ten}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{pods: {podSelector: {matchLabels: {app: a}}}}]
  - action: Accept
    from: [{pods: {podSelector: {matchLabels: {app: b}}}}]
"#);
    let w = World::new(&yaml);
    w.expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", NONE),
        ("prod/b[Pod]", "prod/a[Pod]", ALL),
    ]);
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 80),
        ["Admin zz-ten ingress[0] Deny"]
    );
    assert_eq!(
        w.deciders("prod/b[Pod]", "prod/a[Pod]", false, Protocol::Tcp, 80),
        ["Admin zz-ten ingress[1] Accept"]
    );
}

/// "a rule that appears at the top of the ingress rules would take the highest
/// precedence": the Deny of TCP 80 written first wins over the later Accept of every
/// port, which still decides every other port (over b's default-deny NetworkPolicy).
#[test]
fn first_matching_rule_wins_per_port() {
    let yaml = a_b()
        + &netpol(
            "b-deny-all",
            "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Ingress]",
        )
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: order}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
  - action: Accept
    from: [{namespaces: {}}]
"#);
    let w = World::new(&yaml);
    w.expect(&[("prod/a[Pod]", "prod/b[Pod]", ALL_BUT_TCP_80)]);
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 80),
        ["Admin order ingress[0] Deny"]
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Sctp, 80),
        ["Admin order ingress[1] Accept"]
    );
}

/// Deny TCP 80, then Accept TCP 1-65535 (a range): TCP 1-79,81-65535 is accepted by the
/// Admin tier; UDP and SCTP match no Admin rule and nothing isolates b, so the Baseline
/// Deny of every port decides them. Exactly TCP 1-79,81-65535 remains.
#[test]
fn per_port_splitting_across_tiers() {
    let base = a_b();
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: split}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    ports: [{portNumber: {protocol: TCP, port: 80}}]
  - action: Allow
    from: [{namespaces: {}}]
    ports: [{portRange: {protocol: TCP, start: 1, end: 65535}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: split}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
  - action: Accept
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {range: {start: 1, end: 65535}}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 1-79,81-65535"),
            // Into a: no Admin rule; Baseline denies every pod, not outside addresses.
            ("prod/b[Pod]", "prod/a[Pod]", NONE),
            ("8.8.8.8", "prod/a[Pod]", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 80),
        ["Admin split ingress[0] Deny"]
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 8080),
        ["Admin split ingress[1] Accept"]
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Udp, 53),
        ["Baseline default ingress[0] Deny"]
    );
}

// ---------------------------------------------------------------------------------------
// Ports.

/// `namedPort` (v1alpha1) and `destinationNamedPort` (v1alpha2) name a container port
/// without a protocol: "dns" is a UDP container port and is matched as UDP 5353 (a
/// NetworkPolicy named port would default to TCP and match nothing here). "web" is not
/// named in the rule and stays denied by b's default-deny NetworkPolicy.
#[test]
fn named_ports_resolve_whatever_the_protocol() {
    let base = pod("a", "app: a", "")
        + &pod(
            "b",
            "app: b",
            "{name: web, containerPort: 8080}, {name: dns, containerPort: 5353, protocol: UDP}",
        )
        + &netpol(
            "b-deny-all",
            "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Ingress]",
        );
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: dns}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Allow
    from: [{namespaces: {}}]
    ports: [{namedPort: dns}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: dns}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{namespaces: {}}]
    protocols: [{destinationNamedPort: dns}]
"#,
        &[("prod/a[Pod]", "prod/b[Pod]", "UDP 5353")],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Udp, 5353),
        ["Admin dns ingress[0] Accept"]
    );
}

/// Port ranges and the other protocols: UDP 1000-2000 and SCTP 9 accepted over b's
/// default deny; TCP 1000 (same number, other protocol) is not.
#[test]
fn port_ranges_udp_and_sctp() {
    let base = a_b()
        + &netpol(
            "b-deny-all",
            "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Ingress]",
        );
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ranges}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Allow
    from: [{namespaces: {}}]
    ports:
    - portRange: {protocol: UDP, start: 1000, end: 2000}
    - portNumber: {protocol: SCTP, port: 9}
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ranges}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{namespaces: {}}]
    protocols:
    - udp: {destinationPort: {range: {start: 1000, end: 2000}}}
    - sctp: {destinationPort: {number: 9}}
"#,
        &[("prod/a[Pod]", "prod/b[Pod]", "UDP 1000-2000; SCTP 9")],
    );
    assert!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", false, Protocol::Tcp, 1000)
            .is_empty()
    );
}

/// v1alpha1 `portRange` without a protocol: "If not specified, this field defaults to
/// TCP".
#[test]
fn port_range_protocol_defaults_to_tcp() {
    let yaml = a_b()
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: tcp-range}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    ports: [{portRange: {start: 1, end: 1023}}]
"#);
    World::new(&yaml).expect(&[(
        "prod/a[Pod]",
        "prod/b[Pod]",
        // The Deny names TCP ports only: ICMP stays allowed.
        "TCP 1024-65535; UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6",
    )]);
}

// ---------------------------------------------------------------------------------------
// networks, nodes, domainNames.

/// `"::/0" will match both IPv6 and ICMPv6 traffic`: an egress Deny to ::/0 blocks IPv6
/// outside addresses only; IPv4 addresses and the (IPv4) pods stay reachable.
#[test]
fn ipv6_network_deny_does_not_block_ipv4() {
    let yaml = a_b()
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-v6}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{networks: ["::/0"]}]
"#);
    World::new(&yaml).expect(&[
        ("prod/a[Pod]", "2001:db8::1", NONE),
        ("prod/a[Pod]", "8.8.8.8", ALL),
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/b[Pod]", "2001:db8::1", ALL),
    ]);
}

/// "if you Accept or Deny traffic to "0.0.0.0/0", that will allow or deny all IPv4
/// pod-to-pod traffic as well": a's Deny to 0.0.0.0/0 blocks a→b (b's IP is unknown but
/// is some IPv4 address), and every IPv4 outside address, but not IPv6 ones.
#[test]
fn ipv4_everything_deny_blocks_pods_without_ips() {
    let w = both(
        &a_b(),
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-v4}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{networks: ["0.0.0.0/0"]}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-v4}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{networks: ["0.0.0.0/0"]}]
"#,
        &[
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/a[Pod]", "8.8.8.8", NONE),
            ("prod/a[Pod]", "2001:db8::1", ALL),
            ("prod/b[Pod]", "prod/a[Pod]", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "prod/b[Pod]", true, Protocol::Tcp, 80),
        ["Admin no-v4 egress[0] Deny"]
    );
}

/// A Pass for pod traffic placed before the networks rule, as the API advises ("If you
/// don't want that, add a rule that Passes all pod traffic before the Networks rule"):
/// a→b is then left to the (absent) NetworkPolicies: allowed; outside IPv4 still denied.
#[test]
fn pass_pods_before_an_ipv4_everything_deny() {
    let yaml = a_b()
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-v4-but-pods}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Pass
    to: [{namespaces: {}}]
  - action: Deny
    to: [{networks: ["0.0.0.0/0"]}]
"#);
    World::new(&yaml).expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/a[Pod]", "8.8.8.8", NONE),
    ]);
}

/// A pod whose `status.podIP` is known is matched by its address: the Deny to 10.0.0.0/8
/// blocks c (10.1.2.3) but not b (192.168.0.5), nor 8.8.8.8; 10.9.9.9 is blocked.
#[test]
fn networks_match_known_pod_ips() {
    let yaml = pod("a", "app: a", "")
        + &pod_ip("b", "app: b", "192.168.0.5")
        + &pod_ip("c", "app: c", "10.1.2.3")
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-ten}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{networks: [10.0.0.0/8]}]
"#);
    World::new(&yaml).expect(&[
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/a[Pod]", "prod/c[Pod]", NONE),
        ("prod/a[Pod]", "10.9.9.9", NONE),
        ("prod/a[Pod]", "8.8.8.8", ALL),
        ("prod/b[Pod]", "prod/c[Pod]", ALL),
    ]);
}

/// `nodes` "selects the nodeIPs ... present in the node.Status.Addresses field": the Deny
/// to nodes labelled role=infra blocks worker-1's InternalIP 10.0.0.11 only: not
/// worker-2 (role=app), not a neighbouring address, not pods.
#[test]
fn nodes_peer_blocks_the_selected_node_addresses_only() {
    let base = a_b()
        + &doc(r#"
apiVersion: v1
kind: Node
metadata: {name: worker-1, labels: {role: infra}}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.11}
  - {type: Hostname, address: worker-1}
---
apiVersion: v1
kind: Node
metadata: {name: worker-2, labels: {role: app}}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.12}
"#);
    let w = both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-infra}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{nodes: {matchLabels: {role: infra}}}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-infra}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Deny
    to: [{nodes: {matchLabels: {role: infra}}}]
"#,
        &[
            ("prod/a[Pod]", "10.0.0.11", NONE),
            ("prod/a[Pod]", "10.0.0.12", ALL),
            ("prod/a[Pod]", "10.0.0.10", ALL),
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("prod/b[Pod]", "10.0.0.11", ALL),
        ],
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "10.0.0.11", true, Protocol::Tcp, 22),
        ["Admin no-infra egress[0] Deny"]
    );
}

/// "DomainNames Accept rules should be used with a lower precedence egress deny -- this
/// allows the admin to maintain an explicit allowlist": api.example.com is reachable,
/// other IPv4 addresses (and pods, "0.0.0.0/0" holding all IPv4 pod traffic) are not;
/// IPv6 addresses are outside 0.0.0.0/0.
#[test]
fn domain_allowlist_before_an_ipv4_deny() {
    let w = both(
        &a_b(),
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allowlist}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Allow
    to: [{domainNames: [api.example.com]}]
  - action: Deny
    to: [{networks: ["0.0.0.0/0"]}]
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: allowlist}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Accept
    to: [{domainNames: [api.example.com]}]
  - action: Deny
    to: [{networks: ["0.0.0.0/0"]}]
"#,
        &[
            ("prod/a[Pod]", "api.example.com[Domain]", ALL),
            ("prod/a[Pod]", "8.8.8.8", NONE),
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/a[Pod]", "2001:db8::1", ALL),
            ("prod/b[Pod]", "api.example.com[Domain]", ALL),
            ("prod/b[Pod]", "8.8.8.8", ALL),
        ],
    );
    assert_eq!(
        w.deciders(
            "prod/a[Pod]",
            "api.example.com[Domain]",
            true,
            Protocol::Tcp,
            443
        ),
        ["Admin allowlist egress[0] Accept"]
    );
    assert_eq!(
        w.deciders("prod/a[Pod]", "8.8.8.8", true, Protocol::Tcp, 443),
        ["Admin allowlist egress[1] Deny"]
    );
}

/// "`*.kubernetes.io` matches subdomains of kubernetes.io ... however "kubernetes.io" ...
/// do[es] not match". a may reach `*.example.com` on TCP 443 only, then everything
/// (IPv4 and IPv6) is denied. The other names are endpoints because b's policy names
/// them. Whatever a name resolves to is inside 0.0.0.0/0 ∪ ::/0, so only what the Accept
/// matched gets through: api.example.com on TCP 443, example.com not at all.
#[test]
fn domain_wildcards_match_subdomains_only() {
    let yaml = a_b()
        + &doc(r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: wildcard}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {podSelector: {matchLabels: {app: a}}}}
  egress:
  - action: Accept
    to: [{domainNames: ["*.example.com"]}]
    protocols: [{tcp: {destinationPort: {number: 443}}}]
  - action: Deny
    to: [{networks: ["0.0.0.0/0", "::/0"]}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: names}
spec:
  tier: Admin
  priority: 6
  subject: {pods: {podSelector: {matchLabels: {app: b}}}}
  egress:
  - action: Accept
    to: [{domainNames: [api.example.com, example.com]}]
"#);
    World::new(&yaml).expect(&[
        ("prod/a[Pod]", "*.example.com[Domain]", "TCP 443"),
        ("prod/a[Pod]", "api.example.com[Domain]", "TCP 443"),
        ("prod/a[Pod]", "example.com[Domain]", NONE),
        ("prod/b[Pod]", "example.com[Domain]", ALL),
    ]);
}

/// Both API versions in one helper, with a subject chosen by namespace labels: the rows
/// of the whole cluster are equal (checked by `both`), and they are the hand-derived
/// ones: team=x pods cannot receive from team=y pods, everything else flows.
#[test]
fn v1alpha1_and_v1alpha2_agree_on_namespace_subjects() {
    let base = doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: x}}")
        + &doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: 'y', labels: {team: 'y'}}")
        + &doc(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {containers: [{name: c, image: i}]}",
        )
        + &doc(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: 'y'}\nspec: {containers: [{name: c, image: i}]}",
        );
    both(
        &base,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: x-from-y}
spec:
  priority: 0
  subject: {namespaces: {matchLabels: {team: x}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {team: 'y'}}}]}
"#,
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: x-from-y}
spec:
  tier: Admin
  priority: 0
  subject: {namespaces: {matchLabels: {team: x}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {team: 'y'}}}]}
"#,
        &[
            ("y/q[Pod]", "x/p[Pod]", NONE),
            ("x/p[Pod]", "y/q[Pod]", ALL),
            ("8.8.8.8", "x/p[Pod]", ALL),
        ],
    );
}

#[test]
fn port_set_display_is_as_expected() {
    // Guards the constants above.
    let mut s = PortSet::all();
    s = s.difference(&PortSet::range(Protocol::Tcp, 80, 80));
    assert_eq!(s.to_string(), ALL_BUT_TCP_80);
}
