//! The np-guard netpol-analyzer goldens (`../shared/conformance/np-guard`): every case
//! with NetworkPolicy only must give the same connections as its golden connlist.
//!
//! The data is read in place, never copied. When the folder is absent the test says
//! so loudly and passes without checking anything.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

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

/// np-guard's connection text. np-guard does not model ICMP: its "All Connections" is
/// every TCP, UDP and SCTP port, and both sides are compared on that projection
/// (kubeseg's sets are cut to it in `ours`, `ports_json`).
fn parse_ports(s: &str) -> PortSet {
    if s == "All Connections" {
        return PortSet::all_ported();
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
    // kubeseg names the whole IPv4 space by its CIDR; np-guard writes the range.
    if s == "0.0.0.0/0" {
        return (0, u32::MAX);
    }
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
    for mut c in conns {
        // The TCP/UDP/SCTP projection: np-guard does not model ICMP.
        c.ports = c.ports.ported();
        if c.ports.is_empty() {
            continue;
        }
        let ext = |e: usize| match &engine.endpoints()[e] {
            Endpoint::External { addresses, .. } => Some(addresses.v4.ranges().to_vec()),
            Endpoint::Workload { .. } | Endpoint::Domain { .. } => None,
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
    check_cases(false, DOCUMENTED_DIFFERENCES, 40);
}

/// np-guard's AdminNetworkPolicy/BaselineAdminNetworkPolicy cases the API server would
/// reject: np-guard reads a missing selector as "everything", the CRD requires it.
const TIER_REJECTED: &[(&str, &str, &str)] = &[
    ("anp_demo", "invalid-selector", MISSING_POD_SELECTOR),
    ("anp_test_10", "invalid-selector", MISSING_POD_SELECTOR),
    (
        "anp_test_10_swapping_rules",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    ("anp_test_11", "invalid-selector", MISSING_POD_SELECTOR),
    (
        "anp_test_11_swapping_rules",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    ("anp_test_12", "invalid-selector", MISSING_POD_SELECTOR),
    (
        "anp_test_12_swapping_rules",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    (
        "anp_test_3_pass_traffic",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    ("anp_test_8", "invalid-selector", MISSING_POD_SELECTOR),
    (
        "anp_test_8_swapping_rules",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    ("anp_test_9", "invalid-selector", MISSING_POD_SELECTOR),
    (
        "anp_test_9_swapping_rules",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    (
        "anp_test_combining_test_6_and_test_10",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    (
        "anp_test_multiple_anps",
        "invalid-selector",
        MISSING_POD_SELECTOR,
    ),
    (
        "example_pods_w_same_owner_and_labels_gap_anp_good",
        "invalid-selector",
        "a `pods` block without `namespaceSelector`, which v1alpha1 requires",
    ),
    (
        "example_pods_w_same_owner_and_labels_gap_banp_good",
        "invalid-selector",
        "a `pods` block without `namespaceSelector`, which v1alpha1 requires",
    ),
    (
        "anp_test_named_ports_multiple_peers",
        "invalid-port",
        "a named port in a rule with a `networks` peer, which the CRD's validation rejects",
    ),
];

const MISSING_POD_SELECTOR: &str = "a `pods` peer without `podSelector`, which the CRD requires";

#[test]
fn npguard_tier_cases_agree() {
    check_cases(true, TIER_REJECTED, 50);
}

/// Compares every case with (`tiers`) or without cluster-tier policies to its golden
/// connection list; `documented` lists the cases kubeseg rejects, with the reason.
fn check_cases(tiers: bool, documented: &[(&str, &str, &str)], min_total: usize) {
    let Some(root) = conformance_dir() else {
        common::missing_data(
            "np-guard conformance data not found (../shared/conformance/np-guard)",
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
        if uses_cluster_tiers(&case) != tiers {
            continue;
        }
        let golden_path = root
            .join("connlist")
            .join(format!("{name}_connlist_output.txt"));
        if !golden_path.exists() {
            continue;
        }
        total += 1;
        let documented = documented.iter().find(|(n, _, _)| *n == name);
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
    let what = if tiers {
        "AdminNetworkPolicy/BaselineAdminNetworkPolicy"
    } else {
        "NetworkPolicy"
    };
    println!(
        "np-guard {what} cases: {agree}/{total} agree, {} documented differences",
        documented.len()
    );
    assert!(
        total >= min_total,
        "expected at least {min_total} {what} cases, found {total}"
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

/// An IPv4 range with what was allowed before and after.
type V4Change = (u32, u32, PortSet, PortSet);

/// One side of a semantic diff: (src, dst) → (before, after) for workload pairs, and
/// (workload, inbound?) → IPv4 ranges with (before, after).
#[derive(Default, Debug)]
struct DiffRelation {
    pairs: BTreeMap<(String, String), (PortSet, PortSet)>,
    external: BTreeMap<(String, bool), Vec<V4Change>>,
}

impl DiffRelation {
    fn add(
        &mut self,
        src: &str,
        dst: &str,
        before: PortSet,
        after: PortSet,
        ranges: impl Fn(&str) -> Vec<(u32, u32)>,
    ) {
        let (s_ext, d_ext) = (
            src.contains('.') || src.contains(':'),
            dst.contains('.') || dst.contains(':'),
        );
        match (s_ext, d_ext) {
            (false, false) => {
                self.pairs.insert((src.into(), dst.into()), (before, after));
            }
            (true, false) | (false, true) => {
                let (w, r, inbound) = if s_ext {
                    (dst, src, true)
                } else {
                    (src, dst, false)
                };
                for (lo, hi) in ranges(r) {
                    self.external.entry((w.into(), inbound)).or_default().push((
                        lo,
                        hi,
                        before.clone(),
                        after.clone(),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// np-guard's `diff-type: ..., source: S, destination: D, ref1: OLD, ref2: NEW[, ...]` lines.
fn golden_diff(path: &Path) -> DiffRelation {
    let mut rel = DiffRelation::default();
    for line in std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("diff-type:"))
    {
        let field = |key: &str| {
            let start = line
                .find(&format!("{key}: "))
                .unwrap_or_else(|| panic!("no {key} in `{line}`"))
                + key.len()
                + 2;
            let rest = &line[start..];
            let end = [
                ", source:",
                ", destination:",
                ", ref1:",
                ", ref2:",
                ", workloads-diff-info:",
            ]
            .iter()
            .filter_map(|m| rest.find(m))
            .min()
            .unwrap_or(rest.len());
            rest[..end].trim().to_string()
        };
        let ports = |s: String| {
            if s == "No Connections" {
                PortSet::empty()
            } else {
                parse_ports(&s)
            }
        };
        let strip = |s: String| s.trim_end_matches("[External]").to_string();
        rel.add(
            &strip(field("source")),
            &strip(field("destination")),
            ports(field("ref1")),
            ports(field("ref2")),
            |r| vec![parse_v4_range(r)],
        );
    }
    rel
}

/// The TCP, UDP and SCTP ranges of a JSON port set: np-guard does not model ICMP, so its
/// `ICMP` and `ICMPv6` keys are left out of the comparison.
fn ports_json(v: &serde_json::Value) -> PortSet {
    let mut set = PortSet::empty();
    for p in Protocol::PORTED {
        for r in v[p.as_str()].as_array().into_iter().flatten() {
            set = set.union(&PortSet::range(
                p,
                r[0].as_u64().unwrap() as u16,
                r[1].as_u64().unwrap() as u16,
            ));
        }
    }
    set
}

/// Our diff of OLD → NEW, IPv4 ranges only (np-guard has no IPv6).
fn our_diff(old: &Path, new: &Path) -> Result<DiffRelation, String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .args([
            "diff",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
            "--format",
            "json",
            "--host-network-selectable",
            "-q",
        ])
        .output()
        .unwrap();
    if out.status.code() != Some(0) {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rel = DiffRelation::default();
    let v4 = |r: &str| {
        r.split(',')
            .filter(|x| x.contains('.'))
            .map(parse_v4_range)
            .collect::<Vec<_>>()
    };
    for key in ["added", "removed", "changed"] {
        for c in doc[key].as_array().unwrap() {
            let (before, after) = match key {
                "added" => (PortSet::empty(), ports_json(&c["allowed"])),
                "removed" => (ports_json(&c["allowed"]), PortSet::empty()),
                _ => (ports_json(&c["before"]), ports_json(&c["after"])),
            };
            if before == after {
                // A change of ICMP only: not in np-guard's TCP/UDP/SCTP model.
                continue;
            }
            let (src, dst) = (c["src"].as_str().unwrap(), c["dst"].as_str().unwrap());
            let is_v6_only = |s: &str| s.contains(':') && !s.contains('.');
            if is_v6_only(src) || is_v6_only(dst) {
                continue;
            }
            rel.add(src, dst, before, after, v4);
        }
    }
    Ok(rel)
}

fn compare_diff(expected: &DiffRelation, got: &DiffRelation) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&(String, String)> = expected.pairs.keys().chain(got.pairs.keys()).collect();
    let none = (PortSet::empty(), PortSet::empty());
    for k in keys {
        let (e, g) = (
            expected.pairs.get(k).unwrap_or(&none),
            got.pairs.get(k).unwrap_or(&none),
        );
        if e != g {
            out.push(format!(
                "{} => {}: expected {} → {}, got {} → {}",
                k.0, k.1, e.0, e.1, g.0, g.1
            ));
        }
    }
    let keys: BTreeSet<&(String, bool)> = expected
        .external
        .keys()
        .chain(got.external.keys())
        .collect();
    for k in keys {
        let empty = Vec::new();
        let (e, g) = (
            expected.external.get(k).unwrap_or(&empty),
            got.external.get(k).unwrap_or(&empty),
        );
        let side = |v: &[V4Change], before: bool| -> Vec<V4Ports> {
            v.iter()
                .map(|(lo, hi, b, a)| (*lo, *hi, if before { b.clone() } else { a.clone() }))
                .collect()
        };
        for before in [true, false] {
            for (at, x, y) in split(&side(e, before), &side(g, before)) {
                if x != y {
                    out.push(format!(
                        "{} {} {}: {}: expected `{x}`, got `{y}`",
                        k.0,
                        if k.1 { "from" } else { "to" },
                        std::net::Ipv4Addr::from(at),
                        if before { "before" } else { "after" }
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn npguard_diff_goldens_agree() {
    let Some(root) = conformance_dir() else {
        common::missing_data(
            "np-guard conformance data not found (../shared/conformance/np-guard)",
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("diff"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut agree, mut total, mut skipped, mut failures) = (0, 0, 0, Vec::new());
    for f in files {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let Some(names) = stem.strip_prefix("diff_between_") else {
            continue;
        };
        // `<new>_and_<old>`: the split whose two halves are both cases.
        let split_at = names.match_indices("_and_").map(|(i, _)| i).find(|&i| {
            root.join("cases").join(&names[..i]).is_dir()
                && root.join("cases").join(&names[i + 5..]).is_dir()
        });
        let Some(i) = split_at else {
            failures.push(format!("{stem}: cannot tell the two cases apart"));
            continue;
        };
        let (new, old) = (
            root.join("cases").join(&names[..i]),
            root.join("cases").join(&names[i + 5..]),
        );
        let rejected = |dir: &Path| {
            let name = dir.file_name().unwrap().to_string_lossy();
            TIER_REJECTED.iter().any(|(n, _, _)| *n == name)
        };
        if rejected(&new) || rejected(&old) {
            skipped += 1;
            continue;
        }
        total += 1;
        match our_diff(&old, &new) {
            Ok(got) => {
                let d = compare_diff(&golden_diff(&f), &got);
                if d.is_empty() {
                    agree += 1;
                } else {
                    failures.push(format!(
                        "{stem}: {} differences, first: {}",
                        d.len(),
                        d.iter().take(4).cloned().collect::<Vec<_>>().join("\n    ")
                    ));
                }
            }
            Err(e) => failures.push(format!("{stem}: {e}")),
        }
    }
    println!(
        "np-guard diff goldens: {agree}/{total} agree; {skipped} skipped (a side the API server would reject, see TIER_REJECTED)"
    );
    assert!(
        total >= 25,
        "expected about 30 checkable diff goldens, found {total}"
    );
    assert!(
        failures.is_empty(),
        "{} diffs disagree:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
