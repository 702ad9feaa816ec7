//! The mesh layer of `explain` (and the `mesh` annotations of `reach`), as text and JSON.
//!
//! # JSON contract (part of `explain`, schemaVersion 3)
//! `mesh` is a list, one object per TCP port evaluated: `{"port", "enforced",
//! "sourceDataplane", "destinationDataplane" ("none" | "sidecar" | "ambient"),
//! "mtls": {"mode", "peerAuthentication", "location"}, "principal" (null: plaintext),
//! "allowed" (true | false | null when conditional), "conditional": [conditions],
//! "reason", "deciding": {"policy", "rule", "location"} | null, "rules": [{"policy",
//! "rule", "location", "action", "matches" ("yes" | "conditional"), "conditions",
//! "constraints"}], "unenforced": [{"policy", "location"}]}`. `rules` lists the
//! applicable rules that may match, in Istio's order (CUSTOM, DENY, ALLOW).

pub use kubeseg_analyses::mesh_words::{mismatch_text, reason_text};
use kubeseg_engine::mesh::{Decision, MeshVerdict, Reason, Request, Truth};
use kubeseg_model::Cluster;
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize)]
struct MtlsJson {
    mode: String,
    #[serde(rename = "peerAuthentication")]
    peer_authentication: Option<String>,
    location: Option<String>,
}

#[derive(Serialize)]
struct RuleRef {
    policy: String,
    rule: Option<String>,
    location: Option<String>,
}

#[derive(Serialize)]
struct MeshRuleJson {
    policy: String,
    rule: Option<String>,
    location: Option<String>,
    action: String,
    matches: &'static str,
    conditions: Vec<String>,
    constraints: Vec<String>,
}

/// One port's mesh verdict in JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshJson {
    port: u16,
    enforced: bool,
    source_dataplane: &'static str,
    destination_dataplane: &'static str,
    mtls: MtlsJson,
    principal: Option<String>,
    allowed: Option<bool>,
    conditional: Vec<String>,
    reason: &'static str,
    reason_text: String,
    misses: Vec<MissJson>,
    deciding: Option<RuleRef>,
    rules: Vec<MeshRuleJson>,
    unenforced: Vec<RuleRef>,
}

#[derive(Serialize)]
struct MissJson {
    policy: String,
    rule: Option<String>,
    location: Option<String>,
    mismatch: String,
}

/// The stable code of a reason, for JSON.
pub fn reason_code(r: &Reason) -> &'static str {
    match r {
        Reason::NoProxy => "no-proxy",
        Reason::PlaintextUnderStrict => "plaintext-under-strict",
        Reason::DenyMatches => "deny-matches",
        Reason::NoAllowMatches => "no-allow-matches",
        Reason::AllowMatches => "allow-matches",
        Reason::NoAllowPolicy => "no-allow-policy",
        Reason::AllowConditional => "allow-conditional",
    }
}

fn rule_ref(cluster: &Cluster, p: usize, rule: Option<usize>) -> RuleRef {
    let ap = &cluster.authorization_policies[p];
    let location = match rule {
        Some(r) => ap.rules.as_ref().and_then(|rs| rs[r].location.clone()),
        None => ap.location.clone(),
    };
    RuleRef {
        policy: ap.id(),
        rule: rule.map(|r| format!("rules[{r}]")),
        location: location.map(|l| l.to_string()),
    }
}

/// The JSON of one port's verdict.
pub fn mesh_json(cluster: &Cluster, port: u16, v: &MeshVerdict) -> MeshJson {
    let pa = v.mtls.1.map(|i| &cluster.peer_authentications[i]);
    MeshJson {
        port,
        enforced: v.dataplanes.1 != kubeseg_engine::mesh::Dataplane::None,
        source_dataplane: v.dataplanes.0.as_str(),
        destination_dataplane: v.dataplanes.1.as_str(),
        mtls: MtlsJson {
            mode: v.mtls.0.to_string(),
            peer_authentication: pa.map(|p| format!("{}/{}", p.namespace, p.name)),
            location: pa.and_then(|p| p.location.as_ref()).map(|l| l.to_string()),
        },
        principal: v.principal.clone(),
        allowed: match v.decision {
            Decision::Allowed => Some(true),
            Decision::Denied => Some(false),
            Decision::Conditional(_) => None,
        },
        conditional: match &v.decision {
            Decision::Conditional(c) => c.clone(),
            _ => Vec::new(),
        },
        reason: reason_code(&v.reason),
        reason_text: reason_text(cluster, v),
        misses: v
            .misses
            .iter()
            .map(|m| {
                let r = rule_ref(cluster, m.policy, m.rule);
                MissJson {
                    policy: r.policy,
                    rule: r.rule,
                    location: r.location,
                    mismatch: mismatch_text(&m.mismatch),
                }
            })
            .collect(),
        deciding: v.deciding.map(|(p, r)| rule_ref(cluster, p, r)),
        rules: v
            .steps
            .iter()
            .map(|s| {
                let r = rule_ref(cluster, s.policy, s.rule);
                MeshRuleJson {
                    policy: r.policy,
                    rule: r.rule,
                    location: r.location,
                    action: s.action.to_string(),
                    matches: if s.truth == Truth::Yes {
                        "yes"
                    } else {
                        "conditional"
                    },
                    conditions: match &s.truth {
                        Truth::Unknown(c) => c.clone(),
                        _ => Vec::new(),
                    },
                    constraints: s.constraints.clone(),
                }
            })
            .collect(),
        unenforced: v
            .unenforced
            .iter()
            .map(|&p| rule_ref(cluster, p, None))
            .collect(),
    }
}

