//! Calico's `projectcalico.org/v3` NetworkPolicy, GlobalNetworkPolicy and their staged
//! forms, validated as the API server does (projectcalico/calico
//! `api/pkg/apis/projectcalico/v3/*.go` schema and CEL rules,
//! `libcalico-go/lib/validator/v3/validator.go`) and rewritten as Calico does before it
//! evaluates them (`api/pkg/defaults/networkpolicy.go`,
//! `libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go`).

use super::calico_rules::rules;
pub(super) use super::calico_values::{number, selector};
use super::ctx::Ctx;
use super::meta::Meta;
use super::policy::error_count;
use super::tier::{describe, present};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{CalicoNamespaces, CalicoPolicy, CalicoSelector, CalicoSubject};

/// The apiVersion read here.
pub const API_VERSION: &str = "projectcalico.org/v3";

/// The policy kinds read here.
pub const POLICY_KINDS: &[&str] = &[
    "NetworkPolicy",
    "GlobalNetworkPolicy",
    "StagedNetworkPolicy",
    "StagedGlobalNetworkPolicy",
];

/// Calico kinds that change connectivity but are not read, with the reason.
pub const UNMODELLED: &[(&str, &str)] = &[
    (
        "HostEndpoint",
        "host endpoints are not modelled: kubeseg answers for pods",
    ),
    (
        "Profile",
        "profiles are not modelled: kubeseg assumes the allow-all profile Calico gives every pod's namespace",
    ),
    (
        "StagedKubernetesNetworkPolicy",
        "staged Kubernetes NetworkPolicies are not read (a staged policy is never enforced)",
    ),
];

const NAMESPACED_FIELDS: &[&str] = &[
    "tier",
    "order",
    "selector",
    "types",
    "ingress",
    "egress",
    "serviceAccountSelector",
    "performanceHints",
];
/// The fields a global policy has besides the namespaced ones.
const GLOBAL_ONLY: &[&str] = &[
    "namespaceSelector",
    "doNotTrack",
    "preDNAT",
    "applyOnForward",
];

/// The policy being read: what rule decoding needs to know about it.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    /// The policy's namespace; empty for a global policy.
    pub namespace: &'a str,
}

impl Scope<'_> {
    pub fn global(self) -> bool {
        self.namespace.is_empty()
    }
}

