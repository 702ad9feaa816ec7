//! One small test per NetworkPolicy trap: manifests loaded from YAML, checked against
//! connection lines derived by hand from the Kubernetes specification.

use kubeseg_engine::{Endpoint, Engine, Options};

/// The single external atom when no ipBlock splits the address space: each whole
/// address family reads as its CIDR.
const EXT: &str = "0.0.0.0/0,::/0";

/// A Pod manifest: `labels` and `ports` are YAML flow-map / flow-list contents.
fn pod(namespace: &str, name: &str, labels: &str, ports: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: '{namespace}', labels: {{{labels}}}}}\n\
         spec: {{containers: [{{name: main, image: app, ports: [{ports}]}}]}}\n"
    )
}

/// Every connection line `src => dst : ports` whose endpoint ids pass `keep`, sorted.
fn lines(yaml: &str, options: Options, keep: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let loaded = kubeseg_sources::load_str("test.yaml", yaml);
    assert!(
        !loaded.has_errors(),
        "manifests do not load: {:#?}",
        loaded.diagnostics
    );
    let mut engine = Engine::new(&loaded.cluster, options);
    let mut out: Vec<String> = engine
        .connections(|_| true, |_| true)
        .into_iter()
        .map(|c| {
            (
                engine.endpoint_id(c.src),
                engine.endpoint_id(c.dst),
                c.ports,
            )
        })
        .filter(|(s, d, _)| keep(s, d))
        .map(|(s, d, p)| format!("{s} => {d} : {p}"))
        .collect();
    out.sort();
    out
}

fn expected(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|l| l.replace("EXT", EXT)).collect();
    out.sort();
    out
}

fn check_where(
    yaml: &str,
    options: Options,
    keep: impl Fn(&str, &str) -> bool,
    expected_lines: &[&str],
) {
    assert_eq!(lines(yaml, options, keep), expected(expected_lines));
}

/// Every connection, external ones included (`EXT` stands for the whole address space).
fn check(yaml: &str, expected_lines: &[&str]) {
    check_where(yaml, Options::default(), |_, _| true, expected_lines);
}

/// Every connection, with ipBlocks also matching pod IPs.
fn check_with_pod_ips(yaml: &str, expected_lines: &[&str]) {
    let options = Options {
        ipblock_pod_ips: true,
        ..Options::default()
    };
    check_where(yaml, options, |_, _| true, expected_lines);
}

/// Only the connections into destinations whose id is listed.
fn check_into(yaml: &str, destinations: &[&str], expected_lines: &[&str]) {
    check_where(
        yaml,
        Options::default(),
        |_, d| destinations.contains(&d),
        expected_lines,
    );
}

const ALL: &str = "All Connections";

fn two_pods() -> String {
    pod("default", "a", "app: a", "") + &pod("default", "b", "app: b", "")
}

#[test]
fn isolation_is_per_direction() {
    let yaml = two_pods()
        + &pod("default", "c", "app: c", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress-only, namespace: default}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-egress-only, namespace: default}
spec:
  podSelector: {matchLabels: {app: c}}
  policyTypes: [Egress]
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => default/c[Pod] : All Connections",
            "default/a[Pod] => EXT : All Connections",
            "default/b[Pod] => default/a[Pod] : All Connections",
            "default/b[Pod] => default/c[Pod] : All Connections",
            "default/b[Pod] => EXT : All Connections",
            "EXT => default/a[Pod] : All Connections",
            "EXT => default/c[Pod] : All Connections",
        ],
    );
}

