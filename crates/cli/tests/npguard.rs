//! The np-guard netpol-analyzer goldens (`../shared/conformance/np-guard`): every case
//! with NetworkPolicy only must give the same connections as its golden connlist.
//!
//! The data is read in place, never copied. When the folder is absent the test says
//! so loudly and passes without checking anything.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use kubeseg_engine::{Endpoint, Engine, Options};
use kubeseg_model::{PortSet, Protocol};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KUBESEG_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    dir.join("np-guard").is_dir().then(|| dir.join("np-guard"))
}

/// An IPv4 range and the ports allowed across it.
type V4Ports = (u32, u32, PortSet);

/// (workload src, workload dst) → ports, and (workload, inbound?) → [(v4 lo, v4 hi, ports)].
#[derive(Default, Debug)]
struct Relation {
    pairs: BTreeMap<(String, String), PortSet>,
    external: BTreeMap<(String, bool), Vec<V4Ports>>,
}

fn parse_ports(s: &str) -> PortSet {
    if s == "All Connections" {
        return PortSet::all();
    }
    let mut set = PortSet::empty();
    let mut proto = Protocol::Tcp;
    for token in s.split(',') {
        let token = token.trim();
        let range = match token.split_once(' ') {
            Some((p, r)) => {
                proto = Protocol::parse(p).unwrap_or_else(|| panic!("unknown protocol in `{s}`"));
                r
            }
            None => token,
        };
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        set = set.union(&PortSet::range(
            proto,
            lo.parse().unwrap(),
            hi.parse().unwrap(),
        ));
    }
    set
}

fn parse_v4_range(s: &str) -> (u32, u32) {
    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
    let ip = |x: &str| {
        u32::from(
            x.parse::<std::net::Ipv4Addr>()
                .unwrap_or_else(|_| panic!("bad address `{x}`")),
        )
    };
    (ip(lo), ip(hi))
}

fn golden(path: &Path) -> Relation {
    let mut rel = Relation::default();
    for line in std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" => "))
    {
        let (pair, conn) = line.split_once(" : ").unwrap();
        let (src, dst) = pair.split_once(" => ").unwrap();
        let ports = parse_ports(conn.trim());
        match (
            src.strip_suffix("[External]"),
            dst.strip_suffix("[External]"),
        ) {
            (Some(r), None) => {
                let (lo, hi) = parse_v4_range(r);
                rel.external
                    .entry((dst.to_string(), true))
                    .or_default()
                    .push((lo, hi, ports));
            }
            (None, Some(r)) => {
                let (lo, hi) = parse_v4_range(r);
                rel.external
                    .entry((src.to_string(), false))
                    .or_default()
                    .push((lo, hi, ports));
            }
            (None, None) => {
                rel.pairs.insert((src.to_string(), dst.to_string()), ports);
            }
            (Some(_), Some(_)) => panic!("external to external in golden: {line}"),
        }
    }
    rel
}

fn ours(dir: &Path) -> Result<Relation, String> {
    let loaded = kubeseg_sources::load(&[dir.to_string_lossy().into_owned()]);
    if loaded.has_errors() {
        return Err(kubeseg_report::diagnostics::text(&loaded.diagnostics));
    }
    // np-guard treats hostNetwork pods like any other pod; compare under that reading.
    let options = Options {
        host_network_selectable: true,
        ..Options::default()
    };
    let mut engine = Engine::new(&loaded.cluster, options);
    let conns = engine.connections(|_| true, |_| true);
    let mut rel = Relation::default();
    for c in conns {
        let ext = |e: usize| match &engine.endpoints()[e] {
            Endpoint::External { addresses, .. } => Some(addresses.v4.ranges().to_vec()),
            Endpoint::Workload { .. } => None,
        };
        match (ext(c.src), ext(c.dst)) {
            (Some(ranges), None) => {
                for (lo, hi) in ranges {
                    rel.external
                        .entry((engine.endpoint_id(c.dst), true))
                        .or_default()
                        .push((lo, hi, c.ports.clone()));
                }
            }
            (None, Some(ranges)) => {
                for (lo, hi) in ranges {
                    rel.external
                        .entry((engine.endpoint_id(c.src), false))
                        .or_default()
                        .push((lo, hi, c.ports.clone()));
                }
            }
            _ => {
                rel.pairs.insert(
                    (engine.endpoint_id(c.src), engine.endpoint_id(c.dst)),
                    c.ports,
                );
            }
        }
    }
    Ok(rel)
}

