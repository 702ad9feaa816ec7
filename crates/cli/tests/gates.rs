//! Every gate sees every layer (issue 12), on `gates/bookinfo.yaml`: a bookinfo-like
//! application with the AuthorizationPolicies of Istio's HTTP-authorization task (see
//! the file's header). Expectations are derived by hand from the YAML and Istio's
//! documented semantics: an ALLOW policy admits only requests matching one of its
//! rules, `allow-nothing` (`spec: {}`) admits none, STRICT rejects plaintext.

mod common;

use common::{ROOT, kubeseg};
use std::path::PathBuf;

const BOOKINFO: &str = "crates/cli/tests/gates/bookinfo.yaml";

fn stdout(args: &[&str]) -> (String, Option<i32>) {
    let out = kubeseg(args);
    (
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

/// A scratch directory of this test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("kubeseg-gates-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bookinfo() -> String {
    std::fs::read_to_string(format!("{ROOT}/{BOOKINFO}")).unwrap()
}

const SPEC_HEAD: &str = "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n";

fn test(scratch: &Scratch, manifests: &str, assertions: &str) -> (String, Option<i32>) {
    let spec = scratch.write("spec.yaml", &format!("{SPEC_HEAD}{assertions}"));
    stdout(&["test", manifests, "--spec", &spec])
}

#[test]
fn test_deny_holds_where_the_mesh_denies() {
    // curl presents cluster.local/ns/default/sa/curl; details-viewer admits only
    // productpage's identity and allow-nothing admits nothing: DENIED by the mesh
    // although no NetworkPolicy isolates details.
    let s = Scratch::new("deny");
    let (out, code) = test(
        &s,
        BOOKINFO,
        "- name: curl-cannot-read-details\n  deny: {from: default/curl, to: default/details-v1, port: TCP/9080}\n",
    );
    assert_eq!(code, Some(0), "{out}");
    let (explain, _) = stdout(&[
        "explain",
        BOOKINFO,
        "--from",
        "default/curl",
        "--to",
        "default/details-v1",
        "--port",
        "9080",
    ]);
    assert!(
        explain
            .lines()
            .next()
            .unwrap()
            .ends_with("DENIED (by the mesh)"),
        "{explain}"
    );
}

#[test]
fn test_checks_the_request_an_assertion_names() {
    // productpage's identity may GET details, not POST; anyone may GET productpage.
    let s = Scratch::new("request");
    let (out, code) = test(
        &s,
        BOOKINFO,
        "- name: get\n  allow: {from: default/productpage-v1, to: default/details-v1, port: TCP/9080, request: {method: GET}}\n\
         - name: post\n  deny: {from: default/productpage-v1, to: default/details-v1, port: TCP/9080, request: {method: POST, path: /details/0}}\n\
         - name: post-allowed\n  allow: {from: default/productpage-v1, to: default/details-v1, port: TCP/9080, request: {method: POST}}\n\
         - name: some-request\n  allow: {from: default/curl, to: default/productpage-v1, port: TCP/9080}\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("PASS get "), "{out}");
    assert!(out.contains("PASS post "), "{out}");
    assert!(out.contains("PASS some-request "), "{out}");
    assert!(out.contains("FAIL post-allowed "), "{out}");
    assert!(
        out.contains(
            "cannot reach default/details-v1[Deployment] on TCP/9080 for POST (the mesh denies it)"
        ),
        "{out}"
    );
    // The evidence names each ALLOW rule considered and the field that missed.
    assert!(
        out.contains(
            "ALLOW default/details-viewer rules[0] does not match: `to.methods` does not match"
        ),
        "{out}"
    );
    assert!(
        out.contains("ALLOW default/allow-nothing does not match: the policy has no rules"),
        "{out}"
    );
}

#[test]
fn a_request_names_no_identity() {
    let s = Scratch::new("principal");
    let (out, code) = test(
        &s,
        BOOKINFO,
        "- name: p\n  allow: {from: default/curl, to: default/details-v1, request: {principal: x}}\n",
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("the mesh identity and namespace are those of the source workload"),
        "{out}"
    );
}

#[test]
fn udp_keeps_a_plaintext_caller_in_under_strict() {
    // STRICT rejects legacy/client's plaintext on TCP, but Istio authorizes no UDP,
    // SCTP or ICMP (its proxies intercept TCP only): `deny` without ports fails on
    // those, and holds on TCP.
    let s = Scratch::new("udp");
    let (out, code) = test(
        &s,
        BOOKINFO,
        "- name: any\n  deny: {from: legacy/client, to: default/productpage-v1}\n\
         - name: tcp\n  deny: {from: legacy/client, to: default/productpage-v1, port: TCP/1-65535}\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("can reach default/productpage-v1[Deployment] on UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6\n"),
        "{out}"
    );
    assert!(out.contains("PASS tcp "), "{out}");
}

#[test]
fn explain_names_the_field_each_allow_rule_missed() {
    let (out, _) = stdout(&[
        "explain",
        BOOKINFO,
        "--from",
        "default/curl",
        "--to",
        "default/details-v1",
        "--port",
        "9080",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mesh = &doc["mesh"][0];
    assert_eq!(mesh["reason"], "no-allow-matches");
    let misses: Vec<(String, String)> = mesh["misses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["policy"].as_str().unwrap().into(),
                m["mismatch"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        misses,
        vec![
            (
                "default/allow-nothing".to_string(),
                "the policy has no rules, so it matches nothing".to_string()
            ),
            (
                "default/details-viewer".to_string(),
                "`from.principals` does not match".to_string()
            ),
        ]
    );
}

#[test]
fn two_policies_of_one_name_are_one_policy_the_last() {
    // prod/db-allow admits web on TCP 5432, then a second prod/db-allow with
    // `ingress: []` replaces it (kubectl apply keeps the last): web => db is denied.
    let s = Scratch::new("dup");
    let np = |ingress: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db-allow, namespace: prod}}\nspec:\n  podSelector: {{matchLabels: {{app: db}}}}\n  ingress: {ingress}\n"
        )
    };
    let pods = "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: prod, labels: {app: db}}\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod, labels: {app: web}}\nspec: {containers: [{name: c, image: x}]}\n";
    let file = s.write(
        "m.yaml",
        &(pods.to_string()
            + &np("[{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]")
            + &np("[]")),
    );
    let (out, code) = stdout(&[
        "explain", &file, "--from", "prod/web", "--to", "prod/db", "--port", "5432",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.lines().next().unwrap().ends_with("DENIED"), "{out}");
    assert!(
        out.contains(
            "warning[duplicate-object]: NetworkPolicy prod/db-allow is defined again at line 18"
        ),
        "{out}"
    );
    let (lint, _) = stdout(&["lint", &file]);
    assert!(lint.contains("KL005"), "{lint}");
    assert!(
        !lint.contains("KL110"),
        "no rule is shadowed by its own replacement: {lint}"
    );
}

#[test]
fn unknown_istio_enum_values_stop_every_command() {
    let s = Scratch::new("enums");
    let lower = bookinfo().replacen("action: ALLOW", "action: allow", 1);
    let file = s.write("m.yaml", &lower);
    let (out, code) = stdout(&[
        "explain",
        &file,
        "--from",
        "default/curl",
        "--to",
        "default/productpage-v1",
        "--port",
        "9080",
    ]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("error[invalid-value]: AuthorizationPolicy action `allow`"),
        "{out}"
    );
    let strict = bookinfo().replacen("mode: STRICT", "mode: strict", 1);
    let file = s.write("m.yaml", &strict);
    let (out, code) = stdout(&["reach", &file]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("mtls.mode `strict`"), "{out}");
}

/// Writes bookinfo with `edit` applied (a replacement that must happen once).
fn edited(s: &Scratch, name: &str, from: &str, to: &str) -> String {
    let text = bookinfo();
    assert_eq!(text.matches(from).count(), 1, "{from}");
    s.write(name, &text.replacen(from, to, 1))
}

#[test]
fn diff_sees_an_authorization_policy_opened_to_every_caller() {
    // Without `from.principals`, details-viewer admits GET from anyone: curl, reviews
    // and ratings (the sidecar callers other than productpage) gain TCP 9080 for GET;
    // UDP, SCTP, ICMP and ICMPv6, which Istio does not authorize (its proxies see TCP
    // only), were open before and stay open.
    let s = Scratch::new("diff-ap");
    let new = edited(
        &s,
        "new.yaml",
        "  - from:\n    - source: {principals: [\"cluster.local/ns/default/sa/bookinfo-productpage\"]}\n    to:\n    - operation: {methods: [\"GET\"]}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: reviews-viewer",
        "  - to:\n    - operation: {methods: [\"GET\"]}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: reviews-viewer",
    );
    let (out, code) = stdout(&["diff", BOOKINFO, &new, "--fail-on-change"]);
    assert_eq!(code, Some(1), "{out}");
    for src in ["curl", "ratings-v1", "reviews-v1"] {
        assert!(
            out.contains(&format!("~ default/{src}[Deployment] => default/details-v1[Deployment] : UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6 → All Connections [mesh: TCP 1-65535: only if request.method in [GET]]   [AuthorizationPolicy default/details-viewer modified]")),
            "{out}"
        );
    }
    assert!(
        out.contains("0 added, 0 removed, 3 changed connection(s)"),
        "{out}"
    );
    // legacy/client is plaintext under STRICT: still denied on TCP, so unchanged.
    assert!(!out.contains("legacy/client"), "{out}");
    let (json, _) = stdout(&["diff", BOOKINFO, &new, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["mesh"], true);
    let c = &doc["changed"][0];
    assert_eq!(c["meshBefore"], serde_json::json!([]));
    assert_eq!(c["meshAfter"][0]["allowed"], serde_json::Value::Null);
    assert_eq!(
        c["meshAfter"][0]["conditional"][0],
        "request.method in [GET]"
    );
    assert_eq!(c["attribution"][0]["kind"], "AuthorizationPolicy");
    assert_eq!(c["attribution"][0]["object"], "default/details-viewer");
    assert_eq!(c["attribution"][0]["location"]["line"], 132);
}

#[test]
fn diff_sees_strict_mtls_relaxed() {
    // PERMISSIVE lets legacy/client's plaintext in; productpage-viewer then admits its
    // GETs (it names no principal). Outside addresses, also plaintext, likewise.
    let s = Scratch::new("diff-pa");
    let new = edited(&s, "new.yaml", "mode: STRICT", "mode: PERMISSIVE");
    let (out, code) = stdout(&["diff", BOOKINFO, &new, "--fail-on-change"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("~ legacy/client[Deployment] => default/productpage-v1[Deployment] : UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6 → All Connections [mesh: TCP 1-65535: only if request.method in [GET]]   [PeerAuthentication default/default modified]"),
        "{out}"
    );
    // details admits productpage's identity only: plaintext gains nothing there.
    assert!(
        !out.contains("legacy/client[Deployment] => default/details-v1"),
        "{out}"
    );
    assert!(
        out.contains("0 added, 0 removed, 2 changed connection(s)"),
        "{out}"
    );
}

const PLAIN: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: a}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: b, labels: {app: db}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-from-a, namespace: b}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {team: a}}}], ports: [{port: 80}]}]\n";

