//! Accepting findings (issue 14, item 3): `kubeseg.io/ignore` annotations and baseline
//! files. The expectations follow from the documented rule: an annotation accepts the
//! findings of the codes it names that are located inside the annotated object, name it
//! as an endpoint, or (on a Namespace) concern only that namespace; a baseline accepts
//! the findings whose fingerprint it lists. Accepted findings stay in JSON and SARIF,
//! marked, and never count for `--fail-on`.

mod common;

use common::{run, scratch};
use serde_json::Value;

/// Two Deployments with no NetworkPolicy: each gets KS101 (ingress not isolated) and
/// KS102 (egress not isolated), among others.
fn shop(web_annotations: &str, ns_annotations: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n{ns_annotations}---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n{web_annotations}\
spec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: web, ports: [{{containerPort: 80}}]}}]}}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: shop\n\
spec:\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n    metadata: {{labels: {{app: db}}}}\n    spec: {{containers: [{{name: c, image: db, ports: [{{containerPort: 5432}}]}}]}}\n{extra}"
    )
}

const CACHE: &str = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cache\n  namespace: shop\nspec:\n  selector: {matchLabels: {app: cache}}\n  template:\n    metadata: {labels: {app: cache}}\n    spec: {containers: [{name: c, image: cache, ports: [{containerPort: 6379}]}]}\n";

