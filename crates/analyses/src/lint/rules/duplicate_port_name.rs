use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL106",
    name: "duplicate-port-name",
    severity: Severity::Medium,
    summary: "A pod names two different container ports the same.",
    what: "Fires for a pod (or pod template) where one port name stands for two numbers or protocols.",
    why: "A policy naming that port allows both, or whichever the network plugin picks: not what either reader expects.",
    fix: "Give every container port a distinct name.",
    example: "      ports:\n      - {name: http, containerPort: 8080}\n      - {name: http, containerPort: 8443}\n",
};

pub fn check(cx: &mut Cx) {
    for w in &cx.cluster().workloads {
        for pod in &w.pods {
            let mut dups: Vec<String> = Vec::new();
            for (i, a) in pod.ports.iter().enumerate() {
                let Some(name) = &a.name else { continue };
                if pod.ports[..i].iter().any(|b| b.name.as_ref() == Some(name))
                    && !dups.contains(name)
                {
                    dups.push(name.clone());
                }
            }
            if dups.is_empty() {
                continue;
            }
            let mut f = Finding::new(
                &RULE,
                format!(
                    "pod {} of {} names several container ports {}",
                    pod.name,
                    w.id(),
                    dups.iter()
                        .map(|d| format!("`{d}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                pod.location.clone(),
                vec![w.id()],
            );
            for d in &dups {
                let uses: Vec<String> = pod
                    .ports
                    .iter()
                    .filter(|p| p.name.as_ref() == Some(d))
                    .map(|p| format!("{}/{}", p.protocol.as_str(), p.port))
                    .collect();
                f.evidence.push(Evidence::at(
                    pod.location.clone(),
                    format!("`{d}` is {}", uses.join(" and ")),
                ));
            }
            f.remediation = Remediation {
                text: "Give every container port a distinct name.".into(),
                yaml: None,
            };
            cx.findings.push(f);
            break;
        }
    }
}
