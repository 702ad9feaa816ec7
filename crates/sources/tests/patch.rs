//! A patched cluster is the cluster assembling every object again gives: random
//! sequences of pod and NetworkPolicy changes (with an occasional change a patch must
//! refuse) are applied both ways and compared after each batch.

use kubeseg_sources::patch::Change;
use kubeseg_sources::{DecodedText, LoadOptions, Loaded, NamedText, assemble_texts, decode_text};
use proptest::prelude::*;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

/// Namespaces `a` and `b` have their objects; `c` exists only while something is in it.
const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const APPS: [&str; 3] = ["web", "db", "x"];
/// Controller owners a pod may name: a ReplicaSet of a Deployment, a ReplicaSet of its
/// own, a StatefulSet, a ReplicaSet absent from the input, a Node (a mirror pod).
const OWNERS: [Option<(&str, &str)>; 6] = [
    None,
    Some(("ReplicaSet", "web-1")),
    Some(("ReplicaSet", "lone")),
    Some(("StatefulSet", "db")),
    Some(("ReplicaSet", "gone")),
    Some(("Node", "n1")),
];

fn decode(name: &str, text: String) -> DecodedText {
    let text = NamedText {
        name: name.into(),
        text,
    };
    decode_text(text, &LoadOptions::default())
}

/// The objects every cluster starts with: two namespaces and the controllers.
fn base() -> BTreeMap<String, DecodedText> {
    let mut objects = BTreeMap::new();
    for ns in ["a", "b"] {
        let text =
            format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
        objects.insert(
            format!("Namespace/{ns}"),
            decode(&format!("Namespace/{ns}"), text),
        );
    }
    for ns in NAMESPACES {
        let controllers = [
            ("apps/v1", "Deployment", "web", None, "web"),
            (
                "apps/v1",
                "ReplicaSet",
                "web-1",
                Some(("Deployment", "web")),
                "web",
            ),
            ("apps/v1", "ReplicaSet", "lone", None, "x"),
            ("apps/v1", "StatefulSet", "db", None, "db"),
        ];
        for (api, kind, name, owner, app) in controllers {
            let owner = owner.map_or(String::new(), |(k, n): (&str, &str)| {
                format!(r#","ownerReferences":[{{"apiVersion":"apps/v1","kind":"{k}","name":"{n}","uid":"u","controller":true}}]"#)
            });
            let text = format!(
                r#"{{"apiVersion":"{api}","kind":"{kind}","metadata":{{"name":"{name}","namespace":"{ns}"{owner}}},"spec":{{"selector":{{"matchLabels":{{"app":"{app}"}}}},"template":{{"metadata":{{"labels":{{"app":"{app}","tpl":"yes"}}}},"spec":{{"containers":[{{"name":"c","image":"i","ports":[{{"containerPort":80}}]}}]}}}}}}}}"#
            );
            let at = format!("{kind}/{ns}/{name}");
            objects.insert(at.clone(), decode(&at, text));
        }
    }
    objects
}

/// One change to the cluster.
#[derive(Clone, Debug)]
enum Op {
    Pod {
        ns: usize,
        name: usize,
        owner: usize,
        app: usize,
        ip: u8,
    },
    Policy {
        ns: usize,
        name: usize,
        app: usize,
        port: u16,
    },
    DeletePod {
        ns: usize,
        name: usize,
    },
    DeletePolicy {
        ns: usize,
        name: usize,
    },
    /// A Service: a kind a patch refuses.
    Service {
        ns: usize,
        app: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..5usize, 0..6usize, 0..3usize, 1..4u8)
            .prop_map(|(ns, name, owner, app, ip)| Op::Pod { ns, name, owner, app, ip }),
        2 => (0..3usize, 0..3usize, 0..3usize, 79..82u16)
            .prop_map(|(ns, name, app, port)| Op::Policy { ns, name, app, port }),
        3 => (0..3usize, 0..5usize).prop_map(|(ns, name)| Op::DeletePod { ns, name }),
        1 => (0..3usize, 0..3usize).prop_map(|(ns, name)| Op::DeletePolicy { ns, name }),
        1 => (0..3usize, 0..3usize).prop_map(|(ns, app)| Op::Service { ns, app }),
    ]
}