fn audit_json(args: &[&str]) -> Value {
    let mut all = vec!["audit", "--format", "json", "-q"];
    all.extend(args);
    let (out, err, code) = run(&all);
    assert!(code == Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

fn findings(doc: &Value) -> &Vec<Value> {
    doc["findings"].as_array().unwrap()
}

fn is(f: &Value, code: &str, endpoint: &str) -> bool {
    f["code"] == code
        && f["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == endpoint)
}

const WEB: &str = "shop/web[Deployment]";
const DB: &str = "shop/db[Deployment]";

#[test]
fn an_annotation_accepts_the_named_codes_on_its_object_only() {
    let plain = scratch("plain", &[("m.yaml", &shop("", "", ""))]);
    let annotated = scratch(
        "annotated",
        &[(
            "m.yaml",
            &shop(
                "  annotations:\n    kubeseg.io/ignore: \"KS101, egress-unisolated\"\n    kubeseg.io/ignore-reason: \"web is a public site\"\n",
                "",
                "",
            ),
        )],
    );
    let before = audit_json(&[plain.to_str().unwrap()]);
    let after = audit_json(&[annotated.to_str().unwrap()]);
    // Both workloads have neither ingress nor egress isolation.
    for (code, w) in [("KS101", WEB), ("KS102", WEB), ("KS101", DB), ("KS102", DB)] {
        assert!(
            findings(&before).iter().any(|f| is(f, code, w)),
            "{code} {w}"
        );
    }
    // Same findings, in the same order: accepting never drops one.
    let codes = |d: &Value| -> Vec<(Value, Value)> {
        findings(d)
            .iter()
            .map(|f| (f["code"].clone(), f["endpoints"].clone()))
            .collect()
    };
    assert_eq!(codes(&before), codes(&after));
    let mut accepted = 0;
    for f in findings(&after) {
        let named = (f["code"] == "KS101" || f["code"] == "KS102")
            && f["endpoints"].as_array().unwrap().iter().any(|e| e == WEB);
        if named {
            accepted += 1;
            assert_eq!(f["suppressed"]["kind"], "annotation", "{f}");
            assert_eq!(f["suppressed"]["justification"], "web is a public site");
            assert_eq!(
                f["suppressed"]["location"]["line"], 6,
                "the Namespace takes lines 1-4, `---` line 5"
            );
        } else {
            assert!(f.get("suppressed").is_none(), "{f}");
        }
    }
    assert_eq!(accepted, 2);
    assert_eq!(after["summary"]["suppressed"], 2);
    // KS101 is medium and KS102 low: the counts drop by one each.
    for (severity, drop) in [("medium", 1), ("low", 1), ("high", 0), ("critical", 0)] {
        let b = before["summary"]["findings"][severity].as_i64().unwrap();
        let a = after["summary"]["findings"][severity].as_i64().unwrap();
        assert_eq!(b - a, drop, "{severity}");
    }
    // The terminal lists them apart, with the reason.
    let (text, _, _) = run(&[
        "audit",
        annotated.to_str().unwrap(),
        "-q",
        "--only",
        "KS101",
    ]);
    let (main, rest) = text
        .split_once("suppressed (1), not counted above:")
        .expect(&text);
    assert!(
        main.contains("shop/db[Deployment]")
            && !main.contains("KS101 ingress-unisolated: shop/web"),
        "{text}"
    );
    assert!(
        rest.contains("KS101")
            && rest.contains("annotation")
            && rest.contains("web is a public site"),
        "{rest}"
    );
    // `--fail-on` counts only what is not accepted.
    let fail = |d: &std::path::Path| {
        run(&[
            "audit",
            d.to_str().unwrap(),
            "-q",
            "--only",
            "KS101",
            "--fail-on",
            "medium",
        ])
        .2
    };
    assert_eq!(fail(&plain), Some(1));
    assert_eq!(fail(&annotated), Some(1), "db's KS101 is still open");
    let both = scratch("both",
        &[(
            "m.yaml",
            &shop("  annotations: {kubeseg.io/ignore: KS101}\n", "", "")
                .replace("  name: db\n  namespace: shop\n", "  name: db\n  namespace: shop\n  annotations: {kubeseg.io/ignore: ingress-unisolated}\n"),
        )],
    );
    assert_eq!(fail(&both), Some(0));
}

#[test]
fn a_namespace_annotation_covers_findings_about_that_namespace_only() {
    let d = scratch(
        "ns",
        &[(
            "m.yaml",
            &shop(
                "",
                "  annotations: {kubeseg.io/ignore: all}\n",
                "---\napiVersion: v1\nkind: Pod\nmetadata: {name: lone, namespace: other}\nspec: {containers: [{name: c, image: i}]}\n",
            ),
        )],
    );
    let doc = audit_json(&[d.to_str().unwrap()]);
    let mut seen_other = false;
    for f in findings(&doc) {
        let endpoints: Vec<&str> = f["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        let only_shop = !endpoints.is_empty()
            && endpoints
                .iter()
                .all(|e| *e == "shop" || e.starts_with("shop/"));
        assert_eq!(f.get("suppressed").is_some(), only_shop, "{f}");
        seen_other |= endpoints.iter().any(|e| e.starts_with("other/"));
    }
    assert!(seen_other, "the other namespace has findings too");
    assert_eq!(
        doc["summary"]["suppressed"].as_u64().unwrap() as usize,
        findings(&doc)
            .iter()
            .filter(|f| f.get("suppressed").is_some())
            .count()
    );
    assert!(doc["summary"]["suppressed"].as_u64().unwrap() >= 4);
}

#[test]
fn an_annotation_naming_no_rule_is_a_note() {
    let d = scratch(
        "unknown",
        &[(
            "m.yaml",
            &shop("  annotations: {kubeseg.io/ignore: KS999}\n", "", ""),
        )],
    );
    let doc = audit_json(&[d.to_str().unwrap()]);
    let notes = doc["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("`KS999`, which is no rule of kubeseg")),
        "{notes:?}"
    );
    assert_eq!(doc["summary"]["suppressed"], 0);
}

#[test]
fn a_baseline_accepts_what_it_lists_and_new_findings_still_fail() {
    let d = scratch("baseline", &[("m.yaml", &shop("", "", ""))]);
    let file = d.join("m.yaml").display().to_string();
    let baseline = d.join("baseline.yaml").display().to_string();
    let before = audit_json(&[&file]);
    let (_, err, code) = run(&[
        "audit",
        &file,
        "--write-baseline",
        &baseline,
        "--fail-on",
        "low",
    ]);
    assert_eq!(
        code,
        Some(0),
        "a run that writes the baseline accepts what it wrote: {err}"
    );
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        text.contains("apiVersion: kubeseg.io/v1\nkind: Baseline\nfindings:\n- code: "),
        "{text}"
    );
    assert_eq!(
        text.matches("\n- code: ").count(),
        findings(&before).len(),
        "{text}"
    );
    // Each entry names its finding for the reviewer.
    for f in findings(&before) {
        let title = serde_json::to_string(&f["title"]).unwrap();
        assert!(text.contains(&format!("  title: {title}\n")), "{title}");
    }
    let after = audit_json(&[&file, "--baseline", &baseline]);
    assert!(
        findings(&after)
            .iter()
            .all(|f| f["suppressed"]["kind"] == "baseline")
    );
    assert_eq!(
        after["summary"]["suppressed"].as_u64().unwrap() as usize,
        findings(&before).len()
    );
    let (_, _, code) = run(&[
        "audit",
        &file,
        "-q",
        "--baseline",
        &baseline,
        "--fail-on",
        "low",
    ]);
    assert_eq!(code, Some(0));
    // A new workload brings new findings: only they are open.
    std::fs::write(&file, shop("", "", CACHE)).unwrap();
    let grown = audit_json(&[&file, "--baseline", &baseline]);
    for f in findings(&grown) {
        let about_cache = f["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "shop/cache[Deployment]");
        if about_cache {
            assert!(f.get("suppressed").is_none(), "{f}");
        }
    }
    assert!(
        findings(&grown)
            .iter()
            .any(|f| is(f, "KS101", "shop/cache[Deployment]"))
    );
    let (_, _, code) = run(&[
        "audit",
        &file,
        "-q",
        "--baseline",
        &baseline,
        "--fail-on",
        "medium",
        "--only",
        "KS101",
    ]);
    assert_eq!(code, Some(1));
    // A fixed finding leaves a stale entry, which is named.
    std::fs::write(
        &file,
        shop("", "", "").replace("  name: db\n", "  name: database\n"),
    )
    .unwrap();
    let shrunk = audit_json(&[&file, "--baseline", &baseline]);
    let notes: Vec<&str> = shrunk["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("baseline entry KS101 ")
                && n.contains("matches no finding any more")),
        "{notes:?}"
    );
}

#[test]
fn a_bad_baseline_is_an_error_at_its_line() {
    let d = scratch(
        "bad",
        &[
            ("m.yaml", &shop("", "", "")),
            (
                "b.yaml",
                "apiVersion: kubeseg.io/v1\nkind: Baseline\nfindings:\n- code: KS101\n  fingerprint: nothex\n  sevrity: low\n",
            ),
        ],
    );
    let (out, err, code) = run(&[
        "audit",
        d.join("m.yaml").to_str().unwrap(),
        "--baseline",
        d.join("b.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("b.yaml:5:") && err.contains("16 hexadecimal digits"),
        "{err}"
    );
    assert!(
        err.contains("b.yaml:6:3") && err.contains("unknown field `sevrity`"),
        "{err}"
    );
}

#[test]
fn sarif_marks_accepted_results_and_stays_valid() {
    let Some(validator) = common::sarif_validator() else {
        return;
    };
    let d = scratch(
        "sarif",
        &[(
            "m.yaml",
            &shop(
                "  annotations: {kubeseg.io/ignore: KS101, kubeseg.io/ignore-reason: public}\n",
                "",
                "",
            ),
        )],
    );
    let file = d.join("m.yaml").display().to_string();
    let baseline = d.join("b.yaml").display().to_string();
    // The baseline lists db's KS101 only.
    let (_, _, code) = run(&[
        "audit",
        &file,
        "-q",
        "--only",
        "KS101",
        "--skip",
        "KS102",
        "--write-baseline",
        &baseline,
    ]);
    assert_eq!(code, Some(0));
    let (out, _, _) = run(&[
        "audit",
        &file,
        "-q",
        "--format",
        "sarif",
        "--baseline",
        &baseline,
    ]);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    let errors = common::violations(&validator, &sarif);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let of = |w: &str| {
        results
            .iter()
            .find(|r| {
                r["ruleId"] == "KS101"
                    && r["properties"]["endpoints"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e == w)
            })
            .unwrap()
    };
    assert_eq!(of(WEB)["suppressions"][0]["kind"], "inSource");
    assert_eq!(of(WEB)["suppressions"][0]["justification"], "public");
    assert_eq!(of(DB)["suppressions"][0]["kind"], "external");
    assert!(
        of(DB)["suppressions"][0]["location"]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("b.yaml")
    );
    assert!(
        results
            .iter()
            .filter(|r| r["ruleId"] != "KS101")
            .all(|r| r["suppressions"] == serde_json::json!([]))
    );
}

#[test]
fn an_annotation_covers_its_own_object_only_even_on_one_line() {
    // One-line JSON: two Pods on line 1. The first one's annotation must not reach
    // the second one's findings, which are located on the same line.
    let list = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"shop","annotations":{"kubeseg.io/ignore":"KS101"}},"spec":{"containers":[{"name":"c","image":"i"}]}},{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"i"}]}}]}"#;
    let d = scratch("oneline", &[("m.json", list)]);
    let doc = audit_json(&[d.join("m.json").to_str().unwrap(), "--only", "KS101"]);
    let state = |w: &str| {
        findings(&doc)
            .iter()
            .find(|f| is(f, "KS101", w))
            .map(|f| f.get("suppressed").is_some())
    };
    assert_eq!(state("shop/a[Pod]"), Some(true));
    assert_eq!(state("shop/b[Pod]"), Some(false));
}

