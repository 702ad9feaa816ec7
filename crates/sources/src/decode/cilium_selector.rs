//! Cilium's endpoint selectors, rewritten as the agent does before it evaluates them
//! (cilium/cilium `pkg/k8s/apis/cilium.io/utils/utils.go`, `ParseToCiliumRule` and
//! `getEndpointSelector`): source prefixes go, the pod-namespace and namespace-label
//! keys become namespace requirements, and namespaces are injected by scope.

use super::ctx::{Ctx, field};
use super::meta::{LABEL_VALUE_RULE, check_label_key, is_label_value};
use crate::assemble::NAMESPACE_NAME_LABEL;
use crate::tree::{Node, Value};
use kubeseg_model::{Operator, PodSet, Requirement, Selector};
use std::collections::BTreeMap;

/// The label Cilium gives every pod with its namespace's name.
const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The prefix under which Cilium gives every pod its namespace's labels.
const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
/// Keys kubeseg cannot evaluate yet: the pod's service account and its cluster.
const NOT_MODELLED: &[&str] = &[
    "io.cilium.k8s.policy.serviceaccount",
    "io.cilium.k8s.policy.cluster",
];

/// What a requirement constrains once Cilium's keys are understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A pod label.
    Pod,
    /// The pod's namespace name (`io.kubernetes.pod.namespace`).
    PodNamespace,
    /// A label of the pod's namespace (`io.cilium.k8s.namespace.labels.K`).
    NamespaceLabel,
}

/// One requirement of a Cilium selector, its source prefix removed.
#[derive(Clone, Debug)]
struct Req {
    target: Target,
    /// The key on the object it constrains (a pod or namespace label key).
    key: String,
    /// The key as written, without its source prefix (what a node selector matches).
    written: String,
    operator: Operator,
    values: Vec<String>,
    /// Whether it came from `matchLabels` (one value, `In`).
    match_label: bool,
    /// Whether the key had the `k8s:` prefix: the agent keys such a `matchLabels`
    /// entry like the namespace match it forces on a CiliumNetworkPolicy's subject,
    /// which then overwrites it.
    k8s: bool,
    line: u32,
    column: u32,
}

/// A selector as Cilium reads it.
#[derive(Clone, Debug, Default)]
pub(super) struct CiliumSelector {
    reqs: Vec<Req>,
}

/// Where a policy applies: a CiliumNetworkPolicy's namespace, or cluster-wide.
#[derive(Clone, Copy, Debug)]
pub(super) enum Scope<'a> {
    /// A CiliumNetworkPolicy in this namespace.
    Namespaced(&'a str),
    /// A CiliumClusterwideNetworkPolicy.
    Cluster,
}

/// Reads an endpoint or node selector; `None` when it has errors (they are reported).
pub(super) fn read(ctx: &mut Ctx, node: &Node, what: &str) -> Option<CiliumSelector> {
    let entries = ctx.map(node, what)?;
    ctx.check_fields(entries, &["matchLabels", "matchExpressions"], what);
    let errors_before = super::policy::error_count(ctx);
    let mut reqs = Vec::new();
    if let Some(ml) = field(entries, "matchLabels").filter(|n| !n.is_null()) {
        for (k, v) in ctx
            .map(ml, &format!("{what}.matchLabels"))
            .unwrap_or_default()
        {
            let value = match &v.value {
                Value::Str(s) => s.clone(),
                Value::Null => String::new(),
                _ => {
                    ctx.error(
                        v,
                        "invalid-type",
                        format!(
                            "label `{}` must be a string, found {}{}",
                            k.name,
                            v.type_name(),
                            super::ctx::quote_hint(v)
                        ),
                    );
                    continue;
                }
            };
            if !is_label_value(&value) {
                ctx.error(
                    v,
                    "invalid-label",
                    format!("invalid label value `{value}`: {LABEL_VALUE_RULE}"),
                );
            }
            if let Some((target, key, written, k8s)) = classify(ctx, &k.name, k.line, k.column) {
                reqs.push(Req {
                    target,
                    key,
                    written,
                    operator: Operator::In,
                    values: vec![value],
                    match_label: true,
                    k8s,
                    line: k.line,
                    column: k.column,
                });
            }
        }
    }
    if let Some(me) = field(entries, "matchExpressions").filter(|n| !n.is_null()) {
        for expr in ctx
            .seq(me, &format!("{what}.matchExpressions"))
            .unwrap_or_default()
        {
            if let Some(r) = expression(ctx, expr) {
                reqs.push(r);
            }
        }
    }
    (super::policy::error_count(ctx) == errors_before).then_some(CiliumSelector { reqs })
}

