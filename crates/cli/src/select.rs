//! Resolving endpoint arguments (`--from`, `--to`) against the loaded cluster.

use anyhow::{Result, bail};
use kubeseg_analyses::resolve::named;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{Cidr, Cluster, IpSet, Selector, Workload};
use std::net::IpAddr;

/// A filter over endpoints.
pub enum Filter {
    /// Everything.
    All,
    /// These endpoint indices.
    Set(Vec<bool>),
}

impl Filter {
    /// Whether endpoint `e` passes.
    pub fn accepts(&self, e: usize) -> bool {
        match self {
            Filter::All => true,
            Filter::Set(v) => v[e],
        }
    }
}

/// Builds a filter from `ns/name[Kind]`, `ns/name`, `ns/*`, `svc/NAME` (the workloads a
/// Service selects), an IP or CIDR, or a label selector.
pub fn filter(engine: &Engine, spec: Option<&str>) -> Result<Filter> {
    let Some(spec) = spec else {
        return Ok(Filter::All);
    };
    let endpoints = engine.endpoints();
    let workload = |e: usize| match &endpoints[e] {
        Endpoint::Workload { workload, .. } => Some(&engine.cluster.workloads[*workload]),
        Endpoint::External { .. } | Endpoint::Domain { .. } => None,
    };
    if spec.starts_with("svc/") {
        let hits = named(engine.cluster, spec, crate::namespace())?;
        let set: Vec<bool> = (0..endpoints.len())
            .map(|e| matches!(&endpoints[e], Endpoint::Workload { workload, .. } if hits.iter().any(|h| h.workload == *workload)))
            .collect();
        return Ok(Filter::Set(set));
    }
    // A domain endpoint is named by its name, with or without `[Domain]`.
    let domain = spec.strip_suffix("[Domain]").unwrap_or(spec);
    let domain = kubeseg_engine::index::normalise_domain(domain);
    let is_domain =
        |e: usize| matches!(&endpoints[e], Endpoint::Domain { name, .. } if *name == domain);
    if (0..endpoints.len()).any(is_domain) {
        return Ok(Filter::Set((0..endpoints.len()).map(is_domain).collect()));
    }
    if let Some(why) = malformed_address(spec) {
        bail!("{why}");
    }
    let addresses = parse_addresses(spec);
    let selector = if spec.contains('/') || addresses.is_some() {
        None
    } else {
        Some(Selector::parse(spec).map_err(|e| {
            anyhow::anyhow!("cannot read `{spec}` as a label selector: {e} (use key=value, key!=value, key in (a,b), key notin (a,b), key, !key)")
        })?)
    };
    let accepts = |e: usize| -> bool {
        if let Some(set) = &addresses {
            return match &endpoints[e] {
                Endpoint::External { addresses: a, .. } => !a.intersect(set).is_empty(),
                Endpoint::Workload { .. } | Endpoint::Domain { .. } => false,
            };
        }
        let Some(w) = workload(e) else { return false };
        match &selector {
            Some(sel) => w.pods.iter().any(|p| sel.matches(&p.labels)),
            None => matches_name(w, spec),
        }
    };
    let set: Vec<bool> = (0..endpoints.len()).map(accepts).collect();
    if !set.iter().any(|&b| b) {
        bail!("`{spec}` matches no endpoint");
    }
    Ok(Filter::Set(set))
}

fn matches_name(w: &Workload, spec: &str) -> bool {
    let Some((ns, rest)) = spec.split_once('/') else {
        return false;
    };
    if ns != w.namespace {
        return false;
    }
    rest == "*"
        || rest == w.name
        || rest == format!("{}[{}]", w.name, w.kind)
        || w.pods.iter().any(|p| p.name == rest)
}

/// Why an argument that looks like an IP address or CIDR is not one (`999.1.1.1`,
/// `10.0.0.0/33`); such a typo would otherwise read as a domain or a workload name and
/// answer for something else.
pub fn malformed_address(spec: &str) -> Option<String> {
    let (addr, prefix) = match spec.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (spec, None),
    };
    let dotted = addr.split('.').count() == 4
        && addr
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let colons = addr.contains(':')
        && addr
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    if !(dotted || colons) {
        return None;
    }
    if addr.parse::<IpAddr>().is_err() {
        return Some(format!("`{addr}` is not a valid IP address"));
    }
    match prefix {
        Some(_) => Cidr::parse(spec)
            .err()
            .map(|e| format!("`{spec}` is not a valid CIDR: {e}")),
        None => None,
    }
}

/// Parses an IP address or CIDR into an address set.
pub fn parse_addresses(s: &str) -> Option<IpSet> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(IpSet::single(ip));
    }
    Cidr::parse(s).ok().map(Cidr::to_set)
}

/// What an explain argument resolved to.
pub enum Resolved<'c> {
    /// A pod of a workload.
    Pod { workload: &'c Workload, pod: usize },
    /// An address.
    Address(IpAddr),
    /// A domain name (normalised), for `domainNames` peers.
    Domain(String),
}

/// Resolves an explain argument to one pod or one address; unknown or ambiguous names
/// are errors that list the candidates (names resolve in the library, as everywhere).
pub fn resolve<'c>(cluster: &'c Cluster, spec: &str) -> Result<Resolved<'c>> {
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok(Resolved::Address(ip));
    }
    if let Some(why) = malformed_address(spec) {
        bail!("{why}");
    }
    if Cidr::parse(spec).is_ok() {
        bail!("`{spec}` is a range; explain takes one address (pick one inside it)");
    }
    if !spec.contains('/') {
        let name = spec.strip_suffix("[Domain]").unwrap_or(spec);
        if name.contains('.') {
            return Ok(Resolved::Domain(kubeseg_engine::index::normalise_domain(
                name,
            )));
        }
    }
    let hits = named(cluster, spec, crate::namespace())?;
    match hits.as_slice() {
        [one] => Ok(Resolved::Pod {
            workload: &cluster.workloads[one.workload],
            pod: one.pod,
        }),
        many => {
            let ids: Vec<String> = many
                .iter()
                .map(|r| cluster.workloads[r.workload].id())
                .collect();
            bail!(
                "`{spec}` stands for {} workloads; explain takes one: {}",
                many.len(),
                ids.join(", ")
            )
        }
    }
}
