//! `kubeseg audit`: the segmentation gaps an attacker would use.
//!
//! The audit computes every distinct row of the reachability matrix once
//! ([`crate::rows`]), derives the workload graph's closure and shortest paths from it
//! ([`crate::graph`]), and runs each check over that shared state. Checks return
//! findings; the report layer renders them.

mod checks;
pub mod context;
mod egress;
mod fix;
pub mod intent;
mod lateral;
pub(crate) mod mesh;
mod score;
pub mod yaml;

use crate::attribution::Attribution;
use crate::finding::Finding;
use crate::graph::Closure;
use crate::rows::Rows;
pub use context::{CrownJewel, EntryPoint};
pub use egress::SensitiveTarget;
use kubeseg_engine::Engine;
use kubeseg_model::{IpSet, PortSet, Selector};
pub use lateral::{BlastRadius, Path};
pub use score::Score;

/// What an audit covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Workloads audited.
    pub workloads: usize,
    /// Namespaces audited.
    pub namespaces: usize,
    /// NetworkPolicies audited.
    pub policies: usize,
    /// Cilium policies audited (enforced under `--cni`).
    pub cilium_policies: usize,
}

/// What the user told the audit.
#[derive(Clone, Debug, Default)]
pub struct AuditConfig {
    /// `--assume-compromised`: `ns/name` or `ns/name[Kind]`.
    pub assume_compromised: Vec<String>,
    /// `--crown-jewel`: label selectors, with their text.
    pub crown_jewels: Vec<(String, Selector)>,
    /// `--apiserver`: addresses and the ports that count (`None`: 443 and 6443).
    pub apiserver: Vec<(String, IpSet, Option<u16>)>,
    /// `--node-cidr`: the nodes' addresses, with their text.
    pub node_cidrs: Vec<(String, IpSet)>,
    /// The largest minimum cut the audit lists connection by connection.
    pub max_cut: usize,
    /// The engine's reading of open semantics (to recompute reachability for checks).
    pub options: kubeseg_engine::Options,
    /// `--trust-domain` and `--istio-root-namespace`, for the mesh checks.
    pub mesh: kubeseg_engine::mesh::MeshOptions,
    /// `--protocols`: the lateral-movement graph counts a hop only on these ports
    /// (`None`: every protocol).
    pub protocols: Option<kubeseg_model::PortSet>,
    /// `--spec`: its `allow` assertions are required flows.
    pub spec: Option<kubeseg_model::spec::ConnectivitySpec>,
}

/// Input the audit refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// An `--assume-compromised` that names no workload.
    #[error("--assume-compromised {0}: {1}")]
    UnknownWorkload(String, String),
    /// A `--crown-jewel` selector that matches no pod.
    #[error("--crown-jewel {0}: the selector matches no pod in the input")]
    SelectorMatchesNothing(String),
    /// A `--spec` assertion that cannot be read against this input.
    #[error("--spec {0}")]
    Spec(String),
}

/// A fact the audit could not establish, shown with the findings so that a clean
/// report is never mistaken for a complete one.
pub type Note = String;

