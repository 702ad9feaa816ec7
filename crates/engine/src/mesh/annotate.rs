//! Mesh constraints for many connections: `reach` annotates each allowed connection
//! with what the destination's proxy accepts from the source, port by port.

use super::rules::{self, Destination};
use super::{Dataplane, MeshOptions, MeshVerdict, Party, Request, dataplane};
use kubeseg_model::{Cluster, PortSet, Protocol};
use rustc_hash::FxHashMap as HashMap;

/// TCP ports of a connection and the mesh verdict they share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// The TCP ports.
    pub ports: PortSet,
    /// The verdict for any request on them.
    pub verdict: MeshVerdict,
}

/// What distinguishes sources for the mesh: namespace, service account, data plane, IPs.
type SourceKey = (usize, Option<String>, Dataplane, Vec<std::net::IpAddr>);

/// Annotates connections between workloads, memoised per source identity and
/// destination workload.
pub struct Annotator<'c> {
    cluster: &'c Cluster,
    options: MeshOptions,
    destinations: HashMap<usize, (Destination<'c>, Vec<u16>)>,
    memo: HashMap<(SourceKey, usize, PortSet), Vec<Annotation>>,
    namespace_ids: HashMap<&'c str, usize>,
}

impl<'c> Annotator<'c> {
    /// An annotator, or `None` when the input has no mesh at all.
    pub fn new(cluster: &'c Cluster, options: MeshOptions) -> Option<Self> {
        let meshed = !cluster.authorization_policies.is_empty()
            || !cluster.peer_authentications.is_empty()
            || cluster
                .workloads
                .iter()
                .any(|w| dataplane(cluster, &w.namespace, &w.pods[0]) != Dataplane::None);
        meshed.then(|| Annotator {
            cluster,
            options,
            destinations: HashMap::default(),
            memo: HashMap::default(),
            namespace_ids: cluster
                .namespaces
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.as_str(), i))
                .collect(),
        })
    }

    /// The mesh verdicts on the TCP ports of `ports` from workload `src` (or an
    /// address) to workload `dst`, grouped by verdict; empty when the destination has no
    /// proxy and no policy covers it.
    pub fn annotate(
        &mut self,
        src: Result<usize, std::net::IpAddr>,
        dst: usize,
        ports: &PortSet,
    ) -> Vec<Annotation> {
        let tcp = ports.intersect(&PortSet::all_of(Protocol::Tcp));
        if tcp.is_empty() {
            return Vec::new();
        }
        let cluster = self.cluster;
        let party = match src {
            Ok(w) => {
                let w = &cluster.workloads[w];
                Party::Pod {
                    namespace: &w.namespace,
                    pod: &w.pods[0],
                }
            }
            Err(ip) => Party::Address(ip),
        };
        let key: SourceKey = match party {
            Party::Pod { namespace, pod } => (
                self.namespace_ids[namespace],
                pod.service_account.clone(),
                dataplane(cluster, namespace, pod),
                pod.ips.clone(),
            ),
            Party::Address(ip) => (usize::MAX, None, Dataplane::None, vec![ip]),
        };
        let memo_key = (key, dst, tcp.clone());
        if let Some(a) = self.memo.get(&memo_key) {
            return a.clone();
        }
        let options = &self.options;
        let (destination, interesting) = self.destinations.entry(dst).or_insert_with(|| {
            let w = &cluster.workloads[dst];
            let d = Destination::new(cluster, &w.namespace, &w.pods[0], options);
            let ports = interesting_ports(cluster, &d);
            (d, ports)
        });
        let out = if destination.plane == Dataplane::None && destination.covering.is_empty() {
            Vec::new()
        } else {
            // Ports named anywhere get their own verdict; all others share one.
            let mut out: Vec<Annotation> = Vec::new();
            let mut rest = tcp.clone();
            let mut add = |ports: PortSet, verdict: MeshVerdict| match out
                .iter_mut()
                .find(|a| a.verdict == verdict)
            {
                Some(a) => a.ports = a.ports.union(&ports),
                None => out.push(Annotation { ports, verdict }),
            };
            let request = Request::default();
            for &p in interesting.iter() {
                if tcp.contains(Protocol::Tcp, p) {
                    let one = PortSet::range(Protocol::Tcp, p, p);
                    rest = rest.difference(&one);
                    let v = rules::evaluate(cluster, party, destination, p, &request, options);
                    add(one, v);
                }
            }
            if let Some(&(lo, _)) = rest.ports(Protocol::Tcp).ranges().first() {
                let v = rules::evaluate(cluster, party, destination, lo, &request, options);
                add(rest, v);
            }
            out
        };
        self.memo.insert(memo_key, out.clone());
        out
    }
}

/// Ports whose verdict may differ from the others': container ports (their Services
/// say whether they speak HTTP), ports in policies' operations, port-level mTLS.
fn interesting_ports(cluster: &Cluster, d: &Destination) -> Vec<u16> {
    let mut ports: Vec<u16> = d
        .pod
        .ports
        .iter()
        .filter(|c| c.protocol == Protocol::Tcp)
        .map(|c| c.port)
        .collect();
    for &i in &d.covering {
        for r in cluster.authorization_policies[i].rules.iter().flatten() {
            for c in &r.to {
                for (k, values) in &c.fields {
                    if k == "ports" || k == "notPorts" {
                        ports.extend(values.iter().filter_map(|v| v.parse::<u16>().ok()));
                    }
                }
            }
            for c in &r.when {
                if c.key == "destination.port" {
                    ports.extend(
                        c.values
                            .iter()
                            .chain(&c.not_values)
                            .filter_map(|v| v.parse::<u16>().ok()),
                    );
                }
            }
        }
    }
    for pa in &cluster.peer_authentications {
        if pa.namespace == d.namespace {
            ports.extend(pa.port_level.iter().map(|(p, _)| *p));
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}
