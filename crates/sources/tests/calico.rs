//! Calico's policies (projectcalico.org/v3 NetworkPolicy, GlobalNetworkPolicy, their
//! staged forms, Tier, NetworkSet, GlobalNetworkSet): Calico's rewriting and every
//! validation error at its line. Expected values are derived by hand from
//! projectcalico/calico: `api/pkg/apis/projectcalico/v3/*.go` (types and CEL rules),
//! `libcalico-go/lib/validator/v3/validator.go` (validator.go),
//! `api/pkg/defaults/networkpolicy.go` (defaults), `api/pkg/lib/numorstring`
//! (numorstring) and `libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go`
//! (rules.go).
#![allow(clippy::print_stderr)]

mod common;

use common::{errors, line_of};
use kubeseg_model::{
    CalicoAction, CalicoEntity, CalicoIcmp, CalicoNamespaces, CalicoPolicy, CalicoPort,
    CalicoPorts, CalicoSelector, CalicoService, Cidr, Protocol, Severity,
};
use kubeseg_sources::{Loaded, load_str};

/// Asserts exactly one error, `code` at the line holding `marker`, and that nothing
/// Calico was kept; returns its message.
fn rejects(text: &str, code: &str, marker: &str) -> String {
    let loaded = load_str("t.yaml", text);
    assert_eq!(
        errors(&loaded),
        vec![(code, line_of(text, marker))],
        "{:#?}",
        loaded.diagnostics
    );
    assert!(loaded.cluster.calico_policies.is_empty());
    assert!(loaded.cluster.calico_tiers.is_empty());
    assert!(loaded.cluster.calico_network_sets.is_empty());
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

fn load_one(text: &str) -> (Loaded, CalicoPolicy) {
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.cluster.calico_policies.len(), 1);
    let p = loaded.cluster.calico_policies[0].clone();
    (loaded, p)
}

fn one(text: &str) -> CalicoPolicy {
    load_one(text).1
}

/// A Calico NetworkPolicy `p` in namespace `shop` with this spec (indented by 2).
fn np(spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: shop}}\nspec:\n{spec}"
    )
}

/// A GlobalNetworkPolicy `g` with this spec (indented by 2).
fn gnp(spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: g}}\nspec:\n{spec}"
    )
}

fn sel(text: &str) -> CalicoSelector {
    CalicoSelector::parse(text).unwrap()
}

fn net(text: &str) -> kubeseg_model::IpSet {
    Cidr::parse(text).unwrap().to_set()
}

fn ingress_peer(text: &str) -> CalicoEntity {
    one(text).ingress[0].peer.clone()
}

// defaults: tier `default`, types from the rules; NetworkPolicySpec: empty selector is all().
#[test]
fn a_namespaced_policy_gets_calicos_defaults() {
    let p = one(&np("  ingress: [{action: Allow}]\n"));
    assert_eq!(p.kind, "NetworkPolicy");
    assert_eq!((p.namespace.as_str(), p.name.as_str()), ("shop", "p"));
    assert_eq!(p.tier, "default");
    assert_eq!(p.order, None);
    assert_eq!(p.subject.selector, CalicoSelector::All);
    assert_eq!(p.subject.namespaces, CalicoNamespaces::Own("shop".into()));
    assert!(p.applies_ingress && !p.applies_egress);
    assert!(!p.staged);
    assert_eq!(p.ingress.len(), 1);
    assert_eq!(p.ingress[0].action, CalicoAction::Allow);
    assert_eq!(p.ingress[0].protocols, [true; 5]);
    assert_eq!(p.ingress[0].peer, CalicoEntity::default());
    assert_eq!(p.ingress[0].ports, None);
}

// defaults.go defaultPolicyTypesField: no egress rules → [Ingress] (also with no rules);
// egress only → [Egress]; both → both; written types are kept.
#[test]
fn types_are_defaulted_from_the_rules() {
    let t = |spec: &str| {
        let p = one(&np(spec));
        (p.applies_ingress, p.applies_egress)
    };
    assert_eq!(t("  selector: all()\n"), (true, false));
    assert_eq!(t("  egress: [{action: Deny}]\n"), (false, true));
    assert_eq!(
        t("  ingress: [{action: Deny}]\n  egress: [{action: Deny}]\n"),
        (true, true)
    );
    assert_eq!(
        t("  ingress: []\n  egress: [{action: Deny}]\n"),
        (false, true)
    );
    assert_eq!(t("  egress: []\n"), (true, false));
    assert_eq!(t("  types: [Egress]\n"), (false, true));
    assert_eq!(
        t("  types: [Ingress, Egress]\n  egress: [{action: Log}]\n"),
        (true, true)
    );
}

// validator.go validateNetworkPolicySpec: "'Ingress' type specified more than once";
// the CRD enum and MinItems=1.
#[test]
fn bad_types_are_refused() {
    let text = np("  types: [Ingress, Ingress]\n");
    rejects(&text, "duplicate-value", "types:");
    let text = np("  types: [ingress]\n");
    rejects(&text, "invalid-value", "types:");
    let text = np("  types: []\n");
    rejects(&text, "invalid-policy-type", "types:");
}

