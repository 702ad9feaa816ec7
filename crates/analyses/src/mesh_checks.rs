//! The Istio checks the audit and lint share: principals no service account can provide
//! (KS701, KL205) or that name a service account absent from the input (KS702, KL206),
//! meshed namespaces without any ALLOW AuthorizationPolicy (KS703, KL207), principals
//! relied on where plaintext is accepted (KS704), and AuthorizationPolicies that no
//! proxy enforces (KS705, KL208). Each function takes the rule it reports under, so
//! neither the audit nor lint depends on the other.
//!
//! Work is per policy and per workload (the pods of a workload are its template or its
//! few real pods), never per pair.

use crate::finding::{Evidence, Finding, Remediation, Rule, Severity};

use kubeseg_engine::mesh::{Dataplane, MeshOptions, dataplane, mtls_mode, policy_covers};
use kubeseg_model::{AuthorizationPolicy, Cluster, Location};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The data plane of every pod of every workload, and the workloads of each namespace.
pub(crate) struct Planes<'c> {
    /// Per workload, per pod.
    pods: Vec<Vec<Dataplane>>,
    /// Namespace → its workloads.
    namespaces: HashMap<&'c str, Vec<usize>>,
}

impl<'c> Planes<'c> {
    /// Computes every pod's data plane.
    pub(crate) fn new(cluster: &'c Cluster) -> Planes<'c> {
        let mut namespaces: HashMap<&str, Vec<usize>> = HashMap::new();
        for (w, wl) in cluster.workloads.iter().enumerate() {
            namespaces.entry(wl.namespace.as_str()).or_default().push(w);
        }
        Planes {
            pods: cluster
                .workloads
                .iter()
                .map(|w| {
                    w.pods
                        .iter()
                        .map(|p| dataplane(cluster, &w.namespace, p))
                        .collect()
                })
                .collect(),
            namespaces,
        }
    }

    pub(crate) fn any_meshed(&self) -> bool {
        self.pods.iter().flatten().any(|d| *d != Dataplane::None)
    }

    /// The data plane a workload's pods share, or the first proxied one.
    fn of(&self, w: usize) -> Dataplane {
        self.pods[w]
            .iter()
            .copied()
            .find(|d| *d != Dataplane::None)
            .unwrap_or(Dataplane::None)
    }

    /// The (workload, pod) pairs a selector-scoped policy covers.
    fn covered(
        &self,
        cluster: &Cluster,
        ap: &AuthorizationPolicy,
        options: &MeshOptions,
    ) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if ap.target_refs {
            return out;
        }
        let all: Vec<usize>;
        let workloads: &[usize] = if ap.namespace == options.root_namespace {
            all = (0..cluster.workloads.len()).collect();
            &all
        } else {
            self.namespaces
                .get(ap.namespace.as_str())
                .map_or(&[], Vec::as_slice)
        };
        for &w in workloads {
            let wl = &cluster.workloads[w];
            for (p, pod) in wl.pods.iter().enumerate() {
                if policy_covers(ap, &wl.namespace, pod, options) {
                    out.push((w, p));
                }
            }
        }
        out
    }
}

/// A few items, then how many more.
fn listing(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

// ---------------------------------------------------------------------------------------
// Principals.

/// One principal (or `ns/name` service account) written in a policy.
pub(crate) struct PrincipalRef<'c> {
    /// Index of the rule in `spec.rules`.
    pub rule: usize,
    /// The source clause or condition it is in (else the rule).
    pub location: Option<Location>,
    /// Where it is written: `principals`, `notPrincipals`, `serviceAccounts`,
    /// `notServiceAccounts`, `when source.principal`, `when source.principal notValues`.
    pub field: String,
    /// Whether it excludes (a `not` form).
    pub negated: bool,
    /// Whether it is a `ns/name` service account rather than a principal.
    pub service_account: bool,
    /// The value as written.
    pub value: &'c str,
}

