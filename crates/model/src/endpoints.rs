//! `discovery.k8s.io/v1` EndpointSlices: the addresses behind a Service. kubeseg reads
//! them for what Cilium resolves against them (`toServices` naming a Service without a
//! selector); pods are found by their own manifests, not through slices.

use crate::diag::Location;
use std::net::IpAddr;

/// The label that ties a slice to its Service (`discovery.k8s.io/v1`
/// `LabelServiceName`).
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// An EndpointSlice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSlice {
    /// The namespace (the Service's).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The `kubernetes.io/service-name` label: the Service it belongs to, if any.
    pub service_name: Option<String>,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    /// The endpoints, in input order.
    pub endpoints: Vec<SliceEndpoint>,
    /// Where it is declared.
    pub location: Option<Location>,
}

/// One entry of `endpoints`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceEndpoint {
    /// The addresses (empty for an `FQDN` slice, whose addresses are names).
    pub addresses: Vec<IpAddr>,
    /// `conditions.ready` (`None`: not written, which consumers read as ready).
    pub ready: Option<bool>,
    /// `conditions.serving` (`None`: not written, which means "as ready").
    pub serving: Option<bool>,
    /// `conditions.terminating`.
    pub terminating: Option<bool>,
    /// Where the entry is.
    pub location: Option<Location>,
}

impl SliceEndpoint {
    /// Whether a consumer that sends traffic to serving endpoints uses it: ready (or
    /// unknown), or else serving (a terminating endpoint still draining), as Cilium's
    /// `ParseEndpointSliceV1` (pkg/k8s/endpoints.go) and kube-proxy read the conditions.
    pub fn serving(&self) -> bool {
        let ready = self.ready.unwrap_or(true);
        ready || self.serving.unwrap_or(ready)
    }
}
