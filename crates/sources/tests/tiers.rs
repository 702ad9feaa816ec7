//! Cluster-scoped tiered policies (AdminNetworkPolicy and BaselineAdminNetworkPolicy
//! v1alpha1, ClusterNetworkPolicy v1alpha2) and Nodes: decoded values, and every
//! validation error at its line.
#![allow(clippy::print_stderr)]

mod common;

use common::{errors, line_of};
use kubeseg_model::{
    Action, ClusterPolicy, IpSet, PortMatch, PortRule, Protocol, Selector, Severity, Tier,
    TierPeerKind,
};
use kubeseg_sources::{Loaded, load, load_str};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Asserts that `text` loads with exactly one error, `code` at the line holding `marker`,
/// and that the policy was dropped.
fn rejects(text: &str, code: &str, marker: &str) -> String {
    let loaded = load_str("t.yaml", text);
    let errs = errors(&loaded);
    assert_eq!(
        errs,
        vec![(errs.first().map_or("", |e| e.0), line_of(text, marker))],
        "{:#?}",
        loaded.diagnostics
    );
    assert_eq!(errs[0].0, code, "{:#?}", loaded.diagnostics);
    assert!(loaded.cluster.cluster_policies.is_empty());
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .unwrap();
    d.message.clone()
}

fn one(text: &str) -> ClusterPolicy {
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    assert!(
        !loaded.diagnostics.iter().any(|d| d.code == "wrong-kind"),
        "{:#?}",
        loaded.diagnostics
    );
    assert_eq!(loaded.cluster.cluster_policies.len(), 1);
    loaded.cluster.cluster_policies[0].clone()
}

fn sel(text: &str) -> Selector {
    Selector::parse(text).unwrap()
}

fn tcp(a: u16, b: u16) -> PortRule {
    PortRule {
        protocol: Protocol::Tcp,
        port: PortMatch::Range(a, b),
    }
}

fn named(name: &str) -> Vec<PortRule> {
    // TCP, UDP and SCTP (Cilium's ANY and named ports never mean ICMP).
    Protocol::PORTED
        .iter()
        .map(|&protocol| PortRule {
            protocol,
            port: PortMatch::Named(name.into()),
        })
        .collect()
}

const ANP: &str = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-monitoring}
spec:
  priority: 10
  subject:
    namespaces: {matchLabels: {team: a}}
  ingress:
  - name: allow-monitoring
    action: Allow
    from:
    - namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
    - pods:
        namespaceSelector: {}
        podSelector: {matchLabels: {app: scraper}}
    ports:
    - portNumber: {protocol: UDP, port: 53}
    - portNumber: {port: 80}
    - namedPort: metrics
    - portRange: {start: 8000, end: 8080}
  - action: Pass
    from: [{namespaces: {}}]
  egress:
  - action: Deny
    to:
    - networks: [10.0.0.0/8, "fd00::/8", 192.168.1.7/24]
    - nodes: {matchLabels: {role: infra}}
    ports: [{portRange: {protocol: SCTP, start: 1, end: 1024}}]
  - action: Allow
    to: [{domainNames: ["*.example.com", kubernetes.io]}]
"#;

