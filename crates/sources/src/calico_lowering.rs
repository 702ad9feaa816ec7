//! What Calico resolves against other objects before it evaluates a policy, done once
//! the whole input is assembled: a rule's `services` becomes the pods the Service
//! selects (and, as a destination, its target ports), as felix renders it
//! (`calc/rule_scanner.go`: an IP+port set of the Service's endpoints for a
//! destination, an IP set for a source); and service accounts the input does not
//! declare are named where a selector tests their labels.

use kubeseg_model::{
    CalicoNamespaces, CalicoPort, CalicoPorts, CalicoRule, CalicoSelector, Cluster, Diagnostic,
};

/// Lowers every `services` match of the cluster's Calico policies; returns what it
/// could not resolve exactly.
pub(crate) fn lower(cluster: &mut Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut policies = std::mem::take(&mut cluster.calico_policies);
    for p in &mut policies {
        if !(p.ingress.iter().chain(&p.egress)).any(|r| r.peer.services.is_some()) {
            continue;
        }
        let id = p.id();
        for (egress, rules) in [(false, &mut p.ingress), (true, &mut p.egress)] {
            for (i, rule) in rules.iter_mut().enumerate() {
                if rule.peer.services.is_some() {
                    let dir = if egress { "egress" } else { "ingress" };
                    let what = format!("{dir}[{i}] of {id}");
                    out.extend(lower_services(cluster, rule, egress, &what));
                }
            }
        }
    }
    cluster.calico_policies = policies;
    out.extend(undeclared_service_accounts(cluster));
    out.extend(unknown_addresses(cluster));
    out
}

/// Says once where pods without a known address meet rules that test addresses
/// (`nets`, `notNets`) which some IPv4 addresses pass and others do not: the answer
/// then rests on kubeseg's reading (such a pod matches only when any address would),
/// not on the address the pod gets.
fn unknown_addresses(cluster: &Cluster) -> Option<Diagnostic> {
    let partial = |set: &Option<kubeseg_model::IpSet>| {
        set.as_ref()
            .is_some_and(|s| s.has_ipv4() && !s.has_all_ipv4())
    };
    let mut rules = cluster
        .calico_policies
        .iter()
        .filter(|p| !p.staged)
        .flat_map(|p| p.ingress.iter().chain(&p.egress))
        .filter(|r| partial(&r.peer.nets) || partial(&r.peer.not_nets));
    let first_rule = rules.next()?;
    let more_rules = rules.count();
    let mut pods = cluster.workloads.iter().flat_map(|w| {
        w.pods
            .iter()
            .filter(|p| p.ips.is_empty() && !p.host_network)
            .map(move |_| w)
    });
    let workload = pods.next()?;
    let more_pods = pods.count();
    Some(Diagnostic::warning(
        "pod-address-unknown",
        first_rule.location.clone(),
        format!(
            "this rule{} test{} addresses with nets or notNets, and {} pod{} of the input ({}{}) ha{} no known address: kubeseg matches such a pod only when every IPv4 address it could get would match, so its verdicts may change once it runs; give the pods' status (a live cluster, or `kubectl get pods -o yaml`) for exact answers",
            if more_rules > 0 {
                format!(" and {more_rules} more")
            } else {
                String::new()
            },
            if more_rules > 0 { "" } else { "s" },
            more_pods + 1,
            if more_pods > 0 { "s" } else { "" },
            workload.id(),
            if more_pods > 0 { " and others" } else { "" },
            if more_pods > 0 { "ve" } else { "s" },
        ),
    ))
}

