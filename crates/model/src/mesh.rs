//! Istio's security objects: AuthorizationPolicy (`security.istio.io/v1`, `v1beta1`)
//! with every field of its rules, PeerAuthentication, and what decides whether a
//! workload runs a sidecar.

use crate::diag::Location;
use crate::selector::Labels;

/// The fields of a rule's `from[].source`, as the CRD spells them.
pub const SOURCE_FIELDS: &[&str] = &[
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "serviceAccounts",
    "notServiceAccounts",
];

/// The fields of a rule's `to[].operation`.
pub const OPERATION_FIELDS: &[&str] = &[
    "hosts",
    "notHosts",
    "ports",
    "notPorts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
];

/// Source and operation fields that exist only for HTTP requests (JWT principals
/// included): on a TCP port an ALLOW rule using one never matches and a DENY rule
/// ignores it.
pub const HTTP_ONLY_FIELDS: &[&str] = &[
    "hosts",
    "notHosts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
    "requestPrincipals",
    "notRequestPrincipals",
];

/// Source fields about the peer's mesh identity: they hold only on mutual TLS.
pub const IDENTITY_FIELDS: &[&str] = &[
    "principals",
    "notPrincipals",
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
];

/// An AuthorizationPolicy's `action`, as the CRD's enum spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthzAction {
    /// `ALLOW`: requests must match a rule of some ALLOW policy.
    Allow,
    /// `DENY`: a matching rule rejects the request.
    Deny,
    /// `AUDIT`: logs only; never changes a verdict.
    Audit,
    /// `CUSTOM`: an external authorizer decides matching requests.
    Custom,
}

impl AuthzAction {
    /// Every action with its spelling, in Istio's evaluation order.
    pub const ALL: [(&'static str, AuthzAction); 4] = [
        ("CUSTOM", AuthzAction::Custom),
        ("DENY", AuthzAction::Deny),
        ("ALLOW", AuthzAction::Allow),
        ("AUDIT", AuthzAction::Audit),
    ];

    /// The spelling in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthzAction::Allow => "ALLOW",
            AuthzAction::Deny => "DENY",
            AuthzAction::Audit => "AUDIT",
            AuthzAction::Custom => "CUSTOM",
        }
    }

    /// The action spelled exactly `s` (the CRD's enum is case-sensitive).
    pub fn parse(s: &str) -> Option<AuthzAction> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, a)| *a)
    }
}

impl std::fmt::Display for AuthzAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for MtlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PeerAuthentication mutual TLS mode, as the CRD's enum spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MtlsMode {
    /// `UNSET`: inherit from the parent scope.
    Unset,
    /// `DISABLE`: plaintext only.
    Disable,
    /// `PERMISSIVE`: mutual TLS and plaintext (Istio's default).
    Permissive,
    /// `STRICT`: mutual TLS only.
    Strict,
}

impl MtlsMode {
    /// Every mode with its spelling.
    pub const ALL: [(&'static str, MtlsMode); 4] = [
        ("UNSET", MtlsMode::Unset),
        ("DISABLE", MtlsMode::Disable),
        ("PERMISSIVE", MtlsMode::Permissive),
        ("STRICT", MtlsMode::Strict),
    ];

    /// The spelling in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            MtlsMode::Unset => "UNSET",
            MtlsMode::Disable => "DISABLE",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Strict => "STRICT",
        }
    }

    /// The mode spelled exactly `s` (the CRD's enum is case-sensitive).
    pub fn parse(s: &str) -> Option<MtlsMode> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }
}

/// A `security.istio.io` AuthorizationPolicy.
#[derive(Clone, Debug)]
pub struct AuthorizationPolicy {
    /// The namespace (the root namespace makes it mesh-wide).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Where the object starts.
    pub location: Option<Location>,
    /// `spec.selector.matchLabels`; `None` applies to the whole namespace.
    pub selector: Option<Labels>,
    /// Whether `targetRef`/`targetRefs` is given instead of a selector.
    pub target_refs: bool,
    /// The `targetRef`/`targetRefs` entries: (group, kind, name).
    pub targets: Vec<(String, String, String)>,
    /// `spec.action`; `ALLOW` when absent.
    pub action: AuthzAction,
    /// `provider.name` of a CUSTOM policy.
    pub provider: Option<String>,
    /// `spec.rules`; `None` when absent.
    pub rules: Option<Vec<AuthorizationRule>>,
}

impl AuthorizationPolicy {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One entry of `spec.rules`.
#[derive(Clone, Debug, Default)]
pub struct AuthorizationRule {
    /// Where the rule starts.
    pub location: Option<Location>,
    /// Whether a source matches on `principals` or `notPrincipals` (mTLS identities).
    pub principals: bool,
    /// The HTTP-only operation fields it uses (`methods`, `paths`, `hosts` and their `not` forms).
    pub http_fields: Vec<String>,
    /// `to.operation.ports`.
    pub ports: Vec<String>,
    /// Whether the rule has neither `from`, `to` nor `when` (it matches every request).
    pub matches_all: bool,
    /// `from[].source`, ORed (empty: any source).
    pub from: Vec<Clause>,
    /// `to[].operation`, ORed (empty: any operation).
    pub to: Vec<Clause>,
    /// `when[]`, ANDed.
    pub when: Vec<Condition>,
}

/// One `source` or `operation`: its fields, ANDed.
#[derive(Clone, Debug, Default)]
pub struct Clause {
    /// Where it starts.
    pub location: Option<Location>,
    /// (field as written, e.g. `principals` or `notMethods`; its values).
    pub fields: Vec<(String, Vec<String>)>,
}

/// One `when` condition.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    /// Where it starts.
    pub location: Option<Location>,
    /// The attribute, e.g. `source.namespace` or `request.headers[x-token]`.
    pub key: String,
    /// `values` (any of them matches; empty when absent).
    pub values: Vec<String>,
    /// `notValues` (none may match).
    pub not_values: Vec<String>,
}

/// A `security.istio.io` PeerAuthentication.
#[derive(Clone, Debug)]
pub struct PeerAuthentication {
    /// The namespace (the root namespace makes it mesh-wide).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Where the object starts.
    pub location: Option<Location>,
    /// `spec.selector.matchLabels`; `None` applies to the whole namespace.
    pub selector: Option<Labels>,
    /// `spec.mtls.mode` (`None` when absent).
    pub mode: Option<MtlsMode>,
    /// `spec.portLevelMtls`: (port number, mode), as written.
    pub port_level: Vec<(u16, MtlsMode)>,
}

/// A ServiceAccount, for the identities a mesh can issue and Calico's
/// `serviceAccounts` and `serviceAccountSelector` matches.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// `metadata.labels` (Calico's `pcsa.` labels come from them).
    pub labels: Labels,
    /// Where it is declared.
    pub location: Option<Location>,
}