#[test]
fn absent_policy_types_mean_ingress_plus_egress_iff_egress_rules() {
    let yaml = two_pods()
        + &pod("default", "c", "app: c", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-with-egress-rules, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-ingress-rules-only, namespace: default}
spec:
  podSelector: {matchLabels: {app: c}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
"#;
    // a: ingress denied (Ingress defaulted, no rules), egress only to b.
    // c: ingress only from b, egress not isolated.
    check(
        &yaml,
        &[
            "default/a[Pod] => default/b[Pod] : All Connections",
            "default/b[Pod] => default/c[Pod] : All Connections",
            "default/b[Pod] => EXT : All Connections",
            "default/c[Pod] => default/b[Pod] : All Connections",
            "default/c[Pod] => EXT : All Connections",
            "EXT => default/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn empty_egress_list_without_policy_types_does_not_isolate_egress() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  egress: []
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => default/b[Pod] : All Connections",
            "default/a[Pod] => EXT : All Connections",
            "default/b[Pod] => EXT : All Connections",
            "EXT => default/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn explicit_egress_policy_type_ignores_the_ingress_section() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: nobody}}}]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => default/b[Pod] : All Connections",
            "default/b[Pod] => default/a[Pod] : All Connections",
            "default/b[Pod] => EXT : All Connections",
            "EXT => default/a[Pod] : All Connections",
            "EXT => default/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn empty_ingress_list_denies_all_ingress() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec:
  podSelector: {}
  ingress: []
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => EXT : All Connections",
            "default/b[Pod] => EXT : All Connections",
        ],
    );
}

#[test]
fn one_empty_ingress_rule_allows_all() {
    let yaml = pod("x", "a", "app: a", "")
        + &pod("y", "b", "app: b", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-both-ways, namespace: 'y'}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}]
"#;
    check(
        &yaml,
        &[
            "x/a[Pod] => y/b[Pod] : All Connections",
            "x/a[Pod] => EXT : All Connections",
            "y/b[Pod] => x/a[Pod] : All Connections",
            "y/b[Pod] => EXT : All Connections",
            "EXT => x/a[Pod] : All Connections",
            "EXT => y/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn rule_without_from_allows_external_sources_too() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - ports: [{port: 80}]
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => default/b[Pod] : All Connections",
            "default/a[Pod] => EXT : All Connections",
            "default/b[Pod] => default/a[Pod] : TCP 80",
            "default/b[Pod] => EXT : All Connections",
            "EXT => default/a[Pod] : TCP 80",
            "EXT => default/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn rule_without_ports_allows_every_protocol() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => default/b[Pod] : All Connections",
            "default/a[Pod] => EXT : All Connections",
            "default/b[Pod] => default/a[Pod] : All Connections",
            "default/b[Pod] => EXT : All Connections",
            "EXT => default/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn pod_selector_alone_means_own_namespace() {
    let yaml = pod("x", "target", "app: target", "")
        + &pod("x", "client", "app: client", "")
        + &pod("y", "client", "app: client", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: target}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
"#;
    check_into(
        &yaml,
        &["x/target[Pod]"],
        &["x/client[Pod] => x/target[Pod] : All Connections"],
    );
}

#[test]
fn namespace_selector_alone_means_every_pod_of_those_namespaces() {
    let yaml = r#"---
apiVersion: v1
kind: Namespace
metadata: {name: 'y', labels: {team: t}}
"#
    .to_string()
        + &pod("x", "target", "app: target", "")
        + &pod("x", "peer", "app: peer", "")
        + &pod("y", "c", "app: c", "")
        + &pod("y", "c2", "other: label", "")
        + &pod("z", "d", "app: d", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: target}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: t}}}]
"#;
    check_into(
        &yaml,
        &["x/target[Pod]"],
        &[
            "y/c[Pod] => x/target[Pod] : All Connections",
            "y/c2[Pod] => x/target[Pod] : All Connections",
        ],
    );
}

#[test]
fn namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_is_or() {
    let yaml = r#"---
apiVersion: v1
kind: Namespace
metadata: {name: 'y', labels: {team: t}}
"#
    .to_string()
        + &pod("x", "and-target", "app: and", "")
        + &pod("x", "or-target", "app: or", "")
        + &pod("x", "client", "app: client", "")
        + &pod("y", "client", "app: client", "")
        + &pod("y", "other", "app: other", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: x}
spec:
  podSelector: {matchLabels: {app: and}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: t}}
      podSelector: {matchLabels: {app: client}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: x}
spec:
  podSelector: {matchLabels: {app: or}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: t}}
    - podSelector: {matchLabels: {app: client}}
"#;
    check_into(
        &yaml,
        &["x/and-target[Pod]", "x/or-target[Pod]"],
        &[
            "y/client[Pod] => x/and-target[Pod] : All Connections",
            "x/client[Pod] => x/or-target[Pod] : All Connections",
            "y/client[Pod] => x/or-target[Pod] : All Connections",
            "y/other[Pod] => x/or-target[Pod] : All Connections",
        ],
    );
}