/// Every principal written in a policy's rules, in order.
pub(crate) fn principals(ap: &AuthorizationPolicy) -> Vec<PrincipalRef<'_>> {
    let mut out = Vec::new();
    for (i, r) in ap.rules.iter().flatten().enumerate() {
        for c in &r.from {
            for (field, values) in &c.fields {
                let (negated, service_account) = match field.as_str() {
                    "principals" => (false, false),
                    "notPrincipals" => (true, false),
                    "serviceAccounts" => (false, true),
                    "notServiceAccounts" => (true, true),
                    _ => continue,
                };
                for v in values {
                    out.push(PrincipalRef {
                        rule: i,
                        location: c.location.clone().or(r.location.clone()),
                        field: field.clone(),
                        negated,
                        service_account,
                        value: v,
                    });
                }
            }
        }
        for c in r.when.iter().filter(|c| c.key == "source.principal") {
            for (negated, values) in [(false, &c.values), (true, &c.not_values)] {
                for v in values {
                    out.push(PrincipalRef {
                        rule: i,
                        location: c.location.clone().or(r.location.clone()),
                        field: if negated {
                            "when source.principal notValues".into()
                        } else {
                            "when source.principal".into()
                        },
                        negated,
                        service_account: false,
                        value: v,
                    });
                }
            }
        }
    }
    out
}

/// A lowercase RFC 1123 label (a namespace name).
pub(crate) fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A lowercase RFC 1123 subdomain (a ServiceAccount name).
pub(crate) fn is_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
        })
}

/// One `/`-separated part of an identity.
#[derive(Clone, Copy)]
enum Part {
    TrustDomain,
    Literal(&'static str),
    Namespace,
    ServiceAccount,
}

/// How much of a part a pattern fixes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fixed {
    Whole,
    Prefix,
    Suffix,
}

impl Part {
    fn valid(self, s: &str) -> bool {
        match self {
            Part::TrustDomain => !s.is_empty() && !s.contains('*'),
            Part::Literal(l) => s == l,
            Part::Namespace => is_label(s),
            Part::ServiceAccount => is_subdomain(s),
        }
    }

    /// Whether some valid part is `s`, starts with `s` or ends with `s`.
    fn possible(self, s: &str, fixed: Fixed) -> bool {
        match (self, fixed) {
            (_, Fixed::Whole) => self.valid(s),
            (Part::TrustDomain, _) => !s.contains('*'),
            (Part::Literal(l), Fixed::Prefix) => l.starts_with(s),
            (Part::Literal(l), Fixed::Suffix) => l.ends_with(s),
            (_, Fixed::Prefix) => self.valid(s) || self.valid(&format!("{s}a")),
            (_, Fixed::Suffix) => self.valid(s) || self.valid(&format!("a{s}")),
        }
    }

    fn describe(self, s: &str) -> String {
        match self {
            Part::TrustDomain => format!("`{s}` is not a trust domain"),
            Part::Literal(l) => format!("`{s}` stands where `{l}` must"),
            Part::Namespace => format!(
                "`{s}` is not a valid namespace name (lowercase RFC 1123 label: a-z, 0-9 and '-', starting and ending alphanumeric, at most 63 characters)"
            ),
            Part::ServiceAccount => format!(
                "`{s}` is not a valid ServiceAccount name (lowercase RFC 1123 subdomain: a-z, 0-9, '-' and '.', each dot-separated part starting and ending alphanumeric, at most 253 characters)"
            ),
        }
    }
}

const PRINCIPAL: [Part; 5] = [
    Part::TrustDomain,
    Part::Literal("ns"),
    Part::Namespace,
    Part::Literal("sa"),
    Part::ServiceAccount,
];
const SERVICE_ACCOUNT: [Part; 2] = [Part::Namespace, Part::ServiceAccount];

