//! Realistic cluster profile ([`Shape::realistic`]).
//!
//! Namespaces belong to one of ~30 teams and an env (prod/staging/dev); the
//! special namespaces `kube-system` (coredns), `ingress-nginx` (`role=ingress`)
//! and `monitoring` (`role=monitoring`) come first. Workloads carry
//! `app` (unique within the namespace), `tier` (frontend/backend/db/worker),
//! `team`, `version` (plus a unique `id` with `unique_labels`) and named
//! container ports (`http` 8080, `grpc` 9000, `metrics` 9090, db ports).
//! Every namespace (except ~15% flat ones) gets policies from a fixed
//! catalogue, so connectivity is shared by tier and team, not per workload.

use super::{CPort, Container, Gen, Ns, Plan, Wl, apportion, push_kube_system};
use crate::Shape;
use crate::node::{Node, empty, int, obj, q, s};
use crate::rng::Rng;

/// Team names; the first ones are the most popular cross-team partners.
pub(super) const TEAMS: &[&str] = &[
    "platform",
    "identity",
    "payments",
    "data",
    "search",
    "checkout",
    "catalog",
    "orders",
    "billing",
    "ml",
    "mobile",
    "growth",
    "ads",
    "analytics",
    "logistics",
    "support",
    "security",
    "media",
    "messaging",
    "storage",
    "fraud",
    "risk",
    "pricing",
    "inventory",
    "shipping",
    "reporting",
    "notifications",
    "partners",
    "loyalty",
    "content",
];

const ENVS: &[(&str, u32)] = &[("prod", 40), ("staging", 30), ("dev", 30)];

const FRONTEND: &[&str] = &[
    "web",
    "storefront",
    "portal",
    "admin-ui",
    "gateway",
    "dashboard",
    "bff",
    "landing",
];

const BACKEND: &[&str] = &[
    "api",
    "orders-svc",
    "payments-svc",
    "checkout-svc",
    "cart",
    "catalog-svc",
    "search-svc",
    "inventory-svc",
    "shipping-svc",
    "billing-svc",
    "users",
    "auth",
    "pricing-svc",
    "ledger",
    "reviews",
    "recommendations",
    "profile",
    "accounts",
    "quotes",
    "invoices",
];

const WORKER: &[&str] = &[
    "worker",
    "scheduler",
    "mailer",
    "etl",
    "ingest",
    "reports",
    "thumbnailer",
    "indexer",
    "webhooks",
    "sync",
];

/// Database engines: app word (also the port name), port, image.
const DBS: &[(&str, u16, &str)] = &[
    ("postgres", 5432, "docker.io/library/postgres:16.3"),
    ("mysql", 3306, "docker.io/library/mysql:8.4"),
    ("redis", 6379, "docker.io/library/redis:7.2"),
];

const HTTP: u16 = 8080;
const GRPC: u16 = 9000;
const METRICS: u16 = 9090;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Frontend,
    Backend,
    Db,
    Worker,
}

impl Tier {
    fn name(self) -> &'static str {
        match self {
            Tier::Frontend => "frontend",
            Tier::Backend => "backend",
            Tier::Db => "db",
            Tier::Worker => "worker",
        }
    }
}

/// Realistic data of one user namespace.
pub(super) struct NsReal {
    pub(super) team: usize,
    env: &'static str,
    /// Ports of the namespace's databases, primary engine first (never empty).
    pub(super) db_ports: Vec<u16>,
    /// Frontends reach backends on the named port `grpc` instead of 8080.
    pub(super) backend_grpc: bool,
}

/// Per-namespace data of the realistic profile (parallel to `Plan::ns`).
pub(super) struct RealPlan {
    pub(super) teams: usize,
    /// Per team: the teams whose backends may call its backends.
    pub(super) partners: Vec<Vec<usize>>,
    /// `None` for kube-system, ingress-nginx and monitoring.
    pub(super) ns: Vec<Option<NsReal>>,
}

fn cport(name: &'static str, port: u16) -> CPort {
    CPort {
        name: Some(name),
        port,
        proto: "TCP",
    }
}

fn pick_env(rng: &mut Rng) -> &'static str {
    let r = rng.below(100) as u32;
    let mut acc = 0;
    ENVS.iter()
        .find(|(_, p)| {
            acc += p;
            r < acc
        })
        .map_or("prod", |(e, _)| e)
}

