//! Cilium's `toServices` end to end through the binary, on
//! `tests/cilium/services.yaml`. Every expectation is derived by hand from the manifest
//! (line numbers counted in it) and cilium/cilium pkg/policy/k8s/service.go
//! (`processRule`, Cilium 1.17 and later):
//! - `web-out` (line 38) puts shop/web's egress into default deny (`Sanitize`);
//! - its `egress[0]` (line 44) names Service `api` without a namespace, so any
//!   namespace (`serviceRefMatches`): only shop/api exists, which selects `app: api`,
//!   so the rule allows shop/web to the pods `app: api` of namespace shop
//!   (`appendSelector`) on TCP 9000 — not staging/api, which has the same labels;
//! - its `egress[1]` (line 46) names shop/payments, which has no selector: its
//!   EndpointSlice (line 29) gives 203.0.113.10 (ready unknown: ready) and not
//!   203.0.113.11 (neither ready nor serving; pkg/k8s/endpoints.go
//!   `ParseEndpointSliceV1`), allowed on TCP 443 (`appendEndpoints`).

use serde_json::Value;

mod common;
use common::{run, scratch};

const SERVICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cilium/services.yaml");

/// Everything outside the cluster but 203.0.113.10.
const WORLD: &str = "0.0.0.0-203.0.113.9,203.0.113.11-255.255.255.255,::/0[External]";

fn web_rows(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with("shop/web[Pod] =>"))
        .collect()
}

#[test]
fn reach_follows_both_kinds_of_service() {
    let (out, err, code) = run(&["reach", SERVICES]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
    // shop/web's egress is default deny: only what the two rules generate.
    assert_eq!(
        web_rows(&out),
        [
            "shop/web[Pod] => 203.0.113.10[External] : TCP 443",
            "shop/web[Pod] => shop/api[Pod] : TCP 9000",
        ]
    );
    // Nothing else is isolated.
    let staging = format!("staging/api[Pod] => {WORLD} : All Connections");
    assert!(out.lines().any(|l| l == staging), "{out}");
}

#[test]
fn explain_names_the_to_services_rule_at_its_line() {
    let (out, err, code) = run(&[
        "explain", SERVICES, "--from", "shop/web", "--to", "shop/api", "--port", "9000",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("on TCP 9000: ALLOWED"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("CiliumNetworkPolicy/shop/web-out egress[0]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.ends_with("services.yaml:44:5): allows TCP 9000"),
        "{line}"
    );
    // staging/api has the same labels but not the Service's namespace.
    let (out, err, code) = run(&[
        "explain",
        SERVICES,
        "--from",
        "shop/web",
        "--to",
        "staging/api",
        "--port",
        "9000",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("on TCP 9000: DENIED"), "{out}");
    assert!(
        out.contains("services.yaml:44:5): no peer matches"),
        "{out}"
    );
    // The selectorless Service's address, by egress[1] at line 46.
    let (out, err, code) = run(&[
        "explain",
        SERVICES,
        "--from",
        "shop/web",
        "--to",
        "203.0.113.10",
        "--port",
        "443",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], true);
    let rules = v["egress"]["rules"].as_array().unwrap();
    let matching: Vec<(&str, &str)> = rules
        .iter()
        .filter(|r| r["peerMatches"] == true)
        .map(|r| (r["rule"].as_str().unwrap(), r["location"].as_str().unwrap()))
        .collect();
    assert_eq!(matching.len(), 1, "{out}");
    assert_eq!(matching[0].0, "egress[1]");
    assert!(matching[0].1.ends_with("services.yaml:46:5"), "{out}");
    // The address the slice marks neither ready nor serving is not allowed.
    let (out, err, code) = run(&[
        "explain",
        SERVICES,
        "--from",
        "shop/web",
        "--to",
        "203.0.113.11",
        "--port",
        "443",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("on TCP 443: DENIED"), "{out}");
}

#[test]
fn a_service_the_input_lacks_is_warned_and_opens_the_ports_to_everyone() {
    let text = std::fs::read_to_string(SERVICES)
        .unwrap()
        .replace("serviceName: api}", "serviceName: gone}");
    let dir = scratch("cilium-services-gone", &[("s.yaml", &text)]);
    let file = dir.join("s.yaml");
    let (out, err, code) = run(&["reach", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    // The entry (line 44, column 18) matches nothing; its rule (44:5) keeps toPorts
    // without an L3 selector, which Cilium applies to every peer (RulesToPolicyEntries;
    // cilium/cilium#20067).
    assert!(
        err.contains("warning[cilium-service-missing]") && err.contains("s.yaml:44:18"),
        "{err}"
    );
    assert!(
        err.contains("warning[cilium-service-wildcard]") && err.contains("s.yaml:44:5"),
        "{err}"
    );
    assert_eq!(
        web_rows(&out),
        [
            format!("shop/web[Pod] => {WORLD} : TCP 9000").as_str(),
            "shop/web[Pod] => 203.0.113.10[External] : TCP 443,9000",
            "shop/web[Pod] => shop/api[Pod] : TCP 9000",
            "shop/web[Pod] => staging/api[Pod] : TCP 9000",
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}
