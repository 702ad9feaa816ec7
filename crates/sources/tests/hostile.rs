//! Hostile and odd input read in process: bounded nesting and aliases, and verdicts
//! that match what `kubectl apply` would store. Expected values come from the API
//! server's validation (k8s.io/kubernetes pkg/apis/networking/validation) and from
//! go-yaml v2 (resolve.go, decode.go), the YAML reader behind kubectl.

mod common;

use common::{diagnostics, errors, line_of};
use kubeseg_model::{PortMatch, Severity};
use kubeseg_sources::load_str;

/// Asserts that `text` loads with exactly one error, `code` at the line holding `marker`.
fn rejected_at(text: &str, code: &str, marker: &str) {
    let loaded = load_str("t.yaml", text);
    assert_eq!(
        errors(&loaded),
        vec![(code, line_of(text, marker))],
        "{:#?}",
        loaded.diagnostics
    );
}

const POLICY_HEAD: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: prod}
spec:
  podSelector: {}
";

/// Nested aliases, nine copies a level: 9^9 strings when expanded in full.
fn laughs(indent: &str) -> String {
    let mut s = format!(
        "{indent}a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    );
    let mut prev = 'a';
    for c in "bcdefghi".chars() {
        let refs = vec![format!("*{prev}"); 9].join(",");
        s += &format!("{indent}{c}: &{c} [{refs}]\n");
        prev = c;
    }
    s
}

#[test]
fn alias_expansion_is_bounded_in_a_skipped_kind() {
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: lol}}\ndata:\n{}",
        laughs("  ")
    );
    let loaded = load_str("t.yaml", &text);
    let errs = errors(&loaded);
    assert_eq!(errs.len(), 1, "{:#?}", loaded.diagnostics);
    assert_eq!(errs[0].0, "alias-limit");
    // 9^5 = 59,049 nodes fit the budget of 100,000 after level e; level f (9^6) does not.
    assert_eq!(errs[0].1, line_of(&text, "f: &f"));
}

#[test]
fn alias_expansion_is_bounded_in_an_annotation_and_a_selector() {
    let annotation = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n{}spec: {{containers: [{{name: c, image: i}}]}}\n",
        laughs("    ")
    );
    assert_eq!(errors(&load_str("t.yaml", &annotation))[0].0, "alias-limit");
    let selector = format!(
        "{POLICY_HEAD}  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {{app: x}}\n      x:\n{}",
        laughs("        ")
    );
    assert_eq!(errors(&load_str("t.yaml", &selector))[0].0, "alias-limit");
}

#[test]
fn small_alias_use_still_works() {
    let text = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: &l {app: web}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: prod, labels: {app: api}}
spec: {containers: [{name: c, image: i, ports: [&p {containerPort: 8080}]}]}
";
    let loaded = load_str("t.yaml", text);
    // The anchor `l` belongs to the first document only; nothing refers to it later.
    assert!(errors(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.cluster.workloads.len(), 2);
}

#[test]
fn every_form_of_deep_nesting_is_an_error_not_a_crash() {
    let cases = [
        ("block sequences", "- ".repeat(10_000) + "x\n"),
        (
            "block maps",
            (0..9_000)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect::<String>()
                + &" ".repeat(9_000)
                + "b\n",
        ),
        (
            "flow YAML",
            "a: ".to_string() + &"[".repeat(50_000) + &"]".repeat(50_000),
        ),
        ("JSON arrays", "[".repeat(100_000) + &"]".repeat(100_000)),
        (
            "JSON objects",
            "{\"a\":".repeat(40_000) + "1" + &"}".repeat(40_000),
        ),
    ];
    for (what, text) in cases {
        let loaded = load_str("t.yaml", &text);
        let errs = errors(&loaded);
        assert_eq!(errs.len(), 1, "{what}: {:#?}", loaded.diagnostics);
        assert_eq!(errs[0].0, "depth-limit", "{what}");
    }
}

