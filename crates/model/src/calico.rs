//! Calico's policies (`projectcalico.org/v3`): NetworkPolicy and GlobalNetworkPolicy
//! (and their staged forms), Tier, NetworkSet and GlobalNetworkSet, read into one form
//! after the rewriting Calico does before it evaluates them (libcalico-go
//! `updateprocessors`, felix `rules`): `types` defaulted, a namespaced policy's subject
//! confined to its namespace, and each rule's namespace scoping resolved.
//!
//! How Calico combines them: tiers by ascending `order`, policies inside a tier by
//! `order` (none: last; ties by name), rules in order; the first Allow or Deny decides,
//! Pass skips to the next tier, Log only logs. A tier that applies to the endpoint (one
//! of its non-staged policies selects it with the direction in its `types`) and decides
//! nothing ends with its `defaultAction`. After the last tier, a pod's namespace profile
//! allows. Kubernetes NetworkPolicies are Allow rules in the `default` tier at order 1000.

use crate::addr::IpSet;
use crate::calico_selector::CalicoSelector;
use crate::diag::Location;
use crate::selector::Labels;

/// A Calico NetworkPolicy or GlobalNetworkPolicy (or a staged one).
#[derive(Clone, Debug)]
pub struct CalicoPolicy {
    /// `NetworkPolicy`, `GlobalNetworkPolicy`, `StagedNetworkPolicy` or
    /// `StagedGlobalNetworkPolicy` (all `projectcalico.org/v3`).
    pub kind: String,
    /// The namespace (empty for a global policy).
    pub namespace: String,
    /// The name, as written (Calico names policies of other tiers `tier.name`).
    pub name: String,
    /// Where the object starts.
    pub location: Option<Location>,
    /// `spec.tier` (`default` when not written).
    pub tier: String,
    /// `spec.order`; `None` sorts after every ordered policy of its tier.
    pub order: Option<f64>,
    /// The endpoints it applies to.
    pub subject: CalicoSubject,
    /// Whether `types` (as defaulted) holds Ingress.
    pub applies_ingress: bool,
    /// Whether `types` (as defaulted) holds Egress.
    pub applies_egress: bool,
    /// Ingress rules, in order.
    pub ingress: Vec<CalicoRule>,
    /// Egress rules, in order.
    pub egress: Vec<CalicoRule>,
    /// A staged policy: listed, never enforced.
    pub staged: bool,
}

impl CalicoPolicy {
    /// Every selector it tests endpoints' labels with: its own, then its rules'
    /// `selector` and `notSelector`.
    pub fn endpoint_selectors(&self) -> impl Iterator<Item = &CalicoSelector> {
        std::iter::once(&self.subject.selector).chain(
            self.ingress
                .iter()
                .chain(&self.egress)
                .flat_map(|r| r.peer.selector.iter().chain(&r.peer.not_selector)),
        )
    }

    /// `Kind/namespace/name`, or `Kind/name` when global.
    pub fn id(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What a policy applies to: endpoints whose labels match `selector`, in `namespaces`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalicoSubject {
    /// `spec.selector` (empty: `all()`).
    pub selector: CalicoSelector,
    /// Which namespaces' endpoints.
    pub namespaces: CalicoNamespaces,
}

/// The namespaces a selector's endpoints may be in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CalicoNamespaces {
    /// Any namespace, and endpoints without one (a GlobalNetworkPolicy without
    /// `namespaceSelector`; a rule of a global policy without one).
    Any,
    /// The namespace of that name (a namespaced policy, or its rules that select
    /// endpoints without a `namespaceSelector`).
    Own(String),
    /// The namespaces whose labels match (`namespaceSelector`; `all()` matches every
    /// namespace but no non-namespaced endpoint).
    Selected(CalicoSelector),
    /// `namespaceSelector: global()`: only endpoints without a namespace (global
    /// network sets and host endpoints).
    Global,
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CalicoAction {
    /// The connection is allowed; evaluation ends.
    Allow,
    /// The connection is denied; evaluation ends.
    Deny,
    /// The rest of the tier is skipped; the next tier decides.
    Pass,
    /// Logged; evaluation goes on.
    Log,
}

impl CalicoAction {
    /// The action as Calico spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CalicoAction::Allow => "Allow",
            CalicoAction::Deny => "Deny",
            CalicoAction::Pass => "Pass",
            CalicoAction::Log => "Log",
        }
    }
}