/// One port's verdict for a terminal.
pub fn mesh_text(out: &mut String, cluster: &Cluster, port: u16, v: &MeshVerdict, req: &Request) {
    let what = match &v.decision {
        Decision::Allowed => "allowed".to_string(),
        Decision::Denied => "denied".to_string(),
        Decision::Conditional(c) => format!("allowed only if {}", c.join("; ")),
    };
    let asked = kubeseg_analyses::mesh_words::request_text(req);
    let request = if asked.is_empty() {
        "any request".to_string()
    } else {
        asked
    };
    let _ = writeln!(out, "\nmesh (Istio) on TCP {port}, {request}: {what}");
    let _ = writeln!(out, "  {}", reason_text(cluster, v));
    let pa = v.mtls.1.map(|i| {
        let p = &cluster.peer_authentications[i];
        let loc = p
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        format!("PeerAuthentication {}/{}{loc}", p.namespace, p.name)
    });
    let _ = writeln!(
        out,
        "  data plane: source {}, destination {}; mTLS {} ({}); principal {}",
        v.dataplanes.0.as_str(),
        v.dataplanes.1.as_str(),
        v.mtls.0.as_str(),
        pa.unwrap_or_else(|| "default".into()),
        v.principal.as_deref().unwrap_or("none (plaintext)")
    );
    for s in &v.steps {
        let r = rule_ref(cluster, s.policy, s.rule);
        let loc = r.location.map(|l| format!(" ({l})")).unwrap_or_default();
        let how = match &s.truth {
            Truth::Yes => "matches".to_string(),
            Truth::Unknown(c) => format!("matches if {}", c.join(" and ")),
            Truth::No => "does not match".to_string(),
        };
        let _ = writeln!(
            out,
            "  {} {} {}{loc}: {how}",
            s.action,
            r.policy,
            r.rule.unwrap_or_default()
        );
    }
    for m in &v.misses {
        let r = rule_ref(cluster, m.policy, m.rule);
        let loc = r.location.map(|l| format!(" ({l})")).unwrap_or_default();
        let rule = r.rule.map(|r| format!(" {r}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  ALLOW {}{rule}{loc}: does not match: {}",
            r.policy,
            mismatch_text(&m.mismatch)
        );
    }
    for &p in &v.unenforced {
        let r = rule_ref(cluster, p, None);
        let loc = r.location.map(|l| format!(" ({l})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  not enforced here: {}{loc} (no proxy on the destination, or targetRefs to a gateway or waypoint)",
            r.policy
        );
    }
}

/// A short phrase for what the mesh accepts, for `reach`: `any request`, `denied`,
/// `POST from <required principal>`, `not enforced (no proxy)`.
pub fn summary(v: &MeshVerdict) -> String {
    if v.dataplanes.1 == kubeseg_engine::mesh::Dataplane::None {
        return "not enforced (no proxy)".into();
    }
    let alternative = |s: &kubeseg_engine::mesh::RuleStep| {
        if s.constraints.is_empty() {
            match &s.truth {
                Truth::Unknown(c) => c.join(" and "),
                _ => String::new(),
            }
        } else {
            s.constraints.join(" ")
        }
    };
    match &v.decision {
        Decision::Denied if v.reason == Reason::PlaintextUnderStrict => {
            "denied: plaintext under STRICT mTLS".into()
        }
        Decision::Denied => "denied".into(),
        Decision::Allowed => "any request".into(),
        Decision::Conditional(_) => {
            let allow: Vec<String> = v
                .steps
                .iter()
                .filter(|s| s.action == kubeseg_model::AuthzAction::Allow && s.truth != Truth::Yes)
                .map(alternative)
                .collect();
            let deny: Vec<String> = v
                .steps
                .iter()
                .filter(|s| s.action == kubeseg_model::AuthzAction::Deny)
                .map(alternative)
                .collect();
            let mut text = if allow.is_empty() {
                "any request".to_string()
            } else {
                allow.join(" | ")
            };
            if !deny.is_empty() {
                text.push_str(&format!(" except {}", deny.join(" | ")));
            }
            if v.steps
                .iter()
                .any(|s| s.action == kubeseg_model::AuthzAction::Custom)
            {
                text.push_str(" if the external authorizer agrees");
            }
            text
        }
    }
}
