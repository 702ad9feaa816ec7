#![allow(clippy::print_stderr)]
//! `kubeseg lint` on the two broken examples of `examples/lint`: the findings and lines
//! derived by hand, the rendered text as a reviewed snapshot, the code list snapshot,
//! exit statuses and SARIF validity.

mod common;

use common::{kubeseg, snapshot};
use serde_json::Value;
use std::collections::BTreeSet;

fn findings(file: &str) -> BTreeSet<(String, u64)> {
    let out = kubeseg(&["lint", file, "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn set(items: &[(&str, u64)]) -> BTreeSet<(String, u64)> {
    items.iter().map(|(c, l)| (c.to_string(), *l)).collect()
}

#[test]
fn deny_backend_egress_is_a_misfiled_misnamed_dns_cutting_policy() {
    // Line 2: `kind: ClusterRoleBinding` under a made-up group, yet the spec is a
    // NetworkPolicy's. Read as one (line 1 starts it): named `deny-backend-egress`, it
    // allows egress to every pod of its namespace and selects every pod, not a backend;
    // and its only egress rule stays in `default`, so DNS in kube-system is cut.
    assert_eq!(
        findings("examples/lint/deny-backend-egress.yaml"),
        set(&[("KL003", 2), ("KL101", 1), ("KL104", 1)])
    );
}

#[test]
fn ci_cd_authorization_policy_has_a_made_up_group_and_an_invalid_name() {
    // Line 1: apiVersion network.servicemeshk8.io/v1 for an Istio AuthorizationPolicy;
    // line 4: `CI-CD` has upper-case letters, which no object name may have; line 11: the
    // rule relies on a principal, and no PeerAuthentication makes mTLS STRICT; line 12:
    // `sa/1Tap` is no ServiceAccount name (upper case), so the principal never matches.
    assert_eq!(
        findings("examples/lint/ci-cd-authorization.yaml"),
        set(&[("KL003", 1), ("KL001", 4), ("KL203", 11), ("KL205", 12)])
    );
}

#[test]
fn rendered_examples_match_their_reviewed_snapshots() {
    for (file, snap) in [
        (
            "examples/lint/deny-backend-egress.yaml",
            "lint-deny-backend-egress.txt",
        ),
        (
            "examples/lint/ci-cd-authorization.yaml",
            "lint-ci-cd-authorization.txt",
        ),
    ] {
        let out = kubeseg(&["lint", file, "--color", "never"]);
        assert_eq!(out.status.code(), Some(1), "high findings fail by default");
        snapshot(snap, &String::from_utf8(out.stdout).unwrap());
    }
}

#[test]
fn the_list_of_codes_is_stable() {
    let out = kubeseg(&["rules"]);
    assert!(out.status.success());
    snapshot("rules.txt", &String::from_utf8(out.stdout).unwrap());
}

#[test]
fn fail_on_and_filters() {
    let file = "examples/lint/deny-backend-egress.yaml";
    assert_eq!(
        kubeseg(&["lint", file, "--fail-on", "critical"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        kubeseg(&["lint", file, "--only", "misleading-name"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        kubeseg(&["lint", file, "--skip", "KL003,KL104", "--fail-on", "medium"])
            .status
            .code(),
        Some(1)
    );
    let bad = kubeseg(&["lint", file, "--only", "KS101"]);
    assert_eq!(bad.status.code(), Some(2), "audit codes are not lint codes");
    assert!(bad.stdout.is_empty());
}

#[test]
fn lint_sarif_is_valid() {
    let Some(validator) = common::sarif_validator() else {
        return;
    };
    let out = kubeseg(&["lint", "examples/lint", "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = common::violations(&validator, &sarif);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(
        sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "KL101")
    );
}
