//! Istio's security objects: AuthorizationPolicy (`security.istio.io/v1`, `v1beta1`)
//! with every field of its rules, PeerAuthentication, and what decides whether a
//! workload runs a sidecar.

use crate::diag::Location;
use crate::selector::Labels;

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
    /// `ALLOW` (the default), `DENY`, `AUDIT` or `CUSTOM`.
    pub action: String,
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clause {
    /// Where it starts.
    pub location: Option<Location>,
    /// (field as written, e.g. `principals` or `notMethods`; its values).
    pub fields: Vec<(String, Vec<String>)>,
}

/// One `when` condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// `spec.mtls.mode`: `STRICT`, `PERMISSIVE`, `DISABLE` or `UNSET` (`None` when absent).
    pub mode: Option<String>,
    /// `spec.portLevelMtls`: (port number, mode), as written.
    pub port_level: Vec<(u16, String)>,
}

/// A ServiceAccount, for the identities a mesh can issue.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Where it is declared.
    pub location: Option<Location>,
}
