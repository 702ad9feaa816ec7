//! One pass over the distinct rows of the reachability matrix: each row key (sources
//! whose rows are identical) gets its one-hop workload set and what it sends to the
//! sensitive targets. Everything the audit needs from the matrix is taken here.

use kubeseg_engine::Engine;
use kubeseg_engine::bitset::BitSet;
use kubeseg_engine::mesh::{self, Annotator, AnnotatorSeed, Dataplane, Decision};
use kubeseg_engine::portsets::{PortSetId, PortSets};
use kubeseg_model::{PortSet, Protocol};
use rustc_hash::FxHashMap as HashMap;

pub use crate::rows_since::Earlier;

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
    /// Whether every public address of each family is reachable.
    pub internet: Internet,
    /// The workloads of `out` reached on UDP, SCTP or ICMP only (L3/L4 allows no TCP
    /// port there), when the mesh cannot deny anything (see [`Rows::without_tcp`]);
    /// empty otherwise.
    pub out_without_tcp: BitSet,
}

/// Whether a row reaches every public address of each family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Internet {
    /// Every public IPv4 atom is reachable.
    pub v4: bool,
    /// Every public IPv6 atom is reachable.
    pub v6: bool,
}

/// The rows of all workload sources, deduplicated by row key.
#[derive(Debug, Default)]
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
    /// Per workload, when the mesh cannot deny anything: its one-hop destinations
    /// reached on UDP, SCTP or ICMP only (see [`hops_without_tcp`]), counted with its row.
    pub without_tcp: Option<Vec<u32>>,
    /// The targets the rows were computed for.
    pub targets: Targets,
    /// How many key rows were kept from earlier rows ([`Rows::compute_since`]).
    pub kept: usize,
}

impl Rows {
    /// Computes every distinct row once (L3/L4 only).
    pub fn compute(engine: &mut Engine, targets: &Targets) -> Rows {
        Self::compute_with_mesh(engine, targets, None, None)
    }

    /// Computes every distinct row once; with a mesh annotator, a one-hop edge that the
    /// destination's proxy denies for every request on every port L3/L4 allows (and no
    /// UDP, SCTP or ICMP, which Istio does not authorize) is left out of `out`. Sources then
    /// also differ by their mesh identity (namespace, service account, data plane).
    /// With `protocols`, a hop counts only on those ports (`--protocols tcp`).
    pub fn compute_with_mesh(
        engine: &mut Engine,
        targets: &Targets,
        mesh: Option<&mut Annotator>,
        protocols: Option<&PortSet>,
    ) -> Rows {
        Self::compute_since(engine, targets, mesh, protocols, None)
    }

