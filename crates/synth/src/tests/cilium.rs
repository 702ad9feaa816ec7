//! The Cilium mix: determinism, counts, the rest of the output unchanged, YAML equal
//! to JSON, and every policy within what Cilium's CRD and agent accept.

use std::collections::{BTreeMap, BTreeSet};

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

use super::{fnv, gen_bytes, items};
use crate::{Format, Shape, cidr, generate, shape};

const CNP: &str = "CiliumNetworkPolicy";
const CCNP: &str = "CiliumClusterwideNetworkPolicy";

fn small() -> Shape {
    shape("cilium-2k").unwrap()
}

fn is_cilium(v: &Value) -> bool {
    v["kind"] == CNP || v["kind"] == CCNP
}

#[test]
fn cilium_deterministic() {
    for f in [Format::Yaml, Format::Json] {
        let (a, _) = gen_bytes(&small(), 1, f);
        let (b, _) = gen_bytes(&small(), 1, f);
        let (c, _) = gen_bytes(&small(), 2, f);
        assert_eq!(fnv(&a), fnv(&b), "{f:?}");
        assert_ne!(fnv(&a), fnv(&c), "{f:?}");
    }
}

#[test]
fn cilium_counts() {
    for s in [
        small(),
        shape("issue-10k-real-cilium").unwrap(),
        shape("issue-150k-real-cilium")
            .unwrap()
            .scaled(Some(3_000), None, None, None),
        shape("cilium-2k")
            .unwrap()
            .scaled(Some(40), Some(8), Some(5), Some(9)),
    ] {
        let st = generate(&s, 5, Format::Json, &mut std::io::sink()).unwrap();
        assert_eq!(
            (st.pods, st.workloads, st.policies, st.cilium),
            (s.pods, s.workloads, s.policies, s.cilium_policies),
            "{} {}",
            s.name,
            s.pods
        );
        assert!(st.cilium > 0);
    }
    // Scaling keeps as many Cilium policies as NetworkPolicies.
    let s = shape("issue-150k-real-cilium")
        .unwrap()
        .scaled(Some(3_000), None, None, None);
    assert_eq!(s.cilium_policies, s.policies);
}

/// Adding the mix leaves every other object as it was, in the same order.
#[test]
fn cilium_leaves_the_rest_alone() {
    let with: Vec<Value> = items(&small(), 3)
        .into_iter()
        .filter(|v| !is_cilium(v))
        .collect();
    let without = items(
        &Shape {
            cilium_policies: 0,
            ..small()
        },
        3,
    );
    assert!(with == without);
}

