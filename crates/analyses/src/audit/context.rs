//! Who the attacker starts from (entry points) and what they are after (crown jewels).

use crate::backends::ServiceBackends;
use crate::finding::Evidence;
use crate::rows::Rows;
use kubeseg_model::{Cluster, Location, Selector};
use rustc_hash::FxHashMap as HashMap;

/// Well-known datastore ports.
pub const DATASTORE_PORTS: &[(u16, &str)] = &[
    (1433, "SQL Server"),
    (1521, "Oracle"),
    (2379, "etcd"),
    (3306, "MySQL"),
    (5432, "PostgreSQL"),
    (5984, "CouchDB"),
    (6379, "Redis"),
    (7687, "Neo4j"),
    (8086, "InfluxDB"),
    (9000, "ClickHouse"),
    (9042, "Cassandra"),
    (9200, "Elasticsearch"),
    (11211, "Memcached"),
    (26257, "CockroachDB"),
    (27017, "MongoDB"),
];

/// Well-known datastore image names (the last path segment, without tag or digest).
pub const DATASTORE_IMAGES: &[(&str, &str)] = &[
    ("cassandra", "Cassandra"),
    ("clickhouse-server", "ClickHouse"),
    ("cockroach", "CockroachDB"),
    ("couchdb", "CouchDB"),
    ("elasticsearch", "Elasticsearch"),
    ("etcd", "etcd"),
    ("influxdb", "InfluxDB"),
    ("mariadb", "MariaDB"),
    ("memcached", "Memcached"),
    ("mongo", "MongoDB"),
    ("mongodb", "MongoDB"),
    ("mssql-server", "SQL Server"),
    ("mysql", "MySQL"),
    ("neo4j", "Neo4j"),
    ("opensearch", "OpenSearch"),
    ("postgres", "PostgreSQL"),
    ("postgresql", "PostgreSQL"),
    ("redis", "Redis"),
    ("valkey", "Valkey"),
];

/// The label that marks a crown jewel explicitly.
pub const CROWN_JEWEL_LABEL: (&str, &str) = ("kubeseg.io/crown-jewel", "true");

/// A workload the attacker starts from, with why.
#[derive(Clone, Debug)]
pub struct EntryPoint {
    /// Workload index.
    pub workload: usize,
    /// Why it counts.
    pub reasons: Vec<Evidence>,
}

/// A workload the attacker is after, with why.
#[derive(Clone, Debug)]
pub struct CrownJewel {
    /// Workload index.
    pub workload: usize,
    /// Why it counts.
    pub reasons: Vec<String>,
}

/// The image name a datastore is recognised by: `docker.io/bitnami/mysql:8.0@sha256:…` → `mysql`.
pub fn image_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

/// Crown jewels: datastores by port or image, the crown-jewel label, and the user's selectors.
pub fn crown_jewels(cluster: &Cluster, selectors: &[(String, Selector)]) -> Vec<CrownJewel> {
    let mut out = Vec::new();
    for (i, w) in cluster.workloads.iter().enumerate() {
        let mut reasons = Vec::new();
        for p in &w.pods {
            for cp in &p.ports {
                if let Some((_, what)) = DATASTORE_PORTS.iter().find(|(n, _)| *n == cp.port) {
                    reasons.push(format!(
                        "listens on {}/{} ({what})",
                        cp.protocol.as_str(),
                        cp.port
                    ));
                }
            }
            for image in &p.images {
                let name = image_name(image);
                if let Some((_, what)) = DATASTORE_IMAGES.iter().find(|(n, _)| *n == name) {
                    reasons.push(format!("runs image {image} ({what})"));
                }
            }
            if p.labels.get(CROWN_JEWEL_LABEL.0).map(String::as_str) == Some(CROWN_JEWEL_LABEL.1) {
                reasons.push(format!(
                    "labelled {}={}",
                    CROWN_JEWEL_LABEL.0, CROWN_JEWEL_LABEL.1
                ));
            }
            for (text, sel) in selectors {
                if sel.matches(&p.labels) {
                    reasons.push(format!("matches --crown-jewel {text}"));
                }
            }
        }
        reasons.sort();
        reasons.dedup();
        if !reasons.is_empty() {
            out.push(CrownJewel {
                workload: i,
                reasons,
            });
        }
    }
    out
}

/// How many ranges of one outside atom an entry point's message names.
const RANGES_NAMED: usize = 6;

/// An atom's comma-separated ranges, the first [`RANGES_NAMED`] of them when there
/// are more, saying how many there are in all.
fn clip_ranges(ranges: &str) -> String {
    let all = ranges.split(',').count();
    if all <= RANGES_NAMED {
        return ranges.to_string();
    }
    let named: Vec<&str> = ranges.split(',').take(RANGES_NAMED).collect();
    format!("{},… ({all} ranges in all)", named.join(","))
}