/// Decodes a Calico policy; `None` when it has errors (they are reported): the API
/// server refuses the whole object then.
pub fn calico_policy(ctx: &mut Ctx, obj: &Node, meta: Meta, kind: &str) -> Option<CalicoPolicy> {
    let errors_before = error_count(ctx);
    let global = kind.contains("Global");
    let staged = kind.starts_with("Staged");
    let namespace = if global {
        String::new()
    } else {
        meta.namespace.unwrap_or_else(|| "default".to_string())
    };
    let scope = Scope {
        namespace: &namespace,
    };
    policy_name(ctx, obj, &meta.name, global);
    let Some(spec_node) = obj.get("spec") else {
        ctx.error(
            obj,
            "missing-spec",
            format!("{kind} has no `spec`; the API server requires one"),
        );
        return None;
    };
    let spec = ctx.map(spec_node, &format!("{kind} spec"))?;
    let mut known: Vec<&str> = NAMESPACED_FIELDS.to_vec();
    if global {
        known.extend(GLOBAL_ONLY);
    }
    if staged {
        known.push("stagedAction");
    }
    ctx.check_fields(spec, &known, &format!("{kind} spec"));
    let tier = tier(ctx, spec);
    tier_prefix(ctx, obj, &meta.name, &tier);
    let order = present(spec, "order").and_then(|n| number(ctx, n, "spec.order"));
    let subject = match present(spec, "selector") {
        Some(n) => selector(ctx, n, "spec.selector", false),
        None => Some(CalicoSelector::All),
    };
    let namespaces = if global {
        match present(spec, "namespaceSelector") {
            Some(n) => selector(ctx, n, "spec.namespaceSelector", false).map(|s| match &n.value {
                Value::Str(text) if text.is_empty() => CalicoNamespaces::Any,
                _ => CalicoNamespaces::Selected(s),
            }),
            None => Some(CalicoNamespaces::Any),
        }
    } else {
        Some(CalicoNamespaces::Own(namespace.clone()))
    };
    // `prefixAndAppendSelector`: the policy selects the endpoints its selector matches
    // whose service account's labels (as `pcsa.` labels) match this one.
    let accounts = match present(spec, "serviceAccountSelector")
        .filter(|n| !matches!(&n.value, Value::Str(s) if s.is_empty()))
    {
        Some(n) => selector(ctx, n, "spec.serviceAccountSelector", false)
            .map(|s| Some(s.with_key_prefix(kubeseg_model::calico::SERVICE_ACCOUNT_PREFIX))),
        None => Some(None),
    };
    let subject = match (subject, accounts) {
        (Some(s), Some(Some(a))) => Some(s.and(a)),
        (s, Some(None)) => s,
        (None, _) | (_, None) => None,
    };
    // `applyOnForward` only widens a policy to traffic forwarded through host
    // endpoints: on pods it changes nothing.
    if let Some(n) = present(spec, "applyOnForward").filter(|_| global) {
        flag(ctx, n, "applyOnForward");
    }
    for key in ["doNotTrack", "preDNAT"] {
        if let Some(n) = present(spec, key).filter(|_| global)
            && flag(ctx, n, key)
        {
            ctx.error(n, "unsupported-field", format!("spec.{key} is not modelled: it applies to host endpoints, and kubeseg answers for pods"));
        }
    }
    if let Some(n) = present(spec, "performanceHints") {
        // Hints never change what the policy enforces (policy_common.go).
        enum_list(
            ctx,
            n,
            "spec.performanceHints",
            &["AssumeNeededOnEveryNode"],
        );
    }
    let ingress = rules(ctx, spec, true, scope);
    let egress = rules(ctx, spec, false, scope);
    let types = match present(spec, "types") {
        Some(n) => types(ctx, n),
        // `defaultPolicyTypesField`: no egress rules → Ingress (even with no rules at
        // all); egress rules only → Egress; both → both.
        None => Some(
            match (has_items(spec, "ingress"), has_items(spec, "egress")) {
                (_, false) => (true, false),
                (false, true) => (false, true),
                (true, true) => (true, true),
            },
        ),
    };
    if staged {
        staged_action(ctx, spec);
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    let (applies_ingress, applies_egress) = types?;
    Some(CalicoPolicy {
        kind: kind.to_string(),
        namespace,
        name: meta.name,
        location: Some(ctx.at(obj)),
        tier,
        order,
        subject: CalicoSubject {
            selector: subject?,
            namespaces: namespaces?,
        },
        applies_ingress,
        applies_egress,
        ingress: ingress?,
        egress: egress?,
        staged,
    })
}

/// Whether the list under `key` has entries (`len(rules) == 0` in Go).
fn has_items(spec: &[(Key, Node)], key: &str) -> bool {
    present(spec, key).is_some_and(|n| matches!(&n.value, Value::Seq(s) if !s.is_empty()))
}

/// The name rules of `validateNetworkPolicy` and `validateGlobalNetworkPolicy`: a DNS
/// label with at most one dot (namespaced policies may also be `knp.default.*`).
fn policy_name(ctx: &mut Ctx, obj: &Node, name: &str, global: bool) {
    let Some(n) = obj.get("metadata").and_then(|m| m.get("name")) else {
        return;
    };
    if name.is_empty() || !super::meta::is_dns1123_subdomain(name) {
        return; // `metadata` reported it.
    }
    let label = super::meta::is_dns1123_label;
    let ok = match name.split_once('.') {
        None => true,
        Some((a, b)) => {
            (label(a) && label(b))
                || (!global
                    && ["knp.default.", "ossg.default."]
                        .iter()
                        .any(|p| name.starts_with(p)))
        }
    };
    if !ok {
        ctx.error(n, "invalid-name", format!("`{name}` is not a valid Calico policy name: name must consist of lower case alphanumeric characters or '-' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?), with at most one '.'"));
    }
}

/// `spec.tier` (`default` when absent or empty).
fn tier(ctx: &mut Ctx, spec: &[(Key, Node)]) -> String {
    let Some(n) = present(spec, "tier") else {
        return "default".to_string();
    };
    match ctx.str(n, "spec.tier") {
        Some("") | None => "default".to_string(),
        Some(t) => {
            if !super::meta::is_dns1123_subdomain(t) {
                ctx.error(n, "invalid-name", format!("`{t}` is not a valid tier name"));
            }
            t.to_string()
        }
    }
}

/// Calico before v3.32 required a policy outside the default tier to be named
/// `<tier>.<name>`, and one in it to have no other dot (`names.ValidateTieredPolicyName`);
/// v3.32 dropped the rule (it is deprecated and checks only that the name is not
/// empty), so breaking it is a warning.
fn tier_prefix(ctx: &mut Ctx, obj: &Node, name: &str, tier: &str) {
    let formatted = ["knp.default.", "ossg."]
        .iter()
        .any(|p| name.starts_with(p));
    let ok = (tier == "default" && !name.contains('.')) || name.starts_with(&format!("{tier}."));
    if formatted || ok || name.is_empty() {
        return;
    }
    if let Some(n) = obj.get("metadata").and_then(|m| m.get("name")) {
        ctx.warning_at(n.line, n.column, "calico-policy-name", format!("Calico before v3.32 rejects this policy (\"Incorrectly formatted policy name {name}\"): a policy in tier `{tier}` must be named `{tier}.<name>`; v3.32 and later accept it"));
    }
}

/// A boolean.
fn flag(ctx: &mut Ctx, node: &Node, what: &str) -> bool {
    match node.value {
        Value::Bool(b) => b,
        _ => {
            ctx.error(
                node,
                "invalid-type",
                format!(
                    "spec.{what} must be true or false, found {}",
                    describe(node)
                ),
            );
            false
        }
    }
}

/// A list of unique strings from `allowed`.
fn enum_list<'n>(ctx: &mut Ctx, node: &'n Node, what: &str, allowed: &[&str]) -> Vec<&'n str> {
    let mut out: Vec<&str> = Vec::new();
    for item in ctx.seq(node, what).unwrap_or_default() {
        match item.as_str() {
            Some(s) if allowed.contains(&s) => {
                if out.contains(&s) {
                    ctx.error(
                        item,
                        "duplicate-value",
                        format!("'{s}' is specified more than once in {what}"),
                    );
                }
                out.push(s);
            }
            _ => ctx.error(
                item,
                "invalid-value",
                format!(
                    "Unsupported value: {}: {what} entries must be one of {}",
                    describe(item),
                    allowed.join(", ")
                ),
            ),
        }
    }
    out
}

