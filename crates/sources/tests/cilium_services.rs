//! Cilium's `toServices` (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy) and the
//! EndpointSlices it resolves against: the entries' validation at file:line and the
//! peers the lowering generates. Expected values are derived by hand from cilium/cilium
//! (Cilium 1.17 and later):
//! - pkg/policy/k8s/service.go (service.go): `serviceRefMatches` (namespace equal or
//!   empty, name equal), `serviceSelectorMatches` (the selector on the Service's own
//!   labels), `processRule` (only `Egress` is walked; a Service with a selector becomes
//!   `appendSelector`: its selector plus `k8s:io.kubernetes.pod.namespace`; one without
//!   becomes `appendEndpoints`: a `/32` or `/128` `toCIDRSet` entry per backend);
//! - pkg/k8s/apis/cilium.io/utils/utils.go (utils.go): `parseToCiliumEgressCommonRule`
//!   copies `ToServices` as written, so an empty `namespace` is not defaulted;
//! - pkg/k8s/endpoints.go (endpoints.go): `ParseEndpointSliceV1` keeps endpoints that
//!   are ready (nil counts as ready) or serving, of IPv4/IPv6 slices, keyed by the
//!   `kubernetes.io/service-name` label in the slice's namespace;
//! - pkg/policy/k8s/utils RulesToPolicyEntries and pkg/policy/types/policyentry.go: a
//!   rule whose `toServices` generate nothing has an empty L3, "all endpoints", on its
//!   ports (cilium/cilium#20067);
//! - the CRD schema: `k8sServiceSelector.selector` is required.
#![allow(clippy::print_stderr)]

mod common;

use common::{errors, line_of, warnings};
use kubeseg_model::{
    Cidr, CiliumPeerKind, CiliumPolicy, CiliumRule, CiliumServiceMatch, PodSet, Selector,
};
use kubeseg_sources::{Loaded, load_str};

/// Services and slices every case may use, in namespaces `shop` and `other`:
/// - `shop/api` selects `app: api` and is labelled `tier: backend`;
/// - `other/api` selects `app: api2` and is labelled `tier: backend`;
/// - `shop/ext` has no selector and is labelled `tier: external`; its slices hold
///   `203.0.113.1` (ready), `203.0.113.2` (ready unknown), `203.0.113.3` (not ready,
///   not serving), `203.0.113.4` (not ready, serving, terminating) and, in a second
///   slice, `203.0.113.1` again and `2001:db8::1`;
/// - a slice of `shop/ext` under another Service's name, one in namespace `other`, and
///   an FQDN slice, none of which count;
/// - `shop/proxied` is handed to another proxy (`service.kubernetes.io/service-proxy-name`).
const WORLD: &str = r#"apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, labels: {tier: backend}}
spec: {selector: {app: api}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other, labels: {tier: backend}}
spec: {selector: {app: api2}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: shop, labels: {tier: external}}
spec: {ports: [{port: 443}]}
---
apiVersion: v1
kind: Service
metadata: {name: proxied, namespace: shop, labels: {tier: external, service.kubernetes.io/service-proxy-name: other}}
spec: {ports: [{port: 443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ext-1, namespace: shop, labels: {kubernetes.io/service-name: ext}}
addressType: IPv4
endpoints:
- addresses: [203.0.113.1]
  conditions: {ready: true}
- addresses: [203.0.113.2]
- addresses: [203.0.113.3]
  conditions: {ready: false, serving: false}
- addresses: [203.0.113.4]
  conditions: {ready: false, serving: true, terminating: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ext-2, namespace: shop, labels: {kubernetes.io/service-name: ext}}
addressType: IPv6
endpoints:
- addresses: ["2001:db8::1"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ext-3, namespace: shop, labels: {kubernetes.io/service-name: ext}}
addressType: IPv4
endpoints:
- addresses: [203.0.113.1]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: elsewhere, namespace: other, labels: {kubernetes.io/service-name: ext}}
addressType: IPv4
endpoints:
- addresses: [198.51.100.1]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: not-ext, namespace: shop, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints:
- addresses: [198.51.100.2]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ext-names, namespace: shop, labels: {kubernetes.io/service-name: ext}}
addressType: FQDN
endpoints:
- addresses: [db.example.com]
---
"#;

/// A CiliumNetworkPolicy `p` in namespace `shop` for `app: web` with this `egress`
/// list (indented by 2), after [`WORLD`].
fn cnp(egress: &str) -> String {
    format!(
        "{WORLD}apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: p, namespace: shop}}\nspec:\n  endpointSelector: {{matchLabels: {{app: web}}}}\n  egress:\n{egress}"
    )
}