/// Entry points: exposed workloads (LoadBalancer or NodePort Service, backend of an
/// Ingress, a Gateway API route or a gateway-bound VirtualService, hostPort, hostNetwork) whose ingress admits some outside address; workloads
/// whose ingress policies admit outside addresses explicitly; and assumed-compromised ones.
pub fn entry_points(
    cluster: &Cluster,
    rows: &Rows,
    ingress_isolated: &[bool],
    atom_ranges: &dyn Fn(usize) -> String,
    assumed: &[usize],
) -> Vec<EntryPoint> {
    let backends = ServiceBackends::new(cluster);
    let mut exposure: Vec<Vec<Evidence>> = vec![Vec::new(); cluster.workloads.len()];
    let services: HashMap<(&str, &str), usize> = cluster
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.namespace.as_str(), s.name.as_str()), i))
        .collect();
    let mut expose = |ns: &str, svc: usize, why: String, at: Option<Location>| {
        if let Some(sel) = &cluster.services[svc].selector {
            for w in backends.select(ns, sel) {
                exposure[w].push(Evidence::at(at.clone(), why.clone()));
            }
        }
    };
    for (i, s) in cluster.services.iter().enumerate() {
        if s.service_type == "LoadBalancer" || s.service_type == "NodePort" {
            let why = format!(
                "exposed by {} Service {}/{}",
                s.service_type, s.namespace, s.name
            );
            expose(&s.namespace, i, why, s.location.clone());
        }
    }
    for r in &cluster.routes {
        for (ns, name) in &r.backends {
            if let Some(&svc) = services.get(&(ns.as_str(), name.as_str())) {
                let why = format!("backend of {} through Service {ns}/{name}", r.id());
                expose(ns, svc, why, r.location.clone());
            }
        }
    }
    let mut out = Vec::new();
    let mut range_texts: HashMap<u32, String> = HashMap::default();
    for (i, w) in cluster.workloads.iter().enumerate() {
        let mut reasons = std::mem::take(&mut exposure[i]);
        for p in &w.pods {
            if p.host_port {
                reasons.push(Evidence::at(
                    p.location.clone(),
                    format!("pod {} declares a hostPort", p.name),
                ));
            }
            if p.host_network {
                reasons.push(Evidence::at(
                    p.location.clone(),
                    format!("pod {} uses the host network", p.name),
                ));
            }
        }
        reasons.sort();
        reasons.dedup();
        let admitted = &rows.admitted_from[i];
        let mut entry = Vec::new();
        if !admitted.is_empty() {
            if ingress_isolated[i] {
                // Only this message names the ranges; an atom's may be long (the rest of
                // the address space), so each is written once, and clipped: the message
                // is repeated in the path finding of every crown jewel it reaches.
                for &a in admitted.iter().take(3) {
                    range_texts
                        .entry(a)
                        .or_insert_with(|| clip_ranges(&atom_ranges(a as usize)));
                }
                let ranges: Vec<&str> = (admitted.iter().take(3))
                    .map(|a| range_texts[a].as_str())
                    .collect();
                let more = if admitted.len() > 3 { ", …" } else { "" };
                // An ingress policy admits outside addresses on purpose: that alone makes an entry point.
                entry.extend(reasons);
                entry.push(Evidence::at(
                    w.location.clone(),
                    format!(
                        "its ingress policies admit outside addresses {}{more}",
                        ranges.join(", ")
                    ),
                ));
            } else if !reasons.is_empty() {
                entry.extend(reasons);
                entry.push(Evidence::at(
                    w.location.clone(),
                    "no NetworkPolicy isolates its ingress, so every outside address is admitted",
                ));
            }
        }
        if assumed.contains(&i) {
            entry.push(Evidence::at(
                None,
                "assumed compromised (--assume-compromised)",
            ));
        }
        if !entry.is_empty() {
            out.push(EntryPoint {
                workload: i,
                reasons: entry,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clip_ranges;

    #[test]
    fn an_atom_of_many_ranges_is_named_by_its_first_six() {
        let six = "10.0.0.0-10.0.0.255,10.0.2.0-10.0.2.255,10.0.4.0-10.0.4.255,10.0.6.0-10.0.6.255,10.0.8.0-10.0.8.255,::-::ffff";
        assert_eq!(clip_ranges(six), six);
        let eight = "1.0.0.0-1.0.0.255,2.0.0.0-2.0.0.255,3.0.0.0-3.0.0.255,4.0.0.0-4.0.0.255,5.0.0.0-5.0.0.255,6.0.0.0-6.0.0.255,7.0.0.0-7.0.0.255,8.0.0.0-8.0.0.255";
        assert_eq!(
            clip_ranges(eight),
            "1.0.0.0-1.0.0.255,2.0.0.0-2.0.0.255,3.0.0.0-3.0.0.255,4.0.0.0-4.0.0.255,5.0.0.0-5.0.0.255,6.0.0.0-6.0.0.255,… (8 ranges in all)"
        );
    }
}