    /// [`Rows::compute_with_mesh`], keeping from `earlier` the rows of the sources a
    /// change did not touch (see `rows_since`) where that is exact.
    pub fn compute_since(
        engine: &mut Engine,
        targets: &Targets,
        mesh: Option<&mut Annotator>,
        protocols: Option<&PortSet>,
        earlier: Option<&Earlier>,
    ) -> Rows {
        let workloads = engine.cluster.workloads.len();
        let endpoints = engine.endpoints().len();
        let cluster = engine.cluster;
        // Row keys first (cheap), then one row per key on every thread.
        let mut key_ids: HashMap<Vec<u32>, u32> = HashMap::default();
        let mut key_of = Vec::with_capacity(workloads);
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut representatives: Vec<usize> = Vec::new();
        let mut identities: HashMap<(&str, Option<&str>, Dataplane), u32> = HashMap::default();
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
            if (k as usize) < members.len() {
                members[k as usize].push(w as u32);
            } else {
                members.push(vec![w as u32]);
                representatives.push(w);
            }
        }
        let seed = mesh.as_deref().map(Annotator::seed);
        // Without a policy that could deny, the mesh keeps every TCP hop, and the hops
        // without TCP are counted here for every workload, from the row at hand.
        let count_hops =
            cluster.authorization_policies.is_empty() && cluster.peer_authentications.is_empty();
        let earlier = earlier.filter(|e| {
            mesh.is_none()
                && protocols.is_none()
                && e.index.len() == workloads
                && e.same_internet(targets, workloads)
        });
        // Target facts are kept with the rows only while the targets are as they were.
        let recount = earlier
            .filter(|e| !e.same_groups(targets, workloads))
            .map(|_| targets);
        // Key rows kept from the earlier rows, and those computed afresh.
        let (mut kept, mut kept_keys, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
        for (k, &w) in representatives.iter().enumerate() {
            match earlier.and_then(|e| e.keeps(w)) {
                Some(row) => {
                    kept.push(row);
                    kept_keys.push(k);
                }
                None => fresh.push(k),
            }
        }
        let fresh_representatives: Vec<usize> = fresh.iter().map(|&k| representatives[k]).collect();
        let per_key = engine.reach.par_map_with(
            &fresh_representatives,
            || {
                (
                    Vec::new(),
                    Vec::new(),
                    seed.as_ref().map(AnnotatorSeed::annotator),
                )
            },
            |(scratch, row, annotator), worker, w| {
                worker.endpoint_row(w, scratch, row);
                let sets = worker.sets();
                let mut facts = key_row(sets, row, workloads, targets, protocols);
                if let Some(m) = annotator.as_mut() {
                    drop_mesh_denied(sets, m, w, row, &mut facts.out, protocols);
                }
                if count_hops {
                    facts.out_without_tcp = reached_without_tcp(sets, &facts.out, row, protocols);
                }
                facts
            },
        );
        let kept_count = kept_keys.len();
        let kept_representatives: Vec<usize> =
            kept_keys.iter().map(|&k| representatives[k]).collect();
        let renewed = match earlier {
            Some(e) => {
                let how = (count_hops, recount);
                crate::rows_since::renew(engine, e, &kept_representatives, kept, how)
            }
            None => Vec::new(),
        };
        let mut slots: Vec<Option<KeyRow>> = (0..representatives.len()).map(|_| None).collect();
        for (k, facts) in fresh
            .into_iter()
            .zip(per_key)
            .chain(kept_keys.into_iter().zip(renewed))
        {
            slots[k] = Some(facts);
        }
        let keys: Vec<KeyRow> = slots.into_iter().flatten().collect();
        // A workload's hops without TCP: its key's, less itself.
        let mut without_tcp = count_hops.then(|| vec![0; workloads]);
        if let Some(all) = without_tcp.as_mut() {
            for (k, facts) in keys.iter().enumerate() {
                let total = facts.out_without_tcp.count();
                for &m in &members[k] {
                    let own = facts.out_without_tcp.contains(m as usize);
                    all[m as usize] = (total - usize::from(own)) as u32;
                }
            }
        }
        // Per workload, the outside addresses that may connect to it.
        let atoms: Vec<usize> = (workloads..endpoints).collect();
        let admitting = engine.reach.par_map_with(
            &atoms,
            || (Vec::new(), Vec::new()),
            |(scratch, row), worker, atom| {
                worker.endpoint_row(atom, scratch, row);
                let admitted = row[..workloads].iter().enumerate();
                admitted
                    .filter(|&(_, &cell)| cell != PortSetId::EMPTY)
                    .map(|(w, _)| w as u32)
                    .collect::<Vec<u32>>()
            },
        );
        let mut admitted_from = vec![Vec::new(); workloads];
        for (&atom, admitted) in atoms.iter().zip(admitting) {
            for w in admitted {
                admitted_from[w as usize].push(atom as u32);
            }
        }
        Rows {
            workloads,
            key_of,
            keys,
            members,
            admitted_from,
            without_tcp,
            targets: targets.clone(),
            kept: kept_count,
        }
    }

