//! AuthorizationPolicy rules against one request, in Istio's order.

use super::logic::{Truth, any_matches, host_matches};
use super::{
    Dataplane, Decision, MeshOptions, MeshVerdict, Mismatch, Miss, Party, Reason, Request,
    RuleStep, dataplane, mtls_mode, policy_covers, port_is_http, service_selects,
};
use kubeseg_model::{AuthorizationRule, AuthzAction, Clause, Cluster, Condition, MtlsMode, Pod};

use kubeseg_model::mesh::HTTP_ONLY_FIELDS as HTTP_ONLY;

/// What the rules are evaluated against.
struct Facts<'a> {
    principal: Option<String>,
    source_namespace: Option<&'a str>,
    source_ips: Vec<std::net::IpAddr>,
    port: u16,
    request: &'a Request,
    /// Whether HTTP attributes exist on this port (false: TCP, or ambient without waypoint).
    http: bool,
}

/// The destination side, computed once per destination workload.
pub struct Destination<'c> {
    /// The namespace.
    pub namespace: &'c str,
    /// The pod.
    pub pod: &'c Pod,
    /// Its data plane.
    pub plane: Dataplane,
    /// The AuthorizationPolicies whose scope covers it.
    pub covering: Vec<usize>,
    /// The Services that select it (they declare its ports' protocols).
    pub services: Vec<usize>,
}

impl<'c> Destination<'c> {
    /// Looks the destination's data plane and covering policies up.
    pub fn new(cluster: &Cluster, namespace: &'c str, pod: &'c Pod, options: &MeshOptions) -> Self {
        let policies: Vec<usize> = (0..cluster.authorization_policies.len()).collect();
        let services: Vec<usize> = (0..cluster.services.len()).collect();
        Self::among(cluster, namespace, pod, options, &policies, &services)
    }

    /// The same, looking only at the candidate policies (those of the destination's and
    /// the root namespace) and candidate Services (those of its namespace).
    pub fn among(
        cluster: &Cluster,
        namespace: &'c str,
        pod: &'c Pod,
        options: &MeshOptions,
        candidates: &[usize],
        services: &[usize],
    ) -> Self {
        Destination {
            namespace,
            pod,
            plane: dataplane(cluster, namespace, pod),
            covering: candidates
                .iter()
                .copied()
                .filter(|&i| {
                    policy_covers(&cluster.authorization_policies[i], namespace, pod, options)
                })
                .collect(),
            services: services
                .iter()
                .copied()
                .filter(|&i| service_selects(&cluster.services[i], namespace, pod))
                .collect(),
        }
    }
}

/// `why`: also say why each applicable ALLOW rule does not match (`misses`), which
/// costs a second look at those rules; `reach` and the audit do without.
pub(super) fn evaluate(
    cluster: &Cluster,
    src: Party,
    dst: &Destination,
    port: u16,
    request: &Request,
    options: &MeshOptions,
    why: bool,
) -> MeshVerdict {
    let src_plane = match src {
        Party::Pod { namespace, pod } => dataplane(cluster, namespace, pod),
        Party::Address(_) => Dataplane::None,
    };
    let (dst_namespace, dst_plane) = (dst.namespace, dst.plane);
    let mtls = mtls_mode(cluster, dst_namespace, &dst.pod.labels, port, options);
    let (targeted, applying): (Vec<usize>, Vec<usize>) = dst
        .covering
        .iter()
        .partition(|&&i| !cluster.authorization_policies[i].targets.is_empty());
    let mut v = MeshVerdict {
        dataplanes: (src_plane, dst_plane),
        mtls,
        principal: None,
        decision: Decision::Allowed,
        reason: Reason::NoAllowPolicy,
        deciding: None,
        steps: Vec::new(),
        misses: Vec::new(),
        unenforced: targeted,
    };
    if dst_plane == Dataplane::None {
        v.unenforced.extend(&applying);
        v.unenforced.sort_unstable();
        v.reason = Reason::NoProxy;
        return v;
    }
    let mutual = src_plane != Dataplane::None && mtls.0 != MtlsMode::Disable;
    if let (true, Party::Pod { namespace, pod }) = (mutual, src) {
        let sa = pod.service_account.as_deref().unwrap_or("default");
        v.principal = Some(format!("{}/ns/{namespace}/sa/{sa}", options.trust_domain));
    }
    if !mutual && mtls.0 == MtlsMode::Strict {
        v.decision = Decision::Denied;
        v.reason = Reason::PlaintextUnderStrict;
        return v;
    }
    let facts = Facts {
        principal: v.principal.clone(),
        source_namespace: match src {
            Party::Pod { namespace, .. } if mutual => Some(namespace),
            _ => None,
        },
        source_ips: match src {
            Party::Pod { pod, .. } => pod.ips.clone(),
            Party::Address(ip) => vec![ip],
        },
        port,
        request,
        http: dst_plane == Dataplane::Sidecar
            && port_is_http(cluster, &dst.services, dst.pod, port) != Some(false),
    };
    decide(cluster, &applying, &facts, &mut v, why);
    v
}

