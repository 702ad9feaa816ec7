//! `discovery.k8s.io/v1` EndpointSlices, validated as the API server validates them
//! (kubernetes pkg/apis/discovery/validation/validation.go: `addressType` one of IPv4,
//! IPv6, FQDN; 1 to 100 addresses per endpoint, each of the slice's family; at most
//! 1000 endpoints).

use super::ctx::Ctx;
use super::meta::Meta;
use super::policy::error_count;
use super::tier::present;
use crate::tree::{Node, Value};
use kubeseg_model::endpoints::SERVICE_NAME_LABEL;
use kubeseg_model::{EndpointSlice, SliceEndpoint};
use std::net::IpAddr;

const ENDPOINT_FIELDS: &[&str] = &[
    "addresses",
    "conditions",
    "hostname",
    "targetRef",
    "deprecatedTopology",
    "nodeName",
    "zone",
    "hints",
];
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;

/// Decodes an EndpointSlice; `None` when it has errors (they are reported): the API
/// server would refuse it.
pub fn endpoint_slice(ctx: &mut Ctx, obj: &Node, meta: Meta) -> Option<EndpointSlice> {
    let errors_before = error_count(ctx);
    let address_type = match obj.get("addressType").filter(|n| !n.is_null()) {
        Some(n) => {
            let t = ctx.str(n, "addressType")?;
            if !matches!(t, "IPv4" | "IPv6" | "FQDN") {
                ctx.error(
                    n,
                    "invalid-value",
                    format!("addressType `{t}`: supported values are IPv4, IPv6 and FQDN"),
                );
            }
            t.to_string()
        }
        None => {
            ctx.error(obj, "missing-field", "EndpointSlice has no `addressType`: the API server requires one of IPv4, IPv6, FQDN");
            return None;
        }
    };
    let mut endpoints = Vec::new();
    if let Some(list) = obj.get("endpoints").filter(|n| !n.is_null()) {
        let items = ctx.seq(list, "endpoints").unwrap_or_default();
        if items.len() > MAX_ENDPOINTS {
            ctx.error(
                list,
                "invalid-value",
                format!(
                    "an EndpointSlice holds at most {MAX_ENDPOINTS} endpoints, found {}",
                    items.len()
                ),
            );
        }
        for item in items.iter().take(MAX_ENDPOINTS) {
            if let Some(e) = endpoint(ctx, item, &address_type) {
                endpoints.push(e);
            }
        }
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(EndpointSlice {
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        service_name: meta.labels.get(SERVICE_NAME_LABEL).cloned(),
        name: meta.name,
        address_type,
        endpoints,
        location: Some(ctx.at(obj)),
    })
}

/// One entry of `endpoints`.
fn endpoint(ctx: &mut Ctx, item: &Node, address_type: &str) -> Option<SliceEndpoint> {
    let what = "an EndpointSlice endpoint";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, ENDPOINT_FIELDS, what);
    let Some(list) = present(entries, "addresses") else {
        ctx.error(item, "missing-field", "an endpoint needs `addresses`");
        return None;
    };
    let items = ctx.seq(list, "addresses")?;
    if items.is_empty() || items.len() > MAX_ADDRESSES {
        ctx.error(
            list,
            "invalid-value",
            format!(
                "an endpoint has 1 to {MAX_ADDRESSES} addresses, found {}",
                items.len()
            ),
        );
        return None;
    }
    let mut addresses = Vec::new();
    for a in items {
        let text = ctx.str(a, "an address")?;
        if address_type == "FQDN" {
            continue;
        }
        match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv4() == (address_type == "IPv4") => addresses.push(ip),
            _ => ctx.error(
                a,
                "invalid-address",
                format!("`{text}` is not a valid {address_type} address"),
            ),
        }
    }
    let (mut ready, mut serving, mut terminating) = (None, None, None);
    if let Some(c) = present(entries, "conditions") {
        let conditions = ctx.map(c, "conditions")?;
        ctx.check_fields(
            conditions,
            &["ready", "serving", "terminating"],
            "conditions",
        );
        for (key, slot) in [
            ("ready", &mut ready),
            ("serving", &mut serving),
            ("terminating", &mut terminating),
        ] {
            let Some(n) = present(conditions, key) else {
                continue;
            };
            match n.value {
                Value::Bool(b) => *slot = Some(b),
                _ => ctx.error(
                    n,
                    "invalid-type",
                    format!(
                        "conditions.{key} must be true or false, found {}",
                        n.type_name()
                    ),
                ),
            }
        }
    }
    Some(SliceEndpoint {
        addresses,
        ready,
        serving,
        terminating,
        location: Some(ctx.at(item)),
    })
}
