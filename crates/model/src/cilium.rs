//! Cilium's policies (`cilium.io/v2` CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy), read into one form after the rewriting the Cilium
//! agent does before it evaluates them: a CiliumNetworkPolicy's subject and
//! namespace-less peers are confined to its namespace, label source prefixes (`k8s:`,
//! `any:`) are gone, and Cilium's namespace and namespace-label keys have become
//! namespace selectors.
//!
//! How Cilium combines them (one tier today): every matching deny beats every allow;
//! allows of CiliumNetworkPolicies, CiliumClusterwideNetworkPolicies and Kubernetes
//! NetworkPolicies add up; a pod is isolated in a direction when some selecting policy
//! puts it into default deny there.

use crate::addr::IpSet;
use crate::cluster::PortRule;
use crate::diag::Location;
use crate::selector::Selector;
use crate::tier::PodSet;

/// A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy.
#[derive(Clone, Debug)]
pub struct CiliumPolicy {
    /// `CiliumNetworkPolicy` or `CiliumClusterwideNetworkPolicy`.
    pub kind: String,
    /// The namespace (empty for a CiliumClusterwideNetworkPolicy).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Where the object starts.
    pub location: Option<Location>,
    /// `spec`, then every entry of `specs`: each is a policy rule of its own.
    pub specs: Vec<CiliumSpec>,
}

impl CiliumPolicy {
    /// `Kind/namespace/name`, or `Kind/name` when cluster-wide.
    pub fn id(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

impl CiliumPolicy {
    /// How reports tell spec `i` apart: nothing when the policy has one, else
    /// `specs[i]` (counting `spec`, when written, as the first).
    pub fn spec_label(&self, i: usize) -> String {
        if self.specs.len() > 1 {
            format!("specs[{i}].")
        } else {
            String::new()
        }
    }
}

/// One Cilium policy rule (`spec` or an entry of `specs`).
#[derive(Clone, Debug)]
pub struct CiliumSpec {
    /// Where it starts.
    pub location: Option<Location>,
    /// What it applies to.
    pub subject: CiliumSubject,
    /// Whether it puts its subjects into default deny for ingress (`enableDefaultDeny`,
    /// defaulted as Cilium's `Sanitize` does: on when it has ingress or ingressDeny rules).
    pub default_deny_ingress: bool,
    /// The same for egress.
    pub default_deny_egress: bool,
    /// `ingress` rules (allows).
    pub ingress: Vec<CiliumRule>,
    /// `egress` rules (allows).
    pub egress: Vec<CiliumRule>,
    /// `ingressDeny` rules.
    pub ingress_deny: Vec<CiliumRule>,
    /// `egressDeny` rules.
    pub egress_deny: Vec<CiliumRule>,
}

/// What a Cilium policy rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CiliumSubject {
    /// `endpointSelector`: pods (of its own namespace for a CiliumNetworkPolicy).
    Pods(PodSet),
    /// `nodeSelector`: a host policy, which guards nodes, not pods.
    Nodes(Selector),
}

/// One allow or deny rule.
#[derive(Clone, Debug)]
pub struct CiliumRule {
    /// Where the rule starts.
    pub location: Option<Location>,
    /// The peers: the entries of the one L3 field the rule has. A rule without an L3
    /// field has `[All]` when it has `toPorts` (any peer on those ports) and no peer
    /// otherwise (`ingress: [{}]` allows nothing).
    pub peers: Vec<CiliumPeer>,
    /// `toPorts` as port entries (`ANY` listed once per protocol); `None`: every port.
    pub ports: Option<Vec<PortRule>>,
    /// The L7 rule kinds (`http`, `dns`, `kafka`, `l7proto`) of the rule's `toPorts`:
    /// the proxy filters requests on those ports.
    pub l7: Vec<String>,
    /// The port entries of `toPorts` without L7 rules. With `l7`, the ports of `ports`
    /// outside these are the ones only the proxy's matching requests may use.
    pub plain_ports: Vec<PortRule>,
    /// `toServices` as written. Once the input is assembled, the Services they match
    /// have become `peers` (`kubeseg_sources`' Cilium lowering), as the agent rewrites
    /// them into `toEndpoints` and `toCIDRSet` entries before evaluating the rule.
    pub services: Vec<CiliumService>,
}

/// One `toServices` entry (compared by value, without its location).
#[derive(Clone, Debug)]
pub struct CiliumService {
    /// Where the entry starts.
    pub location: Option<Location>,
    /// `namespace` as written: the Service's namespace, or empty for every namespace
    /// (Cilium does not default it to the policy's).
    pub namespace: String,
    /// Which Services it names.
    pub matches: CiliumServiceMatch,
}

/// How a `toServices` entry picks Services.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CiliumServiceMatch {
    /// `k8sService.serviceName`.
    Name(String),
    /// `k8sServiceSelector.selector`, matched against the Service's own labels.
    Labels(Selector),
    /// Neither: the entry picks no Service.
    Nothing,
}

