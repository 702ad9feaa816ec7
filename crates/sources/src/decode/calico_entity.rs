//! The sides of a Calico rule (`EntityRule`): the peer read into a `CalicoEntity` with
//! its namespace scoping resolved as projectcalico/calico
//! `libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go` `getEndpointSelector`
//! does, and the policy's own side, which may only carry destination ports.

use super::calico::{Scope, selector};
use super::ctx::Ctx;
use super::tier::{check_len, present};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{CalicoEntity, CalicoNamespaces, CalicoSelector, CalicoService, Cidr, IpSet};

const ENTITY_FIELDS: &[&str] = &[
    "nets",
    "selector",
    "namespaceSelector",
    "services",
    "ports",
    "notNets",
    "notSelector",
    "notPorts",
    "serviceAccounts",
];

/// The fields that pick endpoints or addresses.
const MATCHERS: &[&str] = &[
    "nets",
    "notNets",
    "selector",
    "notSelector",
    "namespaceSelector",
    "serviceAccounts",
    "services",
];

/// The policy's own side of a rule (the destination of an ingress rule, the source of
/// an egress rule): only its ports are read (by `calico_ports`).
pub(super) fn subject_side(ctx: &mut Ctx, entries: &[(Key, Node)], key: &str) {
    ctx.check_fields(entries, ENTITY_FIELDS, key);
    for (k, v) in entries {
        if k.name == "services" && !is_empty(v) {
            let rule = if key == "destination" {
                "ingress rule destination"
            } else {
                "egress rule source"
            };
            ctx.error_at(
                k.line,
                k.column,
                "invalid-value",
                format!("{key}.services: not allowed in {rule}"),
            );
        } else if MATCHERS.contains(&k.name.as_str()) && !is_empty(v) {
            ctx.error_at(k.line, k.column, "unsupported-field", format!("{key}.{}: constraining the policy's own endpoints in a rule is not modelled yet", k.name));
        }
    }
}

/// Whether a value is one Go's `omitempty` leaves out (null, "", [] or {}).
fn is_empty(node: &Node) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Str(s) => s.is_empty(),
        Value::Seq(s) => s.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// The peer side of a rule.
pub(super) fn entity(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    scope: Scope,
    key: &str,
) -> Option<CalicoEntity> {
    ctx.check_fields(entries, ENTITY_FIELDS, key);
    let mut ok = true;
    let services = services(ctx, entries, scope, key);
    let accounts = service_accounts(ctx, entries, key);
    let nets = nets(ctx, entries, "nets", key);
    let not_nets = nets_negated(ctx, entries, key);
    if let (Some(Some((_, a))), Some(Some((_, b)))) = (&nets, &not_nets)
        && (a.0 && b.1 || a.1 && b.0)
        && let Some(n) = present(entries, "notNets")
    {
        ctx.error(
            n,
            "invalid-cidr",
            format!("{key}.notNets: rule contains both IPv4 and IPv6 CIDRs"),
        );
        ok = false;
    }
    let read = |ctx: &mut Ctx, k: &str, global_ok: bool| -> Option<Option<CalicoSelector>> {
        match present(entries, k).filter(|n| !is_empty(n)) {
            None => Some(None),
            Some(n) => selector(ctx, n, &format!("{key}.{k}"), global_ok).map(Some),
        }
    };
    // The CEL rule tests only `selector` for `global(`; `notSelector` may hold it.
    let sel = read(ctx, "selector", false);
    let not_sel = read(ctx, "notSelector", true);
    let ns_sel = namespace_selector(ctx, entries, key);
    let (nets, not_nets, sel, not_sel, ns_sel) = (nets?, not_nets?, sel?, not_sel?, ns_sel?);
    let services = services?;
    // `getEndpointSelector`: the service-account match comes first, ANDed with the
    // selector, and counts as selecting endpoints for the namespace scoping below.
    let sel = match (accounts?, sel) {
        (Some(a), Some(s)) => Some(a.and(s)),
        (a, s) => a.or(s),
    };
    let selects = sel.is_some() || not_sel.is_some();
    // `getEndpointSelector`: a namespaceSelector scopes the endpoints; without one, a
    // namespaced policy's selectors pick from its own namespace and a global policy's
    // from anywhere; a rule that selects no endpoint has no namespace constraint.
    let namespaces = match ns_sel {
        Some(ns) => Some(ns),
        None if selects && !scope.global() => {
            Some(CalicoNamespaces::Own(scope.namespace.to_string()))
        }
        None if selects => Some(CalicoNamespaces::Any),
        None => None,
    };
    ok.then_some(CalicoEntity {
        nets: nets.map(|(s, _)| s),
        not_nets: not_nets.map(|(s, _)| s),
        selector: sel,
        not_selector: not_sel,
        namespaces,
        services,
    })
}