/// One `matchExpressions` entry.
fn expression(ctx: &mut Ctx, expr: &Node) -> Option<Req> {
    let what = "a matchExpressions entry";
    let e = ctx.map(expr, what)?;
    ctx.check_fields(e, &["key", "operator", "values"], what);
    let Some(key_node) = field(e, "key") else {
        ctx.error(
            expr,
            "invalid-selector",
            "matchExpressions entry without `key`",
        );
        return None;
    };
    let key = ctx.str(key_node, "key")?;
    let Some(op_node) = field(e, "operator") else {
        ctx.error(
            expr,
            "invalid-selector",
            "matchExpressions entry without `operator`",
        );
        return None;
    };
    let op = ctx.str(op_node, "operator")?;
    let Some(operator) = Operator::parse(op) else {
        ctx.error(
            op_node,
            "invalid-selector",
            format!("unknown selector operator `{op}`; expected In, NotIn, Exists or DoesNotExist"),
        );
        return None;
    };
    let mut values = Vec::new();
    if let Some(v) = field(e, "values") {
        for item in ctx.seq(v, "values").unwrap_or_default() {
            match ctx.str(item, "a selector value") {
                Some(s) if !is_label_value(s) => ctx.error(
                    item,
                    "invalid-label",
                    format!("invalid label value `{s}` in matchExpressions: {LABEL_VALUE_RULE}"),
                ),
                Some(s) => values.push(s.to_string()),
                None => {}
            }
        }
    }
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            ctx.error(
                expr,
                "invalid-selector",
                format!("operator {operator:?} needs at least one value"),
            );
            return None;
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            ctx.error(
                expr,
                "invalid-selector",
                format!("operator {operator:?} takes no values"),
            );
            return None;
        }
        _ => {}
    }
    values.sort();
    values.dedup();
    let (target, key, written, k8s) = classify(ctx, key, key_node.line, key_node.column)?;
    Some(Req {
        target,
        key,
        written,
        operator,
        values,
        match_label: false,
        k8s,
        line: key_node.line,
        column: key_node.column,
    })
}

/// What a selector key constrains: (target, key on the object, key as written without
/// its source, whether the source was `k8s:`). Cilium matches an unprefixed key against
/// every source (`any:`); pods' labels have the `k8s:` source, so both reach pod labels
/// (`pkg/labels`, `GetExtendedKeyFrom`). Other sources never match a pod's label.
fn classify(
    ctx: &mut Ctx,
    key: &str,
    line: u32,
    column: u32,
) -> Option<(Target, String, String, bool)> {
    let (source, rest) = match key.split_once(':') {
        Some((s, r)) => (Some(s), r),
        None => (None, key),
    };
    if let Some(s) = source.filter(|s| !matches!(*s, "k8s" | "any")) {
        ctx.error_at(line, column, "unsupported-selector", format!("selector key `{key}` has the label source `{s}:`, which kubeseg does not model: only `k8s:` and `any:` (or no prefix) select pod labels"));
        return None;
    }
    let k8s = source == Some("k8s");
    let (target, object_key) = if rest == POD_NAMESPACE {
        (Target::PodNamespace, NAMESPACE_NAME_LABEL.to_string())
    } else if let Some(k) = rest.strip_prefix(NAMESPACE_LABELS) {
        (Target::NamespaceLabel, k.to_string())
    } else if NOT_MODELLED.contains(&rest) {
        ctx.error_at(line, column, "unsupported-selector", format!("selector key `{rest}` is not modelled yet: kubeseg cannot tell which pods it selects"));
        return None;
    } else {
        (Target::Pod, rest.to_string())
    };
    if let Err(why) = check_label_key(&object_key) {
        ctx.error_at(
            line,
            column,
            "invalid-label",
            format!("invalid label key `{object_key}`: {why}"),
        );
        return None;
    }
    Some((target, object_key, rest.to_string(), k8s))
}