// GlobalNetworkPolicySpec: namespaceSelector scopes the subject; absent → any namespace
// and non-namespaced endpoints; tier and order as written.
#[test]
fn a_global_policy_selects_by_namespace_selector() {
    let p = one(&gnp(
        "  tier: security\n  order: 10.5\n  selector: app == 'db'\n  namespaceSelector: team == 'a'\n  egress: [{action: Pass}]\n",
    ));
    assert_eq!((p.namespace.as_str(), p.name.as_str()), ("", "g"));
    assert_eq!(p.tier, "security");
    assert_eq!(p.order, Some(10.5));
    assert_eq!(p.subject.selector, sel("app == 'db'"));
    assert_eq!(
        p.subject.namespaces,
        CalicoNamespaces::Selected(sel("team == 'a'"))
    );
    assert!(!p.applies_ingress && p.applies_egress);
    assert_eq!(p.egress[0].action, CalicoAction::Pass);
    let p = one(&gnp("  order: 3\n  selector: has(x)\n"));
    assert_eq!(p.subject.namespaces, CalicoNamespaces::Any);
    assert_eq!(p.order, Some(3.0));
}

// Staged kinds: StagedNetworkPolicySpec, StagedGlobalNetworkPolicySpec (stagedAction).
#[test]
fn staged_policies_are_read_as_staged() {
    let text = "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: shop}\nspec:\n  stagedAction: Set\n  ingress: [{action: Deny}]\n---\napiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: sg}\nspec:\n  namespaceSelector: all()\n";
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let ps = &loaded.cluster.calico_policies;
    assert_eq!(ps.len(), 2);
    assert!(ps.iter().all(|p| p.staged));
    assert_eq!(ps[0].kind, "StagedNetworkPolicy");
    assert_eq!(ps[1].kind, "StagedGlobalNetworkPolicy");
    assert_eq!(
        ps[1].subject.namespaces,
        CalicoNamespaces::Selected(CalicoSelector::All)
    );
}

// validator.go validateStagedNetworkPolicy: a Delete holds nothing but its tier.
#[test]
fn a_staged_delete_holds_only_its_tier() {
    let text = "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: shop}\nspec:\n  stagedAction: Delete\n  selector: all()\n";
    let m = rejects(text, "invalid-value", "stagedAction");
    assert!(m.contains("except Tier"), "{m}");
    let text = "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: shop}\nspec:\n  stagedAction: Maybe\n";
    rejects(text, "invalid-value", "stagedAction");
}

// rules.go getEndpointSelector: an NP rule selecting endpoints without namespaceSelector
// stays in its namespace (notSelector alone too); nets alone or nothing: no constraint.
#[test]
fn namespaced_rules_select_in_their_namespace() {
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {selector: app == 'web'}\n",
    ));
    assert_eq!(e.selector, Some(sel("app == 'web'")));
    assert_eq!(e.namespaces, Some(CalicoNamespaces::Own("shop".into())));
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {notSelector: app == 'web'}\n",
    ));
    assert_eq!(e.selector, None);
    assert_eq!(e.not_selector, Some(sel("app == 'web'")));
    assert_eq!(e.namespaces, Some(CalicoNamespaces::Own("shop".into())));
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {nets: [10.0.0.0/8, 192.168.1.0/24]}\n",
    ));
    assert_eq!(e.namespaces, None);
    assert_eq!(
        e.nets,
        Some(net("10.0.0.0/8").union(&net("192.168.1.0/24")))
    );
}

// rules.go getEndpointSelector: in a GNP a selector without namespaceSelector matches in
// every namespace and outside them.
#[test]
fn global_rules_select_anywhere() {
    let p = one(&gnp(
        "  egress:\n  - action: Allow\n    destination: {selector: app == 'x', notNets: [10.1.0.0/16]}\n",
    ));
    let e = &p.egress[0].peer;
    assert_eq!(e.namespaces, Some(CalicoNamespaces::Any));
    assert_eq!(e.not_nets, Some(net("10.1.0.0/16")));
}

// rules.go: namespaceSelector `all()` → any namespaced endpoint; `global()` → only
// non-namespaced ones; anything else → the selected namespaces.
#[test]
fn rule_namespace_selectors() {
    let ns = |s: &str| {
        ingress_peer(&np(&format!(
            "  ingress:\n  - action: Allow\n    source: {{namespaceSelector: \"{s}\"}}\n"
        )))
        .namespaces
    };
    assert_eq!(ns("global()"), Some(CalicoNamespaces::Global));
    assert_eq!(ns(" global( ) "), Some(CalicoNamespaces::Global));
    assert_eq!(
        ns("all()"),
        Some(CalicoNamespaces::Selected(CalicoSelector::All))
    );
    assert_eq!(
        ns("team == 'a'"),
        Some(CalicoNamespaces::Selected(sel("team == 'a'")))
    );
}

