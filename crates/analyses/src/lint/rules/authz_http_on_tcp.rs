use crate::backends::ServiceBackends;
use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::mesh::{TCP_PROTOCOLS, port_protocol};

pub static RULE: Rule = Rule {
    code: "KL202",
    name: "authz-http-on-tcp",
    severity: Severity::Medium,
    summary: "An AuthorizationPolicy matches HTTP methods, paths or hosts on ports that serve plain TCP.",
    what: "For rules with `methods`, `paths` or `hosts` (or their `not` forms), finds the Service ports of the selected workloads (the rule's `ports` when given) and fires when all of them are plain TCP by Istio's protocol selection (`appProtocol`, or the port name's prefix: tcp, tls, mongo, mysql, redis).",
    why: "On TCP connections the proxy cannot see HTTP attributes: an ALLOW rule with them never matches (requests are denied), a DENY rule with them matches every connection.",
    fix: "Name the ports for their protocol (`http-…`, `grpc-…`) if they serve HTTP, or drop the HTTP fields.",
    example: "  rules:\n  - to:\n    - operation: {methods: [POST], ports: [\"5432\"]}\n",
};

pub fn check(cx: &mut Cx) {
    let backends = ServiceBackends::new(cx.cluster());
    for ap in cx.authorization_policies() {
        let Some(rules) = &ap.rules else { continue };
        let workloads = cx.with_labels(&ap.namespace, ap.selector.as_ref());
        let cluster = cx.cluster();
        for (i, r) in rules.iter().enumerate() {
            if r.http_fields.is_empty() {
                continue;
            }
            let mut ports = Vec::new();
            for s in cluster
                .services
                .iter()
                .filter(|s| s.namespace == ap.namespace)
            {
                let Some(sel) = &s.selector else { continue };
                if !backends
                    .select(&s.namespace, sel)
                    .iter()
                    .any(|w| workloads.contains(w))
                {
                    continue;
                }
                for sp in &s.ports {
                    let wanted = r.ports.is_empty()
                        || r.ports.iter().any(|p| {
                            *p == sp.port.to_string() || sp.target.as_deref() == Some(p.as_str())
                        });
                    if wanted {
                        ports.push((s.name.clone(), sp.port, port_protocol(sp)));
                    }
                }
            }
            // Only a verdict when every port's protocol is known and plain TCP.
            if ports.is_empty()
                || !ports
                    .iter()
                    .all(|(_, _, p)| p.as_deref().is_some_and(|p| TCP_PROTOCOLS.contains(&p)))
            {
                continue;
            }
            let list: Vec<String> = ports
                .iter()
                .map(|(s, n, p)| format!("{s}:{n} ({})", p.as_deref().unwrap_or("?")))
                .collect();
            let effect = if ap.action == kubeseg_model::AuthzAction::Deny {
                "this DENY rule matches every connection"
            } else {
                "this rule never matches, so its requests are denied"
            };
            let mut f = Finding::new(
                &RULE,
                format!(
                    "rules[{i}] of AuthorizationPolicy {} uses {} on plain-TCP ports {}: {effect}",
                    ap.id(),
                    r.http_fields.join(", "),
                    list.join(", ")
                ),
                r.location.clone().or(ap.location.clone()),
                vec![ap.id()],
            );
            f.evidence.push(Evidence::at(
                r.location.clone(),
                "the proxy sees no HTTP attributes on TCP connections",
            ));
            f.remediation = Remediation { text: "Name the Service ports for their protocol if they serve HTTP, or drop the HTTP fields.".into(), yaml: None };
            cx.findings.push(f);
        }
    }
}
