//! The Istio side of mesh shapes (`mesh_policies` > 0): injection-enabled namespaces, a
//! ServiceAccount per workload used by its pods, and per namespace AuthorizationPolicies
//! (ALLOW by principal, method and path, some DENY, some namespace-wide) and half the
//! namespaces with a STRICT PeerAuthentication.

use super::Gen;
use crate::node::{Node, obj, q, s};

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
const PATHS: &[&str] = &["/api/*", "/admin", "/health", "*/metrics", "/v1/orders*"];

impl Gen<'_> {
    /// The namespace's labels, with `istio-injection: enabled` in mesh shapes.
    pub(super) fn namespace_labels(&self, ns: usize) -> Node {
        let mut labels = self.plan.ns[ns].labels.clone();
        if self.shape.mesh_policies > 0 {
            labels.push(("istio-injection", "enabled".into()));
        }
        super::labels_node(&labels)
    }

    /// A pod spec: containers, and in mesh shapes the workload's own ServiceAccount.
    pub(super) fn pod_spec(&self, w: usize, containers: &Node) -> Node {
        let mut spec = vec![("containers", containers.clone())];
        if self.shape.mesh_policies > 0 {
            spec.insert(0, ("serviceAccountName", s(self.plan.wls[w].name.as_str())));
        }
        obj(spec)
    }

    /// ServiceAccounts, AuthorizationPolicies and PeerAuthentications.
    pub(super) fn mesh_objects(&mut self) -> Vec<Node> {
        let total = self.shape.mesh_policies;
        if total == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for w in &self.plan.wls {
            out.push(obj(vec![
                ("apiVersion", s("v1")),
                ("kind", s("ServiceAccount")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s(w.name.as_str())),
                        ("namespace", s(self.plan.ns[w.ns].name.as_str())),
                    ]),
                ),
            ]));
        }
        let namespaces = self.plan.ns.len();
        for i in 0..total {
            let ns = i % namespaces;
            let range = self.plan.ns[ns].wl.clone();
            if range.is_empty() {
                continue;
            }
            let target = range.start + self.rng.below(range.len());
            let app = self.plan.wls[target].labels[0].1.clone();
            let deny = self.rng.pct(20);
            let mut spec = Vec::new();
            if !self.rng.pct(10) {
                spec.push((
                    "selector",
                    obj(vec![("matchLabels", obj(vec![("app", q(app))]))]),
                ));
            }
            if deny {
                spec.push(("action", s("DENY")));
            }
            let rules = (0..1 + self.rng.below(3))
                .map(|_| self.mesh_rule(deny))
                .collect();
            spec.push(("rules", Node::Arr(rules)));
            out.push(obj(vec![
                ("apiVersion", s("security.istio.io/v1")),
                ("kind", s("AuthorizationPolicy")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s(format!("authz-{i}"))),
                        ("namespace", s(self.plan.ns[ns].name.as_str())),
                    ]),
                ),
                ("spec", obj(spec)),
            ]));
        }
        for ns in (0..namespaces).step_by(2) {
            out.push(obj(vec![
                ("apiVersion", s("security.istio.io/v1")),
                ("kind", s("PeerAuthentication")),
                (
                    "metadata",
                    obj(vec![
                        ("name", s("default")),
                        ("namespace", s(self.plan.ns[ns].name.as_str())),
                    ]),
                ),
                (
                    "spec",
                    obj(vec![("mtls", obj(vec![("mode", s("STRICT"))]))]),
                ),
            ]));
        }
        out
    }

    fn mesh_rule(&mut self, deny: bool) -> Node {
        let wls = self.plan.wls.len();
        let principals: Vec<Node> = (0..1 + self.rng.below(3))
            .map(|_| {
                let w = &self.plan.wls[self.rng.below(wls)];
                s(format!(
                    "cluster.local/ns/{}/sa/{}",
                    self.plan.ns[w.ns].name, w.name
                ))
            })
            .collect();
        let source = if deny {
            let ns = self.plan.ns[self.rng.below(self.plan.ns.len())]
                .name
                .clone();
            obj(vec![("notNamespaces", Node::Arr(vec![s(ns)]))])
        } else {
            obj(vec![("principals", Node::Arr(principals))])
        };
        let method = *self.rng.pick(METHODS);
        let path = *self.rng.pick(PATHS);
        obj(vec![
            ("from", Node::Arr(vec![obj(vec![("source", source)])])),
            (
                "to",
                Node::Arr(vec![obj(vec![(
                    "operation",
                    obj(vec![
                        ("methods", Node::Arr(vec![s(method)])),
                        ("paths", Node::Arr(vec![q(path)])),
                    ]),
                )])]),
            ),
        ])
    }
}
