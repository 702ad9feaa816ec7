//! Which pods and addresses the lab creates: up to N pods per workload (hostNetwork
//! pods share their node's namespace and are left out, visibly), and one address of
//! each external range.

use kubeseg_model::{Cluster, Protocol};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// One pod of the lab.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabPod {
    /// Index into `Cluster::workloads`.
    pub workload: usize,
    /// Index into that workload's `pods`.
    pub template: usize,
    /// `ns/name[Kind]`.
    pub workload_id: String,
    /// `ns/name`, with `-N` after the name for the copies of a template.
    pub pod: String,
    /// The pod's namespace.
    pub namespace: String,
    /// Its network namespace.
    pub netns: String,
    /// Its address, once attached.
    pub ip: Option<Ipv4Addr>,
    /// Its interface's hardware address, once the lab has read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its declared container ports.
    pub ports: Vec<LabPort>,
}

/// A declared container port, as `--json` prints it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabPort {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

impl LabPort {
    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        Protocol::parse(&self.protocol).unwrap_or(Protocol::Tcp)
    }
}

/// One address of an external range, in a namespace of its own.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabExternal {
    /// The range's endpoint id, as `reach` writes it.
    pub id: String,
    /// The engine's endpoint index of the range.
    pub endpoint: usize,
    /// The address used.
    pub ip: Ipv4Addr,
    /// Its network namespace.
    pub netns: String,
    /// Its interface's hardware address, once the lab has read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// What the lab will create.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plan {
    pub pods: Vec<LabPod>,
    pub externals: Vec<LabExternal>,
    /// What the lab leaves out, and why.
    pub notes: Vec<String>,
}

/// Plans a lab named `lab`: `per_workload` pods of each workload (cycling through its
/// pod templates), and the given external ranges (endpoint index, id, an address).
pub fn plan(
    cluster: &Cluster,
    lab: &str,
    per_workload: usize,
    externals: Vec<(usize, String, Ipv4Addr)>,
) -> Plan {
    let mut pods = Vec::new();
    let mut notes = Vec::new();
    for (w, wl) in cluster.workloads.iter().enumerate() {
        let templates: Vec<usize> = (0..wl.pods.len())
            .filter(|&t| !wl.pods[t].host_network)
            .collect();
        if templates.len() < wl.pods.len() {
            notes.push(format!(
                "{}: hostNetwork pods share their node's network namespace and are not in the lab",
                wl.id()
            ));
        }
        if templates.is_empty() {
            continue;
        }
        for k in 0..per_workload {
            let t = templates[k % templates.len()];
            let name = if k == 0 {
                wl.pods[t].name.clone()
            } else {
                format!("{}-{k}", wl.pods[t].name)
            };
            pods.push(LabPod {
                workload: w,
                template: t,
                workload_id: wl.id(),
                pod: format!("{}/{name}", wl.namespace),
                namespace: wl.namespace.clone(),
                netns: format!("{lab}-p{}", pods.len()),
                ip: None,
                mac: None,
                ports: wl.pods[t]
                    .ports
                    .iter()
                    .map(|c| LabPort {
                        protocol: c.protocol.as_str().to_string(),
                        port: c.port,
                        name: c.name.clone(),
                    })
                    .collect(),
            });
        }
    }
    let externals = externals
        .into_iter()
        .enumerate()
        .map(|(i, (endpoint, id, ip))| LabExternal {
            id,
            endpoint,
            ip,
            netns: format!("{lab}-x{i}"),
            mac: None,
        })
        .collect();
    Plan {
        pods,
        externals,
        notes,
    }
}
