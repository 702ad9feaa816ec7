//! The lint rules, one per file. Each file holds the rule's documentation (its
//! `RULE`) and its `check`.

mod and_or_peer;
mod authz_allow_nothing;
mod authz_http_on_tcp;
mod authz_namespace_without_allow;
mod authz_policy_not_enforced;
mod authz_principal_impossible;
mod authz_principals_without_strict_mtls;
mod authz_selector_matches_nothing;
mod authz_unknown_service_account;
mod calico_deny_after_kubernetes;
mod calico_selector_matches_nothing;
mod cilium_deny_isolates;
mod cilium_fqdn_without_dns;
mod cilium_subject_matches_nothing;
mod duplicate_object;
mod duplicate_policy;
mod duplicate_port_name;
mod egress_without_dns;
mod ignored_rules;
mod invalid_manifest;
mod ipblock_overlaps_cluster;
mod manifest_warning;
mod misleading_name;
mod named_port_undefined;
mod namespace_not_declared;
mod selector_matches_nothing;
mod shadowed_rule;
mod tier_equal_priority;
mod tier_pass_default_allow;
mod tier_shadowed_rule;
mod tier_subject_matches_nothing;
mod unknown_field;
mod wrong_kind;

use super::Cx;
use crate::finding::Rule;

/// A rule and its check.
pub type Entry = (&'static Rule, fn(&mut Cx));

/// Every rule, in code order.
pub static ALL: &[Entry] = &[
    (&invalid_manifest::RULE, invalid_manifest::check),
    (&unknown_field::RULE, unknown_field::check),
    (&wrong_kind::RULE, wrong_kind::check),
    (&manifest_warning::RULE, manifest_warning::check),
    (&duplicate_object::RULE, duplicate_object::check),
    (&misleading_name::RULE, misleading_name::check),
    (&ignored_rules::RULE, ignored_rules::check),
    (&and_or_peer::RULE, and_or_peer::check),
    (&egress_without_dns::RULE, egress_without_dns::check),
    (&named_port_undefined::RULE, named_port_undefined::check),
    (&duplicate_port_name::RULE, duplicate_port_name::check),
    (
        &selector_matches_nothing::RULE,
        selector_matches_nothing::check,
    ),
    (&namespace_not_declared::RULE, namespace_not_declared::check),
    (
        &ipblock_overlaps_cluster::RULE,
        ipblock_overlaps_cluster::check,
    ),
    (&shadowed_rule::RULE, shadowed_rule::check),
    (&duplicate_policy::RULE, duplicate_policy::check),
    (&tier_shadowed_rule::RULE, tier_shadowed_rule::check),
    (
        &tier_pass_default_allow::RULE,
        tier_pass_default_allow::check,
    ),
    (&tier_equal_priority::RULE, tier_equal_priority::check),
    (
        &tier_subject_matches_nothing::RULE,
        tier_subject_matches_nothing::check,
    ),
    (
        &authz_selector_matches_nothing::RULE,
        authz_selector_matches_nothing::check,
    ),
    (&authz_http_on_tcp::RULE, authz_http_on_tcp::check),
    (
        &authz_principals_without_strict_mtls::RULE,
        authz_principals_without_strict_mtls::check,
    ),
    (&authz_allow_nothing::RULE, authz_allow_nothing::check),
    (
        &authz_principal_impossible::RULE,
        authz_principal_impossible::check,
    ),
    (
        &authz_unknown_service_account::RULE,
        authz_unknown_service_account::check,
    ),
    (
        &authz_namespace_without_allow::RULE,
        authz_namespace_without_allow::check,
    ),
    (
        &authz_policy_not_enforced::RULE,
        authz_policy_not_enforced::check,
    ),
    (&cilium_deny_isolates::RULE, cilium_deny_isolates::check),
    (
        &cilium_fqdn_without_dns::RULE,
        cilium_fqdn_without_dns::check,
    ),
    (
        &cilium_subject_matches_nothing::RULE,
        cilium_subject_matches_nothing::check,
    ),
    (
        &calico_deny_after_kubernetes::RULE,
        calico_deny_after_kubernetes::check,
    ),
    (
        &calico_selector_matches_nothing::RULE,
        calico_selector_matches_nothing::check,
    ),
];

/// The lint rule that reports a loader diagnostic.
fn owner(d: &kubeseg_model::Diagnostic) -> &'static str {
    match d.code {
        "unknown-field" | "duplicate-field" | "invalid-type" => unknown_field::RULE.code,
        "wrong-kind" => wrong_kind::RULE.code,
        "duplicate-object" => duplicate_object::RULE.code,
        _ if d.severity == kubeseg_model::Severity::Error => invalid_manifest::RULE.code,
        _ => manifest_warning::RULE.code,
    }
}

/// Turns the loader diagnostics that `rule` owns into findings.
pub(super) fn from_diagnostics(cx: &mut Cx, rule: &'static Rule) {
    for d in cx.diagnostics.iter().filter(|d| owner(d) == rule.code) {
        let mut f =
            crate::finding::Finding::new(rule, d.message.clone(), d.location.clone(), vec![]);
        f.evidence.push(crate::finding::Evidence::at(
            d.location.clone(),
            format!("loader check `{}`", d.code),
        ));
        if d.code == "unmodelled-policy" || d.severity == kubeseg_model::Severity::Info {
            f.severity = crate::finding::Severity::Info;
        }
        cx.findings.push(f);
    }
}

/// A tiered rule as titles name it: ``ingress[1] (`name`, Deny)``.
fn tier_rule(p: &kubeseg_model::ClusterPolicy, egress: bool, rule: usize) -> String {
    let dir = if egress { "egress" } else { "ingress" };
    let r = if egress {
        &p.egress[rule]
    } else {
        &p.ingress[rule]
    };
    match &r.name {
        Some(name) => format!("{dir}[{rule}] (`{name}`, {})", r.action.as_str()),
        None => format!("{dir}[{rule}] ({})", r.action.as_str()),
    }
}

/// Where `at` is, for a title about something at `from`: `line N` in the same file,
/// `file:N` in another one.
fn place(at: Option<&kubeseg_model::Location>, from: Option<&kubeseg_model::Location>) -> String {
    match (at, from) {
        (Some(a), Some(f)) if a.file == f.file => format!("line {}", a.line),
        (Some(a), _) => format!("{}:{}", a.file, a.line),
        (None, _) => "an unknown line".into(),
    }
}

/// A tiered policy's subject: `namespaces S`, or `namespaces S, pods P`.
fn subject(p: &kubeseg_model::ClusterPolicy) -> String {
    if p.subject.pods.is_empty() {
        format!("namespaces {}", p.subject.namespaces)
    } else {
        format!(
            "namespaces {}, pods {}",
            p.subject.namespaces, p.subject.pods
        )
    }
}