/// A rule's `services` (`ServiceMatch`), checked as `validateEntityRule` and the
/// policy validators do: a name, a namespace in a global policy (a namespaced one's
/// defaults to its own), and no other field that picks endpoints or addresses.
/// `Some(None)` when absent.
fn services(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    scope: Scope,
    key: &str,
) -> Option<Option<CalicoService>> {
    let Some(node) = present(entries, "services").filter(|n| !is_empty(n)) else {
        return Some(None);
    };
    let what = format!("{key}.services");
    let fields = ctx.map(node, &what)?;
    ctx.check_fields(fields, &["name", "namespace"], &what);
    let text = |ctx: &mut Ctx, k: &str| -> Option<String> {
        match present(fields, k) {
            Some(n) => ctx.str(n, &format!("{what}.{k}")).map(str::to_string),
            None => Some(String::new()),
        }
    };
    let (name, namespace) = (text(ctx, "name")?, text(ctx, "namespace")?);
    let mut ok = true;
    let mut refuse = |ctx: &mut Ctx, message: &str| {
        ctx.error(node, "invalid-value", format!("{what}: {message}"));
        ok = false;
    };
    if name.is_empty() {
        refuse(ctx, "must specify a service name");
    }
    if namespace.is_empty() && scope.global() {
        refuse(ctx, "must specify a namespace");
    }
    let given = |k: &str| present(entries, k).is_some_and(|n| !is_empty(n));
    if given("namespaceSelector") {
        refuse(
            ctx,
            "cannot specify NamespaceSelector and Services on the same rule",
        );
    }
    if given("selector") || given("notSelector") {
        refuse(
            ctx,
            "cannot specify Selector/NotSelector and Services on the same rule",
        );
    }
    if given("serviceAccounts") {
        refuse(
            ctx,
            "cannot specify ServiceAccounts and Services on the same rule",
        );
    }
    if given("nets") || given("notNets") {
        refuse(
            ctx,
            "cannot specify Nets/NotNets and Services on the same rule",
        );
    }
    let namespace = if namespace.is_empty() {
        scope.namespace.to_string()
    } else {
        namespace
    };
    ok.then_some(Some(CalicoService { namespace, name }))
}

/// A rule's `serviceAccounts` (`ServiceAccountMatch`: `names` and `selector`) as the
/// selector Calico turns it into; `Some(None)` when absent or empty.
pub(super) fn service_accounts(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    key: &str,
) -> Option<Option<CalicoSelector>> {
    let Some(node) = present(entries, "serviceAccounts").filter(|n| !is_empty(n)) else {
        return Some(None);
    };
    let what = format!("{key}.serviceAccounts");
    let fields = ctx.map(node, &what)?;
    ctx.check_fields(fields, &["names", "selector"], &what);
    let mut ok = true;
    let mut names = Vec::new();
    if let Some(list) = present(fields, "names") {
        let items = ctx.seq(list, &format!("{what}.names"))?;
        for item in items {
            match ctx.str(item, &format!("a {what}.names entry")) {
                Some(name) => names.push(name.to_string()),
                None => ok = false,
            }
        }
    }
    let sel = match present(fields, "selector").filter(|n| !is_empty(n)) {
        Some(n) => Some(selector(ctx, n, &format!("{what}.selector"), false)?),
        None => None,
    };
    ok.then(|| kubeseg_model::calico::service_account_match(&names, sel))
}

