//! One pass over the distinct rows of the reachability matrix: each row key (sources
//! whose rows are identical) gets its one-hop workload set and what it sends to the
//! sensitive targets. Everything the audit needs from the matrix is taken here.

use kubeseg_engine::Engine;
use kubeseg_engine::bitset::BitSet;
use kubeseg_engine::mesh::{self, Annotator, Dataplane, Decision};
use kubeseg_engine::portsets::PortSetId;
use kubeseg_model::{PortSet, Protocol};
use rustc_hash::FxHashMap as HashMap;

/// Endpoints whose reachability the audit checks from every source.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// Named target groups: endpoint indices and the ports that matter (`None`: any).
    pub groups: Vec<TargetGroup>,
    /// Atoms that hold public IPv4 addresses.
    pub internet_v4: Vec<usize>,
    /// Atoms that hold public IPv6 addresses.
    pub internet_v6: Vec<usize>,
}

/// One group of target endpoints.
#[derive(Clone, Debug)]
pub struct TargetGroup {
    /// Endpoint indices.
    pub endpoints: Vec<usize>,
    /// Only these ports count; `None` for every port.
    pub ports: Option<PortSet>,
}

/// What one row key sends.
#[derive(Clone, Debug)]
pub struct KeyRow {
    /// Workloads reached in one hop on some port (the source itself included when its pods talk to each other).
    pub out: BitSet,
    /// Per target group: the ports allowed to any of its endpoints (restricted to the group's ports).
    pub to_targets: Vec<PortSet>,
    /// Whether every public IPv4 atom is reachable; likewise IPv6.
    pub internet: (bool, bool),
    /// The members of `out` reached on UDP or SCTP only: L3/L4 allows no TCP port, or
    /// the mesh denies every TCP port for any request (Istio does not authorize UDP or
    /// SCTP, so no AuthorizationPolicy can close these hops).
    pub without_tcp: BitSet,
}

/// The rows of all workload sources, deduplicated by row key.
#[derive(Debug)]
pub struct Rows {
    /// Number of workloads (endpoints `0..workloads` are the workloads).
    pub workloads: usize,
    /// Row key of each workload.
    pub key_of: Vec<u32>,
    /// Per key: its row facts.
    pub keys: Vec<KeyRow>,
    /// Per key: its workloads, ascending.
    pub members: Vec<Vec<u32>>,
    /// Per workload: the external atoms (endpoint indices) that may connect to it.
    pub admitted_from: Vec<Vec<u32>>,
}

impl Rows {
    /// Computes every distinct row once (L3/L4 only).
    pub fn compute(engine: &mut Engine, targets: &Targets) -> Rows {
        Self::compute_with_mesh(engine, targets, None, None)
    }

    /// Computes every distinct row once; with a mesh annotator, a one-hop edge that the
    /// destination's proxy denies for every request on every port L3/L4 allows (and no
    /// UDP or SCTP, which Istio does not authorize) is left out of `out`. Sources then
    /// also differ by their mesh identity (namespace, service account, data plane).
    /// With `protocols`, a hop counts only on those ports (`--protocols tcp`).
    pub fn compute_with_mesh(
        engine: &mut Engine,
        targets: &Targets,
        mut mesh: Option<&mut Annotator>,
        protocols: Option<&PortSet>,
    ) -> Rows {
        let workloads = engine.cluster.workloads.len();
        let endpoints = engine.endpoints().len();
        let mut key_ids: HashMap<Vec<u32>, u32> = HashMap::default();
        let mut key_of = Vec::with_capacity(workloads);
        let mut keys: Vec<KeyRow> = Vec::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        let (mut scratch, mut row) = (Vec::new(), Vec::new());
        let mut identities: HashMap<(&str, Option<&str>, Dataplane), u32> = HashMap::default();
        let cluster = engine.cluster;
        for w in 0..workloads {
            let mut key = engine.reach.endpoint_row_key(w);
            if mesh.is_some() {
                let wl = &cluster.workloads[w];
                let pod = &wl.pods[0];
                let identity = (
                    wl.namespace.as_str(),
                    pod.service_account.as_deref(),
                    mesh::dataplane(cluster, &wl.namespace, pod),
                );
                let next = identities.len() as u32;
                key.push(*identities.entry(identity).or_insert(next));
            }
            let next = key_ids.len() as u32;
            let k = *key_ids.entry(key).or_insert(next);
            key_of.push(k);
            if (k as usize) < keys.len() {
                members[k as usize].push(w as u32);
                continue;
            }
            engine.reach.endpoint_row(w, &mut scratch, &mut row);
            let mut facts = key_row(engine, &row, workloads, targets, protocols);
            facts.without_tcp = classify_hops(
                engine,
                mesh.as_deref_mut(),
                w,
                &row,
                &mut facts.out,
                protocols,
            );
            keys.push(facts);
            members.push(vec![w as u32]);
        }
        let mut admitted_from = vec![Vec::new(); workloads];
        for atom in workloads..endpoints {
            engine.reach.endpoint_row(atom, &mut scratch, &mut row);
            for (w, &cell) in row[..workloads].iter().enumerate() {
                if cell != PortSetId::EMPTY {
                    admitted_from[w].push(atom as u32);
                }
            }
        }
        Rows {
            workloads,
            key_of,
            keys,
            members,
            admitted_from,
        }
    }

