//! Mesh constraints for many connections: `reach` annotates each allowed connection
//! with what the destination's proxy accepts from the source, port by port.
//!
//! A verdict depends on the source only through its data plane, which of the
//! destination's principal and namespace patterns it matches, and its IPs when a rule
//! looks at them; verdicts are memoised per destination on that key, so a mesh of
//! thousands of identities costs a few pattern matches per connection.

use super::cilium_l7::{self, Gate, L7Condition};
use super::logic::any_matches;
use super::rules::{self, Destination};
use super::{Dataplane, Decision, MeshOptions, MeshVerdict, Party, Request, dataplane};
use kubeseg_model::{Cluster, PortSet, Protocol};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::rc::Rc;

/// Ports of a connection and the proxies' verdict they share: Istio's (without the
/// source's principal: annotations are shared between sources the policies cannot
/// tell apart) and Cilium's L7 rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// The ports: TCP for Istio; any protocol for Cilium's L7 rules (DNS on UDP).
    pub ports: PortSet,
    /// Istio's verdict for any request on them (`None`: no Istio proxy or policy
    /// applies to the destination).
    pub verdict: Option<MeshVerdict>,
    /// Cilium's L7 conditions on them (empty: Cilium's proxy does not filter them).
    pub cilium_l7: Vec<String>,
}

impl Annotation {
    /// The composed decision: Istio's, then Cilium's L7 conditions, which only narrow
    /// what Istio allows (they never deny the L4 port).
    pub fn decision(&self) -> Decision {
        let istio = self.verdict.as_ref().map(|v| &v.decision);
        match (istio, self.cilium_l7.is_empty()) {
            (Some(Decision::Denied), _) => Decision::Denied,
            (Some(d), true) => d.clone(),
            (None, true) => Decision::Allowed,
            (Some(Decision::Conditional(c)), false) => {
                Decision::Conditional(c.iter().chain(&self.cilium_l7).cloned().collect())
            }
            (_, false) => Decision::Conditional(self.cilium_l7.clone()),
        }
    }
}

/// The ports of an L3/L4-allowed connection as the destination's proxy leaves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed {
    /// The ports some request may still use: L3/L4's minus the TCP ports the mesh denies.
    pub open: PortSet,
    /// The part of `open` that the mesh allows only under conditions.
    pub conditional: PortSet,
}

impl Composed {
    /// Composes an L3/L4 answer with the annotations of its TCP ports.
    pub fn of(ports: &PortSet, notes: &[Annotation]) -> Composed {
        let mut denied = PortSet::empty();
        let mut conditional = PortSet::empty();
        for a in notes {
            match a.decision() {
                Decision::Denied => denied = denied.union(&a.ports),
                Decision::Conditional(_) => conditional = conditional.union(&a.ports),
                Decision::Allowed => {}
            }
        }
        Composed {
            open: ports.difference(&denied),
            conditional,
        }
    }
}

/// A source as far as one destination's policies can tell.
#[derive(Clone, PartialEq, Eq, Hash)]
struct SourceKey {
    plane: Dataplane,
    /// Bit i: the source matches principal pattern list i.
    principals: u64,
    /// Bit i: the source matches namespace pattern list i.
    namespaces: u64,
    /// The workload itself, when the policies look at more than 64 pattern lists or at
    /// source addresses (then nothing is shared).
    exact: Option<Result<usize, IpAddr>>,
}

/// What one destination's policies look at.
struct Target<'c> {
    destination: Destination<'c>,
    /// Ports whose verdict may differ from the others'.
    ports: Vec<u16>,
    principal_patterns: Vec<Vec<String>>,
    namespace_patterns: Vec<Vec<String>>,
    uses_ips: bool,
    memo: HashMap<(SourceKey, u32), Rc<Vec<Annotation>>>,
}

/// Annotates connections between workloads.
pub struct Annotator<'c> {
    cluster: &'c Cluster,
    options: MeshOptions,
    /// What is known of the requests (nothing, for `reach` and the audit).
    request: Request,
    targets: HashMap<usize, Target<'c>>,
    /// Per workload, once asked: whether its proxy may deny some request.
    may_deny: Vec<Option<bool>>,
    sources: HashMap<usize, (Dataplane, String, &'c str)>,
    /// AuthorizationPolicies by namespace, so a destination looks at its own and the
    /// root namespace's only.
    by_namespace: HashMap<&'c str, Vec<usize>>,
    /// Services by namespace, for the same reason.
    services_by_namespace: HashMap<&'c str, Vec<usize>>,
    /// Cilium's L7 rules, when some allow rule has them.
    gate: Option<Gate<'c>>,
    policy: crate::Options,
    /// Istio's and Cilium's notes composed, by their shared lists and the port set
    /// (the lists are kept so their addresses stay theirs).
    composed: HashMap<ComposedKey, ComposedNotes>,
}

