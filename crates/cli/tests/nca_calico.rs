//! network-config-analyzer's Calico test cases (`../shared/conformance/nca-calico`, from
//! np-guard/network-config-analyzer tests/calico_testcases) as an oracle for
//! `kubeseg reach --cni calico`: every connectivityMap query with an expected output is
//! either compared pod by pod or excluded below with its reason, and the test fails
//! when the data set holds a query this file does not know.
//!
//! The data is read in place, never copied; when it is absent the test fails unless
//! `KUBESEG_ALLOW_MISSING_DATA=1`. The manifests are fed to kubeseg on stdin after three
//! in-memory edits, each asserted harmless:
//! - `ports: {}` in a container becomes `[]`: the pod lists were written by hand with a
//!   mapping where the API has a list (the API server, and kubeseg, refuse it); the
//!   analyzer reads it as no ports;
//! - ownerReferences are dropped, so that every pod is its own endpoint
//!   (`ns/pod[Pod]`) and the comparison is pod by pod (kubeseg folds the pods of a
//!   controller into one workload, the union of its pods' connections; several
//!   DaemonSets here have pods with different labels). Owners play no part in policy;
//! - Calico policy names are lower-cased: some test files use upper case, which
//!   Calico's API rejects (`error[invalid-name]`); the order of the names, which breaks
//!   ties between policies of equal order, is checked to stay the same.
//!
//! IPv6 is left out on both sides (the analyzer prints `::/0` only when asked).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;
mod nca;

use nca::Pod;
use nca::relation::{compare, expected, ours};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KUBESEG_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let dir = dir.join("nca-calico");
    dir.is_dir().then_some(dir)
}

/// What is expected of a (testcase folder, query name).
enum Verdict {
    /// The maps must agree.
    Agree,
    /// Not compared, with the reason.
    Excluded(&'static str),
    /// The analyzer's map is wrong (the reason derived by hand from Calico's semantics):
    /// exactly these differences, so the test fails when either side changes.
    NcaWrong(&'static str, Difference),
}

/// In config `config`, every source pod of `srcs` to every other pod of namespace
/// `dst_ns`: the analyzer says `nca`, kubeseg `kubeseg`.
struct Difference {
    config: &'static str,
    srcs: &'static [&'static str],
    dst_ns: &'static str,
    nca: &'static str,
    kubeseg: &'static str,
}

impl Difference {
    /// The lines `compare` gives for it, sorted.
    fn lines(&self, pods: &[Pod]) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.srcs {
            for d in pods.iter().filter(|d| d.namespace == self.dst_ns) {
                let d = format!("{}/{}", d.namespace, d.name);
                if d != *s {
                    out.push(format!(
                        "[{}] {s} => {d}: nca `{}`, kubeseg `{}`",
                        self.config, self.nca, self.kubeseg
                    ));
                }
            }
        }
        out.sort();
        out
    }
}

const NOT_CALICO: &str =
    "the data set's README: testcase13-16 record the analyzer's behaviour, not Calico's";
const ISTIO_HTTP: &str = "an Istio layer with HTTP methods (`{methods:GET}` in maps split into TCP \
    and non-TCP): kubeseg's mesh verdict is per request, not a port set";
const ISTIO_HTTP_INGRESS: &str = "an Istio layer with HTTP methods, and nca's Ingress-resource layer \
    (the ingress controller reaches only the backends of Ingress rules, by path): kubeseg does \
    not restrict traffic by Ingress objects";

/// testcase18-pass, np-pod-based-policies: four Calico NetworkPolicies of kube-system
/// without `order` in tier `default`, each selecting every pod of the namespace. Calico
/// sorts policies of equal (here: no) order by name (felix `calc/policy_sorter.go`
/// `PolicyByOrder.Less` → `model.PolicyNameLessThan`), so
/// `testcase18-equivTo-highPriorityPass-k8s-app-not-redundant` runs first: ingress from
/// a kube-system pod is allowed by `has(app)`, else denied by its second rule
/// `Deny has(k8s-app)`. Every kube-system pod with `k8s-app` and no `app` (the nine
/// below) therefore reaches no other kube-system pod. The analyzer says All
/// connections: it lets `testcase18-highPriorityPass-k8s-app-redundant` (first in the
/// file) decide first, whose `Pass has(k8s-app)` leaves the last tier and the namespace
/// profile allows. kubeseg follows Calico.
const TESTCASE18_ORDER: Difference = Difference {
    config: "np-pod-based-policies",
    srcs: &[
        "kube-system/calico-kube-controllers-7694668c77-t6slc",
        "kube-system/calico-node-mgdlr",
        "kube-system/calico-node-ns8kw",
        "kube-system/calico-node-ptdgj",
        "kube-system/heapster-7df8cb8c66-zxkk2",
        "kube-system/kube-dns-amd64-d66bf76db-9s486",
        "kube-system/kube-dns-amd64-d66bf76db-bbvts",
        "kube-system/kube-dns-autoscaler-78f5fdbd46-zt2sf",
        "kube-system/kubernetes-dashboard-5b5f985bcf-cvg7r",
    ],
    dst_ns: "kube-system",
    // The analyzer's `All connections`, on the TCP/UDP/SCTP projection compared here.
    nca: "TCP 1-65535; UDP 1-65535; SCTP 1-65535",
    kubeseg: "No Connections",
};