    /// The one-hop workload set of workload `w`.
    pub fn out(&self, w: usize) -> &BitSet {
        &self.keys[self.key_of[w] as usize].out
    }
}

/// Removes from `out` the destinations that no TCP port the mesh lets through and no
/// UDP or SCTP port reaches (within `protocols`), and returns those reached on UDP or
/// SCTP only.
fn classify_hops(
    engine: &Engine,
    mut mesh: Option<&mut Annotator>,
    src: usize,
    row: &[PortSetId],
    out: &mut BitSet,
    protocols: Option<&PortSet>,
) -> BitSet {
    let all_tcp = PortSet::all_of(Protocol::Tcp);
    let mut without_tcp = BitSet::new(out.capacity());
    let reached: Vec<usize> = out.iter().filter(|&d| d != src).collect();
    for d in reached {
        let full = engine.port_set(row[d]);
        let ports = match protocols {
            Some(p) => full.intersect(p),
            None => full.clone(),
        };
        let tcp = ports.intersect(&all_tcp);
        let other = ports.difference(&all_tcp);
        let mut tcp_open = !tcp.is_empty();
        if let (true, Some(m)) = (tcp_open, mesh.as_deref_mut()) {
            let notes = m.annotate(Ok(src), d, row[d].0, full);
            let relevant: Vec<_> = notes
                .iter()
                .filter(|a| !a.ports.intersect(&tcp).is_empty())
                .collect();
            tcp_open = relevant.is_empty()
                || relevant
                    .iter()
                    .any(|a| a.verdict.decision != Decision::Denied);
        }
        match (tcp_open, other.is_empty()) {
            (true, _) => {}
            (false, true) => out.remove(d),
            (false, false) => without_tcp.insert(d),
        }
    }
    without_tcp
}

fn key_row(
    engine: &Engine,
    row: &[PortSetId],
    workloads: usize,
    targets: &Targets,
    protocols: Option<&PortSet>,
) -> KeyRow {
    let mut out = BitSet::new(workloads);
    for (w, &cell) in row[..workloads].iter().enumerate() {
        let counts = match protocols {
            None => cell != PortSetId::EMPTY,
            Some(p) => !engine.port_set(cell).intersect(p).is_empty(),
        };
        if counts {
            out.insert(w);
        }
    }
    let to_targets = targets
        .groups
        .iter()
        .map(|g| {
            let mut ports = PortSet::empty();
            for &e in &g.endpoints {
                ports = ports.union(engine.port_set(row[e]));
            }
            match &g.ports {
                Some(only) => ports.intersect(only),
                None => ports,
            }
        })
        .collect();
    let all =
        |atoms: &[usize]| !atoms.is_empty() && atoms.iter().all(|&a| row[a] != PortSetId::EMPTY);
    KeyRow {
        without_tcp: BitSet::new(workloads),
        out,
        to_targets,
        internet: (all(&targets.internet_v4), all(&targets.internet_v6)),
    }
}