/// The addresses of Istio's and Cilium's shared lists, and the port set's number.
type ComposedKey = (*const Vec<Annotation>, *const Vec<L7Condition>, u32);
/// The two lists (kept alive) and their composition.
type ComposedNotes = (
    Rc<Vec<Annotation>>,
    Rc<Vec<L7Condition>>,
    Rc<Vec<Annotation>>,
);

impl<'c> Annotator<'c> {
    /// An annotator, or `None` when the input has no mesh and no Cilium L7 rules;
    /// `policy` is how the L3/L4 layer reads the policies (for Cilium's L7 rules).
    pub fn new(cluster: &'c Cluster, options: MeshOptions, policy: crate::Options) -> Option<Self> {
        Self::with_request(cluster, options, Request::default(), policy)
    }

    /// An annotator for one kind of request (`kubeseg test` assertions with `request`).
    pub fn with_request(
        cluster: &'c Cluster,
        options: MeshOptions,
        request: Request,
        policy: crate::Options,
    ) -> Option<Self> {
        (super::present(cluster) || cilium_l7::present(cluster))
            .then(|| Annotator::build(cluster, options, request, policy))
    }

    fn build(
        cluster: &'c Cluster,
        options: MeshOptions,
        request: Request,
        policy: crate::Options,
    ) -> Self {
        Annotator {
            gate: cilium_l7::present(cluster).then(|| Gate::new(cluster, policy)),
            policy,
            composed: HashMap::default(),
            cluster,
            options,
            request,
            targets: HashMap::default(),
            may_deny: vec![None; cluster.workloads.len()],
            sources: HashMap::default(),
            by_namespace: group_by_namespace(
                cluster
                    .authorization_policies
                    .iter()
                    .map(|ap| ap.namespace.as_str()),
            ),
            services_by_namespace: group_by_namespace(
                cluster.services.iter().map(|s| s.namespace.as_str()),
            ),
        }
    }

    /// What makes another annotator like this one, with memos of its own (for a
    /// thread that computes rows).
    pub fn seed(&self) -> AnnotatorSeed<'c> {
        AnnotatorSeed {
            cluster: self.cluster,
            options: self.options.clone(),
            request: self.request.clone(),
            policy: self.policy,
        }
    }

    /// Whether workload `dst`'s proxy may deny some request from some source: only a
    /// proxy does, and only under an AuthorizationPolicy or a PeerAuthentication. The
    /// audit skips the verdicts of the others, which allow everything.
    pub fn may_deny(&mut self, dst: usize) -> bool {
        if let Some(known) = self.may_deny[dst] {
            return known;
        }
        let no_peer_authentication = self.cluster.peer_authentications.is_empty();
        let d = &self.target(dst).destination;
        let answer =
            d.plane != Dataplane::None && !(d.covering.is_empty() && no_peer_authentication);
        self.may_deny[dst] = Some(answer);
        answer
    }

    /// What workload `dst`'s policies look at, worked out on first use.
    fn target(&mut self, dst: usize) -> &mut Target<'c> {
        target_of(
            &mut self.targets,
            (self.cluster, &self.options),
            (&self.by_namespace, &self.services_by_namespace),
            dst,
        )
    }

    /// The proxies' verdicts on `ports` (interned as `ports_id` by the caller) from
    /// workload `src` (or an address) to workload `dst`, grouped by verdict: Istio's on
    /// every TCP port when its mesh applies to `dst`, and Cilium's L7 conditions on the
    /// ports they filter; empty when neither applies.
    pub fn annotate(
        &mut self,
        src: Result<usize, IpAddr>,
        dst: usize,
        ports_id: u32,
        ports: &PortSet,
    ) -> Rc<Vec<Annotation>> {
        let istio = self.istio(src, dst, ports_id, ports);
        let Some(gate) = self.gate.as_mut() else {
            return istio;
        };
        let l7 = gate.conditions(src, dst, ports);
        if !l7.iter().any(|c| !c.ports.intersect(ports).is_empty()) {
            return istio;
        }
        let key = (Rc::as_ptr(&istio), Rc::as_ptr(&l7), ports_id);
        if let Some((_, _, notes)) = self.composed.get(&key) {
            return notes.clone();
        }
        let notes = Rc::new(compose(&istio, &l7, ports));
        self.composed.insert(key, (istio, l7, notes.clone()));
        notes
    }

    /// Istio's verdicts on the TCP ports of `ports`; empty when the destination has no
    /// proxy and no policy covers it.
    fn istio(
        &mut self,
        src: Result<usize, IpAddr>,
        dst: usize,
        ports_id: u32,
        ports: &PortSet,
    ) -> Rc<Vec<Annotation>> {
        let cluster = self.cluster;
        let target = target_of(
            &mut self.targets,
            (cluster, &self.options),
            (&self.by_namespace, &self.services_by_namespace),
            dst,
        );
        if target.destination.plane == Dataplane::None && target.destination.covering.is_empty() {
            return Rc::default();
        }
        let trust_domain = &self.options.trust_domain;
        let (plane, principal, namespace) = match src {
            Ok(w) => {
                let (plane, principal, namespace) = self.sources.entry(w).or_insert_with(|| {
                    let wl = &cluster.workloads[w];
                    let pod = &wl.pods[0];
                    let sa = pod.service_account.as_deref().unwrap_or("default");
                    (
                        dataplane(cluster, &wl.namespace, pod),
                        format!("{trust_domain}/ns/{}/sa/{sa}", wl.namespace),
                        wl.namespace.as_str(),
                    )
                });
                (*plane, Some(principal.as_str()), *namespace)
            }
            Err(_) => (Dataplane::None, None, ""),
        };
        let bits = |lists: &[Vec<String>], value: Option<&str>| {
            lists.iter().enumerate().fold(0u64, |acc, (i, p)| {
                acc | (u64::from(value.is_some_and(|v| any_matches(p, v))) << i)
            })
        };
        let exact = target.uses_ips
            || target.principal_patterns.len() > 64
            || target.namespace_patterns.len() > 64;
        let key = SourceKey {
            plane,
            principals: if exact {
                0
            } else {
                bits(&target.principal_patterns, principal)
            },
            namespaces: if exact {
                0
            } else {
                bits(&target.namespace_patterns, Some(namespace))
            },
            exact: exact.then_some(src),
        };
        let memo_key = (key, ports_id);
        if let Some(a) = target.memo.get(&memo_key) {
            return a.clone();
        }
        let party = match src {
            Ok(w) => Party::Pod {
                namespace: &cluster.workloads[w].namespace,
                pod: &cluster.workloads[w].pods[0],
            },
            Err(ip) => Party::Address(ip),
        };
        let out = Rc::new(target.verdicts(cluster, party, ports, &self.options, &self.request));
        target.memo.insert(memo_key, out.clone());
        out
    }
}

