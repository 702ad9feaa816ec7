//! kubeseg's own deployment (deploy/kubeseg.yaml), checked by kubeseg: beside the
//! example cluster, its pod reaches only the API server on 443 and 6443, and is
//! reachable only on its metrics port.

mod common;

use common::run;
use serde_json::{Value, json};

const SELF: &str = "kubeseg/kubeseg[Deployment]";

#[test]
fn kubeseg_reaches_only_the_api_server_and_admits_only_metrics() {
    let (out, err, code) = run(&[
        "reach",
        "--format",
        "json",
        "deploy/kubeseg.yaml",
        "examples/wordpress-cluster",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let connections = doc["connections"].as_array().unwrap();
    let only_tcp =
        |ranges: Value| json!({"TCP": ranges, "UDP": [], "SCTP": [], "ICMP": [], "ICMPv6": []});
    let api_ports = only_tcp(json!([[443, 443], [6443, 6443]]));
    let metrics = only_tcp(json!([[9090, 9090]]));
    let mut egress = Vec::new();
    let mut ingress = 0;
    for c in connections {
        if c["src"] == SELF {
            assert_eq!(c["allowed"], api_ports, "{c}");
            egress.push(c["dst"].as_str().unwrap().to_string());
        }
        if c["dst"] == SELF {
            assert_eq!(c["allowed"], metrics, "{c}");
            ingress += 1;
        }
    }
    egress.sort();
    // The API server's ClusterIP and the endpoint address the manifest names.
    assert_eq!(egress, ["10.96.0.1", "192.0.2.10"]);
    // The example's pods can scrape it (every one of them may connect out).
    assert!(ingress > 0);
}
