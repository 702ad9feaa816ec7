//! The Istio layer: which requests a destination's proxy accepts from a source, after
//! the L3/L4 verdict. Evaluated per (source, destination, port) straight from the
//! policies; fields the manifests cannot decide leave the verdict conditional.
//!
//! Modelled: sidecar injection (namespace `istio-injection`/`istio.io/rev`, pod label and
//! annotation `sidecar.istio.io/inject`), ambient mode (`istio.io/dataplane-mode=ambient`:
//! the node proxy enforces L4 fields only, so L7 fields count as on a TCP port),
//! PeerAuthentication (mesh, namespace, workload, `portLevelMtls`; default PERMISSIVE),
//! identities `<trust-domain>/ns/<ns>/sa/<sa>` on mutual TLS only, and
//! AuthorizationPolicy scope (root namespace mesh-wide, namespace-wide, `selector`;
//! `targetRefs` attach to gateways and waypoints, which are not modelled and are reported).

mod annotate;
mod cilium_l7;
mod logic;
mod rules;

pub use annotate::{Annotation, Annotator, AnnotatorSeed, Composed};
pub use cilium_l7::{
    L7Condition, conditions_of as cilium_l7_conditions, present as cilium_l7_present,
};
pub use rules::Destination;

use kubeseg_model::{AuthorizationPolicy, AuthzAction, Cluster, Labels, MtlsMode, Pod};
pub use logic::{Truth, string_matches};
use std::net::IpAddr;

/// How the mesh is set up.
#[derive(Clone, Debug)]
pub struct MeshOptions {
    /// The trust domain of identities (`cluster.local` by default).
    pub trust_domain: String,
    /// The root namespace, whose selector-less policies apply mesh-wide (`istio-system`).
    pub root_namespace: String,
}

impl Default for MeshOptions {
    fn default() -> Self {
        MeshOptions {
            trust_domain: "cluster.local".into(),
            root_namespace: "istio-system".into(),
        }
    }
}

/// What proxies a workload's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dataplane {
    /// No proxy: plaintext out, nothing enforced in.
    None,
    /// An Envoy sidecar: mutual TLS, L4 and L7 authorization.
    Sidecar,
    /// Ambient mode: ztunnel, mutual TLS and L4 authorization (no waypoint modelled).
    Ambient,
}

impl Dataplane {
    /// `none`, `sidecar` or `ambient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataplane::None => "none",
            Dataplane::Sidecar => "sidecar",
            Dataplane::Ambient => "ambient",
        }
    }
}

/// One end of a mesh evaluation.
#[derive(Clone, Copy, Debug)]
pub enum Party<'c> {
    /// A pod in a namespace.
    Pod {
        /// The namespace.
        namespace: &'c str,
        /// The pod.
        pod: &'c Pod,
    },
    /// An address outside the mesh.
    Address(IpAddr),
}

/// What is known of the request (`None`: not given, so undecided).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The HTTP method.
    pub method: Option<String>,
    /// The path.
    pub path: Option<String>,
    /// The host (`:authority`).
    pub host: Option<String>,
}

/// The mesh's answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Accepted.
    Allowed,
    /// Rejected.
    Denied,
    /// Accepted only if the conditions hold (or, for CUSTOM, if the external
    /// authorizer agrees).
    Conditional(Vec<String>),
}

/// A rule that may match, with how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleStep {
    /// Index into `Cluster::authorization_policies`.
    pub policy: usize,
    /// Index of the rule in `spec.rules` (`None` for a policy without rules).
    pub rule: Option<usize>,
    /// The policy's action.
    pub action: AuthzAction,
    /// Whether it matches this request.
    pub truth: Truth,
    /// The request constraints of the rule (methods, paths, hosts, conditions) as text.
    pub constraints: Vec<String>,
}

/// Why the mesh decided as it did; the report layer words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The destination runs no proxy, so nothing is enforced.
    NoProxy,
    /// STRICT mutual TLS on the port rejects the source's plaintext.
    PlaintextUnderStrict,
    /// A DENY rule matches (the deciding rule is in [`MeshVerdict::deciding`]).
    DenyMatches,
    /// ALLOW policies apply and none of their rules matches ([`MeshVerdict::misses`]
    /// says why each did not).
    NoAllowMatches,
    /// An ALLOW rule matches ([`MeshVerdict::deciding`]).
    AllowMatches,
    /// No ALLOW policy applies, so what no DENY rule rejects is allowed.
    NoAllowPolicy,
    /// An ALLOW rule matches only under conditions the manifests do not decide.
    AllowConditional,
}