#[test]
fn empty_namespace_selector_means_all_namespaces_but_no_external() {
    let yaml = pod("x", "target", "app: target", "")
        + &pod("x", "b", "app: b", "")
        + &pod("y", "c", "app: c", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: target}}
  ingress:
  - from: [{namespaceSelector: {}}]
"#;
    check_into(
        &yaml,
        &["x/target[Pod]"],
        &[
            "x/b[Pod] => x/target[Pod] : All Connections",
            "y/c[Pod] => x/target[Pod] : All Connections",
        ],
    );
}

#[test]
fn match_expressions_not_in_and_does_not_exist_match_pods_without_the_key() {
    let mut yaml = pod("default", "c-prod", "role: client, env: prod", "")
        + &pod("default", "c-dev", "role: client, env: dev", "")
        + &pod("default", "c-none", "role: client", "");
    for (name, expression) in [
        ("t-in", "{key: env, operator: In, values: [prod]}"),
        ("t-notin", "{key: env, operator: NotIn, values: [prod]}"),
        ("t-exists", "{key: env, operator: Exists}"),
        ("t-dne", "{key: env, operator: DoesNotExist}"),
    ] {
        yaml += &pod("default", name, &format!("app: {name}"), "");
        yaml += &format!(
            r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: default}}
spec:
  podSelector: {{matchLabels: {{app: {name}}}}}
  ingress:
  - from:
    - podSelector:
        matchLabels: {{role: client}}
        matchExpressions: [{expression}]
"#
        );
    }
    check_where(
        &yaml,
        Options::default(),
        |_, d| d.starts_with("default/t-"),
        &[
            "default/c-prod[Pod] => default/t-in[Pod] : All Connections",
            "default/c-dev[Pod] => default/t-notin[Pod] : All Connections",
            "default/c-none[Pod] => default/t-notin[Pod] : All Connections",
            "default/c-prod[Pod] => default/t-exists[Pod] : All Connections",
            "default/c-dev[Pod] => default/t-exists[Pod] : All Connections",
            "default/c-none[Pod] => default/t-dne[Pod] : All Connections",
        ],
    );
}

#[test]
fn every_namespace_has_the_metadata_name_label_even_implicit_ones() {
    // y is declared without the name label; z and w are only referenced by pods.
    let yaml = r#"---
apiVersion: v1
kind: Namespace
metadata: {name: 'y', labels: {team: t}}
"#
    .to_string()
        + &pod("x", "target", "app: target", "")
        + &pod("y", "b", "app: b", "")
        + &pod("z", "c", "app: c", "")
        + &pod("w", "d", "app: d", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: target}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: 'y'}}
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [z]}]
"#;
    check_into(
        &yaml,
        &["x/target[Pod]"],
        &[
            "y/b[Pod] => x/target[Pod] : All Connections",
            "z/c[Pod] => x/target[Pod] : All Connections",
        ],
    );
}

#[test]
fn both_ends_must_agree() {
    let yaml = two_pods()
        + &pod("default", "c", "app: c", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-egress, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
  - to: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{port: 80, endPort: 90}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-deny-ingress, namespace: default}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-ingress, namespace: default}
spec:
  podSelector: {matchLabels: {app: c}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: 85, endPort: 100}]
"#;
    // a -> b: egress allows everything, ingress nothing; a -> c: TCP 80-90 ∩ TCP 85-100.
    check_where(
        &yaml,
        Options::default(),
        |s, _| s == "default/a[Pod]",
        &["default/a[Pod] => default/c[Pod] : TCP 85-90"],
    );
}

#[test]
fn policies_are_additive() {
    let yaml = two_pods()
        + &pod("default", "c", "app: c", "")
        + &pod("default", "d", "app: d", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-narrow, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-allow-all, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: d-tcp, namespace: default}
spec:
  podSelector: {matchLabels: {app: d}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: d-udp, namespace: default}
spec:
  podSelector: {matchLabels: {app: d}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{port: 53, protocol: UDP}]
"#;
    check_into(
        &yaml,
        &["default/a[Pod]", "default/d[Pod]"],
        &[
            "default/b[Pod] => default/a[Pod] : All Connections",
            "default/c[Pod] => default/a[Pod] : All Connections",
            "default/d[Pod] => default/a[Pod] : All Connections",
            "EXT => default/a[Pod] : All Connections",
            "default/b[Pod] => default/d[Pod] : TCP 80; UDP 53",
        ],
    );
}