fn decide(cluster: &Cluster, applying: &[usize], facts: &Facts, v: &mut MeshVerdict, why: bool) {
    let aps = &cluster.authorization_policies;
    let of = |action: AuthzAction| -> Vec<usize> {
        applying
            .iter()
            .copied()
            .filter(|&i| aps[i].action == action)
            .collect()
    };
    let mut pending: Vec<String> = Vec::new();
    for (action, list) in [
        (AuthzAction::Custom, of(AuthzAction::Custom)),
        (AuthzAction::Deny, of(AuthzAction::Deny)),
    ] {
        for p in list {
            for (rule, truth) in policy_rules(cluster, p, facts) {
                if !truth.possible() {
                    continue;
                }
                push_step(v, cluster, p, rule, truth.clone());
                match (action, truth) {
                    (AuthzAction::Custom, _) => {
                        let provider = aps[p].provider.clone().unwrap_or_default();
                        pending.push(format!("the external authorizer `{provider}` agrees"));
                    }
                    (_, Truth::Yes) => {
                        v.decision = Decision::Denied;
                        v.deciding = Some((p, rule));
                        v.reason = Reason::DenyMatches;
                        return;
                    }
                    (_, Truth::Unknown(conds)) => {
                        pending.push(format!("not ({})", conds.join(" and ")))
                    }
                    (_, Truth::No) => {}
                }
            }
        }
    }
    let allows = of(AuthzAction::Allow);
    let mut allowed = Truth::No;
    let mut first_yes = None;
    for &p in &allows {
        for (rule, truth) in policy_rules(cluster, p, facts) {
            if !truth.possible() && !why {
                continue;
            }
            if !truth.possible() {
                let mismatch = match rule.and_then(|r| aps[p].rules.as_ref().map(|rs| &rs[r])) {
                    Some(r) => why_not(r, facts),
                    None => Mismatch::NoRules,
                };
                v.misses.push(Miss {
                    policy: p,
                    rule,
                    mismatch,
                });
                continue;
            }
            push_step(v, cluster, p, rule, truth.clone());
            if truth == Truth::Yes && first_yes.is_none() {
                first_yes = Some((p, rule));
            }
            allowed = allowed.or(truth);
        }
    }
    if allows.is_empty() {
        allowed = Truth::Yes;
    }
    match allowed {
        Truth::No => {
            v.decision = Decision::Denied;
            v.reason = Reason::NoAllowMatches;
        }
        Truth::Yes => {
            v.deciding = first_yes;
            v.reason = match first_yes {
                Some(_) => Reason::AllowMatches,
                None => Reason::NoAllowPolicy,
            };
            if !pending.is_empty() {
                v.decision = Decision::Conditional(pending);
            }
        }
        Truth::Unknown(conds) => {
            pending.push(conds.join(" and "));
            v.reason = Reason::AllowConditional;
            v.decision = Decision::Conditional(pending);
        }
    }
}