/// One rule.
#[derive(Clone, Debug)]
pub struct CalicoRule {
    /// Where the rule starts.
    pub location: Option<Location>,
    /// The action.
    pub action: CalicoAction,
    /// The protocols it matches, after `protocol` and `notProtocol`: which of TCP, UDP,
    /// SCTP, ICMP and ICMPv6 (in `Protocol::ALL` order). A rule naming only another
    /// protocol (UDPLite, a number) matches none of them.
    pub protocols: [bool; 5],
    /// `icmp`: the ICMP messages an ICMP or ICMPv6 rule matches (`None`: every one).
    pub icmp: Option<CalicoIcmp>,
    /// `notICMP`: the ICMP messages it does not match.
    pub not_icmp: Option<CalicoIcmp>,
    /// The other side of the connection (the source of an ingress rule, the
    /// destination of an egress rule).
    pub peer: CalicoEntity,
    /// The destination ports (`destination.ports` minus `destination.notPorts`);
    /// `None`: every port.
    pub ports: Option<CalicoPorts>,
}

impl CalicoRule {
    /// The messages of `protocol` (ICMP or ICMPv6) that `icmp` and `notICMP` leave,
    /// whether or not the rule matches that protocol. A destination port list (which
    /// Calico allows only beside TCP, UDP or SCTP, or named ports without a protocol)
    /// leaves none: ICMP has no port.
    pub fn icmp_messages(&self, protocol: crate::ports::Protocol) -> crate::ports::PortSet {
        use crate::ports::PortSet;
        if self.ports.as_ref().is_some_and(|p| p.ports.is_some()) {
            return PortSet::empty();
        }
        let (lo, hi) = self.icmp.map_or((0, u16::MAX), CalicoIcmp::messages);
        let mut set = PortSet::range(protocol, lo, hi);
        if let Some(not) = self.not_icmp {
            let (lo, hi) = not.messages();
            set = set.difference(&PortSet::range(protocol, lo, hi));
        }
        set
    }
}

/// `icmp` or `notICMP` (`ICMPFields`): a type (0-254) and, with it, a code (0-255).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalicoIcmp {
    /// `type` (`None`: every type; Calico refuses a code without a type).
    pub icmp_type: Option<u8>,
    /// `code` (`None`: every code of the type).
    pub code: Option<u8>,
}

impl CalicoIcmp {
    /// The messages matched, as `type << 8 | code` values `lo..=hi`.
    pub fn messages(self) -> (u16, u16) {
        match (self.icmp_type, self.code) {
            (None, _) => (0, u16::MAX),
            (Some(t), None) => crate::ports::icmp_type(t),
            (Some(t), Some(c)) => {
                let m = crate::ports::icmp_message(t, c);
                (m, m)
            }
        }
    }
}

/// Ports of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalicoPorts {
    /// `ports` (`None`: every port).
    pub ports: Option<Vec<CalicoPort>>,
    /// `notPorts`.
    pub not_ports: Vec<CalicoPort>,
}

/// One port entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CalicoPort {
    /// A number or `first:last`.
    Range(u16, u16),
    /// A named port, resolved on the destination endpoint.
    Named(String),
    /// A port of one protocol only: a Service's target port, from a `services` match.
    RangeOf(crate::ports::Protocol, u16, u16),
    /// A named target port of one protocol only (a Service's), resolved on the
    /// destination endpoint.
    NamedOf(crate::ports::Protocol, String),
}

impl CalicoPort {
    /// The entry as it applies to `protocol`: `None` when it is another protocol's.
    pub fn for_protocol(&self, protocol: crate::ports::Protocol) -> Option<CalicoPortOf<'_>> {
        match self {
            CalicoPort::Range(lo, hi) => Some(CalicoPortOf::Range(*lo, *hi)),
            CalicoPort::Named(n) => Some(CalicoPortOf::Named(n)),
            CalicoPort::RangeOf(p, lo, hi) if *p == protocol => Some(CalicoPortOf::Range(*lo, *hi)),
            CalicoPort::NamedOf(p, n) if *p == protocol => Some(CalicoPortOf::Named(n)),
            CalicoPort::RangeOf(..) | CalicoPort::NamedOf(..) => None,
        }
    }
}

/// A port entry seen for one protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalicoPortOf<'a> {
    /// Ports `lo..=hi`.
    Range(u16, u16),
    /// A port name, resolved on the destination endpoint.
    Named(&'a str),
}