#[test]
fn diff_blames_an_admin_policy_not_the_workloads() {
    // An AdminNetworkPolicy denying b's ingress from a removes a/web => b/db TCP 80.
    let s = Scratch::new("diff-anp");
    let old = s.write("old.yaml", PLAIN);
    let new = s.write(
        "new.yaml",
        &(PLAIN.to_string() + "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: deny-a-to-b}\nspec:\n  priority: 10\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}\n  ingress:\n  - {action: Deny, from: [{namespaces: {matchLabels: {team: a}}}]}\n"),
    );
    let (out, code) = stdout(&["diff", &old, &new]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("- a/web[Pod] => b/db[Pod] : TCP 80   [AdminNetworkPolicy deny-a-to-b added]"),
        "{out}"
    );
    assert!(
        out.contains("policy AdminNetworkPolicy deny-a-to-b added"),
        "{out}"
    );
}

#[test]
fn diff_blames_workloads_added_removed_or_relabelled() {
    let s = Scratch::new("diff-workloads");
    let old = s.write("old.yaml", PLAIN);
    // A new pod b/cache (b's policy isolates its ingress; its egress is open, so it
    // reaches a/web), and namespace a loses its `team: a` label, so a/web no longer
    // reaches b/db. Neither is a policy edit: each change names the workloads at its
    // ends that were added or changed (a namespace's labels count as its workloads'). Neither is a policy edit.
    let new = s.write(
        "new.yaml",
        &PLAIN.replace("labels: {team: a}", "labels: {team: other}").replace(
            "namespace: a, labels: {app: web}",
            "namespace: a, labels: {app: web}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: cache, namespace: b, labels: {app: cache}",
        ),
    );
    let (out, _) = stdout(&["diff", &old, &new]);
    assert!(
        out.contains("- a/web[Pod] => b/db[Pod] : TCP 80   [workload a/web[Pod] modified]\n"),
        "{out}"
    );
    assert!(out.contains("+ b/cache[Pod] => a/web[Pod] : All Connections   [workload b/cache[Pod] added, workload a/web[Pod] modified]"), "{out}");
    assert!(!out.contains("no policy or workload edit"), "{out}");
}

