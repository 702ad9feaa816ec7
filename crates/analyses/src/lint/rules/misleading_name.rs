use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL101",
    name: "misleading-name",
    severity: Severity::Medium,
    summary: "A policy's name promises a deny that its spec does not do.",
    what: "For policies named `deny-*`, `*-deny-*` or `default-deny*`: reports rules that allow traffic in the direction the name denies, a named direction the policy does not isolate, a `default-deny` that selects only some pods, and a name that names a workload (`deny-backend-egress`) while the podSelector selects every pod. A rule that allows only port 53 (the usual DNS exception of a default deny, as in `foo-deny-egress`) is not a contradiction, and a deny the name qualifies (`deny-from-other-namespaces`, `foo-deny-external-egress`) is partial by its own account: its rules in that direction are not reported, and the qualifying words are not read as the workload it selects.",
    why: "Reviewers read names. A `deny` policy that allows traffic, or applies to other pods than its name says, passes review and leaves the gap open.",
    fix: "Make the spec match the name (no rules in the denied direction, the right podSelector), or rename the policy after what it does.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-backend-egress, namespace: default}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - podSelector: {}\n",
};

/// Name words that describe the policy, not what it selects.
const POLICY_WORDS: &[&str] = &[
    "deny",
    "default",
    "all",
    "ingress",
    "egress",
    "traffic",
    "policy",
    "netpol",
    "np",
    "from",
    "to",
    "allow",
    "only",
    "except",
    "and",
    "in",
    "out",
    "inbound",
    "outbound",
    "networkpolicy",
    "network",
];

/// Whether a rule allows DNS only (every port entry is port 53), the exception a
/// default deny keeps.
fn dns_only(rule: &kubeseg_model::Rule) -> bool {
    use kubeseg_model::PortMatch;
    rule.ports.as_ref().is_some_and(|ports| {
        !ports.is_empty()
            && ports
                .iter()
                .all(|p| matches!(p.port, PortMatch::Range(53, 53)))
    })
}

/// Words that qualify a deny as partial (`deny-from-other-namespaces`, `deny-external`):
/// after `from`/`to`, and the words `other`, `external`, `outside`, `cross`.
fn qualified(words: &[&str]) -> (Vec<usize>, bool, bool) {
    let mut qualifying = Vec::new();
    let (mut ingress, mut egress) = (false, false);
    let mut after: Option<&str> = None;
    for (i, w) in words.iter().enumerate() {
        match *w {
            "from" | "to" => after = Some(w),
            "other" | "external" | "outside" | "cross" => {
                qualifying.push(i);
                ingress |= after != Some("to");
                egress |= after != Some("from");
            }
            "ingress" | "egress" | "inbound" | "outbound" | "in" | "out" | "deny" | "default"
            | "all" => after = None,
            _ if after.is_some() => {
                qualifying.push(i);
                ingress |= after == Some("from");
                egress |= after == Some("to");
            }
            _ => {}
        }
    }
    (qualifying, ingress, egress)
}

fn describe_peers(rule: &kubeseg_model::Rule, egress: bool) -> String {
    use kubeseg_model::PeerKind;
    let dir = if egress { "to" } else { "from" };
    match &rule.peers {
        None => format!("{dir} everywhere"),
        Some(peers) if peers.iter().all(|p| matches!(&p.kind, PeerKind::Pods { namespaces: None, pods } if pods.as_ref().is_none_or(|s| s.is_empty()))) => {
            format!("{dir} every pod of the namespace")
        }
        Some(peers) => format!("{dir} {} peer(s)", peers.len()),
    }
}

pub fn check(cx: &mut Cx) {
    for p in cx.policies() {
        let pol = p.policy;
        let words: Vec<&str> = pol.name.split(['-', '.', '_']).collect();
        if !words.contains(&"deny") {
            continue;
        }
        let says_ingress = words
            .iter()
            .any(|w| *w == "ingress" || *w == "inbound" || *w == "in");
        let says_egress = words
            .iter()
            .any(|w| *w == "egress" || *w == "outbound" || *w == "out");
        let (deny_ingress, deny_egress) = match (says_ingress, says_egress) {
            (false, false) => (true, true),
            x => x,
        };
        let (qualifying, partial_ingress, partial_egress) = qualified(&words);
        let mut problems: Vec<Evidence> = Vec::new();
        for (dir, denied, isolates, rules, partial) in [
            (
                "ingress",
                deny_ingress,
                pol.isolates_ingress,
                &pol.ingress,
                partial_ingress,
            ),
            (
                "egress",
                deny_egress,
                pol.isolates_egress,
                &pol.egress,
                partial_egress,
            ),
        ] {
            if !denied {
                continue;
            }
            if !isolates && (says_ingress || says_egress) {
                problems.push(Evidence::at(
                    pol.location.clone(),
                    format!(
                        "it does not isolate {dir}: {} is not among its policyTypes",
                        if dir == "ingress" {
                            "Ingress"
                        } else {
                            "Egress"
                        }
                    ),
                ));
            }
            if isolates && !partial {
                for (i, r) in rules.iter().enumerate().filter(|(_, r)| !dns_only(r)) {
                    problems.push(Evidence::at(
                        r.location.clone(),
                        format!(
                            "{dir}[{i}] allows traffic {}",
                            describe_peers(r, dir == "egress")
                        ),
                    ));
                }
            }
        }
        if pol.name.starts_with("default-deny") && !pol.pod_selector.is_empty() {
            problems.push(Evidence::at(pol.location.clone(), format!("its podSelector `{}` selects only some pods, where a default deny selects every pod", pol.pod_selector)));
        }
        let subject: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                !qualifying.contains(i)
                    && !w.is_empty()
                    && !POLICY_WORDS.contains(w)
                    && !w.chars().all(|c| c.is_ascii_digit())
            })
            .map(|(_, w)| *w)
            .collect();
        if !subject.is_empty() && pol.pod_selector.is_empty() {
            problems.push(Evidence::at(pol.location.clone(), format!("the name names `{}`, but `podSelector: {{}}` selects every pod of namespace {}", subject.join("-"), pol.namespace)));
        }
        if problems.is_empty() {
            continue;
        }
        let what: Vec<&str> = problems.iter().map(|e| e.message.as_str()).collect();
        let mut f = Finding::new(
            &RULE,
            format!(
                "NetworkPolicy `{}` is named as a deny, but {}",
                pol.name,
                what.join("; ")
            ),
            pol.location.clone(),
            vec![pol.id()],
        );
        f.evidence = problems;
        f.remediation = Remediation {
            text: "Make the spec match the name, or rename the policy after what it does.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
