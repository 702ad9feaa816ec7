//! Which policy rules allow a connection, read from the compiled index: the evidence
//! behind findings. Works on nodes (classes and atoms), like the engine.

use crate::finding::Evidence;
use kubeseg_engine::Engine;
use kubeseg_model::{Location, PortSet};

/// Per class, the policies that isolate it; per policy, its compiled ingress rules.
pub struct Attribution {
    ingress_of: Vec<Vec<u32>>,
    egress_of: Vec<Vec<u32>>,
    ingress_range: Vec<(usize, usize)>,
}

/// One direction of a connection.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// Whether some policy isolates the subject in this direction.
    pub isolated: bool,
    /// The allowing rules: (policy, rule index, ports toward the destination).
    pub rules: Vec<(usize, usize, PortSet)>,
}

impl Verdict {
    /// What the direction allows.
    pub fn allowed(&self) -> PortSet {
        if !self.isolated {
            return PortSet::all();
        }
        self.rules
            .iter()
            .fold(PortSet::empty(), |acc, (_, _, p)| acc.union(p))
    }
}

impl Attribution {
    /// Indexes the isolating policies of every class.
    pub fn new(engine: &Engine) -> Attribution {
        let index = &engine.reach.index;
        let classes = index.class_count();
        let (mut ingress_of, mut egress_of) =
            (vec![Vec::new(); classes], vec![Vec::new(); classes]);
        for (p, policy) in engine.cluster.policies.iter().enumerate() {
            for c in index.selected[p].iter().filter(|&c| c < classes) {
                if policy.isolates_ingress {
                    ingress_of[c].push(p as u32);
                }
                if policy.isolates_egress {
                    egress_of[c].push(p as u32);
                }
            }
        }
        let mut ingress_range = vec![(0, 0); engine.cluster.policies.len()];
        for (i, r) in index.ingress_rules.iter().enumerate() {
            let range = &mut ingress_range[r.policy as usize];
            if range.0 == range.1 {
                *range = (i, i + 1);
            } else {
                range.1 = i + 1;
            }
        }
        Attribution {
            ingress_of,
            egress_of,
            ingress_range,
        }
    }

    /// The policies that isolate a class for ingress.
    pub fn ingress_policies(&self, node: usize) -> &[u32] {
        self.ingress_of.get(node).map_or(&[], Vec::as_slice)
    }

    /// The policies that isolate a class for egress.
    pub fn egress_policies(&self, node: usize) -> &[u32] {
        self.egress_of.get(node).map_or(&[], Vec::as_slice)
    }

    /// Whether a class is isolated for egress (atoms never are).
    pub fn egress_isolated(&self, node: usize) -> bool {
        self.egress_of.get(node).is_some_and(|p| !p.is_empty())
    }

    /// Whether a class is isolated for ingress (atoms never are).
    pub fn ingress_isolated(&self, node: usize) -> bool {
        self.ingress_of.get(node).is_some_and(|p| !p.is_empty())
    }

    /// The egress side of `src → dst` (nodes).
    pub fn egress(&self, engine: &mut Engine, src: usize, dst: usize) -> Verdict {
        let mut v = Verdict {
            isolated: self.egress_isolated(src),
            rules: Vec::new(),
        };
        let index = &mut engine.reach.index;
        for &p in self.egress_of.get(src).into_iter().flatten() {
            for r in 0..index.egress_rules[p as usize].len() {
                let rule = index.egress_rules[p as usize][r].clone();
                if index.peer_sets[rule.peers as usize].contains(dst) {
                    let id = index.resolve(rule.ports, dst);
                    let ports = index.port_sets.get(id).clone();
                    if !ports.is_empty() {
                        v.rules.push((p as usize, r, ports));
                    }
                }
            }
        }
        v
    }

    /// The ingress side of `src → dst` (nodes).
    pub fn ingress(&self, engine: &mut Engine, src: usize, dst: usize) -> Verdict {
        let mut v = Verdict {
            isolated: self.ingress_isolated(dst),
            rules: Vec::new(),
        };
        let index = &mut engine.reach.index;
        for &p in self.ingress_of.get(dst).into_iter().flatten() {
            let (lo, hi) = self.ingress_range[p as usize];
            for i in lo..hi {
                let rule = index.ingress_rules[i].clone();
                if index.peer_sets[rule.peers as usize].contains(src) {
                    let id = index.resolve(rule.ports, dst);
                    let ports = index.port_sets.get(id).clone();
                    if !ports.is_empty() {
                        v.rules.push((p as usize, i - lo, ports));
                    }
                }
            }
        }
        v
    }

    /// Evidence for endpoint `src → dst`: the first pair of their nodes that connects.
    pub fn pair_evidence(&self, engine: &mut Engine, src: usize, dst: usize) -> Vec<Evidence> {
        let (src_nodes, dst_nodes) = (
            engine.reach.endpoint_nodes(src),
            engine.reach.endpoint_nodes(dst),
        );
        for &s in &src_nodes {
            for &d in &dst_nodes {
                let eg = self.egress(engine, s, d);
                let ing = self.ingress(engine, s, d);
                if !eg.allowed().intersect(&ing.allowed()).is_empty() {
                    let mut out = self.describe(engine, src, &eg, true);
                    out.extend(self.describe(engine, dst, &ing, false));
                    return out;
                }
            }
        }
        Vec::new()
    }

    /// Evidence for one side: the allowing rules, or the absence of isolation.
    pub fn describe(
        &self,
        engine: &Engine,
        subject: usize,
        v: &Verdict,
        egress: bool,
    ) -> Vec<Evidence> {
        let dir = if egress { "egress" } else { "ingress" };
        let cluster = engine.cluster;
        if !v.isolated {
            let location = workload_location(engine, subject);
            let what = engine.endpoint_id(subject);
            let text = match location {
                Some(_) => format!("no NetworkPolicy isolates the {dir} of {what}"),
                None => format!("{what} is outside the cluster: no policy applies to its {dir}"),
            };
            return vec![Evidence::at(location, text)];
        }
        v.rules
            .iter()
            .map(|(p, r, ports)| {
                let policy = &cluster.policies[*p];
                let rule = if egress {
                    &policy.egress[*r]
                } else {
                    &policy.ingress[*r]
                };
                Evidence::at(
                    rule.location.clone().or(policy.location.clone()),
                    format!(
                        "{dir}[{r}] of NetworkPolicy {} allows {}",
                        policy.id(),
                        ports_text(ports)
                    ),
                )
            })
            .collect()
    }
}

/// Where a workload endpoint is declared (`None` for atoms).
pub fn workload_location(engine: &Engine, endpoint: usize) -> Option<Location> {
    engine
        .cluster
        .workloads
        .get(endpoint)
        .and_then(|w| w.location.clone())
}

/// `TCP 80, UDP 53` or `all ports`.
pub fn ports_text(p: &PortSet) -> String {
    if p.is_all() {
        return "all ports".into();
    }
    p.to_string()
}