fn load(text: &str) -> (Loaded, CiliumPolicy) {
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.cluster.cilium_policies.len(), 1);
    let p = loaded.cluster.cilium_policies[0].clone();
    (loaded, p)
}

fn egress(p: &CiliumPolicy, i: usize) -> &CiliumRule {
    &p.specs[0].egress[i]
}

fn kinds(rule: &CiliumRule) -> Vec<CiliumPeerKind> {
    rule.peers.iter().map(|p| p.kind.clone()).collect()
}

fn pods(namespace: &str, pods: &str) -> CiliumPeerKind {
    CiliumPeerKind::Pods(PodSet {
        namespaces: Selector::parse(&format!("kubernetes.io/metadata.name={namespace}")).unwrap(),
        pods: Selector::parse(pods).unwrap(),
    })
}

fn host(ip: &str) -> CiliumPeerKind {
    let written = if ip.contains(':') {
        format!("{ip}/128")
    } else {
        format!("{ip}/32")
    };
    let addresses = Cidr::parse(&written).unwrap().to_set();
    CiliumPeerKind::Cidr { written, addresses }
}

/// The serving addresses of `shop/ext`, sorted (IPv4 before IPv6): .1 once (two slices
/// hold it; `GetEndpoints` merges them), .2 (ready unknown is ready), .4 (serving while
/// terminating), not .3, nothing from the other namespace, the other Service's slice or
/// the FQDN slice (endpoints.go).
fn ext() -> Vec<CiliumPeerKind> {
    ["203.0.113.1", "203.0.113.2", "203.0.113.4", "2001:db8::1"]
        .into_iter()
        .map(host)
        .collect()
}

#[test]
fn k8s_service_with_a_selector_becomes_its_pods_in_its_namespace() {
    let text = cnp("  - toServices: [{k8sService: {serviceName: api, namespace: shop}}]\n");
    let (loaded, p) = load(&text);
    // appendSelector: the Service's selector plus its namespace.
    assert_eq!(kinds(egress(&p, 0)), [pods("shop", "app=api")]);
    // The peer is placed at the entry, for explain and the attribution.
    let at = egress(&p, 0).peers[0].location.as_ref().unwrap();
    assert_eq!(at.line, line_of(&text, "toServices"));
    assert!(warnings(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
}

/// Asserts that the first egress rule of `text`'s policy matches no Service: no peers,
/// and the warning at its `toServices` line.
fn matches_no_service(text: &str) {
    let (loaded, p) = load(text);
    assert!(egress(&p, 0).peers.is_empty());
    assert_eq!(
        warnings(&loaded),
        [("cilium-service-missing", line_of(text, "toServices"))]
    );
}

#[test]
fn an_empty_namespace_is_not_the_policys_but_every_namespace() {
    // utils.go copies ToServices as written; serviceRefMatches takes "" as any.
    let text = cnp("  - toServices: [{k8sService: {serviceName: api}}]\n");
    let (_, p) = load(&text);
    // Services in namespace and name order: other/api, then shop/api.
    assert_eq!(
        kinds(egress(&p, 0)),
        [pods("other", "app=api2"), pods("shop", "app=api")]
    );
    // A namespace that holds no such Service matches nothing.
    let text = cnp("  - toServices: [{k8sService: {serviceName: api, namespace: nowhere}}]\n");
    matches_no_service(&text);
}

#[test]
fn k8s_service_selector_matches_the_services_labels() {
    // serviceSelectorMatches: the Service's labels, not its pod selector.
    let text = cnp(
        "  - toServices: [{k8sServiceSelector: {selector: {matchLabels: {tier: backend}}, namespace: shop}}]\n",
    );
    let (_, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), [pods("shop", "app=api")]);
    // Without a namespace: both backend Services.
    let text = cnp(
        "  - toServices: [{k8sServiceSelector: {selector: {matchExpressions: [{key: tier, operator: In, values: [backend]}]}}}]\n",
    );
    let (_, p) = load(&text);
    assert_eq!(
        kinds(egress(&p, 0)),
        [pods("other", "app=api2"), pods("shop", "app=api")]
    );
    // `app: api` is a pod label, on no Service: nothing.
    let text =
        cnp("  - toServices: [{k8sServiceSelector: {selector: {matchLabels: {app: api}}}}]\n");
    matches_no_service(&text);
}

#[test]
fn a_service_without_a_selector_becomes_the_cidrs_of_its_endpoint_slices() {
    let text = cnp("  - toServices: [{k8sService: {serviceName: ext, namespace: shop}}]\n");
    let (loaded, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), ext());
    assert!(warnings(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
    // The selector form reaches it too (labelled tier: external); shop/proxied, also
    // tier: external, is left to another proxy and Cilium never sees it.
    let text = cnp(
        "  - toServices: [{k8sServiceSelector: {selector: {matchLabels: {tier: external}}}}]\n",
    );
    let (_, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), ext());
}

#[test]
fn an_empty_selector_is_no_selector() {
    // MinimalService.IsExternal: `len(Selector) == 0`; Kubernetes makes no endpoints
    // for it either, so its slices are the ones written by hand.
    let text = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: empty, namespace: shop}}\nspec: {{selector: {{}}, ports: [{{port: 1}}]}}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: empty-1, namespace: shop, labels: {{kubernetes.io/service-name: empty}}}}\naddressType: IPv4\nendpoints:\n- addresses: [192.0.2.7]\n---\n{}",
        cnp("  - toServices: [{k8sService: {serviceName: empty, namespace: shop}}]\n")
    );
    let (_, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), [host("192.0.2.7")]);
}

