//! Cilium's policies end to end through the binary, on `tests/cilium/shop.yaml`: what
//! `reach`, `explain`, `audit`, `diff`, `test` and `lint` say, and what `--cni` changes.
//! Every expectation is derived by hand from the manifest (line numbers counted in it)
//! and Cilium's documented semantics:
//! - `api-from-web` (line 30) isolates shop/api: only shop/web on TCP 9000 (a CNP's
//!   `fromEndpoints` without a namespace means its own namespace).
//! - `monitoring` (line 39, cluster-wide, `enableDefaultDeny: {ingress: false}`) adds
//!   TCP 9090 from namespace ops wherever something else isolates, and isolates nothing.
//! - `web-egress` (line 49) puts shop/web's egress into default deny: shop/api on TCP
//!   9000 and `world` on TCP 443, where `world` holds neither the node (10.0.0.10) nor,
//!   by the `egressDeny` of line 60, the metadata service's two addresses.
//! - NetworkPolicy `db` (line 62) isolates shop/db: TCP 5432 from shop/api and ops.

use serde_json::Value;

mod common;
use common::run;

const SHOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cilium/shop.yaml");

fn reach(extra: &[&str]) -> String {
    let mut args = vec!["reach", SHOP];
    args.extend(extra);
    let (out, err, code) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    out
}

/// The world as one atom: every address but the node's and the metadata service's
/// (169.254.169.254 and fd00:ec2::254).
const WORLD: &str = "0.0.0.0-10.0.0.9,10.0.0.11-169.254.169.253,169.254.169.255-255.255.255.255,::-fd00:ec2::253,fd00:ec2::255-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff[External]";

