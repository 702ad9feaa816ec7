//! Cilium's policies (cilium.io/v2 CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy):
//! the agent's rewriting and every validation error at its line. Expected values are
//! derived by hand from cilium/cilium: `pkg/k8s/apis/cilium.io/utils/utils.go`
//! (utils.go), `pkg/policy/api/rule_validation.go` (rule_validation.go),
//! `pkg/k8s/apis/cilium.io/v2/cnp_types.go` (cnp_types.go).
#![allow(clippy::print_stderr)]

mod common;

use common::{errors, line_of};
use kubeseg_model::{
    Cidr, CiliumPeerKind, CiliumPolicy, CiliumRule, CiliumSubject, Entity, PodSet, PortMatch,
    PortRule, Protocol, Selector, Severity,
};
use kubeseg_sources::{Loaded, load_str};

/// Asserts exactly one error, `code` at the line holding `marker`, and that the policy
/// was dropped; returns its message.
fn rejects(text: &str, code: &str, marker: &str) -> String {
    let loaded = load_str("t.yaml", text);
    assert_eq!(
        errors(&loaded),
        vec![(code, line_of(text, marker))],
        "{:#?}",
        loaded.diagnostics
    );
    assert!(loaded.cluster.cilium_policies.is_empty());
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .unwrap();
    d.message.clone()
}

/// Asserts a warning `code` at the line holding `marker`; returns its message.
fn warns(loaded: &Loaded, text: &str, code: &str, marker: &str) -> String {
    let line = line_of(text, marker);
    loaded
        .diagnostics
        .iter()
        .find(|d| {
            d.severity == Severity::Warning
                && d.code == code
                && d.location.as_ref().is_some_and(|l| l.line == line)
        })
        .unwrap_or_else(|| panic!("no {code} at line {line}: {:#?}", loaded.diagnostics))
        .message
        .clone()
}

fn load_one(text: &str) -> (Loaded, CiliumPolicy) {
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.cluster.cilium_policies.len(), 1);
    let p = loaded.cluster.cilium_policies[0].clone();
    (loaded, p)
}

fn one(text: &str) -> CiliumPolicy {
    load_one(text).1
}

/// A CiliumNetworkPolicy `p` in namespace `shop` with this spec (indented by 2).
fn cnp(spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: p, namespace: shop}}\nspec:\n{spec}"
    )
}

/// A CiliumClusterwideNetworkPolicy `c` with this spec (indented by 2).
fn ccnp(spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: c}}\nspec:\n{spec}"
    )
}

fn sel(text: &str) -> Selector {
    Selector::parse(text).unwrap()
}

fn pods(namespaces: &str, pods: &str) -> PodSet {
    PodSet {
        namespaces: sel(namespaces),
        pods: sel(pods),
    }
}

fn kinds(rule: &CiliumRule) -> Vec<CiliumPeerKind> {
    rule.peers.iter().map(|p| p.kind.clone()).collect()
}

