//! The typed cluster: namespaces, workloads with their pods, NetworkPolicies, Services.

use crate::addr::IpSet;
use crate::diag::Location;
use crate::ports::Protocol;
use crate::selector::{Labels, Selector};
use std::net::IpAddr;

/// Everything kubeseg knows about one cluster.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Namespaces, sorted by name; every referenced namespace is present.
    pub namespaces: Vec<Namespace>,
    /// Workloads, sorted by id; each has at least one pod.
    pub workloads: Vec<Workload>,
    /// NetworkPolicies, sorted by namespace and name.
    pub policies: Vec<NetworkPolicy>,
    /// Cluster-scoped tiered policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
    /// ClusterNetworkPolicy), sorted by tier, priority, name and kind: the order in which
    /// kubeseg evaluates them (equal priorities have no defined order; lint warns).
    pub cluster_policies: Vec<crate::tier::ClusterPolicy>,
    /// CiliumNetworkPolicies (sorted by namespace and name) and
    /// CiliumClusterwideNetworkPolicies (after them, by name): present only when Cilium
    /// enforces them (`--cni`).
    pub cilium_policies: Vec<crate::cilium::CiliumPolicy>,
    /// Calico NetworkPolicies (sorted by namespace and name) and GlobalNetworkPolicies
    /// (after them, by name), staged ones included: present only when Calico enforces
    /// them (`--cni`).
    pub calico_policies: Vec<crate::calico::CalicoPolicy>,
    /// Calico Tiers, sorted by name (the ones Calico creates itself are implied).
    pub calico_tiers: Vec<crate::calico::CalicoTier>,
    /// Calico NetworkSets (by namespace and name) and GlobalNetworkSets (after them).
    pub calico_network_sets: Vec<crate::calico::CalicoNetworkSet>,
    /// Node objects (for `nodes` peers), sorted by name.
    pub nodes: Vec<crate::tier::Node>,
    /// Services, sorted by namespace and name.
    pub services: Vec<Service>,
    /// `discovery.k8s.io/v1` EndpointSlices, sorted by namespace and name.
    pub endpoint_slices: Vec<crate::endpoints::EndpointSlice>,
    /// Ingress and Gateway API HTTPRoute objects (their backends), sorted by namespace and name.
    pub routes: Vec<Route>,
    /// Istio AuthorizationPolicies, sorted by namespace and name.
    pub authorization_policies: Vec<crate::mesh::AuthorizationPolicy>,
    /// Istio PeerAuthentications.
    pub peer_authentications: Vec<crate::mesh::PeerAuthentication>,
    /// ServiceAccounts, sorted by namespace and name.
    pub service_accounts: Vec<crate::mesh::ServiceAccount>,
    /// `kubeseg.io/ignore` annotations, in input order.
    pub ignores: Vec<crate::Ignore>,
}

impl Cluster {
    /// The namespace of that name (namespaces are sorted by name).
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.namespaces[i])
    }

    /// The ServiceAccount `namespace/name`, when the input declares it (the list is
    /// sorted by namespace and name).
    pub fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&crate::mesh::ServiceAccount> {
        let list = &self.service_accounts;
        by_name(list, |a| (&a.namespace, &a.name), (namespace, name)).map(|i| &list[i])
    }

    /// The Service `namespace/name`, when the input declares it (the list is sorted by
    /// namespace and name).
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        let list = &self.services;
        by_name(list, |s| (&s.namespace, &s.name), (namespace, name)).map(|i| &list[i])
    }
}

/// Where `namespace/name` is in a list sorted by namespace and name.
fn by_name<T>(
    list: &[T],
    key: impl Fn(&T) -> (&String, &String),
    (namespace, name): (&str, &str),
) -> Option<usize> {
    list.binary_search_by(|x| {
        let (ns, n) = key(x);
        (ns.as_str(), n.as_str()).cmp(&(namespace, name))
    })
    .ok()
}

/// A namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// The name.
    pub name: String,
    /// Labels, always including `kubernetes.io/metadata.name`.
    pub labels: Labels,
    /// Where it was declared; `None` when only referenced.
    pub location: Option<Location>,
}

/// A workload: the pods of one controller (or one standalone Pod).
#[derive(Clone, Debug)]
pub struct Workload {
    /// The namespace.
    pub namespace: String,
    /// The controller's (or Pod's) name.
    pub name: String,
    /// `Deployment`, `StatefulSet`, `Pod`, ...
    pub kind: String,
    /// Its pods: the real ones from the input, or the pod template when none is given.
    pub pods: Vec<Pod>,
    /// Where the workload (or its first pod) is declared.
    pub location: Option<Location>,
}

impl Workload {
    /// The id `namespace/name[Kind]`.
    pub fn id(&self) -> String {
        Self::id_of(&self.namespace, &self.name, &self.kind)
    }

    /// The id of the workload of that namespace, name and kind.
    pub fn id_of(namespace: &str, name: &str, kind: &str) -> String {
        format!("{namespace}/{name}[{kind}]")
    }
}

