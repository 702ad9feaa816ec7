//! Every audit rule: code, name, default severity and documentation. Codes are stable:
//! a retired code is never reused.

use crate::finding::{Rule, Severity};

macro_rules! rule {
    ($id:ident, $code:literal, $name:literal, $sev:ident, $summary:literal, what: $what:literal, why: $why:literal, fix: $fix:literal) => {
        #[doc = $summary]
        pub static $id: Rule = Rule {
            code: $code,
            name: $name,
            severity: Severity::$sev,
            summary: $summary,
            what: $what,
            why: $why,
            fix: $fix,
            example: "",
        };
    };
}

rule!(INGRESS_UNISOLATED, "KS101", "ingress-unisolated", Medium,
    "A workload is not selected by any policy that isolates ingress.",
    what: "Lists workloads that are not isolated for ingress: some pod is selected by no NetworkPolicy with `Ingress` in its policyTypes and is not the subject of an Admin or Baseline tier policy (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy) with an ingress `Deny` rule, so it admits every connection. Raised to high for crown jewels.",
    why: "Such a workload accepts connections from every pod of the cluster and every address that can route to it.",
    fix: "Apply a default-deny ingress policy to its namespace, then allow the clients it needs.");
rule!(EGRESS_UNISOLATED, "KS102", "egress-unisolated", Low,
    "A workload is not selected by any policy that isolates egress.",
    what: "Lists workloads that are not isolated for egress: some pod is selected by no NetworkPolicy with `Egress` in its policyTypes and is not the subject of an Admin or Baseline tier policy with an egress `Deny` rule, so it may connect anywhere. Raised to medium for entry points.",
    why: "Once compromised, such a workload can connect anywhere: other workloads, the metadata service, the internet.",
    fix: "Apply a default-deny egress policy to its namespace that still allows DNS, then allow the destinations it needs.");
rule!(NAMESPACE_NO_DEFAULT_DENY_INGRESS, "KS103", "namespace-no-default-deny-ingress", Medium,
    "A namespace has no policy that isolates all of its pods for ingress.",
    what: "Fires for a namespace with workloads where no NetworkPolicy with an empty podSelector isolates ingress and no Admin or Baseline tier policy whose subject holds every pod of the namespace has an ingress `Deny` rule.",
    why: "Without a default deny, every new workload in the namespace starts reachable from the whole cluster.",
    fix: "Apply the default-deny ingress policy shown, then allow what each workload needs.");
rule!(NAMESPACE_NO_DEFAULT_DENY_EGRESS, "KS104", "namespace-no-default-deny-egress", Low,
    "A namespace has no policy that isolates all of its pods for egress.",
    what: "Fires for a namespace with workloads where no NetworkPolicy with an empty podSelector isolates egress and no Admin or Baseline tier policy whose subject holds every pod of the namespace has an egress `Deny` rule.",
    why: "Without a default deny, every new workload in the namespace can connect anywhere.",
    fix: "Apply the default-deny egress policy shown (it keeps DNS), then allow what each workload needs.");
rule!(BLAST_RADIUS, "KS201", "blast-radius", Medium,
    "How far an attacker gets from an entry point or an assumed-compromised workload.",
    what: "For each entry point (reachable from outside the cluster) and each `--assume-compromised` workload, counts the workloads it reaches directly and through any number of hops. High from half of all workloads, medium from a tenth, low below, info when none.",
    why: "Lateral movement: every workload an attacker reaches is a new foothold with its own reach.",
    fix: "Isolate the entry point's egress to the destinations it needs; the minimal fix (KS801) shows the fewest connections to remove.");
rule!(CROWN_JEWEL_PATH, "KS202", "crown-jewel-path", High,
    "A path leads from an entry point to a crown jewel.",
    what: "Reports the shortest path from each entry point or assumed-compromised workload to each crown jewel it reaches. Critical when the path is one hop, high otherwise.",
    why: "This is the path an attacker takes from the internet to your data.",
    fix: "Cut the path: restrict the crown jewel's ingress to its real clients, or the hops' egress. KS801 gives the smallest cut.");
rule!(METADATA_EGRESS, "KS301", "metadata-service-egress", High,
    "A workload can reach the cloud metadata service.",
    what: "Fires when a workload may connect to 169.254.169.254 or fd00:ec2::254.",
    why: "The metadata service hands out the node's cloud credentials; from there an attacker leaves the cluster.",
    fix: "Isolate egress and allow the internet only with `except` entries for 169.254.169.254/32 (and fd00:ec2::254/128).");
rule!(APISERVER_EGRESS, "KS302", "apiserver-egress", Medium,
    "A workload can reach the Kubernetes API server.",
    what: "Fires when a workload may connect to the API server address (`--apiserver`, or the `kubernetes` Service in `default`) on its ports (443 and 6443 by default).",
    why: "With a stolen or over-privileged service account token, the API server is the way to the whole cluster.",
    fix: "Allow egress to the API server only from the workloads that call it.");
