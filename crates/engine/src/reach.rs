//! Rows of the reachability matrix: for one source, the allowed ports toward every
//! destination. Work is per source *signature* (the egress policies that select it
//! and the ingress peer sets that contain it), never per pod pair.

use crate::index::{Endpoint, Index};
use crate::portsets::PortSetId;
use std::collections::HashMap;

/// Reachability over a compiled cluster.
pub struct Reachability {
    /// The compiled cluster.
    pub index: Index,
    /// Per node: the ingress peer sets it belongs to.
    member_of: Vec<Vec<u32>>,
    /// Per ingress peer set: (destination node, ports) it opens, sorted by node.
    ingress_contribution: Vec<Vec<(u32, PortSetId)>>,
    /// Per node: the egress-isolating policies that select it.
    egress_policies: Vec<Vec<u32>>,
    /// The ingress side before any rule: ALL where not ingress-isolated.
    ingress_base: Vec<PortSetId>,
    /// Per node: its source signature id.
    signature: Vec<u32>,
    signature_count: usize,
}

impl Reachability {
    /// Prepares row computation.
    pub fn new(mut index: Index) -> Self {
        let nodes = index.nodes;
        let mut by_peer_set: Vec<Vec<usize>> = vec![Vec::new(); index.peer_sets.len()];
        for (i, r) in index.ingress_rules.iter().enumerate() {
            by_peer_set[r.peers as usize].push(i);
        }
        let mut member_of: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        let mut ingress_contribution = Vec::with_capacity(by_peer_set.len());
        let mut scratch = vec![PortSetId::EMPTY; nodes];
        let mut touched: Vec<u32> = Vec::new();
        for (ps, rules) in by_peer_set.iter().enumerate() {
            if rules.is_empty() {
                ingress_contribution.push(Vec::new());
                continue;
            }
            for n in index.peer_sets[ps].iter() {
                member_of[n].push(ps as u32);
            }
            for &ri in rules {
                let (policy, spec) = (
                    index.ingress_rules[ri].policy as usize,
                    index.ingress_rules[ri].ports,
                );
                let dsts: Vec<usize> = index.selected[policy].iter().collect();
                for d in dsts {
                    let p = index.resolve(spec, d);
                    if scratch[d] == PortSetId::EMPTY {
                        touched.push(d as u32);
                    }
                    scratch[d] = index.port_sets.union(scratch[d], p);
                }
            }
            touched.sort_unstable();
            let contribution: Vec<(u32, PortSetId)> = touched
                .iter()
                .map(|&d| (d, scratch[d as usize]))
                .filter(|(_, p)| *p != PortSetId::EMPTY)
                .collect();
            for &d in &touched {
                scratch[d as usize] = PortSetId::EMPTY;
            }
            touched.clear();
            ingress_contribution.push(contribution);
        }
        let mut egress_policies: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        for (p, isolates) in index.isolates_egress.iter().enumerate() {
            if *isolates {
                for c in index.selected[p].iter() {
                    egress_policies[c].push(p as u32);
                }
            }
        }
        let ingress_base = (0..nodes)
            .map(|n| {
                if index.ingress_isolated.contains(n) {
                    PortSetId::EMPTY
                } else {
                    PortSetId::ALL
                }
            })
            .collect();
        let mut signatures: HashMap<(&[u32], &[u32]), u32> = HashMap::new();
        let signature = (0..nodes)
            .map(|n| {
                let next = signatures.len() as u32;
                *signatures
                    .entry((&egress_policies[n], &member_of[n]))
                    .or_insert(next)
            })
            .collect();
        let signature_count = signatures.len();
        Reachability {
            index,
            member_of,
            ingress_contribution,
            egress_policies,
            ingress_base,
            signature,
            signature_count,
        }
    }

    /// Number of distinct source signatures (sources with equal signatures have equal rows).
    pub fn signature_count(&self) -> usize {
        self.signature_count
    }

    /// The source signature of a node.
    pub fn signature(&self, node: usize) -> u32 {
        self.signature[node]
    }

    /// The row of source node `src` over all nodes, into `out` (length `nodes`).
    pub fn node_row(&mut self, src: usize, out: &mut Vec<PortSetId>) {
        let idx = &mut self.index;
        out.clear();
        out.extend_from_slice(&self.ingress_base);
        for &ps in &self.member_of[src] {
            for &(d, p) in &self.ingress_contribution[ps as usize] {
                let cell = &mut out[d as usize];
                *cell = idx.port_sets.union(*cell, p);
            }
        }
        if !idx.egress_isolated.contains(src) {
            return;
        }
        let mut egress = vec![PortSetId::EMPTY; out.len()];
        for &p in &self.egress_policies[src] {
            for ri in 0..idx.egress_rules[p as usize].len() {
                let rule = &idx.egress_rules[p as usize][ri];
                let (peers, spec) = (rule.peers as usize, rule.ports);
                let dsts: Vec<usize> = idx.peer_sets[peers].iter().collect();
                for d in dsts {
                    let ports = idx.resolve(spec, d);
                    egress[d] = idx.port_sets.union(egress[d], ports);
                }
            }
        }
        for (cell, e) in out.iter_mut().zip(egress) {
            *cell = idx.port_sets.intersect(*cell, e);
        }
    }

    /// The row of endpoint `src` over all endpoints: the union over its pods' classes,
    /// projected onto destination endpoints. External-to-external cells are empty.
    pub fn endpoint_row(
        &mut self,
        src: usize,
        scratch: &mut Vec<PortSetId>,
        out: &mut Vec<PortSetId>,
    ) {
        let src_nodes = self.endpoint_nodes(src);
        let mut acc: Option<Vec<PortSetId>> = None;
        for n in src_nodes {
            self.node_row(n, scratch);
            match &mut acc {
                None => acc = Some(scratch.clone()),
                Some(a) => {
                    for (x, y) in a.iter_mut().zip(scratch.iter()) {
                        *x = self.index.port_sets.union(*x, *y);
                    }
                }
            }
        }
        let row = acc.unwrap_or_default();
        let src_external = matches!(self.index.endpoints[src], Endpoint::External { .. });
        out.clear();
        let class_count = self.index.class_count();
        for e in 0..self.index.endpoints.len() {
            let v = match &self.index.endpoints[e] {
                Endpoint::Workload { classes, .. } => {
                    let mut v = PortSetId::EMPTY;
                    for &c in classes {
                        v = self.index.port_sets.union(v, row[c as usize]);
                    }
                    v
                }
                Endpoint::External { .. } if src_external => PortSetId::EMPTY,
                Endpoint::External { atom, .. } => row[class_count + *atom as usize],
            };
            out.push(v);
        }
    }

    /// The nodes of an endpoint.
    pub fn endpoint_nodes(&self, e: usize) -> Vec<usize> {
        match &self.index.endpoints[e] {
            Endpoint::Workload { classes, .. } => classes.iter().map(|&c| c as usize).collect(),
            Endpoint::External { atom, .. } => vec![self.index.class_count() + *atom as usize],
        }
    }

    /// A key such that endpoints with equal keys have equal rows.
    pub fn endpoint_row_key(&self, e: usize) -> Vec<u32> {
        let mut k: Vec<u32> = self
            .endpoint_nodes(e)
            .into_iter()
            .map(|n| self.signature[n])
            .collect();
        k.sort_unstable();
        k.dedup();
        if matches!(self.index.endpoints[e], Endpoint::External { .. }) {
            k.push(u32::MAX);
        }
        k
    }
}