/// The ports at each elementary IPv4 interval, after splitting at both sides' boundaries.
fn split(a: &[(u32, u32, PortSet)], b: &[(u32, u32, PortSet)]) -> Vec<(u32, PortSet, PortSet)> {
    let mut cuts: BTreeSet<u64> = BTreeSet::new();
    for &(lo, hi, _) in a.iter().chain(b) {
        cuts.insert(lo as u64);
        cuts.insert(hi as u64 + 1);
    }
    let at = |side: &[(u32, u32, PortSet)], x: u32| {
        side.iter()
            .filter(|(lo, hi, _)| *lo <= x && x <= *hi)
            .fold(PortSet::empty(), |acc, (_, _, p)| acc.union(p))
    };
    cuts.iter()
        .filter(|&&c| c <= u32::MAX as u64)
        .map(|&c| (c as u32, at(a, c as u32), at(b, c as u32)))
        .collect()
}

fn compare(expected: &Relation, got: &Relation) -> Vec<String> {
    let mut diffs = Vec::new();
    let keys: BTreeSet<&(String, String)> = expected.pairs.keys().chain(got.pairs.keys()).collect();
    for k in keys {
        let (e, g) = (
            expected.pairs.get(k).cloned().unwrap_or_default(),
            got.pairs.get(k).cloned().unwrap_or_default(),
        );
        if e != g {
            diffs.push(format!("{} => {}: expected `{e}`, got `{g}`", k.0, k.1));
        }
    }
    let keys: BTreeSet<&(String, bool)> = expected
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
                let dir = if k.1 {
                    format!("{ip}.. => {}", k.0)
                } else {
                    format!("{} => {ip}..", k.0)
                };
                diffs.push(format!("{dir}: expected `{e}`, got `{g}`"));
            }
        }
    }
    diffs
}

/// Cases kubeseg deliberately rejects, with the reason; the harness checks that the
/// only errors are exactly these.
const DOCUMENTED_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "example_pods_w_same_owner_and_labels_gap_with_good_match_expression",
        "invalid-name",
        "a NetworkPolicy named with '_', which the API server rejects",
    ),
    (
        "example_pods_w_same_owner_and_labels_gap_with_good_match_expression2",
        "invalid-name",
        "a NetworkPolicy named with '_', which the API server rejects",
    ),
    (
        "example_pods_w_same_owner_and_labels_gap_with_policy_selector_not_in_gap",
        "invalid-name",
        "a NetworkPolicy named with '_', which the API server rejects",
    ),
];

#[test]
fn npguard_networkpolicy_cases_agree() {
    let Some(root) = conformance_dir() else {
        eprintln!(
            "\n=== SKIPPED: np-guard conformance data not found (../shared/conformance/np-guard); nothing was checked ===\n"
        );
        return;
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let (mut agree, mut total, mut failures) = (0, 0, Vec::new());
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if uses_cluster_tiers(&case) {
            continue;
        }
        let golden_path = root
            .join("connlist")
            .join(format!("{name}_connlist_output.txt"));
        if !golden_path.exists() {
            continue;
        }
        total += 1;
        let documented = DOCUMENTED_DIFFERENCES.iter().find(|(n, _, _)| *n == name);
        let result = ours(&case).map(|got| compare(&golden(&golden_path), &got));
        match (result, documented) {
            (Err(e), Some((_, code, why)))
                if e.lines()
                    .filter(|l| l.starts_with("error["))
                    .all(|l| l.starts_with(&format!("error[{code}]"))) =>
            {
                println!("{name}: rejected as documented: {why}");
            }
            (Ok(d), None) if d.is_empty() => agree += 1,
            (Ok(d), _) => failures.push(format!(
                "{name}: {} differences, first: {}",
                d.len(),
                d.iter().take(5).cloned().collect::<Vec<_>>().join("\n    ")
            )),
            (Err(e), _) => failures.push(format!("{name}: load errors:\n{e}")),
        }
    }
    println!(
        "np-guard NetworkPolicy cases: {agree}/{total} agree, {} documented differences",
        DOCUMENTED_DIFFERENCES.len()
    );
    assert!(
        total >= 40,
        "expected about 42 NetworkPolicy-only cases, found {total}"
    );
    assert!(
        failures.is_empty(),
        "{} cases disagree:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

fn uses_cluster_tiers(dir: &Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read_to_string(&p).is_ok_and(|t| t.contains("AdminNetworkPolicy")) {
                return true;
            }
        }
    }
    false
}
