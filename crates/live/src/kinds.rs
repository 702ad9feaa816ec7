//! The kinds kubeseg reads from a cluster, by API group.

/// Every (group, kind) whose objects change kubeseg's answers: the ones it models and
/// the policy kinds it reports as not modelled (listing those is how a live answer says
/// what it leaves out, as a file's answer does). The core group is `""`.
pub const KINDS: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "Pod"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("", "ReplicationController"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "Ingress"),
    ("policy.networking.k8s.io", "AdminNetworkPolicy"),
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
    ("policy.networking.k8s.io", "ClusterNetworkPolicy"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "HTTPRoute"),
    ("gateway.networking.k8s.io", "GRPCRoute"),
    ("gateway.networking.k8s.io", "TLSRoute"),
    ("gateway.networking.k8s.io", "TCPRoute"),
    ("gateway.networking.k8s.io", "UDPRoute"),
    ("networking.istio.io", "Gateway"),
    ("networking.istio.io", "VirtualService"),
    ("security.istio.io", "AuthorizationPolicy"),
    ("security.istio.io", "PeerAuthentication"),
    ("cilium.io", "CiliumNetworkPolicy"),
    ("cilium.io", "CiliumClusterwideNetworkPolicy"),
    ("projectcalico.org", "Tier"),
    ("projectcalico.org", "NetworkPolicy"),
    ("projectcalico.org", "GlobalNetworkPolicy"),
    ("projectcalico.org", "StagedNetworkPolicy"),
    ("projectcalico.org", "StagedGlobalNetworkPolicy"),
    ("projectcalico.org", "StagedKubernetesNetworkPolicy"),
    ("projectcalico.org", "NetworkSet"),
    ("projectcalico.org", "GlobalNetworkSet"),
    ("projectcalico.org", "HostEndpoint"),
    ("projectcalico.org", "Profile"),
    ("crd.antrea.io", "NetworkPolicy"),
    ("crd.antrea.io", "ClusterNetworkPolicy"),
];

/// Calico's storage group: its policies are read only when the `projectcalico.org`
/// API is not served, so the answer can say that Calico's policies exist but were not
/// read in the form users write.
pub const CALICO_STORAGE: (&str, &[&str]) = (
    "crd.projectcalico.org",
    &["NetworkPolicy", "GlobalNetworkPolicy"],
);

/// Groups whose objects are named with their group (`NetworkPolicy.projectcalico.org`)
/// so that kinds of the same name in two groups never share a location.
pub fn qualified(group: &str) -> bool {
    !matches!(
        group,
        "" | "apps" | "batch" | "discovery.k8s.io" | "networking.k8s.io"
    )
}