/// A pod, or a pod template standing for the pods a controller creates.
#[derive(Clone, Debug)]
pub struct Pod {
    /// The pod's name (the controller's name for a template).
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Declared container ports.
    pub ports: Vec<ContainerPort>,
    /// Known IPs (`status.podIP`/`podIPs`).
    pub ips: Vec<IpAddr>,
    /// Whether the pod runs in the node's network namespace.
    pub host_network: bool,
    /// Whether the pod declares `hostPort` on some container port.
    pub host_port: bool,
    /// Container images (init containers included), as written.
    pub images: Vec<String>,
    /// `spec.serviceAccountName` (or the deprecated `serviceAccount`), when written.
    pub service_account: Option<String>,
    /// The `sidecar.istio.io/inject` annotation, when written (the label of that name is
    /// among `labels`).
    pub inject_annotation: Option<String>,
    /// Where it is declared.
    pub location: Option<Location>,
}

/// A container port of a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerPort {
    /// The port's name, if any.
    pub name: Option<String>,
    /// The number.
    pub port: u16,
    /// The protocol (TCP by default).
    pub protocol: Protocol,
}

/// A networking.k8s.io/v1 NetworkPolicy, as the API server defaults it.
#[derive(Clone, Debug)]
pub struct NetworkPolicy {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Where the object starts.
    pub location: Option<Location>,
    /// The pods it selects, in its own namespace.
    pub pod_selector: Selector,
    /// Whether Ingress is among the effective policyTypes.
    pub isolates_ingress: bool,
    /// Whether Egress is among the effective policyTypes.
    pub isolates_egress: bool,
    /// Whether policyTypes was written (otherwise it was defaulted).
    pub policy_types_explicit: bool,
    /// Ingress rules (ignored unless `isolates_ingress`).
    pub ingress: Vec<Rule>,
    /// Egress rules (ignored unless `isolates_egress`).
    pub egress: Vec<Rule>,
}

impl NetworkPolicy {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One ingress or egress rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where the rule starts.
    pub location: Option<Location>,
    /// `from`/`to`; `None` when absent or empty, which means every peer including outside the cluster.
    pub peers: Option<Vec<Peer>>,
    /// `ports`; `None` when absent or empty, which means every port of every protocol.
    pub ports: Option<Vec<PortRule>>,
}

/// One entry of `from`/`to`.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Where the entry starts.
    pub location: Option<Location>,
    /// What it matches.
    pub kind: PeerKind,
}

/// What a peer matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// Pods: `namespaceSelector` (`None` = the policy's own namespace) AND `podSelector` (`None` = all pods).
    Pods {
        /// The namespaces, or `None` for the policy's namespace.
        namespaces: Option<Selector>,
        /// The pods, or `None` for every pod.
        pods: Option<Selector>,
    },
    /// `ipBlock`: cidr minus every except.
    IpBlock {
        /// The cidr as written.
        cidr: String,
        /// The excepts as written.
        except: Vec<String>,
        /// The resulting address set.
        addresses: IpSet,
    },
}

/// One entry of `ports`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRule {
    /// The protocol (TCP when not written).
    pub protocol: Protocol,
    /// Which ports.
    pub port: PortMatch,
}

/// The `port`/`endPort` of a port entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortMatch {
    /// No `port`: every port of the protocol.
    Any,
    /// `port` (and `endPort`), inclusive.
    Range(u16, u16),
    /// A named port, resolved against the destination pod's container ports.
    Named(String),
}

/// A Service (kept for exposure and API-server analyses).
#[derive(Clone, Debug)]
pub struct Service {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The Service's own labels (what Cilium's `k8sServiceSelector` matches).
    pub labels: Labels,
    /// `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`.
    pub service_type: String,
    /// The pod selector (`None` when the Service has none).
    pub selector: Option<Labels>,
    /// `spec.clusterIP` when set.
    pub cluster_ip: Option<IpAddr>,
    /// The service ports.
    pub ports: Vec<ServicePort>,
    /// Where it is declared.
    pub location: Option<Location>,
}

/// One port of a Service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServicePort {
    /// The port's name, if any.
    pub name: Option<String>,
    /// `appProtocol`, if any.
    pub app_protocol: Option<String>,
    /// The Service's port.
    pub port: u16,
    /// The protocol (TCP when not written).
    pub protocol: Protocol,
    /// `targetPort` as written: a number or a container port name (`None`: same as `port`).
    pub target: Option<String>,
    /// `nodePort`, when written.
    pub node_port: Option<u16>,
}

/// An object that routes traffic from outside the cluster to Services: an Ingress
/// (networking.k8s.io/v1), a Gateway API route or a gateway-bound Istio VirtualService.
#[derive(Clone, Debug)]
pub struct Route {
    /// `Ingress`, a Gateway API route kind (`HTTPRoute`, `GRPCRoute`, `TLSRoute`,
    /// `TCPRoute`, `UDPRoute`), or an Istio `VirtualService` bound to a gateway.
    pub kind: String,
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Backend Services: (namespace, name).
    pub backends: Vec<(String, String)>,
    /// Where it is declared.
    pub location: Option<Location>,
}

impl Route {
    /// `Kind ns/name`.
    pub fn id(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}
