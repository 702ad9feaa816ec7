#![allow(clippy::print_stderr)]
//! `kubeseg audit` on the bundled example: facts derived by hand from the manifests
//! (see `examples/wordpress-cluster/EXPECTED.md`), snapshots of every format, the SARIF
//! output against the SARIF 2.1.0 schema, exit statuses and bad input.

mod common;

use common::{ROOT, kubeseg, snapshot};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const EXAMPLE: &str = "examples/wordpress-cluster";

fn stdout_of(args: &[&str]) -> String {
    let out = kubeseg(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn audit_json() -> Value {
    serde_json::from_str(&stdout_of(&["audit", EXAMPLE, "--format", "json", "-q"])).unwrap()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn strings(v: &Value, key: &str) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x[key].as_str().unwrap().to_string())
        .collect()
}

fn first_endpoints(doc: &Value, code: &str) -> BTreeSet<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .map(|f| f["endpoints"][0].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn entry_points_and_crown_jewels_are_the_hand_derived_ones() {
    let doc = audit_json();
    // The LoadBalancer Service blogs/wordpress selects app=wordpress; no policy isolates
    // blogs. search/search admits 2001:db8::/32 (minus 2001:db8:1::/48) by ipBlock.
    assert_eq!(
        strings(&doc["entryPoints"], "workload"),
        set(&[
            "blogs/wordpress-a[Deployment]",
            "blogs/wordpress-b[Deployment]",
            "blogs/wordpress-c[Deployment]",
            "search/search[Deployment]"
        ])
    );
    // mysql 3306, redis 6379, search 9200 (and their images); the two private APIs by label.
    assert_eq!(
        strings(&doc["crownJewels"], "workload"),
        set(&[
            "data/mysql[StatefulSet]",
            "data/redis[Deployment]",
            "internal/payments-api[Deployment]",
            "internal/users-api[Deployment]",
            "search/search[Deployment]"
        ])
    );
}

#[test]
fn wordpress_reaches_mysql_and_the_private_apis() {
    let doc = audit_json();
    let paths: BTreeSet<Vec<String>> = doc["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["hops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let hops = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // mysql admits app=wordpress from blogs on `mysql` (3306); users-api admits it on 8080;
    // payments-api admits only users-api, whose egress allows it on `grpc`.
    for p in [
        hops(&["blogs/wordpress-a[Deployment]", "data/mysql[StatefulSet]"]),
        hops(&[
            "blogs/wordpress-a[Deployment]",
            "internal/users-api[Deployment]",
        ]),
        hops(&[
            "blogs/wordpress-a[Deployment]",
            "internal/users-api[Deployment]",
            "internal/payments-api[Deployment]",
        ]),
        hops(&[
            "blogs/wordpress-a[Deployment]",
            "internal/users-api[Deployment]",
            "data/redis[Deployment]",
        ]),
        hops(&["search/search[Deployment]"]),
    ] {
        assert!(paths.contains(&p), "missing path {p:?}");
    }
    // 4 entry points × 5 crown jewels, and each pair is connected.
    assert_eq!(paths.len(), 20, "{paths:?}");
}

#[test]
fn flat_namespace_leaks_metadata_and_the_segmented_ones_are_clean() {
    let doc = audit_json();
    // Every workload whose egress no policy isolates reaches 169.254.169.254.
    assert_eq!(
        first_endpoints(&doc, "KS301"),
        set(&[
            "blogs/debug-shell[Pod]",
            "blogs/wordpress-a[Deployment]",
            "blogs/wordpress-b[Deployment]",
            "blogs/wordpress-c[Deployment]",
            "kube-system/kube-dns[Deployment]",
            "search/search[Deployment]"
        ])
    );
    // data and internal isolate both directions of every pod and allow only what they need.
    for f in doc["findings"].as_array().unwrap() {
        let code = f["code"].as_str().unwrap();
        let first = f["endpoints"][0].as_str().unwrap();
        let segmented = first.starts_with("data") || first.starts_with("internal");
        let dead_billing_policy = first == "internal/billing-legacy-ingress";
        assert!(
            !segmented || code == "KS202" || dead_billing_policy,
            "{code} on {first}"
        );
    }
}

#[test]
fn minimal_fix_is_the_hand_derived_cut() {
    let doc = audit_json();
    let fix: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "KS801")
        .collect();
    assert_eq!(fix.len(), 1);
    // Into mysql 3 edges, into users-api 3, into search 4 (three from WordPress, one from
    // debug-shell): edge-disjoint last hops, so 10 is a lower bound, and this cut meets it.
    let got: BTreeSet<String> = fix[0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    let mut want = set(&["blogs/debug-shell[Pod] → search/search[Deployment]"]);
    for w in ["a", "b", "c"] {
        for dst in [
            "data/mysql[StatefulSet]",
            "internal/users-api[Deployment]",
            "search/search[Deployment]",
        ] {
            want.insert(format!("blogs/wordpress-{w}[Deployment] → {dst}"));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn sarif_is_valid_against_the_sarif_2_1_0_schema() {
    let Some(validator) = common::sarif_validator() else {
        return;
    };
    let sarif: Value =
        serde_json::from_str(&stdout_of(&["audit", EXAMPLE, "--format", "sarif", "-q"])).unwrap();
    let errors = common::violations(&validator, &sarif);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // Results point at manifest lines.
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or("");
        assert!(
            uri.starts_with("examples/wordpress-cluster/") || r["ruleId"] == "KS801",
            "{r}"
        );
    }
}

#[test]
fn every_format_matches_its_reviewed_snapshot() {
    for (format, file) in [
        ("text", "audit-example.txt"),
        ("json", "audit-example.json"),
        ("sarif", "audit-example.sarif"),
        ("md", "audit-example.md"),
    ] {
        let out = stdout_of(&[
            "audit", EXAMPLE, "--format", format, "--color", "never", "-q",
        ]);
        snapshot(file, &out);
        // Deterministic: a second run is byte-identical.
        assert_eq!(
            out,
            stdout_of(&[
                "audit", EXAMPLE, "--format", format, "--color", "never", "-q"
            ])
        );
    }
}

#[test]
fn fail_on_sets_the_exit_status() {
    let out = kubeseg(&["audit", EXAMPLE, "--fail-on", "critical", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stdout.is_empty());
    // KS601 findings are low: below the threshold.
    let out = kubeseg(&[
        "audit",
        EXAMPLE,
        "--only",
        "policy-selects-nothing",
        "--fail-on",
        "medium",
        "-q",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubeseg(&[
        "audit",
        EXAMPLE,
        "--skip",
        "KS202,KS801",
        "--only",
        "KS202",
        "--fail-on",
        "info",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_flags_are_errors_naming_what_was_asked() {
    for (args, needle) in [
        (
            vec!["--crown-jewel", "app=nothing-like-this"],
            "app=nothing-like-this",
        ),
        (vec!["--assume-compromised", "blogs/nope"], "blogs/nope"),
        (vec!["--only", "KS999"], "KS999"),
        (vec!["--apiserver", "10.0.0.1:99999"], "99999"),
        (vec!["--node-cidr", "10.0.0.0/33"], "10.0.0.0/33"),
        (vec!["--crown-jewel", "a in ("], "a in ("),
    ] {
        let mut all = vec!["audit", EXAMPLE];
        all.extend(args.iter().copied());
        let out = kubeseg(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn assumed_compromised_workload_becomes_an_entry_point() {
    let doc: Value = serde_json::from_str(&stdout_of(&[
        "audit",
        EXAMPLE,
        "--format",
        "json",
        "-q",
        "--assume-compromised",
        "search/reindex",
    ]))
    .unwrap();
    assert!(strings(&doc["entryPoints"], "workload").contains("search/reindex[CronJob]"));
    // reindex's egress allows search (TCP 9200) and mysql (TCP 3306), and both admit it? mysql
    // admits only WordPress, search admits app=reindex: one hop to search only.
    let from_reindex: Vec<&Value> = doc["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["hops"][0] == "search/reindex[CronJob]")
        .collect();
    assert!(from_reindex.iter().any(|p| p["hops"]
        == serde_json::json!(["search/reindex[CronJob]", "search/search[Deployment]"])));
    assert!(
        !from_reindex
            .iter()
            .any(|p| p["hops"].as_array().unwrap().len() == 2
                && p["hops"][1] == "data/mysql[StatefulSet]")
    );
}

#[test]
fn docs_rules_md_is_generated_from_the_registry() {
    let md = stdout_of(&["rules", "--format", "md"]);
    let path = Path::new(ROOT).join("docs/rules.md");
    if std::env::var_os("KUBESEG_BLESS").is_some() {
        std::fs::write(&path, &md).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        md,
        "docs/rules.md is stale (KUBESEG_BLESS=1 regenerates it)"
    );
}

#[test]
fn rules_lists_every_code_and_documents_one() {
    let list = stdout_of(&["rules"]);
    for code in ["KS101", "KS202", "KS301", "KS501", "KS801"] {
        assert!(list.contains(code), "{code}");
    }
    let doc = stdout_of(&["rules", "crown-jewel-path"]);
    assert!(doc.contains("KS202") && doc.contains("Why is this bad"));
    assert_eq!(kubeseg(&["rules", "KS000"]).status.code(), Some(2));
}

#[test]
fn hops_on_udp_alone_are_counted_without_the_entry_points_own_pods() {
    // No mesh. From a/web: db admits it on UDP 5432 only, cache on TCP and UDP 6379,
    // dns has no policy (every port): 3 direct hops, 1 of them without TCP. web's own
    // replicas reach each other on UDP 9999 alone, which is no hop to another workload
    // and must not be counted.
    let deployment = |name: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: a}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: i}}]}}\n---\n"
        )
    };
    let admit = |name: &str, ports: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: a}}\nspec:\n  podSelector: {{matchLabels: {{app: {name}}}}}\n  ingress:\n  - from: [{{podSelector: {{matchLabels: {{app: web}}}}}}]\n    ports: [{ports}]\n---\n"
        )
    };
    let mut yaml = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n");
    for name in ["web", "db", "cache", "dns"] {
        yaml.push_str(&deployment(name));
    }
    yaml.push_str(&admit("web", "{port: 9999, protocol: UDP}"));
    yaml.push_str(&admit("db", "{port: 5432, protocol: UDP}"));
    yaml.push_str(&admit(
        "cache",
        "{port: 6379, protocol: TCP}, {port: 6379, protocol: UDP}",
    ));
    let dir = common::scratch("udp-hops", &[("c.yaml", &yaml)]);
    let path = dir.join("c.yaml");
    let args = [
        "audit",
        path.to_str().unwrap(),
        "--assume-compromised",
        "a/web",
        "--only",
        "KS201",
        "--format",
        "json",
    ];
    let out = kubeseg(&args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &doc["findings"][0];
    let evidence: Vec<&str> = finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("1 of its 3 direct hop(s) are open on UDP, SCTP or ICMP only")),
        "{finding}"
    );
}
