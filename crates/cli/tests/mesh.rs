//! `explain` and `reach` on the article's mesh example (`examples/mesh/ci-cd.yaml`): the
//! search service accepts only POST requests from `cluster.local/ns/default/sa/1tap`.
//! Every expectation is derived by hand from the YAML and Istio's documented semantics.

mod common;

use common::kubeseg;
use serde_json::Value;

const ARTICLE: &str = "examples/mesh/ci-cd.yaml";
const ISOLATE: &str = "crates/cli/tests/mesh/isolate-search.yaml";
const STRICT: &str = "crates/cli/tests/mesh/strict.yaml";
const IDENTITY: &str = "cluster.local/ns/default/sa/1tap";
/// The only rule of `default/ci-cd`: `  - from:` on line 86, its mapping at column 5.
const RULE_AT: &str = "examples/mesh/ci-cd.yaml:86:5";

fn run(args: &[&str]) -> String {
    let out = kubeseg(args);
    assert!(
        out.status.success(),
        "kubeseg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn explain(paths: &[&str], from: &str, method: Option<&str>, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = vec!["explain"];
    args.extend(paths);
    args.extend(["--from", from, "--to", "default/search", "--port", "8080"]);
    if let Some(m) = method {
        args.extend(["--method", m]);
    }
    args.extend(extra);
    args.into_iter().map(str::to_string).collect()
}

fn text(paths: &[&str], from: &str, method: Option<&str>, extra: &[&str]) -> String {
    let args = explain(paths, from, method, extra);
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn json(paths: &[&str], from: &str, method: Option<&str>, extra: &[&str]) -> Value {
    let mut args = explain(paths, from, method, extra);
    args.extend(["--format".to_string(), "json".to_string()]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_rule_location_is_where_the_yaml_says() {
    let yaml = std::fs::read_to_string(format!("{}/{ARTICLE}", common::ROOT)).unwrap();
    assert_eq!(yaml.lines().nth(85), Some("  - from:"));
}

#[test]
fn explain_text_post_from_1tap_is_allowed() {
    let out = text(&[ARTICLE], "default/ci", Some("POST"), &[]);
    let first = out.lines().next().unwrap();
    assert!(first.ends_with("on TCP 8080: ALLOWED"), "{out}");
    assert!(
        out.contains("mesh (Istio) on TCP 8080, POST: allowed"),
        "{out}"
    );
    assert!(out.contains(&format!("principal {IDENTITY}")), "{out}");
    assert!(
        out.contains(&format!("ALLOW default/ci-cd rules[0] ({RULE_AT})")),
        "{out}"
    );
}

#[test]
fn explain_text_get_from_1tap_is_denied_by_the_mesh() {
    let out = text(&[ARTICLE], "default/ci", Some("GET"), &[]);
    let first = out.lines().next().unwrap();
    assert!(first.contains("DENIED"), "{out}");
    assert!(
        out.contains("mesh (Istio) on TCP 8080, GET: denied"),
        "{out}"
    );
}

#[test]
fn explain_json_post_from_1tap() {
    let v = json(&[ARTICLE], "default/ci", Some("POST"), &[]);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["verdict"], "allowed");
    let m = &v["mesh"][0];
    assert_eq!(m["port"], 8080);
    assert_eq!(m["allowed"], true);
    assert_eq!(m["principal"], IDENTITY);
    assert_eq!(m["mtls"]["mode"], "PERMISSIVE");
    assert_eq!(m["sourceDataplane"], "sidecar");
    assert_eq!(m["destinationDataplane"], "sidecar");
    assert_eq!(m["deciding"]["policy"], "default/ci-cd");
    assert_eq!(m["deciding"]["rule"], "rules[0]");
    assert_eq!(m["deciding"]["location"], RULE_AT);
}

#[test]
fn explain_json_get_from_1tap() {
    let v = json(&[ARTICLE], "default/ci", Some("GET"), &[]);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["verdict"], "denied");
    let m = &v["mesh"][0];
    assert_eq!(m["allowed"], false);
    assert_eq!(m["principal"], IDENTITY);
    assert_eq!(m["deciding"], Value::Null);
}

#[test]
fn explain_json_without_method_is_conditional_on_post() {
    let v = json(&[ARTICLE], "default/ci", None, &[]);
    assert_eq!(v["allowed"], false, "not provably allowed");
    assert_eq!(v["verdict"], "conditional");
    let m = &v["mesh"][0];
    assert_eq!(m["allowed"], Value::Null);
    let conds = m["conditional"].to_string();
    assert!(
        conds.contains("request.method") && conds.contains("POST"),
        "{conds}"
    );
}

#[test]
fn explain_json_post_from_web_is_denied() {
    let v = json(&[ARTICLE], "default/web", Some("POST"), &[]);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["verdict"], "denied");
    assert_eq!(v["mesh"][0]["principal"], "cluster.local/ns/default/sa/web");
}

#[test]
fn explain_json_no_sidecar_source_under_strict() {
    // legacy/batch runs as 1tap but without a sidecar: plaintext, rejected by STRICT.
    let v = json(&[ARTICLE, STRICT], "legacy/batch", Some("POST"), &[]);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["verdict"], "denied");
    let m = &v["mesh"][0];
    assert_eq!(m["sourceDataplane"], "none");
    assert_eq!(m["mtls"]["mode"], "STRICT");
    assert_eq!(m["principal"], Value::Null);
    assert_eq!(m["allowed"], false);
}

