//! What `lab verify` found: every probe's answer beside kubeseg's.

use serde::Serialize;

/// One probe: from a pod or external address to a pod's (or address's) port.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Probe {
    /// `ns/name` of the source pod, or the external range's id.
    pub from: String,
    /// `ns/name` of the destination pod, or the external range's id.
    pub to: String,
    /// `TCP` or `UDP`.
    pub protocol: String,
    pub port: u16,
    /// Whether the kernel let the connection through.
    pub kernel: bool,
    /// Whether `reach` says it is allowed.
    pub kubeseg: bool,
}

/// The answer of `lab verify`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    /// Pods and external addresses in the lab.
    pub pods: usize,
    pub externals: usize,
    /// Probes made, and how many the kernel let through.
    pub probes: usize,
    pub allowed: usize,
    /// Probes where the kernel and kubeseg disagree, sorted.
    pub mismatches: Vec<Probe>,
    /// Declared ports not probed (SCTP), as `ns/name SCTP/port`.
    pub unprobed: Vec<String>,
    /// What the lab leaves out.
    pub notes: Vec<String>,
}
