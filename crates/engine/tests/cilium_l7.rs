//! Cilium's L7 rules as conditional allows (issue 16), through the mesh annotator and
//! [`Composed`]. Expectations are derived by hand from Cilium's documentation
//! (Documentation/security/policy/layer7.rst, v1.20.2: "If a layer 4 rule is specified
//! in the policy, and a similar layer 4 rule with layer 7 rules is also specified, then
//! the layer 7 portions of the latter rule will have no effect") and its agent's
//! `wildcardL3L4Rule` (pkg/policy/repository.go: "Wildcard at L7 all the endpoints
//! allowed at L3 or L4"), never from the code under test.

use kubeseg_engine::mesh::{Annotator, Composed, MeshOptions};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::{PortSet, Protocol};

fn pod(ns: &str, name: &str, ports: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{ports}]}}]}}\n"
    )
}

fn tcp(ports: &[u16]) -> PortSet {
    ports.iter().fold(PortSet::empty(), |acc, &p| {
        acc.union(&PortSet::range(Protocol::Tcp, p, p))
    })
}

/// The composed answer of `prod/<src> → prod/b` over every port L3/L4 allows.
fn composed(yaml: &str, src: &str) -> (PortSet, Composed) {
    let yaml = pod("prod", "a", "")
        + &pod("prod", "c", "")
        + &pod("prod", "b", "{containerPort: 80}, {containerPort: 81}")
        + yaml;
    let loaded = kubeseg_sources::load_str("t.yaml", &yaml);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let cluster = &loaded.cluster;
    let mut engine = Engine::new(cluster, Options::default());
    let id = |n: &str| {
        (0..engine.endpoints().len())
            .find(|&e| engine.endpoint_id(e) == format!("prod/{n}[Pod]"))
            .unwrap()
    };
    let (s, d) = (id(src), id("b"));
    let mut annotator = Annotator::new(cluster, MeshOptions::default(), engine.options)
        .expect("L7 rules make an annotator");
    let (mut scratch, mut row) = (Vec::new(), Vec::new());
    engine.reach.endpoint_row(s, &mut scratch, &mut row);
    let l4 = engine.port_set(row[d]).clone();
    let notes = annotator.annotate(Ok(s), d, row[d].0, &l4);
    let out = Composed::of(&l4, &notes);
    (l4, out)
}

const CNP: &str = "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: b-http, namespace: prod}\nspec:\n  endpointSelector: {matchLabels: {app: b}}\n  ingress:\n";

#[test]
fn only_the_entry_with_l7_rules_is_conditional() {
    // One rule, two entries: 80 with http rules, 81 without.
    let yaml = format!(
        "{CNP}  - fromEndpoints: [{{matchLabels: {{app: a}}}}]\n    toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}]\n      rules: {{http: [{{method: GET}}]}}\n    - ports: [{{port: \"81\", protocol: TCP}}]\n"
    );
    let (l4, c) = composed(&yaml, "a");
    assert_eq!(l4, tcp(&[80, 81]));
    assert_eq!(c.open, tcp(&[80, 81]));
    assert_eq!(c.conditional, tcp(&[80]));
    // Another peer that no rule admits gets nothing to annotate.
    let (l4, c) = composed(&yaml, "c");
    assert!(l4.is_empty() && c.conditional.is_empty());
}

#[test]
fn a_plain_entry_on_the_same_port_of_the_same_rule_lifts_the_condition() {
    // Port 80 both with http rules and without, for the same peer (layer7.rst).
    let yaml = format!(
        "{CNP}  - fromEndpoints: [{{matchLabels: {{app: a}}}}]\n    toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}]\n      rules: {{http: [{{method: GET}}]}}\n    - ports: [{{port: \"80\", protocol: TCP}}]\n"
    );
    let (l4, c) = composed(&yaml, "a");
    assert_eq!(l4, tcp(&[80]));
    assert!(c.conditional.is_empty(), "{:?}", c.conditional);
}

#[test]
fn a_kubernetes_network_policy_allow_lifts_the_condition_for_its_peer_only() {
    // The NetworkPolicy admits a (not c) on every port: an L3-only allow for a, which
    // the agent wildcards at L7 (`wildcardL3L4Rule`); c keeps the http condition.
    let yaml = format!(
        "{CNP}  - fromEndpoints: [{{}}]\n    toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}]\n      rules: {{http: [{{method: GET}}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: b-from-a, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: b}}}}\n  ingress:\n  - from: [{{podSelector: {{matchLabels: {{app: a}}}}}}]\n"
    );
    let (l4, c) = composed(&yaml, "a");
    assert_eq!(l4, PortSet::all());
    assert!(c.conditional.is_empty(), "{:?}", c.conditional);
    let (l4, c) = composed(&yaml, "c");
    assert_eq!(l4, tcp(&[80]));
    assert_eq!(c.conditional, tcp(&[80]));
}

#[test]
fn a_deny_wins_over_the_l7_allow() {
    // ingressDeny on 80 from a: the port is closed at L4, so nothing is conditional.
    let yaml = format!(
        "{CNP}  - fromEndpoints: [{{matchLabels: {{app: a}}}}]\n    toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}, {{port: \"81\", protocol: TCP}}]\n      rules: {{http: [{{method: GET}}]}}\n  ingressDeny:\n  - fromEndpoints: [{{matchLabels: {{app: a}}}}]\n    toPorts: [{{ports: [{{port: \"80\", protocol: TCP}}]}}]\n"
    );
    let (l4, c) = composed(&yaml, "a");
    assert_eq!(l4, tcp(&[81]));
    assert_eq!(c.open, tcp(&[81]));
    assert_eq!(c.conditional, tcp(&[81]));
}
