//! Tiered policies end to end through the binary: `explain` walks the Admin tier, the
//! NetworkPolicies and the Baseline tier with each rule's file:line, in text and JSON;
//! `reach` lists the connections they leave; an invalid AdminNetworkPolicy is refused.
//! Expected verdicts are derived by hand from the network-policy-api doc comments, and
//! the locations by counting the lines of `CLUSTER` (numbered in the comment below).

use serde_json::{Value, json};

mod common;

fn kubeseg(args: &[&str], stdin: &str) -> std::process::Output {
    common::kubeseg_stdin(args, stdin)
}

/// Pods a, b (named port web = 80) and c in prod.
/// - `guard` (Admin, priority 5) on b's ingress: rule 0 (line 25) denies TCP 80 from c,
///   rule 1 (line 29) passes TCP 80 from every pod to the NetworkPolicy tier.
/// - `b-from-a` (document at line 34, rule at line 40) isolates b: TCP 80 from a only.
/// - The Baseline (`default`, rule at line 49) denies ingress from c to every pod; it
///   only matters where no NetworkPolicy isolates (a and c).
const CLUSTER: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: a, namespace: prod, labels: {app: a}}
spec: {containers: [{name: main, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: prod, labels: {app: b}}
spec: {containers: [{name: main, image: app, ports: [{name: web, containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: prod, labels: {app: c}}
spec: {containers: [{name: main, image: app}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 5
  subject:
    pods: {podSelector: {matchLabels: {app: b}}}
  ingress:
  - name: no-c
    action: Deny
    from: [{pods: {podSelector: {matchLabels: {app: c}}}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
  - name: to-np
    action: Pass
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-a, namespace: prod}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: 80}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - name: no-c
    action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}}]
"#;

/// The 1-based line of the first line of `CLUSTER` holding `needle` (a cross-check of
/// the hand-counted numbers).
fn line_of(needle: &str) -> usize {
    CLUSTER.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn hand_counted_lines() {
    assert_eq!(line_of("- name: no-c"), 25);
    assert_eq!(line_of("- name: to-np"), 29);
    assert_eq!(line_of("kind: NetworkPolicy") - 1, 34);
    assert_eq!(line_of("- from: [{podSelector"), 40);
    assert_eq!(CLUSTER.lines().nth(48).unwrap(), "  - name: no-c");
}

fn explain(from: &str, to: &str, port: Option<&str>, json: bool) -> (String, std::process::Output) {
    let mut args = vec!["explain", "-", "--from", from, "--to", to];
    if let Some(port) = port {
        args.extend(["--port", port]);
    }
    if json {
        args.extend(["--format", "json"]);
    }
    let out = kubeseg(&args, CLUSTER);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), out)
}

/// The index of `needle` in `text`, which must hold it.
fn at(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("missing `{needle}` in:\n{text}"))
}

/// a → b on TCP 80: `guard` rule 1 passes it (rule 0 is for c), then b's NetworkPolicy
/// allows TCP 80 from a: ALLOWED. The walk shows the Pass first, then the NetworkPolicy.
#[test]
fn explain_text_pass_then_network_policy_allows() {
    let (text, _) = explain("prod/a", "prod/b", Some("80"), false);
    assert!(
        text.starts_with("prod/a[Pod] => prod/b[Pod] on TCP 80: ALLOWED"),
        "{text}"
    );
    let pass = at(
        &text,
        "[Admin] ClusterNetworkPolicy/guard (priority 5) ingress[1] (-:29:5): Pass TCP 80",
    );
    let np = at(&text, "[NetworkPolicy] isolated by prod/b-from-a (-:34:1)");
    let np_rule = at(&text, "prod/b-from-a ingress[0] (-:40:5): allows TCP 80");
    let verdict = at(
        &text,
        "TCP 80 decided by [Admin] ClusterNetworkPolicy/guard (priority 5) ingress[1] Pass → [NetworkPolicy]",
    );
    assert!(pass < np && np < np_rule && np_rule < verdict, "{text}");
    assert!(
        !text.contains("ingress[0] (-:25:5)"),
        "the Deny's peer (c) does not match a:\n{text}"
    );
    assert!(
        !text.contains("[Baseline]"),
        "b is isolated: the Baseline tier is not consulted:\n{text}"
    );
    // The named port resolves to the same answer.
    let (named, _) = explain("prod/a", "prod/b", Some("web"), false);
    assert!(named.contains(": ALLOWED"), "{named}");
}

/// c → b on TCP 80: `guard` rule 0 denies it before rule 1's Pass, so b's NetworkPolicy
/// (which would deny it too) is not what decides.
#[test]
fn explain_text_admin_deny_decides() {
    let (text, _) = explain("prod/c", "prod/b", Some("80"), false);
    assert!(
        text.starts_with("prod/c[Pod] => prod/b[Pod] on TCP 80: DENIED"),
        "{text}"
    );
    let deny = at(
        &text,
        "[Admin] ClusterNetworkPolicy/guard (priority 5) ingress[0] (-:25:5): Deny TCP 80",
    );
    let verdict = at(
        &text,
        "TCP 80 decided by [Admin] ClusterNetworkPolicy/guard (priority 5) ingress[0] Deny",
    );
    assert!(deny < verdict, "{text}");
}

/// a → b on TCP 443: no tier rule matches 443, b's NetworkPolicy allows only 80: DENIED.
#[test]
fn explain_text_no_tier_rule_network_policy_denies() {
    let (text, _) = explain("prod/a", "prod/b", Some("443"), false);
    assert!(
        text.starts_with("prod/a[Pod] => prod/b[Pod] on TCP 443: DENIED"),
        "{text}"
    );
    // The walk lists the Pass (it matches a, on TCP 80 only), but TCP 443 is decided
    // by the NetworkPolicy alone.
    assert!(
        text.contains("  TCP 443 decided by [NetworkPolicy]\n"),
        "{text}"
    );
    assert!(!text.contains("decided by [Admin]"), "{text}");
}

/// c → a: nothing isolates a, the Admin tier does not select a, so the Baseline Deny
/// from c decides every port.
#[test]
fn explain_text_baseline_denies_where_nothing_isolates() {
    let (text, _) = explain("prod/c", "prod/a", None, false);
    assert!(
        text.starts_with("prod/c[Pod] => prod/a[Pod] : No Connections"),
        "{text}"
    );
    at(
        &text,
        "[Baseline] BaselineAdminNetworkPolicy/default (priority 0) ingress[0] (-:49:5): Deny All Connections",
    );
}

/// A port set of TCP ports only (schemaVersion 3: all five keys).
fn tcp(lo: u16, hi: u16) -> Value {
    json!({"SCTP": [], "TCP": [[lo, hi]], "UDP": [], "ICMP": [], "ICMPv6": []})
}

#[test]
fn explain_json_lists_the_tier_walk() {
    let (text, _) = explain("prod/a", "prod/b", Some("80"), true);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["allowed"], json!(true));
    assert_eq!(doc["egress"]["tiers"], json!([]));
    assert_eq!(
        doc["ingress"]["tiers"],
        json!([{
            "tier": "Admin",
            "policy": "ClusterNetworkPolicy/guard",
            "priority": 5,
            "rule": "ingress[1]",
            "location": "-:29:5",
            "action": "Pass",
            "ports": tcp(80, 80),
            "decides": tcp(80, 80),
        }])
    );
    assert_eq!(doc["ingress"]["allowed"], tcp(80, 80));

    let (text, _) = explain("prod/c", "prod/b", Some("80"), true);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["allowed"], json!(false));
    let tiers = doc["ingress"]["tiers"].as_array().unwrap();
    let steps: Vec<(&str, &str, &str, Value)> = tiers
        .iter()
        .map(|t| {
            (
                t["rule"].as_str().unwrap(),
                t["location"].as_str().unwrap(),
                t["action"].as_str().unwrap(),
                t["decides"].clone(),
            )
        })
        .collect();
    // Both rules match c on TCP 80; the Deny comes first and decides it, the Pass
    // decides nothing.
    assert_eq!(
        steps,
        vec![
            ("ingress[0]", "-:25:5", "Deny", tcp(80, 80)),
            (
                "ingress[1]",
                "-:29:5",
                "Pass",
                json!({"SCTP": [], "TCP": [], "UDP": [], "ICMP": [], "ICMPv6": []})
            ),
        ]
    );
}

/// Every connection, derived by hand:
/// - into b: TCP 80 from a only (Pass → b-from-a); c is denied by `guard`, outside
///   addresses by b-from-a;
/// - into a: everything but c (Baseline Deny, a not isolated);
/// - into c: everything (the Baseline Deny from c concerns c's own traffic only);
/// - every pod reaches outside addresses (no egress policy).
#[test]
fn reach_lists_the_expected_connections() {
    let out = kubeseg(&["reach", "-"], CLUSTER);
    assert_eq!(out.status.code(), Some(0));
    let ext = "0.0.0.0/0,::/0[External]";
    let mut want: Vec<String> = [
        "EXT => prod/a[Pod] : All Connections",
        "EXT => prod/c[Pod] : All Connections",
        "prod/a[Pod] => EXT : All Connections",
        "prod/a[Pod] => prod/b[Pod] : TCP 80",
        "prod/a[Pod] => prod/c[Pod] : All Connections",
        "prod/b[Pod] => EXT : All Connections",
        "prod/b[Pod] => prod/a[Pod] : All Connections",
        "prod/b[Pod] => prod/c[Pod] : All Connections",
        "prod/c[Pod] => EXT : All Connections",
    ]
    .iter()
    .map(|l| l.replace("EXT", ext))
    .collect();
    want.sort();
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    assert_eq!(got, want);
}

/// "Priority is a value from 0 to 1000": 1001 is refused at its line (5), column 13.
#[test]
fn priority_out_of_range_is_an_error_at_its_line() {
    let input = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: too-low}\nspec:\n  priority: 1001\n  subject: {namespaces: {}}\n  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}\n";
    for command in ["reach", "explain"] {
        let mut args = vec![command, "-"];
        if command == "explain" {
            args.extend(["--from", "1.2.3.4", "--to", "5.6.7.8"]);
        }
        let out = kubeseg(&args, input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(out.stdout.is_empty(), "{command}");
        let e = at(&stderr, "error[");
        assert!(stderr[e..].contains("1001"), "{stderr}");
        assert!(stderr[e..].contains("--> -:5:13"), "{stderr}");
    }
}

