//! `kubeseg diff` on the bundled example against a copy with two edits, in both
//! directions and through `--git`; expected changes derived by hand from EXPECTED.md.

mod common;

use common::{ROOT, kubeseg, snapshot};
use serde_json::Value;
use std::path::{Path, PathBuf};

const LOCKDOWN: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: debug-shell-lockdown\n  namespace: blogs\nspec:\n  podSelector:\n    matchLabels:\n      app: debug-shell\n  policyTypes: [Ingress, Egress]\n";

/// A copy of the example where mysql admits only wordpress-a and debug-shell is locked down.
fn edited(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubeseg-diff-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let src = Path::new(ROOT).join("examples/wordpress-cluster");
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let mut text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name == "data.yaml" {
                let before = "              app: wordpress\n      ports:";
                assert!(text.contains(before));
                text = text.replace(
                    before,
                    "              app: wordpress\n              instance: a\n      ports:",
                );
            }
            if name == "blogs.yaml" {
                text.push_str(LOCKDOWN);
            }
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    dir
}

fn json(args: &[&str]) -> (Option<i32>, Value) {
    let out = kubeseg(args);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

/// The (policy, edit) pairs a change is attributed to.
fn causes(change: &Value) -> Vec<(String, String)> {
    change["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["object"].as_str().unwrap().to_string(),
                c["edit"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["src"].as_str().unwrap().to_string(),
                c["dst"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_edits_remove_exactly_the_hand_derived_connections() {
    let new = edited("fwd");
    let (code, doc) = json(&[
        "diff",
        "examples/wordpress-cluster",
        new.to_str().unwrap(),
        "--format",
        "json",
        "-q",
        "--fail-on-change",
    ]);
    assert_eq!(code, Some(1), "--fail-on-change");
    assert!(doc["added"].as_array().unwrap().is_empty());
    assert!(doc["changed"].as_array().unwrap().is_empty());
    let removed = pairs(&doc["removed"]);
    // debug-shell had no policy: 5 workloads and 3 address ranges each way (16), and
    // wordpress-b and -c lose MySQL (mysql-from-wordpress now requires instance=a).
    assert_eq!(removed.len(), 18, "{removed:?}");
    for w in ["b", "c"] {
        let pair = (
            format!("blogs/wordpress-{w}[Deployment]"),
            "data/mysql[StatefulSet]".to_string(),
        );
        let i = removed
            .iter()
            .position(|p| *p == pair)
            .expect("mysql removal");
        assert_eq!(
            causes(&doc["removed"][i]),
            vec![(
                "data/mysql-from-wordpress".to_string(),
                "modified".to_string()
            )]
        );
        // Modified: located in NEW, where the policy now lives (data.yaml line 137).
        let at = &doc["removed"][i]["attribution"][0]["location"];
        assert!(at["file"].as_str().unwrap().ends_with("data.yaml"));
        assert_eq!(at["line"], 137);
        assert_eq!(
            doc["removed"][i]["allowed"]["TCP"],
            serde_json::json!([[3306, 3306]])
        );
    }
    assert!(!removed.contains(&(
        "blogs/wordpress-a[Deployment]".into(),
        "data/mysql[StatefulSet]".into()
    )));
    assert_eq!(
        removed
            .iter()
            .filter(|(s, d)| s.contains("debug-shell") || d.contains("debug-shell"))
            .count(),
        16
    );
    let edits: Vec<(String, String)> = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["object"].as_str().unwrap().into(),
                p["edit"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        edits,
        vec![
            ("blogs/debug-shell-lockdown".into(), "added".into()),
            ("data/mysql-from-wordpress".into(), "modified".into())
        ]
    );
    let (code, _) = json(&[
        "diff",
        "examples/wordpress-cluster",
        new.to_str().unwrap(),
        "--format",
        "json",
        "-q",
        "--fail-on-added",
    ]);
    assert_eq!(code, Some(0), "nothing is added");
    let _ = std::fs::remove_dir_all(&new);
}

#[test]
fn reversed_the_same_connections_are_added() {
    let new = edited("rev");
    let (code, doc) = json(&[
        "diff",
        new.to_str().unwrap(),
        "examples/wordpress-cluster",
        "--format",
        "json",
        "-q",
        "--fail-on-added",
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(doc["added"].as_array().unwrap().len(), 18);
    let causes: Vec<&Value> = doc["added"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["attribution"].as_array().unwrap())
        .collect();
    assert!(
        causes
            .iter()
            .any(|c| c["object"] == "blogs/debug-shell-lockdown" && c["edit"] == "removed")
    );
    let _ = std::fs::remove_dir_all(&new);
}

#[test]
fn every_format_matches_its_snapshot() {
    // The copy's path is not stable, so the formats are taken the other way round:
    // OLD is the copy, NEW the example (locations point into the example).
    let old = edited("fmt");
    for (format, file) in [
        ("text", "diff-example.txt"),
        ("json", "diff-example.json"),
        ("md", "diff-example.md"),
        ("sarif", "diff-example.sarif"),
    ] {
        let out = kubeseg(&[
            "diff",
            old.to_str().unwrap(),
            "examples/wordpress-cluster",
            "--format",
            format,
            "-q",
        ]);
        let text = String::from_utf8(out.stdout)
            .unwrap()
            .replace(old.to_str().unwrap(), "OLD");
        snapshot(file, &text);
        if format == "sarif"
            && let Some(v) = common::sarif_validator()
        {
            let doc: Value = serde_json::from_str(&text).unwrap();
            let errors = common::violations(&v, &doc);
            assert!(errors.is_empty(), "{}", errors.join("\n"));
        }
    }
    let _ = std::fs::remove_dir_all(&old);
}

#[test]
fn git_mode_compares_with_a_revision() {
    let repo = std::env::temp_dir().join(format!("kubeseg-diff-git-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(repo.join("k8s")).unwrap();
    let base = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec: {containers: [{name: c, image: nginx}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: a, labels: {app: db}}\nspec: {containers: [{name: c, image: postgres}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-closed, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n";
    std::fs::write(repo.join("k8s/app.yaml"), base).unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .current_dir(&repo)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "base"]);
    // The change opens the database to web on 5432.
    let opened = base.replace("  policyTypes: [Ingress]\n", "  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]\n");
    std::fs::write(repo.join("k8s/app.yaml"), opened).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .current_dir(&repo)
        .args([
            "diff",
            "--git",
            "HEAD",
            "k8s",
            "--format",
            "json",
            "--fail-on-added",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        pairs(&doc["added"]),
        vec![("a/web[Pod]".to_string(), "a/db[Pod]".to_string())]
    );
    assert_eq!(
        doc["added"][0]["allowed"]["TCP"],
        serde_json::json!([[5432, 5432]])
    );
    assert_eq!(
        causes(&doc["added"][0]),
        vec![("a/db-closed".to_string(), "modified".to_string())]
    );
    let at = &doc["added"][0]["attribution"][0]["location"];
    assert_eq!(
        (at["file"].as_str(), at["line"].as_u64()),
        (Some("k8s/app.yaml"), Some(11))
    );
    let _ = std::fs::remove_dir_all(&repo);
}

#[test]
fn one_edit_adds_and_another_removes_in_the_same_diff() {
    // users-api-ingress now also admits the search namespace (adds search/* → users-api on
    // 8080); mysql-from-wordpress requires instance=a (removes wordpress-b/c → mysql).
    let new = edited("mix");
    let internal = new.join("internal.yaml");
    let text = std::fs::read_to_string(&internal).unwrap();
    let before = "          podSelector:\n            matchLabels:\n              app: wordpress\n      ports:\n        - protocol: TCP";
    assert!(text.contains(before));
    let text = text.replacen(before, "          podSelector:\n            matchLabels:\n              app: wordpress\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: search\n      ports:\n        - protocol: TCP", 1);
    std::fs::write(&internal, text).unwrap();
    std::fs::remove_file(new.join("blogs.yaml")).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("examples/wordpress-cluster/blogs.yaml"),
        new.join("blogs.yaml"),
    )
    .unwrap();
    let (_, doc) = json(&[
        "diff",
        "examples/wordpress-cluster",
        new.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    let added = pairs(&doc["added"]);
    // search and reindex reach users-api on 8080 only if their egress allows it: search's
    // egress is open, reindex's is isolated without a rule to internal.
    assert_eq!(
        added,
        vec![(
            "search/search[Deployment]".to_string(),
            "internal/users-api[Deployment]".to_string()
        )]
    );
    assert_eq!(
        causes(&doc["added"][0]),
        vec![(
            "internal/users-api-ingress".to_string(),
            "modified".to_string()
        )]
    );
    assert_eq!(
        doc["added"][0]["allowed"]["TCP"],
        serde_json::json!([[8080, 8080]])
    );
    let removed = pairs(&doc["removed"]);
    assert_eq!(removed.len(), 2, "{removed:?}");
    for r in doc["removed"].as_array().unwrap() {
        assert_eq!(
            causes(r),
            vec![(
                "data/mysql-from-wordpress".to_string(),
                "modified".to_string()
            )]
        );
    }
    let _ = std::fs::remove_dir_all(&new);
}

/// One dataplane for both sides, resolved over both: OLD holds a Calico Deny, NEW adds a
/// Cilium policy that selects no pod, so the cluster runs Cilium, which never enforces
/// the Calico policy on either side. Derived by hand: nothing else isolates `b`, so
/// `a => b` is open before and after, and the diff adds nothing.
#[test]
fn both_sides_leave_out_what_the_one_dataplane_does_not_enforce() {
    let pods = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: shop, labels: {app: b}}\nspec: {containers: [{name: c, image: i}]}\n";
    let calico = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: no-a, namespace: shop}\nspec:\n  selector: app == 'b'\n  ingress:\n  - action: Deny\n    source: {selector: app == 'a'}\n";
    let cilium = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: nobody, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: none}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: a}}]\n";
    let old = common::scratch(
        "diff-dataplane-old",
        &[("pods.yaml", pods), ("calico.yaml", calico)],
    );
    let new = common::scratch(
        "diff-dataplane-new",
        &[
            ("pods.yaml", pods),
            ("calico.yaml", calico),
            ("cilium.yaml", cilium),
        ],
    );
    let (out, err, code) = common::run(&[
        "diff",
        &old.display().to_string(),
        &new.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("0 added, 0 removed, 0 changed")),
        "{out}"
    );
    assert!(out.contains("not enforced under --cni cilium"), "{out}");
}
