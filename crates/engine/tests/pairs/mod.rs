//! Naming the two ends of a pair in tests that check the engine and the naive reference
//! against hand-derived rows: a workload by its id, an outside address by itself.
//! A test file using it also declares `mod reference;`.

use crate::reference::Party;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::Cluster;
use std::net::IpAddr;

/// A row as the tests write their expectations: `from => to : ports`.
pub fn row(from: &str, to: &str, ports: &str) -> String {
    format!("{from} => {to} : {ports}")
}

/// The reference's party for a workload id or an address.
pub fn party<'c>(cluster: &'c Cluster, name: &str) -> Party<'c> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Party::External(ip);
    }
    let w = cluster
        .workloads
        .iter()
        .find(|w| w.id() == name)
        .unwrap_or_else(|| panic!("no workload {name}"));
    Party::Pod {
        namespace: &w.namespace,
        pod: &w.pods[0],
    }
}

/// The engine's endpoint for a workload id or an address (the atom holding it).
pub fn endpoint(engine: &Engine, name: &str) -> usize {
    let ip = name.parse::<IpAddr>().ok();
    (0..engine.endpoints().len())
        .find(|&e| match (&engine.endpoints()[e], ip) {
            (Endpoint::External { addresses, .. }, Some(ip)) => addresses.contains(ip),
            (_, Some(_)) => false,
            _ => engine.endpoint_id(e) == name,
        })
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}