/// `spec.types`: one or two of Ingress and Egress, none repeated.
fn types(ctx: &mut Ctx, node: &Node) -> Option<(bool, bool)> {
    let errors = error_count(ctx);
    let items = ctx.seq(node, "spec.types")?;
    if items.is_empty() || items.len() > 2 {
        ctx.error(
            node,
            "invalid-policy-type",
            format!(
                "spec.types has {} entries; the CRD requires one or two (Ingress, Egress)",
                items.len()
            ),
        );
    }
    let list = enum_list(ctx, node, "spec.types", &["Ingress", "Egress"]);
    (error_count(ctx) == errors).then(|| (list.contains(&"Ingress"), list.contains(&"Egress")))
}

/// `stagedAction`: Set (the default), Delete, Learn or Ignore; a Delete holds nothing
/// but its tier (`validateStagedNetworkPolicy`).
fn staged_action(ctx: &mut Ctx, spec: &[(Key, Node)]) {
    let Some(n) = present(spec, "stagedAction") else {
        return;
    };
    let action = ctx.str(n, "spec.stagedAction");
    match action {
        Some("Set" | "Learn" | "Ignore") | None => {}
        Some("Delete") => {
            let extra = spec
                .iter()
                .any(|(k, v)| !v.is_null() && !matches!(k.name.as_str(), "tier" | "stagedAction"));
            if extra {
                ctx.error(n, "invalid-value", "Spec fields, except Tier, should all be zero-value if stagedAction is Delete");
            }
        }
        Some(other) => ctx.error(n, "invalid-value", format!("Unsupported value: \"{other}\": spec.stagedAction must be Set, Delete, Learn or Ignore")),
    }
}