/// The first part of an ALLOW rule that keeps it from matching, in Istio's order:
/// HTTP-only fields on a TCP port, then `from`, `to`, `when`.
fn why_not(rule: &AuthorizationRule, facts: &Facts) -> Mismatch {
    if let Some(field) = http_only_field(rule).filter(|_| !facts.http) {
        return Mismatch::HttpOnTcp(field);
    }
    for (part, list) in [("from", &rule.from), ("to", &rule.to)] {
        if list.is_empty() || list.iter().any(|c| clause_truth(c, facts).possible()) {
            continue;
        }
        // Every clause fails; name the failing field of the first.
        for (key, values) in &list[0].fields {
            let one = Clause {
                location: None,
                fields: vec![(key.clone(), values.clone())],
            };
            if !clause_truth(&one, facts).possible() {
                return Mismatch::Field(format!("{part}.{key}"));
            }
        }
    }
    for c in &rule.when {
        if !condition_truth(c, facts).possible() {
            return Mismatch::Field(format!("when.{}", c.key));
        }
    }
    Mismatch::Field("rule".into())
}

/// The first HTTP-only field a rule uses (`methods`, or `request.headers[x]` in `when`).
fn http_only_field(rule: &AuthorizationRule) -> Option<String> {
    rule.from
        .iter()
        .chain(&rule.to)
        .flat_map(|c| &c.fields)
        .map(|(k, _)| k)
        .find(|k| HTTP_ONLY.contains(&k.as_str()))
        .cloned()
        .or_else(|| {
            rule.when
                .iter()
                .find(|c| c.key.starts_with("request."))
                .map(|c| c.key.clone())
        })
}

fn push_step(v: &mut MeshVerdict, cluster: &Cluster, p: usize, rule: Option<usize>, truth: Truth) {
    let ap = &cluster.authorization_policies[p];
    let constraints = rule
        .and_then(|r| ap.rules.as_ref().map(|rs| &rs[r]))
        .map(constraints)
        .unwrap_or_default();
    v.steps.push(RuleStep {
        policy: p,
        rule,
        action: ap.action,
        truth,
        constraints,
    });
}

/// Each rule of a policy with whether it matches (`None` rule: a policy without rules,
/// which never matches).
fn policy_rules(cluster: &Cluster, p: usize, facts: &Facts) -> Vec<(Option<usize>, Truth)> {
    let ap = &cluster.authorization_policies[p];
    let Some(rules) = &ap.rules else {
        return vec![(None, Truth::No)];
    };
    let deny = ap.action == AuthzAction::Deny;
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| (Some(i), rule_truth(r, facts, deny)))
        .collect()
}

/// `from` AND `to` AND `when`. On a port without HTTP, an HTTP-only field makes an
/// ALLOW (CUSTOM, AUDIT) rule never match and is ignored in a DENY rule, as Istio does.
fn rule_truth(rule: &AuthorizationRule, facts: &Facts, deny: bool) -> Truth {
    if !facts.http && !deny && http_only_field(rule).is_some() {
        return Truth::No;
    }
    let clauses = |list: &[Clause]| {
        if list.is_empty() {
            return Truth::Yes;
        }
        list.iter()
            .map(|c| clause_truth(c, facts))
            .fold(Truth::No, Truth::or)
    };
    let mut t = clauses(&rule.from).and(clauses(&rule.to));
    for c in &rule.when {
        if !facts.http && c.key.starts_with("request.") {
            continue;
        }
        t = t.and(condition_truth(c, facts));
    }
    t
}

