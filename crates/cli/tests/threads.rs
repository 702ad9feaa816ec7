//! Rows computed on several threads give the same bytes as rows computed on one
//! (`KUBESEG_THREADS`). Each thread interns port sets in a table of its own, so a
//! result that leaked a thread's ids, or a merge out of source order, shows here.

mod common;

use std::fmt::Write as _;
use std::process::Command;

/// Runs kubeseg with `threads` row threads and returns its stdout.
fn run(threads: usize, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .current_dir(common::ROOT)
        .env("KUBESEG_THREADS", threads.to_string())
        .args(args)
        .output()
        .unwrap();
    // The audit exits 1 when findings reach --fail-on; anything else is a failure.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "kubeseg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// 300 workloads in three meshed namespaces, each with its own service account, TCP
/// and UDP ports, NetworkPolicies that open some namespaces and restrict the egress of
/// two thirds of the workloads, and AuthorizationPolicies
/// that admit some principals: enough rows for every thread to take several chunks,
/// port sets that differ from row to row, and mesh verdicts per source identity.
fn meshed_cluster() -> String {
    let mut y = String::new();
    for ns in ["a", "b", "c"] {
        writeln!(y, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    team: {ns}\n    istio-injection: enabled\n---").unwrap();
    }
    for i in 0..300 {
        let ns = ["a", "b", "c"][i % 3];
        let (tcp, udp) = (8000 + i % 7, 5000 + i % 5);
        writeln!(y, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w{i}\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: w{i}\n  template:\n    metadata:\n      labels:\n        app: w{i}\n        tier: t{}\n    spec:\n      serviceAccountName: sa{}\n      containers:\n      - name: c\n        image: x\n        ports:\n        - containerPort: {tcp}\n          name: web\n        - containerPort: {udp}\n          protocol: UDP\n---", i % 5, i % 6).unwrap();
        if i % 5 == 0 {
            writeln!(y, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np{i}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels:\n      tier: t{}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: {}\n    ports:\n    - port: web\n    - port: {udp}\n      protocol: UDP\n---", i % 5, ["a", "b", "c"][(i / 5) % 3]).unwrap();
        }
        if i % 3 != 0 {
            writeln!(y, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: out{i}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: w{i}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - podSelector:\n        matchLabels:\n          tier: t{}\n    ports:\n    - port: {}\n---", i % 5, 8000 + (i / 3) % 7).unwrap();
        }
        if i % 7 == 0 {
            writeln!(y, "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ap{i}\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: w{i}\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: [\"cluster.local/ns/{}/sa/sa{}\"]\n---", ["a", "b", "c"][(i / 7) % 3], i % 6).unwrap();
        }
    }
    y
}

fn same_bytes_on_one_and_three_threads(path: &str, commands: &[&[&str]]) {
    for args in commands {
        let mut full: Vec<&str> = args.to_vec();
        full.insert(1, path);
        let one = run(1, &full);
        let three = run(3, &full);
        assert!(
            one.len() > 1000,
            "{full:?} says too little to compare: {one}"
        );
        assert!(one == three, "{full:?} differs between 1 and 3 threads");
    }
}

#[test]
fn a_meshed_cluster_reads_the_same_on_any_number_of_threads() {
    let dir = common::scratch("threads-mesh", &[("mesh.yaml", &meshed_cluster())]);
    let path = dir.join("mesh.yaml");
    let audit = run(1, &["audit", path.to_str().unwrap(), "--format", "json"]);
    // The fixture means something: the mesh denies some hops and rows differ.
    assert!(audit.contains("KS201") || audit.contains("KS1"), "{audit}");
    same_bytes_on_one_and_three_threads(
        path.to_str().unwrap(),
        &[
            &["audit", "--format", "json"],
            &["audit", "--format", "json", "--protocols", "tcp"],
            &["reach", "--format", "json"],
            &["reach"],
            &["reach", "--format", "csv"],
            &["reach", "--format", "md"],
            &["reach", "--format", "dot"],
            &["reach", "--compact", "--format", "json"],
        ],
    );
}

#[test]
fn a_tiered_cluster_with_named_ports_reads_the_same_on_any_number_of_threads() {
    let shape = kubeseg_synth::shape("issue-10k-real-tiers").unwrap();
    let mut text = Vec::new();
    kubeseg_synth::generate(&shape, 3, kubeseg_synth::Format::Yaml, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let dir = common::scratch("threads-tiers", &[("tiers.yaml", &text)]);
    let path = dir.join("tiers.yaml");
    same_bytes_on_one_and_three_threads(
        path.to_str().unwrap(),
        &[
            &["audit", "--format", "json"],
            &[
                "audit",
                "--format",
                "json",
                "--assume-compromised",
                "ingress-nginx/ingress-nginx-controller",
            ],
            &["reach", "--compact", "--format", "json"],
        ],
    );
}