/// One peer of a Cilium rule.
#[derive(Clone, Debug)]
pub struct CiliumPeer {
    /// Where the entry starts.
    pub location: Option<Location>,
    /// What it matches.
    pub kind: CiliumPeerKind,
}

/// What a Cilium peer matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CiliumPeerKind {
    /// Everything: every pod, node and outside address (a rule with ports and no L3
    /// field, or the entity `all`).
    All,
    /// `fromEndpoints`/`toEndpoints`: pods, after namespace injection.
    Pods(PodSet),
    /// `fromCIDR`, `toCIDR`, `fromCIDRSet`, `toCIDRSet`: addresses outside the cluster
    /// (Cilium never matches pod or node addresses by CIDR).
    Cidr {
        /// The CIDR as written, with its `except` entries.
        written: String,
        /// The addresses.
        addresses: IpSet,
    },
    /// `fromEntities`/`toEntities` (other than `all`).
    Entity(Entity),
    /// `fromNodes`/`toNodes`: the addresses of the Node objects whose labels match.
    Nodes(Selector),
    /// `toFQDNs`: destinations reached by these names (`matchName`, or `matchPattern`
    /// with `*`), normalised.
    Fqdns(Vec<String>),
}

/// A Cilium entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// `world`: every address outside the cluster.
    World,
    /// `world-ipv4`.
    WorldIpv4,
    /// `world-ipv6`.
    WorldIpv6,
    /// `cluster`: every pod and node of this cluster.
    Cluster,
    /// `host`: the pod's own node.
    Host,
    /// `remote-node`: the other nodes.
    RemoteNode,
    /// `kube-apiserver`.
    KubeApiserver,
    /// `health`, `init`, `ingress`, `unmanaged`: Cilium-internal endpoints no manifest
    /// describes.
    Internal(&'static str),
    /// `none`: nothing.
    None,
}

impl Entity {
    /// Parses an entity name (not `all`, which is [`CiliumPeerKind::All`]).
    pub fn parse(s: &str) -> Option<Entity> {
        Some(match s {
            "world" => Entity::World,
            "world-ipv4" => Entity::WorldIpv4,
            "world-ipv6" => Entity::WorldIpv6,
            "cluster" => Entity::Cluster,
            "host" => Entity::Host,
            "remote-node" => Entity::RemoteNode,
            "kube-apiserver" => Entity::KubeApiserver,
            "health" => Entity::Internal("health"),
            "init" => Entity::Internal("init"),
            "ingress" => Entity::Internal("ingress"),
            "unmanaged" => Entity::Internal("unmanaged"),
            "none" => Entity::None,
            _ => return None,
        })
    }

    /// The name as Cilium spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::World => "world",
            Entity::WorldIpv4 => "world-ipv4",
            Entity::WorldIpv6 => "world-ipv6",
            Entity::Cluster => "cluster",
            Entity::Host => "host",
            Entity::RemoteNode => "remote-node",
            Entity::KubeApiserver => "kube-apiserver",
            Entity::Internal(name) => name,
            Entity::None => "none",
        }
    }
}