#[test]
fn admin_network_policy_v1alpha1_is_decoded() {
    let p = one(ANP);
    assert_eq!(p.kind, "AdminNetworkPolicy");
    assert_eq!(p.id(), "AdminNetworkPolicy/pass-monitoring");
    assert_eq!((p.tier, p.priority), (Tier::Admin, 10));
    assert_eq!(p.subject.namespaces, sel("team=a"));
    assert_eq!(p.subject.pods, Selector::default());
    assert_eq!(p.location.as_ref().map(|l| l.line), Some(2));

    let [allow, pass] = p.ingress.as_slice() else {
        panic!("{:?}", p.ingress)
    };
    assert_eq!(allow.name.as_deref(), Some("allow-monitoring"));
    assert_eq!(allow.action, Action::Accept, "v1alpha1 Allow is Accept");
    assert_eq!(
        allow.location.as_ref().map(|l| l.line),
        Some(line_of(ANP, "name: allow-monitoring"))
    );
    let kinds: Vec<&TierPeerKind> = allow.peers.iter().map(|p| &p.kind).collect();
    let TierPeerKind::Pods(monitoring) = kinds[0] else {
        panic!()
    };
    assert_eq!(
        monitoring.namespaces,
        sel("kubernetes.io/metadata.name=monitoring")
    );
    assert_eq!(monitoring.pods, Selector::default());
    let TierPeerKind::Pods(scraper) = kinds[1] else {
        panic!()
    };
    assert_eq!(
        (&scraper.namespaces, &scraper.pods),
        (&Selector::default(), &sel("app=scraper"))
    );
    let mut want = vec![
        PortRule {
            protocol: Protocol::Udp,
            port: PortMatch::Range(53, 53),
        },
        tcp(80, 80),
    ];
    want.extend(named("metrics"));
    want.push(tcp(8000, 8080));
    assert_eq!(allow.ports.as_ref(), Some(&want));
    assert_eq!(pass.action, Action::Pass);
    assert_eq!(pass.name, None);
    assert_eq!(pass.ports, None, "absent ports: every port");

    let [deny, domains] = p.egress.as_slice() else {
        panic!("{:?}", p.egress)
    };
    assert_eq!(deny.action, Action::Deny);
    let TierPeerKind::Networks { cidrs, addresses } = &deny.peers[0].kind else {
        panic!()
    };
    assert_eq!(cidrs, &["10.0.0.0/8", "fd00::/8", "192.168.1.7/24"]);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(addresses.contains(ip("10.255.0.1")));
    assert!(addresses.contains(ip("fd00::1")));
    assert!(
        addresses.contains(ip("192.168.1.200")),
        "host bits are ignored, as for ipBlock"
    );
    assert!(!addresses.contains(ip("11.0.0.1")));
    assert!(!addresses.contains(ip("fe00::1")));
    assert_eq!(deny.peers[1].kind, TierPeerKind::Nodes(sel("role=infra")));
    assert_eq!(
        deny.ports,
        Some(vec![PortRule {
            protocol: Protocol::Sctp,
            port: PortMatch::Range(1, 1024)
        }])
    );
    assert_eq!(domains.action, Action::Accept);
    assert_eq!(
        domains.peers[0].kind,
        TierPeerKind::DomainNames(vec!["*.example.com".into(), "kubernetes.io".into()])
    );
}

#[test]
fn baseline_admin_network_policy_is_decoded() {
    let p = one(r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject:
    pods:
      namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchExpressions: [{key: app, operator: Exists}]}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
  egress:
  - action: Allow
    to: [{networks: ["0.0.0.0/0"]}]
"#);
    assert_eq!(p.kind, "BaselineAdminNetworkPolicy");
    assert_eq!((p.tier, p.priority), (Tier::Baseline, 0));
    assert_eq!(
        (&p.subject.namespaces, &p.subject.pods),
        (&sel("team=a"), &sel("app"))
    );
    assert_eq!(p.ingress[0].action, Action::Deny);
    assert_eq!(p.egress[0].action, Action::Accept);
    let TierPeerKind::Networks { addresses, .. } = &p.egress[0].peers[0].kind else {
        panic!()
    };
    assert!(addresses.has_all_ipv4());
}

const CNP: &str = r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: cnp}
spec:
  tier: Baseline
  priority: 7
  subject:
    pods: {podSelector: {matchLabels: {app: db}}}
  ingress:
  - action: Accept
    from: [{pods: {podSelector: {}}}]
    protocols:
    - tcp: {destinationPort: {number: 5432}}
    - udp: {destinationPort: {range: {start: 1000, end: 2000}}}
    - sctp: {destinationPort: {number: 9}}
    - destinationNamedPort: pg
  egress:
  - action: Deny
    to: [{networks: ["2001:db8::/32", 172.16.0.0/12]}]
  - action: Pass
    to: [{namespaces: {}}]
"#;