/// Why no workload identity can match this principal pattern (`None`: one can, or the
/// pattern is not understood). Istio matches exactly, by prefix `abc*`, by suffix `*abc`,
/// or any non-empty value `*`; only the literal part of a pattern is checked.
pub(crate) fn impossible(value: &str, service_account: bool) -> Option<String> {
    let grammar: &[Part] = if service_account {
        &SERVICE_ACCOUNT
    } else {
        &PRINCIPAL
    };
    let form = if service_account {
        "`<namespace>/<service-account>`"
    } else {
        "`<trust-domain>/ns/<namespace>/sa/<service-account>`"
    };
    if value == "*"
        || (value.starts_with('*') && value.ends_with('*'))
        || value.starts_with("spiffe://")
    {
        return None;
    }
    let (literal, fixed) = if let Some(p) = value.strip_suffix('*') {
        (p, Fixed::Prefix)
    } else if let Some(s) = value.strip_prefix('*') {
        (s, Fixed::Suffix)
    } else {
        (value, Fixed::Whole)
    };
    let segs: Vec<&str> = literal.split('/').collect();
    let n = segs.len();
    if n > grammar.len() || (fixed == Fixed::Whole && n != grammar.len()) {
        return Some(format!("it is not of the form {form}"));
    }
    // Which grammar part each segment stands for, and how much of it is fixed.
    let parts: Vec<(Part, Fixed)> = match fixed {
        Fixed::Whole => grammar.iter().map(|p| (*p, Fixed::Whole)).collect(),
        Fixed::Prefix => (0..n)
            .map(|i| {
                (
                    grammar[i],
                    if i + 1 == n {
                        Fixed::Prefix
                    } else {
                        Fixed::Whole
                    },
                )
            })
            .collect(),
        Fixed::Suffix => (0..n)
            .map(|i| {
                (
                    grammar[grammar.len() - n + i],
                    if i == 0 { Fixed::Suffix } else { Fixed::Whole },
                )
            })
            .collect(),
    };
    for (s, (part, f)) in segs.iter().zip(parts) {
        if !part.possible(s, f) {
            let what = match f {
                Fixed::Whole => part.describe(s),
                Fixed::Prefix => format!("no name starts with it: {}", part.describe(s)),
                Fixed::Suffix => format!("no name ends with it: {}", part.describe(s)),
            };
            return Some(what);
        }
    }
    None
}

/// What an entry that never matches does, for a policy's action.
fn never_matches_effect(action: &str, negated: bool) -> &'static str {
    match (action, negated) {
        ("DENY", false) => {
            "this DENY entry never fires, so the requests it was meant to reject are allowed"
        }
        ("DENY", true) => {
            "it excludes nothing, so the DENY rule also rejects the requests it was meant to spare"
        }
        ("ALLOW", false) => {
            "this ALLOW entry never matches, so the requests it was meant to admit are denied"
        }
        ("ALLOW", true) => {
            "it excludes nothing, so the ALLOW rule also admits the requests it was meant to keep out"
        }
        (_, false) => "this entry never matches",
        (_, true) => "it excludes nothing",
    }
}

/// Principals no service account can provide (KS701, KL205).
pub(crate) fn impossible_principals(
    aps: &[&AuthorizationPolicy],
    rule: &'static Rule,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for ap in aps {
        for p in principals(ap) {
            let Some(why) = impossible(p.value, p.service_account) else {
                continue;
            };
            let what = if p.service_account {
                "service account"
            } else {
                "principal"
            };
            let mut f = Finding::new(
                rule,
                format!(
                    "rules[{}] of AuthorizationPolicy {} ({}): {what} `{}` in {} matches no workload identity; {}",
                    p.rule,
                    ap.id(),
                    ap.action,
                    p.value,
                    p.field,
                    never_matches_effect(ap.action.as_str(), p.negated)
                ),
                p.location.clone().or(ap.location.clone()),
                vec![ap.id()],
            );
            f.evidence.push(Evidence::at(p.location.clone(), why));
            f.remediation = Remediation {
                text: "Write the identity of an existing ServiceAccount (`<trust-domain>/ns/<namespace>/sa/<name>`, lowercase).".into(),
                yaml: None,
            };
            out.push(f);
        }
    }
    out
}

