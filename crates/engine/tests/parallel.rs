//! Rows on several threads: the same answers as one thread, in item order, and a panic
//! on any thread reaches the caller instead of leaving the others waiting.

use kubeseg_engine::{Engine, Options};
use std::fmt::Write as _;

/// 200 pods, each admitting its own port from the next pod only: every row differs,
/// so several threads take several chunks each.
fn cluster() -> String {
    let mut y = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n");
    for i in 0..200 {
        let next = (i + 1) % 200;
        writeln!(y, "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: a, labels: {{app: p{i}}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: n{i}, namespace: a}}\nspec:\n  podSelector: {{matchLabels: {{app: p{i}}}}}\n  ingress:\n  - from: [{{podSelector: {{matchLabels: {{app: p{next}}}}}}}]\n    ports: [{{port: {}}}]\n---", 1000 + i).unwrap();
    }
    y
}

/// Rows by endpoint id: `rows[src][dst]` names the ports.
fn engine_rows(threads: usize) -> Vec<(String, Vec<(String, String)>)> {
    let loaded = kubeseg_sources::load_str("p.yaml", &cluster());
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let options = Options {
        threads,
        ..Options::default()
    };
    let engine = Engine::new(&loaded.cluster, options);
    let sources: Vec<usize> = (0..engine.endpoints().len()).collect();
    let id = |e: usize| engine.endpoint_id(e);
    engine.reach.par_map_with(
        &sources,
        || (Vec::new(), Vec::new()),
        |(scratch, row), worker, src| {
            worker.endpoint_row(src, scratch, row);
            let cells = row.iter().enumerate();
            let named = cells.map(|(d, &p)| (id(d), worker.sets().get(p).to_string()));
            (id(src), named.collect())
        },
    )
}

/// What `src` may send to `dst` in `rows`.
fn cell(rows: &[(String, Vec<(String, String)>)], src: &str, dst: &str) -> String {
    let (_, row) = rows.iter().find(|(s, _)| s == src).unwrap();
    row.iter().find(|(d, _)| d == dst).unwrap().1.clone()
}

#[test]
fn rows_on_three_threads_are_the_rows_of_one() {
    let one = engine_rows(1);
    assert_eq!(one, engine_rows(3));
    // p0 admits p1 on port 1000 and nothing else; p199 admits p0 on port 1199.
    assert_eq!(cell(&one, "a/p1[Pod]", "a/p0[Pod]"), "TCP 1000");
    assert_eq!(cell(&one, "a/p2[Pod]", "a/p0[Pod]"), "No Connections");
    assert_eq!(cell(&one, "a/p0[Pod]", "a/p199[Pod]"), "TCP 1199");
}

#[test]
fn a_panic_on_a_row_thread_reaches_the_caller() {
    let loaded = kubeseg_sources::load_str("p.yaml", &cluster());
    let options = Options {
        threads: 3,
        ..Options::default()
    };
    let engine = Engine::new(&loaded.cluster, options);
    // Items only: more chunks than a thread may run ahead of the one that panics.
    let sources: Vec<usize> = (0..2000).collect();
    // The first chunk panics: the threads ahead of it must stop waiting for it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.reach.par_map_with(
            &sources,
            || (),
            |(), _, src| {
                assert!(src != 5, "row 5 fails");
                std::thread::sleep(std::time::Duration::from_micros(100));
                src
            },
        )
    }));
    assert!(outcome.is_err());
}