/// Applies one change to the objects; the location it changed.
fn apply(objects: &mut BTreeMap<String, DecodedText>, op: &Op) -> String {
    match *op {
        Op::Pod {
            ns,
            name,
            owner,
            app,
            ip,
        } => {
            let (ns, app) = (NAMESPACES[ns], APPS[app]);
            let owner = OWNERS[owner].map_or(String::new(), |(k, n)| {
                format!(r#","ownerReferences":[{{"apiVersion":"apps/v1","kind":"{k}","name":"{n}","uid":"u","controller":true}}]"#)
            });
            let text = format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{name}","namespace":"{ns}","labels":{{"app":"{app}"}}{owner}}},"spec":{{"containers":[{{"name":"c","image":"i"}}]}},"status":{{"podIP":"10.0.0.{ip}"}}}}"#
            );
            let at = format!("Pod/{ns}/p{name}");
            objects.insert(at.clone(), decode(&at, text));
            at
        }
        Op::Policy {
            ns,
            name,
            app,
            port,
        } => {
            let (ns, app) = (NAMESPACES[ns], APPS[app]);
            let text = format!(
                r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"np{name}","namespace":"{ns}"}},"spec":{{"podSelector":{{"matchLabels":{{"app":"{app}"}}}},"ingress":[{{"ports":[{{"port":{port}}}]}}]}}}}"#
            );
            let at = format!("NetworkPolicy/{ns}/np{name}");
            objects.insert(at.clone(), decode(&at, text));
            at
        }
        Op::DeletePod { ns, name } => {
            let at = format!("Pod/{}/p{name}", NAMESPACES[ns]);
            objects.remove(&at);
            at
        }
        Op::DeletePolicy { ns, name } => {
            let at = format!("NetworkPolicy/{}/np{name}", NAMESPACES[ns]);
            objects.remove(&at);
            at
        }
        Op::Service { ns, app } => {
            let (ns, app) = (NAMESPACES[ns], APPS[app]);
            let text = format!(
                r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"s","namespace":"{ns}"}},"spec":{{"selector":{{"app":"{app}"}},"ports":[{{"port":80}}]}}}}"#
            );
            let at = format!("Service/{ns}/s");
            objects.insert(at.clone(), decode(&at, text));
            at
        }
    }
}

/// Everything of a load that patching must keep as assembling makes it.
fn seen(loaded: &Loaded) -> String {
    format!(
        "{:#?}\n{:#?}\n{:?}\n{}\n{:?}",
        loaded.cluster, loaded.diagnostics, loaded.skipped, loaded.documents, loaded.misfiled
    )
}

/// The ids of the workloads that differ between two clusters, or exist in one only.
fn differing(old: &Loaded, new: &Loaded) -> BTreeSet<String> {
    let by_id = |l: &Loaded| -> BTreeMap<String, String> {
        (l.cluster.workloads.iter())
            .map(|w| (w.id(), format!("{w:?}")))
            .collect()
    };
    let (old, new) = (by_id(old), by_id(new));
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    ids.into_iter()
        .filter(|id| old.get(*id) != new.get(*id))
        .cloned()
        .collect()
}

#[test]
fn a_patched_cluster_is_the_cluster_assembled_again() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let batches = prop::collection::vec(prop::collection::vec(op(), 1..4), 1..24);
    let (patched, all) = (Cell::new(0), Cell::new(0));
    let result = runner.run(&batches, |batches| {
        patched.set(patched.get() + follow(&batches)?);
        all.set(all.get() + batches.len());
        Ok(())
    });
    let (patched, all) = (patched.get(), all.get());
    if let Err(e) = result {
        panic!("{e}");
    }
    // Most batches are pods and policies in declared namespaces: a patch that refused
    // them all would pass the comparisons above without testing anything.
    assert!(
        patched * 2 >= all,
        "only {patched} of {all} batches patched"
    );
}

/// Applies the batches both ways, comparing after each; how many were patched.
fn follow(batches: &[Vec<Op>]) -> Result<usize, TestCaseError> {
    let mut objects = base();
    // A first pod, so that the input is never empty.
    apply(
        &mut objects,
        &Op::Pod {
            ns: 0,
            name: 9,
            owner: 0,
            app: 0,
            ip: 9,
        },
    );
    // Patched batch after batch, and assembled again each time.
    let mut current = assemble_texts(objects.values());
    let mut previous = assemble_texts(objects.values());
    let mut patched_batches = 0;
    for batch in batches {
        let mut before: BTreeMap<String, Option<DecodedText>> = BTreeMap::new();
        for op in batch {
            let at = match op {
                Op::Pod { ns, name, .. } | Op::DeletePod { ns, name } => {
                    format!("Pod/{}/p{name}", NAMESPACES[*ns])
                }
                Op::Policy { ns, name, .. } | Op::DeletePolicy { ns, name } => {
                    format!("NetworkPolicy/{}/np{name}", NAMESPACES[*ns])
                }
                Op::Service { ns, .. } => format!("Service/{}/s", NAMESPACES[*ns]),
            };
            before
                .entry(at)
                .or_insert_with_key(|at| objects.get(at).cloned());
            apply(&mut objects, op);
        }
        let changes: Vec<Change> = before
            .iter()
            .map(|(at, b)| Change {
                before: b.as_ref(),
                after: objects.get(at),
            })
            .collect();
        let full = assemble_texts(objects.values());
        let old = seen(&current);
        match current.patch(&changes) {
            Some(patched) => {
                patched_batches += 1;
                prop_assert_eq!(seen(&current), seen(&full));
                let moved = differing(&previous, &full);
                prop_assert!(
                    moved.is_subset(&patched.workloads),
                    "{:?} changed, the patch names {:?}",
                    moved,
                    patched.workloads
                );
            }
            None => {
                // A refused patch leaves the cluster as it was.
                prop_assert_eq!(seen(&current), old);
                current = assemble_texts(objects.values());
            }
        }
        previous = full;
    }
    Ok(patched_batches)
}