// validator.go validateEntityRule: "global() cannot be combined with other selectors";
// CEL on EntityRule, NetworkPolicySpec, GlobalNetworkPolicySpec: global() only in a
// rule's namespaceSelector.
#[test]
fn global_is_only_for_rule_namespace_selectors() {
    let text = np(
        "  ingress:\n  - action: Allow\n    source: {namespaceSelector: \"global() && has(a)\"}\n",
    );
    let m = rejects(&text, "invalid-selector", "namespaceSelector");
    assert!(m.contains("cannot be combined"), "{m}");
    let text = np("  ingress:\n  - action: Allow\n    source: {selector: \"global()\"}\n");
    let m = rejects(&text, "invalid-selector", "selector");
    assert!(m.contains("global() can only be used"), "{m}");
    let text = np("  selector: global()\n");
    rejects(&text, "invalid-selector", "selector");
    let text = gnp("  namespaceSelector: global()\n");
    rejects(&text, "invalid-selector", "namespaceSelector");
}

// validator.go validateSelector: the selector parser decides; its message has the offset.
#[test]
fn invalid_selectors_are_refused_with_the_parsers_message() {
    let text = np("  selector: app = 'x'\n");
    let m = rejects(&text, "invalid-selector", "selector");
    assert!(m.contains("at byte 4"), "{m}");
    let text = np("  ingress:\n  - action: Deny\n    source: {notSelector: 'has(a'}\n");
    rejects(&text, "invalid-selector", "notSelector");
}

// policy_common.go Action enum (Allow, Deny, Log, Pass), required.
#[test]
fn actions_are_required_and_spelled_as_the_enum() {
    let p = one(&np(
        "  ingress: [{action: Allow}, {action: Deny}, {action: Log}, {action: Pass}]\n",
    ));
    let actions: Vec<_> = p.ingress.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            CalicoAction::Allow,
            CalicoAction::Deny,
            CalicoAction::Log,
            CalicoAction::Pass
        ]
    );
    let text = np("  ingress:\n  - action: allow\n");
    rejects(&text, "invalid-action", "action: allow");
    let text = np("  ingress:\n  - protocol: TCP\n");
    rejects(&text, "invalid-action", "protocol: TCP");
}

