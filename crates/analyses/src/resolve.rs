//! Names in a spec or on the command line to the endpoints they stand for: one
//! resolver for `test`, `audit --spec` and the CLI's `--from`/`--to`.

use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::spec::{Matcher, Party};
use kubeseg_model::{Cluster, Service, Workload};

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

/// One pod of one workload, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodRef {
    /// The workload's index in the cluster.
    pub workload: usize,
    /// The pod's index in the workload.
    pub pod: usize,
}

/// Why a name stands for no workload, or for several where one is needed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Nothing has that name.
    #[error(
        "`{0}` names no workload or pod{1}; write `namespace/name`, `svc/NAME`, an IP address or a domain name"
    )]
    Unknown(String, String),
    /// Nothing in that namespace has that name.
    #[error("`{0}` names no workload or pod; workloads in `{1}`: {2}")]
    NotInNamespace(String, String, String),
    /// The namespace holds no workload.
    #[error("`{0}`: no workload in namespace `{1}`")]
    EmptyNamespace(String, String),
    /// Several workloads have that name.
    #[error("`{0}` is ambiguous; use one of: {1}")]
    Ambiguous(String, String),
    /// No Service has that name.
    #[error("`{0}` names no Service{1}")]
    NoService(String, String),
    /// The Service selects no workload of the input.
    #[error("Service {0} selects no workload in the input (no selector, or no pod matches it)")]
    ServiceWithoutBackends(String),
}

/// The Service `svc/NAME` or `svc/NAMESPACE/NAME` names (`None` for other forms); a
/// bare name is looked up in `namespace` when given, else must be unique.
pub fn service<'c>(
    cluster: &'c Cluster,
    spec: &str,
    namespace: Option<&str>,
) -> Option<Result<&'c Service, NameError>> {
    let rest = spec.strip_prefix("svc/")?;
    let hits: Vec<&Service> = match rest.split_once('/') {
        Some((ns, name)) => cluster
            .services
            .iter()
            .filter(|s| s.namespace == ns && s.name == name)
            .collect(),
        None => cluster
            .services
            .iter()
            .filter(|s| s.name == rest && namespace.is_none_or(|ns| s.namespace == ns))
            .collect(),
    };
    Some(match hits.as_slice() {
        [s] => Ok(s),
        [] => Err(NameError::NoService(
            spec.to_string(),
            in_namespace(namespace),
        )),
        many => {
            let ids: Vec<String> = many
                .iter()
                .map(|s| format!("svc/{}/{}", s.namespace, s.name))
                .collect();
            Err(NameError::Ambiguous(spec.to_string(), ids.join(", ")))
        }
    })
}

fn in_namespace(namespace: Option<&str>) -> String {
    namespace
        .map(|ns| format!(" in namespace `{ns}`"))
        .unwrap_or_default()
}

/// The pods a name stands for: `ns/name` or `ns/name[Kind]` (one workload), `ns/POD`
/// (one pod), a bare `name` or `name[Kind]` (one workload or pod, in `namespace` when
/// given, else in any namespace, unique), or `svc/NAME` (every workload the Service
/// selects, each by its first selected pod). The one resolver of the CLI's names and
/// the audit's `--assume-compromised`.
pub fn named(
    cluster: &Cluster,
    spec: &str,
    namespace: Option<&str>,
) -> Result<Vec<PodRef>, NameError> {
    if let Some(svc) = service(cluster, spec, namespace) {
        let svc = svc?;
        // The audit's and lint's reading of a Service selector, one lookup.
        let selects = |sel: &kubeseg_model::Labels| {
            crate::backends::ServiceBackends::new(cluster).select(&svc.namespace, sel)
        };
        let hits: Vec<PodRef> = svc
            .selector
            .as_ref()
            .map(selects)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|w| {
                let sel = svc.selector.as_ref()?;
                let pod = cluster.workloads[w]
                    .pods
                    .iter()
                    .position(|p| crate::backends::selects(sel, &p.labels))?;
                Some(PodRef { workload: w, pod })
            })
            .collect();
        if hits.is_empty() {
            return Err(NameError::ServiceWithoutBackends(format!(
                "{}/{}",
                svc.namespace, svc.name
            )));
        }
        return Ok(hits);
    }
    let workloads = &cluster.workloads;
    // Called with the hits of one form, when there are any.
    let one = |hits: Vec<PodRef>| -> Result<Vec<PodRef>, NameError> {
        if hits.len() == 1 {
            return Ok(hits);
        }
        let mut ids: Vec<String> = hits.iter().map(|r| workloads[r.workload].id()).collect();
        ids.dedup();
        Err(NameError::Ambiguous(spec.to_string(), ids.join(", ")))
    };
    let (within, rest): (Option<&str>, &str) = match spec.split_once('/') {
        Some((ns, rest)) => (Some(ns), rest),
        None => (namespace, spec),
    };
    let scope = |w: &Workload| within.is_none_or(|ns| w.namespace == ns);
    let in_scope: Vec<usize> = (0..workloads.len())
        .filter(|&i| scope(&workloads[i]))
        .collect();
    let by_id: Vec<PodRef> = in_scope
        .iter()
        .filter(|&&i| format!("{}[{}]", workloads[i].name, workloads[i].kind) == rest)
        .map(|&i| PodRef {
            workload: i,
            pod: 0,
        })
        .collect();
    if !by_id.is_empty() {
        return one(by_id);
    }
    let by_name: Vec<PodRef> = in_scope
        .iter()
        .filter(|&&i| workloads[i].name == rest)
        .map(|&i| PodRef {
            workload: i,
            pod: 0,
        })
        .collect();
    if !by_name.is_empty() {
        return one(by_name);
    }
    let by_pod: Vec<PodRef> = in_scope
        .iter()
        .flat_map(|&i| {
            workloads[i]
                .pods
                .iter()
                .enumerate()
                .filter(|(_, p)| p.name == rest)
                .map(move |(pod, _)| PodRef { workload: i, pod })
        })
        .collect();
    if !by_pod.is_empty() {
        return one(by_pod);
    }
    match spec.split_once('/') {
        Some((ns, _)) if in_scope.is_empty() => {
            Err(NameError::EmptyNamespace(spec.to_string(), ns.to_string()))
        }
        Some((ns, _)) => {
            let mut names: Vec<String> = in_scope.iter().map(|&i| workloads[i].id()).collect();
            names.truncate(20);
            Err(NameError::NotInNamespace(
                spec.to_string(),
                ns.to_string(),
                names.join(", "),
            ))
        }
        None => Err(NameError::Unknown(
            spec.to_string(),
            in_namespace(namespace),
        )),
    }
}
