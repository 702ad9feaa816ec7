//! The Calico mix: determinism, counts, the rest of the output unchanged, YAML equal
//! to JSON, and every object read by kubeseg's decoder without an error.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::cilium::yaml_docs;
use super::{fnv, gen_bytes, items};
use crate::{Format, Shape, generate, shape};

const API: &str = "projectcalico.org/v3";
const POLICIES: &[&str] = &["NetworkPolicy", "GlobalNetworkPolicy"];

fn small() -> Shape {
    shape("calico-2k").unwrap()
}

fn is_calico(v: &Value) -> bool {
    v["apiVersion"] == API
}

fn is_calico_policy(v: &Value) -> bool {
    is_calico(v) && POLICIES.iter().any(|k| v["kind"] == *k)
}

/// The Tiers and network sets a shape's mix writes (counted with the other objects).
pub(super) fn calico_others(s: &Shape, seed: u64) -> usize {
    if s.calico_policies == 0 {
        return 0;
    }
    items(s, seed)
        .iter()
        .filter(|v| is_calico(v) && !is_calico_policy(v))
        .count()
}

#[test]
fn calico_deterministic() {
    for f in [Format::Yaml, Format::Json] {
        let (a, _) = gen_bytes(&small(), 1, f);
        let (b, _) = gen_bytes(&small(), 1, f);
        let (c, _) = gen_bytes(&small(), 2, f);
        assert_eq!(fnv(&a), fnv(&b), "{f:?}");
        assert_ne!(fnv(&a), fnv(&c), "{f:?}");
    }
}

#[test]
fn calico_counts() {
    for s in [
        small(),
        shape("issue-10k-real-calico").unwrap(),
        shape("issue-150k-real-calico")
            .unwrap()
            .scaled(Some(3_000), None, None, None),
        shape("calico-2k")
            .unwrap()
            .scaled(Some(40), Some(8), Some(5), Some(9)),
    ] {
        let st = generate(&s, 5, Format::Json, &mut std::io::sink()).unwrap();
        assert_eq!(
            (st.pods, st.workloads, st.policies, st.calico),
            (s.pods, s.workloads, s.policies, s.calico_policies),
            "{} {}",
            s.name,
            s.pods
        );
        assert!(st.calico > 0);
        // Two Tiers and two GlobalNetworkSets, then NetworkSets in some namespaces.
        let others = calico_others(&s, 5);
        assert!(others >= 4 && others < 4 + s.namespaces, "{others}");
        assert_eq!(st.others, others);
    }
    // Scaling keeps as many Calico policies as NetworkPolicies.
    let s = shape("issue-150k-real-calico")
        .unwrap()
        .scaled(Some(3_000), None, None, None);
    assert_eq!(s.calico_policies, s.policies);
}

/// Adding the mix leaves every other object as it was, in the same order.
#[test]
fn calico_leaves_the_rest_alone() {
    let with: Vec<Value> = items(&small(), 3)
        .into_iter()
        .filter(|v| !is_calico(v))
        .collect();
    let without = items(
        &Shape {
            calico_policies: 0,
            ..small()
        },
        3,
    );
    assert!(with == without);
}

#[test]
fn calico_yaml_equals_json() {
    let (y, _) = gen_bytes(&small(), 6, Format::Yaml);
    let docs = yaml_docs(std::str::from_utf8(&y).unwrap());
    let json = items(&small(), 6);
    assert_eq!(docs.len(), json.len());
    for (a, b) in docs.iter().zip(&json) {
        assert_eq!(a, b);
    }
}

