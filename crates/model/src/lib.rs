//! The typed cluster kubeseg reasons about.
//!
//! This crate holds data and the set algebra it needs (port sets, address sets, label
//! selectors); it does no I/O and knows no file format.

pub mod addr;
pub mod calico;
pub mod calico_selector;
pub mod cilium;
pub mod cluster;
pub mod diag;
pub mod endpoints;
pub mod ignore;
pub mod intervals;
pub mod mesh;
pub mod ports;
pub mod selector;
pub mod spec;
mod spec_eq;
pub mod tier;

pub use addr::{Cidr, IpSet};
pub use calico::{
    CalicoAction, CalicoEntity, CalicoIcmp, CalicoNamespaces, CalicoNetworkSet, CalicoPolicy,
    CalicoPort, CalicoPortOf, CalicoPorts, CalicoRule, CalicoService, CalicoSubject, CalicoTier,
};
pub use calico_selector::{CalicoErrorKind, CalicoSelector, CalicoSelectorError};
pub use cilium::{
    CiliumPeer, CiliumPeerKind, CiliumPolicy, CiliumRule, CiliumService, CiliumServiceMatch,
    CiliumSpec, CiliumSubject, Entity,
};
pub use cluster::*;
pub use diag::clip;
pub use diag::{Diagnostic, Location, Severity};
pub use endpoints::{EndpointSlice, SliceEndpoint};
pub use ignore::{BaselineEntry, Ignore};
pub use intervals::IntervalSet;
pub use mesh::{
    AuthorizationPolicy, AuthorizationRule, AuthzAction, Clause, Condition, MtlsMode,
    PeerAuthentication, ServiceAccount,
};
pub use ports::{PortSet, Protocol, icmp_message, icmp_type};
pub use selector::{Labels, Operator, Requirement, Selector};
pub use tier::{Action, ClusterPolicy, Node, PodSet, Tier, TierPeer, TierPeerKind, TierRule};
