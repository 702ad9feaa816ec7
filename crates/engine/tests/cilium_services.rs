//! Cilium's `toServices` through the loader's lowering, the engine and the naive
//! reference evaluator (which reads the same lowered peers). Each verdict is derived
//! by hand from cilium/cilium (Cilium 1.17 and later), cited above it:
//! - pkg/policy/k8s/service.go `processRule`: a Service with a selector becomes a
//!   `toEndpoints` selector pinned to the Service's namespace (`appendSelector`), one
//!   without becomes `/32` `toCIDRSet` entries of its endpoints (`appendEndpoints`);
//! - CIDR rules never select a pod (Documentation/security/policy/language.rst, "IP/CIDR
//!   based": "CIDR rules do not apply to traffic where both sides of the connection are
//!   ... managed by Cilium");
//! - pkg/policy/k8s/utils `RulesToPolicyEntries`: a rule left without an L3 selector
//!   applies its ports to every peer (cilium/cilium#20067).

mod pairs;
mod reference;

use pairs::{endpoint, party, row};

use kubeseg_engine::{Engine, Options};
use reference::Reading;

const ALL: &str = "All Connections";
const NONE: &str = "No Connections";

fn pod(ns: &str, name: &str, app: &str, ip: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {app}}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 80}}]}}]}}\nstatus: {{podIP: {ip}}}\n"
    )
}

/// prod/web (10.0.0.1), prod/api and dev/api (both `app: api`), prod/db (10.0.0.3);
/// Service prod/api selects `app: api`; Service prod/ext has no selector and one
/// EndpointSlice holding 203.0.113.10 and db's own address 10.0.0.3.
fn world() -> String {
    pod("prod", "web", "web", "10.0.0.1")
        + &pod("prod", "api", "api", "10.0.0.2")
        + &pod("dev", "api", "api", "10.0.1.2")
        + &pod("prod", "db", "db", "10.0.0.3")
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: prod}\nspec: {selector: {app: api}, ports: [{port: 80}]}\n"
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: prod}\nspec: {ports: [{port: 443}]}\n"
        + "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ext-1, namespace: prod, labels: {kubernetes.io/service-name: ext}}\naddressType: IPv4\nendpoints:\n- addresses: [203.0.113.10]\n- addresses: [10.0.0.3]\n"
}

/// A CiliumNetworkPolicy for prod/web with this `egress` list (indented by 2).
fn web_egress(egress: &str) -> String {
    format!(
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: web-out, namespace: prod}}\nspec:\n  endpointSelector: {{matchLabels: {{app: web}}}}\n  egress:\n{egress}"
    )
}

/// Loads `yaml` and asserts each `(from, to, ports)` on the reference, then the engine.
fn expect(yaml: &str, rows: &[(&str, &str, &str)]) {
    let loaded = kubeseg_sources::load_str("t.yaml", yaml);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let cluster = &loaded.cluster;
    let want: Vec<String> = rows.iter().map(|r| row(r.0, r.1, r.2)).collect();
    let by_reference: Vec<String> = rows
        .iter()
        .map(|&(from, to, _)| {
            let ports = reference::allowed(
                cluster,
                party(cluster, from),
                party(cluster, to),
                Reading::default(),
            );
            row(from, to, &ports.to_string())
        })
        .collect();
    assert_eq!(by_reference, want, "the reference disagrees");
    let mut engine = Engine::new(cluster, Options::default());
    let by_engine: Vec<String> = rows
        .iter()
        .map(|&(from, to, _)| {
            let (s, d) = (endpoint(&engine, from), endpoint(&engine, to));
            row(from, to, &engine.pair(s, d).to_string())
        })
        .collect();
    assert_eq!(by_engine, want, "the engine disagrees");
}

#[test]
fn a_service_with_a_selector_is_its_pods_and_one_without_its_addresses() {
    let yaml = world()
        + &web_egress(
            "  - toServices: [{k8sService: {serviceName: api, namespace: prod}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n  - toServices: [{k8sService: {serviceName: ext, namespace: prod}}]\n",
        );
    expect(
        &yaml,
        &[
            // appendSelector: `app: api` in namespace prod, on the rule's toPorts.
            ("prod/web[Pod]", "prod/api[Pod]", "TCP 80"),
            // The generated selector names prod: dev/api's equal labels do not count.
            ("prod/web[Pod]", "dev/api[Pod]", NONE),
            // appendEndpoints: 203.0.113.10/32, by a rule without ports.
            ("prod/web[Pod]", "203.0.113.10", ALL),
            ("prod/web[Pod]", "203.0.113.11", NONE),
            // 10.0.0.3/32 is a CIDR rule, which never selects the pod holding it.
            ("prod/web[Pod]", "prod/db[Pod]", NONE),
            // Nothing selects api's egress or the others' ingress.
            ("prod/api[Pod]", "prod/db[Pod]", ALL),
        ],
    );
}

#[test]
fn a_rule_whose_services_match_nothing_opens_its_ports_to_everyone() {
    let yaml = world()
        + &web_egress(
            "  - toServices: [{k8sService: {serviceName: gone, namespace: prod}}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n  - toServices: [{k8sService: {serviceName: gone, namespace: prod}}]\n",
        );
    expect(
        &yaml,
        &[
            // RulesToPolicyEntries: no L3 selector left, so every peer on TCP 443; the
            // second rule, without ports, allows nothing.
            ("prod/web[Pod]", "prod/api[Pod]", "TCP 443"),
            ("prod/web[Pod]", "dev/api[Pod]", "TCP 443"),
            ("prod/web[Pod]", "198.51.100.7", "TCP 443"),
        ],
    );
}

#[test]
fn a_clusterwide_selector_over_service_labels() {
    let yaml = world().replace(
        "metadata: {name: api, namespace: prod}",
        "metadata: {name: api, namespace: prod, labels: {tier: backend}}",
    ) + "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: to-backends}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  egress:\n  - toServices: [{k8sServiceSelector: {selector: {matchLabels: {tier: backend}}}}]\n";
    expect(
        &yaml,
        &[
            // serviceSelectorMatches on prod/api's labels; its pods are prod's `app: api`.
            ("prod/db[Pod]", "prod/api[Pod]", ALL),
            ("prod/db[Pod]", "dev/api[Pod]", NONE),
            ("prod/db[Pod]", "prod/web[Pod]", NONE),
        ],
    );
}