#[test]
fn cluster_network_policy_v1alpha2_is_decoded() {
    let loaded = load_str("t.yaml", CNP);
    let p = one(CNP);
    assert_eq!(p.kind, "ClusterNetworkPolicy");
    assert_eq!((p.tier, p.priority), (Tier::Baseline, 7));
    assert_eq!(
        (&p.subject.namespaces, &p.subject.pods),
        (&Selector::default(), &sel("app=db")),
        "a missing namespaceSelector is every namespace in v1alpha2"
    );
    let rule = &p.ingress[0];
    assert_eq!(rule.action, Action::Accept);
    let mut want = vec![
        tcp(5432, 5432),
        PortRule {
            protocol: Protocol::Udp,
            port: PortMatch::Range(1000, 2000),
        },
        PortRule {
            protocol: Protocol::Sctp,
            port: PortMatch::Range(9, 9),
        },
    ];
    want.extend(named("pg"));
    assert_eq!(rule.ports, Some(want));
    let TierPeerKind::Networks { addresses, .. } = &p.egress[0].peers[0].kind else {
        panic!()
    };
    let expected = ["2001:db8::/32", "172.16.0.0/12"]
        .iter()
        .map(|c| kubeseg_model::Cidr::parse(c).unwrap().to_set())
        .fold(IpSet::empty(), |a, b| a.union(&b));
    assert_eq!(addresses, &expected);
    assert_eq!(p.egress[1].action, Action::Pass);
    // Pass in the Baseline tier is valid but worth saying what it does.
    let warning = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "baseline-pass")
        .expect("warning");
    assert_eq!(
        warning.location.as_ref().map(|l| l.line),
        Some(line_of(CNP, "action: Pass"))
    );
}

#[test]
fn tiered_policies_are_sorted_by_tier_then_priority() {
    let text = format!(
        "{}---{}---{}",
        CNP,
        ANP,
        CNP.replace("tier: Baseline", "tier: Admin")
            .replace("name: cnp", "name: admin-cnp")
            .replace("priority: 7", "priority: 1000")
    );
    let loaded = load_str("t.yaml", &text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let ids: Vec<(Tier, u32, String)> = loaded
        .cluster
        .cluster_policies
        .iter()
        .map(|p| (p.tier, p.priority, p.id()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (Tier::Admin, 10, "AdminNetworkPolicy/pass-monitoring".into()),
            (Tier::Admin, 1000, "ClusterNetworkPolicy/admin-cnp".into()),
            (Tier::Baseline, 7, "ClusterNetworkPolicy/cnp".into()),
        ]
    );
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
}

#[test]
fn nodes_are_decoded() {
    let loaded = load_str(
        "n.yaml",
        r#"
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  namespace: ignored
  labels: {role: infra, kubernetes.io/hostname: worker-1}
spec: {podCIDR: 10.244.1.0/24}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.11}
  - {type: ExternalIP, address: "2001:db8::11"}
  - {type: Hostname, address: worker-1}
  - {type: InternalDNS, address: worker-1.internal}
"#,
    );
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let [node] = loaded.cluster.nodes.as_slice() else {
        panic!("{:?}", loaded.cluster.nodes)
    };
    assert_eq!(node.name, "worker-1");
    assert_eq!(node.labels.get("role").map(String::as_str), Some("infra"));
    let want: Vec<IpAddr> = vec![
        "10.0.0.11".parse().unwrap(),
        "2001:db8::11".parse().unwrap(),
    ];
    assert_eq!(node.addresses, want);
    assert!(
        loaded
            .cluster
            .namespaces
            .iter()
            .all(|n| n.name != "ignored")
    );
}

/// A valid ANP with `{body}` as its spec (indented by two spaces).
fn anp(spec: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: p}}\nspec:\n{spec}"
    )
}

const SUBJECT: &str = "  subject: {namespaces: {}}\n";

#[test]
fn priority_out_of_range_is_rejected() {
    let text = anp(&format!("  priority: 1001\n{SUBJECT}"));
    rejects(&text, "invalid-priority", "priority: 1001");
    let text = anp(&format!("  priority: -1\n{SUBJECT}"));
    rejects(&text, "invalid-priority", "priority: -1");
    let text = anp(SUBJECT);
    rejects(&text, "invalid-priority", "subject");
    let text = anp(&format!("  priority: \"5\"\n{SUBJECT}"));
    rejects(&text, "invalid-priority", "priority:");
}