// numorstring Protocol and validator.go validateProtocol (protocolRegex is case-sensitive;
// a string of digits is a number; 0 is invalid).
#[test]
fn protocols_become_flags() {
    let flags = |rule: &str| one(&np(&format!("  ingress:\n  - {rule}\n"))).ingress[0].protocols;
    // Flags in Protocol::ALL order: TCP, UDP, SCTP, ICMP, ICMPv6.
    const T: bool = true;
    const F: bool = false;
    assert_eq!(flags("{action: Allow}"), [T, T, T, T, T]);
    assert_eq!(flags("{action: Allow, protocol: TCP}"), [T, F, F, F, F]);
    assert_eq!(flags("{action: Allow, protocol: 17}"), [F, T, F, F, F]);
    assert_eq!(flags("{action: Allow, protocol: '132'}"), [F, F, T, F, F]);
    assert_eq!(flags("{action: Allow, notProtocol: UDP}"), [T, F, T, T, T]);
    assert_eq!(
        flags("{action: Allow, protocol: TCP, notProtocol: TCP}"),
        [F, F, F, F, F]
    );
    assert_eq!(flags("{action: Allow, notProtocol: ICMP}"), [T, T, T, F, T]);
    assert_eq!(flags("{action: Allow, notProtocol: 58}"), [T, T, T, T, F]);
    // ICMP (1) and ICMPv6 (58) are modelled: no warning.
    let text = np("  ingress:\n  - action: Allow\n    protocol: ICMP\n");
    let (loaded, p) = load_one(&text);
    assert_eq!(p.ingress[0].protocols, [F, F, F, T, F]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(flags("{action: Allow, protocol: 1}"), [F, F, F, T, F]);
    assert_eq!(flags("{action: Allow, protocol: ICMPv6}"), [F, F, F, F, T]);
    // UDPLite and other numbers are not: the rule matches nothing kubeseg answers about.
    let text = np("  ingress:\n  - action: Allow\n    protocol: UDPLite\n");
    let (loaded, p) = load_one(&text);
    assert_eq!(p.ingress[0].protocols, [F; 5]);
    let m = warns(&loaded, &text, "calico-protocol", "protocol: UDPLite");
    assert!(m.contains("UDPLite is not modelled"), "{m}");
    assert_eq!(flags("{action: Allow, protocol: 47}"), [F; 5]);
    let text = np("  ingress:\n  - action: Allow\n    protocol: tcp\n");
    let m = rejects(&text, "invalid-protocol", "protocol: tcp");
    assert!(m.contains("`TCP`"), "{m}");
    let text = np("  ingress:\n  - action: Allow\n    protocol: 0\n");
    rejects(&text, "invalid-protocol", "protocol: 0");
    let text = np("  ingress:\n  - action: Allow\n    protocol: 256\n");
    rejects(&text, "invalid-protocol", "protocol: 256");
}

// numorstring PortFromString: numbers, "first:last", names; validator.go validatePort.
#[test]
fn destination_ports_are_read() {
    let p = one(&np(
        "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, '8000:8080', http]\n      notPorts: ['8001']\n",
    ));
    assert_eq!(
        p.ingress[0].ports,
        Some(CalicoPorts {
            ports: Some(vec![
                CalicoPort::Range(80, 80),
                CalicoPort::Range(8000, 8080),
                CalicoPort::Named("http".into()),
            ]),
            not_ports: vec![CalicoPort::Range(8001, 8001)],
        })
    );
    // Egress: the destination is the peer, and its ports are the rule's ports.
    let p = one(&np(
        "  egress:\n  - action: Allow\n    protocol: UDP\n    destination: {ports: [53], selector: k8s-app == 'dns'}\n",
    ));
    let r = &p.egress[0];
    assert_eq!(
        r.ports.as_ref().unwrap().ports,
        Some(vec![CalicoPort::Range(53, 53)])
    );
    assert_eq!(r.peer.selector, Some(sel("k8s-app == 'dns'")));
    let text = np(
        "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: ['90:80']}\n",
    );
    rejects(&text, "invalid-port", "ports:");
    let text =
        np("  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [0]}\n");
    rejects(&text, "invalid-port", "ports:");
    let text = np(
        "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [Web_Port]}\n",
    );
    rejects(&text, "invalid-port", "ports:");
}

// validator.go validateRule: without protocol only named ports; with a protocol without
// ports (ICMP), no ports at all.
#[test]
fn numeric_ports_need_a_protocol_with_ports() {
    let text = np("  ingress:\n  - action: Allow\n    destination: {ports: [80]}\n");
    let m = rejects(&text, "invalid-port", "ports:");
    assert!(
        m.contains("numeric port or port range must set protocol"),
        "{m}"
    );
    let p = one(&np(
        "  ingress:\n  - action: Allow\n    destination: {ports: [http]}\n",
    ));
    assert_eq!(p.ingress[0].protocols, [true; 5]);
    assert_eq!(
        p.ingress[0].ports.as_ref().unwrap().ports,
        Some(vec![CalicoPort::Named("http".into())])
    );
    let text =
        np("  ingress:\n  - action: Allow\n    protocol: ICMP\n    destination: {ports: [http]}\n");
    let m = rejects(&text, "invalid-port", "ports:");
    assert!(
        m.contains("rules that specify ports must set protocol"),
        "{m}"
    );
}

// rules.go parseServiceAccounts and getEndpointSelector: `serviceAccounts` becomes
// `(pcsa.<selector>) && (projectcalico.org/serviceaccount in {names})`, ANDed before
// the rule's selector, and it scopes a namespaced policy's peers to its namespace as a
// selector does; networkpolicy.go prefixAndAppendSelector: the policy's
// `serviceAccountSelector` is ANDed to its selector with `pcsa.` keys.
#[test]
fn service_accounts_become_calicos_selectors() {
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {serviceAccounts: {names: [api, web], selector: team == 'red'}}\n",
    ));
    assert_eq!(
        e.selector,
        Some(sel(
            "(pcsa.team == 'red') && (projectcalico.org/serviceaccount in {'api', 'web'})"
        ))
    );
    assert_eq!(e.namespaces, Some(CalicoNamespaces::Own("shop".into())));
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {selector: app == 'x', serviceAccounts: {names: [api]}}\n",
    ));
    assert_eq!(
        e.selector,
        Some(sel(
            "(projectcalico.org/serviceaccount in {'api'}) && (app == 'x')"
        ))
    );
    // A selector alone, in a global policy: any namespace.
    let p = one(&gnp(
        "  egress:\n  - action: Allow\n    destination: {serviceAccounts: {selector: has(team)}}\n",
    ));
    assert_eq!(p.egress[0].peer.selector, Some(sel("has(pcsa.team)")));
    assert_eq!(p.egress[0].peer.namespaces, Some(CalicoNamespaces::Any));
    // An empty match constrains nothing, as Go's omitted fields do.
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {serviceAccounts: {}}\n",
    ));
    assert_eq!((e.selector, e.namespaces), (None, None));
    let p = one(&np(
        "  selector: app == 'db'\n  serviceAccountSelector: role == 'x'\n",
    ));
    assert_eq!(
        p.subject.selector,
        sel("(app == 'db') && (pcsa.role == 'x')")
    );
    rejects(
        &np("  ingress:\n  - action: Allow\n    source: {serviceAccounts: {names: api}}\n"),
        "invalid-type",
        "source:",
    );
    rejects(
        &np("  serviceAccountSelector: role = 'x'\n"),
        "invalid-selector",
        "serviceAccountSelector",
    );
}

/// Service `data/db` selecting `app: db`, with TCP 5432, TCP 80 to the named port
/// `http`, and UDP 53 to 5353.
const DB_SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: data}\nspec:\n  selector: {app: db}\n  ports:\n  - {port: 5432}\n  - {port: 80, targetPort: http}\n  - {port: 53, protocol: UDP, targetPort: 5353}\n---\n";