/// A rule's `namespaceSelector`: `global()` alone means endpoints without a namespace;
/// `validateEntityRule` refuses `global()` combined with anything else.
fn namespace_selector(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    key: &str,
) -> Option<Option<CalicoNamespaces>> {
    let Some(n) = present(entries, "namespaceSelector").filter(|n| !is_empty(n)) else {
        return Some(None);
    };
    let what = format!("{key}.namespaceSelector");
    let parsed = selector(ctx, n, &what, true)?;
    let text = n.as_str().unwrap_or_default();
    // The tokenizer skips spaces and tabs, so `global()` alone is two tokens
    // (`global()`, end) exactly when nothing else but blanks is written.
    let alone: String = text.chars().filter(|c| !matches!(c, ' ' | '\t')).collect();
    if text.contains("global(") && alone != "global()" {
        ctx.error(
            n,
            "invalid-selector",
            format!("{what}: global() cannot be combined with other selectors"),
        );
        return None;
    }
    Some(Some(if parsed == CalicoSelector::Global {
        CalicoNamespaces::Global
    } else {
        CalicoNamespaces::Selected(parsed)
    }))
}

/// Which families a list of networks holds: (IPv4, IPv6).
type Families = (bool, bool);

/// `nets`: CIDRs with their host bits zero (the `net` tag, `validateIPNetwork`, and
/// `validateRule`'s `cnet.ParseCIDR`, which wants a prefix length), one family per rule;
/// `Some(None)` when none is listed.
fn nets(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    field: &str,
    key: &str,
) -> Option<Option<(IpSet, Families)>> {
    let Some(node) = present(entries, field) else {
        return Some(None);
    };
    let what = format!("{key}.{field}");
    let items = ctx.seq(node, &what)?;
    let mut ok = check_len(ctx, node, items.len(), 0, 256, &what);
    let mut set = IpSet::empty();
    let (mut v4, mut v6) = (false, false);
    for item in items {
        let Some(text) = ctx.str(item, &format!("a {what} entry")) else {
            ok = false;
            continue;
        };
        let cidr = match Cidr::parse(text) {
            Ok(c) => c,
            Err(e) => {
                ctx.error(
                    item,
                    "invalid-cidr",
                    format!("{what}: invalid CIDR `{}`: {e}", kubeseg_model::clip(text)),
                );
                ok = false;
                continue;
            }
        };
        let masked = cidr.to_set();
        if masked.first_address() != Some(cidr.addr) {
            ctx.error(item, "invalid-cidr", format!("{what}: `{text}` has host bits set; Calico requires the network address (`{}/{}`)", masked.first_address().map_or(String::new(), |a| a.to_string()), cidr.prefix));
            ok = false;
            continue;
        }
        if field == "notNets" && cidr.prefix == 0 {
            ctx.error(item, "invalid-cidr", format!("{what}: catch-all CIDR in negation creates logical contradiction (matches no traffic)"));
            ok = false;
        }
        v4 |= cidr.addr.is_ipv4();
        v6 |= cidr.addr.is_ipv6();
        set = set.union(&masked);
    }
    if v4 && v6 {
        ctx.error(
            node,
            "invalid-cidr",
            format!("{what}: rule contains both IPv4 and IPv6 CIDRs"),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some((!items.is_empty()).then_some((set, (v4, v6))))
}

fn nets_negated(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    key: &str,
) -> Option<Option<(IpSet, Families)>> {
    nets(ctx, entries, "notNets", key)
}
