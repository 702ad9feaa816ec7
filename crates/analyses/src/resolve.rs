//! Names in a spec or on the command line to the endpoints they stand for: one
//! resolver for `test`, `audit --spec` and the CLI's `--from`/`--to`.

use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::spec::{Matcher, Party};

/// The endpoints (workloads, or external ranges for an address matcher) a spec party
/// matches, in endpoint order.
pub fn party(engine: &Engine, p: &Party) -> Vec<usize> {
    let cluster = engine.cluster;
    let workloads = cluster.workloads.iter().enumerate();
    match &p.matcher {
        Matcher::All => (0..cluster.workloads.len()).collect(),
        Matcher::Namespace(ns) => workloads
            .filter(|(_, w)| &w.namespace == ns)
            .map(|(i, _)| i)
            .collect(),
        Matcher::Workload {
            namespace,
            name,
            kind,
        } => workloads
            .filter(|(_, w)| {
                &w.namespace == namespace
                    && &w.name == name
                    && kind.as_ref().is_none_or(|k| k == &w.kind)
            })
            .map(|(i, _)| i)
            .collect(),
        Matcher::Selector {
            namespace,
            selector,
        } => workloads
            .filter(|(_, w)| {
                namespace.as_ref().is_none_or(|n| n == &w.namespace)
                    && w.pods.iter().any(|p| selector.matches(&p.labels))
            })
            .map(|(i, _)| i)
            .collect(),
        Matcher::Addresses(set) => engine
            .endpoints()
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(e, Endpoint::External { addresses, .. } if !addresses.intersect(set).is_empty())
            })
            .map(|(i, _)| i)
            .collect(),
    }
}
