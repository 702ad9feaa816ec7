//! Synthetic cluster: planning (namespace sizes, workloads, labels, ports) and
//! streaming emission of the objects.

use std::collections::HashSet;
use std::io::{self, Write};
use std::ops::Range;

use crate::cidr::Cidr;
use crate::node::{Node, empty, int, obj, q, s};
use crate::rng::{Rng, mix};
use crate::{Kind, Shape, Sink};

mod calico;
mod cilium;
mod mesh;
mod real;
mod tiers;

/// App names with their tier.
const APPS: &[(&str, &str)] = &[
    ("frontend", "web"),
    ("web", "web"),
    ("gateway", "web"),
    ("api", "api"),
    ("auth", "api"),
    ("users", "api"),
    ("orders", "backend"),
    ("payments", "backend"),
    ("checkout", "backend"),
    ("cart", "backend"),
    ("catalog", "backend"),
    ("search", "backend"),
    ("inventory", "backend"),
    ("shipping", "backend"),
    ("billing", "backend"),
    ("notifications", "worker"),
    ("email", "worker"),
    ("reports", "batch"),
    ("etl", "batch"),
    ("scheduler", "worker"),
    ("worker", "worker"),
    ("ingest", "worker"),
    ("postgres", "db"),
    ("mysql", "db"),
    ("mongo", "db"),
    ("redis", "cache"),
    ("memcached", "cache"),
    ("kafka", "queue"),
    ("rabbitmq", "queue"),
    ("nats", "queue"),
    ("elasticsearch", "db"),
    ("prometheus", "monitoring"),
    ("grafana", "monitoring"),
    ("loki", "monitoring"),
    ("jaeger", "monitoring"),
    ("recommendations", "backend"),
    ("reviews", "backend"),
    ("ratings", "backend"),
    ("details", "backend"),
    ("ads", "backend"),
    ("currency", "backend"),
    ("profile", "api"),
    ("session", "cache"),
    ("media", "backend"),
    ("thumbnailer", "worker"),
    ("uploader", "api"),
    ("webhooks", "api"),
    ("audit", "backend"),
    ("ledger", "backend"),
    ("fraud", "backend"),
];

const TIERS: &[&str] = &[
    "web",
    "api",
    "backend",
    "worker",
    "batch",
    "db",
    "cache",
    "queue",
    "monitoring",
];

const NS_WORDS: &[&str] = &[
    "payments",
    "checkout",
    "platform",
    "data",
    "ml",
    "web",
    "mobile",
    "infra",
    "identity",
    "search",
    "ads",
    "analytics",
    "billing",
    "logistics",
    "support",
    "security",
    "growth",
    "media",
    "messaging",
    "storage",
];

const ENVS: &[(&str, u32)] = &[("prod", 40), ("staging", 25), ("dev", 25), ("test", 10)];

const COMMON_PORTS: &[u16] = &[
    8080, 80, 443, 8443, 9090, 5432, 6379, 3306, 50051, 8000, 3000, 5000, 9092, 27017, 9200, 5672,
    11211, 2379, 15672, 7000, 8081, 9000, 4317, 8888, 9100, 7070, 3550, 5050, 9555, 1433,
];

/// Port names used by policies; containers declare a subset (some never).
const NAMED: &[&str] = &[
    "http",
    "http",
    "http",
    "metrics",
    "metrics",
    "grpc",
    "https",
    "dns",
    "syslog",
    "http-envoy-prom",
];

const PRIVATE_V4: &[([u8; 4], u8)] = &[
    ([10, 0, 0, 0], 8),
    ([172, 16, 0, 0], 12),
    ([192, 168, 0, 0], 16),
    ([169, 254, 169, 254], 32),
];

type Labels = Vec<(&'static str, String)>;

struct CPort {
    name: Option<&'static str>,
    port: u16,
    proto: &'static str,
}

struct Container {
    name: String,
    image: String,
    ports: Vec<CPort>,
}

struct Wl {
    ns: usize,
    name: String,
    labels: Labels,
    replicas: usize,
    containers: Vec<Container>,
}

impl Wl {
    fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
    }
}

struct Ns {
    name: String,
    labels: Labels,
    policies: usize,
    wl: Range<usize>,
    team: String,
}

struct Plan {
    ns: Vec<Ns>,
    wls: Vec<Wl>,
    ports: Vec<u16>,
    teams: usize,
    /// Per-namespace data of the realistic mix (`Shape::realistic`).
    real: Option<real::RealPlan>,
}

/// Largest-remainder apportionment of `total` by `weights` (only exactly
/// rounded f64 ops, so identical on every platform).
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let n = weights.len();
    let mut out = vec![0usize; n];
    if n == 0 || total == 0 {
        return out;
    }
    let mut sum: f64 = weights.iter().sum();
    let uniform = sum <= 0.0;
    if uniform {
        sum = n as f64;
    }
    let mut rems = Vec::with_capacity(n);
    let mut assigned = 0usize;
    for (i, w) in weights.iter().enumerate() {
        let w = if uniform { 1.0 } else { *w };
        let exact = total as f64 * w / sum;
        let fl = exact.floor() as usize;
        out[i] = fl;
        assigned += fl;
        rems.push((exact - fl as f64, i));
    }
    rems.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut k = 0;
    while assigned < total {
        out[rems[k % n].1] += 1;
        assigned += 1;
        k += 1;
    }
    let mut k = n;
    while assigned > total {
        k -= 1;
        let i = rems[k % n].1;
        if out[i] > 0 {
            out[i] -= 1;
            assigned -= 1;
        }
        if k == 0 {
            k = n;
        }
    }
    out
}