#[test]
fn subject_needs_exactly_one_field() {
    let text = anp(
        "  priority: 1\n  subject:\n    namespaces: {}\n    pods: {namespaceSelector: {}, podSelector: {}}\n",
    );
    let message = rejects(&text, "invalid-field-count", "    pods:");
    assert!(
        message.contains("found `namespaces` and `pods`"),
        "{message}"
    );
    let text = anp("  priority: 1\n  ingress: []\n");
    rejects(&text, "invalid-subject", "priority: 1");
    let text = anp("  priority: 1\n  subject: {}\n");
    rejects(&text, "invalid-field-count", "subject:");
    // v1alpha1 requires namespaceSelector in `pods`.
    let text = anp("  priority: 1\n  subject:\n    pods: {podSelector: {}}\n");
    rejects(&text, "invalid-selector", "pods:");
}

#[test]
fn peer_needs_exactly_one_field() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  egress:\n  - action: Deny\n    to:\n    - namespaces: {{}}\n      networks: [10.0.0.0/8]\n"
    ));
    rejects(&text, "invalid-field-count", "networks:");
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    from:\n    - {{}}\n"
    ));
    rejects(&text, "invalid-field-count", "- {}");
    // An ingress peer cannot be `networks`: unknown there, so the peer is empty.
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    from:\n    - networks: [10.0.0.0/8]\n"
    ));
    rejects(&text, "invalid-field-count", "- networks");
}

#[test]
fn empty_or_missing_from_is_rejected() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    from: []\n"
    ));
    rejects(&text, "invalid-list-length", "from: []");
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n"
    ));
    rejects(&text, "invalid-peer", "action: Deny");
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports: []\n"
    ));
    rejects(&text, "invalid-list-length", "ports: []");
}

#[test]
fn baseline_must_be_named_default_and_cannot_pass() {
    let text = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata:\n  name: other\nspec:\n  subject: {namespaces: {}}\n";
    rejects(text, "invalid-name", "name: other");
    let text = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  - action: Pass\n    from: [{namespaces: {}}]\n";
    let message = rejects(text, "invalid-action", "action: Pass");
    assert!(message.contains("Allow, Deny"), "{message}");
    // domainNames is not a BaselineAdminNetworkPolicy peer.
    let text = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  egress:\n  - action: Allow\n    to:\n    - domainNames: [example.com]\n";
    rejects(text, "invalid-field-count", "- domainNames");
}

#[test]
fn actions_are_spelled_per_version() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Accept\n    from: [{{namespaces: {{}}}}]\n"
    ));
    let message = rejects(&text, "invalid-action", "action: Accept");
    assert!(message.contains("v1alpha1 says `Allow`"), "{message}");
    let text = CNP.replace("action: Accept", "action: Allow");
    let message = rejects(&text, "invalid-action", "action: Allow");
    assert!(message.contains("v1alpha2 says `Accept`"), "{message}");
    rejects(
        &CNP.replace("tier: Baseline", "tier: Platform"),
        "invalid-tier",
        "tier: Platform",
    );
    rejects(
        &CNP.replace("  tier: Baseline\n", ""),
        "invalid-tier",
        "priority: 7",
    );
}

#[test]
fn domain_names_only_in_accept_rules() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  egress:\n  - action: Deny\n    to:\n    - domainNames: [example.com]\n"
    ));
    rejects(&text, "invalid-peer", "domainNames:");
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  egress:\n  - action: Allow\n    to:\n    - domainNames:\n      - example.com\n      - \"*example.com\"\n"
    ));
    rejects(&text, "invalid-domain", "*example.com");
    let text = CNP.replace(
        "to: [{namespaces: {}}]",
        "to: [{domainNames: [example.com]}]",
    );
    rejects(&text, "invalid-peer", "domainNames");
}