/// Two pods and a policy letting b into a with the given `ports` list.
fn ingress_from_b(ports: &str) -> String {
    two_pods()
        + &format!(
            r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p, namespace: default}}
spec:
  podSelector: {{matchLabels: {{app: a}}}}
  ingress:
  - from: [{{podSelector: {{matchLabels: {{app: b}}}}}}]
    ports: {ports}
"#
        )
}

#[test]
fn protocol_defaults_to_tcp() {
    check_into(
        &ingress_from_b("[{port: 53}]"),
        &["default/a[Pod]"],
        &["default/b[Pod] => default/a[Pod] : TCP 53"],
    );
}

#[test]
fn port_entry_without_port_means_every_port_of_its_protocol() {
    check_into(
        &ingress_from_b("[{protocol: UDP}]"),
        &["default/a[Pod]"],
        &["default/b[Pod] => default/a[Pod] : UDP 1-65535"],
    );
}

#[test]
fn end_port_makes_a_range() {
    check_into(
        &ingress_from_b("[{port: 8000, endPort: 8100}, {port: 80}]"),
        &["default/a[Pod]"],
        &["default/b[Pod] => default/a[Pod] : TCP 80,8000-8100"],
    );
}

#[test]
fn udp_only_rule_still_isolates_tcp() {
    check_into(
        &ingress_from_b("[{protocol: UDP, port: 53}]"),
        &["default/a[Pod]"],
        &["default/b[Pod] => default/a[Pod] : UDP 53"],
    );
}

#[test]
fn sctp_is_distinct_from_tcp() {
    let yaml = pod(
        "default",
        "a",
        "app: a",
        "{name: diameter, containerPort: 3868, protocol: SCTP}",
    ) + &pod("default", "b", "app: b", "")
        + &pod("default", "c", "app: c", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{protocol: SCTP, port: 80}, {port: diameter}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-c, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: c}}}]
    ports: [{protocol: SCTP, port: diameter}]
"#;
    check_into(
        &yaml,
        &["default/a[Pod]"],
        &[
            "default/b[Pod] => default/a[Pod] : SCTP 80",
            "default/c[Pod] => default/a[Pod] : SCTP 3868",
        ],
    );
}

#[test]
fn named_port_is_resolved_on_the_destination_for_ingress_and_egress() {
    let yaml = pod(
        "default",
        "web",
        "app: web",
        "{name: http, containerPort: 8080}",
    ) + &pod(
        "default",
        "api",
        "app: api",
        "{name: http, containerPort: 9090}",
    ) + &pod(
        "default",
        "client",
        "app: client",
        "{name: http, containerPort: 1111}",
    ) + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: default}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: http}]
"#;
    // The client's own `http` (1111) never matters; externals have no named ports.
    check_where(
        &yaml,
        Options::default(),
        |s, d| s == "default/client[Pod]" || d == "default/web[Pod]",
        &[
            "default/client[Pod] => default/web[Pod] : TCP 8080",
            "default/client[Pod] => default/api[Pod] : TCP 9090",
        ],
    );
}

#[test]
fn named_port_with_another_protocol_on_the_destination_does_not_match() {
    let dns = "{name: dns, containerPort: 53, protocol: UDP}";
    let yaml = pod("default", "t-tcp", "app: t-tcp", dns)
        + &pod("default", "t-udp", "app: t-udp", dns)
        + &pod("default", "client", "app: client", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tcp-dns, namespace: default}
spec:
  podSelector: {matchLabels: {app: t-tcp}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: dns}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-dns, namespace: default}
spec:
  podSelector: {matchLabels: {app: t-udp}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: dns, protocol: UDP}]
"#;
    check_into(
        &yaml,
        &["default/t-tcp[Pod]", "default/t-udp[Pod]"],
        &["default/client[Pod] => default/t-udp[Pod] : UDP 53"],
    );
}

