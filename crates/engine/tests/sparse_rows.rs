//! Rows of sources whose egress is open toward few nodes are found from those nodes
//! alone (`compact`'s first pass). The cases need many nodes, more than the random
//! clusters of the property tests have, so they are built here by hand.

use kubeseg_engine::compact::compact;
use kubeseg_engine::{Engine, Options};
use kubeseg_model::{
    Cluster, ContainerPort, Labels, Namespace, NetworkPolicy, Peer, PeerKind, Pod, PortMatch,
    PortRule, PortSet, Protocol, Rule, Selector, Workload,
};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(name: &str, app: &str, ip: &str, http: Option<u16>) -> Pod {
    Pod {
        name: name.to_string(),
        labels: labels(&[("app", app)]),
        ports: http
            .map(|port| ContainerPort {
                name: Some("http".to_string()),
                port,
                protocol: Protocol::Tcp,
            })
            .into_iter()
            .collect(),
        ips: vec![ip.parse().unwrap()],
        host_network: false,
        host_port: false,
        images: Vec::new(),
        service_account: None,
        inject_annotation: None,
        location: None,
    }
}

fn workload(name: &str, pods: Vec<Pod>) -> Workload {
    Workload {
        namespace: "prod".to_string(),
        name: name.to_string(),
        kind: "Deployment".to_string(),
        pods,
        location: None,
    }
}

fn app(app: &str) -> Selector {
    Selector {
        match_labels: vec![("app".to_string(), app.to_string())],
        match_expressions: Vec::new(),
    }
}

/// `web` may send only to `db` on its named port `http`, which `db`'s two pods map to
/// 80 and 8080; forty other workloads make `web`'s egress open toward few nodes.
fn cluster() -> Cluster {
    let mut workloads = vec![
        workload(
            "db",
            vec![
                pod("db-1", "db", "10.0.0.2", Some(80)),
                pod("db-2", "db", "10.0.0.3", Some(8080)),
            ],
        ),
        workload("web", vec![pod("web-1", "web", "10.0.0.1", None)]),
    ];
    for i in 0..40 {
        let name = format!("filler{i}");
        let ip = format!("10.0.1.{i}");
        workloads.push(workload(&name, vec![pod(&name, &name, &ip, Some(80))]));
    }
    workloads.sort_by_cached_key(Workload::id);
    Cluster {
        namespaces: vec![Namespace {
            name: "prod".to_string(),
            labels: labels(&[("kubernetes.io/metadata.name", "prod")]),
            location: None,
        }],
        workloads,
        policies: vec![NetworkPolicy {
            namespace: "prod".to_string(),
            name: "web-egress".to_string(),
            location: None,
            pod_selector: app("web"),
            isolates_ingress: false,
            isolates_egress: true,
            policy_types_explicit: true,
            ingress: Vec::new(),
            egress: vec![Rule {
                location: None,
                peers: Some(vec![Peer {
                    location: None,
                    kind: PeerKind::Pods {
                        namespaces: None,
                        pods: Some(app("db")),
                    },
                }]),
                ports: Some(vec![PortRule {
                    protocol: Protocol::Tcp,
                    port: PortMatch::Named("http".to_string()),
                }]),
            }],
        }],
        ..Cluster::default()
    }
}

#[test]
fn a_destination_workload_gets_the_union_over_its_pods() {
    let cluster = cluster();
    let mut engine = Engine::new(&cluster, Options::default());
    let n = engine.endpoints().len();
    let id = |engine: &Engine, name: &str| {
        (0..n)
            .find(|&e| engine.endpoint_id(e) == name)
            .unwrap_or_else(|| panic!("no endpoint {name}"))
    };
    let (web, db) = (
        id(&engine, "prod/web[Deployment]"),
        id(&engine, "prod/db[Deployment]"),
    );
    let all: Vec<usize> = (0..n).collect();
    let grouped = compact(&mut engine, &all, &all).expect("no collision");
    let from_web: Vec<(usize, &PortSet)> = grouped
        .edges
        .iter()
        .filter(|(a, _, _)| grouped.groups[*a].contains(&web))
        .flat_map(|(_, b, ports)| grouped.groups[*b].iter().map(move |&d| (d, ports)))
        .collect();
    // By hand: `http` is 80 on db-1 and 8080 on db-2, so web reaches db on both, and
    // nothing else (the policy isolates its egress).
    let want =
        PortSet::range(Protocol::Tcp, 80, 80).union(&PortSet::range(Protocol::Tcp, 8080, 8080));
    assert_eq!(from_web, vec![(db, &want)]);
    assert_eq!(engine.pair(web, db), want);
}

/// Toward a few destinations, a row is read at their nodes only: the ingress side
/// there, narrowed by the source's egress rules. `db` admits `client` and `web` on its
/// named port `http` (80 on one pod, 8080 on the other) and no one else; `client` has
/// no egress rule, `web` may send to `db` on `http`. The sources ask for `db`'s column
/// alone.
#[test]
fn a_column_is_read_at_its_nodes_through_ingress_and_egress_rules() {
    let mut cluster = cluster();
    cluster.workloads.push(workload(
        "client",
        vec![pod("client-1", "client", "10.0.2.1", None)],
    ));
    cluster.workloads.sort_by_cached_key(Workload::id);
    cluster.policies.push(NetworkPolicy {
        namespace: "prod".to_string(),
        name: "db-ingress".to_string(),
        location: None,
        pod_selector: app("db"),
        isolates_ingress: true,
        isolates_egress: false,
        policy_types_explicit: true,
        ingress: vec![Rule {
            location: None,
            peers: Some(
                ["client", "web"]
                    .iter()
                    .map(|name| Peer {
                        location: None,
                        kind: PeerKind::Pods {
                            namespaces: None,
                            pods: Some(app(name)),
                        },
                    })
                    .collect(),
            ),
            ports: Some(vec![PortRule {
                protocol: Protocol::Tcp,
                port: PortMatch::Named("http".to_string()),
            }]),
        }],
        egress: Vec::new(),
    });
    let mut engine = Engine::new(&cluster, Options::default());
    let n = engine.endpoints().len();
    let id = |name: &str| (0..n).find(|&e| engine.endpoint_id(e) == name).unwrap();
    let (db, client, web) = (
        id("prod/db[Deployment]"),
        id("prod/client[Deployment]"),
        id("prod/web[Deployment]"),
    );
    let all: Vec<usize> = (0..n).collect();
    let mut cells = Vec::new();
    engine.reach.par_sparse_rows(&all, &[db], |src, row| {
        cells.extend(row.iter().map(|&(j, p)| (src, j, p)));
    });
    let got: Vec<(usize, PortSet)> = cells
        .iter()
        .map(|&(src, j, p)| {
            assert_eq!(j, 0);
            (src, engine.port_set(p).clone())
        })
        .collect();
    // By hand: `client` and `web` are admitted, each on 80 (db-1) and 8080 (db-2);
    // `web`'s egress rule names the same port.
    let want =
        PortSet::range(Protocol::Tcp, 80, 80).union(&PortSet::range(Protocol::Tcp, 8080, 8080));
    let mut expected = vec![(client, want.clone()), (web, want.clone())];
    expected.sort_by_key(|(e, _)| *e);
    let mut got = got;
    got.sort_by_key(|(e, _)| *e);
    assert_eq!(got, expected);
    assert_eq!(engine.pair(client, db), want);
    assert_eq!(engine.pair(web, db), want);
}
