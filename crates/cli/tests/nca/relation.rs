//! Connectivity maps compared pod by pod: network-config-analyzer's firewall rules
//! against `kubeseg reach --cni calico --format json`.

use super::{End, Pod};
use kubeseg_model::{PortSet, Protocol};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A connectivity map over pods (by index) and IPv4 ranges.
#[derive(Default, Debug)]
pub struct Relation {
    pub pairs: BTreeMap<(usize, usize), PortSet>,
    /// (pod, inbound?) → [(lo, hi, ports)].
    pub external: BTreeMap<(usize, bool), Vec<V4Ports>>,
}

impl Relation {
    pub fn add(&mut self, src: &End, dst: &End, ports: &PortSet) {
        match (src, dst) {
            (End::Pods(ss), End::Pods(ds)) => {
                for &s in ss {
                    for &d in ds.iter().filter(|&&d| d != s) {
                        let e = self.pairs.entry((s, d)).or_default();
                        *e = e.union(ports);
                    }
                }
            }
            (End::Net(ranges), End::Pods(ds)) | (End::Pods(ds), End::Net(ranges)) => {
                let inbound = matches!(src, End::Net(_));
                for &d in ds {
                    for &(lo, hi) in ranges {
                        self.external.entry((d, inbound)).or_default().push((
                            lo,
                            hi,
                            ports.clone(),
                        ));
                    }
                }
            }
            (End::Net(_), End::Net(_)) => panic!("external to external"),
        }
    }
}

pub fn expected(text: &str, config: &str, pods: &[Pod]) -> Result<Relation, String> {
    let mut rel = Relation::default();
    for r in super::fw_rules(text, config, pods)? {
        rel.add(&r.src, &r.dst, &r.conn);
    }
    Ok(rel)
}

/// kubeseg's map of `docs` (`reach --format json --cni calico`).
pub fn ours(docs: &[Value], pods: &[Pod]) -> Result<Relation, String> {
    let text: Vec<String> = docs.iter().map(Value::to_string).collect();
    let out = crate::common::kubeseg_stdin(
        &["reach", "--format", "json", "--cni", "calico", "-"],
        &text.join("\n---\n"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(0) {
        return Err(format!("kubeseg failed:\n{stderr}"));
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_id: BTreeMap<String, usize> =
        pods.iter().enumerate().map(|(i, p)| (p.id(), i)).collect();
    let mut ends: BTreeMap<String, End> = BTreeMap::new();
    for e in json["endpoints"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap().to_string();
        let end = if e["kind"] == "External" {
            End::Net(
                e["ranges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .filter(|r| !r.contains(':'))
                    .map(|r| {
                        let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                        let ip = |x: &str| u32::from(x.parse::<std::net::Ipv4Addr>().unwrap());
                        (ip(lo), ip(hi))
                    })
                    .collect(),
            )
        } else {
            End::Pods(vec![*by_id.get(&id).unwrap_or_else(|| {
                panic!("kubeseg endpoint `{id}` is no pod of the list")
            })])
        };
        ends.insert(id, end);
    }
    let mut rel = Relation::default();
    for c in json["connections"].as_array().unwrap() {
        // The TCP/UDP/SCTP projection (see `nca::connections`): `ICMP`/`ICMPv6` unread.
        let mut ports = PortSet::empty();
        for p in Protocol::PORTED {
            for r in c["allowed"][p.as_str()].as_array().unwrap() {
                let (lo, hi) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
                ports = ports.union(&PortSet::range(p, lo as u16, hi as u16));
            }
        }
        rel.add(
            &ends[c["src"].as_str().unwrap()],
            &ends[c["dst"].as_str().unwrap()],
            &ports,
        );
    }
    Ok(rel)
}

/// An IPv4 range and the ports allowed across it.
pub type V4Ports = (u32, u32, PortSet);

/// The ports at each elementary IPv4 interval, after splitting at both sides' boundaries.
pub fn split(a: &[V4Ports], b: &[V4Ports]) -> Vec<(u32, PortSet, PortSet)> {
    let mut cuts: BTreeSet<u64> = BTreeSet::new();
    for &(lo, hi, _) in a.iter().chain(b) {
        cuts.insert(lo as u64);
        cuts.insert(hi as u64 + 1);
    }
    let at = |side: &[V4Ports], x: u32| {
        side.iter()
            .filter(|(lo, hi, _)| *lo <= x && x <= *hi)
            .fold(PortSet::empty(), |acc, (_, _, p)| acc.union(p))
    };
    cuts.iter()
        .filter(|&&c| c <= u32::MAX as u64)
        .map(|&c| (c as u32, at(a, c as u32), at(b, c as u32)))
        .collect()
}

/// Every difference, as `SRC => DST: nca `X`, kubeseg `Y``.
pub fn compare(expected: &Relation, got: &Relation, pods: &[Pod]) -> Vec<String> {
    let name = |i: usize| format!("{}/{}", pods[i].namespace, pods[i].name);
    let mut diffs = Vec::new();
    let keys: BTreeSet<&(usize, usize)> = expected.pairs.keys().chain(got.pairs.keys()).collect();
    for k in keys {
        let e = expected.pairs.get(k).cloned().unwrap_or_default();
        let g = got.pairs.get(k).cloned().unwrap_or_default();
        if e != g {
            diffs.push(format!(
                "{} => {}: nca `{e}`, kubeseg `{g}`",
                name(k.0),
                name(k.1)
            ));
        }
    }
    let keys: BTreeSet<&(usize, bool)> = expected
        .external
        .keys()
        .chain(got.external.keys())
        .collect();
    for k in keys {
        let none = Vec::new();
        for (at, e, g) in split(
            expected.external.get(k).unwrap_or(&none),
            got.external.get(k).unwrap_or(&none),
        ) {
            if e != g {
                let ip = std::net::Ipv4Addr::from(at);
                let pair = if k.1 {
                    format!("{ip}.. => {}", name(k.0))
                } else {
                    format!("{} => {ip}..", name(k.0))
                };
                diffs.push(format!("{pair}: nca `{e}`, kubeseg `{g}`"));
            }
        }
    }
    diffs
}
