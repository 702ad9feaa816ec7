//! KS801: the fewest connections whose removal cuts every entry-point → crown-jewel
//! path, and the NetworkPolicies that remove exactly those, checked by recomputing.

use super::Audit;
use super::lateral::Path;
use super::yaml::{self, Source};
use crate::attribution::{ports_text, tier_rule_text};
use crate::finding::{Evidence, Finding, Remediation, Severity};
use crate::graph::{Cut, min_cut};
use crate::registry::MINIMAL_FIX;
use crate::required_cut::min_cut_keeping;
use crate::rows::{Rows, Targets};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::{Action, Cluster, Tier};
use std::collections::BTreeMap;

/// Destinations with more sources than this get no generated allow list.
const MAX_LISTED_SOURCES: usize = 50;

/// Computes the cut over the paths found and reports it.
pub fn minimal_fix(a: &mut Audit, paths: &[Path], limit: usize, options: Options) {
    // Paths: every pair when listed, else the nearest entry point's per crown jewel; the
    // cut is computed from every entry point to every crown jewel either way.
    // With required flows, a crown jewel that is itself an entry point is not cut off
    // from the other entry points either (the cut keeps what entry points reach).
    let cuttable: Vec<&Path> = paths
        .iter()
        .filter(|p| !p.is_empty())
        .filter(|p| a.intent.is_empty() || !a.is_entry[p.hops[p.hops.len() - 1]])
        .collect();
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
    // With required flows, the cut leaves the paths made of them alone (they are
    // intended) and never removes one.
    let cut = if a.intent.is_empty() {
        min_cut(&a.rows, &sources, &sinks, limit)
    } else {
        match min_cut_keeping(&a.rows, &sources, &sinks, limit, &a.intent.required) {
            Some(cut) => cut,
            None => {
                a.notes.push("minimal fix (KS801) not computed: with --spec, the workload graph is too large for the cut that keeps required flows".into());
                return;
            }
        }
    };
    let edges = match cut {
        Cut::Edges(e) if e.is_empty() => return,
        Cut::Edges(e) => e,
        Cut::TooLarge(limit) => {
            let mut f = Finding::new(
                &MINIMAL_FIX,
                format!(
                    "more than {limit} connections would have to be removed to cut every entry-point → crown-jewel path: the network is too flat for a targeted fix"
                ),
                None,
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
    let (keeping, which) = if a.intent.is_empty() {
        ("", "")
    } else {
        (
            ", keeping every flow --spec requires,",
            " to crown jewels not reached as intended",
        )
    };
    let mut f = Finding::new(
        &MINIMAL_FIX,
        format!(
            "removing {} connection(s){keeping} cuts all {} entry-point → crown-jewel path(s){which}{uncut}: {}",
            edges.len(),
            cuttable.len(),
            ids.join(", ")
        ),
        None,
        ids.clone(),
    );
    f.severity = severity;
    f.edges = edges.iter().map(|&(u, v)| (a.id(u), a.id(v))).collect();
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
/// destination is not isolated by a NetworkPolicy; otherwise the rules to narrow. A
/// connection the Admin tier accepts is out of any NetworkPolicy's reach: for it the
/// remediation names the Admin rules to change instead.
fn remediation(a: &mut Audit, options: Options, edges: &[(usize, usize)]) -> Remediation {
    let cluster = a.engine.cluster;
    let mut by_dst: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(u, v) in edges {
        by_dst.entry(v).or_default().push(u);
    }
    let mut text = Vec::new();
    let mut docs = Vec::new();
    // The cut connections the generated policies are meant to remove.
    let mut targeted = Vec::new();
    for (&v, all_sources) in &by_dst {
        let id = a.id(v);
        let mut cut_sources = Vec::new();
        for &u in all_sources {
            let accepts = a.attribution.admin_accepts(a.engine, u, v, false);
            if accepts.is_empty() {
                cut_sources.push(u);
                continue;
            }
            let rules: Vec<String> = accepts
                .iter()
                .map(|s| {
                    let (rule, at) = tier_rule_text(a.engine, s, false);
                    let at = at.map(|l| format!(" ({l})")).unwrap_or_default();
                    format!("{rule}{at} accepts {}", ports_text(&s.decided))
                })
                .collect();
            let mut policies: Vec<String> = accepts
                .iter()
                .map(|s| cluster.cluster_policies[s.policy].id())
                .collect();
            policies.dedup();
            text.push(format!(
                "{} → {id} cannot be cut by a NetworkPolicy: {} in the Admin tier, before any NetworkPolicy is consulted. Change {} so that it no longer accepts {} (or deny it in an earlier Admin rule).",
                a.id(u),
                rules.join("; "),
                policies.join(", "),
                a.id(u)
            ));
        }
        if cut_sources.is_empty() {
            continue;
        }
        let cut_names: Vec<String> = cut_sources.iter().map(|&u| a.id(u)).collect();
        if a.np_ingress_isolated[v] {
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
        targeted.extend(cut_sources.iter().map(|&u| (u, v)));
        text.push(format!("{id} is not isolated for ingress: the policy `{name}` isolates it and admits everything it admits today except {}.", cut_names.join(", ")));
        let baseline = baseline_deny_policies(a, v);
        if !baseline.is_empty() {
            text.push(format!("Once a NetworkPolicy isolates {id}, the Baseline tier ({}) no longer applies to it: ports that tier denies to the kept clients become open (the check below compares workloads and addresses, not ports).", baseline.join(", ")));
        }
    }
    if !docs.is_empty() {
        text.push(verify(a, options, &docs, &targeted));
    }
    Remediation {
        text: text.join(" "),
        yaml: (!docs.is_empty()).then(|| docs.join("---\n")),
    }
}

/// The Baseline-tier policies with an ingress `Deny` rule that apply to workload `v`.
fn baseline_deny_policies(a: &Audit, v: usize) -> Vec<String> {
    let cluster = a.engine.cluster;
    let mut out: Vec<String> = a
        .engine
        .reach
        .endpoint_nodes(v)
        .into_iter()
        .flat_map(|n| a.attribution.tier_ingress_policies(n).to_vec())
        .filter_map(|p| cluster.cluster_policies.get(p.index()))
        .filter(|p| p.tier == Tier::Baseline && p.ingress.iter().any(|r| r.action == Action::Deny))
        .map(|p| p.id())
        .collect();
    out.sort();
    out.dedup();
    out
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

#[cfg(test)]
mod tests {
    //! Tier-aware evidence and remediation on hand-derived clusters.
    use crate::audit::{AuditConfig, AuditReport, audit};
    use crate::finding::Finding;
    use kubeseg_engine::{Engine, Options};

    fn run(name: &str, text: &str) -> AuditReport {
        let loaded = kubeseg_sources::load_str(name, text);
        assert!(
            loaded
                .diagnostics
                .iter()
                .all(|d| d.severity == kubeseg_model::Severity::Info),
            "{:?}",
            loaded.diagnostics
        );
        let cluster = Box::leak(Box::new(loaded.cluster));
        let mut engine = Engine::new(cluster, Options::default());
        let config = AuditConfig {
            max_cut: 100,
            ..Default::default()
        };
        audit(&mut engine, &config).expect("audit")
    }

    fn one<'r>(report: &'r AuditReport, code: &str) -> &'r Finding {
        let hits: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.rule.code == code)
            .collect();
        assert_eq!(hits.len(), 1, "{code}: {hits:#?}");
        hits[0]
    }

    fn messages(f: &Finding) -> Vec<String> {
        f.evidence
            .iter()
            .map(|e| {
                let line = e.location.as_ref().map_or(0, |l| l.line);
                format!("{line}: {}", e.message)
            })
            .collect()
    }

    /// b/db is behind a NetworkPolicy default deny, but the AdminNetworkPolicy's
    /// ingress[0] (line 74 of the fixture) accepts TCP 5432 from namespace a first.
    #[test]
    fn an_admin_accept_is_the_evidence_and_no_network_policy_can_cut_it() {
        let r = run(
            "admin.yaml",
            include_str!("../../tests/fixtures/ks202-ks801-tier-admin-accept.yaml"),
        );
        let hop = "a/web[Pod] → b/db[Pod]: ";
        let want = [
            format!("22: {hop}no NetworkPolicy isolates the egress of a/web[Pod]"),
            format!(
                "74: {hop}ingress[0] (from-web) of AdminNetworkPolicy/allow-web-db accepts TCP 5432 in the Admin tier, before any NetworkPolicy"
            ),
        ];
        for code in ["KS202", "KS801"] {
            let got = messages(one(&r, code));
            for w in &want {
                assert!(got.contains(w), "{code}: {w} not in {got:#?}");
            }
            // The default deny decides nothing here: it is not named as allowing.
            assert!(got.iter().all(|m| !m.contains("default-deny")), "{got:#?}");
        }
        let fix = &one(&r, "KS801").remediation;
        assert_eq!(fix.yaml, None);
        assert!(
            fix.text.starts_with("a/web[Pod] → b/db[Pod] cannot be cut by a NetworkPolicy: ingress[0] of AdminNetworkPolicy/allow-web-db"),
            "{}",
            fix.text
        );
        assert!(
            fix.text.contains(
                "Change AdminNetworkPolicy/allow-web-db so that it no longer accepts a/web[Pod]"
            ),
            "{}",
            fix.text
        );
        assert!(!fix.text.contains("Checked by recomputing"), "{}", fix.text);
    }

    /// The Admin tier passes TCP 5432 (rule at line 32) to the NetworkPolicies, whose
    /// rule (line 22) admits web; a
    /// second port (TCP 9000, line 36) is accepted by the Admin tier itself; the rest is
    /// denied. The NetworkPolicy
    /// rule allows every port but decides only what the Admin tier passed or left.
    const PASS: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-a, namespace: b}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}
  ingress:
  - name: to-np
    action: Pass
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {number: 5432}}}]
  - name: metrics
    action: Accept
    from: [{namespaces: {}}]
    protocols: [{tcp: {destinationPort: {number: 9000}}}]
  - name: rest
    action: Deny
    from: [{namespaces: {}}]
"#;

    #[test]
    fn an_admin_pass_and_the_network_policy_rule_are_both_named() {
        let r = run("pass.yaml", PASS);
        let got = messages(one(&r, "KS202"));
        let hop = "a/web[Pod] → b/db[Pod]: ";
        for w in [
            format!(
                "32: {hop}ingress[0] (to-np) of ClusterNetworkPolicy/guard passes TCP 5432 on to the NetworkPolicies"
            ),
            format!(
                "36: {hop}ingress[1] (metrics) of ClusterNetworkPolicy/guard accepts TCP 9000 in the Admin tier, before any NetworkPolicy"
            ),
            format!("22: {hop}ingress[0] of NetworkPolicy b/db-from-a allows TCP 5432"),
        ] {
            assert!(got.contains(&w), "{w} not in {got:#?}");
        }
        // The cut: TCP 9000 is the Admin tier's, so the NetworkPolicy cannot remove it.
        let fix = &one(&r, "KS801").remediation;
        assert!(
            fix.text
                .contains("ingress[1] of ClusterNetworkPolicy/guard")
                && fix.text.contains("accepts TCP 9000"),
            "{}",
            fix.text
        );
        assert_eq!(fix.yaml, None);
    }
}