rule!(KUBELET_EGRESS, "KS303", "kubelet-egress", High,
    "A workload can reach the kubelet API of the nodes.",
    what: "Fires when a workload may connect to TCP 10250 in the node range given with `--node-cidr`.",
    why: "The kubelet API runs commands in pods; misconfigured kubelets hand over every pod of the node.",
    fix: "Isolate egress so that the node range is excluded or port 10250 is not allowed.");
rule!(INTERNET_EGRESS, "KS304", "internet-egress", Medium,
    "A workload can reach the whole internet.",
    what: "Fires when a workload may connect to every public address (IPv4 and IPv6).",
    why: "Unrestricted egress lets an attacker download tools and exfiltrate data.",
    fix: "Isolate egress and allow only the external ranges the workload needs.");
rule!(INGRESS_FROM_ANYWHERE, "KS401", "ingress-from-anywhere", Medium,
    "An ingress rule admits every address.",
    what: "Fires for ingress rules with an ipBlock of 0.0.0.0/0 or ::/0, or with no `from` at all. Raised to high when the policy selects a crown jewel.",
    why: "The rule opens the selected pods to the whole internet and to every pod of the cluster.",
    fix: "Replace the peer with the ranges and workloads that really connect.");
rule!(INGRESS_FROM_ALL_NAMESPACES, "KS402", "ingress-from-all-namespaces", Medium,
    "An ingress rule admits pods of every namespace.",
    what: "Fires for ingress peers with `namespaceSelector: {}`. Raised to high when the policy selects a crown jewel.",
    why: "Every namespace, including ones created later, can reach the selected pods.",
    fix: "Select the client namespaces by label, and the client pods with a podSelector in the same peer.");
rule!(CROWN_JEWEL_ALL_PORTS, "KS403", "crown-jewel-all-ports", High,
    "An ingress rule opens every port of a crown jewel.",
    what: "Fires for ingress rules without `ports` in a policy that selects a crown jewel.",
    why: "Admin and replication ports are exposed along with the service port.",
    fix: "List the ports the clients use.");
rule!(DNS_BLOCKED, "KS501", "dns-egress-blocked", Medium,
    "An egress-isolated workload cannot reach cluster DNS.",
    what: "Fires when a workload whose egress is isolated cannot reach the kube-dns pods (kube-system, `k8s-app=kube-dns`) on UDP 53 (high: resolution is broken) or on TCP 53 (low: large answers fail).",
    why: "The workload cannot resolve Service names; it breaks, and someone will \"fix\" it by deleting the policy.",
    fix: "Add an egress rule to the kube-dns pods on UDP and TCP 53.");
rule!(POLICY_SELECTS_NOTHING, "KS601", "policy-selects-nothing", Low,
    "A NetworkPolicy selects no workload.",
    what: "Fires for NetworkPolicies whose podSelector matches no pod in the input.",
    why: "The policy protects nothing; usually its selector has a typo or its workload was renamed.",
    fix: "Fix the podSelector, or delete the policy.");
rule!(PEER_MATCHES_NOTHING, "KS602", "peer-matches-nothing", Low,
    "A rule peer matches no pod and no address.",
    what: "Fires for `from`/`to` entries that match nothing in the input.",
    why: "The traffic the author meant to allow is blocked, or the selector has a typo.",
    fix: "Fix the selectors of the peer, or delete it.");
rule!(MESH_PRINCIPAL_IMPOSSIBLE, "KS701", "mesh-principal-impossible", High,
    "An AuthorizationPolicy names a principal that no service account can provide.",
    what: "Checks every `principals`, `notPrincipals`, `serviceAccounts` and `notServiceAccounts` entry and `source.principal` condition: an identity is `<trust-domain>/ns/<namespace>/sa/<service-account>`, the namespace a lowercase RFC 1123 label, the service account a lowercase RFC 1123 subdomain. Fires for entries that no such identity can match; patterns (`abc*`, `*abc`) are checked on their literal part.",
    why: "`cluster.local/ns/default/sa/1Tap` never matches: an ALLOW rule written for it denies the requests it was meant to admit, a DENY rule never fires, and a `not` form excludes nothing.",
    fix: "Write the identity of an existing ServiceAccount, in lowercase.");
rule!(MESH_PRINCIPAL_UNKNOWN_SERVICE_ACCOUNT, "KS702", "mesh-unknown-service-account", Low,
    "An AuthorizationPolicy names a service account that the input neither declares nor uses.",
    what: "For exact principals (and `serviceAccounts` entries), fires when their ServiceAccount is not among the input's ServiceAccounts and no pod of its namespace sets it as `serviceAccountName`. Only for namespaces where the input declares a ServiceAccount or sets a `serviceAccountName`; `default` always exists.",
    why: "Usually a typo or a renamed ServiceAccount: the rule matches no workload of the input.",
    fix: "Fix the name, or audit the policy together with the workloads that run as that ServiceAccount.");