/// What kept an ALLOW rule from matching a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The policy has no rules, so it matches nothing.
    NoRules,
    /// The rule uses an HTTP-only field (named) on a port without HTTP.
    HttpOnTcp(String),
    /// A field of a `from.source` (`from.principals`), `to.operation` (`to.methods`)
    /// or a `when` condition (`when.source.namespace`) does not match.
    Field(String),
}

/// An applicable ALLOW rule that does not match the request, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    /// Index into `Cluster::authorization_policies`.
    pub policy: usize,
    /// Index of the rule (`None` for a policy without rules).
    pub rule: Option<usize>,
    /// What did not match.
    pub mismatch: Mismatch,
}

/// The mesh verdict for one source, destination and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshVerdict {
    /// The source's and the destination's data planes.
    pub dataplanes: (Dataplane, Dataplane),
    /// The destination's mutual TLS mode on the port and the PeerAuthentication that set it.
    pub mtls: (MtlsMode, Option<usize>),
    /// The source principal presented (`None`: plaintext).
    pub principal: Option<String>,
    /// The answer.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// The deciding rule, when one decided.
    pub deciding: Option<(usize, Option<usize>)>,
    /// Every applicable rule that may match, in Istio's order (CUSTOM, DENY, ALLOW).
    pub steps: Vec<RuleStep>,
    /// The applicable ALLOW rules that do not match, with what failed.
    pub misses: Vec<Miss>,
    /// AuthorizationPolicies that apply to the destination but are not enforced
    /// (no proxy, or `targetRefs`).
    pub unenforced: Vec<usize>,
}

/// The data plane of a pod in a namespace.
pub fn dataplane(cluster: &Cluster, namespace: &str, pod: &Pod) -> Dataplane {
    // Borrowed, not cloned: this runs for every workload of every command.
    let empty = Labels::new();
    let ns = cluster.namespace(namespace).map_or(&empty, |n| &n.labels);
    fn mode(l: &Labels) -> Option<&str> {
        l.get("istio.io/dataplane-mode").map(String::as_str)
    }
    if mode(&pod.labels) == Some("ambient")
        || (mode(ns) == Some("ambient") && mode(&pod.labels) != Some("none"))
    {
        return Dataplane::Ambient;
    }
    if ns.get("istio-injection").map(String::as_str) == Some("disabled") {
        return Dataplane::None;
    }
    match pod
        .labels
        .get("sidecar.istio.io/inject")
        .map(String::as_str)
    {
        Some("true") => return Dataplane::Sidecar,
        Some("false") => return Dataplane::None,
        _ => {}
    }
    let enabled = ns.get("istio-injection").map(String::as_str) == Some("enabled")
        || ns.contains_key("istio.io/rev");
    if enabled && pod.inject_annotation.as_deref() != Some("false") {
        Dataplane::Sidecar
    } else {
        Dataplane::None
    }
}

/// Whether a policy's scope covers a pod: mesh-wide from the root namespace, else its
/// own namespace; all pods without a selector, else those it matches.
pub fn policy_covers(
    ap: &AuthorizationPolicy,
    namespace: &str,
    pod: &Pod,
    options: &MeshOptions,
) -> bool {
    (ap.namespace == namespace || ap.namespace == options.root_namespace)
        && ap
            .selector
            .as_ref()
            .is_none_or(|sel| labels_match(sel, &pod.labels))
}

/// Whether `labels` carry every label of a `matchLabels` selector.
pub fn labels_match(selector: &Labels, labels: &Labels) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
}

/// Whether the input has a mesh at all: Istio policies, or a workload with a proxy.
pub fn present(cluster: &Cluster) -> bool {
    !cluster.authorization_policies.is_empty()
        || !cluster.peer_authentications.is_empty()
        || cluster
            .workloads
            .iter()
            .any(|w| dataplane(cluster, &w.namespace, &w.pods[0]) != Dataplane::None)
}