#[test]
fn nesting_up_to_the_limit_is_read() {
    // 200 levels: the top-level mapping is level 1.
    let yaml = |depth: usize| {
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nx: ".to_string()
            + &"[".repeat(depth - 1)
            + &"]".repeat(depth - 1)
            + "\n"
    };
    let json = |depth: usize| {
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}, \"x\": "
            .to_string()
            + &"[".repeat(depth - 1)
            + &"]".repeat(depth - 1)
            + "}"
    };
    for (name, text) in [("t.yaml", yaml(200)), ("t.json", json(200))] {
        let loaded = load_str(name, &text);
        assert!(
            errors(&loaded).is_empty(),
            "{name}: {:#?}",
            loaded.diagnostics
        );
    }
    // One more level: the JSON reader's own bound (the YAML scanner's flow bound is 255).
    assert_eq!(errors(&load_str("t.json", &json(201)))[0].0, "depth-limit");
}

/// go-yaml gives each document its own anchors, and kubectl splits the stream first:
/// an alias to an earlier document's anchor is an error, in a small file and in a
/// file large enough to be read in parallel pieces alike.
#[test]
fn anchors_do_not_cross_documents_at_any_file_size() {
    let tail = "---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: prod, labels: &shared {app: a}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: prod, labels: *shared}
spec: {containers: [{name: c, image: i}]}
";
    let filler: String = (0..12_000)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{k: \"{}\"}}\n", "v".repeat(60)))
        .collect();
    assert!(
        filler.len() > 1 << 20,
        "the large case must span two parallel pieces"
    );
    for text in [tail.to_string(), filler + tail] {
        let loaded = load_str("t.yaml", &text);
        let errs = errors(&loaded);
        assert_eq!(
            errs,
            vec![("syntax-error", line_of(&text, "labels: *shared"))]
        );
    }
}