#[test]
fn explain_composes_l4_denial_with_mesh_approval() {
    // The mesh would accept the POST, but NetworkPolicy isolates search and allows nothing.
    let v = json(&[ARTICLE, ISOLATE], "default/ci", Some("POST"), &[]);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["verdict"], "denied");
}

#[test]
fn explain_with_another_trust_domain_denies() {
    // The rule names a cluster.local identity; in trust domain example.org ci is
    // example.org/ns/default/sa/1tap, which it does not match.
    let v = json(
        &[ARTICLE],
        "default/ci",
        Some("POST"),
        &["--trust-domain", "example.org"],
    );
    assert_eq!(v["mesh"][0]["principal"], "example.org/ns/default/sa/1tap");
    assert_eq!(v["verdict"], "denied");
}

#[test]
fn the_root_namespace_flag_makes_its_selectorless_policies_mesh_wide() {
    // `root-deny.yaml` holds a selector-less DENY of every request in `mesh-root`. Under
    // the default root (istio-system) it covers only mesh-root, so POST from 1tap is
    // allowed by ci-cd; with `--istio-root-namespace mesh-root` it covers search too,
    // and DENY wins over ALLOW.
    const ROOT_DENY: &str = "crates/cli/tests/mesh/root-deny.yaml";
    let default_root = json(&[ARTICLE, ROOT_DENY], "default/ci", Some("POST"), &[]);
    assert_eq!(default_root["verdict"], "allowed");
    let v = json(
        &[ARTICLE, ROOT_DENY],
        "default/ci",
        Some("POST"),
        &["--istio-root-namespace", "mesh-root"],
    );
    assert_eq!(v["verdict"], "denied");
    assert_eq!(v["mesh"][0]["deciding"]["policy"], "mesh-root/deny-all");
}

fn reach_line(out: &str, src: &str, dst: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("{src} => {dst} ")))
        .unwrap_or_else(|| panic!("no {src} => {dst} in\n{out}"))
        .to_string()
}

#[test]
fn reach_annotates_connections_into_meshed_workloads() {
    let out = run(&["reach", ARTICLE]);
    let ci = reach_line(&out, "default/ci[Deployment]", "default/search[Deployment]");
    let mesh = ci
        .split_once(" [mesh: ")
        .unwrap_or_else(|| panic!("no mesh annotation: {ci}"))
        .1;
    assert!(mesh.ends_with(']'), "{ci}");
    assert!(mesh.contains("POST"), "{ci}");
    assert!(mesh.contains(IDENTITY), "{ci}");
    assert!(!mesh.contains("denied"), "{ci}");
    // web's identity does not match the rule; batch has no sidecar: no principal.
    for src in ["default/web[Deployment]", "legacy/batch[Deployment]"] {
        let line = reach_line(&out, src, "default/search[Deployment]");
        assert!(
            line.contains("[mesh: ") && line.contains("denied"),
            "{line}"
        );
        assert!(!line.contains("POST"), "{line}");
    }
    // legacy/batch runs no proxy and no policy covers it: nothing to annotate.
    let batch = reach_line(&out, "default/ci[Deployment]", "legacy/batch[Deployment]");
    assert!(!batch.contains("[mesh:"), "{batch}");
}

/// With search admitting only TCP 8080 from pods, web's direct hop is denied by the mesh
/// for every request (web presents `sa/web`, the only ALLOW rule wants `sa/1tap`), so
/// the audit's shortest path from web goes through ci, which presents `sa/1tap`
/// (its POST requests are accepted). Under UDP or SCTP the direct hop would stay, since
/// Istio does not authorize them: `search-tcp-8080.yaml` leaves only TCP 8080.
#[test]
fn audit_paths_leave_out_hops_the_mesh_always_denies() {
    const TCP_ONLY: &str = "crates/cli/tests/mesh/search-tcp-8080.yaml";
    let audit = |paths: &[&str]| {
        let mut args = vec!["audit"];
        args.extend(paths);
        args.extend([
            "--assume-compromised",
            "default/web",
            "--crown-jewel",
            "app=search",
            "--only",
            "KS202",
            "--format",
            "json",
        ]);
        let out = kubeseg(&args);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"][0]["title"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let with_mesh = audit(&[ARTICLE, TCP_ONLY]);
    assert!(
        with_mesh.contains("2 hop(s)")
            && with_mesh.contains(
                "default/web[Deployment] → default/ci[Deployment] → default/search[Deployment]"
            ),
        "{with_mesh}"
    );
    // All connections (UDP and SCTP too) to search: the direct hop stays.
    let all_protocols = audit(&[ARTICLE]);
    assert!(all_protocols.contains("1 hop(s)"), "{all_protocols}");
}
