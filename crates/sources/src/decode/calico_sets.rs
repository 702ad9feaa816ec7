//! Calico's Tier, NetworkSet and GlobalNetworkSet (`projectcalico.org/v3`), checked as
//! projectcalico/calico `api/pkg/apis/projectcalico/v3/{tier,networkset,globalnetworkset}.go`
//! and `libcalico-go/lib/validator/v3/validator.go` (`validateTier`,
//! `validateNetworkSet`) check them.

use super::calico::number;
use super::ctx::Ctx;
use super::meta::{Meta, is_dns1123_label};
use super::policy::error_count;
use super::tier::{describe, present};
use crate::tree::{Key, Node};
use kubeseg_model::{CalicoAction, CalicoNetworkSet, CalicoTier, Cidr, IpSet};

/// The tiers Calico creates itself, with the order and default action their CEL rules
/// fix (`tier.go`).
const FIXED_TIERS: &[(&str, f64, CalicoAction)] = &[
    ("kube-admin", 1_000.0, CalicoAction::Pass),
    ("default", 1_000_000.0, CalicoAction::Deny),
    ("kube-baseline", 10_000_000.0, CalicoAction::Pass),
];

/// Decodes a Tier; `None` when it has errors (they are reported).
pub fn tier(ctx: &mut Ctx, obj: &Node, meta: Meta) -> Option<CalicoTier> {
    let errors_before = error_count(ctx);
    let name_node = obj.get("metadata").and_then(|m| m.get("name"));
    // Tier names appear inside other names, so they are DNS labels: no dots.
    if let Some(n) = name_node
        && !meta.name.is_empty()
        && !is_dns1123_label(&meta.name)
    {
        ctx.error(n, "invalid-name", format!("`{}` is not a valid tier name: name must consist of lower case alphanumeric characters or '-' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?), at most 63 characters", meta.name));
    }
    let spec = spec(ctx, obj, "Tier")?;
    ctx.check_fields(spec, &["order", "defaultAction"], "Tier spec");
    let order = present(spec, "order").and_then(|n| number(ctx, n, "spec.order"));
    // `+kubebuilder:default=Deny`, then `oneof=Deny Pass`.
    let default_action = match present(spec, "defaultAction") {
        None => Some(CalicoAction::Deny),
        Some(n) => match n.as_str() {
            Some("Deny") => Some(CalicoAction::Deny),
            Some("Pass") => Some(CalicoAction::Pass),
            _ => {
                ctx.error(
                    n,
                    "invalid-action",
                    format!(
                        "Unsupported value: {}: spec.defaultAction must be Deny or Pass",
                        describe(n)
                    ),
                );
                None
            }
        },
    };
    // Calico's own tiers may be declared (an export holds them) but not changed.
    let fixed = FIXED_TIERS.iter().find(|(n, ..)| *n == meta.name);
    if let (Some(&(name, want_order, want_action)), Some(action)) = (fixed, default_action) {
        let at = present(spec, "order").or(obj.get("spec")).unwrap_or(obj);
        if order != Some(want_order) {
            ctx.error(
                at,
                "invalid-tier",
                format!("{name} tier order must be {want_order}"),
            );
        }
        if action != want_action {
            let at = present(spec, "defaultAction").unwrap_or(at);
            ctx.error(
                at,
                "invalid-tier",
                format!(
                    "The '{name}' tier must have default action '{}'",
                    want_action.as_str()
                ),
            );
        }
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(CalicoTier {
        name: meta.name,
        order,
        default_action: default_action?,
        location: Some(ctx.at(obj)),
    })
}

/// Decodes a NetworkSet or GlobalNetworkSet; `None` when it has errors.
pub fn network_set(ctx: &mut Ctx, obj: &Node, meta: Meta, kind: &str) -> Option<CalicoNetworkSet> {
    let errors_before = error_count(ctx);
    // The namespace label is Calico's own, given by the namespace the set is in.
    if meta.labels.contains_key("projectcalico.org/namespace") {
        let at = obj
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .unwrap_or(obj);
        ctx.error(
            at,
            "invalid-label",
            "projectcalico.org/namespace is not a valid label name",
        );
    }
    let spec = spec(ctx, obj, kind)?;
    ctx.check_fields(spec, &["nets"], &format!("{kind} spec"));
    let mut nets = IpSet::empty();
    if let Some(n) = present(spec, "nets") {
        for item in ctx.seq(n, "spec.nets").unwrap_or_default() {
            let Some(text) = ctx.str(item, "a spec.nets entry") else {
                continue;
            };
            // The `cidr` tag (`validateCIDR`): a CIDR, host bits allowed, or an address.
            let parsed = Cidr::parse(text).or_else(|e| {
                text.parse::<std::net::IpAddr>()
                    .map(|addr| Cidr {
                        addr,
                        prefix: if addr.is_ipv4() { 32 } else { 128 },
                    })
                    .map_err(|_| e)
            });
            match parsed {
                Ok(c) => nets = nets.union(&c.to_set()),
                Err(e) => ctx.error(
                    item,
                    "invalid-cidr",
                    format!(
                        "spec.nets: invalid CIDR `{}`: {e}",
                        kubeseg_model::clip(text)
                    ),
                ),
            }
        }
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    let namespace = if kind == "NetworkSet" {
        meta.namespace.unwrap_or_else(|| "default".to_string())
    } else {
        String::new()
    };
    Some(CalicoNetworkSet {
        kind: kind.to_string(),
        namespace,
        name: meta.name,
        labels: meta.labels,
        nets,
        location: Some(ctx.at(obj)),
    })
}

/// `spec`, which the CRD schema requires.
fn spec<'n>(ctx: &mut Ctx, obj: &'n Node, kind: &str) -> Option<&'n [(Key, Node)]> {
    let Some(n) = obj.get("spec") else {
        ctx.error(
            obj,
            "missing-spec",
            format!("{kind} has no `spec`; the API server requires one"),
        );
        return None;
    };
    ctx.map(n, &format!("{kind} spec"))
}
