//! Ready-to-apply NetworkPolicy manifests for remediations, written by hand so that
//! the text is stable and readable.

use kubeseg_model::{Cluster, Labels};
use std::fmt::Write;

/// A YAML scalar: plain when unambiguous, double-quoted otherwise.
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with(['-', '.']);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn header(out: &mut String, name: &str, namespace: &str) {
    let _ = write!(
        out,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n",
        scalar(name),
        scalar(namespace)
    );
}

/// `matchLabels` lines at `indent`, or `{}` after the key when empty.
fn labels_block(out: &mut String, key: &str, labels: &Labels, indent: usize) {
    let pad = " ".repeat(indent);
    if labels.is_empty() {
        let _ = writeln!(out, "{pad}{key}: {{}}");
        return;
    }
    let _ = writeln!(out, "{pad}{key}:\n{pad}  matchLabels:");
    for (k, v) in labels {
        let _ = writeln!(out, "{pad}    {}: {}", scalar(k), scalar(v));
    }
}

/// The labels every pod of a workload carries: the narrowest selector for it.
pub fn workload_labels(cluster: &Cluster, workload: usize) -> Labels {
    let pods = &cluster.workloads[workload].pods;
    let mut common = pods.first().map(|p| p.labels.clone()).unwrap_or_default();
    for p in pods.iter().skip(1) {
        common.retain(|k, v| p.labels.get(k) == Some(v));
    }
    common
}

/// Other workloads of the same namespace that the workload's selector also selects.
pub fn also_selected(cluster: &Cluster, workload: usize, labels: &Labels) -> Vec<String> {
    let ns = &cluster.workloads[workload].namespace;
    cluster
        .workloads
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            *i != workload
                && &w.namespace == ns
                && w.pods
                    .iter()
                    .any(|p| labels.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
        })
        .map(|(_, w)| w.id())
        .collect()
}

/// A namespace-wide default deny for ingress.
pub fn default_deny_ingress(namespace: &str) -> String {
    let mut out = String::new();
    header(&mut out, "default-deny-ingress", namespace);
    out.push_str("  podSelector: {}\n  policyTypes:\n  - Ingress\n");
    out
}

const DNS_RULE: &str = "  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n";

/// A namespace-wide default deny for egress that keeps cluster DNS.
pub fn default_deny_egress(namespace: &str) -> String {
    let mut out = String::new();
    header(&mut out, "default-deny-egress", namespace);
    out.push_str("  podSelector: {}\n  policyTypes:\n  - Egress\n  egress:\n");
    out.push_str(DNS_RULE);
    out
}

/// An egress policy for one workload that allows cluster DNS.
pub fn allow_dns(name: &str, namespace: &str, pods: &Labels) -> String {
    let mut out = String::new();
    header(&mut out, name, namespace);
    labels_block(&mut out, "podSelector", pods, 2);
    out.push_str("  policyTypes:\n  - Egress\n  egress:\n");
    out.push_str(DNS_RULE);
    out
}

/// An egress policy for one workload that allows everything but the given addresses.
pub fn egress_except(
    name: &str,
    namespace: &str,
    pods: &Labels,
    v4: &[&str],
    v6: &[&str],
) -> String {
    let mut out = String::new();
    header(&mut out, name, namespace);
    labels_block(&mut out, "podSelector", pods, 2);
    out.push_str("  policyTypes:\n  - Egress\n  egress:\n  - to:\n    - namespaceSelector: {}\n");
    for (cidr, except) in [("0.0.0.0/0", v4), ("::/0", v6)] {
        ip_block(&mut out, cidr, except);
    }
    out
}

/// One `- ipBlock` peer item with its excepts.
fn ip_block(out: &mut String, cidr: &str, except: &[impl AsRef<str>]) {
    let _ = writeln!(out, "    - ipBlock:\n        cidr: {}", scalar(cidr));
    if !except.is_empty() {
        out.push_str("        except:\n");
        for e in except {
            let _ = writeln!(out, "        - {}", scalar(e.as_ref()));
        }
    }
}

/// A source of an ingress allow list: pods of a namespace, or an address range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Pods with these labels in this namespace.
    Pods(String, Labels),
    /// An address range, with excepts.
    Block(String, Vec<String>),
}

/// An ingress policy for one workload that admits exactly these sources on every port.
pub fn ingress_allow(name: &str, namespace: &str, pods: &Labels, sources: &[Source]) -> String {
    let mut out = String::new();
    header(&mut out, name, namespace);
    labels_block(&mut out, "podSelector", pods, 2);
    out.push_str("  policyTypes:\n  - Ingress\n");
    if sources.is_empty() {
        return out;
    }
    out.push_str("  ingress:\n  - from:\n");
    for s in sources {
        match s {
            Source::Pods(ns, labels) => {
                let _ = writeln!(
                    out,
                    "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: {}",
                    scalar(ns)
                );
                labels_block(&mut out, "podSelector", labels, 6);
            }
            Source::Block(cidr, except) => ip_block(&mut out, cidr, except),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_retype() {
        assert_eq!(scalar("web"), "web");
        assert_eq!(
            scalar("kubernetes.io/metadata.name"),
            "kubernetes.io/metadata.name"
        );
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("8080"), "\"8080\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar("::/0"), "\"::/0\"");
    }
}
