//! `kubeseg test` on the bundled example and `examples/wordpress-spec.yaml`: verdicts
//! derived by hand from `examples/wordpress-cluster/EXPECTED.md`, counterexamples, every
//! format (snapshots, JUnit and TAP structure, SARIF validity) and bad specs.

mod common;

use common::{kubeseg, snapshot};
use serde_json::Value;

const CLUSTER: &str = "examples/wordpress-cluster";
const SPEC: &str = "examples/wordpress-spec.yaml";

fn run(format: &str) -> (Option<i32>, String) {
    let out = kubeseg(&["test", CLUSTER, "--spec", SPEC, "--format", format, "-q"]);
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// (name, passed) of every assertion of a JSON report, in order.
fn verdicts(doc: &Value) -> Vec<(String, bool)> {
    doc["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["passed"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn verdicts_are_the_hand_derived_ones() {
    let (code, out) = run("json");
    assert_eq!(code, Some(1), "failing assertions exit 1");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let verdicts = verdicts(&doc);
    let want = [
        // blogs is flat and mysql admits app=wordpress from blogs on `mysql` (3306).
        ("the blogs namespace cannot reach MySQL", false),
        ("WordPress reaches its database", true),
        // debug-shell lacks app=wordpress.
        ("the debug shell cannot reach MySQL", true),
        // mysql's only ingress rule admits the three WordPress workloads, and no ipBlock.
        ("only WordPress reaches MySQL", true),
        // data is reached from blogs (mysql) and internal (redis) and reaches kube-dns only.
        ("data talks only to its clients and DNS", true),
        // wordpress → users-api (8080) → payments-api (grpc 9090).
        ("no path from the blogs to payments", false),
        // wordpress-a reaches 9 of the 10 other workloads (all but search/reindex).
        ("a compromised WordPress reaches at most 5 workloads", false),
        ("the users API reaches the cache", true),
        // reindex's egress allows mysql on 3306, but mysql's ingress admits only WordPress.
        ("the reindex job reaches MySQL", false),
    ];
    let want: Vec<(String, bool)> = want.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(verdicts, want);
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(5), Some(4))
    );
    let first = &doc["assertions"][0]["counterexample"];
    assert_eq!(first["dst"], "data/mysql[StatefulSet]");
    assert_eq!(
        (first["protocol"].as_str(), first["port"].as_u64()),
        (Some("TCP"), Some(3306))
    );
    let path = &doc["assertions"][5]["counterexample"]["path"];
    assert_eq!(
        path,
        &serde_json::json!([
            "blogs/wordpress-a[Deployment]",
            "internal/users-api[Deployment]",
            "internal/payments-api[Deployment]"
        ])
    );
    // The failing allow names the policies that isolate mysql's ingress, with their lines.
    let evidence = doc["assertions"][8]["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| {
        e["message"]
            .as_str()
            .unwrap()
            .contains("data/mysql-from-wordpress")
    }));
}

#[test]
fn every_format_matches_its_snapshot_and_is_deterministic() {
    for (format, file) in [
        ("text", "test-example.txt"),
        ("json", "test-example.json"),
        ("junit", "test-example.xml"),
        ("tap", "test-example.tap"),
        ("sarif", "test-example.sarif"),
    ] {
        let (_, out) = run(format);
        snapshot(file, &out);
        assert_eq!(out, run(format).1);
    }
}

#[test]
fn junit_and_tap_have_one_case_per_assertion() {
    let (_, junit) = run("junit");
    assert_eq!(junit.matches("<testcase ").count(), 9);
    assert_eq!(junit.matches("<failure ").count(), 4);
    assert!(junit.contains("name=\"the reindex job reaches MySQL\""));
    let (_, tap) = run("tap");
    assert!(tap.starts_with("TAP version 13\n1..9\n"));
    assert_eq!(tap.lines().filter(|l| l.starts_with("not ok ")).count(), 4);
    assert_eq!(tap.lines().filter(|l| l.starts_with("ok ")).count(), 5);
}