/// Every connectivityMap query of the data set with an `expectedOutput`.
const QUERIES: &[(&str, &str, Verdict)] = &[
    (
        "testcase15-ports",
        "connectivity_map",
        Verdict::Excluded(NOT_CALICO),
    ),
    (
        "testcase16-nets",
        "connectivity_map_testcase16",
        Verdict::Excluded(NOT_CALICO),
    ),
    (
        "testcase18-pass",
        "connectivity_map",
        Verdict::NcaWrong(
            "policies of equal order run by name in Calico, not in file order",
            TESTCASE18_ORDER,
        ),
    ),
    (
        "testcase19-profiles",
        "deny-all-profiles-connectivity",
        Verdict::Excluded(
            "the cluster is Calico WorkloadEndpoints (wdc_wep.json) with no Pod: kubeseg models pods only",
        ),
    ),
    (
        "testcase19-profiles",
        "connectivity_map_with_labels_to_apply",
        Verdict::Excluded(
            "WorkloadEndpoints with no Pod, and Profiles with labelsToApply: kubeseg models pods and the default profile only",
        ),
    ),
    (
        "testcase25-mix-k8s-calico-policies",
        "connectivity",
        Verdict::Agree,
    ),
    (
        "testcase25-mix-k8s-calico-policies",
        "connectivity_1",
        Verdict::Agree,
    ),
    (
        "testcase25-mix-k8s-calico-policies",
        "connectivity_2",
        Verdict::Agree,
    ),
    (
        "testcase26-multi-layer-policies",
        "connectivity-1",
        Verdict::Agree,
    ),
    (
        "testcase26-multi-layer-policies",
        "connectivity-2",
        Verdict::Excluded(ISTIO_HTTP_INGRESS),
    ),
    (
        "testcase26-multi-layer-policies",
        "connectivity-3",
        Verdict::Excluded(ISTIO_HTTP_INGRESS),
    ),
    (
        "testcase26-multi-layer-policies",
        "connectivity-4",
        Verdict::Excluded(ISTIO_HTTP),
    ),
    (
        "testcase26-multi-layer-policies",
        "connectivity-5",
        Verdict::Excluded(ISTIO_HTTP),
    ),
    (
        "testcase26-multi-layer-policies",
        "connectivity-6",
        Verdict::Excluded(ISTIO_HTTP_INGRESS),
    ),
];

/// A connectivityMap query of a scheme file.
struct Query {
    case: String,
    name: String,
    scheme: PathBuf,
    configs: Vec<String>,
    expected: PathBuf,
}

/// Every connectivityMap query with an expected output, in every scheme file.
fn queries(root: &Path) -> Vec<(Query, Value)> {
    let mut out = Vec::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("example_policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    for case in cases {
        let mut schemes: Vec<PathBuf> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("scheme.yaml"))
            .collect();
        schemes.sort();
        for scheme in schemes {
            let Some(doc) = nca::documents(&scheme).pop() else {
                continue;
            };
            for q in doc["queries"].as_array().into_iter().flatten() {
                let (Some(configs), Some(expected)) = (
                    q["connectivityMap"].as_array(),
                    q["expectedOutput"].as_str(),
                ) else {
                    continue;
                };
                out.push((
                    Query {
                        case: case.file_name().unwrap().to_string_lossy().into_owned(),
                        name: q["name"].as_str().unwrap().to_string(),
                        configs: configs
                            .iter()
                            .map(|c| c.as_str().unwrap().to_string())
                            .collect(),
                        expected: scheme.parent().unwrap().join(expected),
                        scheme: scheme.clone(),
                    },
                    doc.clone(),
                ));
            }
        }
    }
    out
}

