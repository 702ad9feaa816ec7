//! The audit's rows kept across a change (`Rows::compute_since`) are the rows computed
//! afresh: random clusters of pods and NetworkPolicies (TCP and UDP ports, an ipBlock
//! that splits the outside addresses) take one random change of a pod or a policy,
//! with the workloads it touches found as `kubeseg watch` finds them.

use kubeseg_analyses::rows::{Earlier, Rows, TargetGroup, Targets};
use kubeseg_engine::{Engine, Options};
use kubeseg_sources::{Loaded, load_str};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const NAMESPACES: [&str; 2] = ["a", "b"];
const APPS: [&str; 3] = ["web", "db", "x"];

#[derive(Clone, Debug, PartialEq)]
struct Pod {
    ns: usize,
    app: usize,
    udp: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct Policy {
    ns: usize,
    app: usize,
    /// The app its ingress admits, or every pod of the other namespace.
    from: Option<usize>,
    udp: bool,
    egress: bool,
}

/// Pods and policies by name.
#[derive(Clone, Debug, Default)]
struct State {
    pods: BTreeMap<usize, Pod>,
    policies: BTreeMap<usize, Policy>,
}

fn pod() -> impl Strategy<Value = Pod> {
    (0..2usize, 0..3usize, any::<bool>()).prop_map(|(ns, app, udp)| Pod { ns, app, udp })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        0..2usize,
        0..3usize,
        proptest::option::of(0..3usize),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(ns, app, from, udp, egress)| Policy {
            ns,
            app,
            from,
            udp,
            egress,
        })
}

/// A change: a pod (or policy) of a name set or removed.
#[derive(Clone, Debug)]
enum Change {
    Pod(usize, Option<Pod>),
    Policy(usize, Option<Policy>),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..8usize, proptest::option::of(pod())).prop_map(|(n, p)| Change::Pod(n, p)),
        (0..4usize, proptest::option::of(policy())).prop_map(|(n, p)| Change::Policy(n, p)),
    ]
}

fn state() -> impl Strategy<Value = State> {
    (
        prop::collection::btree_map(0..8usize, pod(), 1..8),
        prop::collection::btree_map(0..4usize, policy(), 0..4),
    )
        .prop_map(|(pods, policies)| State { pods, policies })
}

/// The cluster as JSON documents, with a fixed policy whose ipBlock splits the outside.
fn text(s: &State) -> String {
    let mut docs = Vec::new();
    for ns in NAMESPACES {
        docs.push(format!(
            r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}","labels":{{"team":"{ns}"}}}}}}"#
        ));
    }
    for (n, p) in &s.pods {
        let udp = if p.udp {
            r#",{"containerPort":53,"protocol":"UDP"}"#
        } else {
            ""
        };
        docs.push(format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{n}","namespace":"{}","labels":{{"app":"{}"}}}},"spec":{{"containers":[{{"name":"c","image":"i","ports":[{{"containerPort":80}}{udp}]}}]}},"status":{{"podIP":"10.0.0.{}"}}}}"#,
            NAMESPACES[p.ns],
            APPS[p.app],
            n + 1
        ));
    }
    for (n, p) in &s.policies {
        let from = match p.from {
            Some(app) => format!(
                r#"{{"podSelector":{{"matchLabels":{{"app":"{}"}}}}}}"#,
                APPS[app]
            ),
            None => format!(
                r#"{{"namespaceSelector":{{"matchLabels":{{"team":"{}"}}}}}}"#,
                NAMESPACES[1 - p.ns]
            ),
        };
        let port = if p.udp {
            r#"{"protocol":"UDP","port":53}"#
        } else {
            r#"{"port":80}"#
        };
        let egress = if p.egress {
            r#","egress":[{"ports":[{"protocol":"UDP","port":53}]}],"policyTypes":["Ingress","Egress"]"#
        } else {
            ""
        };
        docs.push(format!(
            r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"np{n}","namespace":"{}"}},"spec":{{"podSelector":{{"matchLabels":{{"app":"{}"}}}},"ingress":[{{"from":[{from}],"ports":[{port}]}}]{egress}}}}}"#,
            NAMESPACES[p.ns],
            APPS[p.app]
        ));
    }
    docs.push(r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"outside","namespace":"b"},"spec":{"podSelector":{"matchLabels":{"app":"none"}},"ingress":[{"from":[{"ipBlock":{"cidr":"192.0.2.0/24"}}]}]}}"#.into());
    format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        docs.join(",")
    )
}

