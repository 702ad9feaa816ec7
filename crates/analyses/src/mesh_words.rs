//! Mesh verdicts in words, for evidence, findings and every output format.

use kubeseg_engine::mesh::{MeshVerdict, Mismatch, Reason, Request};
use kubeseg_model::Cluster;

/// The reason in one sentence, naming the deciding policy.
pub fn reason_text(cluster: &Cluster, v: &MeshVerdict) -> String {
    let deciding = || {
        v.deciding
            .map(|(p, _)| cluster.authorization_policies[p].id())
            .unwrap_or_default()
    };
    match v.reason {
        Reason::NoProxy => "the destination runs no proxy: the mesh enforces nothing on it".into(),
        Reason::PlaintextUnderStrict => {
            "STRICT mutual TLS on this port rejects the source's plaintext".into()
        }
        Reason::DenyMatches => format!("DENY policy {} matches", deciding()),
        Reason::NoAllowMatches => "ALLOW policies apply and none of their rules matches".into(),
        Reason::AllowMatches => format!("ALLOW policy {} matches", deciding()),
        Reason::NoAllowPolicy => "no ALLOW policy applies".into(),
        Reason::AllowConditional => {
            "an ALLOW rule matches only under conditions the manifests do not decide".into()
        }
    }
}

/// What kept an ALLOW rule from matching, as a phrase.
pub fn mismatch_text(m: &Mismatch) -> String {
    match m {
        Mismatch::NoRules => "the policy has no rules, so it matches nothing".into(),
        Mismatch::HttpOnTcp(f) => {
            format!(
                "`{f}` is HTTP-only and this port does not speak HTTP, so the rule never matches"
            )
        }
        Mismatch::Field(f) => format!("`{f}` does not match"),
    }
}

/// What is known of a request, as `GET /x host h` (empty when nothing is).
pub fn request_text(r: &Request) -> String {
    let parts: Vec<String> = [
        r.method.clone(),
        r.path.clone(),
        r.host.as_ref().map(|h| format!("host {h}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(" ")
}
