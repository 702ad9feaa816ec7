//! Recognises policy documents filed under the wrong apiVersion or kind, from the
//! shape of their `spec`, so that they are reported instead of skipped.

use crate::tree::Node;

/// A known policy kind: its name, its accepted apiVersions, and the `spec` fields that
/// identify it.
pub struct PolicyKind {
    /// The kind.
    pub kind: &'static str,
    /// Accepted apiVersions, preferred first.
    pub api_versions: &'static [&'static str],
}

const NETWORK_POLICY: PolicyKind = PolicyKind {
    kind: "NetworkPolicy",
    api_versions: &["networking.k8s.io/v1"],
};
const AUTHORIZATION_POLICY: PolicyKind = PolicyKind {
    kind: "AuthorizationPolicy",
    api_versions: &["security.istio.io/v1", "security.istio.io/v1beta1"],
};
const PEER_AUTHENTICATION: PolicyKind = PolicyKind {
    kind: "PeerAuthentication",
    api_versions: &["security.istio.io/v1", "security.istio.io/v1beta1"],
};
const ADMIN_NETWORK_POLICY: PolicyKind = PolicyKind {
    kind: "AdminNetworkPolicy",
    api_versions: &["policy.networking.k8s.io/v1alpha1"],
};
const BASELINE_ADMIN_NETWORK_POLICY: PolicyKind = PolicyKind {
    kind: "BaselineAdminNetworkPolicy",
    api_versions: &["policy.networking.k8s.io/v1alpha1"],
};
const CLUSTER_NETWORK_POLICY: PolicyKind = PolicyKind {
    kind: "ClusterNetworkPolicy",
    api_versions: &["policy.networking.k8s.io/v1alpha2"],
};

/// Groups that legitimately use a policy kind name for something else (Calico's and
/// Antrea's own NetworkPolicy and ClusterNetworkPolicy, for instance).
const OTHER_GROUPS: &[&str] = &[
    "projectcalico.org/",
    "crd.projectcalico.org/",
    "crd.antrea.io/",
    "cilium.io/",
];

/// The policy kind a document's `spec` looks like, with the fields that say so.
pub fn looks_like(obj: &Node) -> Option<(&'static PolicyKind, Vec<&'static str>)> {
    let spec = obj.get("spec")?;
    let has = |k: &str| spec.get(k).is_some();
    let present =
        |keys: &[&'static str]| keys.iter().copied().filter(|k| has(k)).collect::<Vec<_>>();
    if has("podSelector") && (has("policyTypes") || has("ingress") || has("egress")) {
        return Some((
            &NETWORK_POLICY,
            present(&["podSelector", "policyTypes", "ingress", "egress"]),
        ));
    }
    if has("subject") && (has("ingress") || has("egress")) {
        let keys = present(&["tier", "priority", "subject", "ingress", "egress"]);
        return Some(match (has("tier"), has("priority")) {
            (true, _) => (&CLUSTER_NETWORK_POLICY, keys),
            (false, true) => (&ADMIN_NETWORK_POLICY, keys),
            (false, false) => (&BASELINE_ADMIN_NETWORK_POLICY, keys),
        });
    }
    if has("mtls") || has("portLevelMtls") {
        return Some((
            &PEER_AUTHENTICATION,
            present(&["selector", "mtls", "portLevelMtls"]),
        ));
    }
    let istio_rules =
        spec.get("rules").and_then(|r| match &r.value {
            crate::tree::Value::Seq(items) => Some(items.iter().any(|i| {
                i.get("from").is_some() || i.get("to").is_some() || i.get("when").is_some()
            })),
            _ => None,
        });
    if istio_rules == Some(true)
        || has("action")
            && (has("selector") || has("targetRef") || has("targetRefs") || has("provider"))
    {
        return Some((
            &AUTHORIZATION_POLICY,
            present(&["selector", "targetRefs", "action", "rules"]),
        ));
    }
    None
}

/// When `obj` looks like a policy but its apiVersion or kind is not that policy's:
/// the intended kind, the fields that say so, and the node to point at.
pub fn misfiled<'n>(
    obj: &'n Node,
    kind: &str,
    api_version: &str,
) -> Option<(&'static PolicyKind, Vec<&'static str>, &'n Node)> {
    let (intended, keys) = looks_like(obj)?;
    if OTHER_GROUPS.iter().any(|g| api_version.starts_with(g)) {
        return None;
    }
    // A correctly filed tiered policy is decoded as what it says it is, whichever tier
    // its spec looks like (an AdminNetworkPolicy missing its priority is an invalid
    // AdminNetworkPolicy, not a misfiled BaselineAdminNetworkPolicy).
    let tiered = [
        ADMIN_NETWORK_POLICY.kind,
        BASELINE_ADMIN_NETWORK_POLICY.kind,
        CLUSTER_NETWORK_POLICY.kind,
    ];
    if tiered.contains(&intended.kind) && super::tier::Flavor::of(kind, api_version).is_some() {
        return None;
    }
    let kind_ok = kind == intended.kind;
    let version_ok = intended.api_versions.contains(&api_version);
    if kind_ok && version_ok {
        return None;
    }
    let at = if kind_ok {
        obj.get("apiVersion")
    } else {
        obj.get("kind")
    }
    .unwrap_or(obj);
    Some((intended, keys, at))
}