/// Istio's notes split by Cilium's L7 conditions within `ports`; the ports Istio does
/// not annotate (no mesh, or not TCP) get notes of their own.
fn compose(istio: &[Annotation], l7: &[L7Condition], ports: &PortSet) -> Vec<Annotation> {
    let mut out = Vec::new();
    let mut covered = PortSet::empty();
    for a in istio {
        covered = covered.union(&a.ports);
        let mut rest = a.ports.clone();
        for c in l7 {
            let both = rest.intersect(&c.ports);
            if !both.is_empty() {
                rest = rest.difference(&both);
                out.push(Annotation {
                    ports: both,
                    verdict: a.verdict.clone(),
                    cilium_l7: c.conditions.clone(),
                });
            }
        }
        if !rest.is_empty() {
            out.push(Annotation {
                ports: rest,
                ..a.clone()
            });
        }
    }
    for c in l7 {
        let only = c.ports.intersect(ports).difference(&covered);
        if !only.is_empty() {
            out.push(Annotation {
                ports: only,
                verdict: None,
                cilium_l7: c.conditions.clone(),
            });
        }
    }
    out
}

/// An annotator's inputs, to make one per thread ([`Annotator::seed`]).
#[derive(Clone, Debug)]
pub struct AnnotatorSeed<'c> {
    cluster: &'c Cluster,
    options: MeshOptions,
    request: Request,
    policy: crate::Options,
}

impl<'c> AnnotatorSeed<'c> {
    /// A new annotator.
    pub fn annotator(&self) -> Annotator<'c> {
        Annotator::build(
            self.cluster,
            self.options.clone(),
            self.request.clone(),
            self.policy,
        )
    }
}

/// The [`Target`] of workload `dst` in `targets`, made on first use from the
/// AuthorizationPolicies of its namespace and the root namespace and the Services of
/// its namespace.
fn target_of<'t, 'c>(
    targets: &'t mut HashMap<usize, Target<'c>>,
    (cluster, options): (&'c Cluster, &MeshOptions),
    (by_namespace, services): (&ByNamespace<'c>, &ByNamespace<'c>),
    dst: usize,
) -> &'t mut Target<'c> {
    targets.entry(dst).or_insert_with(|| {
        let ns = cluster.workloads[dst].namespace.as_str();
        let mut candidates: Vec<usize> = [ns, options.root_namespace.as_str()]
            .iter()
            .flat_map(|n| by_namespace.get(n).into_iter().flatten().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let services = services.get(ns).map_or(&[][..], Vec::as_slice);
        Target::new(cluster, dst, options, &candidates, services)
    })
}

/// Object indices by namespace.
type ByNamespace<'c> = HashMap<&'c str, Vec<usize>>;

/// Indices grouped by the namespace of their object.
fn group_by_namespace<'c>(
    namespaces: impl Iterator<Item = &'c str>,
) -> HashMap<&'c str, Vec<usize>> {
    let mut m: HashMap<&str, Vec<usize>> = HashMap::default();
    for (i, ns) in namespaces.enumerate() {
        m.entry(ns).or_default().push(i);
    }
    m
}