// rule_scanner.go: a destination `services` match is an IP+port set of the Service's
// endpoints (ServiceIncludePorts: true), a source one an IP set; the endpoints of a
// Service with a selector are its pods, on each port's target (a name resolved on the
// pod). kubeseg lowers that to a selector on pods' endpoints (network sets lack the
// orchestrator label) in the Service's namespace, and ports of one protocol each.
#[test]
fn services_become_the_services_pods_and_target_ports() {
    let text = format!(
        "{DB_SERVICE}{}",
        np(
            "  egress:\n  - action: Allow\n    destination: {services: {name: db, namespace: data}}\n"
        )
    );
    let (_, p) = load_one(&text);
    let rule = &p.egress[0];
    assert_eq!(
        rule.peer.selector,
        Some(sel("has(projectcalico.org/orchestrator) && app == 'db'"))
    );
    assert_eq!(
        rule.peer.namespaces,
        Some(CalicoNamespaces::Own("data".into()))
    );
    assert_eq!(
        rule.peer.services,
        Some(CalicoService {
            namespace: "data".into(),
            name: "db".into()
        })
    );
    assert_eq!(
        rule.ports,
        Some(CalicoPorts {
            ports: Some(vec![
                CalicoPort::RangeOf(Protocol::Tcp, 5432, 5432),
                CalicoPort::NamedOf(Protocol::Tcp, "http".into()),
                CalicoPort::RangeOf(Protocol::Udp, 5353, 5353),
            ]),
            not_ports: vec![],
        })
    );
    // A source: the pods only; the Service's namespace defaults to the policy's.
    let text = format!(
        "{}{}",
        DB_SERVICE.replace("namespace: data", "namespace: shop"),
        np(
            "  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {services: {name: db}}\n    destination: {ports: [8080]}\n"
        )
    );
    let (_, p) = load_one(&text);
    let rule = &p.ingress[0];
    assert_eq!(
        rule.peer.namespaces,
        Some(CalicoNamespaces::Own("shop".into()))
    );
    assert_eq!(
        rule.ports,
        Some(CalicoPorts {
            ports: Some(vec![CalicoPort::Range(8080, 8080)]),
            not_ports: vec![],
        })
    );
}

// A Service the input lacks has no endpoints (warned); one without a selector has
// endpoints written by hand, which kubeseg does not resolve for Calico yet (an error).
#[test]
fn services_kubeseg_cannot_resolve() {
    let text = np("  egress:\n  - action: Allow\n    destination: {services: {name: gone}}\n");
    let loaded = load_str("t.yaml", &text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let message = warns(&loaded, &text, "calico-service-missing", "- action: Allow");
    assert!(message.contains("Service shop/gone"), "{message}");
    let rule = &loaded.cluster.calico_policies[0].egress[0];
    assert_eq!(rule.peer.selector, Some(sel("!all()")));
    let text = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: ext, namespace: shop}}\nspec: {{ports: [{{port: 443}}]}}\n---\n{}",
        np("  egress:\n  - action: Allow\n    destination: {services: {name: ext}}\n")
    );
    let loaded = load_str("t.yaml", &text);
    assert_eq!(
        errors(&loaded),
        vec![("unsupported-field", line_of(&text, "- action: Allow"))]
    );
}

// validator.go: validateEntityRule (a name; no namespaceSelector, selectors, service
// accounts or nets beside it), validateRule (no destination ports with a destination
// Service), the policy validators (not in an egress source or ingress destination; a
// namespace in a GlobalNetworkPolicy).
#[test]
fn services_are_validated_as_calico_does() {
    let cases = [
        (
            np("  egress:\n  - action: Allow\n    destination: {services: {namespace: x}}\n"),
            "destination:",
            "must specify a service name",
        ),
        (
            gnp("  egress:\n  - action: Allow\n    destination: {services: {name: db}}\n"),
            "destination:",
            "must specify a namespace",
        ),
        (
            np(
                "  egress:\n  - action: Allow\n    destination: {services: {name: db}, selector: a == 'b'}\n",
            ),
            "destination:",
            "Selector/NotSelector",
        ),
        (
            np(
                "  egress:\n  - action: Allow\n    destination: {services: {name: db}, nets: [10.0.0.0/8]}\n",
            ),
            "destination:",
            "Nets/NotNets",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    source: {services: {name: db}, namespaceSelector: all()}\n",
            ),
            "source:",
            "NamespaceSelector",
        ),
        (
            np(
                "  ingress:\n  - action: Allow\n    source: {services: {name: db}, serviceAccounts: {names: [a]}}\n",
            ),
            "source:",
            "ServiceAccounts",
        ),
        (
            np(
                "  egress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      services: {name: db}\n      ports: [80]\n",
            ),
            "ports: [80]",
            "cannot specify ports",
        ),
        (
            np("  egress:\n  - action: Allow\n    source: {services: {name: db}}\n"),
            "source:",
            "not allowed in egress rule source",
        ),
        (
            np("  ingress:\n  - action: Allow\n    destination: {services: {name: db}}\n"),
            "destination:",
            "not allowed in ingress rule destination",
        ),
    ];
    for (text, marker, message) in cases {
        let got = rejects(&text, "invalid-value", marker);
        assert!(got.contains(message), "{got}");
    }
}

