//! `audit --spec` (issue 14, item 2): required flows are never cut, and a crown jewel
//! the entry points reach over required flows alone is intended, not a finding.
//!
//! `intent/shop.yaml` is a flat namespace (no NetworkPolicy): `web` is the entry
//! point (a LoadBalancer Service), `db` and `cache` the crown jewels (`tier=data`).
//! `intent/spec.yaml` requires web → api and api → db. By hand:
//! - without the spec, the fewest connections cutting web from both jewels are web's
//!   own three: web → api, web → cache, web → db;
//! - with it, web → api → db is intended, so db is no finding; cache must still be
//!   cut off, and since web, api and db all stay reachable (the required flows are
//!   kept), every connection into cache goes: api → cache, db → cache, web → cache.

mod common;

use common::kubeseg;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/intent");

fn audit(extra: &[&str]) -> Value {
    let input = format!("{DIR}/shop.yaml");
    let mut args = vec![
        "audit",
        input.as_str(),
        "--crown-jewel",
        "tier=data",
        "--format",
        "json",
        "-q",
    ];
    args.extend(extra);
    let out = kubeseg(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn of<'d>(doc: &'d Value, code: &str) -> Vec<&'d Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

#[test]
fn the_minimal_fix_never_cuts_a_required_flow() {
    let plain = audit(&[]);
    let fix = of(&plain, "KS801");
    assert_eq!(fix.len(), 1);
    assert_eq!(
        fix[0]["endpoints"],
        serde_json::json!([
            "shop/web[Deployment] → shop/api[Deployment]",
            "shop/web[Deployment] → shop/cache[Deployment]",
            "shop/web[Deployment] → shop/db[Deployment]"
        ])
    );
    let spec = format!("{DIR}/spec.yaml");
    let with = audit(&["--spec", &spec]);
    let fix = of(&with, "KS801");
    assert_eq!(fix.len(), 1);
    assert_eq!(
        fix[0]["endpoints"],
        serde_json::json!([
            "shop/api[Deployment] → shop/cache[Deployment]",
            "shop/db[Deployment] → shop/cache[Deployment]",
            "shop/web[Deployment] → shop/cache[Deployment]"
        ])
    );
    assert!(
        fix[0]["title"]
            .as_str()
            .unwrap()
            .contains("keeping every flow --spec requires")
    );
}

#[test]
fn a_crown_jewel_reached_over_required_flows_only_is_intended() {
    let plain = audit(&[]);
    let jewels = |d: &Value| -> Vec<String> {
        of(d, "KS202")
            .iter()
            .map(|f| f["endpoints"][0].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        jewels(&plain),
        ["shop/cache[Deployment]", "shop/db[Deployment]"]
    );
    let spec = format!("{DIR}/spec.yaml");
    let with = audit(&["--spec", &spec]);
    assert_eq!(jewels(&with), ["shop/cache[Deployment]"]);
    let notes: Vec<&str> = with["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("crown jewel shop/db[Deployment] is reached from the entry points over flows --spec requires (the api uses its database, web calls the api): intended")),
        "{notes:?}"
    );
    // The remaining path names the hop no assertion requires.
    let cache = of(&with, "KS202")[0];
    assert!(
        cache["evidence"].as_array().unwrap().iter().any(|e| e["message"] == "shop/web[Deployment] → shop/cache[Deployment] is on the path and no assertion of --spec requires it"),
        "{cache}"
    );
    // Listed paths leave out the intended one.
    let paths: Vec<&Value> = with["paths"].as_array().unwrap().iter().collect();
    assert!(
        paths
            .iter()
            .all(|p| p["hops"].as_array().unwrap().last().unwrap() != "shop/db[Deployment]"),
        "{paths:?}"
    );
}

#[test]
fn a_spec_party_that_matches_nothing_is_an_error() {
    let dir = std::env::temp_dir().join(format!("kubeseg-intent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.yaml");
    std::fs::write(&spec, "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: typo\n  allow: {from: shop/wbe, to: shop/api}\n").unwrap();
    let input = format!("{DIR}/shop.yaml");
    let out = kubeseg(&["audit", &input, "--spec", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.yaml:5:") && err.contains("`shop/wbe` matches nothing"),
        "{err}"
    );
}

#[test]
fn a_required_flow_needs_all_its_ports_open() {
    // db admits api on TCP 5432 only; a spec requiring TCP 5433 requires a flow that
    // does not exist (`kubeseg test` fails it), so db is not reached as intended.
    let dir = std::env::temp_dir().join(format!("kubeseg-intent-ports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shop = std::fs::read_to_string(format!("{DIR}/shop.yaml")).unwrap();
    let policy = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]\n";
    std::fs::write(dir.join("shop.yaml"), format!("{shop}{policy}")).unwrap();
    let spec = std::fs::read_to_string(format!("{DIR}/spec.yaml")).unwrap();
    for (port, intended) in [("5432", true), ("5433", false)] {
        let spec_file = dir.join(format!("spec-{port}.yaml"));
        std::fs::write(&spec_file, spec.replace("TCP/5432", &format!("TCP/{port}"))).unwrap();
        let input = dir.join("shop.yaml").display().to_string();
        let out = kubeseg(&[
            "audit",
            &input,
            "--crown-jewel",
            "tier=data",
            "--format",
            "json",
            "-q",
            "--spec",
            spec_file.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let db_finding = of(&doc, "KS202")
            .iter()
            .any(|f| f["endpoints"][0] == "shop/db[Deployment]");
        assert_eq!(db_finding, !intended, "TCP/{port}");
        let notes = doc["notes"].to_string();
        assert_eq!(
            notes.contains("does not allow TCP 5433"),
            !intended,
            "{notes}"
        );
    }
}