#[test]
fn sarif_points_at_the_failing_assertions() {
    let (_, out) = run("sarif");
    let sarif: Value = serde_json::from_str(&out).unwrap();
    let lines: Vec<u64> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(lines, vec![6, 18, 20, 24]);
    if let Some(v) = common::sarif_validator() {
        let errors = common::violations(&v, &sarif);
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }
}

#[test]
fn bad_specs_are_errors_at_their_line() {
    let dir = std::env::temp_dir().join(format!("kubeseg-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, needle) in [
        (
            "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: a\n  deny: {from: blogs/*, to: data/mysql, prot: TCP/3306}\n",
            ":5:",
        ),
        (
            "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: a\n  deny: {from: blogs/nope, to: data/mysql}\n",
            "blogs/nope",
        ),
        (
            "apiVersion: kubeseg.io/v1\nkind: Spec\nassertions: []\n",
            ":2:",
        ),
    ] {
        let path = dir.join("spec.yaml");
        std::fs::write(&path, text).unwrap();
        let out = kubeseg(&["test", CLUSTER, "--spec", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle} not in {err}");
    }
    // A spec that cannot be read is an input error too, not an output error.
    let out = kubeseg(&["test", CLUSTER, "--spec", "no/such/spec.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_passing_spec_exits_zero() {
    let dir = std::env::temp_dir().join(format!("kubeseg-spec-ok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spec.yaml");
    std::fs::write(&path, "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: api reaches the cache\n  allow: {from: internal/users-api, to: data/redis, port: TCP/6379}\n- name: cache reaches nothing but DNS\n  deny: {from: data/redis, to: blogs/*}\n").unwrap();
    let out = kubeseg(&["test", CLUSTER, "--spec", path.to_str().unwrap(), "-q"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_form_passes_and_fails_as_derived_by_hand() {
    let out = kubeseg(&[
        "test",
        CLUSTER,
        "--spec",
        "crates/cli/tests/specs/forms.yaml",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts = verdicts(&doc);
    let want = [
        // redis admits internal/users-api (on 6379), which is not listed.
        ("only payments reaches redis", false),
        // blogs/wordpress reaches users-api on 8080.
        ("internal is isolated", false),
        // reindex is ingress-isolated with no ingress rule: nothing reaches it.
        ("nothing reaches the reindex job", true),
        // payments → kube-dns (UDP 53) → blogs (4) → mysql, users-api, search → redis:
        // 9 of the 10 others, everything but reindex.
        ("payments reaches at most 90 percent", true),
        // reindex reaches search (9200), mysql is closed to it, kube-dns is open.
        ("the reindex job reaches nothing", false),
        // users-api admits only WordPress pods; no ipBlock.
        ("a documentation range cannot reach the users API", true),
        // users-api egress: 203.0.113.0/24 except 203.0.113.128/25 on TCP 443.
        ("the users API reaches its partner on 443", true),
        ("the users API cannot reach the excepted half", true),
        // search ingress: 2001:db8::/32 except 2001:db8:1::/48 on TCP 9200-9300.
        ("an IPv6 client reaches search", true),
        // redis admits users-api only; tier=frontend is WordPress.
        ("frontends cannot reach redis", true),
        ("every WordPress reaches both the API and MySQL", true),
    ];
    let want: Vec<(String, bool)> = want.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(verdicts, want);
    let only = &doc["assertions"][0]["counterexample"];
    assert_eq!(
        (only["src"].as_str(), only["dst"].as_str()),
        (
            Some("internal/users-api[Deployment]"),
            Some("data/redis[Deployment]")
        )
    );
    for (format, file) in [
        ("text", "test-forms.txt"),
        ("junit", "test-forms.xml"),
        ("tap", "test-forms.tap"),
    ] {
        let out = kubeseg(&[
            "test",
            CLUSTER,
            "--spec",
            "crates/cli/tests/specs/forms.yaml",
            "--format",
            format,
            "-q",
        ]);
        snapshot(file, &String::from_utf8(out.stdout).unwrap());
    }
}