#[test]
fn audit_says_which_protocols_keep_the_hops_and_can_count_tcp_only() {
    // From productpage: details and reviews admit its identity's GETs (TCP open),
    // legacy/client runs no proxy (TCP open); ratings admits reviews' identity only
    // and curl is under allow-nothing, so those two hops are kept by UDP/SCTP alone.
    // On TCP only: details, reviews and legacy/client directly, ratings through
    // reviews: 4 of the 5 others, 3 directly.
    let args = |extra: &[&'static str]| {
        let mut v = vec![
            "audit",
            BOOKINFO,
            "--assume-compromised",
            "default/productpage-v1",
            "--only",
            "KS201",
            "--format",
            "json",
        ];
        v.extend(extra);
        v
    };
    let finding = |extra: &[&'static str]| {
        let (out, _) = stdout(&args(extra));
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        doc["findings"][0].clone()
    };
    let all = finding(&[]);
    assert!(
        all["title"]
            .as_str()
            .unwrap()
            .contains("reaches 5 of 5 other workloads (100%), 5 directly"),
        "{all}"
    );
    let evidence: Vec<&str> = all["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("2 of its 5 direct hop(s) are open on UDP, SCTP or ICMP only")),
        "{evidence:?}"
    );
    let tcp = finding(&["--protocols", "tcp"]);
    assert!(
        tcp["title"]
            .as_str()
            .unwrap()
            .contains("reaches 4 of 5 other workloads (80%), 3 directly"),
        "{tcp}"
    );
}

