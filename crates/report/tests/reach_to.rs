//! `json_connections_to` (rows over a few destinations, for `kubeseg watch`) lists
//! exactly the lines `json_connections` lists toward those destinations, mesh notes
//! included.

use kubeseg_engine::mesh::{Annotator, MeshOptions};
use kubeseg_engine::{Engine, Options};
use kubeseg_report::reach::{json_connections, json_connections_to};
use std::sync::Arc;

type Lines = Vec<(usize, usize, String)>;

fn listed(engine: &mut Engine, destinations: &[usize], to: bool) -> Lines {
    let cluster = engine.cluster;
    let mut mesh = Annotator::new(cluster, MeshOptions::default(), engine.options);
    let sources: Vec<usize> = (0..engine.endpoints().len()).collect();
    let mut out = Vec::new();
    let each = |s: usize, d: usize, tail: &Arc<str>| out.push((s, d, tail.to_string()));
    if to {
        json_connections_to(engine, &sources, destinations, mesh.as_mut(), each);
    } else {
        json_connections(engine, &sources, destinations, mesh.as_mut(), each);
    }
    out.sort();
    out
}

#[test]
fn toward_each_destination_the_lines_are_those_of_the_full_listing() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let paths = [
        format!("{root}/examples/mesh/ci-cd.yaml"),
        format!("{root}/examples/wordpress-cluster"),
    ];
    let loaded = kubeseg_sources::load(&paths);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    assert!(!loaded.cluster.authorization_policies.is_empty());
    let mut engine = Engine::new(&loaded.cluster, Options::default());
    let all: Vec<usize> = (0..engine.endpoints().len()).collect();
    let full = listed(&mut engine, &all, false);
    assert!(
        full.iter().any(|(_, _, tail)| tail.contains("mesh")),
        "some line has a mesh note"
    );
    for d in 0..all.len() {
        let want: Lines = full.iter().filter(|l| l.1 == d).cloned().collect();
        assert_eq!(listed(&mut engine, &[d], true), want, "toward {d}");
    }
    let some: Vec<usize> = all.iter().copied().step_by(3).collect();
    let want: Lines = full
        .iter()
        .filter(|l| some.contains(&l.1))
        .cloned()
        .collect();
    assert_eq!(listed(&mut engine, &some, true), want);
}