#[test]
fn named_ports_are_rejected_towards_networks_nodes_and_domains() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  egress:\n  - action: Deny\n    to:\n    - pods: {{namespaceSelector: {{}}, podSelector: {{}}}}\n    - networks: [10.0.0.0/8]\n    ports:\n    - portNumber: {{port: 80}}\n    - namedPort: http\n"
    ));
    let message = rejects(&text, "invalid-port", "namedPort: http");
    assert!(message.contains("`networks`"), "{message}");
    let text = CNP.replace(
        "    to: [{namespaces: {}}]\n",
        "    to: [{nodes: {}}]\n    protocols: [{destinationNamedPort: http}]\n",
    );
    rejects(&text, "invalid-port", "destinationNamedPort: http");
    // Towards pods a named port is fine.
    let text = CNP.replace(
        "    to: [{namespaces: {}}]\n",
        "    to: [{namespaces: {}}]\n    protocols: [{destinationNamedPort: http}]\n",
    );
    one(&text);
}

#[test]
fn port_ranges_must_increase() {
    rejects(
        &CNP.replace("end: 2000", "end: 1000"),
        "invalid-port",
        "range: {start: 1000",
    );
    rejects(
        &CNP.replace("end: 2000", "end: 999"),
        "invalid-port",
        "range: {start: 1000",
    );
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports:\n    - portRange:\n        start: 90\n        end: 80\n"
    ));
    rejects(&text, "invalid-port", "end: 80");
    // v1alpha1 does not enforce start < end: an equal pair is one port, with a warning.
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports: [{{portRange: {{start: 80, end: 80}}}}]\n"
    ));
    assert_eq!(one(&text).ingress[0].ports, Some(vec![tcp(80, 80)]));
    rejects(
        &CNP.replace("number: 5432", "number: 0"),
        "invalid-port",
        "number: 0",
    );
    rejects(
        &CNP.replace("tcp: {destinationPort: {number: 5432}}", "tcp: {}"),
        "invalid-port",
        "tcp: {}",
    );
    rejects(
        &CNP.replace(
            "- sctp: {destinationPort: {number: 9}}",
            "- {sctp: {destinationPort: {number: 9}}, udp: {destinationPort: {number: 9}}}",
        ),
        "invalid-field-count",
        "- {sctp",
    );
}

#[test]
fn unknown_fields_are_warned_with_did_you_mean() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  ingress:\n  - action: Deny\n    form: [{{namespaces: {{}}}}]\n"
    ));
    let loaded = load_str("t.yaml", &text);
    let warning = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "unknown-field")
        .expect("warning");
    assert!(
        warning.message.contains("did you mean `from`?"),
        "{}",
        warning.message
    );
    assert_eq!(
        warning.location.as_ref().map(|l| l.line),
        Some(line_of(&text, "form:"))
    );
    // The rule then has no peers, which the API server rejects.
    assert_eq!(
        errors(&loaded),
        vec![("invalid-peer", line_of(&text, "action: Deny"))]
    );

    let text = CNP.replace("protocols:", "protocol:");
    let loaded = load_str("t.yaml", &text);
    let warning = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "unknown-field")
        .expect("warning");
    assert!(
        warning.message.contains("did you mean `protocols`?"),
        "{}",
        warning.message
    );
    assert_eq!(
        warning.location.as_ref().map(|l| l.line),
        Some(line_of(&text, "protocol:"))
    );
    let text = anp(&format!("  priorty: 1\n{SUBJECT}"));
    let loaded = load_str("t.yaml", &text);
    assert!(loaded.diagnostics.iter().any(|d| d.code == "unknown-field"
        && d.message.contains("did you mean `priority`?")
        && d.location.as_ref().map(|l| l.line) == Some(5)));
    // The missing priority is reported at the spec.
    assert_eq!(errors(&loaded), vec![("invalid-priority", 5)]);
}

