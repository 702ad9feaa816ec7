use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL204",
    name: "authz-allow-nothing",
    severity: Severity::Medium,
    summary: "An ALLOW AuthorizationPolicy without rules denies every request.",
    what: "Fires for AuthorizationPolicies with action ALLOW (the default) and no `rules` (or an empty list), and says what they do: once any ALLOW policy applies to a workload, a request must match one of its rules, and this policy has none. A name that says so (`allow-nothing`, Istio's documented deny-all, or `deny-all`) is taken at its word: no finding.",
    why: "It is Istio's deny-all. Written by accident (rules mis-indented, or under `spec.rule`), it cuts the selected workloads off.",
    fix: "If a deny-all is meant, say so in its name; otherwise add the rules.",
    example: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-frontend}\nspec:\n  selector:\n    matchLabels: {app: api}\n",
};

pub fn check(cx: &mut Cx) {
    for ap in cx.authorization_policies() {
        if ap.action != kubeseg_model::AuthzAction::Allow
            || ap.rules.as_ref().is_some_and(|r| !r.is_empty())
        {
            continue;
        }
        let scope = match &ap.selector {
            Some(l) => format!(
                "the workloads labelled {}",
                l.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            None if ap.namespace == "istio-system" => "every workload of the mesh".into(),
            None => format!("every workload of namespace {}", ap.namespace),
        };
        let mut f = Finding::new(
            &RULE,
            format!(
                "AuthorizationPolicy {} is an ALLOW policy without rules: it denies every request to {scope}",
                ap.id()
            ),
            ap.location.clone(),
            vec![ap.id()],
        );
        f.evidence.push(Evidence::at(
            ap.location.clone(),
            "an applicable ALLOW policy must be matched by some rule, and this one has none",
        ));
        if ["deny", "nothing", "none"]
            .iter()
            .any(|w| ap.name.split(['-', '.', '_']).any(|x| x == *w))
        {
            // Named for what it does: the deny-all is intended.
            continue;
        }
        f.remediation = Remediation {
            text: "Add the rules, or name the policy as the deny-all it is.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