    /// The one-hop workload set of workload `w`.
    pub fn out(&self, w: usize) -> &BitSet {
        &self.keys[self.key_of[w] as usize].out
    }
}

/// Whether a cell has ports (within `protocols`) other than TCP: UDP, SCTP, ICMP or
/// ICMPv6, none of which Istio's proxies see.
fn has_other(sets: &PortSets, cell: PortSetId, protocols: Option<&PortSet>) -> bool {
    let ports = sets.get(cell);
    Protocol::ALL[1..].iter().any(|&p| {
        !ports.ports(p).is_empty() && protocols.is_none_or(|only| !only.ports(p).is_empty())
    })
}

/// Whether a cell has ports (within `protocols`) other than TCP and no TCP port.
pub(crate) fn without_tcp(sets: &PortSets, cell: PortSetId, protocols: Option<&PortSet>) -> bool {
    has_other(sets, cell, protocols) && tcp_of(sets, cell, protocols).is_empty()
}

/// The TCP ports of a cell that count.
fn tcp_of(sets: &PortSets, cell: PortSetId, protocols: Option<&PortSet>) -> PortSet {
    let tcp = sets.get(cell).intersect(&PortSet::all_of(Protocol::Tcp));
    match protocols {
        Some(only) => tcp.intersect(only),
        None => tcp,
    }
}

/// Whether the destination's proxy denies `src` every request on every TCP port of
/// the cell that counts (`protocols`: only the annotations of those ports matter).
fn mesh_denies(
    mesh: &mut Annotator,
    sets: &PortSets,
    (src, d): (usize, usize),
    cell: PortSetId,
    protocols: Option<&PortSet>,
) -> bool {
    let notes = mesh.annotate(Ok(src), d, cell.0, sets.get(cell));
    if notes.is_empty() {
        return false;
    }
    match protocols {
        // Every annotation is about a TCP port of the cell.
        None => notes.iter().all(|a| a.decision() == Decision::Denied),
        Some(_) => {
            let tcp = tcp_of(sets, cell, protocols);
            let relevant: Vec<_> = notes
                .iter()
                .filter(|a| !a.ports.intersect(&tcp).is_empty())
                .collect();
            !relevant.is_empty() && relevant.iter().all(|a| a.decision() == Decision::Denied)
        }
    }
}

/// Removes from `out` the destinations whose proxy denies `src` every request on every
/// TCP port of the connection, when the connection has no UDP or SCTP port or ICMP
/// message (within `protocols`).
fn drop_mesh_denied(
    sets: &PortSets,
    mesh: &mut Annotator,
    src: usize,
    row: &[PortSetId],
    out: &mut BitSet,
    protocols: Option<&PortSet>,
) {
    let reached: Vec<usize> = out
        .iter()
        .filter(|&d| d != src && mesh.may_deny(d))
        .collect();
    for d in reached {
        if !has_other(sets, row[d], protocols)
            && mesh_denies(mesh, sets, (src, d), row[d], protocols)
        {
            out.remove(d);
        }
    }
}

/// For each workload of `sources`: how many of its one-hop destinations (`rows`) are
/// reached on UDP, SCTP or ICMP only: L3/L4 allows no TCP port there, or the mesh
/// denies every TCP request (Istio does not authorize UDP, SCTP or ICMP, so no
/// AuthorizationPolicy can close them). Computed on every thread for the few workloads findings are about.
pub fn hops_without_tcp(
    engine: &Engine,
    mesh: Option<&Annotator>,
    rows: &Rows,
    sources: &[usize],
    protocols: Option<&PortSet>,
) -> Vec<usize> {
    let seed = mesh.map(Annotator::seed);
    engine.reach.par_map_with(
        sources,
        || {
            let annotator = seed.as_ref().map(AnnotatorSeed::annotator);
            (Vec::new(), Vec::new(), annotator)
        },
        |(scratch, row, annotator), worker, src| {
            worker.endpoint_row(src, scratch, row);
            let (sets, out) = (worker.sets(), rows.out(src));
            count_without_tcp(sets, annotator.as_mut(), src, out, row, protocols)
        },
    )
}

