//! The two fixed clusters: upstream-e2e style (B0) and a microservice demo (B1).

use std::io::{self, Write};

use crate::node::{Node, empty, int, obj, q, s};
use crate::rng::{Rng, mix};
use crate::{Kind, Sink};

fn arr(v: Vec<Node>) -> Node {
    Node::Arr(v)
}

fn ml(pairs: &[(&'static str, &str)]) -> Node {
    obj(vec![(
        "matchLabels",
        obj(pairs.iter().map(|(k, v)| (*k, q(*v))).collect()),
    )])
}

fn me(key: &'static str, op: &'static str, values: &[&str]) -> Node {
    let mut e = vec![("key", s(key)), ("operator", s(op))];
    if !values.is_empty() {
        e.push(("values", arr(values.iter().map(|v| q(*v)).collect())));
    }
    obj(vec![("matchExpressions", arr(vec![obj(e)]))])
}

fn port(proto: Option<&str>, p: Node, end: Option<i64>) -> Node {
    let mut e = Vec::new();
    if let Some(pr) = proto {
        e.push(("protocol", s(pr)));
    }
    e.push(("port", p));
    if let Some(end) = end {
        e.push(("endPort", int(end)));
    }
    obj(e)
}

fn namespace(rng: &mut Rng, name: &str, extra: &[(&'static str, &str)]) -> Node {
    let mut labels = vec![("kubernetes.io/metadata.name", q(name))];
    labels.extend(extra.iter().map(|(k, v)| (*k, q(*v))));
    obj(vec![
        ("apiVersion", s("v1")),
        ("kind", s("Namespace")),
        (
            "metadata",
            obj(vec![
                ("name", s(name)),
                ("uid", s(rng.uuid())),
                ("labels", obj(labels)),
            ]),
        ),
    ])
}

fn policy(rng: &mut Rng, ns: &str, name: &str, spec: Vec<(&'static str, Node)>) -> Node {
    obj(vec![
        ("apiVersion", s("networking.k8s.io/v1")),
        ("kind", s("NetworkPolicy")),
        (
            "metadata",
            obj(vec![
                ("name", s(name)),
                ("namespace", s(ns)),
                ("uid", s(rng.uuid())),
            ]),
        ),
        ("spec", obj(spec)),
    ])
}

fn cport(name: &str, p: i64, proto: &str) -> Node {
    obj(vec![
        ("name", s(name)),
        ("containerPort", int(p)),
        ("protocol", s(proto)),
    ])
}

/// B0: namespaces x, y, z, each with standalone pods a, b, c (label `pod`),
/// containers serving 80/81 over TCP/UDP/SCTP like the upstream netpol e2e.
pub(crate) fn e2e<W: Write>(seed: u64, sink: &mut Sink<W>) -> io::Result<()> {
    let mut rng = Rng::new(mix(seed, 3));
    let nss = ["x", "y", "z"];
    for ns in nss {
        let n = namespace(&mut rng, ns, &[("ns", ns)]);
        sink.emit(Kind::Namespace, &n)?;
    }
    for (ni, ns) in nss.iter().enumerate() {
        for (pi, pod) in ["a", "b", "c"].iter().enumerate() {
            let mut containers = Vec::new();
            for p in [80, 81] {
                for proto in ["TCP", "UDP", "SCTP"] {
                    let lp = proto.to_ascii_lowercase();
                    containers.push(obj(vec![
                        ("name", s(format!("cont-{p}-{lp}"))),
                        ("image", s("registry.k8s.io/e2e-test-images/agnhost:2.47")),
                        (
                            "ports",
                            arr(vec![cport(&format!("serve-{p}-{lp}"), p, proto)]),
                        ),
                    ]));
                }
            }
            let ip = format!("10.0.{}.{}", ni + 1, pi + 10);
            let n = obj(vec![
                ("apiVersion", s("v1")),
                ("kind", s("Pod")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s(*pod)),
                        ("namespace", s(*ns)),
                        ("uid", s(rng.uuid())),
                        ("labels", obj(vec![("pod", q(*pod))])),
                    ]),
                ),
                ("spec", obj(vec![("containers", arr(containers))])),
                (
                    "status",
                    obj(vec![("phase", s("Running")), ("podIP", s(ip))]),
                ),
            ]);
            sink.emit(Kind::Pod, &n)?;
        }
    }
    let pols = vec![
        policy(
            &mut rng,
            "x",
            "deny-all-ingress",
            vec![
                ("podSelector", empty()),
                ("policyTypes", arr(vec![s("Ingress")])),
            ],
        ),
        policy(
            &mut rng,
            "x",
            "allow-y-to-a",
            vec![
                ("podSelector", ml(&[("pod", "a")])),
                (
                    "ingress",
                    arr(vec![obj(vec![
                        (
                            "from",
                            arr(vec![obj(vec![("namespaceSelector", ml(&[("ns", "y")]))])]),
                        ),
                        ("ports", arr(vec![port(Some("TCP"), int(80), None)])),
                    ])]),
                ),
            ],
        ),
        policy(
            &mut rng,
            "y",
            "deny-all-egress",
            vec![
                ("podSelector", empty()),
                ("policyTypes", arr(vec![s("Egress")])),
                ("egress", arr(vec![])),
            ],
        ),
        policy(
            &mut rng,
            "y",
            "allow-egress-not-x",
            vec![
                ("podSelector", me("pod", "In", &["a", "b"])),
                ("policyTypes", arr(vec![s("Egress")])),
                (
                    "egress",
                    arr(vec![
                        obj(vec![
                            (
                                "to",
                                arr(vec![obj(vec![
                                    ("namespaceSelector", me("ns", "NotIn", &["x"])),
                                    ("podSelector", me("pod", "Exists", &[])),
                                ])]),
                            ),
                            (
                                "ports",
                                arr(vec![
                                    port(Some("UDP"), int(81), None),
                                    port(None, int(80), Some(81)),
                                ]),
                            ),
                        ]),
                        obj(vec![("ports", arr(vec![port(Some("UDP"), int(53), None)]))]),
                    ]),
                ),
            ],
        ),
        policy(
            &mut rng,
            "z",
            "allow-named-ports-to-c",
            vec![
                ("podSelector", ml(&[("pod", "c")])),
                ("policyTypes", arr(vec![s("Ingress"), s("Egress")])),
                (
                    "ingress",
                    arr(vec![obj(vec![
                        (
                            "from",
                            arr(vec![
                                obj(vec![
                                    ("namespaceSelector", empty()),
                                    ("podSelector", ml(&[("pod", "b")])),
                                ]),
                                obj(vec![(
                                    "ipBlock",
                                    obj(vec![
                                        ("cidr", s("10.0.0.0/16")),
                                        ("except", arr(vec![s("10.0.1.0/24")])),
                                    ]),
                                )]),
                            ]),
                        ),
                        (
                            "ports",
                            arr(vec![
                                port(None, s("serve-80-tcp"), None),
                                port(Some("SCTP"), s("serve-81-sctp"), None),
                            ]),
                        ),
                    ])]),
                ),
                ("egress", arr(vec![empty()])),
            ],
        ),
    ];
    for p in &pols {
        sink.emit(Kind::Policy, p)?;
    }
    Ok(())
}

/// Named container ports `(name, port)`.
type Ports = &'static [(&'static str, i64)];

