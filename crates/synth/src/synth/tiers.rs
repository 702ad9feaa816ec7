//! Cluster-scoped tiered policies for the benchmark shapes: `admin_policies`
//! AdminNetworkPolicies (v1alpha1, which allows 100 rules per direction; up to
//! `admin_rules` rules each, subjects by team namespace or by pod tier, peers by
//! namespace, pods and networks, a mix of Allow, Deny and Pass) and, with `baseline`,
//! the BaselineAdminNetworkPolicy `default`.

use super::Gen;
use crate::node::{Node, empty, int, obj, q, s};

const TIERS: &[&str] = &["frontend", "backend", "db", "worker"];
/// Ports of the realistic mix's workloads, for shapes without a port pool.
const PORTS: &[u16] = &[80, 443, 8080, 8443, 9090, 5432, 3306, 6379, 27017, 9200];

impl Gen<'_> {
    /// The tiered policies of the shape, in emission order.
    pub(super) fn tier_policies(&mut self) -> Vec<Node> {
        let mut teams: Vec<String> = self.plan.ns.iter().map(|n| n.team.clone()).collect();
        teams.sort();
        teams.dedup();
        let mut out = Vec::new();
        for i in 0..self.shape.admin_policies {
            let subject = if self.rng.pct(60) {
                obj(vec![("namespaces", self.team_selector(&teams))])
            } else {
                obj(vec![("pods", self.pod_peer(&teams))])
            };
            let rules = 1 + self.rng.below(self.shape.admin_rules.max(1));
            let (mut ingress, mut egress) = (Vec::new(), Vec::new());
            for r in 0..rules {
                let action = match self.rng.below(10) {
                    0..4 => "Deny",
                    4..6 => "Allow",
                    _ => "Pass",
                };
                if self.rng.pct(50) {
                    ingress.push(self.tier_rule(r, action, &teams, false));
                } else {
                    egress.push(self.tier_rule(r, action, &teams, true));
                }
            }
            let mut spec = vec![
                // Distinct priorities, so the order never depends on names.
                (
                    "priority",
                    int((i * 1000 / self.shape.admin_policies.max(1)) as i64),
                ),
                ("subject", subject),
            ];
            if !ingress.is_empty() {
                spec.push(("ingress", Node::Arr(ingress)));
            }
            if !egress.is_empty() {
                spec.push(("egress", Node::Arr(egress)));
            }
            out.push(policy("AdminNetworkPolicy", format!("admin-{i:03}"), spec));
        }
        if self.shape.baseline {
            // Tenants isolated from each other unless a NetworkPolicy says otherwise.
            let all_teams = obj(vec![(
                "matchExpressions",
                Node::Arr(vec![obj(vec![
                    ("key", s("team")),
                    ("operator", s("Exists")),
                ])]),
            )]);
            let spec = vec![
                ("subject", obj(vec![("namespaces", all_teams.clone())])),
                (
                    "ingress",
                    Node::Arr(vec![obj(vec![
                        ("name", s("deny-other-tenants")),
                        ("action", s("Deny")),
                        (
                            "from",
                            Node::Arr(vec![obj(vec![("namespaces", all_teams)])]),
                        ),
                    ])]),
                ),
            ];
            out.push(policy("BaselineAdminNetworkPolicy", "default".into(), spec));
        }
        out
    }

    fn team_selector(&mut self, teams: &[String]) -> Node {
        let team = self.rng.pick(teams).clone();
        obj(vec![("matchLabels", obj(vec![("team", q(team))]))])
    }

    fn pod_peer(&mut self, teams: &[String]) -> Node {
        let tier = *self.rng.pick(TIERS);
        obj(vec![
            ("namespaceSelector", self.team_selector(teams)),
            (
                "podSelector",
                obj(vec![("matchLabels", obj(vec![("tier", q(tier))]))]),
            ),
        ])
    }

    fn tier_rule(&mut self, r: usize, action: &str, teams: &[String], egress: bool) -> Node {
        let peers = (0..1 + self.rng.below(3))
            .map(|_| match self.rng.below(10) {
                0..5 => obj(vec![("namespaces", self.team_selector(teams))]),
                5..8 => obj(vec![("pods", self.pod_peer(teams))]),
                // Networks only in egress, as the API allows; pods never live there.
                _ if egress => obj(vec![(
                    "networks",
                    Node::Arr(vec![s(format!("192.0.{}.0/24", self.rng.below(256)))]),
                )]),
                _ => obj(vec![("namespaces", empty())]),
            })
            .collect();
        let port = match self.plan.ports.len() {
            0 => *self.rng.pick(PORTS),
            n => self.plan.ports[self.rng.below(n)],
        };
        let entry = if self.rng.pct(10) {
            obj(vec![(
                "portRange",
                obj(vec![
                    ("protocol", s("TCP")),
                    ("start", int(port as i64)),
                    ("end", int(port as i64 + 10)),
                ]),
            )])
        } else {
            obj(vec![(
                "portNumber",
                obj(vec![("protocol", s("TCP")), ("port", int(port as i64))]),
            )])
        };
        let peer_key = if egress { "to" } else { "from" };
        obj(vec![
            ("name", s(format!("r{r}"))),
            ("action", s(action)),
            (peer_key, Node::Arr(peers)),
            ("ports", Node::Arr(vec![entry])),
        ])
    }
}

fn policy(kind: &str, name: String, spec: Vec<(&'static str, Node)>) -> Node {
    obj(vec![
        ("apiVersion", s("policy.networking.k8s.io/v1alpha1")),
        ("kind", s(kind)),
        ("metadata", obj(vec![("name", s(name))])),
        ("spec", obj(spec)),
    ])
}