fn subject(p: &CiliumPolicy) -> PodSet {
    match &p.specs[0].subject {
        CiliumSubject::Pods(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

fn rule(protocol: Protocol, port: PortMatch) -> PortRule {
    PortRule { protocol, port }
}

fn every_protocol(port: PortMatch) -> Vec<PortRule> {
    // TCP, UDP and SCTP (Cilium's ANY and named ports never mean ICMP).
    Protocol::PORTED
        .iter()
        .map(|&p| rule(p, port.clone()))
        .collect()
}

fn ingress_peer(text: &str) -> CiliumPeerKind {
    let p = one(text);
    kinds(&p.specs[0].ingress[0]).remove(0)
}

// utils.go ParseToCiliumRule: a CNP's subject gets `k8s:io.kubernetes.pod.namespace=<ns>`;
// getEndpointSelector: a peer naming no namespace gets the same.
#[test]
fn cnp_subject_and_peers_are_confined_to_the_namespace() {
    let p = one(&cnp(
        "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {app: client}\n",
    ));
    assert_eq!(p.kind, "CiliumNetworkPolicy");
    assert_eq!((p.namespace.as_str(), p.name.as_str()), ("shop", "p"));
    assert_eq!(p.specs.len(), 1);
    assert_eq!(
        subject(&p),
        pods("kubernetes.io/metadata.name=shop", "app=web")
    );
    let r = &p.specs[0].ingress[0];
    assert_eq!(
        kinds(r),
        vec![CiliumPeerKind::Pods(pods(
            "kubernetes.io/metadata.name=shop",
            "app=client"
        ))]
    );
    assert_eq!(r.ports, None);
    assert!(r.l7.is_empty());
    // rule_validation.go Sanitize: ingress has entries, egress none.
    assert!(p.specs[0].default_deny_ingress);
    assert!(!p.specs[0].default_deny_egress);
}

// pkg/labels GetExtendedKeyFrom: `k8s:` and `any:` are sources; pods' labels are `k8s:`.
#[test]
fn source_prefixes_are_stripped() {
    let p = one(&cnp(
        "  endpointSelector:\n    matchLabels: {\"k8s:app\": web, \"any:tier\": db}\n    matchExpressions: [{key: \"k8s:env\", operator: In, values: [prod]}]\n  egress: [{}]\n",
    ));
    let mut want = pods("kubernetes.io/metadata.name=shop", "app=web,tier=db");
    want.pods.match_expressions = sel("env in (prod)").match_expressions;
    assert_eq!(subject(&p), want);
}

// getEndpointSelector: a peer that names the namespace key keeps its own namespace.
#[test]
fn pod_namespace_key_becomes_a_namespace_requirement() {
    let peer = ingress_peer(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {\"k8s:io.kubernetes.pod.namespace\": other, app: x}\n",
    ));
    assert_eq!(
        peer,
        CiliumPeerKind::Pods(pods("kubernetes.io/metadata.name=other", "app=x"))
    );
    let peer = ingress_peer(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchExpressions: [{key: io.kubernetes.pod.namespace, operator: In, values: [b, a]}]\n",
    ));
    assert_eq!(
        peer,
        CiliumPeerKind::Pods(pods("kubernetes.io/metadata.name in (a,b)", ""))
    );
}

// getEndpointSelector (newest): a namespace-label key also keeps the policy's namespace out.
#[test]
fn namespace_label_keys_select_namespaces() {
    let peer = ingress_peer(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {io.cilium.k8s.namespace.labels.team: t, app: x}\n",
    ));
    assert_eq!(peer, CiliumPeerKind::Pods(pods("team=t", "app=x")));
}

// utils.go: a CCNP gets no namespace; `{}` peers get `Exists io.kubernetes.pod.namespace`,
// which every pod has: all namespaces, pods only.
#[test]
fn ccnp_selects_every_namespace() {
    let p = one(&ccnp(
        "  endpointSelector: {}\n  egress:\n  - toEndpoints: [{}]\n",
    ));
    assert_eq!(
        (p.kind.as_str(), p.namespace.as_str()),
        ("CiliumClusterwideNetworkPolicy", "")
    );
    assert_eq!(subject(&p), pods("", ""));
    assert_eq!(
        kinds(&p.specs[0].egress[0]),
        vec![CiliumPeerKind::Pods(pods("", ""))]
    );
    assert!(!p.specs[0].default_deny_ingress);
    assert!(p.specs[0].default_deny_egress);
}

// ParseToCiliumRule: AddMatch overwrites a `k8s:` namespace match on the subject; an
// unprefixed one (`any:`) stays and both must hold.
#[test]
fn cnp_subject_namespace_is_overridden() {
    let text = cnp(
        "  endpointSelector:\n    matchLabels: {\"k8s:io.kubernetes.pod.namespace\": other}\n  ingress: [{}]\n",
    );
    let (loaded, p) = load_one(&text);
    assert_eq!(subject(&p), pods("kubernetes.io/metadata.name=shop", ""));
    let m = warns(&loaded, &text, "cilium-namespace", "k8s:io.kubernetes");
    assert!(m.contains("replaces"), "{m}");

    let text = cnp(
        "  endpointSelector:\n    matchLabels: {io.kubernetes.pod.namespace: other}\n  ingress: [{}]\n",
    );
    let (loaded, p) = load_one(&text);
    let mut want = pods("kubernetes.io/metadata.name=shop", "");
    want.namespaces.match_expressions =
        sel("kubernetes.io/metadata.name in (other)").match_expressions;
    assert_eq!(subject(&p), want);
    let m = warns(
        &loaded,
        &text,
        "cilium-namespace",
        "io.kubernetes.pod.namespace",
    );
    assert!(m.contains("both must hold"), "{m}");

    // Naming its own namespace is no conflict.
    let text = cnp(
        "  endpointSelector:\n    matchLabels: {io.kubernetes.pod.namespace: shop}\n  ingress: [{}]\n",
    );
    let (loaded, p) = load_one(&text);
    assert_eq!(subject(&p), pods("kubernetes.io/metadata.name=shop", ""));
    assert!(
        !loaded
            .diagnostics
            .iter()
            .any(|d| d.code == "cilium-namespace")
    );
}

#[test]
fn unmodelled_selector_keys_are_rejected() {
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {\"reserved:host\": \"\"}\n",
    );
    rejects(&text, "unsupported-selector", "reserved:host");
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchExpressions: [{key: \"cidr:10.0.0.0/8\", operator: Exists}]\n",
    );
    rejects(&text, "unsupported-selector", "cidr:");
    let text = cnp(
        "  endpointSelector:\n    matchLabels: {io.cilium.k8s.policy.serviceaccount: sa}\n  ingress: [{}]\n",
    );
    let m = rejects(&text, "unsupported-selector", "serviceaccount");
    assert!(m.contains("not modelled yet"), "{m}");
    let text = cnp(
        "  endpointSelector: {}\n  egress:\n  - toEndpoints:\n    - matchLabels: {\"k8s:io.cilium.k8s.policy.cluster\": c1}\n",
    );
    rejects(&text, "unsupported-selector", "policy.cluster");
}

// cnp_types.go Parse: spec first, then every entry of specs.
#[test]
fn spec_then_specs() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: a}}\n  ingress: [{}]\nspecs:\n- endpointSelector: {matchLabels: {app: b}}\n  egress: [{}]\n- endpointSelector: {matchLabels: {app: c}}\n  ingressDeny: [{}]\n";
    let p = one(text);
    let apps: Vec<PodSet> = p
        .specs
        .iter()
        .map(|s| match &s.subject {
            CiliumSubject::Pods(p) => p.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        apps,
        ["a", "b", "c"]
            .iter()
            .map(|a| pods("kubernetes.io/metadata.name=shop", &format!("app={a}")))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        p.specs[1].location.as_ref().unwrap().line,
        line_of(text, "app: b")
    );
}

