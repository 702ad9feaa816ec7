//! `kubeseg test`: connectivity assertions checked against the engine, each passing or
//! failing with a concrete counterexample and the policy (or missing policy) behind it.

use crate::attribution::{Attribution, ports_text, workload_location};
use crate::finding::Evidence;
use crate::graph::{Bfs, Closure};
use crate::rows::{Rows, Targets};
use kubeseg_engine::mesh::{Annotator, Composed, MeshOptions, Request};
use kubeseg_engine::portsets::PortSetId;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::spec::{Check, ConnectivitySpec, Flow, Limit, Matcher, Party};
use kubeseg_model::{Location, PortSet, Protocol};

/// A concrete violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The source endpoint id.
    pub src: String,
    /// The destination endpoint id (empty for a blast radius).
    pub dst: String,
    /// A protocol and port that shows it, when one does.
    pub port: Option<(Protocol, u16)>,
    /// The hops, for paths.
    pub path: Vec<String>,
}

/// The result of one assertion.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Whether it holds.
    pub passed: bool,
    /// One sentence: what was checked, or how it fails.
    pub message: String,
    /// The violation, when it fails.
    pub counterexample: Option<Counterexample>,
    /// Why: the rules that allow it, or the isolation that blocks it.
    pub evidence: Vec<Evidence>,
}

/// A spec that cannot be checked against this input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// Where.
    pub location: Location,
    /// What.
    pub message: String,
}

struct Tester<'e, 'c> {
    engine: &'e mut Engine<'c>,
    attribution: Attribution,
    rows: Option<(Rows, Closure)>,
    mesh_options: MeshOptions,
    /// The mesh for any request (`None`: the input has no mesh).
    mesh: Option<Annotator<'c>>,
}

/// One matched pair as the layers leave it.
struct Pair {
    src: usize,
    dst: usize,
    /// What L3/L4 allows.
    l4: PortSet,
    /// What L3/L4 and the mesh leave open to the request asked about.
    composed: Composed,
}