/// [`hops_without_tcp`] for one source and its row.
fn count_without_tcp(
    sets: &PortSets,
    mut mesh: Option<&mut Annotator>,
    src: usize,
    out: &BitSet,
    row: &[PortSetId],
    protocols: Option<&PortSet>,
) -> usize {
    // Per distinct cell, by id: unknown, UDP, SCTP or ICMP without TCP, with TCP, neither.
    const UNKNOWN: u8 = 0;
    const WITHOUT_TCP: u8 = 1;
    const WITH_TCP: u8 = 2;
    const NO_OTHER: u8 = 3;
    let mut kinds: Vec<u8> = Vec::new();
    out.iter()
        .filter(|&d| d != src)
        .filter(|&d| {
            let id = row[d].0 as usize;
            if id >= kinds.len() {
                kinds.resize(id + 1, UNKNOWN);
            }
            if kinds[id] == UNKNOWN {
                kinds[id] = match has_other(sets, row[d], protocols) {
                    false => NO_OTHER,
                    true if tcp_of(sets, row[d], protocols).is_empty() => WITHOUT_TCP,
                    true => WITH_TCP,
                };
            }
            match kinds[id] {
                WITHOUT_TCP => true,
                WITH_TCP => mesh.as_deref_mut().is_some_and(|m| {
                    m.may_deny(d) && mesh_denies(m, sets, (src, d), row[d], protocols)
                }),
                _ => false,
            }
        })
        .count()
}

fn key_row(
    sets: &PortSets,
    row: &[PortSetId],
    workloads: usize,
    targets: &Targets,
    protocols: Option<&PortSet>,
) -> KeyRow {
    let mut out = BitSet::new(workloads);
    for (w, &cell) in row[..workloads].iter().enumerate() {
        let counts = match protocols {
            None => cell != PortSetId::EMPTY,
            Some(p) => !sets.get(cell).intersect(p).is_empty(),
        };
        if counts {
            out.insert(w);
        }
    }
    let to_targets = target_ports(sets, row, targets);
    let all =
        |atoms: &[usize]| !atoms.is_empty() && atoms.iter().all(|&a| row[a] != PortSetId::EMPTY);
    KeyRow {
        out,
        to_targets,
        internet: Internet {
            v4: all(&targets.internet_v4),
            v6: all(&targets.internet_v6),
        },
        out_without_tcp: BitSet::default(),
    }
}

/// Per target group: the ports a row allows to any of its endpoints (within the
/// group's ports).
pub(crate) fn target_ports(sets: &PortSets, row: &[PortSetId], targets: &Targets) -> Vec<PortSet> {
    (targets.groups.iter())
        .map(|g| {
            let mut ports = PortSet::empty();
            for &e in &g.endpoints {
                ports = ports.union(sets.get(row[e]));
            }
            match &g.ports {
                Some(only) => ports.intersect(only),
                None => ports,
            }
        })
        .collect()
}

/// The destinations of `out` whose cell has UDP, SCTP or ICMP ports (within
/// `protocols`) and no TCP port.
fn reached_without_tcp(
    sets: &PortSets,
    out: &BitSet,
    row: &[PortSetId],
    protocols: Option<&PortSet>,
) -> BitSet {
    let mut set = BitSet::new(out.capacity());
    // Per distinct cell, by id: unknown, without TCP, or not.
    let mut kinds: Vec<u8> = Vec::new();
    for d in out.iter() {
        let id = row[d].0 as usize;
        if id >= kinds.len() {
            kinds.resize(id + 1, 0);
        }
        if kinds[id] == 0 {
            kinds[id] = if without_tcp(sets, row[d], protocols) {
                1
            } else {
                2
            };
        }
        if kinds[id] == 1 {
            set.insert(d);
        }
    }
    set
}