#[test]
fn an_annotation_on_a_hop_does_not_hide_the_crown_jewels_path() {
    // KS202 is about the crown jewel (its first endpoint); the entry point on its path
    // accepting KS202 accepts nothing of the jewel's.
    let shop = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/intent/shop.yaml"
    ))
    .unwrap();
    let on = |name: &str| {
        shop.replacen(
            &format!("metadata: {{name: {name}, namespace: shop}}\nspec:\n  selector"),
            &format!("metadata: {{name: {name}, namespace: shop, annotations: {{kubeseg.io/ignore: KS202}}}}\nspec:\n  selector"),
            1,
        )
    };
    for (annotated, suppressed) in [("web", false), ("db", true)] {
        let text = on(annotated);
        assert_ne!(text, shop, "the fixture has Deployment {annotated}");
        let d = scratch(&format!("hop-{annotated}"), &[("m.yaml", &text)]);
        let doc = audit_json(&[
            d.join("m.yaml").to_str().unwrap(),
            "--crown-jewel",
            "tier=data",
            "--only",
            "KS202",
        ]);
        let db = findings(&doc)
            .iter()
            .find(|f| f["endpoints"][0] == "shop/db[Deployment]")
            .unwrap();
        assert_eq!(
            db.get("suppressed").is_some(),
            suppressed,
            "{annotated}: {db}"
        );
    }
}

#[test]
fn a_baseline_entry_must_match_its_finding_exactly() {
    // An entry whose title no longer matches (edited, or forged to collide with a
    // fingerprint) accepts nothing, and is named as stale.
    let d = scratch("exact", &[("m.yaml", &shop("", "", ""))]);
    let file = d.join("m.yaml").display().to_string();
    let baseline = d.join("b.yaml").display().to_string();
    let (_, _, code) = run(&[
        "audit",
        &file,
        "-q",
        "--only",
        "KS101",
        "--write-baseline",
        &baseline,
    ]);
    assert_eq!(code, Some(0));
    let text = std::fs::read_to_string(&baseline).unwrap();
    let edited = text.replacen(
        "is not isolated for ingress",
        "is not isolated for INGRESS",
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&baseline, edited).unwrap();
    let doc = audit_json(&[&file, "--only", "KS101", "--baseline", &baseline]);
    let open = findings(&doc)
        .iter()
        .filter(|f| f.get("suppressed").is_none())
        .count();
    assert_eq!(open, 1, "exactly the edited entry's finding is open again");
    let notes = doc["notes"].to_string();
    assert!(notes.contains("matches no finding any more"), "{notes}");
}