fn clause_truth(c: &Clause, facts: &Facts) -> Truth {
    let mut t = Truth::Yes;
    for (key, values) in &c.fields {
        if !facts.http && HTTP_ONLY.contains(&key.as_str()) {
            continue;
        }
        let (negated, base) = match key.strip_prefix("not") {
            Some(rest) => (true, lower_first(rest)),
            None => (false, key.clone()),
        };
        let field = field_truth(&base, values, facts);
        t = t.and(if negated {
            not(field, &base, values)
        } else {
            field
        });
    }
    t
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn not(t: Truth, key: &str, values: &[String]) -> Truth {
    match t {
        Truth::Yes => Truth::No,
        Truth::No => Truth::Yes,
        Truth::Unknown(_) => Truth::Unknown(vec![format!("{key} not in [{}]", values.join(", "))]),
    }
}

fn field_truth(key: &str, values: &[String], facts: &Facts) -> Truth {
    let unknown = |attr: &str| Truth::Unknown(vec![format!("{attr} in [{}]", values.join(", "))]);
    let principal = facts.principal.as_deref().unwrap_or("");
    match key {
        "principals" => Truth::of(any_matches(values, principal)),
        "namespaces" => Truth::of(any_matches(values, facts.source_namespace.unwrap_or(""))),
        "serviceAccounts" => {
            // `ns/name`, taken from the principal.
            let sa = principal
                .split_once("/ns/")
                .map(|(_, rest)| rest.replacen("/sa/", "/", 1))
                .unwrap_or_default();
            Truth::of(any_matches(values, &sa))
        }
        "ports" => Truth::of(values.iter().any(|p| *p == facts.port.to_string())),
        "ipBlocks" if !facts.source_ips.is_empty() => {
            Truth::of(values.iter().any(|b| ip_matches(b, &facts.source_ips)))
        }
        "ipBlocks" => unknown("source.ip"),
        "remoteIpBlocks" => unknown("remote.ip"),
        "requestPrincipals" => unknown("request.auth.principal"),
        "methods" => match &facts.request.method {
            Some(m) => Truth::of(any_matches(values, m)),
            None => unknown("request.method"),
        },
        "paths" => match &facts.request.path {
            Some(p) => Truth::of(any_matches(values, p)),
            None => unknown("request.path"),
        },
        "hosts" => match &facts.request.host {
            Some(h) => Truth::of(host_matches(values, h)),
            None => unknown("request.host"),
        },
        other => unknown(other),
    }
}

/// Whether one of `ips` is the address or in the CIDR `block` (Istio takes both).
pub(super) fn ip_matches(block: &str, ips: &[std::net::IpAddr]) -> bool {
    let set = match block.parse::<std::net::IpAddr>() {
        Ok(ip) => kubeseg_model::IpSet::single(ip),
        Err(_) => match kubeseg_model::Cidr::parse(block) {
            Ok(c) => c.to_set(),
            Err(_) => return false,
        },
    };
    ips.iter().any(|ip| set.contains(*ip))
}

fn condition_truth(c: &Condition, facts: &Facts) -> Truth {
    if c.key == "source.ip" && !facts.source_ips.is_empty() {
        let any = |list: &[String]| list.iter().any(|b| ip_matches(b, &facts.source_ips));
        return Truth::of((c.values.is_empty() || any(&c.values)) && !any(&c.not_values));
    }
    let known: Option<String> = match c.key.as_str() {
        "source.namespace" => Some(facts.source_namespace.unwrap_or("").to_string()),
        "source.principal" => Some(facts.principal.clone().unwrap_or_default()),
        "destination.port" => Some(facts.port.to_string()),
        _ => None,
    };
    match known {
        Some(value) => {
            let in_values = c.values.is_empty() || any_matches(&c.values, &value);
            Truth::of(in_values && !any_matches(&c.not_values, &value))
        }
        None => {
            let mut parts = Vec::new();
            if !c.values.is_empty() {
                parts.push(format!("{} in [{}]", c.key, c.values.join(", ")));
            }
            if !c.not_values.is_empty() {
                parts.push(format!("{} not in [{}]", c.key, c.not_values.join(", ")));
            }
            Truth::Unknown(parts)
        }
    }
}

/// A rule's request-level constraints, for summaries: `POST`, `/api/*`, conditions.
fn constraints(rule: &AuthorizationRule) -> Vec<String> {
    let mut out = Vec::new();
    for c in &rule.to {
        for (k, values) in &c.fields {
            match k.as_str() {
                "methods" | "paths" | "hosts" => out.push(values.join("|")),
                "notMethods" | "notPaths" | "notHosts" => {
                    out.push(format!("not {}", values.join("|")))
                }
                _ => {}
            }
        }
    }
    for c in &rule.from {
        for (k, values) in &c.fields {
            match k.as_str() {
                "requestPrincipals" => out.push(format!("jwt {}", values.join("|"))),
                "principals" => out.push(format!("from {}", values.join("|"))),
                _ => {}
            }
        }
    }
    for c in &rule.when {
        if !c.key.starts_with("source.") && c.key != "destination.port" {
            out.push(format!("{} in [{}]", c.key, c.values.join(", ")));
        }
    }
    out
}