#[test]
fn entries_add_up_and_their_ports_stay() {
    let text = cnp(
        "  - toServices:\n    - k8sService: {serviceName: api, namespace: shop}\n    - k8sService: {serviceName: ext, namespace: shop}\n    - k8sService: {serviceName: api, namespace: shop}\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n",
    );
    let (_, p) = load(&text);
    let mut want = vec![pods("shop", "app=api")];
    want.extend(ext());
    // The repeated entry adds nothing new.
    assert_eq!(kinds(egress(&p, 0)), want);
    assert!(egress(&p, 0).ports.is_some());
    assert_eq!(egress(&p, 0).services.len(), 3);
    assert_eq!(
        egress(&p, 0).services[1].matches,
        CiliumServiceMatch::Name("ext".into())
    );
}

#[test]
fn a_rule_whose_services_give_no_peer_allows_nothing_or_its_ports_to_everyone() {
    // Without ports: no L3 selector and no L4, nothing.
    let text = cnp("  - toServices: [{k8sService: {serviceName: gone, namespace: shop}}]\n");
    matches_no_service(&text);
    // With toPorts: the empty L3 selects every endpoint on those ports
    // (RulesToPolicyEntries; cilium/cilium#20067).
    let text = cnp(
        "  - toServices: [{k8sService: {serviceName: gone, namespace: shop}}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n",
    );
    let (loaded, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), [CiliumPeerKind::All]);
    let rule_line = line_of(&text, "- toServices");
    assert_eq!(
        warnings(&loaded),
        [
            ("cilium-service-wildcard", rule_line),
            ("cilium-service-missing", rule_line),
        ]
    );
    // `toServices: []` is no L3 field at all: every peer on the ports, no warning.
    let text =
        cnp("  - toServices: []\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n");
    let (loaded, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), [CiliumPeerKind::All]);
    assert!(warnings(&loaded).is_empty(), "{:#?}", loaded.diagnostics);
}

#[test]
fn a_selectorless_service_without_slices_gives_no_peer() {
    let text = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: bare, namespace: shop}}\nspec: {{ports: [{{port: 1}}]}}\n---\n{}",
        cnp("  - toServices: [{k8sService: {serviceName: bare, namespace: shop}}]\n")
    );
    let (loaded, p) = load(&text);
    assert!(egress(&p, 0).peers.is_empty());
    assert_eq!(
        warnings(&loaded),
        [("cilium-service-no-endpoints", line_of(&text, "toServices"))]
    );
}

#[test]
fn deny_rules_are_never_resolved() {
    // processRule walks `Egress` only.
    let text = cnp("  - {}\n").replace(
        "  egress:\n",
        "  egressDeny:\n  - toServices: [{k8sService: {serviceName: api, namespace: shop}}]\n  egress:\n",
    );
    let (loaded, p) = load(&text);
    assert!(p.specs[0].egress_deny[0].peers.is_empty());
    assert_eq!(
        warnings(&loaded),
        [("cilium-service-deny", line_of(&text, "- toServices"))]
    );
    // With ports, the empty L3 denies them toward every destination.
    let text = cnp("  - {}\n").replace(
        "  egress:\n",
        "  egressDeny:\n  - toServices: [{k8sService: {serviceName: api, namespace: shop}}]\n    toPorts: [{ports: [{port: \"25\", protocol: TCP}]}]\n  egress:\n",
    );
    let (loaded, p) = load(&text);
    assert_eq!(kinds(&p.specs[0].egress_deny[0]), [CiliumPeerKind::All]);
    let line = line_of(&text, "- toServices");
    // Same line: the rule (column 5) before its `toServices` list.
    assert_eq!(
        warnings(&loaded),
        [
            ("cilium-service-wildcard", line),
            ("cilium-service-deny", line)
        ]
    );
}