/// Apportionment with per-slot caps (sum of caps must be >= total).
fn apportion_capped(total: usize, weights: &[f64], caps: &[usize]) -> Vec<usize> {
    let mut out = apportion(total, weights);
    let mut excess = 0;
    for (o, c) in out.iter_mut().zip(caps) {
        if *o > *c {
            excess += *o - *c;
            *o = *c;
        }
    }
    for (o, c) in out.iter_mut().zip(caps) {
        if excess == 0 {
            break;
        }
        let add = (*c - *o).min(excess);
        *o += add;
        excess -= add;
    }
    out
}

/// Zipf-like weights `1/(i+1+c)` with `c` chosen so that the largest share of
/// `total` is at most `max`.
fn zipf_weights(n: usize, total: usize, max: usize) -> Vec<f64> {
    let top = |c: f64| {
        let sum: f64 = (0..n).map(|i| 1.0 / (i as f64 + 1.0 + c)).sum();
        total as f64 / (1.0 + c) / sum
    };
    let target = max.saturating_sub(1).max(1) as f64;
    let mut c = 0.0;
    if top(0.0) > target {
        let mut hi = 1.0;
        while top(hi) > target && hi < 1e12 {
            hi *= 2.0;
        }
        let mut lo = 0.0;
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if top(mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        c = hi;
    }
    (0..n).map(|i| 1.0 / (i as f64 + 1.0 + c)).collect()
}

/// Pods and workloads per user namespace: Zipf sizes when the shape caps the largest
/// namespace, otherwise near-even; one workload per non-empty namespace, the rest by size
/// (standalone pods: one workload per pod).
pub(super) fn namespace_sizes(
    shape: &Shape,
    rng: &mut Rng,
    standalone: bool,
    user_ns: usize,
    user_pods: usize,
    user_wls: usize,
) -> (Vec<usize>, Vec<usize>) {
    let active = if standalone {
        user_ns
    } else {
        user_ns.min(user_wls)
    };
    let mut weights = vec![0.0f64; user_ns];
    if shape.max_namespace_pods > 0
        && active > 1
        && shape.max_namespace_pods.saturating_mul(active) > user_pods
        && shape.max_namespace_pods < user_pods
    {
        let mut z = zipf_weights(active, user_pods, shape.max_namespace_pods);
        rng.shuffle(&mut z);
        weights[..active].copy_from_slice(&z);
    } else {
        for w in weights.iter_mut().take(active) {
            *w = 0.5 + rng.f64();
        }
    }
    let ns_pods = apportion(user_pods, &weights);

    // Workloads per namespace: one per non-empty namespace, rest by size.
    let ns_wls: Vec<usize> = if standalone {
        ns_pods.clone()
    } else {
        let nonempty = ns_pods.iter().filter(|&&p| p > 0).count();
        let rest = user_wls.saturating_sub(nonempty);
        let w: Vec<f64> = ns_pods
            .iter()
            .map(|&p| p.saturating_sub(1) as f64)
            .collect();
        let caps: Vec<usize> = ns_pods.iter().map(|&p| p.saturating_sub(1)).collect();
        let extra = apportion_capped(rest, &w, &caps);
        ns_pods
            .iter()
            .zip(extra)
            .map(|(&p, e)| if p > 0 { 1 + e } else { 0 })
            .collect()
    };
    (ns_pods, ns_wls)
}

pub(super) fn labels_node(l: &Labels) -> Node {
    obj(l.iter().map(|(k, v)| (*k, q(v.as_str()))).collect())
}

fn ns_selector_name(name: &str) -> Node {
    obj(vec![(
        "matchLabels",
        obj(vec![("kubernetes.io/metadata.name", q(name))]),
    )])
}

fn expr(key: &'static str, op: &'static str, values: &[&str]) -> Node {
    let mut e = vec![("key", s(key)), ("operator", s(op))];
    if !values.is_empty() {
        e.push(("values", Node::Arr(values.iter().map(|v| q(*v)).collect())));
    }
    obj(e)
}

fn build_plan(shape: &Shape, rng: &mut Rng) -> Plan {
    let standalone = shape.standalone_pods;
    let n_ns = shape.namespaces.max(1);
    let pods = shape.pods;
    let mut wls_total = if standalone {
        pods
    } else {
        shape.workloads.min(pods)
    };
    if !standalone && pods > 0 && wls_total == 0 {
        wls_total = 1;
    }
    let kube = shape.kube_dns && !standalone && n_ns >= 2 && pods >= 3 && wls_total >= 2;
    let kube_n = usize::from(kube);
    let user_ns = n_ns - kube_n;
    let user_pods = pods - 2 * kube_n;
    let user_wls = wls_total - kube_n;
    let teams = (user_ns / 10).clamp(3, 200);

    // Port pool.
    let want_ports = shape.distinct_ports.max(1);
    let mut ports: Vec<u16> = COMMON_PORTS.iter().copied().take(want_ports).collect();
    let mut seen: HashSet<u16> = ports.iter().copied().collect();
    while ports.len() < want_ports {
        let p = 1024 + rng.below(64_000) as u16;
        if seen.insert(p) {
            ports.push(p);
        }
    }

    let mut plan = Plan {
        ns: Vec::with_capacity(n_ns),
        wls: Vec::with_capacity(wls_total),
        ports,
        teams,
        real: None,
    };

    if kube {
        push_kube_system(&mut plan);
    }

    let (ns_pods, ns_wls) = namespace_sizes(shape, rng, standalone, user_ns, user_pods, user_wls);

    let mut global = 0usize;
    for i in 0..user_ns {
        let ns_idx = plan.ns.len();
        let word = rng.pick(NS_WORDS);
        let name = format!("{word}-{i}");
        let team = format!("team-{}", rng.below(teams));
        let env = {
            let r = rng.below(100) as u32;
            let mut acc = 0;
            ENVS.iter()
                .find(|(_, p)| {
                    acc += p;
                    r < acc
                })
                .map_or("prod", |(e, _)| e)
        };
        let mut labels: Labels = vec![
            ("kubernetes.io/metadata.name", name.clone()),
            ("team", team.clone()),
            ("env", env.into()),
        ];
        if rng.pct(20) {
            labels.push(("istio-injection", "enabled".into()));
        }
        let start = plan.wls.len();
        let nw = ns_wls[i];
        let replicas: Vec<usize> = if standalone {
            vec![1; nw]
        } else {
            let w: Vec<f64> = (0..nw)
                .map(|_| {
                    let u = rng.f64();
                    0.25 + u * u * 4.0
                })
                .collect();
            apportion(ns_pods[i] - nw, &w)
                .into_iter()
                .map(|r| r + 1)
                .collect()
        };
        let offset = rng.below(APPS.len());
        for (j, reps) in replicas.into_iter().enumerate() {
            let (word, tier0) = APPS[(offset + j) % APPS.len()];
            let (app, tier, wteam) = if shape.unique_labels {
                let prefix = if standalone { "p" } else { "w" };
                (
                    format!("{prefix}{global}"),
                    *rng.pick(TIERS),
                    format!("team-{}", rng.below(teams)),
                )
            } else if j < APPS.len() {
                (word.to_string(), tier0, team.clone())
            } else {
                (format!("{word}-{}", j / APPS.len()), tier0, team.clone())
            };
            let version = match rng.below(100) {
                0..70 => "v1",
                70..95 => "v2",
                _ => "v3",
            };
            let containers = make_containers(rng, &plan.ports, word);
            plan.wls.push(Wl {
                ns: ns_idx,
                name: app.clone(),
                labels: vec![
                    ("app", app),
                    ("tier", tier.into()),
                    ("team", wteam),
                    ("version", version.into()),
                ],
                replicas: reps,
                containers,
            });
            global += 1;
        }
        plan.ns.push(Ns {
            name,
            labels,
            policies: 0,
            wl: start..plan.wls.len(),
            team,
        });
    }

    // Policies: proportional to namespace size, none in kube-system.
    let pw: Vec<f64> = ns_pods.iter().map(|&p| p as f64 + 1.0).collect();
    let pol = apportion(shape.policies, &pw);
    for (ns, p) in plan.ns.iter_mut().skip(kube_n).zip(pol) {
        ns.policies = p;
    }
    plan
}

/// Adds the `kube-system` namespace with its `coredns` workload (2 pods).
fn push_kube_system(plan: &mut Plan) {
    let name = "kube-system".to_string();
    let ns = plan.ns.len();
    let start = plan.wls.len();
    plan.wls.push(Wl {
        ns,
        name: "coredns".into(),
        labels: vec![("k8s-app", "kube-dns".into())],
        replicas: 2,
        containers: vec![Container {
            name: "coredns".into(),
            image: "registry.k8s.io/coredns/coredns:v1.11.1".into(),
            ports: vec![
                CPort {
                    name: Some("dns"),
                    port: 53,
                    proto: "UDP",
                },
                CPort {
                    name: Some("dns-tcp"),
                    port: 53,
                    proto: "TCP",
                },
                CPort {
                    name: Some("metrics"),
                    port: 9153,
                    proto: "TCP",
                },
            ],
        }],
    });
    plan.ns.push(Ns {
        labels: vec![("kubernetes.io/metadata.name", name.clone())],
        name,
        policies: 0,
        wl: start..start + 1,
        team: "team-0".into(),
    });
}

fn make_containers(rng: &mut Rng, pool: &[u16], word: &str) -> Vec<Container> {
    let mut ports: Vec<CPort> = Vec::new();
    let mut push = |name: Option<&'static str>, port: u16, proto: &'static str| {
        if !ports.iter().any(|p| p.port == port && p.proto == proto) {
            ports.push(CPort { name, port, proto });
        }
    };
    let main = pool[rng.skewed(pool.len())];
    push(rng.pct(80).then_some("http"), main, "TCP");
    if rng.pct(30) {
        push(Some("grpc"), pool[rng.skewed(pool.len())], "TCP");
    }
    if rng.pct(50) {
        let port = if rng.pct(60) {
            9090
        } else {
            pool[rng.below(pool.len())]
        };
        push(
            Some("metrics"),
            port,
            if rng.pct(10) { "UDP" } else { "TCP" },
        );
    }
    if rng.pct(5) {
        push(Some("syslog"), 514, "UDP");
    }
    if rng.pct(3) {
        push(Some("dns"), 53, "UDP");
    }
    if rng.pct(5) {
        push(Some("https"), 8443, "TCP");
    }
    let mut containers = vec![Container {
        name: word.to_string(),
        image: format!(
            "registry.example.com/{word}:1.{}.{}",
            rng.below(20),
            rng.below(10)
        ),
        ports,
    }];
    if rng.pct(15) {
        containers.push(Container {
            name: "istio-proxy".into(),
            image: "docker.io/istio/proxyv2:1.22.0".into(),
            ports: vec![CPort {
                name: Some("http-envoy-prom"),
                port: 15090,
                proto: "TCP",
            }],
        });
    }
    containers
}

fn containers_node(cs: &[Container]) -> Node {
    Node::Arr(
        cs.iter()
            .map(|c| {
                let mut e = vec![("name", s(c.name.as_str())), ("image", s(c.image.as_str()))];
                if !c.ports.is_empty() {
                    e.push((
                        "ports",
                        Node::Arr(
                            c.ports
                                .iter()
                                .map(|p| {
                                    let mut pe = Vec::with_capacity(3);
                                    if let Some(n) = p.name {
                                        pe.push(("name", s(n)));
                                    }
                                    pe.push(("containerPort", int(p.port)));
                                    pe.push(("protocol", s(p.proto)));
                                    obj(pe)
                                })
                                .collect(),
                        ),
                    ));
                }
                obj(e)
            })
            .collect(),
    )
}

struct Rule {
    peers: Option<Vec<Node>>,
    ports: Option<Vec<Node>>,
}

impl Rule {
    fn node(self, peer_key: &'static str) -> Node {
        let mut e = Vec::new();
        if let Some(p) = self.peers {
            e.push((peer_key, Node::Arr(p)));
        }
        if let Some(p) = self.ports {
            e.push(("ports", Node::Arr(p)));
        }
        obj(e)
    }
}

struct Gen<'a> {
    shape: &'a Shape,
    plan: Plan,
    rng: Rng,
    pod_seq: u64,
    policy_seq: usize,
    total_policies: usize,
    /// The Cilium mix, on a random stream of its own so the rest of the output
    /// is the same as without it.
    cilium: cilium::Mix,
    /// The Calico mix, on a random stream of its own for the same reason.
    calico: calico::Mix,
}