/// What a policy uses: its tier and kind of order, rule actions and the kinds of peer
/// and port.
fn constructs(p: &Value) -> BTreeSet<String> {
    let spec = &p["spec"];
    let mut used = BTreeSet::new();
    let tier = spec["tier"].as_str().unwrap_or("default");
    let order = match spec["order"].as_i64() {
        None => "none".to_string(),
        Some(o) => {
            // A default-tier policy at 1000 is interleaved with the Kubernetes ones.
            assert!(tier != "default" || o != 1000, "{p}");
            o.to_string()
        }
    };
    used.insert(format!("{tier} order {order}"));
    if spec.get("namespaceSelector").is_some() {
        used.insert("global namespaceSelector".into());
    }
    for dir in ["ingress", "egress"] {
        for r in spec[dir].as_array().into_iter().flatten() {
            used.insert(format!("{dir} {}", r["action"].as_str().unwrap()));
            for side in ["source", "destination"] {
                for (k, v) in r[side].as_object().into_iter().flatten() {
                    let kind = match (k.as_str(), v.as_str()) {
                        ("namespaceSelector", Some("global()")) => "global()".to_string(),
                        ("ports", _) if v[0].as_str().is_some_and(|p| p.contains(':')) => {
                            "port range".into()
                        }
                        ("ports", _) if v[0].is_string() => "named port".into(),
                        _ => k.clone(),
                    };
                    used.insert(kind);
                }
            }
        }
    }
    used
}

/// Loads the file with kubeseg's loader and returns the other diagnostics by code;
/// panics on any error, or if the engine would refuse a policy.
fn load(path: &std::path::Path, want: (usize, usize, usize)) -> BTreeMap<String, usize> {
    let loaded = kubeseg_sources::load(&[path.display().to_string()]);
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity.as_str() == "error")
        .take(10)
        .map(|d| format!("{} {:?}: {}", d.code, d.location, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let c = &loaded.cluster;
    let got = (
        c.calico_policies.len(),
        c.calico_tiers.len(),
        c.calico_network_sets.len(),
    );
    assert_eq!(got, want);
    let refused = kubeseg_engine::index::calico_unsupported(c);
    assert!(refused.is_empty(), "{:?}", &refused[..refused.len().min(5)]);
    let mut warnings = BTreeMap::new();
    for d in &loaded.diagnostics {
        *warnings.entry(d.code.to_string()).or_default() += 1;
    }
    warnings
}

#[test]
fn calico_decoder_accepts_all() {
    let s = small();
    let all = items(&s, 8);
    let policies = all.iter().filter(|v| is_calico_policy(v)).count();
    let tiers = all.iter().filter(|v| v["kind"] == "Tier").count();
    let sets = all
        .iter()
        .filter(|v| is_calico(v) && v["kind"].as_str().unwrap().ends_with("NetworkSet"))
        .count();
    assert_eq!((policies, tiers), (s.calico_policies, 2));
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for p in all.iter().filter(|v| is_calico_policy(v)) {
        for u in constructs(p) {
            *used.entry(u).or_default() += 1;
        }
        let m = &p["metadata"];
        let key = (m["namespace"].to_string(), m["name"].to_string());
        assert!(names.insert(key), "duplicate policy name {m}");
    }
    for u in [
        "security order 10",
        "platform order 100",
        "default order 2000",
        "default order 500",
        "default order none",
        "global namespaceSelector",
        "ingress Deny",
        "ingress Pass",
        "egress Deny",
        "egress Pass",
        "ingress Allow",
        "egress Allow",
        "selector",
        "namespaceSelector",
        "global()",
        "nets",
        "notNets",
        "ports",
        "notPorts",
        "named port",
        "port range",
    ] {
        assert!(
            used.get(u).copied().unwrap_or(0) > 0,
            "{u} missing: {used:?}"
        );
    }
    let dir = std::env::temp_dir().join(format!("kubeseg-synth-calico-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in [Format::Yaml, Format::Json] {
        let path = dir.join(format!("calico-2k.{f:?}").to_lowercase());
        std::fs::write(&path, gen_bytes(&s, 8, f).0).unwrap();
        // The mix stays within what kubeseg reads without a doubt but one: 40% of the
        // pods are pending (no address) while teams egress to the internet by `nets`
        // minus `notNets`, which is said once.
        let mut warnings = load(&path, (policies, tiers, sets));
        assert_eq!(
            warnings.remove("pod-address-unknown"),
            Some(1),
            "{f:?}: {warnings:?}"
        );
        assert!(warnings.is_empty(), "{f:?}: {warnings:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