/// Deny TCP 80 then Accept TCP 1-65535 in the Admin tier, a Baseline Deny of everything:
/// the Admin tier decides every TCP port, so the Baseline rule is consulted for UDP,
/// SCTP, ICMP and ICMPv6 only and `decides` must say so (it must not claim TCP 80, which the Admin Deny
/// decided).
#[test]
fn explain_json_baseline_decides_only_what_the_admin_tier_left() {
    let input = r#"apiVersion: v1
kind: Pod
metadata: {name: a, namespace: prod, labels: {app: a}}
spec: {containers: [{name: main, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: prod, labels: {app: b}}
spec: {containers: [{name: main, image: app}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: split}
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
"#;
    let out = kubeseg(
        &[
            "explain", "-", "--from", "prod/a", "--to", "prod/b", "--port", "80", "--format",
            "json",
        ],
        input,
    );
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["allowed"], json!(false));
    assert_eq!(
        doc["connections"],
        json!({"SCTP": [], "TCP": [[1, 79], [81, 65535]], "UDP": [], "ICMP": [], "ICMPv6": []})
    );
    let decides: Vec<(String, Value)> = doc["ingress"]["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                format!("{} {}", t["policy"], t["rule"]),
                t["decides"].clone(),
            )
        })
        .collect();
    let all = json!([[1, 65535]]);
    // Every ICMP message, `type * 256 + code`.
    let every_message = json!([[0, 65535]]);
    assert_eq!(
        decides,
        vec![
            (
                "\"ClusterNetworkPolicy/split\" \"ingress[0]\"".into(),
                tcp(80, 80)
            ),
            (
                "\"ClusterNetworkPolicy/split\" \"ingress[1]\"".into(),
                json!({"SCTP": [], "TCP": [[1, 79], [81, 65535]], "UDP": [], "ICMP": [], "ICMPv6": []})
            ),
            (
                "\"ClusterNetworkPolicy/default\" \"ingress[0]\"".into(),
                json!({"SCTP": all, "TCP": [], "UDP": all, "ICMP": every_message, "ICMPv6": every_message})
            ),
        ]
    );
}