/// The service accounts an input declares or its pods use, and the namespaces where it
/// says anything about service accounts.
struct Accounts<'c> {
    known: HashSet<(&'c str, &'c str)>,
    informed: HashSet<&'c str>,
}

impl<'c> Accounts<'c> {
    fn new(cluster: &'c Cluster) -> Self {
        let mut known = HashSet::new();
        let mut informed = HashSet::new();
        for sa in &cluster.service_accounts {
            known.insert((sa.namespace.as_str(), sa.name.as_str()));
            informed.insert(sa.namespace.as_str());
        }
        for w in &cluster.workloads {
            for p in &w.pods {
                if let Some(sa) = &p.service_account {
                    known.insert((w.namespace.as_str(), sa.as_str()));
                    informed.insert(w.namespace.as_str());
                }
            }
        }
        Accounts { known, informed }
    }
}

/// The (namespace, name) of an exact principal or service account.
fn account_of(value: &str, service_account: bool) -> Option<(&str, &str)> {
    if value.contains('*') {
        return None;
    }
    let segs: Vec<&str> = value.split('/').collect();
    match (service_account, segs.as_slice()) {
        (true, [ns, sa]) => Some((ns, sa)),
        (false, [_, "ns", ns, "sa", sa]) => Some((ns, sa)),
        _ => None,
    }
}