/// Checks every assertion on the composed verdict (L3/L4, then the mesh for TCP ports
/// into meshed workloads); a party that matches nothing is an error, never a vacuous
/// pass.
pub fn check(
    engine: &mut Engine,
    spec: &ConnectivitySpec,
    mesh_options: &MeshOptions,
) -> Result<Vec<Outcome>, Vec<SpecError>> {
    let attribution = Attribution::new(engine);
    let (cluster, policy) = (engine.cluster, engine.options);
    let mut t = Tester {
        engine,
        attribution,
        rows: None,
        mesh_options: mesh_options.clone(),
        mesh: Annotator::new(cluster, mesh_options.clone(), policy),
    };
    let mut errors = Vec::new();
    let mut resolved = Vec::new();
    for a in &spec.assertions {
        let mut sides = Vec::new();
        let parties: Vec<&Vec<Party>> = match &a.check {
            Check::Allow(f) | Check::Deny(f) | Check::Only(f) | Check::NoPath(f) => {
                vec![&f.from, &f.to]
            }
            Check::MaxBlastRadius { from, .. } => vec![from],
            Check::Isolated { namespace, except } => {
                for ns in std::iter::once(namespace).chain(except) {
                    if !t.engine.cluster.namespaces.iter().any(|n| &n.name == ns) {
                        errors.push(SpecError {
                            location: a.location.clone(),
                            message: format!(
                                "assertion `{}`: namespace `{ns}` is not in the input",
                                a.name
                            ),
                        });
                    }
                }
                vec![]
            }
        };
        for side in parties {
            let mut all = Vec::new();
            for p in side {
                let hits = t.resolve(p);
                if hits.is_empty() {
                    errors.push(SpecError {
                        location: p.location.clone(),
                        message: format!(
                            "assertion `{}`: `{}` matches nothing in the input",
                            a.name, p.text
                        ),
                    });
                }
                all.extend(hits);
            }
            all.sort_unstable();
            all.dedup();
            sides.push(all);
        }
        if let Check::NoPath(f) = &a.check
            && let Some(p) =
                f.to.iter()
                    .find(|p| matches!(p.matcher, Matcher::Addresses(_)))
        {
            errors.push(SpecError {
                location: p.location.clone(),
                message: format!(
                    "assertion `{}`: no-path destinations must be workloads, not `{}`",
                    a.name, p.text
                ),
            });
        }
        resolved.push(sides);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(spec
        .assertions
        .iter()
        .zip(resolved)
        .map(|(a, sides)| match &a.check {
            Check::Allow(f) => t.allow(f, &sides[0], &sides[1]),
            Check::Deny(f) => t.deny(f, &sides[0], &sides[1]),
            Check::Only(f) => t.only(f, &sides[0], &sides[1]),
            Check::NoPath(_) => t.no_path(&sides[0], &sides[1]),
            Check::MaxBlastRadius { max, .. } => t.blast(&sides[0], *max),
            Check::Isolated { namespace, except } => t.isolated(namespace, except),
        })
        .collect())
}

/// The lowest (protocol, port) of a set.
fn first_port(p: &PortSet) -> Option<(Protocol, u16)> {
    Protocol::ALL
        .iter()
        .find_map(|&proto| p.ports(proto).ranges().first().map(|r| (proto, r.0)))
}

fn port_text(port: Option<(Protocol, u16)>) -> String {
    port.map(|(p, n)| format!(" on {}", p.member_text(n)))
        .unwrap_or_default()
}

impl Tester<'_, '_> {
    fn id(&self, e: usize) -> String {
        self.engine.endpoint_id(e)
    }

    fn resolve(&self, p: &Party) -> Vec<usize> {
        crate::resolve::party(self.engine, p)
    }

    /// What `src` may send to every endpoint, as interned ids.
    fn row(&mut self, src: usize) -> Vec<PortSetId> {
        let (mut scratch, mut row) = (Vec::new(), Vec::new());
        self.engine.reach.endpoint_row(src, &mut scratch, &mut row);
        row
    }

    /// Every matched pair with its composed verdict for `request` (any request when
    /// `None`), until `each` returns false.
    fn pairs(
        &mut self,
        from: &[usize],
        to: &[usize],
        request: Option<&kubeseg_model::spec::Request>,
        mut each: impl FnMut(&Pair) -> bool,
    ) {
        let cluster = self.engine.cluster;
        let workloads = cluster.workloads.len();
        let mut asked = request.and_then(|r| {
            Annotator::with_request(
                cluster,
                self.mesh_options.clone(),
                engine_request(r),
                self.engine.options,
            )
        });
        for &s in from {
            let row = self.row(s);
            for &d in to {
                if s == d || (s >= workloads && d >= workloads) {
                    continue;
                }
                let l4 = self.engine.port_set(row[d]).clone();
                let mesh = match asked.as_mut() {
                    Some(m) => Some(m),
                    None => self.mesh.as_mut(),
                };
                let composed = match (mesh, self.engine.endpoints()[s].mesh_source()) {
                    (Some(m), Some(source)) if d < workloads && !l4.is_empty() => {
                        Composed::of(&l4, &m.annotate(source, d, row[d].0, &l4))
                    }
                    _ => Composed {
                        open: l4.clone(),
                        conditional: PortSet::empty(),
                    },
                };
                if !each(&Pair {
                    src: s,
                    dst: d,
                    l4,
                    composed,
                }) {
                    return;
                }
            }
        }
    }

    fn allow(&mut self, f: &Flow, from: &[usize], to: &[usize]) -> Outcome {
        let want = f.ports.clone();
        let mut bad = None;
        // Asked about one request, a port the mesh opens only under conditions is not
        // known to be allowed; asked about any request, some request may use it.
        let sure = f.request.is_some();
        self.pairs(from, to, f.request.as_ref(), |p| {
            let allowed = if sure {
                p.composed.open.difference(&p.composed.conditional)
            } else {
                p.composed.open.clone()
            };
            let missing = match &want {
                Some(w) => w.difference(&allowed),
                None if allowed.is_empty() => PortSet::all(),
                None => PortSet::empty(),
            };
            if missing.is_empty() {
                return true;
            }
            let by_mesh = match &want {
                Some(w) => !w.difference(&p.l4).intersect(&missing).eq(&missing),
                None => !p.l4.is_empty(),
            };
            let mesh_note = match (
                by_mesh,
                missing.difference(&p.composed.conditional).is_empty(),
            ) {
                (false, _) => "",
                (true, true) => {
                    " (the mesh allows it only under conditions the manifests do not decide)"
                }
                (true, false) => " (the mesh denies it)",
            };
            bad = Some((p.src, p.dst, missing, by_mesh, mesh_note));
            false
        });
        let what = f
            .ports_text
            .as_ref()
            .map(|p| format!(" on {p}"))
            .unwrap_or_default();
        let what = format!("{what}{}", request_text(f));
        match bad {
            None => pass(format!("every matched pair connects{what}")),
            Some((s, d, missing, by_mesh, mesh_note)) => {
                let port = if want.is_some() {
                    first_port(&missing)
                } else {
                    None
                };
                let evidence = if by_mesh {
                    self.mesh_evidence(s, d, &missing, f.request.as_ref())
                } else {
                    self.why_not(s, d, port)
                };
                fail(
                    format!(
                        "{} cannot reach {}{}{}{}",
                        self.id(s),
                        self.id(d),
                        if want.is_some() {
                            port_text(port)
                        } else {
                            " at all".into()
                        },
                        request_text(f),
                        mesh_note
                    ),
                    self.example(s, d, port),
                    evidence,
                )
            }
        }
    }

    fn deny(&mut self, f: &Flow, from: &[usize], to: &[usize]) -> Outcome {
        let mut bad = None;
        self.pairs(from, to, f.request.as_ref(), |p| {
            // Ports the mesh opens only under conditions may carry the request.
            let hit = match &f.ports {
                Some(w) => w.intersect(&p.composed.open),
                None => p.composed.open.clone(),
            };
            if hit.is_empty() {
                return true;
            }
            bad = Some((p.src, p.dst, hit, p.composed.conditional.clone()));
            false
        });
        match bad {
            None => pass(format!(
                "no matched pair connects{}{}",
                f.ports_text
                    .as_ref()
                    .map(|p| format!(" on {p}"))
                    .unwrap_or_default(),
                request_text(f)
            )),
            Some((s, d, hit, conditional)) => {
                let port = first_port(&hit);
                let mut evidence = self.attribution.pair_evidence(self.engine, s, d);
                let meshed = hit.intersect(&PortSet::all_of(Protocol::Tcp));
                if self.mesh.is_some()
                    && d < self.engine.cluster.workloads.len()
                    && !meshed.is_empty()
                {
                    evidence.extend(self.mesh_evidence(s, d, &meshed, f.request.as_ref()));
                }
                let only_if = if hit.intersect(&conditional) == hit {
                    " (the mesh allows it only under conditions the manifests do not decide)"
                } else {
                    ""
                };
                fail(
                    format!(
                        "{} can reach {} on {}{}{only_if}",
                        self.id(s),
                        self.id(d),
                        ports_text(&hit),
                        request_text(f)
                    ),
                    self.example(s, d, port),
                    evidence,
                )
            }
        }
    }

    fn only(&mut self, f: &Flow, allowed_sources: &[usize], to: &[usize]) -> Outcome {
        let everyone: Vec<usize> = (0..self.engine.endpoints().len())
            .filter(|e| !allowed_sources.contains(e))
            .collect();
        let flow = Flow {
            from: vec![],
            to: vec![],
            ports: f.ports.clone(),
            ports_text: f.ports_text.clone(),
            request: f.request.clone(),
        };
        let mut out = self.deny(&flow, &everyone, to);
        if out.passed {
            out.message = format!(
                "only the listed sources reach the destinations{}",
                f.ports_text
                    .as_ref()
                    .map(|p| format!(" on {p}"))
                    .unwrap_or_default()
            );
        } else {
            out.message = format!("{}, which is not among the allowed sources", out.message);
        }
        out
    }

    fn graph(&mut self) -> &(Rows, Closure) {
        if self.rows.is_none() {
            let rows = Rows::compute(self.engine, &Targets::default());
            let closure = Closure::compute(&rows);
            self.rows = Some((rows, closure));
        }
        self.rows.as_ref().expect("computed above")
    }

    fn no_path(&mut self, from: &[usize], to: &[usize]) -> Outcome {
        let workloads = self.engine.cluster.workloads.len();
        // Outside sources start at the workloads that admit them.
        let (rows, _) = self.graph();
        let mut starts: Vec<usize> = from.iter().copied().filter(|&e| e < workloads).collect();
        let mut entry_of: Vec<Option<usize>> = vec![None; workloads];
        for &a in from.iter().filter(|&&e| e >= workloads) {
            for (w, entry) in entry_of.iter_mut().enumerate() {
                if rows.admitted_from[w].contains(&(a as u32)) {
                    starts.push(w);
                    entry.get_or_insert(a);
                }
            }
        }
        starts.sort_unstable();
        starts.dedup();
        let bfs = Bfs::run(rows, &starts);
        for &t in to {
            if from.contains(&t) {
                continue;
            }
            if let Some(path) = bfs.path_to(t) {
                let mut hops: Vec<String> = path.iter().map(|&h| self.id(h)).collect();
                if let Some(a) = entry_of[path[0]].filter(|_| !from.contains(&path[0])) {
                    hops.insert(0, self.id(a));
                }
                let mut evidence = Vec::new();
                for w in path.windows(2) {
                    let hop = format!("{} → {}", self.id(w[0]), self.id(w[1]));
                    for ev in self.attribution.pair_evidence(self.engine, w[0], w[1]) {
                        evidence.push(Evidence::at(ev.location, format!("{hop}: {}", ev.message)));
                    }
                }
                let c = Counterexample {
                    src: hops[0].clone(),
                    dst: self.id(t),
                    port: None,
                    path: hops.clone(),
                };
                return fail(
                    format!(
                        "a path of {} hop(s) leads from {} to {}: {}",
                        hops.len() - 1,
                        hops[0],
                        self.id(t),
                        hops.join(" → ")
                    ),
                    Some(c),
                    evidence,
                );
            }
        }
        pass("no path leads from a source to a destination".into())
    }

    fn blast(&mut self, from: &[usize], max: Limit) -> Outcome {
        let workloads = self.engine.cluster.workloads.len();
        let others = workloads.saturating_sub(1).max(1);
        let (rows, closure) = self.graph();
        let worst = from
            .iter()
            .filter(|&&e| e < workloads)
            .map(|&w| (closure.blast_radius(rows, w), w))
            .max_by_key(|&(n, w)| (n, std::cmp::Reverse(w)));
        let Some((n, w)) = worst else {
            return pass("no workload among the sources".into());
        };
        let over = match max {
            Limit::Count(c) => n > c,
            Limit::Percent(p) => n as f64 * 100.0 > p * others as f64,
        };
        let limit = match max {
            Limit::Count(c) => c.to_string(),
            Limit::Percent(p) => format!("{p}% ({:.0} workloads)", p * others as f64 / 100.0),
        };
        if !over {
            return pass(format!("the largest blast radius is {n} (at most {limit})"));
        }
        let c = Counterexample {
            src: self.id(w),
            dst: String::new(),
            port: None,
            path: vec![],
        };
        let evidence = vec![Evidence::at(
            workload_location(self.engine, w),
            format!("{} reaches {n} of {others} other workloads", self.id(w)),
        )];
        fail(
            format!(
                "{} reaches {n} other workloads, more than {limit}",
                self.id(w)
            ),
            Some(c),
            evidence,
        )
    }

    fn isolated(&mut self, namespace: &str, except: &[String]) -> Outcome {
        let cluster = self.engine.cluster;
        let inside: Vec<usize> = (0..cluster.workloads.len())
            .filter(|&w| cluster.workloads[w].namespace == namespace)
            .collect();
        let outside: Vec<usize> = (0..cluster.workloads.len())
            .filter(|&w| {
                cluster.workloads[w].namespace != namespace
                    && !except.contains(&cluster.workloads[w].namespace)
            })
            .collect();
        let flow = Flow {
            from: vec![],
            to: vec![],
            ports: None,
            ports_text: None,
            request: None,
        };
        for (from, to) in [(&inside, &outside), (&outside, &inside)] {
            let out = self.deny(&flow, from, to);
            if !out.passed {
                return out;
            }
        }
        pass(format!(
            "namespace {namespace} neither reaches nor is reached from other namespaces{}",
            if except.is_empty() {
                String::new()
            } else {
                format!(" but {}", except.join(", "))
            }
        ))
    }

    /// Why the mesh keeps `s` from `d` on the first TCP port of `ports` for `request`.
    fn mesh_evidence(
        &self,
        s: usize,
        d: usize,
        ports: &PortSet,
        request: Option<&kubeseg_model::spec::Request>,
    ) -> Vec<Evidence> {
        let Some(&(port, _)) = ports.ports(Protocol::Tcp).ranges().first() else {
            return Vec::new();
        };
        let request = request.map_or_else(Request::default, engine_request);
        pair_mesh_evidence(self.engine, s, d, port, &request, &self.mesh_options)
    }

    fn example(&self, s: usize, d: usize, port: Option<(Protocol, u16)>) -> Option<Counterexample> {
        Some(Counterexample {
            src: self.id(s),
            dst: self.id(d),
            port,
            path: vec![],
        })
    }

    /// Why `s → d` lacks `port`: the isolating policies of each side that allow too little.
    fn why_not(&mut self, s: usize, d: usize, port: Option<(Protocol, u16)>) -> Vec<Evidence> {
        let (sn, dn) = (
            self.engine.reach.endpoint_nodes(s)[0],
            self.engine.reach.endpoint_nodes(d)[0],
        );
        let eg = self.attribution.egress(self.engine, sn, dn);
        let ing = self.attribution.ingress(self.engine, sn, dn);
        let lacks = |v: &crate::attribution::Verdict| match port {
            Some((p, n)) => !v.allowed().contains(p, n),
            None => v.allowed().is_empty(),
        };
        let cluster = self.engine.cluster;
        let mut out = Vec::new();
        for (dir, verdict, node, subject) in [("egress", &eg, sn, s), ("ingress", &ing, dn, d)] {
            if !verdict.isolated || !lacks(verdict) {
                continue;
            }
            let policies = if dir == "egress" {
                self.attribution.egress_policies(node)
            } else {
                self.attribution.ingress_policies(node)
            };
            for &p in policies {
                let pol = &cluster.policies[p.index()];
                out.push(Evidence::at(pol.location.clone(), format!("NetworkPolicy {} isolates the {dir} of {} and none of the rules that apply allows it{}", pol.id(), self.id(subject), port_text(port))));
            }
        }
        out
    }
}

/// The mesh verdict from endpoint `s` to workload endpoint `d` on TCP `port` for
/// `request`, as evidence (empty when `s` is a domain or `d` not a workload).
pub fn pair_mesh_evidence(
    engine: &Engine,
    s: usize,
    d: usize,
    port: u16,
    request: &Request,
    options: &MeshOptions,
) -> Vec<Evidence> {
    let cluster = engine.cluster;
    let (Some(source), Endpoint::Workload { workload: d, .. }) =
        (engine.endpoints()[s].mesh_source(), &engine.endpoints()[d])
    else {
        return Vec::new();
    };
    let party = match source {
        Ok(w) => kubeseg_engine::mesh::Party::Pod {
            namespace: &cluster.workloads[w].namespace,
            pod: &cluster.workloads[w].pods[0],
        },
        Err(ip) => kubeseg_engine::mesh::Party::Address(ip),
    };
    let dst = &cluster.workloads[*d];
    let v = kubeseg_engine::mesh::evaluate(
        cluster,
        party,
        &dst.namespace,
        &dst.pods[0],
        port,
        request,
        options,
    );
    mesh_verdict_evidence(cluster, port, &v)
}

/// A mesh verdict as evidence: its reason at the deciding rule (or the
/// PeerAuthentication that made mTLS STRICT), and every ALLOW rule that missed.
pub fn mesh_verdict_evidence(
    cluster: &kubeseg_model::Cluster,
    port: u16,
    v: &kubeseg_engine::mesh::MeshVerdict,
) -> Vec<Evidence> {
    use crate::mesh_words::{mismatch_text, reason_text};
    let aps = &cluster.authorization_policies;
    let rule_at = |p: usize, r: Option<usize>| match r {
        Some(r) => aps[p].rules.as_ref().and_then(|rs| rs[r].location.clone()),
        None => aps[p].location.clone(),
    };
    let at = match (v.deciding, v.mtls.1) {
        (Some((p, r)), _) => rule_at(p, r),
        (None, Some(pa)) if v.reason == kubeseg_engine::mesh::Reason::PlaintextUnderStrict => {
            cluster.peer_authentications[pa].location.clone()
        }
        _ => None,
    };
    let only_if = match &v.decision {
        kubeseg_engine::mesh::Decision::Conditional(c) => {
            format!(": allowed only if {}", c.join("; "))
        }
        _ => String::new(),
    };
    let mut out = vec![Evidence::at(
        at,
        format!("mesh on TCP {port}: {}{only_if}", reason_text(cluster, v)),
    )];
    for m in &v.misses {
        let rule = m.rule.map(|r| format!(" rules[{r}]")).unwrap_or_default();
        out.push(Evidence::at(
            rule_at(m.policy, m.rule),
            format!(
                "mesh on TCP {port}: ALLOW {}{rule} does not match: {}",
                aps[m.policy].id(),
                mismatch_text(&m.mismatch)
            ),
        ));
    }
    out
}

/// ` for GET /x` when the assertion names a request.
fn request_text(f: &Flow) -> String {
    match &f.request {
        Some(r) => format!(
            " for {}",
            crate::mesh_words::request_text(&engine_request(r))
        ),
        None => String::new(),
    }
}

/// An assertion's request as the mesh engine takes it.
fn engine_request(r: &kubeseg_model::spec::Request) -> Request {
    Request {
        method: r.method.clone(),
        path: r.path.clone(),
        host: r.host.clone(),
    }
}

fn pass(message: String) -> Outcome {
    Outcome {
        passed: true,
        message,
        counterexample: None,
        evidence: vec![],
    }
}

fn fail(
    message: String,
    counterexample: Option<Counterexample>,
    evidence: Vec<Evidence>,
) -> Outcome {
    Outcome {
        passed: false,
        message,
        counterexample,
        evidence,
    }
}