// Not modelled: source ports, the policy's own side (service accounts there too),
// ipVersion, host-endpoint flags.
#[test]
fn unmodelled_fields_are_errors() {
    let cases = [
        (
            np("  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {ports: [1234]}\n"),
            "ports:",
        ),
        (
            np("  ingress:\n  - action: Allow\n    destination: {selector: app == 'x'}\n"),
            "destination:",
        ),
        (
            np("  egress:\n  - action: Allow\n    source: {nets: [10.0.0.0/8]}\n"),
            "source:",
        ),
        (
            np("  ingress:\n  - action: Allow\n    destination: {serviceAccounts: {names: [a]}}\n"),
            "destination:",
        ),
        (
            np("  ingress:\n  - action: Allow\n    ipVersion: 4\n"),
            "ipVersion",
        ),
        (
            gnp("  doNotTrack: true\n  applyOnForward: true\n  ingress: [{action: Allow}]\n"),
            "doNotTrack",
        ),
        (gnp("  preDNAT: true\n  applyOnForward: true\n"), "preDNAT"),
    ];
    for (text, marker) in cases {
        rejects(&text, "unsupported-field", marker);
    }
    // Turned off, they change nothing.
    one(&gnp("  doNotTrack: false\n  applyOnForward: false\n"));
}

// validator.go validateRule scanNets (cnet.ParseCIDR), the `net` tag (strictly masked),
// negated catch-all, one IP family per rule.
#[test]
fn rule_nets_are_validated() {
    let bad = [
        "nets: [10.0.0.1/8]",
        "nets: [10.0.0.1]",
        "nets: [nonsense]",
        "notNets: [0.0.0.0/0]",
        "nets: [10.0.0.0/8, 'fd00::/8']",
    ];
    for b in bad {
        let text = np(&format!(
            "  ingress:\n  - action: Allow\n    source: {{{b}}}\n"
        ));
        rejects(&text, "invalid-cidr", "source:");
    }
    let e = ingress_peer(&np(
        "  ingress:\n  - action: Allow\n    source: {nets: ['fd00::/8'], notNets: ['fd00:1::/32']}\n",
    ));
    assert_eq!(e.nets, Some(net("fd00::/8")));
    assert_eq!(e.not_nets, Some(net("fd00:1::/32")));
}

// CEL on Rule: HTTP only on Allow rules with protocol TCP or unset; validator.go
// validateNetworkPolicySpec: not on egress rules. An Allow with HTTP is a warning.
#[test]
fn http_matches_are_counted_at_l4() {
    let text =
        np("  ingress:\n  - action: Allow\n    http: {methods: [GET], paths: [{prefix: /api}]}\n");
    let (loaded, p) = load_one(&text);
    assert_eq!(p.ingress[0].protocols, [true; 5]);
    warns(&loaded, &text, "calico-http", "http:");
    let text = np("  ingress:\n  - action: Deny\n    http: {methods: [GET]}\n");
    let m = rejects(&text, "invalid-value", "http:");
    assert!(m.contains("only valid on Allow"), "{m}");
    let text = np("  egress:\n  - action: Allow\n    http: {methods: [GET]}\n");
    rejects(&text, "invalid-value", "http:");
    let text = np("  ingress:\n  - action: Allow\n    protocol: UDP\n    http: {methods: [GET]}\n");
    rejects(&text, "invalid-value", "http:");
    let text =
        np("  ingress:\n  - action: Allow\n    http:\n      paths: [{exact: /a, prefix: /b}]\n");
    rejects(&text, "invalid-value", "exact:");
}

// CEL on Rule: ICMP fields need protocol ICMP or ICMPv6; ICMPFields: code needs a type
// (type 0-254, code 0-255). `icmp` and `notICMP` are read.
#[test]
fn icmp_matches_are_read() {
    let text =
        np("  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp: {type: 8, code: 0}\n");
    let (loaded, p) = load_one(&text);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(p.ingress[0].protocols, [false, false, false, true, false]);
    let echo = CalicoIcmp {
        icmp_type: Some(8),
        code: Some(0),
    };
    assert_eq!(p.ingress[0].icmp, Some(echo));
    assert_eq!(p.ingress[0].not_icmp, None);
    let p = one(&np(
        "  ingress:\n  - action: Allow\n    protocol: 58\n    icmp: {type: 128}\n    notICMP: {type: 1}\n",
    ));
    assert_eq!(p.ingress[0].protocols, [false, false, false, false, true]);
    let t = |icmp_type| CalicoIcmp {
        icmp_type: Some(icmp_type),
        code: None,
    };
    assert_eq!(
        (p.ingress[0].icmp, p.ingress[0].not_icmp),
        (Some(t(128)), Some(t(1)))
    );
    let text = np("  ingress:\n  - action: Allow\n    protocol: TCP\n    icmp: {type: 8}\n");
    rejects(&text, "invalid-value", "icmp:");
    let text = np("  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp: {code: 1}\n");
    rejects(&text, "invalid-value", "icmp:");
    let text = np("  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp: {type: 255}\n");
    rejects(&text, "invalid-value", "type: 255");
    // notICMP beside another protocol: read, but felix renders an ICMP match only with
    // an ICMP protocol, so kubeseg warns that it narrows the ICMP traffic only.
    let text = np("  ingress:\n  - action: Allow\n    notICMP: {type: 8}\n");
    let (loaded, p) = load_one(&text);
    assert_eq!(p.ingress[0].not_icmp, Some(t(8)));
    warns(&loaded, &text, "calico-icmp", "notICMP:");
}