#[test]
fn networks_are_validated() {
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  egress:\n  - action: Deny\n    to:\n    - networks: [10.0.0.0/8, 10.0.0.0/33]\n"
    ));
    rejects(&text, "invalid-cidr", "10.0.0.0/33");
    let text = anp(&format!(
        "  priority: 1\n{SUBJECT}  egress:\n  - action: Deny\n    to:\n    - networks:\n      - 10.0.0.0/8\n      - 10.0.0.0/8\n"
    ));
    let text_line = line_of(&text, "networks:") + 2;
    let loaded = load_str("t.yaml", &text);
    assert_eq!(errors(&loaded), vec![("duplicate-value", text_line)]);
}

#[test]
fn shape_and_versions_interact_with_misfiled_detection() {
    // An ANP without priority is an invalid ANP, not a misfiled BANP.
    let text = anp(&format!(
        "{SUBJECT}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n"
    ));
    let loaded = load_str("t.yaml", &text);
    assert!(!loaded.diagnostics.iter().any(|d| d.code == "wrong-kind"));
    assert_eq!(errors(&loaded), vec![("invalid-priority", 5)]);
    // ClusterNetworkPolicy under v1alpha1 is misfiled (it has a tier).
    let text = CNP.replace("v1alpha2", "v1alpha1");
    let loaded = load_str("t.yaml", &text);
    assert!(loaded.diagnostics.iter().any(|d| d.code == "wrong-kind"));
    assert!(loaded.cluster.cluster_policies.is_empty());
    // Antrea's ClusterNetworkPolicy stays unmodelled, and says so.
    let text = "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: 5\n  appliedTo: [{podSelector: {}}]\n  ingress: [{action: Drop, from: [{namespaceSelector: {}}]}]\n";
    let loaded = load_str("t.yaml", text);
    assert!(loaded.cluster.cluster_policies.is_empty());
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == "unmodelled-policy" && d.message.contains("crd.antrea.io")),
        "{:#?}",
        loaded.diagnostics
    );
    assert!(!loaded.has_errors());
    // An ANP under another version is not silently skipped.
    let text = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: AdminNetworkPolicy\nmetadata: {name: a}\n";
    let loaded = load_str("t.yaml", text);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == "unmodelled-policy")
    );
}

// ---- conformance data, read in place ----

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KUBESEG_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    dir.is_dir().then_some(dir)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn error_report(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            format!(
                "{}: {} {}",
                d.location.as_ref().map_or(String::new(), |l| l.to_string()),
                d.code,
                d.message
            )
        })
        .collect()
}

/// The conformance suite's files are Go templates: `{{ index .HostNetworkPorts N }}`
/// becomes a port number, as the suite does before applying them.
fn render(text: &str) -> String {
    let mut out = text.to_string();
    for n in 0..10 {
        out = out.replace(
            &format!("{{{{ index .HostNetworkPorts {n} }}}}"),
            &(30000 + 10 * n).to_string(),
        );
    }
    out
}

/// np-guard cases that the API server would reject, with the error each shows: np-guard
/// reads a missing selector as Go's zero value (all), the CRD requires it.
const NPGUARD_REJECTED: &[(&str, &str)] = &[
    ("anp_demo", "has no `podSelector`"),
    ("anp_test_10", "has no `podSelector`"),
    ("anp_test_10_swapping_rules", "has no `podSelector`"),
    ("anp_test_11", "has no `podSelector`"),
    ("anp_test_11_swapping_rules", "has no `podSelector`"),
    ("anp_test_12", "has no `podSelector`"),
    ("anp_test_12_swapping_rules", "has no `podSelector`"),
    ("anp_test_3_pass_traffic", "has no `podSelector`"),
    ("anp_test_8", "has no `podSelector`"),
    ("anp_test_8_swapping_rules", "has no `podSelector`"),
    ("anp_test_9", "has no `podSelector`"),
    ("anp_test_9_swapping_rules", "has no `podSelector`"),
    (
        "anp_test_combining_test_6_and_test_10",
        "has no `podSelector`",
    ),
    ("anp_test_multiple_anps", "has no `podSelector`"),
    (
        "example_pods_w_same_owner_and_labels_gap_anp_good",
        "has no `namespaceSelector`; v1alpha1 requires it",
    ),
    (
        "example_pods_w_same_owner_and_labels_gap_banp_good",
        "has no `namespaceSelector`; v1alpha1 requires it",
    ),
    // The experimental CRD's CEL rule on egress rules.
    (
        "anp_test_named_ports_multiple_peers",
        "a named port cannot be used in a rule with a `networks` peer",
    ),
];