// cnp_types.go: ErrEmptyCNP when both spec and specs are nil.
#[test]
fn a_policy_needs_spec_or_specs() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n";
    let m = rejects(text, "missing-spec", "apiVersion");
    assert!(m.contains("empty policy"), "{m}");
}

// rule_validation.go Rule.Validate; cnp_types.go "rule cannot have NodeSelector".
#[test]
fn exactly_one_subject_selector() {
    let text = cnp("  endpointSelector: {}\n  nodeSelector: {}\n  ingress: [{}]\n");
    let m = rejects(&text, "invalid-field-count", "nodeSelector");
    assert!(m.contains("cannot have both"), "{m}");
    // A mapping is located at its first key.
    let text = cnp("  ingress: [{}]\n");
    let m = rejects(&text, "invalid-field-count", "ingress");
    assert!(m.contains("must have one of"), "{m}");
    let text = cnp("  nodeSelector: {}\n  ingress: [{}]\n");
    rejects(&text, "invalid-field-count", "nodeSelector");
    // A CCNP may guard nodes: decoded, and reported as unmodelled.
    let text = ccnp("  nodeSelector: {matchLabels: {\"k8s:role\": edge}}\n  ingress: [{}]\n");
    let (loaded, p) = load_one(&text);
    assert!(matches!(&p.specs[0].subject, CiliumSubject::Nodes(s) if *s == sel("role=edge")));
    warns(&loaded, &text, "unmodelled-policy", "nodeSelector");
}