rule!(MESH_NAMESPACE_NO_ALLOW_POLICY, "KS703", "mesh-namespace-no-allow-policy", Medium,
    "Meshed workloads are covered by no ALLOW AuthorizationPolicy.",
    what: "Per namespace, lists the workloads with a sidecar or in ambient mode that no ALLOW AuthorizationPolicy covers (selector-less ones of the namespace or of the root namespace, or a matching selector).",
    why: "Without an applicable ALLOW policy the proxy accepts every request that reaches it: the mesh is flat at L7, whatever the identities.",
    fix: "Apply an allow-nothing policy (`spec: {}`) to the namespace, then ALLOW the clients each workload needs.");
rule!(MESH_PRINCIPALS_PLAINTEXT, "KS704", "mesh-principals-plaintext", Medium,
    "A rule relies on peer identities where the covered workloads accept plaintext.",
    what: "For ALLOW and DENY rules matching on `principals`, `namespaces`, `serviceAccounts` (or their `not` forms, or `source.principal`/`source.namespace` conditions), works out the mutual TLS mode of each covered workload on the rule's ports (its container ports when the rule names none) from the PeerAuthentications (port level, workload, namespace, mesh; PERMISSIVE by default) and fires when it is not STRICT. High for DENY rules and for rules with only `not` forms.",
    why: "Identities exist only on mutual TLS. Plaintext requests carry none: they pass DENY rules on identities and satisfy `notPrincipals`, and ALLOW rules on identities reject clients without a proxy.",
    fix: "Require mutual TLS with a STRICT PeerAuthentication for the covered workloads.");
rule!(MESH_POLICY_NOT_ENFORCED, "KS705", "mesh-policy-not-enforced", High,
    "An AuthorizationPolicy covers only workloads without a proxy, so nothing enforces it.",
    what: "Fires for AuthorizationPolicies whose scope covers workloads, none of which runs a sidecar or is in ambient mode (by the labels of their Namespace objects, or their own opt-out; policies whose namespaces the input does not declare are left out, with a note). Policies attached with `targetRefs` get an info finding: gateways and waypoints are not modelled.",
    why: "Only a proxy enforces an AuthorizationPolicy: its author believes the workloads are protected and they are not.",
    fix: "Enable sidecar injection or ambient mode for the workloads, or protect them with NetworkPolicies.");
rule!(MINIMAL_FIX, "KS801", "minimal-fix", High,
    "The fewest connections whose removal cuts every entry-point to crown-jewel path.",
    what: "Computes a minimum cut of the workload graph between the entry points and the crown jewels and shows the NetworkPolicy change that removes exactly those connections. A connection the Admin tier accepts cannot be removed by a NetworkPolicy: the remediation names the Admin rule to change instead.",
    why: "It is the smallest change that stops an attacker from reaching your data.",
    fix: "Apply the policies shown, after checking that the removed connections are not needed.");

/// Every audit rule, in code order.
pub static AUDIT_RULES: &[&Rule] = &[
    &INGRESS_UNISOLATED,
    &EGRESS_UNISOLATED,
    &NAMESPACE_NO_DEFAULT_DENY_INGRESS,
    &NAMESPACE_NO_DEFAULT_DENY_EGRESS,
    &BLAST_RADIUS,
    &CROWN_JEWEL_PATH,
    &METADATA_EGRESS,
    &APISERVER_EGRESS,
    &KUBELET_EGRESS,
    &INTERNET_EGRESS,
    &INGRESS_FROM_ANYWHERE,
    &INGRESS_FROM_ALL_NAMESPACES,
    &CROWN_JEWEL_ALL_PORTS,
    &DNS_BLOCKED,
    &POLICY_SELECTS_NOTHING,
    &PEER_MATCHES_NOTHING,
    &MESH_PRINCIPAL_IMPOSSIBLE,
    &MESH_PRINCIPAL_UNKNOWN_SERVICE_ACCOUNT,
    &MESH_NAMESPACE_NO_ALLOW_POLICY,
    &MESH_PRINCIPALS_PLAINTEXT,
    &MESH_POLICY_NOT_ENFORCED,
    &MINIMAL_FIX,
];

/// Every rule of every command: the audit's, then lint's.
pub fn all_rules() -> Vec<&'static Rule> {
    let mut out: Vec<&'static Rule> = AUDIT_RULES.to_vec();
    out.extend(crate::lint::registry());
    out
}

/// The audit rule with this code or name.
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    find_in(AUDIT_RULES, code_or_name)
}

/// The rule with this code or name among `rules`.
pub fn find_in(rules: &[&'static Rule], code_or_name: &str) -> Option<&'static Rule> {
    rules
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_sorted_and_kebab_case() {
        let lint = crate::lint::registry();
        for pair in AUDIT_RULES.windows(2).chain(lint.windows(2)) {
            assert!(
                pair[0].code < pair[1].code,
                "{} before {}",
                pair[0].code,
                pair[1].code
            );
        }
        let all = all_rules();
        let mut names: Vec<_> = all.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for r in &all {
            assert!(
                r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.name
            );
            assert!(
                (r.code.starts_with("KS") || r.code.starts_with("KL")) && r.code.len() == 5,
                "{}",
                r.code
            );
        }
    }
}
