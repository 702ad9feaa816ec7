//! Resolving endpoint arguments (`--from`, `--to`) against the loaded cluster.

use anyhow::{Result, bail};
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{Cidr, IpSet, Operator, Requirement, Selector, Workload};
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

/// Builds a filter from `ns/name[Kind]`, `ns/name`, `ns/*`, an IP or CIDR, or a label selector.
pub fn filter(engine: &Engine, spec: Option<&str>) -> Result<Filter> {
    let Some(spec) = spec else {
        return Ok(Filter::All);
    };
    let endpoints = engine.endpoints();
    let workload = |e: usize| match &endpoints[e] {
        Endpoint::Workload { workload, .. } => Some(&engine.cluster.workloads[*workload]),
        Endpoint::External { .. } => None,
    };
    let addresses = parse_addresses(spec);
    let selector = if spec.contains('/') || addresses.is_some() {
        None
    } else {
        Some(parse_selector(spec)?)
    };
    let accepts = |e: usize| -> bool {
        if let Some(set) = &addresses {
            return match &endpoints[e] {
                Endpoint::External { addresses: a, .. } => !a.intersect(set).is_empty(),
                Endpoint::Workload { .. } => false,
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

/// Parses an IP address or CIDR into an address set.
pub fn parse_addresses(s: &str) -> Option<IpSet> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(IpSet::single(ip));
    }
    Cidr::parse(s).ok().map(Cidr::to_set)
}

/// Parses a kubectl-style selector: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
pub fn parse_selector(s: &str) -> Result<Selector> {
    let mut sel = Selector::default();
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let set_op = [(" notin ", Operator::NotIn), (" in ", Operator::In)]
            .into_iter()
            .find_map(|(w, op)| part.split_once(w).map(|(k, v)| (k, v, op)));
        if let Some((key, values, operator)) = set_op {
            let values = values.trim().trim_start_matches('(').trim_end_matches(')');
            let mut values: Vec<String> = values
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            values.sort();
            sel.match_expressions.push(Requirement {
                key: key.trim().into(),
                operator,
                values,
            });
        } else if let Some((k, v)) = part.split_once("!=") {
            sel.match_expressions.push(Requirement {
                key: k.trim().into(),
                operator: Operator::NotIn,
                values: vec![v.trim().into()],
            });
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            sel.match_labels.push((k.trim().into(), v.trim().into()));
        } else if let Some(k) = part.strip_prefix('!') {
            sel.match_expressions.push(Requirement {
                key: k.trim().into(),
                operator: Operator::DoesNotExist,
                values: vec![],
            });
        } else if part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            sel.match_expressions.push(Requirement {
                key: part.into(),
                operator: Operator::Exists,
                values: vec![],
            });
        } else {
            bail!(
                "cannot read `{part}` as a label selector (use key=value, key!=value, key in (a,b), key notin (a,b), key, !key)"
            );
        }
    }
    Ok(sel)
}

/// What an explain argument resolved to.
pub enum Resolved<'c> {
    /// A pod of a workload.
    Pod { workload: &'c Workload, pod: usize },
    /// An address.
    Address(IpAddr),
}

/// Resolves an explain argument to one pod or one address; unknown or ambiguous names
/// are errors that list the candidates.
pub fn resolve<'c>(workloads: &'c [Workload], spec: &str) -> Result<Resolved<'c>> {
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok(Resolved::Address(ip));
    }
    let Some((ns, rest)) = spec.split_once('/') else {
        bail!("`{spec}` is neither `namespace/name` nor an IP address");
    };
    let in_ns: Vec<&Workload> = workloads.iter().filter(|w| w.namespace == ns).collect();
    let by_id: Vec<&Workload> = in_ns
        .iter()
        .copied()
        .filter(|w| format!("{}[{}]", w.name, w.kind) == rest)
        .collect();
    let by_name: Vec<&Workload> = in_ns.iter().copied().filter(|w| w.name == rest).collect();
    let candidates = if !by_id.is_empty() { by_id } else { by_name };
    match candidates.as_slice() {
        [w] => {
            return Ok(Resolved::Pod {
                workload: w,
                pod: 0,
            });
        }
        [] => {}
        many => {
            let ids: Vec<String> = many.iter().map(|w| w.id()).collect();
            bail!("`{spec}` is ambiguous; use one of: {}", ids.join(", "));
        }
    }
    for w in &in_ns {
        if let Some(i) = w.pods.iter().position(|p| p.name == rest) {
            return Ok(Resolved::Pod {
                workload: w,
                pod: i,
            });
        }
    }
    let mut names: Vec<String> = in_ns.iter().map(|w| w.id()).collect();
    names.truncate(20);
    if names.is_empty() {
        bail!("`{spec}`: no workload in namespace `{ns}`");
    }
    bail!(
        "`{spec}` names no workload or pod; workloads in `{ns}`: {}",
        names.join(", ")
    );
}