// Unknown fields warn with a suggestion, as the other readers do; metadata and
// performanceHints are read without effect.
#[test]
fn unknown_fields_warn_with_a_suggestion() {
    let text = np(
        "  selectr: all()\n  performanceHints: [AssumeNeededOnEveryNode]\n  ingress:\n  - action: Allow\n    metadata: {annotations: {a: b}}\n    sorce: {}\n",
    );
    let (loaded, _) = load_one(&text);
    let m = warns(&loaded, &text, "unknown-field", "selectr");
    assert!(m.contains("did you mean `selector`?"), "{m}");
    let m = warns(&loaded, &text, "unknown-field", "sorce");
    assert!(m.contains("did you mean `source`?"), "{m}");
    // GlobalNetworkPolicy's own fields are unknown in a namespaced policy.
    let text = np("  namespaceSelector: all()\n");
    let (loaded, _) = load_one(&text);
    warns(&loaded, &text, "unknown-field", "namespaceSelector");
}

// Wrong types are errors at their node.
#[test]
fn wrong_types_are_errors() {
    rejects(&np("  order: high\n"), "invalid-type", "order:");
    rejects(&np("  selector: [a]\n"), "invalid-type", "selector:");
    rejects(
        &np("  ingress: {action: Allow}\n"),
        "invalid-type",
        "ingress:",
    );
    rejects(
        &np("  ingress:\n  - action: Allow\n    source: [a]\n"),
        "invalid-type",
        "source:",
    );
}

// validator.go networkPolicyNameRegex / globalNetworkPolicyNameRegex: at most one dot.
#[test]
fn policy_names_follow_calicos_rules() {
    let text = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: a.b.c, namespace: shop}\nspec: {}\n";
    rejects(text, "invalid-name", "name: a.b.c");
    let text = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: knp.default.a.b, namespace: shop}\nspec: {}\n";
    one(text);
}

// names.ValidateTieredPolicyName: before v3.32 a policy in another tier had to be named
// `<tier>.<name>`; now deprecated (it checks only emptiness), so a warning.
#[test]
fn a_policy_outside_its_tiers_prefix_gets_a_warning() {
    let text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny-all}\nspec: {tier: security}\n";
    let (loaded, p) = load_one(text);
    assert_eq!(p.tier, "security");
    let m = warns(&loaded, text, "calico-policy-name", "name: deny-all");
    assert!(m.contains("security.<name>"), "{m}");
    let text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.deny-all}\nspec: {tier: security}\n";
    let (loaded, _) = load_one(text);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
}

// tier.go: defaultAction defaults to Deny, enum Pass/Deny; CEL fixes Calico's own tiers;
// validateTier: no dots in a tier name.
#[test]
fn tiers_are_read_and_checked() {
    let text = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: kube-admin}\nspec: {order: 1000, defaultAction: Pass}\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: a-last}\nspec: {}\n";
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let tiers = &loaded.cluster.calico_tiers;
    let names: Vec<_> = tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a-last", "kube-admin", "security"]);
    assert_eq!(tiers[0].order, None);
    assert_eq!(tiers[0].default_action, CalicoAction::Deny);
    assert_eq!(tiers[1].default_action, CalicoAction::Pass);
    assert_eq!(tiers[2].order, Some(100.0));
    let tier = |name: &str, spec: &str| {
        format!(
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: {name}}}\nspec: {spec}\n"
        )
    };
    let m = rejects(
        &tier("kube-admin", "{order: 1000}"),
        "invalid-tier",
        "spec:",
    );
    assert!(m.contains("default action 'Pass'"), "{m}");
    let m = rejects(&tier("default", "{order: 5}"), "invalid-tier", "spec:");
    assert!(m.contains("1000000"), "{m}");
    rejects(
        &tier("t", "{defaultAction: Allow}"),
        "invalid-action",
        "spec:",
    );
    rejects(&tier("a.b", "{}"), "invalid-name", "name: a.b");
    // tier.go: `spec` is required (`json:"spec"`, the CRD's `required`).
    let text = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\n";
    rejects(text, "missing-spec", "apiVersion");
}

// networkset.go: labels and CIDRs (host bits and bare addresses allowed by the `cidr`
// tag); validateNetworkSet: the namespace label is Calico's own.
#[test]
fn network_sets_are_read() {
    let text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: ext, labels: {role: ext}}\nspec:\n  nets: [1.2.3.4/24, 5.6.7.8]\n---\napiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: set1, namespace: shop}\nspec: {nets: ['fd00::/64']}\n";
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let sets = &loaded.cluster.calico_network_sets;
    assert_eq!(sets.len(), 2);
    assert_eq!(
        (sets[0].namespace.as_str(), sets[0].name.as_str()),
        ("shop", "set1")
    );
    assert_eq!(sets[0].nets, net("fd00::/64"));
    assert_eq!(sets[1].kind, "GlobalNetworkSet");
    assert_eq!(sets[1].labels.get("role").map(String::as_str), Some("ext"));
    assert_eq!(sets[1].nets, net("1.2.3.0/24").union(&net("5.6.7.8/32")));
    let text = "apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata:\n  name: set1\n  labels: {projectcalico.org/namespace: x}\nspec: {}\n";
    rejects(text, "invalid-label", "labels:");
    let text = "apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: set1}\nspec: {nets: [10.0.0.0/33]}\n";
    rejects(text, "invalid-cidr", "nets:");
}

