//! Cluster-scoped policy tiers (`policy.networking.k8s.io`): AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy (v1alpha2), read into
//! one form. Both versions mean the same thing: the Admin tier is evaluated before
//! NetworkPolicies, the Baseline tier after them, and `Allow` is v1alpha1's `Accept`.

use crate::addr::IpSet;
use crate::cluster::PortRule;
use crate::diag::Location;
use crate::selector::{Labels, Selector};
use std::net::IpAddr;

/// The tier a cluster policy sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Before NetworkPolicies: AdminNetworkPolicy, or ClusterNetworkPolicy `tier: Admin`.
    Admin,
    /// After NetworkPolicies, only where none isolates: BaselineAdminNetworkPolicy, or
    /// ClusterNetworkPolicy `tier: Baseline`.
    Baseline,
}

impl Tier {
    /// `Admin` or `Baseline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Admin => "Admin",
            Tier::Baseline => "Baseline",
        }
    }
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// `Accept` (v1alpha2) or `Allow` (v1alpha1): allowed, no later tier is consulted.
    Accept,
    /// Denied, no later tier is consulted.
    Deny,
    /// The rest of the Admin tier is skipped; NetworkPolicies decide (Admin tier only).
    Pass,
}

impl Action {
    /// The action as v1alpha2 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "Accept",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        }
    }
}

/// A cluster-scoped tiered policy.
#[derive(Clone, Debug)]
pub struct ClusterPolicy {
    /// `AdminNetworkPolicy`, `BaselineAdminNetworkPolicy` or `ClusterNetworkPolicy`.
    pub kind: String,
    /// The name.
    pub name: String,
    /// Where the object starts.
    pub location: Option<Location>,
    /// Its tier.
    pub tier: Tier,
    /// `spec.priority` (0 for a BaselineAdminNetworkPolicy, which has none).
    pub priority: u32,
    /// The pods it applies to.
    pub subject: PodSet,
    /// Ingress rules, in precedence order.
    pub ingress: Vec<TierRule>,
    /// Egress rules, in precedence order.
    pub egress: Vec<TierRule>,
}

impl ClusterPolicy {
    /// `Kind/name`, unique in a cluster.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Pods chosen by namespace labels and pod labels (`namespaces: S` is `S` with every pod).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodSet {
    /// The namespaces (an empty selector: all).
    pub namespaces: Selector,
    /// The pods in them (an empty selector: all).
    pub pods: Selector,
}

/// One ingress or egress rule of a tiered policy.
#[derive(Clone, Debug)]
pub struct TierRule {
    /// `name`, when written.
    pub name: Option<String>,
    /// Where the rule starts.
    pub location: Option<Location>,
    /// The action.
    pub action: Action,
    /// `from`/`to`: never empty (the API requires at least one peer).
    pub peers: Vec<TierPeer>,
    /// `ports`/`protocols`; `None` means every port of every protocol. A named port
    /// without protocol is listed once per protocol.
    pub ports: Option<Vec<PortRule>>,
}

/// One peer of a tiered rule.
#[derive(Clone, Debug)]
pub struct TierPeer {
    /// Where the entry starts.
    pub location: Option<Location>,
    /// What it matches.
    pub kind: TierPeerKind,
}

/// What a tiered peer matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TierPeerKind {
    /// `namespaces` or `pods` (host-network pods never match).
    Pods(PodSet),
    /// `networks`: addresses, pod addresses included (a network holding every IPv4
    /// address holds every pod whose IP is not known).
    Networks {
        /// The CIDRs as written.
        cidrs: Vec<String>,
        /// Their union.
        addresses: IpSet,
    },
    /// `nodes`: the addresses of the Node objects whose labels match.
    Nodes(Selector),
    /// `domainNames`: destinations reached by these names (egress `Accept` rules only).
    DomainNames(Vec<String>),
}

/// A Node, for `nodes` peers.
#[derive(Clone, Debug)]
pub struct Node {
    /// The name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `status.addresses` of type InternalIP or ExternalIP.
    pub addresses: Vec<IpAddr>,
    /// Where it is declared.
    pub location: Option<Location>,
}
