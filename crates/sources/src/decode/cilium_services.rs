//! `toServices` entries of a Cilium egress rule, as the CRD schema reads them
//! (`Service` in pkg/policy/api/service.go): `k8sService` with `serviceName` and
//! `namespace`, or `k8sServiceSelector` with a required `selector` and `namespace`.
//! Which Services they match is resolved once the input is assembled
//! (`crate::cilium_lowering`).

use super::ctx::Ctx;
use super::meta::selector;
use super::tier::present;
use crate::tree::Node;
use kubeseg_model::{CiliumService, CiliumServiceMatch};

/// The entries of a `toServices` list; `None` when one has errors (they are reported).
pub(super) fn services(ctx: &mut Ctx, node: &Node) -> Option<Vec<CiliumService>> {
    let mut out = Vec::new();
    let mut ok = true;
    for item in ctx.seq(node, "toServices").unwrap_or_default() {
        match entry(ctx, item) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One entry. The schema has no `oneOf` here: both members may be written, and the
/// agent then uses `k8sServiceSelector` alone (`processRule` in
/// pkg/policy/k8s/service.go tests it first), which is warned.
fn entry(ctx: &mut Ctx, item: &Node) -> Option<CiliumService> {
    let what = "a toServices entry";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, &["k8sService", "k8sServiceSelector"], what);
    let by_name = present(entries, "k8sService");
    let by_labels = present(entries, "k8sServiceSelector");
    let location = Some(ctx.at(item));
    let (namespace, matches) = match (by_labels, by_name) {
        (Some(sel), other) => {
            if let Some(n) = other {
                ctx.warning_at(n.line, n.column, "cilium-service", "this entry has both k8sServiceSelector and k8sService: Cilium uses the selector and ignores k8sService");
            }
            labelled(ctx, sel)?
        }
        (None, Some(n)) => named(ctx, n)?,
        (None, None) => {
            ctx.warning_at(item.line, item.column, "cilium-service", "this toServices entry has neither k8sService nor k8sServiceSelector: it matches no Service");
            (String::new(), CiliumServiceMatch::Nothing)
        }
    };
    Some(CiliumService {
        location,
        namespace,
        matches,
    })
}

/// `k8sService` (`K8sServiceNamespace`: both fields optional strings).
fn named(ctx: &mut Ctx, node: &Node) -> Option<(String, CiliumServiceMatch)> {
    let what = "k8sService";
    let entries = ctx.map(node, what)?;
    ctx.check_fields(entries, &["serviceName", "namespace"], what);
    let namespace = namespace(ctx, entries)?;
    let name = match present(entries, "serviceName") {
        Some(n) => ctx.str(n, "k8sService.serviceName")?.to_string(),
        None => String::new(),
    };
    if name.is_empty() {
        ctx.warning_at(
            node.line,
            node.column,
            "cilium-service",
            "k8sService without a serviceName matches no Service (every Service has a name)",
        );
        return Some((namespace, CiliumServiceMatch::Nothing));
    }
    Some((namespace, CiliumServiceMatch::Name(name)))
}

/// `k8sServiceSelector` (`K8sServiceSelectorNamespace`: `selector` required). The
/// selector is a plain Kubernetes label selector on the Service's own labels: a
/// `ServiceSelector` is not an `EndpointSelector`, so no label source is added to its
/// keys (`serviceSelectorMatches` matches it against `labels.Set(svc.Labels)`).
fn labelled(ctx: &mut Ctx, node: &Node) -> Option<(String, CiliumServiceMatch)> {
    let what = "k8sServiceSelector";
    let entries = ctx.map(node, what)?;
    ctx.check_fields(entries, &["selector", "namespace"], what);
    let namespace = namespace(ctx, entries)?;
    let Some(sel) = present(entries, "selector") else {
        ctx.error(
            node,
            "missing-field",
            "k8sServiceSelector.selector is required (the CRD schema requires it)",
        );
        return None;
    };
    let sel = selector(ctx, sel, "k8sServiceSelector.selector")?;
    Some((namespace, CiliumServiceMatch::Labels(sel)))
}

/// `namespace` as written (empty when absent).
fn namespace(ctx: &mut Ctx, entries: &[(crate::tree::Key, Node)]) -> Option<String> {
    match present(entries, "namespace") {
        Some(n) => ctx.str(n, "namespace").map(str::to_string),
        None => Some(String::new()),
    }
}
