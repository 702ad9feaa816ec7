//! network-config-analyzer run live as an oracle for `kubeseg reach --cni calico`:
//! random Calico clusters within what both model the same way, the analyzer's
//! connectivity map compared pod by pod (and for IPv4 outside addresses) with
//! kubeseg's. `.ci/run` installs the analyzer (`nca`) from PyPI; without it the test
//! fails unless `KUBESEG_ALLOW_MISSING_DATA=1`.
//!
//! Inside the generator: Calico NetworkPolicies and GlobalNetworkPolicies of the
//! `default` tier, every one with its own `order` (the analyzer orders policies of equal
//! or missing order differently from Calico, see nca_calico.rs), explicit `types`,
//! Allow and Deny rules with or without a protocol, ports, selectors and
//! namespaceSelectors. Outside it (the analyzer's known gaps): tiers, `Pass`, nets,
//! service accounts, ICMP (the comparison reads TCP, UDP and SCTP).
#![allow(clippy::print_stderr)]

mod common;
mod nca;

use nca::relation::{compare, expected, ours};
use serde_json::{Value, json};
use std::process::Command;

/// A small deterministic generator (SplitMix64), so that a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMESPACES: [(&str, &str); 2] = [("ns-a", "a"), ("ns-b", "b")];
const SELECTORS: &[&str] = &[
    "all()",
    "app == 'x'",
    "app == 'y'",
    "has(role)",
    "role != 'fe'",
    "app in {'x', 'z'}",
    "!has(app)",
    "app == 'x' && has(role)",
    "app == 'y' || role == 'be'",
];
const NAMESPACE_SELECTORS: &[&str] = &["team == 'a'", "team == 'b'", "all()"];

/// The cluster: namespaces and pods.
fn pods(rng: &mut Rng) -> Vec<Value> {
    let mut out: Vec<Value> = NAMESPACES
        .iter()
        .map(|(n, t)| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"team": t}}}))
        .collect();
    for i in 0..5 {
        let (ns, _) = NAMESPACES[rng.below(2)];
        let mut labels = serde_json::Map::new();
        if rng.below(4) != 0 {
            labels.insert("app".into(), json!(rng.pick(&["x", "y", "z"])));
        }
        if rng.below(2) == 0 {
            labels.insert("role".into(), json!(rng.pick(&["fe", "be"])));
        }
        out.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("p{i}"), "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "img", "ports": [{"containerPort": 80}]}]},
            "status": {"podIP": format!("10.0.0.{}", i + 10)}}));
    }
    out
}

fn rule(rng: &mut Rng, egress: bool) -> Value {
    let mut r = serde_json::Map::new();
    r.insert(
        "action".into(),
        json!(rng.pick(&["Allow", "Allow", "Deny"])),
    );
    let protocol = rng.pick(&["", "TCP", "UDP"]);
    if !protocol.is_empty() {
        r.insert("protocol".into(), json!(protocol));
    }
    let mut peer = serde_json::Map::new();
    if rng.below(3) != 0 {
        peer.insert("selector".into(), json!(rng.pick(SELECTORS)));
    }
    if rng.below(3) == 0 {
        peer.insert(
            "namespaceSelector".into(),
            json!(rng.pick(NAMESPACE_SELECTORS)),
        );
    }
    let mut ports = serde_json::Map::new();
    if !protocol.is_empty() && rng.below(2) == 0 {
        let port = match rng.below(3) {
            0 => json!(80),
            1 => json!(53),
            _ => json!("8000:8080"),
        };
        ports.insert("ports".into(), json!([port]));
    }
    let (peer_key, port_key) = if egress {
        ("destination", "destination")
    } else {
        ("source", "destination")
    };
    if egress {
        peer.extend(ports);
        if !peer.is_empty() {
            r.insert(peer_key.into(), Value::Object(peer));
        }
    } else {
        if !peer.is_empty() {
            r.insert(peer_key.into(), Value::Object(peer));
        }
        if !ports.is_empty() {
            r.insert(port_key.into(), Value::Object(ports));
        }
    }
    Value::Object(r)
}

/// Calico policies, each with its own order.
fn policies(rng: &mut Rng) -> Vec<Value> {
    let n = 1 + rng.below(3);
    let mut orders: Vec<u32> = (1..=9).map(|o| o * 100).collect();
    (0..n)
        .map(|i| {
            let order = orders.remove(rng.below(orders.len()));
            let global = rng.below(3) == 0;
            let types: Vec<&str> = match rng.below(3) {
                0 => vec!["Ingress"],
                1 => vec!["Egress"],
                _ => vec!["Ingress", "Egress"],
            };
            let mut spec = json!({"order": order, "selector": rng.pick(SELECTORS), "types": types});
            for (dir, egress) in [("Ingress", false), ("Egress", true)] {
                if types.contains(&dir) {
                    let rules: Vec<Value> = (0..1 + rng.below(2)).map(|_| rule(rng, egress)).collect();
                    spec[dir.to_lowercase()] = json!(rules);
                }
            }
            if global {
                if rng.below(2) == 0 {
                    spec["namespaceSelector"] = json!(rng.pick(NAMESPACE_SELECTORS));
                }
                json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                    "metadata": {"name": format!("pol{i}")}, "spec": spec})
            } else {
                json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                    "metadata": {"name": format!("pol{i}"), "namespace": NAMESPACES[rng.below(2)].0},
                    "spec": spec})
            }
        })
        .collect()
}

fn yaml_stream(docs: &[Value]) -> String {
    docs.iter().map(|d| format!("---\n{d}\n")).collect()
}

#[test]
fn kubeseg_agrees_with_network_config_analyzer_on_random_calico_clusters() {
    if !Command::new("nca")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        common::missing_data(
            "network-config-analyzer (`pip install network-config-analyzer==2.1.0`) is not installed",
        );
        return;
    }
    let cases: u64 = std::env::var("KUBESEG_NCA_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mut failures = Vec::new();
    for seed in 1..=cases {
        let mut rng = Rng(seed);
        let cluster = pods(&mut rng);
        let policies = policies(&mut rng);
        let dir = common::scratch(
            &format!("nca-live-{seed}"),
            &[
                ("pods.yaml", &yaml_stream(&cluster)),
                ("pol.yaml", &yaml_stream(&policies)),
            ],
        );
        let out = Command::new("nca")
            .current_dir(&dir)
            .args([
                "--connectivity",
                "pol.yaml",
                "--pod_list",
                "pods.yaml",
                "--ns_list",
                "pods.yaml",
                "--output_format",
                "txt",
            ])
            .output()
            .unwrap();
        // The map, without the timing line the analyzer prints after it.
        let text: String = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("Total run time"))
            .map(|l| format!("{l}\n"))
            .collect();
        let pod_list = nca::pods(&cluster);
        let theirs = expected(&text, "pol.yaml", &pod_list).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: the analyzer's map: {e}\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let docs: Vec<Value> = cluster.iter().chain(&policies).cloned().collect();
        let mine = ours(&docs, &pod_list).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let diffs = compare(&theirs, &mine, &pod_list);
        if !diffs.is_empty() {
            failures.push(format!(
                "seed {seed}: {}\n{}",
                diffs.join("\n"),
                yaml_stream(&docs)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
