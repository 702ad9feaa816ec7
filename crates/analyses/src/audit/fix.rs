//! KS801: the fewest connections whose removal cuts every entry-point → crown-jewel
//! path, and the NetworkPolicies that remove exactly those, checked by recomputing.

use super::lateral::Path;
use super::yaml::{self, Source};
use super::{Audit, finding};
use crate::finding::{Evidence, Remediation, Severity};
use crate::graph::{Cut, min_cut};
use crate::registry::MINIMAL_FIX;
use crate::rows::{Rows, Targets};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::Cluster;
use std::collections::BTreeMap;

/// Destinations with more sources than this get no generated allow list.
const MAX_LISTED_SOURCES: usize = 50;

/// Computes the cut over the paths found and reports it.
pub fn minimal_fix(a: &mut Audit, paths: &[Path], limit: usize, options: Options) {
    // Paths: every pair when listed, else the nearest entry point's per crown jewel; the
    // cut is computed from every entry point to every crown jewel either way.
    let cuttable: Vec<&Path> = paths.iter().filter(|p| !p.is_empty()).collect();
    if cuttable.is_empty() {
        return;
    }
    let sources: Vec<usize> = a.entries.iter().map(|e| e.workload).collect();
    let sinks: Vec<usize> = a.jewels.iter().map(|j| j.workload).collect();
    let severity = cuttable
        .iter()
        .map(|p| p.severity)
        .max()
        .unwrap_or(Severity::High);
    let edges = match min_cut(&a.rows, &sources, &sinks, limit) {
        Cut::Edges(e) => e,
        Cut::TooLarge(limit) => {
            let mut f = finding(
                &MINIMAL_FIX,
                format!(
                    "more than {limit} connections would have to be removed to cut every entry-point → crown-jewel path: the network is too flat for a targeted fix"
                ),
                vec![],
            );
            f.severity = severity;
            f.remediation = Remediation {
                text: "Start with default-deny policies (KS103, KS104) in the namespaces of the entry points and crown jewels, then allow what each workload needs.".into(),
                yaml: None,
            };
            a.push(f);
            return;
        }
    };
    let ids: Vec<String> = edges
        .iter()
        .map(|&(u, v)| format!("{} → {}", a.id(u), a.id(v)))
        .collect();
    let exposed: Vec<String> = paths
        .iter()
        .filter(|p| p.is_empty())
        .map(|p| a.id(p.hops[0]))
        .collect();
    let uncut = if exposed.is_empty() {
        String::new()
    } else {
        format!(
            " (no connection can protect {}, which is itself an entry point)",
            exposed.join(", ")
        )
    };
    let mut f = finding(
        &MINIMAL_FIX,
        format!(
            "removing {} connection(s) cuts all {} entry-point → crown-jewel path(s){uncut}: {}",
            edges.len(),
            cuttable.len(),
            ids.join(", ")
        ),
        ids.clone(),
    );
    f.severity = severity;
    for &(u, v) in &edges {
        let hop = format!("{} → {}", a.id(u), a.id(v));
        for ev in a.attribution.pair_evidence(a.engine, u, v) {
            f.evidence
                .push(Evidence::at(ev.location, format!("{hop}: {}", ev.message)));
        }
    }
    f.location = f.evidence.iter().find_map(|e| e.location.clone());
    f.remediation = remediation(a, options, &edges);
    a.push(f);
}