/// The audit's answer.
#[derive(Debug)]
pub struct AuditReport {
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// The entry points.
    pub entry_points: Vec<EntryPoint>,
    /// The crown jewels.
    pub crown_jewels: Vec<CrownJewel>,
    /// Blast radius of every workload, in workload order.
    pub blast: Vec<BlastRadius>,
    /// Every entry-point → crown-jewel shortest path, shortest first.
    pub paths: Vec<Path>,
    /// Segmentation scores: the cluster first, then each namespace.
    pub scores: Vec<Score>,
    /// What the audit could not check, and why.
    pub notes: Vec<Note>,
    /// External endpoints (address atoms) holding the cloud metadata service, the API
    /// server or the kubelets.
    pub sensitive: Vec<SensitiveTarget>,
    /// Workloads, namespaces and policies audited.
    pub counts: Counts,
    /// How long each phase took, for `KUBESEG_TIMINGS` (never part of any output format).
    pub timings: Vec<(&'static str, std::time::Duration)>,
    /// The rows the graph was built from, for a later [`audit_since`].
    pub rows: Rows,
}

/// Phase durations.
struct Clock {
    last: Option<std::time::Instant>,
    laps: Vec<(&'static str, std::time::Duration)>,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            last: Some(std::time::Instant::now()),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, what: &'static str) {
        let now = std::time::Instant::now();
        let since = self.last.unwrap_or(now);
        self.laps.push((what, now - since));
        self.last = Some(now);
    }
}

/// Shared state of one audit run.
pub(crate) struct Audit<'e, 'c> {
    pub engine: &'e mut Engine<'c>,
    pub rows: Rows,
    pub closure: Closure,
    pub attribution: Attribution,
    pub jewels: Vec<CrownJewel>,
    pub is_jewel: Vec<bool>,
    pub entries: Vec<EntryPoint>,
    pub is_entry: Vec<bool>,
    /// Per workload: whether every one of its pods is isolated for ingress, tiers
    /// included (a NetworkPolicy with Ingress selects it, or an Admin or Baseline tier
    /// policy with an ingress `Deny` rule applies to it); for egress.
    pub ingress_isolated: Vec<bool>,
    pub egress_isolated: Vec<bool>,
    /// The same by NetworkPolicies alone (what a generated NetworkPolicy changes).
    pub np_ingress_isolated: Vec<bool>,
    pub np_egress_isolated: Vec<bool>,
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
    /// The mesh, when the input has one (for evidence about single hops).
    pub mesh: Option<kubeseg_engine::mesh::Annotator<'c>>,
    /// `--protocols`.
    pub protocols: Option<kubeseg_model::PortSet>,
    /// The flows `--spec` requires.
    pub intent: intent::Intent,
}

impl Audit<'_, '_> {
    pub fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    pub fn id(&self, e: usize) -> String {
        self.engine.endpoint_id(e)
    }
}

/// Runs every check.
pub fn audit(engine: &mut Engine, config: &AuditConfig) -> Result<AuditReport, AuditError> {
    audit_since(engine, config, None)
}

/// [`audit`], keeping the rows of an earlier audit where a change left them as they
/// were (see [`crate::rows::Earlier`]); the report is the same.
pub fn audit_since(
    engine: &mut Engine,
    config: &AuditConfig,
    earlier: Option<&crate::rows::Earlier>,
) -> Result<AuditReport, AuditError> {
    let cluster = engine.cluster;
    let assumed = resolve_assumed(engine, &config.assume_compromised)?;
    for (text, sel) in &config.crown_jewels {
        let hit = cluster
            .workloads
            .iter()
            .any(|w| w.pods.iter().any(|p| sel.matches(&p.labels)));
        if !hit {
            return Err(AuditError::SelectorMatchesNothing(text.clone()));
        }
    }
    let mut notes = Vec::new();
    let targets = egress::targets(engine, config, &mut notes);
    let mut clock = Clock::start();
    // The lateral-movement graph leaves out what the mesh denies for every request.
    let cluster_ref = engine.cluster;
    let mut mesh =
        kubeseg_engine::mesh::Annotator::new(cluster_ref, config.mesh.clone(), engine.options);
    let rows = Rows::compute_since(
        engine,
        &targets.targets,
        mesh.as_mut(),
        config.protocols.as_ref(),
        earlier,
    );
    if let Some(p) = &config.protocols {
        let names: Vec<&str> = kubeseg_model::Protocol::ALL
            .iter()
            .filter(|&&proto| !p.ports(proto).is_empty())
            .map(|proto| proto.as_str())
            .collect();
        notes.push(format!(
            "--protocols: blast radius, paths and the minimal fix count connections on {} only",
            names.join(", ")
        ));
    }
    clock.lap("rows");
    let closure = Closure::compute(&rows);
    clock.lap("closure");
    let attribution = Attribution::new(engine);
    let all_nodes = |engine: &Engine, w: usize, f: &dyn Fn(usize) -> bool| {
        engine.reach.endpoint_nodes(w).into_iter().all(f)
    };
    let workloads = cluster.workloads.len();
    let per_workload = |f: &dyn Fn(usize) -> bool| -> Vec<bool> {
        (0..workloads).map(|w| all_nodes(engine, w, f)).collect()
    };
    let ingress_isolated = per_workload(&|n| attribution.ingress_restricted(n));
    let egress_isolated = per_workload(&|n| attribution.egress_restricted(n));
    let np_ingress_isolated = per_workload(&|n| attribution.ingress_isolated(n));
    let np_egress_isolated = per_workload(&|n| attribution.egress_isolated(n));
    let jewels = context::crown_jewels(cluster, &config.crown_jewels);
    let mut is_jewel = vec![false; workloads];
    for j in &jewels {
        is_jewel[j.workload] = true;
    }
    let atom_ranges = |e: usize| engine.endpoint_id(e);
    // Outside addresses admitted where a NetworkPolicy isolates are admitted on purpose;
    // a tiered Deny (of pods, say) leaves the default for addresses as it was.
    let entries =
        context::entry_points(cluster, &rows, &np_ingress_isolated, &atom_ranges, &assumed);
    let mut is_entry = vec![false; workloads];
    for e in &entries {
        is_entry[e.workload] = true;
    }
    let intent = match &config.spec {
        Some(spec) => intent::Intent::from_spec(engine, &rows, spec, &mut notes)?,
        None => intent::Intent::default(),
    };
    let mut a = Audit {
        intent,
        engine,
        rows,
        closure,
        attribution,
        jewels,
        is_jewel,
        entries,
        is_entry,
        ingress_isolated,
        egress_isolated,
        np_ingress_isolated,
        np_egress_isolated,
        findings: Vec::new(),
        notes,
        mesh,
        protocols: config.protocols.clone(),
    };
    checks::isolation(&mut a);
    let (blast, paths) = lateral::lateral(&mut a);
    clock.lap("lateral");
    egress::sensitive_egress(&mut a, &targets);
    egress::dns(&mut a, &targets);
    checks::rules(&mut a);
    checks::dead(&mut a);
    mesh::check(&mut a, &config.mesh);
    checks::host_network_remediations(&mut a, config.options);
    clock.lap("checks");
    fix::minimal_fix(&mut a, &paths, config.max_cut, config.options);
    clock.lap("minimal fix");
    let scores = score::scores(&a);
    clock.lap("scores");
    let mut findings = std::mem::take(&mut a.findings);
    for f in &mut findings {
        // Evidence keeps its order (path hops read in order); repeats go.
        let mut seen = std::collections::BTreeSet::new();
        f.evidence.retain(|e| seen.insert(e.clone()));
    }
    findings.sort_by(|x, y| x.sort_key().cmp(&y.sort_key()));
    let cluster = a.engine.cluster;
    Ok(AuditReport {
        findings,
        entry_points: a.entries,
        crown_jewels: a.jewels,
        blast,
        paths,
        scores,
        notes: a.notes,
        sensitive: targets.named(),
        counts: Counts {
            workloads: cluster.workloads.len(),
            namespaces: cluster.namespaces.len(),
            policies: cluster.policies.len(),
            cilium_policies: cluster.cilium_policies.len(),
        },
        timings: clock.laps,
        rows: a.rows,
    })
}

/// `--assume-compromised` names → workload indices, by the one resolver of names.
fn resolve_assumed(engine: &Engine, names: &[String]) -> Result<Vec<usize>, AuditError> {
    let mut out = Vec::new();
    for name in names {
        let hits = crate::resolve::named(engine.cluster, name, None)
            .map_err(|e| AuditError::UnknownWorkload(name.clone(), e.to_string()))?;
        out.extend(hits.iter().map(|r| r.workload));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The ports of a Kubernetes API server when none are given.
pub fn apiserver_ports(port: Option<u16>) -> PortSet {
    use kubeseg_model::Protocol::Tcp;
    match port {
        Some(p) => PortSet::range(Tcp, p, p),
        None => PortSet::range(Tcp, 443, 443).union(&PortSet::range(Tcp, 6443, 6443)),
    }
}