// The CRD's anyOf over the four lists; Rule.Validate (newest).
#[test]
fn a_rule_needs_a_rule_list() {
    let text = cnp("  endpointSelector: {}\n  description: nothing\n");
    rejects(&text, "empty-rule", "endpointSelector");
}

// rule_validation.go IngressCommonRule.Validate / EgressCommonRule.Validate: L3 fields
// with entries may not be combined; an empty one does not count (`len > 0`).
#[test]
fn l3_fields_cannot_be_combined() {
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{}]\n    fromCIDR: [10.0.0.0/8]\n",
    );
    let m = rejects(&text, "invalid-peer", "fromCIDR");
    assert!(
        m.starts_with("combining FromEndpoints and FromCIDR is not supported yet"),
        "{m}"
    );
    let text = cnp(
        "  endpointSelector: {}\n  egress:\n  - toFQDNs: [{matchName: a.example}]\n    toEntities: [world]\n",
    );
    let m = rejects(&text, "invalid-peer", "toEntities");
    assert!(m.starts_with("combining ToFQDNs and ToEntities"), "{m}");
    let p = one(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints: []\n    fromCIDR: [10.0.0.0/8]\n",
    ));
    assert_eq!(p.specs[0].ingress[0].peers.len(), 1);
}

#[test]
fn cidrs_and_cidr_sets() {
    let peer = ingress_peer(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromCIDR: [192.0.2.0/24]\n",
    ));
    assert_eq!(
        peer,
        CiliumPeerKind::Cidr {
            written: "192.0.2.0/24".into(),
            addresses: Cidr::parse("192.0.2.0/24").unwrap().to_set()
        }
    );
    let peer = ingress_peer(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromCIDRSet:\n    - {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n",
    ));
    let want = Cidr::parse("10.0.0.0/8")
        .unwrap()
        .to_set()
        .difference(&Cidr::parse("10.1.0.0/16").unwrap().to_set());
    assert_eq!(
        peer,
        CiliumPeerKind::Cidr {
            written: "10.0.0.0/8 except 10.1.0.0/16".into(),
            addresses: want
        }
    );
    // The CRD's CIDR pattern needs a prefix length.
    rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - fromCIDR: [192.0.2.1]\n"),
        "invalid-cidr",
        "192.0.2.1",
    );
    // CIDRRule.Validate: every except lies inside the CIDR, same family, no shorter prefix.
    for except in ["10.1.0.0/16", "192.168.0.0/16", "10.0.0.0/7", "::/0"] {
        let text = cnp(&format!(
            "  endpointSelector: {{}}\n  ingress:\n  - fromCIDRSet:\n    - cidr: 10.0.0.0/8\n      except: [{except}]\n"
        ));
        if except == "10.1.0.0/16" {
            one(&text);
        } else {
            let m = rejects(&text, "invalid-cidr", "except");
            assert!(m.contains("does not contain"), "{m}");
        }
    }
    let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromCIDRSet: [{cidrGroupRef: g}]\n");
    rejects(&text, "unsupported-field", "cidrGroupRef");
}