/// (app, tier, container ports)
const DEMO: &[(&str, &str, Ports)] = &[
    ("frontend", "frontend", &[("http", 8080)]),
    ("cartservice", "backend", &[("grpc", 7070)]),
    ("productcatalogservice", "backend", &[("grpc", 3550)]),
    ("currencyservice", "backend", &[("grpc", 7000)]),
    ("paymentservice", "backend", &[("grpc", 50051)]),
    ("shippingservice", "backend", &[("grpc", 50051)]),
    ("emailservice", "backend", &[("grpc", 8080)]),
    ("checkoutservice", "backend", &[("grpc", 5050)]),
    ("recommendationservice", "backend", &[("grpc", 8080)]),
    ("adservice", "backend", &[("grpc", 9555)]),
    ("redis-cart", "cache", &[("redis", 6379)]),
    ("loadgenerator", "tools", &[]),
    ("shoppingassistantservice", "backend", &[("http", 80)]),
    (
        "otel-collector",
        "observability",
        &[("otlp-grpc", 4317), ("otlp-http", 4318), ("metrics", 8888)],
    ),
    ("jaeger", "observability", &[("ui", 16686), ("grpc", 14250)]),
];

/// B1: online-boutique-like demo, 15 single-replica Deployments, 11 policies.
pub(crate) fn demo<W: Write>(seed: u64, sink: &mut Sink<W>) -> io::Result<()> {
    let mut rng = Rng::new(mix(seed, 4));
    const NS: &str = "boutique";
    let n = namespace(&mut rng, NS, &[("team", "shop"), ("env", "prod")]);
    sink.emit(Kind::Namespace, &n)?;
    for (i, (app, tier, ports)) in DEMO.iter().enumerate() {
        let labels = obj(vec![
            ("app", q(*app)),
            ("tier", q(*tier)),
            ("team", q("shop")),
            ("version", q("v1")),
        ]);
        let mut c = vec![
            ("name", s("server")),
            (
                "image",
                s(format!("registry.example.com/boutique/{app}:v0.10.0")),
            ),
        ];
        if !ports.is_empty() {
            c.push((
                "ports",
                arr(ports.iter().map(|(n, p)| cport(n, *p, "TCP")).collect()),
            ));
        }
        let containers = arr(vec![obj(c)]);
        let template = obj(vec![
            ("metadata", obj(vec![("labels", labels.clone())])),
            ("spec", obj(vec![("containers", containers.clone())])),
        ]);
        let sel = obj(vec![("matchLabels", obj(vec![("app", q(*app))]))]);
        let dep_uid = rng.uuid();
        let rs_uid = rng.uuid();
        let hash = rng.k8s_suffix(10);
        let rs_name = format!("{app}-{hash}");
        let owner = |kind: &str, name: &str, uid: &str| {
            arr(vec![obj(vec![
                ("apiVersion", s("apps/v1")),
                ("kind", s(kind)),
                ("name", s(name)),
                ("uid", s(uid)),
                ("controller", Node::Bool(true)),
                ("blockOwnerDeletion", Node::Bool(true)),
            ])])
        };
        let meta = |name: &str, uid: &str, owner: Option<Node>| {
            let mut m = vec![
                ("name", s(name)),
                ("namespace", s(NS)),
                ("uid", s(uid)),
                ("labels", labels.clone()),
            ];
            if let Some(o) = owner {
                m.push(("ownerReferences", o));
            }
            obj(m)
        };
        let spec = || {
            obj(vec![
                ("replicas", int(1)),
                ("selector", sel.clone()),
                ("template", template.clone()),
            ])
        };
        let dep = obj(vec![
            ("apiVersion", s("apps/v1")),
            ("kind", s("Deployment")),
            ("metadata", meta(app, &dep_uid, None)),
            ("spec", spec()),
        ]);
        sink.emit(Kind::Deployment, &dep)?;
        let rs = obj(vec![
            ("apiVersion", s("apps/v1")),
            ("kind", s("ReplicaSet")),
            (
                "metadata",
                meta(&rs_name, &rs_uid, Some(owner("Deployment", app, &dep_uid))),
            ),
            ("spec", spec()),
        ]);
        sink.emit(Kind::ReplicaSet, &rs)?;
        let pod_name = format!("{rs_name}-{}", rng.k8s_suffix(5));
        let pod_uid = rng.uuid();
        let pod = obj(vec![
            ("apiVersion", s("v1")),
            ("kind", s("Pod")),
            (
                "metadata",
                meta(
                    &pod_name,
                    &pod_uid,
                    Some(owner("ReplicaSet", &rs_name, &rs_uid)),
                ),
            ),
            ("spec", obj(vec![("containers", containers)])),
            (
                "status",
                obj(vec![
                    ("phase", s("Running")),
                    ("podIP", s(format!("10.4.0.{}", i + 10))),
                ]),
            ),
        ]);
        sink.emit(Kind::Pod, &pod)?;
    }

    let from_apps = |apps: &[&str]| {
        if apps.len() == 1 {
            obj(vec![("podSelector", ml(&[("app", apps[0])]))])
        } else {
            obj(vec![("podSelector", me("app", "In", apps))])
        }
    };
    let tcp = |p: i64| port(Some("TCP"), int(p), None);
    let ingress_from = |apps: &[&str], ports: Vec<Node>| {
        (
            "ingress",
            arr(vec![obj(vec![
                ("from", arr(vec![from_apps(apps)])),
                ("ports", arr(ports)),
            ])]),
        )
    };
    let egress_to = |apps: &[&str], ports: Option<Vec<Node>>| {
        let mut r = vec![("to", arr(vec![from_apps(apps)]))];
        if let Some(p) = ports {
            r.push(("ports", arr(p)));
        }
        ("egress", arr(vec![obj(r)]))
    };
    let app_sel = |a: &str| ("podSelector", ml(&[("app", a)]));
    let both = || ("policyTypes", arr(vec![s("Ingress"), s("Egress")]));
    let specs: Vec<(&str, Vec<(&'static str, Node)>)> = vec![
        ("default-deny-all", vec![("podSelector", empty()), both()]),
        (
            "allow-dns-egress",
            vec![
                ("podSelector", empty()),
                ("policyTypes", arr(vec![s("Egress")])),
                (
                    "egress",
                    arr(vec![obj(vec![
                        (
                            "to",
                            arr(vec![obj(vec![
                                (
                                    "namespaceSelector",
                                    ml(&[("kubernetes.io/metadata.name", "kube-system")]),
                                ),
                                ("podSelector", ml(&[("k8s-app", "kube-dns")])),
                            ])]),
                        ),
                        (
                            "ports",
                            arr(vec![
                                port(Some("UDP"), int(53), None),
                                port(Some("TCP"), int(53), None),
                            ]),
                        ),
                    ])]),
                ),
            ],
        ),
        (
            "frontend",
            vec![
                app_sel("frontend"),
                both(),
                (
                    "ingress",
                    arr(vec![obj(vec![("ports", arr(vec![tcp(8080)]))])]),
                ),
                egress_to(
                    &[
                        "adservice",
                        "cartservice",
                        "checkoutservice",
                        "currencyservice",
                        "productcatalogservice",
                        "recommendationservice",
                        "shippingservice",
                        "shoppingassistantservice",
                    ],
                    None,
                ),
            ],
        ),
        (
            "cartservice",
            vec![
                app_sel("cartservice"),
                both(),
                ingress_from(&["frontend", "checkoutservice"], vec![tcp(7070)]),
                egress_to(&["redis-cart"], Some(vec![tcp(6379)])),
            ],
        ),
        (
            "redis-cart",
            vec![
                app_sel("redis-cart"),
                ingress_from(&["cartservice"], vec![port(None, s("redis"), None)]),
            ],
        ),
        (
            "productcatalogservice",
            vec![
                app_sel("productcatalogservice"),
                ingress_from(
                    &["frontend", "checkoutservice", "recommendationservice"],
                    vec![tcp(3550)],
                ),
            ],
        ),
        (
            "checkoutservice",
            vec![
                app_sel("checkoutservice"),
                both(),
                ingress_from(&["frontend"], vec![tcp(5050)]),
                egress_to(
                    &[
                        "cartservice",
                        "productcatalogservice",
                        "currencyservice",
                        "shippingservice",
                        "emailservice",
                        "paymentservice",
                    ],
                    None,
                ),
            ],
        ),
        (
            "grpc-leaf-services",
            vec![
                (
                    "podSelector",
                    me(
                        "app",
                        "In",
                        &[
                            "currencyservice",
                            "paymentservice",
                            "shippingservice",
                            "emailservice",
                            "adservice",
                        ],
                    ),
                ),
                ("policyTypes", arr(vec![s("Ingress")])),
                ingress_from(
                    &["frontend", "checkoutservice"],
                    vec![port(None, s("grpc"), None)],
                ),
            ],
        ),
        (
            "recommendationservice",
            vec![
                app_sel("recommendationservice"),
                both(),
                ingress_from(&["frontend"], vec![tcp(8080)]),
                egress_to(&["productcatalogservice"], Some(vec![tcp(3550)])),
            ],
        ),
        (
            "loadgenerator",
            vec![
                app_sel("loadgenerator"),
                ("policyTypes", arr(vec![s("Egress")])),
                egress_to(&["frontend"], Some(vec![tcp(8080)])),
            ],
        ),
        (
            "observability",
            vec![
                ("podSelector", me("tier", "In", &["observability"])),
                ("policyTypes", arr(vec![s("Ingress")])),
                (
                    "ingress",
                    arr(vec![
                        obj(vec![
                            ("from", arr(vec![obj(vec![("podSelector", empty())])])),
                            (
                                "ports",
                                arr(vec![port(None, int(4317), Some(4318)), tcp(14250)]),
                            ),
                        ]),
                        obj(vec![
                            (
                                "from",
                                arr(vec![obj(vec![(
                                    "ipBlock",
                                    obj(vec![
                                        ("cidr", s("10.0.0.0/8")),
                                        ("except", arr(vec![s("10.96.0.0/12")])),
                                    ]),
                                )])]),
                            ),
                            ("ports", arr(vec![port(None, s("ui"), None)])),
                        ]),
                    ]),
                ),
            ],
        ),
    ];
    for (name, spec) in specs {
        let p = policy(&mut rng, NS, name, spec);
        sink.emit(Kind::Policy, &p)?;
    }
    Ok(())
}
