//! The kinds the double serves: where each lives in the API and whether it is
//! namespaced, as the real server's discovery documents them.

/// One served resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// Served version.
    pub version: &'static str,
    /// `kind` of one object.
    pub kind: &'static str,
    /// Resource name in paths (plural).
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Other versions a fixture may name; the object is stored under `version`, as the
    /// real server converts between versions of one group.
    pub aliases: &'static [&'static str],
}

impl Kind {
    /// `apiVersion` of an object of this kind.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the kind is compiled into the real server. Built-in kinds' list items
    /// carry no apiVersion or kind; custom resources' do. Their groups are always served.
    pub fn builtin(&self) -> bool {
        BUILTIN_GROUPS.contains(&self.group)
    }
}

/// Groups served by every real API server (not installed through CRDs or aggregation).
pub const BUILTIN_GROUPS: &[&str] = &["", "apps", "batch", "discovery.k8s.io", "networking.k8s.io"];

const fn k(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        aliases: &[],
    }
}

const fn aliased(kind: Kind, aliases: &'static [&'static str]) -> Kind {
    Kind { aliases, ..kind }
}

/// Every served kind. Versions follow what kubeseg's decoder reads
/// (crates/sources/src/decode/kinds.rs).
pub const KINDS: &[Kind] = &[
    k("", "v1", "Pod", "pods", "pod", true),
    k("", "v1", "Namespace", "namespaces", "namespace", false),
    k("", "v1", "Service", "services", "service", true),
    k("", "v1", "Node", "nodes", "node", false),
    k(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
    ),
    k("", "v1", "ConfigMap", "configmaps", "configmap", true),
    k(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
    ),
    k(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        true,
    ),
    k("apps", "v1", "DaemonSet", "daemonsets", "daemonset", true),
    k(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
    ),
    k("batch", "v1", "Job", "jobs", "job", true),
    k("batch", "v1", "CronJob", "cronjobs", "cronjob", true),
    k(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
    ),
    k(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        true,
    ),
    k(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "ingress",
        true,
    ),
    k(
        "policy.networking.k8s.io",
        "v1alpha1",
        "AdminNetworkPolicy",
        "adminnetworkpolicies",
        "adminnetworkpolicy",
        false,
    ),
    k(
        "policy.networking.k8s.io",
        "v1alpha1",
        "BaselineAdminNetworkPolicy",
        "baselineadminnetworkpolicies",
        "baselineadminnetworkpolicy",
        false,
    ),
    k(
        "policy.networking.k8s.io",
        "v1alpha2",
        "ClusterNetworkPolicy",
        "clusternetworkpolicies",
        "clusternetworkpolicy",
        false,
    ),
    aliased(
        k(
            "security.istio.io",
            "v1",
            "AuthorizationPolicy",
            "authorizationpolicies",
            "authorizationpolicy",
            true,
        ),
        &["v1beta1"],
    ),
    aliased(
        k(
            "security.istio.io",
            "v1",
            "PeerAuthentication",
            "peerauthentications",
            "peerauthentication",
            true,
        ),
        &["v1beta1"],
    ),
    aliased(
        k(
            "networking.istio.io",
            "v1",
            "Sidecar",
            "sidecars",
            "sidecar",
            true,
        ),
        &["v1beta1", "v1alpha3"],
    ),
    k(
        "cilium.io",
        "v2",
        "CiliumNetworkPolicy",
        "ciliumnetworkpolicies",
        "ciliumnetworkpolicy",
        true,
    ),
    k(
        "cilium.io",
        "v2",
        "CiliumClusterwideNetworkPolicy",
        "ciliumclusterwidenetworkpolicies",
        "ciliumclusterwidenetworkpolicy",
        false,
    ),
    k(
        "projectcalico.org",
        "v3",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        true,
    ),
    k(
        "projectcalico.org",
        "v3",
        "GlobalNetworkPolicy",
        "globalnetworkpolicies",
        "globalnetworkpolicy",
        false,
    ),
    k("projectcalico.org", "v3", "Tier", "tiers", "tier", false),
    k(
        "projectcalico.org",
        "v3",
        "NetworkSet",
        "networksets",
        "networkset",
        true,
    ),
    k(
        "projectcalico.org",
        "v3",
        "GlobalNetworkSet",
        "globalnetworksets",
        "globalnetworkset",
        false,
    ),
    k(
        "projectcalico.org",
        "v3",
        "HostEndpoint",
        "hostendpoints",
        "hostendpoint",
        false,
    ),
    k(
        "projectcalico.org",
        "v3",
        "Profile",
        "profiles",
        "profile",
        false,
    ),
    k(
        "projectcalico.org",
        "v3",
        "StagedNetworkPolicy",
        "stagednetworkpolicies",
        "stagednetworkpolicy",
        true,
    ),
    k(
        "projectcalico.org",
        "v3",
        "StagedGlobalNetworkPolicy",
        "stagedglobalnetworkpolicies",
        "stagedglobalnetworkpolicy",
        false,
    ),
    k(
        "projectcalico.org",
        "v3",
        "StagedKubernetesNetworkPolicy",
        "stagedkubernetesnetworkpolicies",
        "stagedkubernetesnetworkpolicy",
        true,
    ),
];

/// The kind an object's `apiVersion` and `kind` name, accepting a group's older versions.
pub fn by_api_version(api_version: &str, kind: &str) -> Option<&'static Kind> {
    let (group, version) = split_api_version(api_version);
    KINDS.iter().find(|k| {
        k.group == group && k.kind == kind && (k.version == version || k.aliases.contains(&version))
    })
}

/// The kind served at `/apis/{group}/{version}/{plural}` (`/api/v1/{plural}` for core).
pub fn by_resource(group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// The served versions of a group, preferred (highest priority) first, as the real
/// server orders them: GA before beta before alpha, higher numbers first.
pub fn versions_of(group: &str) -> Vec<&'static str> {
    let mut versions: Vec<&'static str> = KINDS
        .iter()
        .filter(|k| k.group == group)
        .map(|k| k.version)
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    versions.dedup();
    versions
}

/// Every group with at least one kind, in table order.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KINDS {
        if !out.contains(&k.group) {
            out.push(k.group);
        }
    }
    out
}

/// Orders `v2` > `v1` > `v2beta1` > `v1beta2` > `v1alpha2` (Kubernetes' version priority).
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (level, major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_version_is_the_highest_priority() {
        assert_eq!(
            versions_of("policy.networking.k8s.io"),
            vec!["v1alpha2", "v1alpha1"]
        );
        assert_eq!(by_api_version("security.istio.io/v1beta1", "Sidecar"), None);
        assert_eq!(
            by_api_version("networking.istio.io/v1beta1", "Sidecar").map(|k| k.plural),
            Some("sidecars")
        );
    }
}