/// Principals naming a service account the input does not hold (KS702, KL206).
pub(crate) fn unknown_service_accounts(
    cluster: &Cluster,
    aps: &[&AuthorizationPolicy],
    rule: &'static Rule,
) -> Vec<Finding> {
    let accounts = Accounts::new(cluster);
    let mut out = Vec::new();
    for ap in aps {
        for p in principals(ap) {
            if impossible(p.value, p.service_account).is_some() {
                continue;
            }
            let Some((ns, sa)) = account_of(p.value, p.service_account) else {
                continue;
            };
            if sa == "default"
                || !accounts.informed.contains(ns)
                || accounts.known.contains(&(ns, sa))
            {
                continue;
            }
            let mut f = Finding::new(
                rule,
                format!(
                    "rules[{}] of AuthorizationPolicy {} ({}): `{}` in {} names ServiceAccount {ns}/{sa}, which the input neither declares nor uses",
                    p.rule,
                    ap.id(),
                    ap.action,
                    p.value,
                    p.field
                ),
                p.location.clone().or(ap.location.clone()),
                vec![ap.id()],
            );
            f.evidence.push(Evidence::at(
                p.location.clone(),
                format!(
                    "the input declares ServiceAccounts or sets serviceAccountName in namespace {ns}, but no ServiceAccount {sa} and no pod running as it"
                ),
            ));
            f.remediation = Remediation {
                text: "Fix the name (a typo, or a renamed ServiceAccount), or lint the policy together with the workloads that run as it.".into(),
                yaml: None,
            };
            out.push(f);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Coverage.

/// Namespaces whose meshed workloads no ALLOW policy covers (KS703, KL207).
pub(crate) fn namespaces_without_allow(
    cluster: &Cluster,
    options: &MeshOptions,
    planes: &Planes,
    rule: &'static Rule,
) -> Vec<Finding> {
    let mut allowed: Vec<Vec<bool>> = cluster
        .workloads
        .iter()
        .map(|w| vec![false; w.pods.len()])
        .collect();
    for ap in cluster
        .authorization_policies
        .iter()
        .filter(|ap| ap.action == kubeseg_model::AuthzAction::Allow)
    {
        for (w, p) in planes.covered(cluster, ap, options) {
            allowed[w][p] = true;
        }
    }
    let mut flat: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (w, wl) in cluster.workloads.iter().enumerate() {
        if (0..wl.pods.len()).any(|p| planes.pods[w][p] != Dataplane::None && !allowed[w][p]) {
            flat.entry(wl.namespace.as_str()).or_default().push(w);
        }
    }
    let mut out = Vec::new();
    for (ns, ws) in flat {
        let decl = cluster.namespaces.iter().find(|n| n.name == ns);
        let location = decl
            .and_then(|n| n.location.clone())
            .or_else(|| cluster.workloads[ws[0]].location.clone());
        let ids: Vec<String> = ws
            .iter()
            .map(|&w| format!("{} ({})", cluster.workloads[w].id(), planes.of(w).as_str()))
            .collect();
        let mut f = Finding::new(
            rule,
            format!(
                "namespace {ns}: {} meshed workload(s) covered by no ALLOW AuthorizationPolicy accept every request that reaches them ({})",
                ws.len(),
                listing(&ids)
            ),
            location.clone(),
            vec![ns.to_string()],
        );
        f.evidence.push(Evidence::at(
            location,
            format!(
                "no ALLOW AuthorizationPolicy in {ns} or in the root namespace {} covers these workloads: without one, their proxies accept every request",
                options.root_namespace
            ),
        ));
        for &w in ws.iter().take(5) {
            let wl = &cluster.workloads[w];
            f.evidence.push(Evidence::at(
                wl.location.clone(),
                format!("{} runs {}", wl.id(), planes.of(w).as_str()),
            ));
        }
        f.remediation = Remediation {
            text: "Apply an allow-nothing policy to the namespace, then ALLOW policies for the clients each workload needs.".into(),
            yaml: Some(format!(
                "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-nothing\n  namespace: {ns}\nspec: {{}}\n"
            )),
        };
        out.push(f);
    }
    out
}

use kubeseg_model::mesh::IDENTITY_FIELDS;

/// Rules relying on principals where the covered proxies accept plaintext (KS704).
pub(crate) fn principals_plaintext(
    cluster: &Cluster,
    options: &MeshOptions,
    planes: &Planes,
    rule: &'static Rule,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for ap in &cluster.authorization_policies {
        if ap.action != kubeseg_model::AuthzAction::Allow
            && ap.action != kubeseg_model::AuthzAction::Deny
        {
            continue;
        }
        let Some(rules) = &ap.rules else { continue };
        let mut meshed: Option<Vec<(usize, usize)>> = None;
        // One finding per policy: its first such rule, the others as evidence.
        let mut found: Option<Finding> = None;
        let mut more = 0;
        for (i, r) in rules.iter().enumerate() {
            let mut fields: Vec<&str> = Vec::new();
            for c in &r.from {
                for (k, _) in &c.fields {
                    if IDENTITY_FIELDS.contains(&k.as_str()) && !fields.contains(&k.as_str()) {
                        fields.push(k);
                    }
                }
            }
            for c in &r.when {
                if (c.key == "source.principal" || c.key == "source.namespace")
                    && !fields.contains(&c.key.as_str())
                {
                    fields.push(&c.key);
                }
            }
            if fields.is_empty() {
                continue;
            }
            let pods = meshed.get_or_insert_with(|| {
                planes
                    .covered(cluster, ap, options)
                    .into_iter()
                    .filter(|&(w, p)| planes.pods[w][p] != Dataplane::None)
                    .collect()
            });
            let ports: Vec<u16> = r.ports.iter().filter_map(|p| p.parse().ok()).collect();
            // (workload, port, mode, PeerAuthentication), one per workload and mode.
            let mut weak: BTreeSet<(usize, Option<u16>, kubeseg_model::MtlsMode, Option<usize>)> =
                BTreeSet::new();
            for &(w, p) in pods.iter() {
                let wl = &cluster.workloads[w];
                let pod = &wl.pods[p];
                let mut check: Vec<Option<u16>> = if ports.is_empty() {
                    pod.ports
                        .iter()
                        .filter(|c| c.protocol == kubeseg_model::Protocol::Tcp)
                        .map(|c| Some(c.port))
                        .collect()
                } else {
                    ports.iter().map(|&p| Some(p)).collect()
                };
                if check.is_empty() {
                    check.push(None);
                }
                for port in check {
                    let (mode, pa) = mtls_mode(
                        cluster,
                        &wl.namespace,
                        &pod.labels,
                        port.unwrap_or(0),
                        options,
                    );
                    if mode != kubeseg_model::MtlsMode::Strict {
                        weak.insert((w, port, mode, pa));
                    }
                }
            }
            if weak.is_empty() {
                continue;
            }
            let negated_only = fields.iter().all(|f| f.starts_with("not"));
            let effect = match (ap.action.as_str(), negated_only) {
                ("DENY", _) => "plaintext requests carry no identity and pass this DENY rule",
                (_, true) => {
                    "plaintext requests carry no identity, so they satisfy its `not` fields and are admitted"
                }
                _ => {
                    "plaintext requests carry no identity, so this rule never admits them: clients without a proxy are denied"
                }
            };
            let high = ap.action == kubeseg_model::AuthzAction::Deny || negated_only;
            if let Some(f) = &mut found {
                more += 1;
                if high {
                    f.severity = Severity::High;
                }
                f.evidence.push(Evidence::at(
                    r.location.clone(),
                    format!(
                        "rules[{i}] relies on {} as well: {effect}",
                        fields.join(", ")
                    ),
                ));
                continue;
            }
            let workloads: Vec<String> = {
                let mut v: Vec<String> = weak
                    .iter()
                    .map(|(w, port, m, _)| match port {
                        Some(port) => format!("{}:{port} ({m})", cluster.workloads[*w].id()),
                        None => format!("{} ({m})", cluster.workloads[*w].id()),
                    })
                    .collect();
                v.dedup();
                v
            };
            let mut f = Finding::new(
                rule,
                format!(
                    "rules[{i}] of AuthorizationPolicy {} ({}) relies on {} but mutual TLS is not STRICT on {}: {effect}",
                    ap.id(),
                    ap.action,
                    fields.join(", "),
                    listing(&workloads)
                ),
                r.location.clone().or(ap.location.clone()),
                vec![ap.id()],
            );
            if high {
                f.severity = Severity::High;
            }
            let mut sources: Vec<(Option<usize>, &str)> =
                weak.iter().map(|(_, _, m, pa)| (*pa, m.as_str())).collect();
            sources.sort_unstable();
            sources.dedup();
            for (pa, mode) in sources {
                match pa {
                    Some(i) => {
                        let pa = &cluster.peer_authentications[i];
                        f.evidence.push(Evidence::at(
                            pa.location.clone(),
                            format!(
                                "PeerAuthentication {}/{} sets mode {mode}",
                                pa.namespace, pa.name
                            ),
                        ));
                    }
                    None => f.evidence.push(Evidence::at(
                        None,
                        "no PeerAuthentication in the input applies to some of these workloads: Istio's default is PERMISSIVE",
                    )),
                }
            }
            // A namespace-wide STRICT policy helps only where no PeerAuthentication applies.
            let namespaces: BTreeSet<&str> = weak
                .iter()
                .filter(|(.., pa)| pa.is_none())
                .map(|(w, ..)| cluster.workloads[*w].namespace.as_str())
                .collect();
            let set_by_pa = weak.iter().any(|(.., pa)| pa.is_some());
            f.remediation = Remediation {
                text: match (set_by_pa, namespaces.is_empty()) {
                    (true, true) => "Require mutual TLS for the workloads this policy covers: set mode STRICT in the PeerAuthentications shown (their portLevelMtls too).",
                    (true, false) => "Require mutual TLS for the workloads this policy covers: set mode STRICT in the PeerAuthentications shown (their portLevelMtls too), and apply the one below where none applies.",
                    _ => "Require mutual TLS for the workloads this policy covers.",
                }
                .into(),
                yaml: (!namespaces.is_empty()).then(|| {
                    namespaces
                        .iter()
                        .map(|ns| format!(
                            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: {ns}\nspec:\n  mtls:\n    mode: STRICT\n"
                        ))
                        .collect::<Vec<_>>()
                        .join("---\n")
                }),
            };
            found = Some(f);
        }
        if let Some(mut f) = found {
            if more > 0 {
                f.title
                    .push_str(&format!(" (and {more} more rule(s) of the policy)"));
            }
            out.push(f);
        }
    }
    out
}

/// Whether a pod without a proxy is known to run none: its namespace is declared in the
/// input (so its labels are known), or the pod opts out itself.
fn known_unmeshed(cluster: &Cluster, w: usize, p: usize) -> bool {
    let wl = &cluster.workloads[w];
    let pod = &wl.pods[p];
    cluster
        .namespace(&wl.namespace)
        .is_some_and(|n| n.location.is_some())
        || pod
            .labels
            .get("sidecar.istio.io/inject")
            .map(String::as_str)
            == Some("false")
        || pod.inject_annotation.as_deref() == Some("false")
}

/// AuthorizationPolicies that cover only workloads without a proxy, and `targetRefs`
/// policies, which attach to what kubeseg does not model (KS705, KL208). Policies whose
/// workloads sit in namespaces the input does not declare are left undecided (their
/// injection labels are unknown) and returned with a note.
pub(crate) fn not_enforced(
    cluster: &Cluster,
    options: &MeshOptions,
    planes: &Planes,
    rule: &'static Rule,
) -> (Vec<Finding>, Option<String>) {
    let mut out = Vec::new();
    let mut undecided: Vec<String> = Vec::new();
    for ap in &cluster.authorization_policies {
        if ap.target_refs {
            let targets: Vec<String> = ap
                .targets
                .iter()
                .map(|(_, kind, name)| format!("{kind}/{name}"))
                .collect();
            let mut f = Finding::new(
                rule,
                format!(
                    "AuthorizationPolicy {} attaches through targetRefs to {}: gateways and waypoints are not modelled, so kubeseg does not check what it enforces",
                    ap.id(),
                    if targets.is_empty() {
                        "its targets".to_string()
                    } else {
                        targets.join(", ")
                    }
                ),
                ap.location.clone(),
                vec![ap.id()],
            );
            f.severity = Severity::Info;
            f.evidence.push(Evidence::at(
                ap.location.clone(),
                "a policy with targetRefs applies at the targeted gateway or waypoint, not at workload proxies",
            ));
            f.remediation = Remediation {
                text: "Check the targeted gateway or waypoint by other means.".into(),
                yaml: None,
            };
            out.push(f);
            continue;
        }
        let pods = planes.covered(cluster, ap, options);
        if pods.is_empty()
            || pods
                .iter()
                .any(|&(w, p)| planes.pods[w][p] != Dataplane::None)
        {
            continue;
        }
        if !pods.iter().all(|&(w, p)| known_unmeshed(cluster, w, p)) {
            undecided.push(ap.id());
            continue;
        }
        let mut ws: Vec<usize> = pods.iter().map(|&(w, _)| w).collect();
        ws.dedup();
        let ids: Vec<String> = ws.iter().map(|&w| cluster.workloads[w].id()).collect();
        let mut f = Finding::new(
            rule,
            format!(
                "AuthorizationPolicy {} ({}) covers only workloads without a sidecar or ambient mode, so nothing enforces it: {}",
                ap.id(),
                ap.action,
                listing(&ids)
            ),
            ap.location.clone(),
            vec![ap.id()],
        );
        for &w in ws.iter().take(5) {
            let wl = &cluster.workloads[w];
            let ns = cluster.namespaces.iter().find(|n| n.name == wl.namespace);
            let label = |k: &str| {
                ns.and_then(|n| n.labels.get(k))
                    .map_or_else(|| format!("no `{k}` label"), |v| format!("`{k}: {v}`"))
            };
            f.evidence.push(Evidence::at(
                wl.location.clone(),
                format!(
                    "{} runs no proxy (namespace {}: {}, {}; pod label `sidecar.istio.io/inject`: {})",
                    wl.id(),
                    wl.namespace,
                    label("istio-injection"),
                    label("istio.io/dataplane-mode"),
                    wl.pods[0]
                        .labels
                        .get("sidecar.istio.io/inject")
                        .map_or("absent", String::as_str)
                ),
            ));
        }
        f.remediation = Remediation {
            text: "Enable sidecar injection (label the namespace `istio-injection: enabled` and restart the workloads) or ambient mode, or protect the workloads with NetworkPolicies.".into(),
            yaml: None,
        };
        out.push(f);
    }
    let note = (!undecided.is_empty()).then(|| {
        format!(
            "{} ({}) not checked for {} {} whose workloads are in namespaces the input does not declare, so their injection labels are unknown: {}",
            rule.code,
            rule.name,
            undecided.len(),
            if undecided.len() == 1 {
                "AuthorizationPolicy"
            } else {
                "AuthorizationPolicies"
            },
            listing(&undecided)
        )
    });
    (out, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_no_service_account_can_provide() {
        let bad = |v: &str| impossible(v, false).is_some();
        assert!(bad("cluster.local/ns/default/sa/1Tap"));
        assert!(bad("cluster.local/ns/ci_cd/sa/deployer"));
        assert!(bad("cluster.local/ns/a/sa/web."));
        assert!(bad("cluster.local/ns/a/sa/a..b"));
        assert!(bad("ns/a/sa/web"));
        assert!(bad("cluster.local/ns/a/sa/web/x"));
        assert!(bad("cluster.local/nss/a/sa/web"));
        assert!(bad(&format!("cluster.local/ns/{}/sa/web", "a".repeat(64))));
        assert!(bad(&format!("cluster.local/ns/a/sa/{}", "a".repeat(254))));
        assert!(bad("*/sa/Web"));
        assert!(bad("*-Admin"));
        assert!(bad("cluster.local/ns/-a*"));
        assert!(bad("a/b/c/d/e/f*"));
        assert!(bad("*/a/ns/b/sa/c"));
        let good = |v: &str| impossible(v, false).is_none();
        assert!(good("cluster.local/ns/default/sa/1tap"));
        assert!(good("cluster.local/ns/a/sa/web.v2"));
        assert!(good(&format!("cluster.local/ns/{}/sa/web", "a".repeat(63))));
        assert!(good("*"));
        assert!(good("cluster.local/ns/a/sa/web-*"));
        assert!(good("cluster.local/ns/a/*"));
        assert!(good("cluster.local/n*"));
        assert!(good("*/ns/a/sa/web"));
        assert!(good("*-admin"));
        assert!(good("*.local/ns/a/sa/b"));
        assert!(good("*Upper*"), "both-ended patterns are not judged");
        assert!(good("spiffe://cluster.local/ns/a/sa/B"));
        assert!(impossible("shop/Web", true).is_some());
        assert!(impossible("shop/web/x", true).is_some());
        assert!(impossible("shop/web", true).is_none());
        assert!(impossible("shop/*", true).is_none());
    }

    #[test]
    fn names() {
        assert!(is_label("a-1") && !is_label("-a") && !is_label("a.b") && !is_label(""));
        assert!(is_subdomain("a.b-c") && !is_subdomain("a.-b") && !is_subdomain("A"));
    }
}
