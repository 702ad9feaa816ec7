//! `kubeseg lint`: malformed and misleading policies, each rule in its own file under
//! [`rules`], all sharing the finding model and emitters of the audit.

pub mod rules;

use crate::finding::{Finding, Rule};
use kubeseg_engine::Engine;
use kubeseg_engine::ids::PolicyId;
use kubeseg_model::{
    AuthorizationPolicy, Cluster, Diagnostic, IpSet, Labels, NetworkPolicy, Selector,
};

/// What the user told lint.
#[derive(Clone, Debug, Default)]
pub struct LintConfig {
    /// `--pod-cidr`, with their text.
    pub pod_cidrs: Vec<(String, IpSet)>,
    /// `--service-cidr`, with their text.
    pub service_cidrs: Vec<(String, IpSet)>,
    /// `--trust-domain` and `--istio-root-namespace`, for the mesh rules.
    pub mesh: kubeseg_engine::mesh::MeshOptions,
}

/// A policy lint looks at: one of the cluster's, or a misfiled one read as what it was meant to be.
#[derive(Clone, Copy)]
pub struct PolicyRef<'c> {
    /// The policy.
    pub policy: &'c NetworkPolicy,
    /// Its id in `Cluster::policies`, or `None` for a misfiled document.
    pub index: Option<PolicyId>,
}

/// Everything a rule may read.
pub struct Cx<'e, 'c> {
    /// The engine over the cluster (misfiled policies are not part of it).
    pub engine: &'e mut Engine<'c>,
    /// Loader diagnostics.
    pub diagnostics: &'c [Diagnostic],
    /// Misfiled NetworkPolicy-shaped documents.
    pub misfiled: &'c [NetworkPolicy],
    /// Misfiled AuthorizationPolicy-shaped documents.
    pub misfiled_authorization: &'c [AuthorizationPolicy],
    /// Settings.
    pub config: &'e LintConfig,
    /// Per class: the workloads that have a pod in it.
    class_workloads: Vec<Vec<usize>>,
    /// Findings so far.
    pub findings: Vec<Finding>,
    /// What could not be checked.
    pub notes: Vec<String>,
}

impl<'c> Cx<'_, 'c> {
    /// The cluster.
    pub fn cluster(&self) -> &'c Cluster {
        self.engine.cluster
    }

    /// Every policy: the cluster's, then the misfiled ones.
    pub fn policies(&self) -> Vec<PolicyRef<'c>> {
        let cluster = self.cluster();
        let mut out: Vec<PolicyRef<'c>> = cluster
            .policies
            .iter()
            .enumerate()
            .map(|(i, policy)| PolicyRef {
                policy,
                index: Some(PolicyId::from(i)),
            })
            .collect();
        out.extend(self.misfiled.iter().map(|policy| PolicyRef {
            policy,
            index: None,
        }));
        out
    }

    /// Every AuthorizationPolicy: the cluster's, then the misfiled ones.
    pub fn authorization_policies(&self) -> Vec<&'c AuthorizationPolicy> {
        self.cluster()
            .authorization_policies
            .iter()
            .chain(self.misfiled_authorization)
            .collect()
    }

    /// Workloads of `namespace` with a pod carrying all of `labels` (`None`: every workload).
    pub fn with_labels(&self, namespace: &str, labels: Option<&Labels>) -> Vec<usize> {
        self.cluster()
            .workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.namespace == namespace
                    && w.pods.iter().any(|p| {
                        labels.is_none_or(|l| l.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
                    })
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Workloads with a pod that `p` selects.
    pub fn selected(&self, p: PolicyRef) -> Vec<usize> {
        match p.index {
            Some(i) => {
                let set = &self.engine.reach.index.selected[i];
                self.workloads_of(set.iter())
            }
            None => self.naive(&p.policy.namespace, &p.policy.pod_selector),
        }
    }

    /// Workloads with a pod in any of these nodes (atoms are ignored).
    pub fn workloads_of(&self, nodes: impl Iterator<Item = usize>) -> Vec<usize> {
        let mut out: Vec<usize> = nodes
            .filter_map(|n| self.class_workloads.get(n))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Workloads of `namespace` with a non-host-network pod matching `selector`,
    /// straight from the definition (only for policies outside the engine).
    pub fn naive(&self, namespace: &str, selector: &Selector) -> Vec<usize> {
        self.cluster()
            .workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.namespace == namespace
                    && w.pods
                        .iter()
                        .any(|p| !p.host_network && selector.matches(&p.labels))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The labels of a namespace (declared, or the implicit name label).
    pub fn namespace_labels(&self, name: &str) -> Labels {
        self.cluster()
            .namespaces
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.labels.clone())
            .unwrap_or_else(|| {
                [("kubernetes.io/metadata.name".to_string(), name.to_string())].into()
            })
    }
}

/// Every lint rule, in code order.
pub fn registry() -> Vec<&'static Rule> {
    rules::ALL.iter().map(|(r, _)| *r).collect()
}

/// The lint's answer.
#[derive(Debug)]
pub struct LintReport {
    /// Findings, most severe first, then by location.
    pub findings: Vec<Finding>,
    /// What could not be checked.
    pub notes: Vec<String>,
}

/// Runs every rule.
pub fn lint<'c>(
    engine: &mut Engine<'c>,
    diagnostics: &'c [Diagnostic],
    misfiled: &'c kubeseg_sources::assemble::Misfiled,
    config: &LintConfig,
) -> LintReport {
    let classes = engine.reach.index.class_count();
    let mut class_workloads = vec![Vec::new(); classes];
    for (e, endpoint) in engine.endpoints().iter().enumerate() {
        if let kubeseg_engine::Endpoint::Workload { classes, .. } = endpoint {
            for &c in classes {
                class_workloads[c as usize].push(e);
            }
        }
    }
    let mut cx = Cx {
        engine,
        diagnostics,
        misfiled: &misfiled.network_policies,
        misfiled_authorization: &misfiled.authorization_policies,
        config,
        class_workloads,
        findings: Vec::new(),
        notes: Vec::new(),
    };
    for (_, check) in rules::ALL {
        check(&mut cx);
    }
    let mut findings = cx.findings;
    findings.sort_by(|a, b| {
        (
            std::cmp::Reverse(a.severity),
            &a.location,
            a.rule.code,
            &a.title,
        )
            .cmp(&(
                std::cmp::Reverse(b.severity),
                &b.location,
                b.rule.code,
                &b.title,
            ))
    });
    LintReport {
        findings,
        notes: cx.notes,
    }
}