/// A rule's `services` match: a Kubernetes Service by namespace and name. Before
/// evaluation it is lowered as felix renders it (`rule_scanner.go`): the entity's
/// selector picks the pods the Service selects (its endpoints), and a destination
/// match takes the Service's target ports, each with its protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CalicoService {
    /// The Service's namespace (the policy's when the rule leaves it empty).
    pub namespace: String,
    /// The Service's name.
    pub name: String,
}

/// What one side of a rule matches: every given field must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CalicoEntity {
    /// `nets`: the address must be in one of them.
    pub nets: Option<IpSet>,
    /// `notNets`: the address must be in none of them.
    pub not_nets: Option<IpSet>,
    /// `selector`: the endpoint's (or network set's) labels must match.
    pub selector: Option<CalicoSelector>,
    /// `notSelector`: the endpoint's labels must not match.
    pub not_selector: Option<CalicoSelector>,
    /// Which namespaces the selected endpoints may be in (`None`: no constraint, when
    /// the rule selects no endpoint at all).
    pub namespaces: Option<CalicoNamespaces>,
    /// `services`, as written; once lowered, `selector` and `namespaces` hold its pods.
    pub services: Option<CalicoService>,
}

/// A Calico Tier.
#[derive(Clone, Debug)]
pub struct CalicoTier {
    /// The name.
    pub name: String,
    /// `spec.order`; `None` sorts after every ordered tier.
    pub order: Option<f64>,
    /// `spec.defaultAction`: `Deny` (the default) or `Pass`.
    pub default_action: CalicoAction,
    /// Where it is declared (`None` for the tiers Calico creates itself).
    pub location: Option<Location>,
}

/// A NetworkSet (namespaced) or GlobalNetworkSet: labelled addresses that rule
/// selectors match.
#[derive(Clone, Debug)]
pub struct CalicoNetworkSet {
    /// `NetworkSet` or `GlobalNetworkSet`.
    pub kind: String,
    /// The namespace (empty for a GlobalNetworkSet).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `spec.nets`.
    pub nets: IpSet,
    /// Where it is declared.
    pub location: Option<Location>,
}

/// The label Calico gives a pod's endpoint for its service account
/// (`apiv3.LabelServiceAccount`, set by the workload-endpoint conversion).
pub const SERVICE_ACCOUNT_KEY: &str = "projectcalico.org/serviceaccount";

/// The prefix of the labels an endpoint inherits from its service account's profile
/// (`conversion.ServiceAccountLabelPrefix`).
pub const SERVICE_ACCOUNT_PREFIX: &str = "pcsa.";

/// The label Calico adds to namespace and service-account profiles with the object's
/// name (`conversion.NameLabel`).
pub const NAME_LABEL: &str = "projectcalico.org/name";

/// A `serviceAccounts` match as Calico rewrites it before evaluation (libcalico-go
/// `updateprocessors/rules.go` `parseServiceAccounts`): the selector with `pcsa.`
/// before every key, and the names as `projectcalico.org/serviceaccount in {…}`,
/// ANDed; `None` when neither is given (the match then constrains nothing).
pub fn service_account_match(
    names: &[String],
    selector: Option<CalicoSelector>,
) -> Option<CalicoSelector> {
    let selector = selector.map(|s| s.with_key_prefix(SERVICE_ACCOUNT_PREFIX));
    let names = (!names.is_empty()).then(|| {
        CalicoSelector::In(
            SERVICE_ACCOUNT_KEY.to_string(),
            names.iter().cloned().collect(),
        )
    });
    match (selector, names) {
        (Some(s), Some(n)) => Some(s.and(n)),
        (s, n) => s.or(n),
    }
}

/// The labels a pod's endpoint inherits from its service account's profile
/// (`ServiceAccountToProfile`): each of the account's labels under `pcsa.`, and
/// `pcsa.projectcalico.org/name` with its name.
pub fn service_account_profile_labels(name: &str, labels: &Labels) -> Labels {
    let mut out: Labels = labels
        .iter()
        .map(|(k, v)| (format!("{SERVICE_ACCOUNT_PREFIX}{k}"), v.clone()))
        .collect();
    out.insert(
        format!("{SERVICE_ACCOUNT_PREFIX}{NAME_LABEL}"),
        name.to_string(),
    );
    out
}

/// Whether a selector tests a label a pod's endpoint gets from its service account.
pub fn tests_service_account(selector: &CalicoSelector) -> bool {
    selector
        .label_keys()
        .iter()
        .any(|k| *k == SERVICE_ACCOUNT_KEY || k.starts_with(SERVICE_ACCOUNT_PREFIX))
}