// rule_validation.go PortProtocol.Validate, ParseL4Proto ("" is ANY).
#[test]
fn ports_protocols_and_names() {
    let p = one(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports:\n      - {port: \"80\", protocol: TCP}\n      - {port: \"8000\", endPort: 8100, protocol: UDP}\n    - ports:\n      - {port: \"0\", protocol: SCTP}\n      - {port: HTTP-Alt}\n",
    ));
    let r = &p.specs[0].ingress[0];
    // No L3 field and ports: any peer on them.
    assert_eq!(kinds(r), vec![CiliumPeerKind::All]);
    let mut want = vec![
        rule(Protocol::Tcp, PortMatch::Range(80, 80)),
        rule(Protocol::Udp, PortMatch::Range(8000, 8100)),
        rule(Protocol::Sctp, PortMatch::Any),
    ];
    want.extend(every_protocol(PortMatch::Named("http-alt".into())));
    want.sort();
    assert_eq!(r.ports.as_ref().unwrap(), &want);

    let p = one(&cnp(
        "  endpointSelector: {}\n  egress:\n  - toPorts: [{ports: [{port: \"53\"}]}]\n",
    ));
    assert_eq!(
        p.specs[0].egress[0].ports.as_ref().unwrap(),
        &every_protocol(PortMatch::Range(53, 53))
    );

    // The CRD types `port` as a string.
    rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: 80}]}]\n"),
        "invalid-type",
        "port: 80",
    );
    rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"70000\"}]}]\n"),
        "invalid-port",
        "70000",
    );
    let m = rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{protocol: TCP}]}]\n"),
        "invalid-port",
        "protocol: TCP",
    );
    assert!(m.contains("port must be specified"), "{m}");
    rejects(
        &cnp(
            "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"80\", protocol: tcp}]}]\n",
        ),
        "invalid-protocol",
        "tcp",
    );

    // strconv.ParseUint(port, 0, 16): a leading 0 is octal.
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"0443\", protocol: TCP}]}]\n",
    );
    let (loaded, p) = load_one(&text);
    assert_eq!(
        p.specs[0].ingress[0].ports.as_ref().unwrap(),
        &vec![rule(Protocol::Tcp, PortMatch::Range(291, 291))]
    );
    warns(&loaded, &text, "cilium-port", "0443");
}

