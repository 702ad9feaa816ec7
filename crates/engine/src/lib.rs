//! Exact NetworkPolicy reachability.
//!
//! The engine compiles a [`kubeseg_model::Cluster`] into equivalence classes of pods
//! and address atoms ([`index`]), computes rows of the reachability matrix per source
//! signature ([`reach`]), and answers listing ([`Engine::connections`]), grouped
//! ([`compact`]) and point ([`explain`]) queries. It does no I/O and prints nothing.

pub mod atoms;
pub mod bitset;
pub mod compact;
pub mod explain;
pub mod ids;
pub mod index;
pub mod mesh;
pub mod portsets;
pub mod reach;
mod threads;

pub use index::{Endpoint, Options, PeerRef};
use kubeseg_model::{Cluster, PortSet};
use portsets::{PortSetId, PortSets};
use reach::Reachability;

/// One allowed connection between endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Source endpoint index.
    pub src: usize,
    /// Destination endpoint index.
    pub dst: usize,
    /// What is allowed.
    pub ports: PortSet,
}

/// The reachability engine over one cluster.
pub struct Engine<'c> {
    /// The cluster it was built from.
    pub cluster: &'c Cluster,
    /// Row computation.
    pub reach: Reachability,
    /// How it reads the policies.
    pub options: Options,
}

impl<'c> Engine<'c> {
    /// Compiles the cluster.
    pub fn new(cluster: &'c Cluster, options: Options) -> Self {
        let mut reach = Reachability::new(index::Index::build(cluster, options));
        reach.set_threads(options.threads);
        Engine {
            cluster,
            reach,
            options,
        }
    }

    /// The endpoints: workloads in cluster order, then external atoms.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.reach.index.endpoints
    }

    /// The display id of an endpoint: `ns/name[Kind]` or the address ranges of an atom.
    pub fn endpoint_id(&self, e: usize) -> String {
        match &self.endpoints()[e] {
            Endpoint::Workload { workload, .. } => self.cluster.workloads[*workload].id(),
            Endpoint::External { addresses, .. } => addresses.readable(),
            Endpoint::Domain { name, .. } => format!("{name}[Domain]"),
        }
    }

    /// The port set behind an id.
    pub fn port_set(&self, id: PortSetId) -> &PortSet {
        self.reach.port_sets().get(id)
    }

    /// Every allowed connection from the sources accepted by `src_filter` to the
    /// destinations accepted by `dst_filter`, sorted by source then destination
    /// endpoint order. Self connections and external-to-external pairs are omitted.
    pub fn connections(
        &mut self,
        src_filter: impl Fn(usize) -> bool,
        dst_filter: impl Fn(usize) -> bool,
    ) -> Vec<Connection> {
        let mut out = Vec::new();
        let (mut scratch, mut row) = (Vec::new(), Vec::new());
        let mut cached_key: Option<Vec<u32>> = None;
        for src in 0..self.endpoints().len() {
            if !src_filter(src) {
                continue;
            }
            let key = self.reach.endpoint_row_key(src);
            if cached_key.as_ref() != Some(&key) {
                self.reach.endpoint_row(src, &mut scratch, &mut row);
                cached_key = Some(key);
            }
            for (dst, &p) in row.iter().enumerate() {
                if dst != src && p != PortSetId::EMPTY && dst_filter(dst) {
                    out.push(Connection {
                        src,
                        dst,
                        ports: self.port_set(p).clone(),
                    });
                }
            }
        }
        out
    }

    /// Calls `each(src, row)` for every source in `sources` (in that order), where
    /// `row[dst]` is what `src` may send to endpoint `dst`. Rows are shared between
    /// consecutive sources with equal signatures. The self cell and external-to-external
    /// cells are for callers to skip.
    pub fn for_each_row(
        &mut self,
        sources: &[usize],
        mut each: impl FnMut(usize, &[PortSetId], &PortSets),
    ) {
        let (mut scratch, mut row) = (Vec::new(), Vec::new());
        let mut cached_key: Option<Vec<u32>> = None;
        for &src in sources {
            let key = self.reach.endpoint_row_key(src);
            if cached_key.as_ref() != Some(&key) {
                self.reach.endpoint_row(src, &mut scratch, &mut row);
                cached_key = Some(key);
            }
            each(src, &row, self.reach.port_sets());
        }
    }

    /// The allowed ports from endpoint `src` to endpoint `dst` (the self pair included).
    pub fn pair(&mut self, src: usize, dst: usize) -> PortSet {
        let (mut scratch, mut row) = (Vec::new(), Vec::new());
        self.reach.endpoint_row(src, &mut scratch, &mut row);
        self.port_set(row[dst]).clone()
    }
}
