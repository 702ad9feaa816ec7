//! The upstream network-policy-api conformance probes
//! (`../shared/conformance/network-policy-api`, v1alpha1 at v0.1.7 and v1alpha2 at head):
//! every probe between two pods whose expectation holds for the unmodified manifests
//! must agree with kubeseg's verdict.
//!
//! Skipped, and counted: subtests that edit the policy in place and every later
//! subtest of the same file (the edit persists), and probes toward node or external
//! addresses, which only a live cluster has. The data is read in place, never copied;
//! when the folder is absent the test says so loudly and checks nothing.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use kubeseg_engine::{Endpoint, Engine, Options};
use kubeseg_model::Protocol;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KUBESEG_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let dir = dir.join("network-policy-api");
    dir.is_dir().then_some(dir)
}

#[derive(Default, Debug)]
struct Tally {
    agree: usize,
    skipped_mutated: usize,
    skipped_address: usize,
    failures: Vec<String>,
}

/// The workload endpoint of `namespace/pod` (StatefulSet pods `name-N`).
fn endpoint(engine: &Engine, pod: &str) -> Option<usize> {
    let (ns, name) = pod.split_once('/')?;
    engine.endpoints().iter().position(|e| match e {
        Endpoint::Workload { workload, .. } => {
            let w = &engine.cluster.workloads[*workload];
            w.namespace == ns
                && name
                    .rsplit_once('-')
                    .is_some_and(|(stem, n)| stem == w.name && n.parse::<u32>().is_ok())
        }
        _ => false,
    })
}

/// A manifest with the suite's Go template fields (`{{ index .HostNetworkPorts N }}`,
/// the host-network ports chosen at run time) filled with fixed ports.
fn instantiate(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").expect("unclosed template field") + start;
        let field = &rest[start + 2..end];
        let n: u16 = field
            .trim()
            .strip_prefix("index .HostNetworkPorts")
            .and_then(|i| i.trim().parse().ok())
            .unwrap_or_else(|| panic!("unknown template field `{field}` in {}", path.display()));
        out.push_str(&rest[..start]);
        out.push_str(&(36000 + n).to_string());
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn replay(version_dir: &Path, file: &Value, tally: &mut Tally) {
    let base = version_dir.join("conformance");
    let mut text = instantiate(&base.join("base/manifests.yaml"));
    for m in file["manifests"].as_array().unwrap() {
        text.push_str("\n---\n");
        text.push_str(&instantiate(&base.join(m.as_str().unwrap())));
    }
    let name = file["file"].as_str().unwrap();
    let loaded = kubeseg_sources::load_str(name, &text);
    if loaded.has_errors() {
        tally.failures.push(format!(
            "{name}: load errors:\n{}",
            kubeseg_report::diagnostics::text(&loaded.diagnostics)
        ));
        return;
    }
    // The conformance cluster's host-network DaemonSet is never a probe end; the
    // default reading (policies never select host-network pods) applies.
    let mut engine = Engine::new(&loaded.cluster, Options::default());
    let mut edited = false;
    for sub in file["subtests"].as_array().unwrap() {
        let pokes = sub["pokes"].as_array().unwrap();
        edited |= sub["mutates"].as_bool().unwrap();
        if edited {
            tally.skipped_mutated += pokes.len();
            continue;
        }
        for p in pokes {
            let server = p["server"].as_str().unwrap_or("");
            let (Some(src), Some(dst)) = (
                endpoint(&engine, p["client"].as_str().unwrap()),
                endpoint(&engine, server),
            ) else {
                tally.skipped_address += 1;
                continue;
            };
            // The suite probes TCP, UDP and SCTP ports only (it does not model ICMP),
            // so this compares the TCP/UDP/SCTP projection of kubeseg's answer.
            let proto = Protocol::parse(p["proto"].as_str().unwrap()).unwrap();
            let port = p["port"].as_u64().unwrap() as u16;
            let expect = p["expect"].as_bool().unwrap();
            let got = engine.pair(src, dst).contains(proto, port);
            if got == expect {
                tally.agree += 1;
            } else {
                tally.failures.push(format!(
                    "{name} / {}: {} → {server} {proto} {port}: expected {expect}, kubeseg says {got}",
                    sub["name"].as_str().unwrap(),
                    p["client"].as_str().unwrap()
                ));
            }
        }
    }
}

fn check(version: &str, min_agree: usize) {
    let Some(root) = data_dir() else {
        common::missing_data(
            "network-policy-api conformance data not found (../shared/conformance/network-policy-api)",
        );
        return;
    };
    let dir = root.join(version);
    let pokes: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("pokes.json")).unwrap()).unwrap();
    let mut tally = Tally::default();
    for file in pokes.as_array().unwrap() {
        replay(&dir, file, &mut tally);
    }
    println!(
        "network-policy-api {version}: {} probes agree, {} disagree; skipped {} in edited subtests, {} toward node or external addresses",
        tally.agree,
        tally.failures.len(),
        tally.skipped_mutated,
        tally.skipped_address
    );
    assert!(
        tally.failures.is_empty(),
        "{} probes disagree:\n  {}",
        tally.failures.len(),
        tally.failures.join("\n  ")
    );
    assert!(
        tally.agree >= min_agree,
        "expected at least {min_agree} probes to be checked, got {}",
        tally.agree
    );
}

#[test]
fn v1alpha1_admin_and_baseline_admin_network_policy_probes_agree() {
    check("v0.1.7", 100);
}

#[test]
fn v1alpha2_cluster_network_policy_probes_agree() {
    check("head", 90);
}
