//! ICMP and ICMPv6 in the verdicts (issue 16), from YAML through the loader and the
//! engine, each expectation derived by hand:
//! - Kubernetes NetworkPolicy: a rule without `ports` matches every port of every
//!   protocol (networking/v1 `NetworkPolicyIngressRule.ports`: "If this field is empty
//!   or missing, this rule matches all ports"), ICMP included; a rule with ports matches
//!   only those, and NetworkPolicy cannot name ICMP (TCP, UDP, SCTP), so isolation with
//!   port rules only blocks ping.
//! - Cilium: `icmps` fields become port rules of protocol ICMP/ICMPv6 whose port is the
//!   type (cilium/cilium pkg/policy/api/icmp.go `ICMPField.PortProtocol`), appended to
//!   the rule's L4 part (`RulesToPolicyEntries`), for allows and denies; a rule without
//!   L4 part allows every protocol.
//! - Calico: `protocol: ICMP`/`ICMPv6` with `icmp`/`notICMP` (api policy_common.go
//!   `ICMPFields`; felix renders `-p icmp -m icmp --icmp-type T[/C]`); no protocol: every
//!   protocol.
//!
//! Text forms: `ICMP` every message, `ICMP 8` type 8 any code, `ICMP 8/0` one message.

use kubeseg_engine::{Engine, Options};

fn pod(namespace: &str, name: &str, app: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{app: {app}}}}}\n\
         spec: {{containers: [{{name: main, image: app}}]}}\n"
    )
}

/// Pods a, b and c in `prod`.
fn abc() -> String {
    pod("prod", "a", "a") + &pod("prod", "b", "b") + &pod("prod", "c", "c")
}

/// The connection lines into `prod/b[Pod]`, sorted.
fn into_b(yaml: &str) -> Vec<String> {
    let loaded = kubeseg_sources::load_str("t.yaml", yaml);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let mut engine = Engine::new(&loaded.cluster, Options::default());
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
        .filter(|(s, d, _)| d == "prod/b[Pod]" && s.starts_with("prod/"))
        .map(|(s, d, p)| format!("{s} => {d} : {p}"))
        .collect();
    out.sort();
    out
}

fn lines(expected: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

const EVERY_PORT_NO_ICMP: &str = "TCP 1-65535; UDP 1-65535; SCTP 1-65535";

#[test]
fn network_policy_with_ports_blocks_ping_and_without_ports_allows_it() {
    let yaml = abc()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {app: c}}}]
"#;
    assert_eq!(
        into_b(&yaml),
        lines(&[
            // Ports only: TCP 80, no ICMP (ping from a is blocked).
            "prod/a[Pod] => prod/b[Pod] : TCP 80",
            // No ports: every protocol, ICMP included.
            "prod/c[Pod] => prod/b[Pod] : All Connections",
        ])
    );
    // Every TCP, UDP and SCTP port listed is still not ICMP.
    let yaml = abc()
        + r#"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ports, namespace: prod}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - ports: [{protocol: TCP}, {protocol: UDP}, {protocol: SCTP}]
"#;
    assert_eq!(
        into_b(&yaml),
        lines(&[
            &format!("prod/a[Pod] => prod/b[Pod] : {EVERY_PORT_NO_ICMP}"),
            &format!("prod/c[Pod] => prod/b[Pod] : {EVERY_PORT_NO_ICMP}"),
        ])
    );
}

#[test]
fn cilium_icmps_echo_request_allows_type_8_only() {
    let yaml = abc()
        + r#"---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ping-b, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: b}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: a}}]
    icmps:
    - fields: [{type: EchoRequest}, {family: IPv6, type: EchoRequest}]
  - fromEndpoints: [{matchLabels: {app: c}}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"#;
    assert_eq!(
        into_b(&yaml),
        lines(&[
            // IPv4 type 8 and IPv6 type 128, any code; nothing else.
            "prod/a[Pod] => prod/b[Pod] : ICMP 8; ICMPv6 128",
            // toPorts only: no ICMP.
            "prod/c[Pod] => prod/b[Pod] : TCP 443",
        ])
    );
}

#[test]
fn a_cilium_deny_of_icmp_takes_only_that_type() {
    let yaml = abc()
        + r#"---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-ping, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: b}}
  ingress:
  - fromEntities: [all]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: a}}]
    icmps: [{fields: [{type: 8}]}]
"#;
    assert_eq!(
        into_b(&yaml),
        lines(&[
            // Everything but ICMP type 8 (any code): types 0-7 and 9-255 remain.
            "prod/a[Pod] => prod/b[Pod] : TCP 1-65535; UDP 1-65535; SCTP 1-65535; ICMP 0-7,9-255; ICMPv6",
            "prod/c[Pod] => prod/b[Pod] : All Connections",
        ])
    );
}

/// A Calico NetworkPolicy in `prod` selecting b with these ingress rules.
fn calico_b(rules: &str) -> String {
    abc()
        + &format!(
            "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: b, namespace: prod}}\nspec:\n  selector: app == 'b'\n  ingress:\n{rules}"
        )
}

#[test]
fn calico_icmp_type_and_code() {
    let yaml = calico_b(
        "  - action: Allow\n    protocol: ICMP\n    icmp: {type: 8, code: 0}\n    source: {selector: app == 'a'}\n",
    );
    // Only echo request code 0, from a; the default tier then denies the rest.
    assert_eq!(
        into_b(&yaml),
        lines(&["prod/a[Pod] => prod/b[Pod] : ICMP 8/0"])
    );
    let yaml = calico_b(
        "  - action: Allow\n    protocol: 58\n    icmp: {type: 128}\n    source: {selector: app == 'a'}\n",
    );
    assert_eq!(
        into_b(&yaml),
        lines(&["prod/a[Pod] => prod/b[Pod] : ICMPv6 128"])
    );
}

#[test]
fn calico_not_icmp_removes_its_type() {
    let yaml = calico_b(
        "  - action: Allow\n    protocol: ICMP\n    notICMP: {type: 8}\n    source: {selector: app == 'a'}\n",
    );
    assert_eq!(
        into_b(&yaml),
        lines(&["prod/a[Pod] => prod/b[Pod] : ICMP 0-7,9-255"])
    );
}

#[test]
fn calico_deny_icmpv6_then_allow_everything() {
    // First match decides per message: ICMPv6 is denied, everything else allowed; a
    // rule without protocol matches ICMP too; `notProtocol: ICMP` leaves it out.
    let yaml = calico_b(
        "  - action: Deny\n    protocol: ICMPv6\n  - action: Allow\n    notProtocol: ICMP\n    source: {selector: app == 'a'}\n  - action: Allow\n    source: {selector: app == 'c'}\n",
    );
    assert_eq!(
        into_b(&yaml),
        lines(&[
            &format!("prod/a[Pod] => prod/b[Pod] : {EVERY_PORT_NO_ICMP}"),
            &format!("prod/c[Pod] => prod/b[Pod] : {EVERY_PORT_NO_ICMP}; ICMP"),
        ])
    );
    // A TCP rule with ports matches no ICMP.
    let yaml = calico_b("  - action: Allow\n    protocol: TCP\n    destination: {ports: [80]}\n");
    assert_eq!(
        into_b(&yaml),
        lines(&[
            "prod/a[Pod] => prod/b[Pod] : TCP 80",
            "prod/c[Pod] => prod/b[Pod] : TCP 80",
        ])
    );
}