/// One rule's `services`: its pods by the Service's selector in the Service's namespace
/// (`has(projectcalico.org/orchestrator)` keeps network sets out: only pods' endpoints
/// carry it), and for a destination the Service's target ports, each of its own
/// protocol (a named target port resolves on each pod, as the EndpointSlice controller
/// resolves it). A Service missing from the input has no endpoints: the rule matches
/// nothing (warned). One without a selector has hand-written endpoints, which kubeseg
/// does not resolve for Calico yet: error.
fn lower_services(
    cluster: &Cluster,
    rule: &mut CalicoRule,
    destination: bool,
    what: &str,
) -> Option<Diagnostic> {
    let svc = rule.peer.services.clone()?;
    let found = cluster.service(&svc.namespace, &svc.name);
    rule.peer.namespaces = Some(CalicoNamespaces::Own(svc.namespace.clone()));
    let (selector, ports, diagnostic) = match found {
        None => (
            CalicoSelector::Not(Box::new(CalicoSelector::All)),
            Vec::new(),
            Some(Diagnostic::warning(
                "calico-service-missing",
                rule.location.clone(),
                format!(
                    "{what} matches Service {}/{}, which the input does not declare: kubeseg reads it as having no endpoints, so the rule matches nothing",
                    svc.namespace, svc.name
                ),
            )),
        ),
        Some(s) => match s.selector.as_ref().filter(|l| !l.is_empty()) {
            None => (
                CalicoSelector::Not(Box::new(CalicoSelector::All)),
                Vec::new(),
                Some(Diagnostic::error(
                    "unsupported-field",
                    rule.location.clone(),
                    format!(
                        "{what} matches Service {}/{}, which has no selector: its endpoints are EndpointSlices written by hand, which kubeseg does not resolve for Calico yet",
                        svc.namespace, svc.name
                    ),
                )),
            ),
            Some(labels) => {
                let mut terms = vec![CalicoSelector::Has(
                    "projectcalico.org/orchestrator".to_string(),
                )];
                terms.extend(
                    labels
                        .iter()
                        .map(|(k, v)| CalicoSelector::Eq(k.clone(), v.clone())),
                );
                let ports = s
                    .ports
                    .iter()
                    .map(|p| match p.target.as_deref() {
                        None => CalicoPort::RangeOf(p.protocol, p.port, p.port),
                        Some(t) => match t.parse::<u16>() {
                            Ok(n) => CalicoPort::RangeOf(p.protocol, n, n),
                            Err(_) => CalicoPort::NamedOf(p.protocol, t.to_string()),
                        },
                    })
                    .collect();
                (CalicoSelector::And(terms), ports, None)
            }
        },
    };
    rule.peer.selector = Some(selector);
    if destination {
        rule.ports = Some(CalicoPorts {
            ports: Some(ports),
            not_ports: Vec::new(),
        });
    }
    diagnostic
}

/// Where a Calico selector tests a service account's labels (`pcsa.` keys beyond its
/// name), each service account that pods run as but the input does not declare: its
/// labels are unknown, and kubeseg reads it as unlabelled. The `default` account is
/// not named: Kubernetes creates it in every namespace without labels.
fn undeclared_service_accounts(cluster: &Cluster) -> Vec<Diagnostic> {
    use kubeseg_model::calico::{NAME_LABEL, SERVICE_ACCOUNT_PREFIX};
    let name_key = format!("{SERVICE_ACCOUNT_PREFIX}{NAME_LABEL}");
    let tests_labels = cluster.calico_policies.iter().any(|p| {
        p.endpoint_selectors().any(|s| {
            s.label_keys()
                .iter()
                .any(|k| k.starts_with(SERVICE_ACCOUNT_PREFIX) && *k != name_key)
        })
    });
    if !tests_labels {
        return Vec::new();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for w in &cluster.workloads {
        for pod in &w.pods {
            let Some(account) = pod.service_account.as_deref().filter(|a| *a != "default") else {
                continue;
            };
            if cluster.service_account(&w.namespace, account).is_some()
                || !seen.insert((w.namespace.as_str(), account))
            {
                continue;
            }
            out.push(Diagnostic::warning(
                "calico-service-account-missing",
                pod.location.clone().or_else(|| w.location.clone()),
                format!(
                    "{} runs as ServiceAccount {}/{account}, which the input does not declare; a Calico selector tests service-account labels, and kubeseg reads this account as unlabelled",
                    w.id(),
                    w.namespace
                ),
            ));
        }
    }
    out
}