/// The documents of a file, or of every YAML/JSON file of a folder.
fn read_path(path: &Path) -> Vec<Value> {
    if !path.is_dir() {
        return nca::documents(path);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    files.iter().flat_map(|f| nca::documents(f)).collect()
}

/// The cluster's documents (namespaces and pods) of a scheme, with the edits the module
/// doc lists, and its pods as the analyzer names them (owners included).
fn cluster(scheme_dir: &Path, scheme: &Value) -> (Vec<Value>, Vec<Pod>) {
    let mut paths: Vec<PathBuf> = Vec::new();
    for key in ["namespaceList", "podList"] {
        if let Some(p) = scheme[key].as_str() {
            let p = scheme_dir.join(p);
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    let mut docs: Vec<Value> = paths.iter().flat_map(|p| read_path(p)).collect();
    let pods = nca::pods(&docs);
    nca::for_each_object(&mut docs, &mut |o| {
        if o["kind"] != "Pod" {
            return;
        }
        if let Some(m) = o["metadata"].as_object_mut() {
            m.remove("ownerReferences");
        }
        for key in ["containers", "initContainers"] {
            for c in o["spec"][key].as_array_mut().into_iter().flatten() {
                if c.get("ports")
                    .is_some_and(|p| p.as_object().is_some_and(|m| m.is_empty()))
                {
                    c["ports"] = Value::Array(Vec::new());
                }
            }
        }
    });
    (docs, pods)
}

/// The policies of config `reference` (`config` or `config/Kind/namespace/name` for one
/// policy of it), with Calico names lower-cased, and the name the expected output gives
/// the config.
fn policies(scheme_dir: &Path, scheme: &Value, reference: &str) -> (Vec<Value>, String) {
    let parts: Vec<&str> = reference.split('/').collect();
    let config = scheme["networkConfigList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == parts[0])
        .unwrap_or_else(|| panic!("no config `{}`", parts[0]));
    let mut docs: Vec<Value> = config["networkPolicyList"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| read_path(&scheme_dir.join(f.as_str().unwrap())))
        .collect();
    let header = match parts[..] {
        [config] => config.to_string(),
        [config, kind, ns, name] => {
            let api = match kind {
                "K8sNetworkPolicy" => "networking.k8s.io/",
                "CalicoNetworkPolicy" => "projectcalico.org/",
                _ => panic!("unknown kind in `{reference}`"),
            };
            docs.retain(|d| {
                d["kind"] == "NetworkPolicy"
                    && d["apiVersion"].as_str().unwrap_or("").starts_with(api)
                    && d["metadata"]["namespace"] == ns
                    && d["metadata"]["name"] == name
            });
            assert_eq!(docs.len(), 1, "`{reference}` names one policy");
            format!("{config}/{ns}/{name}")
        }
        _ => panic!("unknown config reference `{reference}`"),
    };
    let mut names = Vec::new();
    nca::for_each_object(&mut docs, &mut |o| {
        if o["apiVersion"]
            .as_str()
            .is_some_and(|a| a.starts_with("projectcalico.org/"))
            && let Some(n) = o["metadata"]["name"].as_str()
        {
            names.push(n.to_string());
            o["metadata"]["name"] = Value::String(n.to_lowercase());
        }
    });
    let mut lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    names.sort();
    lower.sort();
    assert_eq!(
        names.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>(),
        lower,
        "lower-casing changes the order of Calico policy names in `{reference}`"
    );
    (docs, header)
}

#[test]
fn nca_calico_connectivity_maps_agree() {
    let Some(root) = data_dir() else {
        common::missing_data(
            "network-config-analyzer Calico data not found (../shared/conformance/nca-calico)",
        );
        return;
    };
    let found = queries(&root);
    let mut failures = Vec::new();
    let (mut maps, mut agree, mut known) = (0, 0, 0);
    for (q, scheme) in &found {
        let Some((_, _, verdict)) = QUERIES
            .iter()
            .find(|(c, n, _)| *c == q.case && *n == q.name)
        else {
            failures.push(format!(
                "{}/{}: a connectivityMap query this test does not know ({})",
                q.case,
                q.name,
                q.scheme.display()
            ));
            continue;
        };
        if let Verdict::Excluded(why) = verdict {
            println!("{}/{}: excluded: {why}", q.case, q.name);
            continue;
        }
        let dir = q.scheme.parent().unwrap();
        let (cluster, pods) = cluster(dir, scheme);
        let text = std::fs::read_to_string(&q.expected).unwrap();
        let mut diffs = Vec::new();
        for reference in &q.configs {
            maps += 1;
            let (policies, header) = policies(dir, scheme, reference);
            let expected = match expected(&text, &header, &pods) {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!(
                        "{}/{} {reference}: expected map: {e}",
                        q.case, q.name
                    ));
                    continue;
                }
            };
            let mut docs = cluster.clone();
            docs.extend(policies);
            match ours(&docs, &pods) {
                Ok(got) => diffs.extend(
                    compare(&expected, &got, &pods)
                        .into_iter()
                        .map(|d| format!("[{reference}] {d}")),
                ),
                Err(e) => failures.push(format!("{}/{} {reference}: {e}", q.case, q.name)),
            }
        }
        match verdict {
            Verdict::Agree if diffs.is_empty() => agree += 1,
            Verdict::NcaWrong(why, listed)
                if {
                    diffs.sort();
                    diffs == listed.lines(&pods)
                } =>
            {
                println!("{}/{}: known analyzer error: {why}", q.case, q.name);
                known += 1;
            }
            _ => failures.push(format!(
                "{}/{}: {} differences (pod => pod: nca, kubeseg):\n    {}",
                q.case,
                q.name,
                diffs.len(),
                diffs.join("\n    ")
            )),
        }
    }
    for (c, n, _) in QUERIES {
        if !found.iter().any(|(q, _)| q.case == *c && q.name == *n) {
            failures.push(format!("{c}/{n}: listed here but not in the data set"));
        }
    }
    let excluded = QUERIES
        .iter()
        .filter(|(_, _, v)| matches!(v, Verdict::Excluded(_)))
        .count();
    println!(
        "nca Calico connectivity maps: {} queries ({maps} maps compared): {agree} agree, {known} known analyzer errors, {excluded} excluded",
        found.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