#[test]
fn ip_block_except_is_carved_out() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
"#;
    let inside = "10.0.0.0-10.0.255.255,10.2.0.0-10.255.255.255";
    let outside = "0.0.0.0-9.255.255.255,10.1.0.0-10.1.255.255,11.0.0.0-255.255.255.255,\
                   ::/0";
    let lines: Vec<String> = [
        format!("default/a[Pod] => {inside} : {ALL}"),
        format!("default/b[Pod] => default/a[Pod] : {ALL}"),
        format!("default/b[Pod] => {inside} : {ALL}"),
        format!("default/b[Pod] => {outside} : {ALL}"),
        format!("{inside} => default/a[Pod] : {ALL}"),
        format!("{inside} => default/b[Pod] : {ALL}"),
        format!("{outside} => default/a[Pod] : {ALL}"),
        format!("{outside} => default/b[Pod] : {ALL}"),
    ]
    .into();
    check(&yaml, &lines.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn ipv4_zero_prefix_does_not_cover_ipv6() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
"#;
    let v4 = "0.0.0.0/0";
    let v6 = "::/0";
    let lines: Vec<String> = [
        format!("default/a[Pod] => {v4} : {ALL}"),
        format!("default/b[Pod] => default/a[Pod] : {ALL}"),
        format!("default/b[Pod] => {v4} : {ALL}"),
        format!("default/b[Pod] => {v6} : {ALL}"),
        format!("{v4} => default/a[Pod] : {ALL}"),
        format!("{v4} => default/b[Pod] : {ALL}"),
        format!("{v6} => default/a[Pod] : {ALL}"),
        format!("{v6} => default/b[Pod] : {ALL}"),
    ]
    .into();
    check(&yaml, &lines.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn ip_block_matches_pod_ips_only_when_asked() {
    let with_ip = |name: &str, ip: &str| {
        pod("default", name, &format!("app: {name}"), "") + &format!("status: {{podIP: {ip}}}\n")
    };
    let yaml = with_ip("a", "10.0.0.5")
        + &with_ip("b", "10.0.1.7")
        + &pod("default", "t", "app: t", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: t}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/24}}]
"#;
    let into_t = |_: &str, d: &str| d == "default/t[Pod]";
    check_where(
        &yaml,
        Options::default(),
        into_t,
        &["10.0.0.0-10.0.0.255 => default/t[Pod] : All Connections"],
    );
    let pod_ips = Options {
        ipblock_pod_ips: true,
        ..Options::default()
    };
    check_where(
        &yaml,
        pod_ips,
        into_t,
        &[
            "10.0.0.0-10.0.0.255 => default/t[Pod] : All Connections",
            "default/a[Pod] => default/t[Pod] : All Connections",
        ],
    );
    // The full listing with pod IPs: only the ingress of t is restricted.
    let low = "0.0.0.0-9.255.255.255,10.0.1.0-255.255.255.255,::/0";
    let block = "10.0.0.0-10.0.0.255";
    let mut lines = vec![
        "default/a[Pod] => default/b[Pod] : All Connections".to_string(),
        "default/a[Pod] => default/t[Pod] : All Connections".to_string(),
        "default/b[Pod] => default/a[Pod] : All Connections".to_string(),
        "default/t[Pod] => default/a[Pod] : All Connections".to_string(),
        "default/t[Pod] => default/b[Pod] : All Connections".to_string(),
        format!("{block} => default/t[Pod] : All Connections"),
    ];
    for p in ["a", "b", "t"] {
        for e in [low, block] {
            lines.push(format!("default/{p}[Pod] => {e} : All Connections"));
            if p != "t" {
                lines.push(format!("{e} => default/{p}[Pod] : All Connections"));
            }
        }
    }
    check_with_pod_ips(&yaml, &lines.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn traffic_between_replicas_of_one_workload_is_not_reported() {
    let replica = |name: &str| {
        format!(
            r#"---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels: {{app: db}}
  ownerReferences: [{{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: u1, controller: true}}]
spec: {{containers: [{{name: main, image: db}}]}}
"#
        )
    };
    let yaml = replica("db-0")
        + &replica("db-1")
        + &pod("default", "other", "app: other", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-peers-only, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: db}}}]
"#;
    check(
        &yaml,
        &[
            "default/db[StatefulSet] => default/other[Pod] : All Connections",
            "default/db[StatefulSet] => EXT : All Connections",
            "default/other[Pod] => EXT : All Connections",
            "EXT => default/other[Pod] : All Connections",
        ],
    );
    // The replicas do reach each other: the point query includes the self pair.
    let loaded = kubeseg_sources::load_str("test.yaml", &yaml);
    let mut engine = Engine::new(&loaded.cluster, Options::default());
    let db = (0..engine.endpoints().len())
        .find(|&e| engine.endpoint_id(e) == "default/db[StatefulSet]")
        .expect("db workload");
    match &engine.endpoints()[db] {
        Endpoint::Workload { workload, .. } => {
            assert_eq!(loaded.cluster.workloads[*workload].pods.len(), 2)
        }
        Endpoint::External { .. } | Endpoint::Domain { .. } => panic!("db is a workload"),
    }
    assert!(engine.pair(db, db).is_all());
}