#[test]
fn reach_composes_cilium_allows_denies_and_network_policies() {
    let out = reach(&[]);
    for line in [
        "shop/web[Pod] => shop/api[Pod] : TCP 9000".to_string(),
        format!("shop/web[Pod] => {WORLD} : TCP 443"),
        "ops/mon[Pod] => shop/api[Pod] : TCP 9090".into(),
        "ops/mon[Pod] => shop/db[Pod] : TCP 5432,9090".into(),
        "shop/api[Pod] => shop/db[Pod] : TCP 5432".into(),
        // `monitoring` isolates nothing: shop/web's ingress stays open.
        "shop/api[Pod] => shop/web[Pod] : All Connections".into(),
        "10.0.0.10[External] => shop/web[Pod] : All Connections".into(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in\n{out}");
    }
    for absent in [
        // web's egress: not db, not the node, not the metadata service.
        "shop/web[Pod] => shop/db[Pod]",
        "shop/web[Pod] => 10.0.0.10[External]",
        "shop/web[Pod] => 169.254.169.254[External]",
        // api and db are isolated and admit nothing from outside.
        "[External] => shop/api[Pod]",
        "[External] => shop/db[Pod]",
        "shop/db[Pod] => shop/api[Pod]",
    ] {
        assert!(!out.contains(absent), "unexpected {absent} in\n{out}");
    }
}

#[test]
fn explain_names_the_cilium_rules_at_their_lines() {
    let (out, err, code) = run(&[
        "explain",
        SHOP,
        "--from",
        "shop/web",
        "--to",
        "169.254.169.254",
        "--port",
        "443",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("on TCP 443: DENIED"), "{out}");
    assert!(
        out.contains("[Cilium] CiliumNetworkPolicy/shop/web-egress egressDeny[0]")
            && out.contains("shop.yaml:60:5"),
        "{out}"
    );
    assert!(
        out.contains(
            "TCP 443 decided by [Cilium] CiliumNetworkPolicy/shop/web-egress egressDeny[0] Deny"
        ),
        "{out}"
    );
    let (out, err, code) = run(&[
        "explain", SHOP, "--from", "ops/mon", "--to", "shop/db", "--port", "9090", "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], true);
    let ingress = &v["ingress"];
    assert_eq!(ingress["isolated"], true);
    // The NetworkPolicy isolates db; the cluster-wide policy's rule adds TCP 9090.
    let policies: Vec<&str> = ingress["isolatingPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policy"].as_str().unwrap())
        .collect();
    assert_eq!(policies, ["shop/db"]);
    let rule = ingress["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["policy"] == "CiliumClusterwideNetworkPolicy/monitoring")
        .expect("the monitoring rule");
    assert_eq!(rule["rule"], "ingress[0]");
    assert!(
        rule["location"]
            .as_str()
            .unwrap()
            .ends_with("shop.yaml:46:5")
    );
    assert_eq!(rule["failed"], Value::Null);
}

#[test]
fn the_audit_sees_what_cilium_denies() {
    let (out, err, code) = run(&["audit", SHOP, "--format", "json"]);
    assert!(code == Some(0) || code == Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["ciliumPolicies"], 3);
    let metadata: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "KS301")
        .map(|f| f["endpoints"][0].as_str().unwrap())
        .collect();
    // shop/web's egressDeny keeps it from the metadata service; the others reach it.
    assert_eq!(metadata, ["ops/mon[Pod]", "shop/api[Pod]", "shop/db[Pod]"]);
}

#[test]
fn diff_names_the_cilium_policy_that_closes_connections() {
    let text = std::fs::read_to_string(SHOP).unwrap();
    let (start, end) = (
        text.find("apiVersion: cilium.io/v2").unwrap(),
        text.find("---\napiVersion: cilium.io/v2\nkind: CiliumClusterwide")
            .unwrap(),
    );
    let old = format!("{}{}", &text[..start], &text[end + 4..]);
    let dir = common::scratch("cilium-diff", &[("old.yaml", &old)]);
    let old = dir.join("old.yaml").display().to_string();
    let (out, err, code) = run(&["diff", &old, SHOP]);
    assert_eq!(code, Some(0), "{err}");
    // Without `api-from-web`, api admits everything; with it, only web on 9000 and ops
    // on 9090 remain.
    assert!(
        out.contains("CiliumNetworkPolicy shop/api-from-web"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("shop/db[Pod] => shop/api[Pod]") && l.starts_with('-')),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn test_checks_assertions_on_cilium_verdicts() {
    let spec = "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: web reaches api\n  allow: {from: shop/web, to: shop/api, port: TCP/9000}\n- name: db does not reach api\n  deny: {from: shop/db, to: shop/api}\n- name: web does not reach the metadata service\n  deny: {from: shop/web, to: 169.254.169.254, port: TCP/443}\n";
    let dir = common::scratch("cilium-test", &[("spec.yaml", spec)]);
    let spec = dir.join("spec.yaml").display().to_string();
    let (out, err, code) = run(&["test", "--spec", &spec, SHOP]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("3 passed"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn under_another_dataplane_cilium_policies_are_left_out_visibly() {
    let out = reach(&["--cni", "generic"]);
    // Without Cilium, api is open to everyone, and the answer says what it left out.
    assert!(
        out.contains("shop/db[Pod] => shop/api[Pod] : All Connections"),
        "{out}"
    );
    assert!(
        out.contains("CiliumNetworkPolicy/shop/api-from-web is not enforced under --cni generic"),
        "{out}"
    );
    let (_, err, code) = run(&["reach", SHOP, "--ipblock-pod-ips"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--ipblock-pod-ips contradicts Cilium"),
        "{err}"
    );
}

#[test]
fn lint_is_quiet_on_valid_cilium_policies_and_refuses_invalid_ones() {
    let (out, _, code) = run(&["lint", SHOP]);
    assert_eq!(code, Some(0), "{out}");
    // Combining two L3 fields in one rule is refused by Cilium (rule_validation.go).
    let bad = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{}]\n    fromCIDR: [10.0.0.0/8]\n";
    let dir = common::scratch("cilium-lint", &[("bad.yaml", bad)]);
    let bad = dir.join("bad.yaml").display().to_string();
    let (out, _, code) = run(&["lint", &bad]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("bad.yaml:8:5") && out.contains("invalid-peer"),
        "{out}"
    );
    let (_, err, code) = run(&["reach", &bad]);
    assert_eq!(code, Some(2), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_says_when_l7_rules_filter_the_requests() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: a, labels: {app: api}}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: api, namespace: a}\nspec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts:\n    - ports: [{port: \"8080\", protocol: TCP}]\n      rules: {http: [{method: GET, path: /api/.*}]}\n";
    let dir = common::scratch("cilium-l7", &[("l7.yaml", yaml)]);
    let file = dir.join("l7.yaml").display().to_string();
    let explain = [
        "explain", &file, "--from", "a/web", "--to", "a/api", "--port", "8080",
    ];
    let (out, err, code) = run(&explain);
    assert_eq!(code, Some(0), "{err}");
    // The port is open at L3/L4; the HTTP rule filters requests, and both say so.
    assert!(out.contains("on TCP 8080: ALLOWED"), "{out}");
    assert!(
        out.contains("allows TCP 8080 (only the requests its L7 http rules match"),
        "{out}"
    );
    assert!(err.contains("warning[cilium-l7]"), "{err}");
    let mut json = explain.to_vec();
    json.extend(["--format", "json"]);
    let (out, _, _) = run(&json);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ingress"]["rules"][0]["l7"], serde_json::json!(["http"]));
    assert!(v["egress"]["rules"].as_array().unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Pods m/a and m/b; b admits from a only ICMP echo requests (Cilium `icmps`, IPv4 type
/// 8, any code, the first ingress rule at line 17) and TCP 9080.
const ICMP_PODS: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: a, namespace: m, labels: {app: a}}
spec: {containers: [{name: main, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: m, labels: {app: b}}
spec: {containers: [{name: main, image: app, ports: [{containerPort: 9080}]}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: b-in, namespace: m}
spec:
  endpointSelector: {matchLabels: {app: b}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: a}}]
    icmps: [{fields: [{type: EchoRequest}]}]
  - fromEndpoints: [{matchLabels: {app: a}}]
    toPorts: [{ports: [{port: "9080", protocol: TCP}]}]
"#;

/// Runs kubeseg on `input` as its stdin: (stdout, stderr, exit code).
fn run_stdin(args: &[&str], input: &str) -> (String, String, Option<i32>) {
    let out = common::kubeseg_stdin(args, input);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

/// ICMP end to end (issue 16), derived by hand: a's pods and b's run sidecars; b admits
/// from a only ICMP echo requests (Cilium `icmps`, IPv4 type 8) and TCP 9080, and an
/// Istio allow-nothing policy (`spec: {}`) denies every TCP request into b. Istio's
/// proxies intercept TCP only, so the mesh never touches ICMP: `reach` lists TCP 9080
/// and ICMP 8 with the mesh's denial on TCP only, the JSON (schemaVersion 3) spells type
/// 8 as messages 2048-2303, and the audit keeps the a → b hop, open on ICMP alone.
#[test]
fn icmp_passes_the_mesh_and_keeps_the_hop() {
    let input = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: m, labels: {{istio-injection: enabled}}}}\n---\n{ICMP_PODS}---\n{}",
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: nothing, namespace: m}\nspec:\n  selector: {matchLabels: {app: b}}\n"
    );
    let run_in = |args: &[&str]| run_stdin(args, &input);
    let (out, err, code) = run_in(&["reach", "-", "--to", "m/b"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        // The annotation names its TCP port: ICMP 8 is not the mesh's.
        out.contains("m/a[Pod] => m/b[Pod] : TCP 9080; ICMP 8 [mesh: TCP 9080: denied]\n"),
        "{out}"
    );
    let (json, err, code) = run_in(&["reach", "-", "--to", "m/b", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["schemaVersion"], 3);
    let c = doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["src"] == "m/a[Pod]")
        .unwrap();
    assert_eq!(
        c["allowed"],
        serde_json::json!({"TCP": [[9080, 9080]], "UDP": [], "SCTP": [],
                           "ICMP": [[2048, 2303]], "ICMPv6": []})
    );
    // The mesh denies every TCP request into b; the hop stays for ICMP.
    let (json, err, _) = run_in(&[
        "audit",
        "-",
        "--assume-compromised",
        "m/a",
        "--only",
        "KS201",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {err}"));
    let f = &doc["findings"][0];
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("reaches 1 of 1 other workloads"),
        "{f}"
    );
    let evidence: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("1 of its 1 direct hop(s) are open on UDP, SCTP or ICMP only")),
        "{evidence:?}"
    );
}

/// `tests/cilium/l7.yaml`, derived by hand (issue 16, L7 rules as conditional allows):
/// - `api-http` (line 27) admits shop/web on TCP 8080 only through an entry with `http`
///   rules (line 34) and on TCP 9090 through one without: 8080 is conditional, 9090 not.
/// - It admits namespace ops on TCP 8080 with `http` rules too (line 39), but `api-ops`
///   (line 43) admits ops on TCP 8080 without L7 rules. Cilium's layer7.rst (v1.20.2):
///   "If a layer 4 rule is specified in the policy, and a similar layer 4 rule with
///   layer 7 rules is also specified, then the layer 7 portions of the latter rule will
///   have no effect", so ops/mon → shop/api on 8080 is plainly allowed.
/// - `web-dns` (line 51) lets shop/web send DNS to shop/dns on UDP 53 only through `dns`
///   rules (line 59): conditional, on UDP, at the source's egress.
const L7: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cilium/l7.yaml");
const API_HTTP: &str =
    "the request matches Cilium's http rules of CiliumNetworkPolicy/shop/api-http ingress[0]";
const WEB_DNS: &str =
    "the request matches Cilium's dns rules of CiliumNetworkPolicy/shop/web-dns egress[0]";

#[test]
fn reach_marks_ports_only_l7_rules_allow_as_conditional() {
    let (out, err, code) = run(&["reach", L7]);
    assert_eq!(code, Some(0), "{err}");
    for line in [
        format!(
            "shop/web[Pod] => shop/api[Pod] : TCP 8080,9090 [cilium-l7: TCP 8080: only if {API_HTTP}]"
        ),
        format!("shop/web[Pod] => shop/dns[Pod] : UDP 53 [cilium-l7: only if {WEB_DNS}]"),
        // The plain allow of `api-ops` lifts the L7 condition for ops.
        "ops/mon[Pod] => shop/api[Pod] : TCP 8080".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in\n{out}");
    }
    let (out, _, _) = run(&["reach", L7, "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let conn = |src: &str, dst: &str| {
        v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["src"] == src && c["dst"] == dst)
            .unwrap_or_else(|| panic!("no {src} => {dst} in {out}"))
            .clone()
    };
    let web_api = conn("shop/web[Pod]", "shop/api[Pod]");
    let mesh = web_api["mesh"].as_array().unwrap();
    assert_eq!(mesh.len(), 1, "{web_api}");
    assert_eq!(mesh[0]["ports"]["TCP"], serde_json::json!([[8080, 8080]]));
    assert_eq!(mesh[0]["allowed"], Value::Null);
    assert_eq!(mesh[0]["reason"], "cilium-l7");
    assert_eq!(mesh[0]["conditional"], serde_json::json!([API_HTTP]));
    assert_eq!(mesh[0]["ciliumL7"], serde_json::json!([API_HTTP]));
    let web_dns = conn("shop/web[Pod]", "shop/dns[Pod]");
    assert_eq!(
        web_dns["mesh"][0]["ports"]["UDP"],
        serde_json::json!([[53, 53]])
    );
    assert_eq!(web_dns["mesh"][0]["allowed"], Value::Null);
    let mon_api = conn("ops/mon[Pod]", "shop/api[Pod]");
    assert!(mon_api.get("mesh").is_none(), "{mon_api}");
}

#[test]
fn test_treats_an_l7_port_as_conditional() {
    // Without a request, a conditional port connects (some request may pass); with
    // one, `allow` needs it allowed outright, which Cilium's unevaluated rules are not,
    // while the port the plain rule opens passes.
    let spec = "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: any request\n  allow: {from: shop/web, to: shop/api, port: TCP/8080}\n- name: one request\n  allow: {from: shop/web, to: shop/api, port: TCP/8080, request: {method: GET, path: /v1/x}}\n- name: ops plain\n  allow: {from: ops/mon, to: shop/api, port: TCP/8080, request: {method: POST}}\n- name: web metrics\n  allow: {from: shop/web, to: shop/api, port: TCP/9090, request: {method: GET}}\n";
    let dir = common::scratch("cilium-l7-test", &[("spec.yaml", spec)]);
    let spec = dir.join("spec.yaml").display().to_string();
    let (out, err, code) = run(&["test", "--spec", &spec, L7]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("3 passed") && out.contains("1 failed"),
        "{out}"
    );
    let failed: Vec<&str> = out.lines().filter(|l| l.contains("FAIL")).collect();
    assert!(
        failed.len() == 1 && failed[0].contains("one request"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn diff_sees_an_l7_rule_narrow_a_port() {
    // Before: `api-http`'s first entry has no L7 rules, so web's TCP 8080 is plainly
    // open; after, only the http rules' requests pass: the ports stay, the condition
    // changes.
    let new = std::fs::read_to_string(L7).unwrap();
    let old = new.replace("      rules: {http: [{method: GET, path: /v1/.*}]}\n", "");
    assert_ne!(old, new);
    let dir = common::scratch("cilium-l7-diff", &[("old.yaml", &old)]);
    let old = dir.join("old.yaml").display().to_string();
    let (out, err, code) = run(&["diff", &old, L7, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let changed = v["changed"].as_array().unwrap();
    let web_api = changed
        .iter()
        .find(|c| c["src"] == "shop/web[Pod]" && c["dst"] == "shop/api[Pod]")
        .unwrap_or_else(|| panic!("web => api not changed in {out}"));
    assert_eq!(web_api["before"], web_api["after"], "{web_api}");
    let after = serde_json::to_string(&web_api["meshAfter"]).unwrap();
    assert!(after.contains(API_HTTP), "{web_api}");
    assert!(
        !serde_json::to_string(&web_api["meshBefore"])
            .unwrap()
            .contains(API_HTTP)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// ICMP in `explain` and `test` (issue 16), derived by hand: b admits from a only ICMP
/// echo requests (Cilium `icmps`, IPv4 type 8, any code) and TCP 9080; nothing selects
/// a, so b reaches a on everything.
#[test]
fn explain_and_test_ask_about_icmp_messages() {
    let run_in = |args: &[&str]| run_stdin(args, ICMP_PODS);
    let explain = |port: &str, protocol: &str| {
        run_in(&[
            "explain",
            "-",
            "--from",
            "m/a",
            "--to",
            "m/b",
            "--protocol",
            protocol,
            "--port",
            port,
        ])
    };
    // Echo request, type 8 code 0: the first ingress rule (line 17) admits it.
    let (out, err, code) = explain("8/0", "ICMP");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("m/a[Pod] => m/b[Pod] on ICMP 8/0: ALLOWED"),
        "{out}"
    );
    assert!(out.contains("ICMP 8/0 decided by"), "{out}");
    // `TYPE` alone is code 0; another code of type 8 is admitted too (the rule has no
    // code); an echo reply (type 0) and ICMPv6's echo request (128) are not.
    let (out, _, _) = explain("8", "icmp");
    assert!(out.contains("on ICMP 8/0: ALLOWED"), "{out}");
    let (out, _, _) = explain("8/5", "ICMP");
    assert!(out.contains("on ICMP 8/5: ALLOWED"), "{out}");
    let (out, _, _) = explain("0/0", "ICMP");
    assert!(out.contains("on ICMP 0/0: DENIED"), "{out}");
    let (out, _, _) = explain("128/0", "ICMPv6");
    assert!(out.contains("on ICMPv6 128/0: DENIED"), "{out}");
    let (json, _, _) = run_in(&[
        "explain",
        "-",
        "--from",
        "m/a",
        "--to",
        "m/b",
        "--protocol",
        "ICMP",
        "--port",
        "8/0",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    // Messages are numbered type * 256 + code, as in every JSON output.
    assert_eq!(v["port"]["protocol"], "ICMP");
    assert_eq!(v["port"]["port"], 2048);
    assert_eq!(v["allowed"], true);
    let (out, err, code) = explain("256/0", "ICMP");
    assert_eq!(code, Some(2), "{out}");
    assert!(err.contains("TYPE or TYPE/CODE"), "{err}");
    // `test`: ICMP/8 (every code of type 8) and ICMP/8/0 are allowed; ICMP/0 and plain
    // ICMP (every message) are not all allowed; b reaches a on any message.
    let dir = common::scratch(
        "icmp-spec",
        &[(
            "spec.yaml",
            "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n\
         - name: ping\n  allow: {from: m/a, to: m/b, port: ICMP/8}\n\
         - name: ping one message\n  allow: {from: m/a, to: m/b, port: ICMP/8/0}\n\
         - name: no echo reply\n  deny: {from: m/a, to: m/b, port: ICMP/0}\n\
         - name: not every message\n  allow: {from: m/a, to: m/b, port: ICMP}\n\
         - name: back\n  allow: {from: m/b, to: m/a, port: [ICMP, ICMPv6/128/0]}\n",
        )],
    );
    let spec = dir.join("spec.yaml");
    let spec = spec.to_str().unwrap();
    let (out, err, code) = run_in(&["test", "-", "--spec", spec, "--format", "json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let passed = |name: &str| {
        v["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {out}"))["passed"]
            .as_bool()
            .unwrap()
    };
    assert!(passed("ping"));
    assert!(passed("ping one message"));
    assert!(passed("no echo reply"));
    assert!(!passed("not every message"));
    assert!(passed("back"));
}

/// `explain`'s verdict on `tests/cilium/l7.yaml` (see above): web → api on TCP 8080 is
/// allowed only for the requests `api-http`'s http rules match, on 9090 outright; ops's
/// 8080 is lifted by `api-ops`; web's DNS on UDP 53 is conditional at its egress.
#[test]
fn explain_verdicts_say_when_only_l7_rules_allow() {
    let explain = |from: &str, to: &str, port: &str, protocol: &str, format: &str| {
        run(&[
            "explain",
            L7,
            "--from",
            from,
            "--to",
            to,
            "--port",
            port,
            "--protocol",
            protocol,
            "--format",
            format,
        ])
    };
    let (out, err, code) = explain("shop/web", "shop/api", "8080", "TCP", "text");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "shop/web[Pod] => shop/api[Pod] on TCP 8080: ALLOWED ONLY IF {API_HTTP}\n"
        )),
        "{out}"
    );
    let (out, _, _) = explain("shop/web", "shop/api", "9090", "TCP", "text");
    assert!(out.contains("on TCP 9090: ALLOWED\n"), "{out}");
    let (out, _, _) = explain("ops/mon", "shop/api", "8080", "TCP", "text");
    assert!(out.contains("on TCP 8080: ALLOWED\n"), "{out}");
    let (out, _, _) = explain("shop/web", "shop/dns", "53", "UDP", "text");
    assert!(
        out.contains(&format!("on UDP 53: ALLOWED ONLY IF {WEB_DNS}\n")),
        "{out}"
    );
    let (json, _, _) = explain("shop/web", "shop/api", "8080", "TCP", "json");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict"], "conditional");
    assert_eq!(v["allowed"], false);
    assert_eq!(v["ciliumL7"][0]["conditions"][0], API_HTTP);
    assert_eq!(
        v["ciliumL7"][0]["ports"]["TCP"],
        serde_json::json!([[8080, 8080]])
    );
    let (json, _, _) = explain("shop/web", "shop/api", "9090", "TCP", "json");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict"], "allowed");
}

/// The HTML pages draw L3/L4 connections; with Cilium L7 rules in the input (and no
/// Istio mesh) their notes say that those rules further restrict requests.
#[test]
fn html_pages_say_that_l7_rules_restrict_requests() {
    for command in ["reach", "audit"] {
        let (page, err, code) = run(&[command, L7, "--format", "html"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            page.contains(
                "L3/L4 connections; Cilium's L7 rules further restrict requests on the ports they filter"
            ),
            "{command}"
        );
        assert!(
            !page.contains("the Istio mesh further restricts"),
            "{command}"
        );
    }
    let (page, _, _) = run(&["reach", SHOP, "--format", "html"]);
    assert!(!page.contains("further restrict"), "no L7 rules, no note");
}

/// `reach --compact` lists L3/L4 only, and says on stderr that Cilium's L7 rules'
/// constraints are left out.
#[test]
fn compact_says_it_leaves_out_l7_constraints() {
    let (out, err, code) = run(&["reach", L7, "--compact"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("cilium-l7"), "{out}");
    assert!(
        err.contains(
            "--compact lists L3/L4 connections without the constraints of Cilium's L7 rules"
        ),
        "{err}"
    );
}