// rule_validation.go PortRule.Validate: L7 only on TCP (but DNS), no DNS on ingress.
#[test]
fn l7_rules_are_recorded_and_warned() {
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports: [{port: \"80\", protocol: TCP}]\n      rules:\n        http: [{method: GET}]\n",
    );
    let (loaded, p) = load_one(&text);
    let r = &p.specs[0].ingress[0];
    assert_eq!(r.l7, vec!["http".to_string()]);
    assert_eq!(
        r.ports.as_ref().unwrap(),
        &vec![rule(Protocol::Tcp, PortMatch::Range(80, 80))]
    );
    let m = warns(&loaded, &text, "cilium-l7", "rules:");
    assert!(
        m.contains("as allowed only under the rules (conditional)"),
        "{m}"
    );

    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports: [{port: \"80\"}]\n      rules:\n        http: [{method: GET}]\n",
    );
    let m = rejects(&text, "invalid-l7", "port: \"80\"");
    assert!(m.contains("not ANY"), "{m}");
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports: [{port: \"53\", protocol: UDP}]\n      rules:\n        dns: [{matchPattern: \"*\"}]\n",
    );
    rejects(&text, "invalid-l7", "rules:");
    let text = cnp(
        "  endpointSelector: {}\n  egress:\n  - toPorts:\n    - ports: [{port: \"53\", protocol: ANY}]\n      rules:\n        dns: [{matchPattern: \"*\"}]\n",
    );
    assert_eq!(one(&text).specs[0].egress[0].l7, vec!["dns".to_string()]);
    // Deny rules are L4 only: PortDenyRule has no `rules`.
    let text = cnp(
        "  endpointSelector: {}\n  ingressDeny:\n  - toPorts:\n    - ports: [{port: \"80\", protocol: TCP}]\n      rules:\n        http: [{method: GET}]\n",
    );
    rejects(&text, "unknown-field", "rules:");
}

// entity.go EntitySelectorMapping.
#[test]
fn entities() {
    let p = one(&cnp(
        "  endpointSelector: {}\n  egress:\n  - toEntities: [all, world, none]\n",
    ));
    assert_eq!(
        kinds(&p.specs[0].egress[0]),
        vec![
            CiliumPeerKind::All,
            CiliumPeerKind::Entity(Entity::World),
            CiliumPeerKind::Entity(Entity::None)
        ]
    );
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEntities:\n    - host\n    - kube-apiserver\n    - health\n",
    );
    let (loaded, _) = load_one(&text);
    assert!(warns(&loaded, &text, "cilium-entity", "- host").contains("every node"));
    assert!(warns(&loaded, &text, "cilium-entity", "kube-apiserver").contains("matches nothing"));
    assert!(warns(&loaded, &text, "cilium-entity", "health").contains("matches nothing"));
    let m = rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - fromEntities: [internet]\n"),
        "invalid-entity",
        "internet",
    );
    assert!(m.starts_with("unsupported entity: internet"), "{m}");
}

#[test]
fn fqdns() {
    let p = one(&cnp(
        "  endpointSelector: {}\n  egress:\n  - toFQDNs:\n    - matchName: API.Example.com.\n    - matchPattern: \"*.example.org\"\n",
    ));
    assert_eq!(
        kinds(&p.specs[0].egress[0]),
        vec![
            CiliumPeerKind::Fqdns(vec!["api.example.com".into()]),
            CiliumPeerKind::Fqdns(vec!["*.example.org".into()])
        ]
    );
    rejects(
        &cnp(
            "  endpointSelector: {}\n  egress:\n  - toFQDNs:\n    - {matchName: a.example, matchPattern: \"*.b\"}\n",
        ),
        "invalid-fqdn",
        "matchName",
    );
    // EgressDenyRule has no toFQDNs.
    rejects(
        &cnp("  endpointSelector: {}\n  egressDeny:\n  - toFQDNs: [{matchName: a.example}]\n"),
        "unknown-field",
        "toFQDNs",
    );
}

#[test]
fn unsupported_and_unmodelled_fields() {
    for (dir, field) in [
        ("ingress", "fromRequires"),
        ("egress", "toRequires"),
        ("egress", "toGroups"),
        ("ingress", "fromGroups"),
    ] {
        let text = cnp(&format!(
            "  endpointSelector: {{}}\n  {dir}:\n  - {field}: [{{}}]\n"
        ));
        let m = rejects(&text, "unsupported-field", field);
        assert!(m.contains(field), "{m}");
    }
    // ICMP in toPorts is not modelled (kubeseg reads ICMP from `icmps`): it opens nothing.
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"8\", protocol: ICMP}]}]\n",
    );
    let (loaded, p) = load_one(&text);
    assert_eq!(p.specs[0].ingress[0].ports, Some(vec![]));
    warns(&loaded, &text, "cilium-icmp", "protocol: ICMP");
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEntities: [world]\n    authentication: {mode: required}\n",
    );
    let (loaded, _) = load_one(&text);
    warns(&loaded, &text, "cilium-auth", "authentication");
    let text = cnp(
        "  endpointSelector: {}\n  egress:\n  - toPorts:\n    - ports: [{port: \"443\", protocol: TCP}]\n      serverNames: [a.example]\n",
    );
    let (loaded, _) = load_one(&text);
    warns(&loaded, &text, "cilium-tls", "serverNames");
}