#[test]
fn conformance_manifests_decode_without_errors() {
    let Some(root) = conformance_dir() else {
        missing_data("conformance data not found (../shared/conformance)");
        return;
    };
    let mut failures = Vec::new();
    let (mut files, mut policies) = (0, 0);
    let mut warnings = std::collections::BTreeMap::<&str, usize>::new();
    for version in ["v0.1.7", "head"] {
        let base = root
            .join("network-policy-api")
            .join(version)
            .join("conformance/base");
        if !base.is_dir() {
            missing_data(&format!("{} not found", base.display()));
            continue;
        }
        let mut paths = Vec::new();
        files_under(&base, &mut paths);
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let loaded = load_str(&path.display().to_string(), &render(&text));
            files += 1;
            policies += loaded.cluster.cluster_policies.len();
            for d in &loaded.diagnostics {
                if d.severity == Severity::Warning {
                    *warnings.entry(d.code).or_default() += 1;
                }
            }
            let errs = error_report(&loaded);
            if !errs.is_empty() {
                failures.push(format!("{}: {errs:#?}", path.display()));
            }
            let is_policy = !path.ends_with("manifests.yaml");
            if is_policy && loaded.cluster.cluster_policies.is_empty() {
                failures.push(format!("{}: no tiered policy decoded", path.display()));
            }
            if loaded
                .diagnostics
                .iter()
                .any(|d| d.code == "wrong-kind" || d.code == "unmodelled-policy")
            {
                failures.push(format!("{}: {:#?}", path.display(), loaded.diagnostics));
            }
        }
    }
    let cases = root.join("np-guard/cases");
    if cases.is_dir() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let mut paths = Vec::new();
            files_under(&dir, &mut paths);
            if !paths
                .iter()
                .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("AdminNetworkPolicy")))
            {
                continue;
            }
            let loaded = load(&[dir.display().to_string()]);
            files += 1;
            policies += loaded.cluster.cluster_policies.len();
            for d in &loaded.diagnostics {
                if d.severity == Severity::Warning {
                    *warnings.entry(d.code).or_default() += 1;
                }
            }
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let errs = error_report(&loaded);
            match NPGUARD_REJECTED.iter().find(|(case, _)| *case == name) {
                Some((_, why)) if errs.is_empty() => {
                    failures.push(format!("{name}: expected errors ({why}), none reported"))
                }
                Some((_, why)) => {
                    let other: Vec<&String> = errs.iter().filter(|e| !e.contains(why)).collect();
                    if !other.is_empty() {
                        failures.push(format!("{name}: unexpected errors {other:#?}"));
                    }
                }
                None if !errs.is_empty() => failures.push(format!("{name}: {errs:#?}")),
                None if loaded.cluster.cluster_policies.is_empty() => {
                    failures.push(format!("{name}: no tiered policy decoded"))
                }
                None => {}
            }
        }
    } else {
        missing_data(&format!("{} not found", cases.display()));
    }
    eprintln!(
        "conformance: {files} inputs, {policies} tiered policies decoded; warnings by code: {warnings:?}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A data set the tests need is missing: the test fails, unless
/// `KUBESEG_ALLOW_MISSING_DATA=1` asks to skip it (with a loud line).
fn missing_data(what: &str) {
    if std::env::var_os("KUBESEG_ALLOW_MISSING_DATA").is_some_and(|v| v == "1") {
        eprintln!(
            "\n=== SKIPPED (KUBESEG_ALLOW_MISSING_DATA=1): {what}; nothing was checked ===\n"
        );
        return;
    }
    panic!(
        "{what}. Place ../shared beside the checkout, point KUBESEG_CONFORMANCE / KUBESEG_SCHEMAS at it, or set KUBESEG_ALLOW_MISSING_DATA=1 to skip on purpose"
    );
}
