//! Connectivity assertions (`kind: ConnectivitySpec`, `apiVersion: kubeseg.io/v1`), as
//! `kubeseg test` checks them.

use crate::addr::IpSet;
use crate::diag::Location;
use crate::ports::PortSet;
use crate::selector::Selector;

/// A spec file.
#[derive(Clone, Debug, Default)]
pub struct ConnectivitySpec {
    /// The assertions, in file order.
    pub assertions: Vec<Assertion>,
}

/// One named assertion.
#[derive(Clone, Debug)]
pub struct Assertion {
    /// Its `name`.
    pub name: String,
    /// Where it starts in the spec file.
    pub location: Location,
    /// What it asserts.
    pub check: Check,
}

/// What an assertion asserts.
#[derive(Clone, Debug)]
pub enum Check {
    /// Every matched pair has all the ports (some connection when none are given).
    Allow(Flow),
    /// No matched pair has any of the ports (any connection when none are given).
    Deny(Flow),
    /// The namespace neither reaches nor is reached from other namespaces but these.
    Isolated {
        /// The namespace.
        namespace: String,
        /// Namespaces it may talk to.
        except: Vec<String>,
    },
    /// Only these sources may reach the destinations (on the ports, when given).
    Only(Flow),
    /// No path of any number of hops leads from a source to a destination.
    NoPath(Flow),
    /// No source reaches more than this many other workloads through any number of hops.
    MaxBlastRadius {
        /// The sources.
        from: Vec<Party>,
        /// The limit.
        max: Limit,
    },
}

/// Sources, destinations and ports of an assertion.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Sources.
    pub from: Vec<Party>,
    /// Destinations.
    pub to: Vec<Party>,
    /// Ports, `None` for any.
    pub ports: Option<PortSet>,
    /// The ports as written.
    pub ports_text: Option<String>,
    /// The HTTP request the mesh is asked about (`None`: any request).
    pub request: Option<Request>,
}

/// An HTTP request, as far as an assertion describes it; what is not given may be
/// anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Option<String>,
    /// The path.
    pub path: Option<String>,
    /// The host (`:authority`).
    pub host: Option<String>,
}

/// A blast-radius limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// At most this many workloads.
    Count(usize),
    /// At most this share of the other workloads, in percent.
    Percent(f64),
}

/// One side of an assertion, as written.
#[derive(Clone, Debug)]
pub struct Party {
    /// The text as written, for messages.
    pub text: String,
    /// What it matches.
    pub matcher: Matcher,
    /// Where it is written.
    pub location: Location,
}

/// What a party matches.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// `namespace/name` or `namespace/name[Kind]`.
    Workload {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
        /// The kind, when written.
        kind: Option<String>,
    },
    /// `namespace/*`.
    Namespace(String),
    /// `*`: every workload.
    All,
    /// An IP address or CIDR: the outside addresses.
    Addresses(IpSet),
    /// `{selector: ..., namespace: ...}`: pods with matching labels.
    Selector {
        /// Only in this namespace, when given.
        namespace: Option<String>,
        /// The label selector.
        selector: Selector,
    },
}