// One object per kind, namespace and name; a Calico NetworkPolicy and a Kubernetes one
// of the same name are different objects; sorted namespaced first, then global.
#[test]
fn assembly_keeps_one_of_each_and_sorts() {
    let text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec: {}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec: {order: 1}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec: {order: 2}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec: {podSelector: {}}\n---\napiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: p, namespace: bar}\nspec: {}\n";
    let loaded = load_str("t.yaml", text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let ids: Vec<_> = loaded
        .cluster
        .calico_policies
        .iter()
        .map(|p| p.id())
        .collect();
    assert_eq!(
        ids,
        [
            "StagedNetworkPolicy/bar/p",
            "NetworkPolicy/shop/p",
            "GlobalNetworkPolicy/a"
        ]
    );
    assert_eq!(loaded.cluster.calico_policies[1].order, Some(2.0));
    assert_eq!(loaded.cluster.policies.len(), 1);
    let dups: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.code == "duplicate-object")
        .collect();
    assert_eq!(dups.len(), 1, "{dups:#?}");
    // The replaced one starts three lines above its spec.
    assert_eq!(
        dups[0].location.as_ref().map(|l| l.line),
        Some(line_of(text, "order: 1") - 3)
    );
}

// Kinds that change connectivity but are not read say why.
#[test]
fn unmodelled_calico_kinds_say_why() {
    // Each document starts with its kind: warnings point at the object's first line.
    let text = "kind: HostEndpoint\napiVersion: projectcalico.org/v3\nmetadata: {name: h}\nspec: {node: n1}\n---\nkind: Profile\napiVersion: projectcalico.org/v3\nmetadata: {name: pr}\nspec: {}\n---\napiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {}\n";
    let loaded = load_str("t.yaml", text);
    let m = warns(&loaded, text, "unmodelled-policy", "kind: HostEndpoint");
    assert!(
        m.contains("host endpoints are not modelled: kubeseg answers for pods"),
        "{m}"
    );
    warns(&loaded, text, "unmodelled-policy", "kind: Profile");
    warns(
        &loaded,
        text,
        "unmodelled-policy",
        "crd.projectcalico.org/v1",
    );
    assert!(loaded.cluster.calico_policies.is_empty());
}

// Hostile input never panics: every problem is a diagnostic.
#[test]
fn hostile_values_are_diagnostics() {
    let texts = [
        np("  order: .nan\n"),
        np(
            "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: ['99999:1', 99999999999, '1:99999', -1]}\n",
        ),
        np("  ingress: [null, 3, {action: [Allow]}]\n"),
        np(&format!("  selector: \"{}\"\n", "(".repeat(500))),
        np("  ingress:\n  - action: Allow\n    source: {nets: [null, 1, '::/999']}\n"),
        gnp("  namespaceSelector: 7\n  types: [null]\n"),
    ];
    for t in texts {
        let loaded = load_str("t.yaml", &t);
        assert!(loaded.has_errors(), "{t}");
        assert!(loaded.cluster.calico_policies.is_empty());
    }
}

/// A pod of namespace shop, with `status` (indented by 0) when given.
fn pod(name: &str, status: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: {name}}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n{status}---\n"
    )
}

// Pods without a known address meet `nets`/`notNets` that only some IPv4 addresses
// pass: one warning, at the first such rule, naming how many rules and pods.
#[test]
fn pods_without_address_and_partial_nets_are_warned_once() {
    let rules = "  egress:\n  - action: Allow\n    destination: {nets: [0.0.0.0/0]}\n  - action: Allow\n    destination: {nets: [0.0.0.0/0], notNets: [10.0.0.0/8]}\n  - action: Deny\n    destination: {nets: [169.254.169.254/32]}\n";
    let text = format!(
        "{}{}{}",
        pod("pending", ""),
        pod("running", "status: {podIP: 10.0.0.5}\n"),
        np(rules)
    );
    let loaded = load_str("t.yaml", &text);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    // `0.0.0.0/0` alone holds every address: no doubt there; the second rule is first
    // (a rule is located at its `- action` line, the one before its destination).
    let warning = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "pod-address-unknown")
        .expect("a pod-address-unknown warning");
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(
        warning.location.as_ref().map(|l| l.line),
        Some(line_of(&text, "notNets: [10.0.0.0/8]") - 1)
    );
    let message = &warning.message;
    assert!(message.contains("and 1 more"), "{message}");
    assert!(
        message.contains("1 pod of the input (shop/pending[Pod])"),
        "{message}"
    );
    let count = |l: &Loaded| {
        l.diagnostics
            .iter()
            .filter(|d| d.code == "pod-address-unknown")
            .count()
    };
    assert_eq!(count(&loaded), 1);
    // Every pod with an address, or only rules every address passes: nothing to say.
    let known = format!(
        "{}{}",
        pod("running", "status: {podIP: 10.0.0.5}\n"),
        np(rules)
    );
    assert_eq!(count(&load_str("t.yaml", &known)), 0);
    let whole = format!(
        "{}{}",
        pod("pending", ""),
        np("  egress:\n  - action: Allow\n    destination: {nets: [0.0.0.0/0]}\n")
    );
    assert_eq!(count(&load_str("t.yaml", &whole)), 0);
}