#[test]
fn yaml_1_1_scalars_read_as_kubectl_reads_them() {
    let text = format!(
        "{POLICY_HEAD}  ingress:
  - ports:
    - port: 0443
    - port: !!int 5432
    - port: 1_000
    - port: 0x1F
    - port: 8.0
"
    );
    let loaded = load_str("t.yaml", &text);
    assert!(errors(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
    let ports: Vec<PortMatch> = loaded.cluster.policies[0].ingress[0]
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.port.clone())
        .collect();
    // Octal 0443 = 4·64 + 4·8 + 3; `8.0` reaches the API server as JSON `8`.
    assert_eq!(
        ports,
        [291, 5432, 1000, 31, 8]
            .map(|p| PortMatch::Range(p, p))
            .to_vec()
    );
}

#[test]
fn yaml_1_1_booleans_are_not_strings() {
    // kubectl rejects `namespace: y` (a boolean); kubeseg says why.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: y}\nspec: {containers: [{name: c, image: i}]}\n";
    let loaded = load_str("t.yaml", text);
    assert_eq!(errors(&loaded), vec![("invalid-type", 3)]);
    assert!(loaded.diagnostics[0].message.contains("quote the value"));
    let quoted = text.replace("namespace: y", "namespace: 'y'");
    assert!(errors(&load_str("t.yaml", &quoted)).is_empty());
}

#[test]
fn merge_keys_apply_as_go_yaml_applies_them() {
    let text = "apiVersion: v1
kind: Pod
metadata:
  name: a
  namespace: prod
  labels:
    tier: early
    <<: [{app: first, tier: merged}, {app: second, zone: z1}]
    zone: z2
spec: {containers: [{name: c, image: i}]}
";
    let loaded = load_str("t.yaml", text);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let labels = &loaded.cluster.workloads[0].pods[0].labels;
    // Earlier maps in the list win; the merge overwrites keys before `<<`; keys after win.
    assert_eq!(labels.get("app").map(String::as_str), Some("first"));
    assert_eq!(labels.get("tier").map(String::as_str), Some("merged"));
    assert_eq!(labels.get("zone").map(String::as_str), Some("z2"));
    let bad = text.replace(
        "<<: [{app: first, tier: merged}, {app: second, zone: z1}]",
        "<<: 5",
    );
    assert_eq!(errors(&load_str("t.yaml", &bad))[0].0, "syntax-error");
}

#[test]
fn a_peer_whose_only_selector_is_null_is_rejected() {
    let text = format!("{POLICY_HEAD}  ingress:\n  - from:\n    - podSelector: null\n");
    rejected_at(&text, "invalid-peer", "podSelector: null");
}

#[test]
fn a_null_ip_block_beside_a_selector_is_absent() {
    let text =
        format!("{POLICY_HEAD}  ingress:\n  - from:\n    - {{podSelector: {{}}, ipBlock: null}}\n");
    let loaded = load_str("t.yaml", &text);
    assert!(errors(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.cluster.policies.len(), 1);
}

#[test]
fn more_than_two_policy_types_are_rejected() {
    let text = format!("{POLICY_HEAD}  policyTypes: [Ingress, Egress, Ingress]\n");
    rejected_at(&text, "invalid-policy-type", "policyTypes");
    let two = format!("{POLICY_HEAD}  policyTypes: [Ingress, Ingress]\n");
    assert!(errors(&load_str("t.yaml", &two)).is_empty());
}

#[test]
fn invalid_label_values_in_match_expressions_are_rejected() {
    let text = format!(
        "{POLICY_HEAD}  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - {{key: app, operator: In, values: [\"not a value\"]}}\n"
    );
    rejected_at(&text, "invalid-label", "not a value");
}

#[test]
fn a_subdomain_part_longer_than_63_characters_is_a_valid_name() {
    let name = format!("{}.example", "a".repeat(70));
    let text = POLICY_HEAD.replace("name: p,", &format!("name: {name},"));
    let loaded = load_str("t.yaml", &text);
    assert!(errors(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
    let too_long = POLICY_HEAD.replace("name: p,", &format!("name: {},", "a".repeat(254)));
    assert_eq!(errors(&load_str("t.yaml", &too_long))[0].0, "invalid-name");
}

#[test]
fn duplicate_keys_in_labels_and_metadata_warn() {
    let text = "apiVersion: v1
kind: Pod
metadata:
  name: a
  namespace: prod
  labels:
    app: one
    app: two
  namespace: prod
spec: {containers: [{name: c, image: i}]}
";
    let loaded = load_str("t.yaml", text);
    let warnings = diagnostics(&loaded, Severity::Warning);
    assert_eq!(
        warnings,
        vec![("duplicate-field", 8), ("duplicate-field", 9)],
        "{:#?}",
        loaded.diagnostics
    );
    let labels = &loaded.cluster.workloads[0].pods[0].labels;
    assert_eq!(labels.get("app").map(String::as_str), Some("two"));
}

#[test]
fn a_huge_value_is_not_echoed_in_full() {
    let value = "v".repeat(10 << 20);
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: a, labels: {{app: {value}}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n"
    );
    let loaded = load_str("t.yaml", &text);
    assert_eq!(errors(&loaded), vec![("invalid-label", 3)]);
    let d = &loaded.diagnostics[0];
    assert!(d.message.len() < 500, "{} bytes", d.message.len());
    assert!(d.snippet.is_none(), "a 10 MB line is not a snippet");
}

/// kubectl keeps the last of two equal keys in YAML (go-yaml v2) and in JSON (Go's
/// encoding/json), in every mapping, not only in the fields a decoder checks: a pod
/// whose port entry says `containerPort` twice serves the second port.
#[test]
fn the_last_of_two_equal_keys_wins_everywhere_with_a_warning() {
    let yaml = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod}
spec:
  containers:
  - name: c
    image: i
    ports:
    - containerPort: 80
      containerPort: 8080
";
    let json = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
 "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "containerPort": 8080}]}]}}"#;
    for (name, text, line) in [("t.yaml", yaml, 10), ("t.json", json, 2)] {
        let loaded = load_str(name, text);
        assert_eq!(
            diagnostics(&loaded, Severity::Warning),
            vec![("duplicate-field", line)],
            "{name}: {:#?}",
            loaded.diagnostics
        );
        let ports: Vec<u16> = loaded.cluster.workloads[0].pods[0]
            .ports
            .iter()
            .map(|p| p.port)
            .collect();
        assert_eq!(ports, vec![8080], "{name}");
    }
}

#[test]
fn a_key_given_twice_in_a_spec_is_an_error() {
    let text = "apiVersion: kubeseg.io/v1
kind: ConnectivitySpec
assertions: []
assertions: []
";
    let errs: Vec<(&str, u32)> = kubeseg_sources::spec::parse_spec("s.yaml", text)
        .unwrap_err()
        .iter()
        .map(|d| (d.code, d.location.as_ref().map_or(0, |l| l.line)))
        .collect();
    assert_eq!(errs, vec![("invalid-spec", 4)]);
}