#[test]
fn a_clusterwide_policy_resolves_the_same_way() {
    let text = format!(
        "{WORLD}apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: c}}\nspec:\n  endpointSelector: {{}}\n  egress:\n  - toServices: [{{k8sService: {{serviceName: api, namespace: other}}}}]\n"
    );
    let (_, p) = load(&text);
    // The generated selector names its namespace, so no `Exists` namespace match is
    // added and it stays "pods of other/api's selector".
    assert_eq!(kinds(egress(&p, 0)), [pods("other", "app=api2")]);
}

#[test]
fn both_members_use_the_selector() {
    // processRule tests K8sServiceSelector first and ignores K8sService then.
    let text = cnp(
        "  - toServices:\n    - k8sServiceSelector: {selector: {matchLabels: {tier: external}}, namespace: shop}\n      k8sService: {serviceName: api, namespace: shop}\n",
    );
    let (loaded, p) = load(&text);
    assert_eq!(kinds(egress(&p, 0)), ext());
    assert_eq!(
        warnings(&loaded),
        [("cilium-service", line_of(&text, "k8sService: {serviceName"))]
    );
    // Neither: an entry that matches nothing, warned where it is.
    let text = cnp("  - toServices: [{}]\n");
    let (loaded, p) = load(&text);
    assert!(egress(&p, 0).peers.is_empty());
    let line = line_of(&text, "toServices");
    assert_eq!(
        warnings(&loaded),
        [("cilium-service", line), ("cilium-service-missing", line)]
    );
}

/// Asserts exactly one error, `code` at the line holding `marker`, and no policy.
fn rejects(text: &str, code: &str, marker: &str) {
    let loaded = load_str("t.yaml", text);
    assert_eq!(
        errors(&loaded),
        vec![(code, line_of(text, marker))],
        "{:#?}",
        loaded.diagnostics
    );
    assert!(loaded.cluster.cilium_policies.is_empty());
}

#[test]
fn entries_are_validated_at_their_lines() {
    // The CRD requires `selector` in k8sServiceSelector.
    rejects(
        &cnp("  - toServices:\n    - k8sServiceSelector: {namespace: shop}\n"),
        "missing-field",
        "k8sServiceSelector",
    );
    // The selector is a label selector: operators are an enum.
    rejects(
        &cnp(
            "  - toServices:\n    - k8sServiceSelector:\n        selector: {matchExpressions: [{key: tier, operator: Has}]}\n",
        ),
        "invalid-selector",
        "operator: Has",
    );
    // Strings where the schema says string.
    rejects(
        &cnp("  - toServices:\n    - k8sService: {serviceName: api, namespace: [shop]}\n"),
        "invalid-type",
        "namespace: [shop]",
    );
    // One L3 field per rule (l3Members counts ToServices).
    rejects(
        &cnp("  - toEndpoints: [{}]\n    toServices: [{k8sService: {serviceName: api}}]\n"),
        "invalid-peer",
        "toServices",
    );
}

#[test]
fn endpoint_slices_are_validated_as_the_api_server_does() {
    let slice = |body: &str| {
        format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: s, namespace: shop}}\n{body}"
        )
    };
    let check = |text: &str, code: &str, marker: &str| {
        let loaded = load_str("t.yaml", text);
        assert_eq!(
            errors(&loaded),
            vec![(code, line_of(text, marker))],
            "{:#?}",
            loaded.diagnostics
        );
        assert!(loaded.cluster.endpoint_slices.is_empty());
    };
    // At the object, which starts at `apiVersion`.
    check(&slice("endpoints: []\n"), "missing-field", "apiVersion");
    check(
        &slice("addressType: IPv5\n"),
        "invalid-value",
        "addressType",
    );
    check(
        &slice("addressType: IPv4\nendpoints:\n- addresses: [\"2001:db8::1\"]\n"),
        "invalid-address",
        "2001:db8::1",
    );
    check(
        &slice("addressType: IPv4\nendpoints:\n- addresses: []\n"),
        "invalid-value",
        "addresses: []",
    );
    check(
        &slice(
            "addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  conditions: {ready: yes please}\n",
        ),
        "invalid-type",
        "conditions",
    );
    // A clean one is read; another version is skipped as any kind kubeseg does not read.
    let loaded = load_str(
        "t.yaml",
        &format!(
            "{}---\napiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {{name: old, namespace: shop}}\naddressType: IPv4\n",
            slice(
                "addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  conditions: {ready: false}\n"
            )
        ),
    );
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let s = &loaded.cluster.endpoint_slices;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].endpoints[0].ready, Some(false));
    assert!(!s[0].endpoints[0].serving());
    assert_eq!(loaded.skipped.get("EndpointSlice"), Some(&1));
}