/// Protocols whose requests Istio's proxy inspects (HTTP fields exist).
pub const HTTP_PROTOCOLS: &[&str] = &["http", "http2", "grpc", "grpc-web", "h2c"];
/// Protocols Istio treats as plain TCP for authorization.
pub const TCP_PROTOCOLS: &[&str] = &["tcp", "tls", "mongo", "mysql", "redis"];

/// Istio's protocol selection for a Service port: `appProtocol`, else the port name's
/// prefix before `-`, lower case (`None` without either).
pub fn port_protocol(port: &kubeseg_model::ServicePort) -> Option<String> {
    let declared = match (&port.app_protocol, &port.name) {
        (Some(p), _) => p.as_str(),
        (None, Some(name)) => name.split('-').next().unwrap_or(name),
        (None, None) => return None,
    };
    Some(declared.to_ascii_lowercase())
}

/// The mutual TLS mode of a destination port for pods with `labels`, with the
/// PeerAuthentication that set it: workload (port level first), then namespace, then
/// mesh; PERMISSIVE by default.
pub fn mtls_mode(
    cluster: &Cluster,
    namespace: &str,
    labels: &Labels,
    port: u16,
    options: &MeshOptions,
) -> (MtlsMode, Option<usize>) {
    let pas = &cluster.peer_authentications;
    let selects = |i: usize| {
        pas[i].namespace == namespace
            && pas[i]
                .selector
                .as_ref()
                .is_some_and(|sel| labels_match(sel, labels))
    };
    let set = |m: &Option<MtlsMode>| m.filter(|m| *m != MtlsMode::Unset);
    for i in (0..pas.len()).filter(|&i| selects(i)) {
        if let Some(&(_, mode)) = pas[i].port_level.iter().find(|(p, _)| *p == port)
            && mode != MtlsMode::Unset
        {
            return (mode, Some(i));
        }
        if let Some(mode) = set(&pas[i].mode) {
            return (mode, Some(i));
        }
    }
    for scope in [namespace, options.root_namespace.as_str()] {
        if let Some(i) =
            (0..pas.len()).find(|&i| pas[i].selector.is_none() && pas[i].namespace == scope)
            && let Some(mode) = set(&pas[i].mode)
        {
            return (mode, Some(i));
        }
    }
    (MtlsMode::Permissive, None)
}

/// Whether a Service selects a pod (a Service without selector selects none).
pub fn service_selects(service: &kubeseg_model::Service, namespace: &str, pod: &Pod) -> bool {
    service.namespace == namespace
        && service
            .selector
            .as_ref()
            .is_some_and(|sel| !sel.is_empty() && labels_match(sel, &pod.labels))
}

/// Whether a destination port speaks HTTP, as its Services declare it
/// ([`port_protocol`]): `Some(true)` for [`HTTP_PROTOCOLS`], `Some(false)` for
/// [`TCP_PROTOCOLS`], `None` when nothing says (Istio then detects the protocol, so HTTP
/// requests are possible).
/// `services` are the Services selecting the pod (see [`service_selects`]).
pub fn port_is_http(cluster: &Cluster, services: &[usize], pod: &Pod, port: u16) -> Option<bool> {
    for s in services.iter().map(|&i| &cluster.services[i]) {
        for sp in &s.ports {
            let target = match sp.target.as_deref() {
                None => sp.port,
                Some(t) => match t.parse::<u16>() {
                    Ok(n) => n,
                    Err(_) => match pod.ports.iter().find(|c| c.name.as_deref() == Some(t)) {
                        Some(c) => c.port,
                        None => continue,
                    },
                },
            };
            if target != port {
                continue;
            }
            match port_protocol(sp).as_deref() {
                Some(p) if HTTP_PROTOCOLS.contains(&p) => return Some(true),
                Some(p) if TCP_PROTOCOLS.contains(&p) => return Some(false),
                _ => {}
            }
        }
    }
    None
}

/// Evaluates the mesh for a request from `src` to TCP `port` of `dst` (a pod).
pub fn evaluate(
    cluster: &Cluster,
    src: Party,
    dst_namespace: &str,
    dst: &Pod,
    port: u16,
    request: &Request,
    options: &MeshOptions,
) -> MeshVerdict {
    let dst = Destination::new(cluster, dst_namespace, dst, options);
    rules::evaluate(cluster, src, &dst, port, request, options, true)
}