// rule_validation.go Rule.Sanitize: unset → len(dir) > 0 || len(dirDeny) > 0.
#[test]
fn default_deny_follows_sanitize() {
    // `ingress: [{}]` denies all: one rule without peers (cilium-cli deny-all-ingress.yaml).
    let p = one(&cnp("  endpointSelector: {}\n  ingress: [{}]\n"));
    let s = &p.specs[0];
    assert!(s.default_deny_ingress && !s.default_deny_egress);
    assert!(s.ingress[0].peers.is_empty());
    assert_eq!(s.ingress[0].ports, None);
    // `ingress: []` has no entries: no default deny.
    let p = one(&cnp(
        "  endpointSelector: {}\n  ingress: []\n  egressDeny: [{toEntities: [world]}]\n",
    ));
    assert!(!p.specs[0].default_deny_ingress && p.specs[0].default_deny_egress);
    // Explicit values win.
    let p = one(&cnp(
        "  endpointSelector: {}\n  enableDefaultDeny: {ingress: false}\n  ingress: [{fromEntities: [world]}]\n  egress: []\n",
    ));
    assert!(!p.specs[0].default_deny_ingress && !p.specs[0].default_deny_egress);
    let p = one(&cnp(
        "  endpointSelector: {}\n  enableDefaultDeny: {egress: true}\n  ingressDeny: [{fromEntities: [world]}]\n",
    ));
    assert!(p.specs[0].default_deny_ingress && p.specs[0].default_deny_egress);
    rejects(
        &cnp("  endpointSelector: {}\n  enableDefaultDeny: {ingress: \"no\"}\n  ingress: [{}]\n"),
        "invalid-type",
        "enableDefaultDeny",
    );
}

// An explicitly empty peer list selects nothing (design doc §3, mergeEndpointSelectors).
#[test]
fn empty_peer_list_selects_nothing() {
    let p = one(&cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints: []\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n",
    ));
    assert!(p.specs[0].ingress[0].peers.is_empty());
}

#[test]
fn unknown_fields_are_warned_with_did_you_mean() {
    let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromEndpoint: [{}]\n");
    let loaded = load_str("t.yaml", &text);
    let m = warns(&loaded, &text, "unknown-field", "fromEndpoint");
    assert!(m.contains("did you mean `fromEndpoints`"), "{m}");
}

#[test]
fn other_versions_are_reported_unmodelled() {
    let text = "apiVersion: cilium.io/v2alpha1\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {endpointSelector: {}, ingress: [{}]}\n";
    let loaded = load_str("t.yaml", text);
    assert!(loaded.cluster.cilium_policies.is_empty());
    warns(&loaded, text, "unmodelled-policy", "apiVersion");
}

// One object per kind, namespace and name; CNPs by (namespace, name), then CCNPs by name.
#[test]
fn assembled_once_each_and_sorted() {
    let doc = |kind: &str, ns: &str, name: &str, app: &str| {
        let ns = if ns.is_empty() {
            String::new()
        } else {
            format!(", namespace: {ns}")
        };
        format!(
            "apiVersion: cilium.io/v2\nkind: {kind}\nmetadata: {{name: {name}{ns}}}\nspec: {{endpointSelector: {{matchLabels: {{app: a{app}}}}}, ingress: [{{}}]}}\n"
        )
    };
    let text = [
        doc("CiliumClusterwideNetworkPolicy", "", "z", "1"),
        doc("CiliumNetworkPolicy", "b", "x", "2"),
        doc("CiliumClusterwideNetworkPolicy", "", "a", "3"),
        doc("CiliumNetworkPolicy", "a", "m", "4"),
        doc("CiliumNetworkPolicy", "b", "x", "5"),
        doc("CiliumNetworkPolicy", "a", "z", "6"),
    ]
    .join("---\n");
    let loaded = load_str("t.yaml", &text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let ids: Vec<String> = loaded
        .cluster
        .cilium_policies
        .iter()
        .map(CiliumPolicy::id)
        .collect();
    assert_eq!(
        ids,
        [
            "CiliumNetworkPolicy/a/m",
            "CiliumNetworkPolicy/a/z",
            "CiliumNetworkPolicy/b/x",
            "CiliumClusterwideNetworkPolicy/a",
            "CiliumClusterwideNetworkPolicy/z"
        ]
    );
    // The later b/x replaced the earlier one.
    let bx = &loaded.cluster.cilium_policies[2];
    assert_eq!(subject(bx).pods, sel("app=a5"));
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .filter(|d| d.code == "duplicate-object")
            .count(),
        1
    );
    assert!(loaded.cluster.namespace("b").is_some());
}

