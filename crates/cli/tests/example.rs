//! Every output format on the bundled example, checked against the connection list
//! derived by hand in `examples/wordpress-cluster/EXPECTED.md`.

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/wordpress-cluster"
);

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hand_derived() -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{EXAMPLE}/EXPECTED.md")).unwrap();
    text.lines()
        .filter(|l| l.contains(" => "))
        .map(|l| {
            l.trim_matches(|c: char| c == '`' || c == '-' || c == '*' || c == ' ')
                .to_string()
        })
        .collect()
}

fn workload_lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.contains("[External]"))
        .map(str::to_string)
        .collect()
}

fn ports_text(allowed: &Value) -> String {
    let mut parts = Vec::new();
    let all = ["TCP", "UDP", "SCTP"].iter().all(|p| {
        allowed[p].as_array().unwrap().len() == 1 && allowed[p][0] == serde_json::json!([1, 65535])
    });
    if all {
        return "All Connections".into();
    }
    for p in ["TCP", "UDP", "SCTP"] {
        let ranges: Vec<String> = allowed[p]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                if r[0] == r[1] {
                    r[0].to_string()
                } else {
                    format!("{}-{}", r[0], r[1])
                }
            })
            .collect();
        if !ranges.is_empty() {
            parts.push(format!("{p} {}", ranges.join(",")));
        }
    }
    parts.join("; ")
}

#[test]
fn text_matches_the_hand_derived_list() {
    let text = run(&["reach", EXAMPLE]);
    assert_eq!(workload_lines(&text), hand_derived());
    let sorted: Vec<&str> = text.lines().collect();
    let mut again = sorted.clone();
    again.sort();
    assert_eq!(sorted, again, "text output is sorted");
    // External facts stated in EXPECTED.md.
    assert!(text.contains(
        "internal/users-api[Deployment] => 203.0.113.0-203.0.113.127[External] : TCP 443"
    ));
    let to_search: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("[External] => search/search"))
        .collect();
    assert_eq!(to_search.len(), 1, "{to_search:?}");
    assert!(to_search[0].starts_with("2001:db8::-") && to_search[0].ends_with(": TCP 9200-9300"));
}

#[test]
fn json_encodes_the_same_relation() {
    let doc: Value = serde_json::from_str(&run(&["reach", EXAMPLE, "--format", "json"])).unwrap();
    assert_eq!(doc["schemaVersion"], 3);
    let endpoints = doc["endpoints"].as_array().unwrap();
    let external: BTreeSet<&str> = endpoints
        .iter()
        .filter(|e| e["kind"] == "External")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for e in endpoints.iter().filter(|e| e["kind"] != "External") {
        assert_eq!(
            e["id"].as_str().unwrap(),
            format!(
                "{}/{}[{}]",
                e["namespace"].as_str().unwrap(),
                e["name"].as_str().unwrap(),
                e["kind"].as_str().unwrap()
            )
        );
    }
    let mut lines = BTreeSet::new();
    for c in doc["connections"].as_array().unwrap() {
        for p in ["TCP", "UDP", "SCTP"] {
            assert!(
                c["allowed"][p].is_array(),
                "all three protocol keys are present"
            );
        }
        let (src, dst) = (c["src"].as_str().unwrap(), c["dst"].as_str().unwrap());
        if !external.contains(src) && !external.contains(dst) {
            lines.insert(format!("{src} => {dst} : {}", ports_text(&c["allowed"])));
        }
    }
    assert_eq!(lines, hand_derived());
}

#[test]
fn csv_md_and_dot_encode_the_same_relation() {
    let csv = run(&["reach", EXAMPLE, "--format", "csv"]);
    assert_eq!(csv.lines().next(), Some("src,dst,connection"));
    let from_csv: BTreeSet<String> = csv
        .lines()
        .skip(1)
        .filter(|l| !l.contains("[External]"))
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, ',').collect();
            format!("{} => {} : {}", f[0], f[1], f[2])
        })
        .collect();
    assert_eq!(from_csv, hand_derived());
    let md = run(&["reach", EXAMPLE, "--format", "md"]);
    let from_md: BTreeSet<String> = md
        .lines()
        .skip(2)
        .filter(|l| !l.contains("[External]"))
        .map(|l| {
            let f: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            format!("{} => {} : {}", f[0], f[1], f[2])
        })
        .collect();
    assert_eq!(from_md, hand_derived());
    let dot = run(&["reach", EXAMPLE, "--format", "dot"]);
    assert!(dot.starts_with("digraph kubeseg {") && dot.trim_end().ends_with('}'));
    let from_dot: BTreeSet<String> = dot
        .lines()
        .filter(|l| l.contains(" -> ") && !l.contains("[External]"))
        .map(|l| {
            let l = l.trim().trim_start_matches('"');
            let (src, rest) = l.split_once("\" -> \"").unwrap();
            let (dst, rest) = rest.split_once("\" [label=\"").unwrap();
            format!("{src} => {dst} : {}", rest.trim_end_matches("\"];"))
        })
        .collect();
    assert_eq!(from_dot, hand_derived());
}

#[test]
fn compact_expands_to_the_full_list() {
    let full: BTreeSet<String> = run(&["reach", EXAMPLE])
        .lines()
        .map(str::to_string)
        .collect();
    let doc: Value =
        serde_json::from_str(&run(&["reach", EXAMPLE, "--compact", "--format", "json"])).unwrap();
    let groups: std::collections::BTreeMap<&str, Vec<&str>> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap(),
                g["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    let external: BTreeSet<&str> = doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "External")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let label = |id: &str| {
        if external.contains(id) {
            format!("{id}[External]")
        } else {
            id.to_string()
        }
    };
    let mut expanded = BTreeSet::new();
    for c in doc["connections"].as_array().unwrap() {
        for s in &groups[c["src"].as_str().unwrap()] {
            for d in &groups[c["dst"].as_str().unwrap()] {
                if s != d {
                    assert!(
                        expanded.insert(format!(
                            "{} => {} : {}",
                            label(s),
                            label(d),
                            ports_text(&c["allowed"])
                        )),
                        "pair claimed twice"
                    );
                }
            }
        }
    }
    assert_eq!(expanded, full);
    let compact_text = run(&["reach", EXAMPLE, "--compact"]);
    assert!(compact_text.lines().count() < full.len());
}

#[test]
fn from_and_to_restrict_the_listing() {
    let text = run(&[
        "reach",
        EXAMPLE,
        "--from",
        "internal/*",
        "--to",
        "app=redis",
    ]);
    assert_eq!(
        text,
        "internal/users-api[Deployment] => data/redis[Deployment] : TCP 6379\n"
    );
}

#[test]
fn output_is_byte_identical_across_runs() {
    for format in ["text", "json"] {
        let a = run(&["reach", EXAMPLE, "--format", format, "--compact"]);
        let b = run(&["reach", EXAMPLE, "--format", format, "--compact"]);
        assert_eq!(a, b);
    }
}