/// Generates the synthetic cluster into `sink`.
pub(crate) fn run<W: Write>(shape: &Shape, seed: u64, sink: &mut Sink<W>) -> io::Result<()> {
    let mut prng = Rng::new(mix(seed, 1));
    let plan = if shape.realistic {
        real::build_plan(shape, &mut prng)
    } else {
        build_plan(shape, &mut prng)
    };
    let total_policies = plan.ns.iter().map(|n| n.policies).sum();
    let cilium = cilium::Mix::new(shape, &plan, seed);
    let calico = calico::Mix::new(shape, &plan, seed);
    let mut g = Gen {
        shape,
        plan,
        rng: Rng::new(mix(seed, 2)),
        pod_seq: 0,
        policy_seq: 0,
        total_policies,
        cilium,
        calico,
    };
    g.run(sink)
}

impl Gen<'_> {
    fn run<W: Write>(&mut self, sink: &mut Sink<W>) -> io::Result<()> {
        for i in 0..self.plan.ns.len() {
            let n = {
                let ns = &self.plan.ns[i];
                obj(vec![
                    ("apiVersion", s("v1")),
                    ("kind", s("Namespace")),
                    (
                        "metadata",
                        obj(vec![
                            ("name", s(ns.name.as_str())),
                            ("uid", s(self.rng.uuid())),
                            ("labels", self.namespace_labels(i)),
                        ]),
                    ),
                ])
            };
            sink.emit(Kind::Namespace, &n)?;
        }
        let mut names: HashSet<String> = HashSet::new();
        for i in 0..self.plan.ns.len() {
            for w in self.plan.ns[i].wl.clone() {
                self.workload(w, &mut names, sink)?;
            }
            if self.plan.real.is_some() {
                for p in self.real_policies(i) {
                    sink.emit(Kind::Policy, &p)?;
                }
                for p in self.cilium_policies(i) {
                    sink.emit(Kind::Cilium, &p)?;
                }
                let (sets, policies) = self.calico_namespaced(i);
                for n in sets {
                    sink.emit(Kind::Other, &n)?;
                }
                for p in policies {
                    sink.emit(Kind::Calico, &p)?;
                }
                continue;
            }
            for j in 0..self.plan.ns[i].policies {
                let p = self.policy(i, j);
                sink.emit(Kind::Policy, &p)?;
            }
        }
        for p in self.cilium_clusterwide() {
            sink.emit(Kind::Cilium, &p)?;
        }
        let (objects, policies) = self.calico_global();
        for n in objects {
            sink.emit(Kind::Other, &n)?;
        }
        for p in policies {
            sink.emit(Kind::Calico, &p)?;
        }
        for p in self.tier_policies() {
            sink.emit(Kind::Other, &p)?;
        }
        for p in self.mesh_objects() {
            sink.emit(Kind::Other, &p)?;
        }
        Ok(())
    }

    fn pod_status(&mut self) -> Node {
        if self.rng.pct(self.shape.pod_ip_pct) {
            // Unique addresses from 10.0.1.0 upwards.
            let ip = 0x0A00_0100u32 + (self.pod_seq as u32 & 0x00FF_FFFF);
            self.pod_seq += 1;
            obj(vec![
                ("phase", s("Running")),
                ("podIP", s(std::net::Ipv4Addr::from(ip).to_string())),
            ])
        } else {
            self.pod_seq += 1;
            obj(vec![("phase", s("Pending"))])
        }
    }

    fn workload<W: Write>(
        &mut self,
        w: usize,
        names: &mut HashSet<String>,
        sink: &mut Sink<W>,
    ) -> io::Result<()> {
        let wl = &self.plan.wls[w];
        let ns_name = self.plan.ns[wl.ns].name.clone();
        let containers = containers_node(&wl.containers);
        if self.shape.standalone_pods {
            let status = self.pod_status();
            let wl = &self.plan.wls[w];
            let pod = obj(vec![
                ("apiVersion", s("v1")),
                ("kind", s("Pod")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s(wl.name.as_str())),
                        ("namespace", s(ns_name.as_str())),
                        ("uid", s(self.rng.uuid())),
                        ("labels", labels_node(&wl.labels)),
                    ]),
                ),
                ("spec", obj(vec![("containers", containers)])),
                ("status", status),
            ]);
            return sink.emit(Kind::Pod, &pod);
        }
        let hash = self.rng.k8s_suffix(10);
        let dep_uid = self.rng.uuid();
        let rs_uid = self.rng.uuid();
        let wl = &self.plan.wls[w];
        let rs_name = format!("{}-{hash}", wl.name);
        let tmpl_labels = labels_node(&wl.labels);
        let sel_key = wl.labels[0].0;
        let sel_val = wl.labels[0].1.as_str();
        let mut pod_labels = wl.labels.clone();
        let mut rs_sel = vec![(sel_key, q(sel_val))];
        if self.shape.pod_template_hash {
            pod_labels.push(("pod-template-hash", hash.clone()));
            rs_sel.push(("pod-template-hash", q(hash.as_str())));
        }
        let pod_labels = labels_node(&pod_labels);
        let replicas = wl.replicas;
        let pod_spec = self.pod_spec(w, &containers);
        let template = obj(vec![
            ("metadata", obj(vec![("labels", tmpl_labels.clone())])),
            ("spec", pod_spec.clone()),
        ]);
        let dep = obj(vec![
            ("apiVersion", s("apps/v1")),
            ("kind", s("Deployment")),
            (
                "metadata",
                obj(vec![
                    ("name", s(wl.name.as_str())),
                    ("namespace", s(ns_name.as_str())),
                    ("uid", s(dep_uid.as_str())),
                    ("labels", tmpl_labels),
                ]),
            ),
            (
                "spec",
                obj(vec![
                    ("replicas", int(replicas as i64)),
                    (
                        "selector",
                        obj(vec![("matchLabels", obj(vec![(sel_key, q(sel_val))]))]),
                    ),
                    ("template", template.clone()),
                ]),
            ),
        ]);
        sink.emit(Kind::Deployment, &dep)?;
        let owner = |kind: &str, name: &str, uid: &str| {
            Node::Arr(vec![obj(vec![
                ("apiVersion", s("apps/v1")),
                ("kind", s(kind)),
                ("name", s(name)),
                ("uid", s(uid)),
                ("controller", Node::Bool(true)),
                ("blockOwnerDeletion", Node::Bool(true)),
            ])])
        };
        let rs = obj(vec![
            ("apiVersion", s("apps/v1")),
            ("kind", s("ReplicaSet")),
            (
                "metadata",
                obj(vec![
                    ("name", s(rs_name.as_str())),
                    ("namespace", s(ns_name.as_str())),
                    ("uid", s(rs_uid.as_str())),
                    ("labels", pod_labels.clone()),
                    ("ownerReferences", owner("Deployment", &wl.name, &dep_uid)),
                ]),
            ),
            (
                "spec",
                obj(vec![
                    ("replicas", int(replicas as i64)),
                    ("selector", obj(vec![("matchLabels", obj(rs_sel))])),
                    ("template", template),
                ]),
            ),
        ]);
        sink.emit(Kind::ReplicaSet, &rs)?;
        let owner_refs = owner("ReplicaSet", &rs_name, &rs_uid);
        names.clear();
        for _ in 0..replicas {
            let name = loop {
                let n = format!("{rs_name}-{}", self.rng.k8s_suffix(5));
                if names.insert(n.clone()) {
                    break n;
                }
            };
            let uid = self.rng.uuid();
            let status = self.pod_status();
            let pod = obj(vec![
                ("apiVersion", s("v1")),
                ("kind", s("Pod")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s(name)),
                        ("namespace", s(ns_name.as_str())),
                        ("uid", s(uid)),
                        ("labels", pod_labels.clone()),
                        ("ownerReferences", owner_refs.clone()),
                    ]),
                ),
                ("spec", pod_spec.clone()),
                ("status", status),
            ]);
            sink.emit(Kind::Pod, &pod)?;
        }
        Ok(())
    }

    /// A podSelector picking workloads of `range`; returns it with a name hint.
    fn pod_selector(&mut self, range: Range<usize>) -> (Node, String) {
        let r = &mut self.rng;
        if range.is_empty() {
            let app = format!("ghost-{}", r.below(1000));
            return (
                obj(vec![("matchLabels", obj(vec![("app", q(app.as_str()))]))]),
                app,
            );
        }
        let w = &self.plan.wls[range.start + r.below(range.len())];
        let (key, id) = (w.labels[0].0, w.labels[0].1.as_str());
        let tier = w.label("tier").unwrap_or("web");
        let version = w.label("version").unwrap_or("v1");
        let team = w.label("team").unwrap_or("team-0");
        let ml = |e: Vec<(&'static str, &str)>| {
            (
                "matchLabels",
                obj(e.into_iter().map(|(k, v)| (k, q(v))).collect()),
            )
        };
        let sel = match r.below(100) {
            0..45 => obj(vec![ml(vec![(key, id)])]),
            45..55 => obj(vec![ml(vec![(key, id), ("version", version)])]),
            55..65 => obj(vec![ml(vec![("tier", tier)])]),
            65..80 => {
                let mut vals = vec![id];
                for _ in 0..r.range(1, 2) {
                    let o = &self.plan.wls[range.start + r.below(range.len())];
                    let v = o.labels[0].1.as_str();
                    if !vals.contains(&v) {
                        vals.push(v);
                    }
                }
                if vals.len() == 1 {
                    vals.push("legacy");
                }
                obj(vec![(
                    "matchExpressions",
                    Node::Arr(vec![expr(key, "In", &vals)]),
                )])
            }
            80..88 => obj(vec![
                ml(vec![(key, id)]),
                (
                    "matchExpressions",
                    Node::Arr(vec![expr("version", "Exists", &[])]),
                ),
            ]),
            88..94 => obj(vec![(
                "matchExpressions",
                Node::Arr(vec![expr("tier", "NotIn", &["db", "cache"])]),
            )]),
            _ => obj(vec![
                ml(vec![("team", team)]),
                (
                    "matchExpressions",
                    Node::Arr(vec![expr("canary", "DoesNotExist", &[])]),
                ),
            ]),
        };
        (sel, id.to_string())
    }

    fn peer(&mut self, ns_idx: usize) -> Node {
        let sh = self.shape;
        let r = self.rng.below(100) as u32;
        if r < sh.broad_peer_pct {
            return match self.rng.below(4) {
                0 => obj(vec![("namespaceSelector", empty())]),
                1 => obj(vec![("podSelector", empty())]),
                2 => obj(vec![
                    ("namespaceSelector", empty()),
                    (
                        "podSelector",
                        obj(vec![("matchLabels", obj(vec![("tier", q("web"))]))]),
                    ),
                ]),
                _ => obj(vec![(
                    "namespaceSelector",
                    obj(vec![(
                        "matchExpressions",
                        Node::Arr(vec![expr("env", "Exists", &[])]),
                    )]),
                )]),
            };
        }
        if r < sh.broad_peer_pct + sh.ns_selector_pct {
            let team = format!("team-{}", self.rng.below(self.plan.teams));
            return match self.rng.below(100) {
                0..35 => obj(vec![(
                    "namespaceSelector",
                    obj(vec![("matchLabels", obj(vec![("team", q(team))]))]),
                )]),
                35..50 => {
                    let env = self.rng.pick(ENVS).0;
                    obj(vec![(
                        "namespaceSelector",
                        obj(vec![("matchLabels", obj(vec![("env", q(env))]))]),
                    )])
                }
                50..60 => obj(vec![(
                    "namespaceSelector",
                    obj(vec![(
                        "matchExpressions",
                        Node::Arr(vec![expr("env", "In", &["prod", "staging"])]),
                    )]),
                )]),
                60..85 if !self.plan.wls.is_empty() => {
                    let w = self.rng.below(self.plan.wls.len());
                    let wl = &self.plan.wls[w];
                    let ns = &self.plan.ns[wl.ns];
                    obj(vec![
                        ("namespaceSelector", ns_selector_name(&ns.name)),
                        (
                            "podSelector",
                            obj(vec![(
                                "matchLabels",
                                obj(vec![(wl.labels[0].0, q(wl.labels[0].1.as_str()))]),
                            )]),
                        ),
                    ])
                }
                _ => {
                    let tier = *self.rng.pick(TIERS);
                    obj(vec![
                        (
                            "namespaceSelector",
                            obj(vec![("matchLabels", obj(vec![("team", q(team))]))]),
                        ),
                        (
                            "podSelector",
                            obj(vec![("matchLabels", obj(vec![("tier", q(tier))]))]),
                        ),
                    ])
                }
            };
        }
        let range = self.plan.ns[ns_idx].wl.clone();
        let (sel, _) = self.pod_selector(range);
        obj(vec![("podSelector", sel)])
    }

    fn protocol(&mut self) -> Option<&'static str> {
        match self.rng.below(100) {
            0..40 => None,
            40..85 => Some("TCP"),
            85..95 => Some("UDP"),
            _ => Some("SCTP"),
        }
    }

    fn port_entry(&mut self) -> Node {
        let sh = self.shape;
        let r = self.rng.below(100) as u32;
        let pool = &self.plan.ports;
        if r < sh.named_port_pct {
            let name = *self.rng.pick(NAMED);
            let proto = match name {
                "dns" | "syslog" => Some("UDP"),
                "metrics" if self.rng.pct(10) => Some("UDP"),
                _ if self.rng.pct(50) => Some("TCP"),
                _ => None,
            };
            let mut e = Vec::new();
            if let Some(p) = proto {
                e.push(("protocol", s(p)));
            }
            e.push(("port", s(name)));
            return obj(e);
        }
        let port = pool[self.rng.skewed(pool.len())];
        let proto = self.protocol();
        let mut e = Vec::new();
        if let Some(p) = proto {
            e.push(("protocol", s(p)));
        }
        e.push(("port", int(port)));
        if r < sh.named_port_pct + sh.endport_pct {
            let room = 65_535 - usize::from(port);
            let end = usize::from(port) + self.rng.range(1.min(room), room.min(1000));
            e.push(("endPort", int(end as i64)));
        }
        obj(e)
    }

    fn ports(&mut self) -> Option<Vec<Node>> {
        if self.rng.pct(35) {
            return None;
        }
        let n = match self.rng.below(10) {
            0..6 => 1,
            6..9 => 2,
            _ => 3,
        };
        Some((0..n).map(|_| self.port_entry()).collect())
    }

    fn rules(&mut self, ns_idx: usize, egress: bool) -> Vec<Rule> {
        let n = match self.rng.below(10) {
            0..6 => 1,
            6..9 => 2,
            _ => 3,
        };
        let mut rules = Vec::with_capacity(n + 1);
        if egress && self.rng.pct(35) {
            rules.push(Rule {
                peers: Some(vec![obj(vec![
                    ("namespaceSelector", ns_selector_name("kube-system")),
                    (
                        "podSelector",
                        obj(vec![("matchLabels", obj(vec![("k8s-app", q("kube-dns"))]))]),
                    ),
                ])]),
                ports: Some(if self.rng.pct(20) {
                    vec![obj(vec![("protocol", s("UDP")), ("port", s("dns"))])]
                } else {
                    vec![
                        obj(vec![("protocol", s("UDP")), ("port", int(53))]),
                        obj(vec![("protocol", s("TCP")), ("port", int(53))]),
                    ]
                }),
            });
        }
        for _ in 0..n {
            let peers = if self.rng.pct(12) {
                None
            } else {
                let k = match self.rng.below(10) {
                    0..6 => 1,
                    6..9 => 2,
                    _ => 3,
                };
                Some((0..k).map(|_| self.peer(ns_idx)).collect())
            };
            let ports = self.ports();
            rules.push(Rule { peers, ports });
        }
        rules
    }

    fn ipblock(&mut self) -> Node {
        let sh = self.shape;
        let want_except = self.rng.pct(sh.except_pct);
        let r = &mut self.rng;
        let mut excepts: Vec<Cidr> = Vec::new();
        let cidr = if r.pct(sh.ipv6_pct) {
            let rand128 = |r: &mut Rng| (u128::from(r.next_u64()) << 64) | u128::from(r.next_u64());
            if r.pct(20) {
                if want_except {
                    excepts.push(Cidr::new(0xfd_u128 << 120, 8, true));
                    excepts.push(Cidr::new(0xfe80_u128 << 112, 10, true));
                }
                Cidr::new(0, 0, true)
            } else {
                let prefix = r.range(32, 64) as u8;
                let c = Cidr::new((0xfd_u128 << 120) | (rand128(r) >> 8), prefix, true);
                if want_except {
                    for _ in 0..r.range(1, 2) {
                        let ep = prefix + r.range(1, 16) as u8;
                        excepts.push(Cidr::new(c.addr | (rand128(r) >> prefix), ep, true));
                    }
                }
                c
            }
        } else {
            let v4 = |a: [u8; 4]| u128::from(u32::from_be_bytes(a));
            let kind = r.below(100);
            if kind < 15 {
                if want_except {
                    for &(a, p) in PRIVATE_V4.iter().take(r.range(1, 4)) {
                        excepts.push(Cidr::new(v4(a), p, false));
                    }
                }
                Cidr::new(0, 0, false)
            } else {
                let (addr, prefix) = if kind < 55 {
                    (
                        v4([10, r.below(256) as u8, r.below(256) as u8, 0]),
                        r.range(8, 24) as u8,
                    )
                } else if kind < 75 {
                    (
                        v4([192, 168, r.below(256) as u8, r.below(256) as u8]),
                        r.range(16, 28) as u8,
                    )
                } else {
                    let mut first = r.range(1, 223) as u8;
                    if first == 10 || first == 127 {
                        first += 1;
                    }
                    (
                        v4([first, r.below(256) as u8, r.below(256) as u8, 0]),
                        r.range(12, 30) as u8,
                    )
                };
                let c = Cidr::new(addr, prefix, false);
                if want_except {
                    for _ in 0..r.range(1, 3) {
                        let ep = prefix + r.range(1, (32 - prefix as usize).min(8)) as u8;
                        let host = u128::from(r.next_u64() as u32) & ((1u128 << (32 - prefix)) - 1);
                        excepts.push(Cidr::new(c.addr | host, ep, false));
                    }
                }
                c
            }
        };
        let mut seen: Vec<Cidr> = Vec::new();
        excepts.retain(|e| {
            let keep = !seen.contains(e);
            seen.push(*e);
            keep
        });
        let mut e = vec![("cidr", s(cidr.to_string()))];
        if !excepts.is_empty() {
            e.push((
                "except",
                Node::Arr(excepts.iter().map(|c| s(c.to_string())).collect()),
            ));
        }
        obj(vec![("ipBlock", obj(e))])
    }

    fn policy(&mut self, ns_idx: usize, j: usize) -> Node {
        let sh = self.shape;
        let range = self.plan.ns[ns_idx].wl.clone();
        let (selector, hint) =
            if sh.select_all || self.rng.pct(sh.empty_selector_pct) || range.is_empty() {
                (empty(), "all".to_string())
            } else {
                self.pod_selector(range)
            };
        // 0: absent, 1: [Ingress], 2: [Egress], 3: [Ingress, Egress]
        let types = match self.rng.below(100) {
            0..15 => 0,
            15..55 => 1,
            55..70 => 2,
            _ => 3,
        };
        let want_ing = types != 2;
        let want_eg = types >= 2 || (types == 0 && self.rng.pct(20));
        // None: field absent; Some(empty): `[]`.
        let mut ingress: Option<Vec<Rule>> = None;
        let mut egress: Option<Vec<Rule>> = None;
        if want_ing {
            ingress = if self.rng.pct(12) {
                self.rng.pct(50).then(Vec::new)
            } else {
                Some(self.rules(ns_idx, false))
            };
        }
        if want_eg {
            egress = if self.rng.pct(12) && types != 0 {
                self.rng.pct(50).then(Vec::new)
            } else {
                Some(self.rules(ns_idx, true))
            };
        }
        // Exact ipBlock budget spread over all policies.
        let p = self.policy_seq as u128;
        let total = self.total_policies.max(1) as u128;
        let b = sh.ip_blocks as u128;
        let k = ((p + 1) * b / total - p * b / total) as usize;
        self.policy_seq += 1;
        for _ in 0..k {
            let blk = self.ipblock();
            let into_egress = match (want_ing, want_eg) {
                (true, true) => self.rng.pct(50),
                (false, _) => true,
                (true, false) => false,
            };
            let list = if into_egress {
                egress.get_or_insert_with(Vec::new)
            } else {
                ingress.get_or_insert_with(Vec::new)
            };
            if list.is_empty() || self.rng.pct(30) {
                let ports = self.ports();
                list.push(Rule {
                    peers: Some(vec![blk]),
                    ports,
                });
            } else {
                let i = self.rng.below(list.len());
                list[i].peers.get_or_insert_with(Vec::new).push(blk);
            }
        }
        let kind = match (&ingress, &egress) {
            (Some(i), _) if i.is_empty() => "deny",
            (_, Some(e)) if e.is_empty() => "deny",
            (None, None) => "deny",
            (Some(_), Some(_)) => "traffic",
            (None, Some(_)) => "egress",
            (Some(_), None) => "ingress",
        };
        let mut spec = vec![("podSelector", selector)];
        match types {
            1 => spec.push(("policyTypes", Node::Arr(vec![s("Ingress")]))),
            2 => spec.push(("policyTypes", Node::Arr(vec![s("Egress")]))),
            3 => spec.push(("policyTypes", Node::Arr(vec![s("Ingress"), s("Egress")]))),
            _ => {}
        }
        if let Some(r) = ingress {
            spec.push((
                "ingress",
                Node::Arr(r.into_iter().map(|r| r.node("from")).collect()),
            ));
        }
        if let Some(r) = egress {
            spec.push((
                "egress",
                Node::Arr(r.into_iter().map(|r| r.node("to")).collect()),
            ));
        }
        let ns = &self.plan.ns[ns_idx];
        let labels = vec![("team", q(ns.team.as_str()))];
        obj(vec![
            ("apiVersion", s("networking.k8s.io/v1")),
            ("kind", s("NetworkPolicy")),
            (
                "metadata",
                obj(vec![
                    ("name", s(format!("{hint}-{kind}-{j}"))),
                    ("namespace", s(ns.name.as_str())),
                    ("uid", s(self.rng.uuid())),
                    ("labels", obj(labels)),
                ]),
            ),
            ("spec", obj(spec)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums() {
        let w = [1.0, 2.0, 3.0, 0.0];
        let a = apportion(10, &w);
        assert_eq!(a.iter().sum::<usize>(), 10);
        assert_eq!(a[3], 0);
        let c = apportion_capped(5, &[1.0, 100.0], &[3, 2]);
        assert_eq!(c, vec![3, 2]);
    }

    #[test]
    fn zipf_cap() {
        let w = zipf_weights(9_999, 149_998, 3_000);
        let a = apportion(149_998, &w);
        assert!(*a.iter().max().unwrap() <= 3_000);
        assert!(*a.iter().max().unwrap() > 2_500);
        assert_eq!(a.iter().sum::<usize>(), 149_998);
    }
}
