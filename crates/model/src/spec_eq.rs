//! Equality by value: two rules, peers or policies are equal when what they say is
//! equal, wherever they are written. Locations never take part, so `diff` and lint
//! compare policies with `==` and hash them, instead of comparing printed forms.

use crate::cilium::{CiliumPeer, CiliumPolicy, CiliumRule, CiliumService, CiliumSpec};
use crate::cluster::{NetworkPolicy, Peer, Rule};
use crate::mesh::{AuthorizationPolicy, AuthorizationRule, Clause, Condition, PeerAuthentication};
use crate::tier::{ClusterPolicy, TierPeer, TierRule};

/// `PartialEq`, `Eq` and `Hash` over the listed fields (the location is left out).
macro_rules! by_value {
    ($t:ty { $($f:ident),* }) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                true $(&& self.$f == other.$f)*
            }
        }
        impl Eq for $t {}
        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                $(self.$f.hash(state);)*
            }
        }
    };
}

by_value!(Rule { peers, ports });
by_value!(CiliumRule {
    peers,
    ports,
    l7,
    plain_ports,
    services
});
by_value!(CiliumPeer { kind });
by_value!(CiliumService { namespace, matches });
by_value!(CiliumSpec {
    subject,
    default_deny_ingress,
    default_deny_egress,
    ingress,
    egress,
    ingress_deny,
    egress_deny
});

impl PartialEq for crate::calico::CalicoRule {
    fn eq(&self, other: &Self) -> bool {
        (
            self.action,
            self.protocols,
            self.icmp,
            self.not_icmp,
            &self.peer,
            &self.ports,
        ) == (
            other.action,
            other.protocols,
            other.icmp,
            other.not_icmp,
            &other.peer,
            &other.ports,
        )
    }
}

impl crate::calico::CalicoPolicy {
    /// Whether two policies say the same (not their names or locations).
    pub fn same_spec(&self, other: &Self) -> bool {
        (
            &self.tier,
            self.order.map(f64::to_bits),
            &self.subject,
            self.applies_ingress,
            self.applies_egress,
            &self.ingress,
            &self.egress,
            self.staged,
        ) == (
            &other.tier,
            other.order.map(f64::to_bits),
            &other.subject,
            other.applies_ingress,
            other.applies_egress,
            &other.ingress,
            &other.egress,
            other.staged,
        )
    }
}

impl CiliumPolicy {
    /// What the policy says (not its name or location).
    pub fn spec(&self) -> impl Eq + std::hash::Hash + '_ {
        &self.specs
    }
}
by_value!(Peer { kind });
by_value!(TierRule {
    name,
    action,
    peers,
    ports
});
by_value!(TierPeer { kind });
by_value!(Clause { fields });
by_value!(Condition {
    key,
    values,
    not_values
});
by_value!(AuthorizationRule {
    principals,
    http_fields,
    ports,
    matches_all,
    from,
    to,
    when
});

impl NetworkPolicy {
    /// What the policy says (not its name or location): equal specs select and allow
    /// the same. `policyTypes` counts by effect, as defaulted.
    pub fn spec(&self) -> impl Eq + std::hash::Hash + '_ {
        (
            &self.pod_selector,
            self.isolates_ingress,
            self.isolates_egress,
            &self.ingress,
            &self.egress,
        )
    }
}

impl ClusterPolicy {
    /// What the policy says (not its name or location).
    pub fn spec(&self) -> impl Eq + std::hash::Hash + '_ {
        (
            &self.kind,
            self.tier,
            self.priority,
            &self.subject,
            &self.ingress,
            &self.egress,
        )
    }
}

impl AuthorizationPolicy {
    /// What the policy says (not its name or location).
    pub fn spec(&self) -> impl Eq + std::hash::Hash + '_ {
        (
            &self.selector,
            self.target_refs,
            &self.targets,
            self.action,
            &self.provider,
            &self.rules,
        )
    }
}

impl PeerAuthentication {
    /// What the policy says (not its name or location).
    pub fn spec(&self) -> impl Eq + std::hash::Hash + '_ {
        (&self.selector, self.mode, &self.port_level)
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::{Peer, PeerKind, Rule};
    use crate::diag::Location;

    fn at(line: u32) -> Option<Location> {
        Some(Location {
            file: "f".into(),
            line,
            column: 1,
        })
    }

    #[test]
    fn locations_do_not_count_and_content_does() {
        let peer = |line, sel: Option<&str>| Peer {
            location: at(line),
            kind: PeerKind::Pods {
                namespaces: None,
                pods: sel.map(|s| crate::Selector::parse(s).unwrap()),
            },
        };
        let rule = |line, sel| Rule {
            location: at(line),
            peers: Some(vec![peer(line + 1, sel)]),
            ports: None,
        };
        assert_eq!(rule(3, Some("app=a")), rule(30, Some("app=a")));
        assert_ne!(rule(3, Some("app=a")), rule(3, Some("app=b")));
        assert_ne!(rule(3, Some("app=a")), rule(3, None));
    }
}