/// Per cut destination: an ingress allow list without the cut sources when the
/// destination is not isolated; otherwise the rules to narrow.
fn remediation(a: &mut Audit, options: Options, edges: &[(usize, usize)]) -> Remediation {
    let cluster = a.engine.cluster;
    let mut by_dst: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(u, v) in edges {
        by_dst.entry(v).or_default().push(u);
    }
    let mut text = Vec::new();
    let mut docs = Vec::new();
    for (&v, cut_sources) in &by_dst {
        let id = a.id(v);
        let cut_names: Vec<String> = cut_sources.iter().map(|&u| a.id(u)).collect();
        if a.ingress_isolated[v] {
            text.push(format!("{id} is isolated for ingress: narrow the ingress rules listed as evidence so that they no longer admit {}.", cut_names.join(", ")));
            continue;
        }
        let in_neighbours = in_neighbours(&a.rows, v);
        let kept: Vec<usize> = in_neighbours
            .into_iter()
            .filter(|u| !cut_sources.contains(u))
            .collect();
        if kept.len() > MAX_LISTED_SOURCES {
            text.push(format!("{id} has {} other clients: isolate its ingress and admit them by label, leaving out {}.", kept.len(), cut_names.join(", ")));
            continue;
        }
        let mut sources: Vec<Source> = vec![
            Source::Block("0.0.0.0/0".into(), vec![]),
            Source::Block("::/0".into(), vec![]),
        ];
        sources.extend(kept.iter().map(|&u| {
            Source::Pods(
                cluster.workloads[u].namespace.clone(),
                yaml::workload_labels(cluster, u),
            )
        }));
        sources.sort();
        sources.dedup();
        let wl = &cluster.workloads[v];
        let name = format!("{}-ingress-allow-list", wl.name);
        docs.push(yaml::ingress_allow(
            &name,
            &wl.namespace,
            &yaml::workload_labels(cluster, v),
            &sources,
        ));
        text.push(format!("{id} is not isolated for ingress: the policy `{name}` isolates it and admits everything it admits today except {}.", cut_names.join(", ")));
    }
    if !docs.is_empty() {
        text.push(verify(a, options, &docs, edges));
    }
    Remediation {
        text: text.join(" "),
        yaml: (!docs.is_empty()).then(|| docs.join("---\n")),
    }
}

/// The outside addresses that may connect to workload `w` (atoms differ between engines).
fn admitted(engine: &Engine, rows: &Rows, w: usize) -> kubeseg_model::IpSet {
    rows.admitted_from[w]
        .iter()
        .filter_map(|&e| match &engine.endpoints()[e as usize] {
            kubeseg_engine::Endpoint::External { addresses, .. } => Some(addresses),
            _ => None,
        })
        .fold(kubeseg_model::IpSet::empty(), |acc, s| acc.union(s))
}

/// The workloads that may connect to `v` (itself included when its pods talk to each other).
fn in_neighbours(rows: &Rows, v: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for (k, row) in rows.keys.iter().enumerate() {
        if row.out.contains(v) {
            out.extend(rows.members[k].iter().map(|&m| m as usize));
        }
    }
    out.sort_unstable();
    out
}

/// Recomputes reachability with the generated policies and says whether exactly the cut
/// connections disappeared.
fn verify(a: &Audit, options: Options, docs: &[String], edges: &[(usize, usize)]) -> String {
    let mut cluster: Cluster = a.engine.cluster.clone();
    // The generated text goes through the real loader, so its syntax is checked too.
    let loaded = kubeseg_sources::load_str("<generated fix>", &docs.join("---\n"));
    if !loaded.diagnostics.is_empty() || loaded.cluster.policies.len() != docs.len() {
        return "(The generated policies did not load cleanly: do not apply them as they are.)"
            .into();
    }
    cluster.policies.extend(loaded.cluster.policies);
    cluster
        .policies
        .sort_by(|x, y| (&x.namespace, &x.name).cmp(&(&y.namespace, &y.name)));
    let mut engine = Engine::new(&cluster, options);
    let after = Rows::compute(&mut engine, &Targets::default());
    let mut unexpected = Vec::new();
    for u in 0..a.rows.workloads {
        let (before, now) = (a.rows.out(u), after.out(u));
        for v in before.iter() {
            if !now.contains(v) && !edges.contains(&(u, v)) {
                unexpected.push(format!("{} → {}", a.id(u), a.id(v)));
            }
        }
        if now.iter().any(|v| !before.contains(v))
            || admitted(&engine, &after, u) != admitted(a.engine, &a.rows, u)
        {
            unexpected.push(format!("connections of {}", a.id(u)));
        }
    }
    let still: Vec<&(usize, usize)> = edges
        .iter()
        .filter(|&&(u, v)| after.out(u).contains(v))
        .collect();
    if unexpected.is_empty() && still.is_empty() {
        "Checked by recomputing reachability with these policies: exactly the listed connections disappear.".into()
    } else {
        format!(
            "Checked by recomputing reachability: NOT exact ({} cut connection(s) remain; also changed: {}). Review before applying.",
            still.len(),
            if unexpected.is_empty() {
                "nothing".into()
            } else {
                unexpected.join(", ")
            }
        )
    }
}