/// The ids of the workloads a change touches, as `kubeseg watch` finds them: a changed
/// pod's workload, and the workloads a changed policy selects before and after.
fn touched(before: &State, after: &State, change: &Change) -> BTreeSet<String> {
    let id = |n: usize, p: &Pod| format!("{}/p{n}[Pod]", NAMESPACES[p.ns]);
    let mut out = BTreeSet::new();
    match change {
        Change::Pod(n, _) => {
            for s in [before, after] {
                out.extend(s.pods.get(n).map(|p| id(*n, p)));
            }
        }
        Change::Policy(n, _) => {
            for s in [before, after] {
                let Some(policy) = s.policies.get(n) else {
                    continue;
                };
                for (m, p) in &s.pods {
                    if p.ns == policy.ns && p.app == policy.app {
                        out.insert(id(*m, p));
                    }
                }
            }
        }
    }
    out
}

/// The audit's targets for a test: every outside atom, and every workload but the
/// touched ones (then the kept rows keep their target facts), or every workload (then
/// they are read again), on any port and on TCP 80.
fn targets(engine: &Engine, touched: &BTreeSet<String>, all: bool) -> Targets {
    let workloads = engine.cluster.workloads.len();
    let atoms: Vec<usize> = (workloads..engine.endpoints().len()).collect();
    let chosen: Vec<usize> = (0..workloads)
        .filter(|&w| all || !touched.contains(&engine.cluster.workloads[w].id()))
        .collect();
    let tcp_80 = kubeseg_model::PortSet::range(kubeseg_model::Protocol::Tcp, 80, 80);
    Targets {
        groups: vec![
            TargetGroup {
                endpoints: atoms.clone(),
                ports: None,
            },
            TargetGroup {
                endpoints: chosen.clone(),
                ports: None,
            },
            TargetGroup {
                endpoints: chosen,
                ports: Some(tcp_80),
            },
        ],
        internet_v4: atoms,
        internet_v6: Vec::new(),
    }
}

fn load(s: &State) -> Loaded {
    let loaded = load_str("cluster.json", &text(s));
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded
}

/// Rows without the count of kept ones, as text.
fn seen(mut rows: Rows) -> String {
    rows.kept = 0;
    format!("{rows:?}")
}

/// Checks one change; whether any row was kept.
fn check(before: &State, change: &Change, all: bool) -> Result<bool, TestCaseError> {
    let mut after = before.clone();
    match change {
        Change::Pod(n, Some(p)) => {
            after.pods.insert(*n, p.clone());
        }
        Change::Pod(n, None) => {
            after.pods.remove(n);
        }
        Change::Policy(n, Some(p)) => {
            after.policies.insert(*n, p.clone());
        }
        Change::Policy(n, None) => {
            after.policies.remove(n);
        }
    }
    if after.pods.is_empty() {
        return Ok(false);
    }
    let touched = touched(before, &after, change);
    let (old, new) = (load(before), load(&after));
    let mut old_engine = Engine::new(&old.cluster, Options::default());
    let old_targets = targets(&old_engine, &touched, all);
    let earlier = Rows::compute(&mut old_engine, &old_targets);
    let mut engine = Engine::new(&new.cluster, Options::default());
    let targets = targets(&engine, &touched, all);
    let fresh = Rows::compute(&mut engine, &targets);
    let position: HashMap<String, u32> = (old.cluster.workloads.iter().enumerate())
        .map(|(i, w)| (w.id(), i as u32))
        .collect();
    let index: Vec<Option<u32>> = (new.cluster.workloads.iter())
        .map(|w| position.get(&w.id()).copied())
        .collect();
    let marked: Vec<bool> = (new.cluster.workloads.iter())
        .map(|w| touched.contains(&w.id()))
        .collect();
    let earlier = Earlier {
        rows: &earlier,
        index: &index,
        touched: &marked,
    };
    let kept = Rows::compute_since(&mut engine, &targets, None, None, Some(&earlier));
    let any = kept.kept > 0;
    prop_assert_eq!(seen(kept), seen(fresh));
    Ok(any)
}

#[test]
fn rows_kept_across_a_change_are_the_rows_computed_afresh() {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let kept = Cell::new(0);
    let result = runner.run(
        &(state(), change(), any::<bool>()),
        |(before, change, all)| {
            kept.set(kept.get() + usize::from(check(&before, &change, all)?));
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // Rows kept in few cases would make the comparison vacuous.
    assert!(kept.get() >= 128, "rows kept in only {} cases", kept.get());
}
