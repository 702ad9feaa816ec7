//! Istio's security objects, as far as they are read today: by `lint` (the engine does
//! not model the mesh layer yet, and every such object gets an `unmodelled-policy`
//! warning).

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
    /// `ALLOW` (the default), `DENY`, `AUDIT` or `CUSTOM`.
    pub action: String,
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
}