fn push_special(
    plan: &mut Plan,
    name: &str,
    role: &str,
    wl_name: &str,
    labels: Vec<(&'static str, String)>,
    replicas: usize,
    container: Container,
) {
    let ns = plan.ns.len();
    let start = plan.wls.len();
    plan.wls.push(Wl {
        ns,
        name: wl_name.into(),
        labels,
        replicas,
        containers: vec![container],
    });
    plan.ns.push(Ns {
        name: name.into(),
        labels: vec![
            ("kubernetes.io/metadata.name", name.into()),
            ("role", role.into()),
        ],
        policies: 0,
        wl: start..start + 1,
        team: "platform".into(),
    });
}

fn containers(rng: &mut Rng, tier: Tier, word: &str, team: &str, db: usize) -> Vec<Container> {
    let image = |rng: &mut Rng| {
        format!(
            "registry.example.com/{team}/{word}:1.{}.{}",
            rng.below(20),
            rng.below(10)
        )
    };
    let mut ports = Vec::with_capacity(3);
    match tier {
        Tier::Frontend => {
            ports.push(cport("http", HTTP));
            if rng.pct(70) {
                ports.push(cport("metrics", METRICS));
            }
        }
        Tier::Backend => {
            ports.push(cport("http", HTTP));
            if rng.pct(75) {
                ports.push(cport("grpc", GRPC));
            }
            if rng.pct(80) {
                ports.push(cport("metrics", METRICS));
            }
        }
        Tier::Worker => {
            if rng.pct(30) {
                ports.push(cport("http", HTTP));
            }
            ports.push(cport("metrics", METRICS));
        }
        Tier::Db => {
            let (engine, port, img) = DBS[db];
            let mut cs = vec![Container {
                name: engine.into(),
                image: img.into(),
                ports: vec![cport(engine, port)],
            }];
            if rng.pct(70) {
                cs.push(Container {
                    name: "exporter".into(),
                    image: format!("quay.io/prometheus-community/{engine}-exporter:v0.15.0"),
                    ports: vec![cport("metrics", METRICS)],
                });
            }
            return cs;
        }
    }
    vec![Container {
        name: word.into(),
        image: image(rng),
        ports,
    }]
}

/// Plans a realistic cluster (same counts contract as `super::build_plan`).
pub(super) fn build_plan(shape: &Shape, rng: &mut Rng) -> Plan {
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
    let (ns_left, wl_left, pods_left) = (n_ns - kube_n, wls_total - kube_n, pods - 2 * kube_n);
    // ingress-nginx and monitoring: one workload each, 2 pods (1 standalone).
    let sp = if standalone { 1 } else { 2 };
    let special = ns_left >= 3 && wl_left >= 3 && pods_left >= 2 * sp + (wl_left - 2);
    let special_n = if special { 2 } else { 0 };
    let user_ns = ns_left - special_n;
    let user_wls = wl_left - special_n;
    let user_pods = pods_left - special_n * sp;
    let teams = (user_ns / 3).clamp(1, TEAMS.len());

    let mut plan = Plan {
        ns: Vec::with_capacity(n_ns),
        wls: Vec::with_capacity(wls_total),
        ports: Vec::new(),
        teams,
        real: None,
    };
    let mut rp = RealPlan {
        teams,
        partners: Vec::with_capacity(teams),
        ns: Vec::with_capacity(n_ns),
    };
    if kube {
        push_kube_system(&mut plan);
        rp.ns.push(None);
    }
    if special {
        push_special(
            &mut plan,
            "ingress-nginx",
            "ingress",
            "ingress-nginx-controller",
            vec![
                ("app.kubernetes.io/name", "ingress-nginx".into()),
                ("app.kubernetes.io/component", "controller".into()),
            ],
            sp,
            Container {
                name: "controller".into(),
                image: "registry.k8s.io/ingress-nginx/controller:v1.10.1".into(),
                ports: vec![
                    cport("http", 80),
                    cport("https", 443),
                    cport("metrics", 10254),
                ],
            },
        );
        push_special(
            &mut plan,
            "monitoring",
            "monitoring",
            "prometheus",
            vec![("app", "prometheus".into())],
            sp,
            Container {
                name: "prometheus".into(),
                image: "quay.io/prometheus/prometheus:v2.53.0".into(),
                ports: vec![cport("web", 9090)],
            },
        );
        rp.ns.push(None);
        rp.ns.push(None);
    }

    // Which teams call which: a few partners per team, popular teams first.
    for t in 0..teams {
        let want = rng.range(2, 5).min(teams - 1);
        let mut ps: Vec<usize> = Vec::with_capacity(want);
        let mut tries = 0;
        while ps.len() < want && tries < 64 {
            tries += 1;
            let c = rng.skewed(teams);
            if c != t && !ps.contains(&c) {
                ps.push(c);
            }
        }
        rp.partners.push(ps);
    }

    let (ns_pods, ns_wls) =
        super::namespace_sizes(shape, rng, standalone, user_ns, user_pods, user_wls);

    let first_user = plan.ns.len();
    let mut flat = Vec::with_capacity(user_ns);
    let mut global = 0usize;
    for i in 0..user_ns {
        let ns_idx = plan.ns.len();
        let team = rng.below(teams);
        let tname = TEAMS[team];
        let env = pick_env(rng);
        let name = format!("{tname}-{env}-{i}");
        flat.push(rng.pct(15));
        let primary_db = rng.below(DBS.len());
        let backend_grpc = rng.pct(30);
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
        let offs = [
            rng.below(FRONTEND.len()),
            rng.below(BACKEND.len()),
            rng.below(WORKER.len()),
        ];
        let mut counts = [0usize; 4];
        let mut db_ports: Vec<u16> = vec![DBS[primary_db].1];
        for (j, reps) in replicas.into_iter().enumerate() {
            let tier = match j {
                0 => Tier::Backend,
                1 => Tier::Frontend,
                2 => Tier::Db,
                3 => Tier::Worker,
                _ => match rng.below(100) {
                    0..20 => Tier::Frontend,
                    20..65 => Tier::Backend,
                    65..75 => Tier::Db,
                    _ => Tier::Worker,
                },
            };
            let ti = tier as usize;
            let c = counts[ti];
            counts[ti] += 1;
            let (word, round, db) = match tier {
                Tier::Frontend => (
                    FRONTEND[(offs[0] + c) % FRONTEND.len()],
                    c / FRONTEND.len(),
                    0,
                ),
                Tier::Backend => (BACKEND[(offs[1] + c) % BACKEND.len()], c / BACKEND.len(), 0),
                Tier::Worker => (WORKER[(offs[2] + c) % WORKER.len()], c / WORKER.len(), 0),
                Tier::Db => {
                    let db = (primary_db + c) % DBS.len();
                    if !db_ports.contains(&DBS[db].1) {
                        db_ports.push(DBS[db].1);
                    }
                    (DBS[db].0, c / DBS.len(), db)
                }
            };
            let app = if round == 0 {
                word.to_string()
            } else {
                format!("{word}-{}", round + 1)
            };
            let version = match rng.below(100) {
                0..70 => "v1",
                70..95 => "v2",
                _ => "v3",
            };
            let containers = containers(rng, tier, word, tname, db);
            let mut labels = vec![
                ("app", app.clone()),
                ("tier", tier.name().into()),
                ("team", tname.into()),
                ("version", version.into()),
            ];
            if shape.unique_labels {
                let prefix = if standalone { "p" } else { "w" };
                labels.push(("id", format!("{prefix}{global}")));
            }
            plan.wls.push(Wl {
                ns: ns_idx,
                name: app,
                labels,
                replicas: reps,
                containers,
            });
            global += 1;
        }
        plan.ns.push(Ns {
            labels: vec![
                ("kubernetes.io/metadata.name", name.clone()),
                ("team", tname.into()),
                ("env", env.into()),
            ],
            name,
            policies: 0,
            wl: start..plan.wls.len(),
            team: tname.into(),
        });
        rp.ns.push(Some(NsReal {
            team,
            env,
            db_ports,
            backend_grpc,
        }));
    }

    // Policy budget: none in flat or empty namespaces, otherwise roughly by size.
    let avg = (user_pods as f64 / user_ns.max(1) as f64).max(1.0);
    let pw: Vec<f64> = (0..user_ns)
        .map(|i| {
            if flat[i] || ns_pods[i] == 0 {
                0.0
            } else {
                0.5 + ns_pods[i] as f64 / avg
            }
        })
        .collect();
    for (ns, p) in plan.ns[first_user..]
        .iter_mut()
        .zip(apportion(shape.policies, &pw))
    {
        ns.policies = p;
    }
    plan.real = Some(rp);
    plan
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    DefaultDeny,
    Dns,
    SameNamespace,
    FrontendFromIngress,
    BackendFromFrontend,
    DbFromBackend,
    FrontendToBackend,
    BackendToDb,
    Metrics,
    ExternalFrontend,
    ExternalWorker,
    /// Backends of team `.0` may call our backends; `.1 > 0` adds env and a suffix.
    CrossTeam(usize, usize),
    WorkerToBackend,
    BackendFromWorker,
    SameTeam,
    App,
}

fn ml(pairs: &[(&'static str, &str)]) -> Node {
    obj(vec![(
        "matchLabels",
        obj(pairs.iter().map(|(k, v)| (*k, q(*v))).collect()),
    )])
}

fn tier(t: &str) -> Node {
    ml(&[("tier", t)])
}

fn pod_peer(sel: Node) -> Node {
    obj(vec![("podSelector", sel)])
}

fn ns_peer(sel: Node) -> Node {
    obj(vec![("namespaceSelector", sel)])
}

fn port(proto: &'static str, p: u16) -> Node {
    obj(vec![("protocol", s(proto)), ("port", int(p))])
}

fn named(name: &'static str) -> Node {
    obj(vec![("protocol", s("TCP")), ("port", s(name))])
}

fn rule(key: &'static str, peers: Vec<Node>, ports: Vec<Node>) -> Node {
    let mut e = Vec::with_capacity(2);
    if !peers.is_empty() {
        e.push((key, Node::Arr(peers)));
    }
    if !ports.is_empty() {
        e.push(("ports", Node::Arr(ports)));
    }
    obj(e)
}

fn ingress(sel: Node, rules: Vec<Node>) -> Node {
    obj(vec![
        ("podSelector", sel),
        ("policyTypes", Node::Arr(vec![s("Ingress")])),
        ("ingress", Node::Arr(rules)),
    ])
}

fn egress(sel: Node, rules: Vec<Node>) -> Node {
    obj(vec![
        ("podSelector", sel),
        ("policyTypes", Node::Arr(vec![s("Egress")])),
        ("egress", Node::Arr(rules)),
    ])
}

fn ipblock(cidr: &str, except: &[&str]) -> Node {
    let mut e = vec![("cidr", s(cidr))];
    if !except.is_empty() {
        e.push(("except", Node::Arr(except.iter().map(|c| s(*c)).collect())));
    }
    obj(vec![("ipBlock", obj(e))])
}

fn external(rng: &mut Rng, t: &str) -> Node {
    let mut peers = vec![ipblock(
        "0.0.0.0/0",
        &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
    )];
    if rng.pct(30) {
        peers.push(ipblock("::/0", &["fc00::/7"]));
    }
    egress(tier(t), vec![rule("to", peers, vec![port("TCP", 443)])])
}

impl Gen<'_> {
    /// The policies of namespace `i` (exactly `Ns::policies` of them).
    pub(super) fn real_policies(&mut self, i: usize) -> Vec<Node> {
        let budget = self.plan.ns[i].policies;
        let Some(Some(nr)) = self.plan.real.as_ref().map(|r| &r.ns[i]) else {
            return Vec::new();
        };
        if budget == 0 {
            return Vec::new();
        }
        let rp = self.plan.real.as_ref().expect("realistic plan");
        let ns = &self.plan.ns[i];
        let r = &mut self.rng;

        // ~5% app-specific policies overall, spread evenly.
        let seq = self.policy_seq;
        self.policy_seq += budget;
        let app_n = if ns.wl.is_empty() {
            0
        } else {
            ((seq + budget) * 5 / 100 - seq * 5 / 100).min(budget)
        };

        let mut items = Vec::with_capacity(budget);
        let deny = r.pct(90);
        if deny {
            items.push(Item::DefaultDeny);
        }
        if deny || r.pct(40) {
            items.push(Item::Dns);
        }
        if r.pct(85) {
            items.push(Item::FrontendFromIngress);
        }
        if r.pct(85) {
            items.extend([
                Item::BackendFromFrontend,
                Item::DbFromBackend,
                Item::FrontendToBackend,
                Item::BackendToDb,
            ]);
        }
        if r.pct(80) {
            items.push(Item::Metrics);
        }
        if r.pct(60) {
            items.push(Item::SameNamespace);
        }
        if r.pct(70) {
            items.push(Item::ExternalFrontend);
        }
        if r.pct(50) {
            items.push(Item::ExternalWorker);
        }
        items.truncate(budget - app_n);

        // Fill up: partner teams, worker rules, same team, other teams, variants.
        let fill_to = budget - app_n;
        let partners = &rp.partners[nr.team];
        let ring: Vec<usize> = if rp.teams > 1 {
            (1..rp.teams).map(|d| (nr.team + d) % rp.teams).collect()
        } else {
            vec![nr.team]
        };
        let mut fillers = partners
            .iter()
            .map(|&t| Item::CrossTeam(t, 0))
            .chain([
                Item::WorkerToBackend,
                Item::BackendFromWorker,
                Item::SameTeam,
            ])
            .chain(
                ring.iter()
                    .filter(|t| !partners.contains(t) && **t != nr.team)
                    .map(|&t| Item::CrossTeam(t, 0)),
            )
            .chain((1..).flat_map(|v| ring.iter().map(move |&t| Item::CrossTeam(t, v))));
        while items.len() < fill_to {
            items.push(fillers.next().expect("endless fillers"));
        }
        items.extend(std::iter::repeat_n(Item::App, app_n));

        let team = TEAMS[nr.team];
        let backend_port = || {
            if nr.backend_grpc {
                named("grpc")
            } else {
                port("TCP", HTTP)
            }
        };
        let db_ports = || nr.db_ports.iter().map(|&p| port("TCP", p)).collect();
        let mut out = Vec::with_capacity(budget);
        for (j, item) in items.into_iter().enumerate() {
            let (name, spec) = match item {
                Item::DefaultDeny => (
                    "default-deny".to_string(),
                    obj(vec![
                        ("podSelector", empty()),
                        ("policyTypes", Node::Arr(vec![s("Ingress"), s("Egress")])),
                    ]),
                ),
                Item::Dns => (
                    "allow-dns".into(),
                    egress(
                        empty(),
                        vec![rule(
                            "to",
                            vec![obj(vec![
                                (
                                    "namespaceSelector",
                                    ml(&[("kubernetes.io/metadata.name", "kube-system")]),
                                ),
                                ("podSelector", ml(&[("k8s-app", "kube-dns")])),
                            ])],
                            vec![port("UDP", 53), port("TCP", 53)],
                        )],
                    ),
                ),
                Item::SameNamespace => (
                    "allow-same-namespace".into(),
                    ingress(empty(), vec![rule("from", vec![pod_peer(empty())], vec![])]),
                ),
                Item::FrontendFromIngress => (
                    "frontend-allow-ingress-nginx".into(),
                    ingress(
                        tier("frontend"),
                        vec![rule(
                            "from",
                            vec![ns_peer(ml(&[("role", "ingress")]))],
                            vec![named("http")],
                        )],
                    ),
                ),
                Item::BackendFromFrontend => (
                    "backend-allow-frontend".into(),
                    ingress(
                        tier("backend"),
                        vec![rule(
                            "from",
                            vec![pod_peer(tier("frontend"))],
                            vec![backend_port()],
                        )],
                    ),
                ),
                Item::DbFromBackend => (
                    "db-allow-backend".into(),
                    ingress(
                        tier("db"),
                        vec![rule("from", vec![pod_peer(tier("backend"))], db_ports())],
                    ),
                ),
                Item::FrontendToBackend => (
                    "frontend-egress-backend".into(),
                    egress(
                        tier("frontend"),
                        vec![rule(
                            "to",
                            vec![pod_peer(tier("backend"))],
                            vec![backend_port()],
                        )],
                    ),
                ),
                Item::BackendToDb => (
                    "backend-egress-db".into(),
                    egress(
                        tier("backend"),
                        vec![rule("to", vec![pod_peer(tier("db"))], db_ports())],
                    ),
                ),
                Item::Metrics => (
                    "allow-monitoring".into(),
                    ingress(
                        empty(),
                        vec![rule(
                            "from",
                            vec![ns_peer(ml(&[("role", "monitoring")]))],
                            vec![named("metrics")],
                        )],
                    ),
                ),
                Item::ExternalFrontend => {
                    ("frontend-egress-external".into(), external(r, "frontend"))
                }
                Item::ExternalWorker => ("worker-egress-external".into(), external(r, "worker")),
                Item::CrossTeam(t, v) => {
                    let other = TEAMS[t];
                    let (name, nsel) = if v == 0 {
                        (format!("backend-allow-{other}"), ml(&[("team", other)]))
                    } else {
                        (
                            format!("backend-allow-{other}-{v}"),
                            ml(&[("team", other), ("env", nr.env)]),
                        )
                    };
                    let peer = obj(vec![
                        ("namespaceSelector", nsel),
                        ("podSelector", tier("backend")),
                    ]);
                    (
                        name,
                        ingress(
                            tier("backend"),
                            vec![rule("from", vec![peer], vec![named("grpc")])],
                        ),
                    )
                }
                Item::WorkerToBackend => (
                    "worker-egress-backend".into(),
                    egress(
                        tier("worker"),
                        vec![rule(
                            "to",
                            vec![pod_peer(tier("backend"))],
                            vec![backend_port()],
                        )],
                    ),
                ),
                Item::BackendFromWorker => (
                    "backend-allow-worker".into(),
                    ingress(
                        tier("backend"),
                        vec![rule(
                            "from",
                            vec![pod_peer(tier("worker"))],
                            vec![backend_port()],
                        )],
                    ),
                ),
                Item::SameTeam => (
                    format!("allow-team-{team}"),
                    ingress(
                        empty(),
                        vec![rule(
                            "from",
                            vec![ns_peer(ml(&[("team", team)]))],
                            vec![named("http")],
                        )],
                    ),
                ),
                Item::App => {
                    let w = &self.plan.wls[ns.wl.start + r.below(ns.wl.len())];
                    let app = w.label("app").unwrap_or(w.name.as_str());
                    let sel = ml(&[("app", app)]);
                    let spec = match r.below(100) {
                        0..40 => {
                            let lo = *r.pick(&[7000u16, 8000, 8100, 30000]);
                            let hi = lo + r.range(1, 99) as u16;
                            let p = obj(vec![
                                ("protocol", s("TCP")),
                                ("port", int(lo)),
                                ("endPort", int(hi)),
                            ]);
                            ingress(sel, vec![rule("from", vec![pod_peer(empty())], vec![p])])
                        }
                        40..75 => {
                            let p = *r.pick(&[8443u16, 50051, 8081, 3000, 5000]);
                            ingress(
                                sel,
                                vec![rule(
                                    "from",
                                    vec![ns_peer(ml(&[("team", team)]))],
                                    vec![port("TCP", p)],
                                )],
                            )
                        }
                        _ => {
                            let cidr = format!("10.{}.{}.0/24", r.below(256), r.below(256));
                            let p = if r.pct(50) {
                                let lo = *r.pick(&[9092u16, 5672, 4222]);
                                obj(vec![
                                    ("protocol", s("TCP")),
                                    ("port", int(lo)),
                                    ("endPort", int(lo + r.range(1, 9) as u16)),
                                ])
                            } else {
                                port("TCP", *r.pick(&[9200u16, 11211, 2379, 27017]))
                            };
                            egress(sel, vec![rule("to", vec![ipblock(&cidr, &[])], vec![p])])
                        }
                    };
                    (format!("{app}-custom-{j}"), spec)
                }
            };
            out.push(obj(vec![
                ("apiVersion", s("networking.k8s.io/v1")),
                ("kind", s("NetworkPolicy")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s(name)),
                        ("namespace", s(ns.name.as_str())),
                        ("uid", s(r.uuid())),
                        ("labels", obj(vec![("team", q(ns.team.as_str()))])),
                    ]),
                ),
                ("spec", spec),
            ]));
        }
        out
    }
}