// rule_validation.go: host policies take no L7 rules on ingress; ICMPs and ToPorts
// need separate rules (errUnsupportedICMPWithToPorts).
#[test]
fn host_l7_and_icmp_with_ports_are_rejected() {
    let text = ccnp(
        "  nodeSelector: {}\n  ingress:\n  - toPorts:\n    - ports: [{port: \"80\", protocol: TCP}]\n      rules:\n        http: [{method: GET}]\n",
    );
    let m = rejects(&text, "invalid-l7", "rules:");
    assert!(m.contains("host ingress"), "{m}");
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n    icmps: [{fields: [{type: 8}]}]\n",
    );
    let m = rejects(&text, "invalid-port", "icmps");
    assert!(
        m.starts_with("the ICMPs block may only be present without ToPorts"),
        "{m}"
    );
}

// icmp.go: `ICMPField` (family IPv4 by default or IPv6; type 0-255 or the family's
// CamelCase name, checked by `UnmarshalJSON`) becomes a `PortProtocol` of ICMP or ICMPv6
// whose port is the type; utils.go `RulesToPolicyEntries` appends it to the rule's L4
// part beside `toPorts`, for allow and deny rules alike. Expected values by hand:
// EchoRequest is IPv4 type 8 and IPv6 type 128, any code (messages type*256..+255).
#[test]
fn icmps_become_icmp_port_rules() {
    let text = cnp(
        "  endpointSelector: {}\n  ingress:\n  - fromEntities: [world]\n    icmps:\n    - fields:\n      - type: EchoRequest\n      - {family: IPv6, type: EchoRequest}\n      - {family: IPv4, type: 3}\n      - {type: \"11\"}\n",
    );
    let (loaded, p) = load_one(&text);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let icmp = |protocol, t: u16| rule(protocol, PortMatch::Range(t * 256, t * 256 + 255));
    assert_eq!(
        p.specs[0].ingress[0].ports,
        Some(vec![
            icmp(Protocol::Icmp, 3),
            icmp(Protocol::Icmp, 8),
            icmp(Protocol::Icmp, 11),
            icmp(Protocol::IcmpV6, 128),
        ])
    );
    // Without an L3 field the rule matches every peer, as with toPorts; a deny takes
    // icmps too.
    let p = one(&cnp(
        "  endpointSelector: {}\n  egressDeny:\n  - icmps: [{fields: [{type: 8}]}]\n",
    ));
    assert_eq!(kinds(&p.specs[0].egress_deny[0]), vec![CiliumPeerKind::All]);
    assert_eq!(
        p.specs[0].egress_deny[0].ports,
        Some(vec![icmp(Protocol::Icmp, 8)])
    );
    // Type 0 is port 0, Cilium's wildcard: every message of the family (warned).
    let text =
        cnp("  endpointSelector: {}\n  ingress:\n  - icmps: [{fields: [{type: EchoReply}]}]\n");
    let (loaded, p) = load_one(&text);
    assert_eq!(
        p.specs[0].ingress[0].ports,
        Some(vec![rule(Protocol::Icmp, PortMatch::Any)])
    );
    warns(&loaded, &text, "cilium-icmp-type-0", "EchoReply");
    // A name of the other family, an unknown family, a type out of range, no type.
    let m = rejects(
        &cnp(
            "  endpointSelector: {}\n  ingress:\n  - icmps: [{fields: [{family: IPv6, type: Echo}]}]\n",
        ),
        "invalid-value",
        "Echo",
    );
    assert_eq!(m, "ICMP type Echo not found in IPv6");
    rejects(
        &cnp(
            "  endpointSelector: {}\n  ingress:\n  - icmps: [{fields: [{family: ipv4, type: 8}]}]\n",
        ),
        "invalid-value",
        "family",
    );
    rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - icmps: [{fields: [{type: 256}]}]\n"),
        "invalid-value",
        "256",
    );
    rejects(
        &cnp("  endpointSelector: {}\n  ingress:\n  - icmps: [{fields: [{family: IPv4}]}]\n"),
        "invalid-value",
        "family",
    );
}