impl<'c> Target<'c> {
    fn new(
        cluster: &'c Cluster,
        dst: usize,
        options: &MeshOptions,
        candidates: &[usize],
        services: &[usize],
    ) -> Self {
        let w = &cluster.workloads[dst];
        let destination = Destination::among(
            cluster,
            &w.namespace,
            &w.pods[0],
            options,
            candidates,
            services,
        );
        let mut t = Target {
            ports: Vec::new(),
            principal_patterns: Vec::new(),
            namespace_patterns: Vec::new(),
            uses_ips: false,
            memo: HashMap::default(),
            destination,
        };
        t.ports = t
            .destination
            .pod
            .ports
            .iter()
            .filter(|c| c.protocol == Protocol::Tcp)
            .map(|c| c.port)
            .collect();
        for &i in &t.destination.covering {
            for r in cluster.authorization_policies[i].rules.iter().flatten() {
                for c in r.from.iter().chain(&r.to) {
                    for (k, values) in &c.fields {
                        match k.as_str() {
                            "principals" | "notPrincipals" => {
                                t.principal_patterns.push(values.clone())
                            }
                            // `ns/sa`: the end of the principal.
                            "serviceAccounts" | "notServiceAccounts" => t.principal_patterns.push(
                                values
                                    .iter()
                                    .map(|v| format!("*/ns/{}", v.replacen('/', "/sa/", 1)))
                                    .collect(),
                            ),
                            "namespaces" | "notNamespaces" => {
                                t.namespace_patterns.push(values.clone())
                            }
                            "ipBlocks" | "notIpBlocks" => t.uses_ips = true,
                            "ports" | "notPorts" => t
                                .ports
                                .extend(values.iter().filter_map(|v| v.parse::<u16>().ok())),
                            _ => {}
                        }
                    }
                }
                for c in &r.when {
                    let values: Vec<String> =
                        c.values.iter().chain(&c.not_values).cloned().collect();
                    match c.key.as_str() {
                        "source.principal" => t.principal_patterns.push(values),
                        "source.namespace" => t.namespace_patterns.push(values),
                        "source.ip" => t.uses_ips = true,
                        "destination.port" => t
                            .ports
                            .extend(values.iter().filter_map(|v| v.parse::<u16>().ok())),
                        _ => {}
                    }
                }
            }
        }
        // Service target ports: their Services say whether they speak HTTP.
        for svc in t.destination.services.iter().map(|&i| &cluster.services[i]) {
            t.ports.extend(
                svc.ports
                    .iter()
                    .filter_map(|sp| match sp.target.as_deref() {
                        None => Some(sp.port),
                        Some(target) => target.parse::<u16>().ok(),
                    }),
            );
        }
        for pa in &cluster.peer_authentications {
            if pa.namespace == t.destination.namespace {
                t.ports.extend(pa.port_level.iter().map(|(p, _)| *p));
            }
        }
        t.ports.sort_unstable();
        t.ports.dedup();
        t
    }

    /// Verdicts per port that something names, and one for all other ports.
    fn verdicts(
        &self,
        cluster: &Cluster,
        party: Party,
        ports: &PortSet,
        options: &MeshOptions,
        request: &Request,
    ) -> Vec<Annotation> {
        let tcp = ports.intersect(&PortSet::all_of(Protocol::Tcp));
        let mut out: Vec<Annotation> = Vec::new();
        let mut add = |ports: PortSet, verdict: MeshVerdict| match out
            .iter_mut()
            .find(|a| a.verdict.as_ref() == Some(&verdict))
        {
            Some(a) => a.ports = a.ports.union(&ports),
            None => out.push(Annotation {
                ports,
                verdict: Some(verdict),
                cilium_l7: Vec::new(),
            }),
        };
        // Verdicts are shared between sources: they carry no principal.
        let evaluate = |port: u16| MeshVerdict {
            principal: None,
            ..rules::evaluate(
                cluster,
                party,
                &self.destination,
                port,
                request,
                options,
                false,
            )
        };
        let mut rest = tcp.clone();
        for &p in &self.ports {
            if tcp.contains(Protocol::Tcp, p) {
                let one = PortSet::range(Protocol::Tcp, p, p);
                rest = rest.difference(&one);
                add(one, evaluate(p));
            }
        }
        if let Some(&(lo, _)) = rest.ports(Protocol::Tcp).ranges().first() {
            add(rest, evaluate(lo));
        }
        out
    }
}