impl CiliumSelector {
    /// Whether it constrains the namespace: by name or by a namespace label, which
    /// keeps Cilium from injecting the policy's namespace into a peer.
    fn names_namespace(&self) -> bool {
        self.reqs.iter().any(|r| r.target != Target::Pod)
    }

    /// The pods a `fromEndpoints`/`toEndpoints` entry selects. A CiliumNetworkPolicy's
    /// peer that names no namespace is confined to the policy's namespace; a
    /// CiliumClusterwideNetworkPolicy's gets `Exists io.kubernetes.pod.namespace`,
    /// which every pod has: all namespaces, pods only (`getEndpointSelector`).
    pub(super) fn peer(&self, scope: Scope) -> PodSet {
        let forced = match scope {
            Scope::Namespaced(ns) if !self.names_namespace() => Some(ns),
            _ => None,
        };
        self.pod_set(forced, false)
    }

    /// The pods a policy's `endpointSelector` applies to. A CiliumNetworkPolicy's
    /// subject always gets the policy's namespace (`ParseToCiliumRule`, `AddMatch`): it
    /// overwrites a `k8s:`-keyed namespace match and is added to any other, with a
    /// warning when the written match could name another namespace.
    pub(super) fn subject(&self, ctx: &mut Ctx, scope: Scope) -> PodSet {
        let Scope::Namespaced(ns) = scope else {
            return self.pod_set(None, false);
        };
        for r in self
            .reqs
            .iter()
            .filter(|r| r.target == Target::PodNamespace)
        {
            let same = r.match_label && r.values == [ns];
            if same {
                continue;
            }
            let effect = if r.match_label && r.k8s {
                format!("Cilium replaces this namespace match with `{ns}`")
            } else {
                format!("Cilium adds a match on `{ns}` and both must hold")
            };
            ctx.warning_at(r.line, r.column, "cilium-namespace", format!("a CiliumNetworkPolicy's endpointSelector applies only in the policy's namespace `{ns}`: {effect}"));
        }
        self.pod_set(Some(ns), true)
    }

    /// The labels a `nodeSelector` or `fromNodes`/`toNodes` entry matches on a node.
    pub(super) fn nodes(&self) -> Selector {
        let reqs: Vec<(String, &Req)> = self.reqs.iter().map(|r| (r.written.clone(), r)).collect();
        to_selector(reqs.iter().map(|(k, r)| (k.as_str(), *r)), None)
    }

    /// The pod set, with `forced` as the namespace name when given; `overwrite` drops a
    /// `k8s:`-keyed namespace-name match first.
    fn pod_set(&self, forced: Option<&str>, overwrite: bool) -> PodSet {
        let pods = to_selector(
            self.reqs
                .iter()
                .filter(|r| r.target == Target::Pod)
                .map(|r| (r.key.as_str(), r)),
            None,
        );
        let namespaces = to_selector(
            self.reqs
                .iter()
                .filter(|r| r.target != Target::Pod)
                .filter(|r| {
                    !(overwrite && r.target == Target::PodNamespace && r.match_label && r.k8s)
                })
                .map(|r| (r.key.as_str(), r)),
            forced,
        );
        PodSet { namespaces, pods }
    }
}

/// A selector of requirements; `forced` is a namespace name match placed first. Two
/// label matches on one key (`k8s:` and unprefixed) must both hold: the second
/// becomes an `In` requirement.
fn to_selector<'r>(
    reqs: impl Iterator<Item = (&'r str, &'r Req)>,
    forced: Option<&str>,
) -> Selector {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let mut expressions = Vec::new();
    if let Some(ns) = forced {
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
    }
    for (key, r) in reqs {
        if r.match_label {
            let value = r.values[0].clone();
            match labels.get(key) {
                None => {
                    labels.insert(key.to_string(), value);
                }
                Some(v) if *v == value => {}
                Some(_) => expressions.push(Requirement {
                    key: key.to_string(),
                    operator: Operator::In,
                    values: vec![value],
                }),
            }
        } else {
            expressions.push(Requirement {
                key: key.to_string(),
                operator: r.operator,
                values: r.values.clone(),
            });
        }
    }
    Selector {
        match_labels: labels.into_iter().collect(),
        match_expressions: expressions,
    }
}