#[test]
fn mesh_text_from_the_input_cannot_drive_the_terminal() {
    // A condition value with escape sequences (clear screen, C1 CSI) reaches explain's,
    // test's and diff's text through the mesh's conditions: shown, never obeyed.
    let s = Scratch::new("escape");
    let hostile = bookinfo().replacen(
        "    - operation: {methods: [\"GET\"]}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: details-viewer",
        "    - operation: {methods: [\"GET\"]}\n    when: [{key: \"request.headers[x]\", values: [\"\\e[2J\\u009b0m\\r\"]}]\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: details-viewer",
        1,
    );
    assert_ne!(hostile, bookinfo());
    let file = s.write("m.yaml", &hostile);
    let spec = s.write(
        "spec.yaml",
        &format!("{SPEC_HEAD}- name: d\n  deny: {{from: default/curl, to: default/productpage-v1, port: TCP/9080}}\n"),
    );
    for args in [
        vec![
            "explain",
            file.as_str(),
            "--from",
            "default/curl",
            "--to",
            "default/productpage-v1",
            "--port",
            "9080",
        ],
        vec!["test", file.as_str(), "--spec", spec.as_str()],
        vec!["diff", BOOKINFO, file.as_str()],
        vec!["reach", file.as_str()],
    ] {
        let out = kubeseg(&args);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("\\u{1b}[2J\\u{9b}0m\\u{d}"),
            "{args:?}: {text}"
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{9b}') && !text.contains('\r'),
            "{args:?}"
        );
    }
}