/// Reads a YAML stream into one value per document, resolving plain scalars as the
/// generator writes them (integers, booleans, else strings).
pub(super) fn yaml_docs(text: &str) -> Vec<Value> {
    enum Frame {
        Seq(Vec<Value>),
        Map(Map<String, Value>, Option<String>),
    }
    fn put(stack: &mut [Frame], docs: &mut Vec<Value>, v: Value) {
        match stack.last_mut() {
            Some(Frame::Seq(items)) => items.push(v),
            Some(Frame::Map(m, key)) => match key.take() {
                Some(k) => {
                    m.insert(k, v);
                }
                None => *key = Some(v.as_str().expect("string key").to_string()),
            },
            None => docs.push(v),
        }
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for ev in Parser::new_from_str(text) {
        match ev.expect("valid YAML").0 {
            Event::Scalar(v, style, _, _) => {
                let v = if style == ScalarStyle::Plain {
                    match v.as_ref() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        t => t
                            .parse::<i64>()
                            .map_or_else(|_| Value::String(t.into()), Value::from),
                    }
                } else {
                    Value::String(v.into_owned())
                };
                put(&mut stack, &mut docs, v);
            }
            Event::SequenceStart(..) => stack.push(Frame::Seq(Vec::new())),
            Event::MappingStart(..) => stack.push(Frame::Map(Map::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let v = match stack.pop().expect("open collection") {
                    Frame::Seq(items) => Value::Array(items),
                    Frame::Map(m, _) => Value::Object(m),
                };
                put(&mut stack, &mut docs, v);
            }
            _ => {}
        }
    }
    docs
}

#[test]
fn cilium_yaml_equals_json() {
    let (y, _) = gen_bytes(&small(), 6, Format::Yaml);
    let docs = yaml_docs(std::str::from_utf8(&y).unwrap());
    let json = items(&small(), 6);
    assert_eq!(docs.len(), json.len());
    for (a, b) in docs.iter().zip(&json) {
        assert_eq!(a, b);
    }
}

const SPEC_FIELDS: &[&str] = &[
    "endpointSelector",
    "enableDefaultDeny",
    "ingress",
    "ingressDeny",
    "egress",
    "egressDeny",
];
const L3_IN: &[&str] = &["fromEndpoints", "fromCIDRSet", "fromEntities"];
const L3_OUT: &[&str] = &["toEndpoints", "toCIDRSet", "toEntities", "toFQDNs"];
const ENTITIES: &[&str] = &["world", "cluster", "host", "remote-node"];

fn check_selector(sel: &Value, errs: &mut Vec<String>) {
    let o = sel.as_object().unwrap();
    if o.keys().any(|k| k != "matchLabels") {
        errs.push(format!("selector {sel}"));
    }
    for v in o.get("matchLabels").and_then(|m| m.as_object()).into_iter() {
        if v.values().any(|x| !x.is_string()) {
            errs.push(format!("label value {sel}"));
        }
    }
}

fn check_ports(tp: &Value, deny: bool, ingress: bool, errs: &mut Vec<String>) -> Vec<String> {
    let mut l7 = Vec::new();
    for entry in tp.as_array().unwrap() {
        let e = entry.as_object().unwrap();
        let ports = e["ports"].as_array().unwrap();
        let mut protos = BTreeSet::new();
        for p in ports {
            let n = p["port"].as_str().map(str::parse::<u16>);
            if !matches!(n, Some(Ok(1..))) || p.as_object().unwrap().len() != 2 {
                errs.push(format!("port {p}"));
            }
            protos.insert(p["protocol"].as_str().unwrap().to_string());
        }
        if !protos.iter().all(|p| p == "TCP" || p == "UDP") {
            errs.push(format!("protocols {protos:?}"));
        }
        let Some(rules) = e.get("rules") else {
            continue;
        };
        // Deny rules are L4 only; DNS rules only on egress to 53; others TCP only.
        let kind = rules.as_object().unwrap().keys().next().unwrap().clone();
        let ok = !deny
            && match kind.as_str() {
                "dns" => !ingress && ports.iter().all(|p| p["port"] == "53"),
                "http" => protos.len() == 1 && protos.contains("TCP"),
                _ => false,
            };
        if !ok {
            errs.push(format!("rules {entry}"));
        }
        l7.push(kind);
    }
    l7
}

/// Checks one Cilium policy against what the CRD and agent accept and returns what it
/// uses (rule lists, peer kinds, L7 kinds).
fn check_cilium(p: &Value, errs: &mut Vec<String>) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let spec = p["spec"].as_object().unwrap();
    if p["apiVersion"] != "cilium.io/v2" || spec.keys().any(|k| !SPEC_FIELDS.contains(&&**k)) {
        errs.push(format!("spec {p}"));
    }
    if (p["kind"] == CNP) != p["metadata"].get("namespace").is_some() {
        errs.push(format!("namespace {p}"));
    }
    check_selector(&spec["endpointSelector"], errs);
    if let Some(dd) = spec.get("enableDefaultDeny") {
        used.insert("enableDefaultDeny".into());
        let o = dd.as_object().unwrap();
        if o.is_empty()
            || o.iter()
                .any(|(k, v)| !["ingress", "egress"].contains(&&**k) || !v.is_boolean())
        {
            errs.push(format!("enableDefaultDeny {dd}"));
        }
    }
    for list in ["ingress", "ingressDeny", "egress", "egressDeny"] {
        let Some(rules) = spec.get(list) else {
            continue;
        };
        used.insert(list.into());
        let ingress = list.starts_with("ingress");
        let deny = list.ends_with("Deny");
        for r in rules.as_array().unwrap() {
            let o = r.as_object().unwrap();
            let l3: Vec<&String> = o.keys().filter(|k| *k != "toPorts").collect();
            let allowed = if ingress { L3_IN } else { L3_OUT };
            // One L3 field per rule; `{}` alone is an ingress that allows nothing.
            if l3.len() > 1 || l3.iter().any(|k| !allowed.contains(&k.as_str())) {
                errs.push(format!("rule {r}"));
            }
            if o.is_empty() {
                used.insert("deny-all-rule".into());
            }
            for k in l3 {
                used.insert(k.clone());
                for peer in o[k].as_array().unwrap() {
                    match k.as_str() {
                        "fromEndpoints" | "toEndpoints" => check_selector(peer, errs),
                        "fromEntities" | "toEntities" => {
                            if !ENTITIES.contains(&peer.as_str().unwrap()) {
                                errs.push(format!("entity {peer}"));
                            }
                        }
                        "toFQDNs" => {
                            let n = peer["matchName"].as_str().unwrap();
                            if deny || !n.contains('.') || peer.as_object().unwrap().len() != 1 {
                                errs.push(format!("fqdn {peer}"));
                            }
                        }
                        _ => {
                            let c = peer["cidr"].as_str().unwrap();
                            for e in peer["except"].as_array().into_iter().flatten() {
                                if cidr::except_valid(c, e.as_str().unwrap()) != Some(true) {
                                    errs.push(format!("except {peer}"));
                                }
                            }
                        }
                    }
                }
            }
            if let Some(tp) = o.get("toPorts") {
                used.extend(check_ports(tp, deny, ingress, errs));
            }
        }
    }
    used
}

#[test]
fn cilium_policies_valid() {
    let s = shape("issue-10k-real-cilium").unwrap();
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for it in items(&s, 8).iter().filter(|v| is_cilium(v)) {
        for u in check_cilium(it, &mut errs) {
            *used.entry(u).or_default() += 1;
        }
        let m = &it["metadata"];
        let n = m["name"].as_str().unwrap().to_string();
        assert!(n.len() <= 253 && !n.contains('_'), "{n}");
        let key = (it["kind"].to_string(), m["namespace"].to_string(), n);
        assert!(names.insert(key), "duplicate policy name");
    }
    assert!(errs.is_empty(), "{:?}", &errs[..errs.len().min(10)]);
    for u in [
        "deny-all-rule",
        "enableDefaultDeny",
        "ingress",
        "ingressDeny",
        "egress",
        "egressDeny",
        "fromEndpoints",
        "fromEntities",
        "toEndpoints",
        "toEntities",
        "toCIDRSet",
        "toFQDNs",
        "http",
        "dns",
    ] {
        assert!(
            used.get(u).copied().unwrap_or(0) > 0,
            "{u} missing: {used:?}"
        );
    }
}