#[test]
fn host_network_pods_are_neither_selected_nor_matched() {
    let yaml = pod("default", "a", "app: a", "")
        + &pod("default", "t", "app: t", "")
        + r#"---
apiVersion: v1
kind: Pod
metadata: {name: h, namespace: default, labels: {app: h}}
spec: {hostNetwork: true, containers: [{name: main, image: agent}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: t-from-h, namespace: default}
spec:
  podSelector: {matchLabels: {app: t}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: h}}}]
"#;
    // h escapes deny-all, but t's rule naming h does not match it either.
    check(
        &yaml,
        &[
            "default/h[Pod] => EXT : All Connections",
            "EXT => default/h[Pod] : All Connections",
        ],
    );
}

#[test]
fn objects_without_namespace_go_to_default() {
    let yaml = r#"---
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: a}}
spec: {containers: [{name: main, image: app}]}
"#
    .to_string()
        + &pod("default", "c", "app: c", "")
        + &pod("other", "b", "app: b", "")
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-namespace-only}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]
"#;
    check(
        &yaml,
        &[
            "default/a[Pod] => default/c[Pod] : All Connections",
            "default/a[Pod] => other/b[Pod] : All Connections",
            "default/a[Pod] => EXT : All Connections",
            "default/c[Pod] => default/a[Pod] : All Connections",
            "default/c[Pod] => other/b[Pod] : All Connections",
            "default/c[Pod] => EXT : All Connections",
            "other/b[Pod] => EXT : All Connections",
            "EXT => other/b[Pod] : All Connections",
        ],
    );
}

#[test]
fn pods_fold_into_their_top_owner() {
    let owned = |name: &str, kind: &str, owner: &str, labels: &str| {
        format!(
            r#"---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{{labels}}}
  ownerReferences: [{{apiVersion: apps/v1, kind: {kind}, name: {owner}, uid: u, controller: true}}]
spec: {{containers: [{{name: main, image: app}}]}}
"#
        )
    };
    let yaml = r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: web}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d}}
    spec: {containers: [{name: main, image: web}]}
"#
    .to_string()
        + &owned(
            "web-5d-x",
            "ReplicaSet",
            "web-5d",
            "app: web, pod-template-hash: 5d",
        )
        + &owned(
            "web-5d-y",
            "ReplicaSet",
            "web-5d",
            "app: web, pod-template-hash: 5d",
        )
        + &owned("api-7c-z", "ReplicaSet", "api-7c", "app: api")
        + &pod("default", "solo", "app: solo", "");
    let loaded = kubeseg_sources::load_str("test.yaml", &yaml);
    let ids: Vec<(String, usize)> = loaded
        .cluster
        .workloads
        .iter()
        .map(|w| (w.id(), w.pods.len()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("default/api-7c[ReplicaSet]".to_string(), 1),
            ("default/solo[Pod]".to_string(), 1),
            ("default/web[Deployment]".to_string(), 2),
        ]
    );
    check_where(
        &yaml,
        Options::default(),
        |s, d| s != EXT && d != EXT,
        &[
            "default/api-7c[ReplicaSet] => default/solo[Pod] : All Connections",
            "default/api-7c[ReplicaSet] => default/web[Deployment] : All Connections",
            "default/solo[Pod] => default/api-7c[ReplicaSet] : All Connections",
            "default/solo[Pod] => default/web[Deployment] : All Connections",
            "default/web[Deployment] => default/api-7c[ReplicaSet] : All Connections",
            "default/web[Deployment] => default/solo[Pod] : All Connections",
        ],
    );
}

#[test]
fn ip_block_with_full_prefix_is_one_address() {
    let yaml = two_pods()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.3/32}}, {ipBlock: {cidr: "2001:db8::1/128"}}]
"#;
    check_into(
        &yaml,
        &["default/a[Pod]"],
        &[
            "10.0.0.3 => default/a[Pod] : All Connections",
            "2001:db8::1 => default/a[Pod] : All Connections",
        ],
    );
}
