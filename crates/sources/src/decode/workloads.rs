//! Pods, pod controllers, Namespaces and Services.

use super::ctx::Ctx;
use super::meta::{Meta, labels};
use crate::tree::{Node, Value};
use kubeseg_model::{ContainerPort, Labels, Pod, Protocol, Route, Service, ServicePort};
use std::net::IpAddr;

/// Reads a pod from a Pod object or a pod template (`metadata` + `spec`).
pub fn pod(ctx: &mut Ctx, node: &Node, name: &str, labels_: Labels) -> Pod {
    let mut pod = Pod {
        name: name.to_string(),
        labels: labels_,
        ports: Vec::new(),
        ips: Vec::new(),
        host_network: false,
        host_port: false,
        images: Vec::new(),
        service_account: None,
        inject_annotation: node
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("sidecar.istio.io/inject"))
            .and_then(|v| match &v.value {
                Value::Str(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }),
        location: Some(ctx.at(node)),
    };
    if let Some(spec) = node.get("spec") {
        pod.service_account = ["serviceAccountName", "serviceAccount"]
            .iter()
            .find_map(|k| spec.get(k).and_then(Node::as_str))
            .map(str::to_string);
        pod.host_network = matches!(
            spec.get("hostNetwork").map(|n| &n.value),
            Some(Value::Bool(true))
        );
        for c in ["initContainers", "containers"]
            .into_iter()
            .filter_map(|k| match spec.get(k).map(|n| &n.value) {
                Some(Value::Seq(items)) => Some(items),
                _ => None,
            })
            .flatten()
        {
            if let Some(image) = c.get("image").and_then(Node::as_str) {
                pod.images.push(image.to_string());
            }
        }
        pod.images.sort();
        pod.images.dedup();
        if let Some(containers) = spec.get("containers") {
            for c in ctx.seq(containers, "spec.containers").unwrap_or_default() {
                let Some(ports) = c.get("ports") else {
                    continue;
                };
                for p in ctx.seq(ports, "container ports").unwrap_or_default() {
                    if let Some(cp) = container_port(ctx, p, &mut pod.host_port) {
                        pod.ports.push(cp);
                    }
                }
            }
        }
    }
    if let Some(status) = node.get("status") {
        let mut ips: Vec<IpAddr> = Vec::new();
        if let Some(ip) = status
            .get("podIP")
            .and_then(Node::as_str)
            .and_then(|s| s.parse().ok())
        {
            ips.push(ip);
        }
        if let Some(Value::Seq(items)) = status.get("podIPs").map(|n| &n.value) {
            ips.extend(
                items
                    .iter()
                    .filter_map(|i| i.get("ip")?.as_str()?.parse::<IpAddr>().ok()),
            );
        }
        ips.sort();
        ips.dedup();
        pod.ips = ips;
    }
    pod.ports.sort();
    pod.ports.dedup();
    pod
}

fn container_port(ctx: &mut Ctx, p: &Node, host_port: &mut bool) -> Option<ContainerPort> {
    let number = match p.get("containerPort").map(|n| &n.value) {
        Some(Value::Int(n)) if (1..=65535).contains(n) => *n as u16,
        _ => {
            ctx.warning_at(
                p.line,
                p.column,
                "invalid-container-port",
                "container port without a valid containerPort (1-65535) is ignored",
            );
            return None;
        }
    };
    let protocol = match p.get("protocol").and_then(Node::as_str) {
        None => Protocol::Tcp,
        Some(s) => match Protocol::parse(s) {
            Some(proto) => proto,
            None => {
                ctx.warning_at(
                    p.line,
                    p.column,
                    "invalid-container-port",
                    format!("container port with unknown protocol `{s}` is ignored"),
                );
                return None;
            }
        },
    };
    if matches!(p.get("hostPort").map(|n| &n.value), Some(Value::Int(n)) if *n > 0) {
        *host_port = true;
    }
    Some(ContainerPort {
        name: p.get("name").and_then(Node::as_str).map(str::to_string),
        port: number,
        protocol,
    })
}

/// The pod template of a controller: `spec.template`, or `spec.jobTemplate.spec.template` for a CronJob.
pub fn template<'n>(kind: &str, obj: &'n Node) -> Option<&'n Node> {
    let spec = obj.get("spec")?;
    if kind == "CronJob" {
        spec.get("jobTemplate")?.get("spec")?.get("template")
    } else {
        spec.get("template")
    }
}

/// The labels of a pod template.
pub fn template_labels(ctx: &mut Ctx, template: &Node) -> Labels {
    template
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .map(|l| labels(ctx, l, "template labels"))
        .unwrap_or_default()
}

/// Reads a Service.
pub fn service(ctx: &mut Ctx, obj: &Node, meta: Meta) -> Service {
    let spec = obj.get("spec");
    let get = |k: &str| spec.and_then(|s| s.get(k));
    let selector = get("selector")
        .filter(|n| !n.is_null())
        .map(|n| labels(ctx, n, "spec.selector"));
    let mut ports = Vec::new();
    if let Some(Value::Seq(items)) = get("ports").map(|n| &n.value) {
        for p in items {
            if let Some(Value::Int(n)) = p.get("port").map(|n| &n.value) {
                let protocol = p
                    .get("protocol")
                    .and_then(Node::as_str)
                    .and_then(Protocol::parse)
                    .unwrap_or(Protocol::Tcp);
                let target = p.get("targetPort").and_then(|t| match &t.value {
                    Value::Int(i) => Some(i.to_string()),
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                });
                let node_port = match p.get("nodePort").map(|n| &n.value) {
                    Some(Value::Int(i)) if (1..=65535).contains(i) => Some(*i as u16),
                    _ => None,
                };
                if (1..=65535).contains(n) {
                    ports.push(ServicePort {
                        name: p.get("name").and_then(Node::as_str).map(str::to_string),
                        app_protocol: p
                            .get("appProtocol")
                            .and_then(Node::as_str)
                            .map(str::to_string),
                        port: *n as u16,
                        protocol,
                        target,
                        node_port,
                    });
                }
            }
        }
    }
    Service {
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        name: meta.name,
        labels: meta.labels,
        service_type: get("type")
            .and_then(Node::as_str)
            .unwrap_or("ClusterIP")
            .to_string(),
        selector,
        cluster_ip: get("clusterIP")
            .and_then(Node::as_str)
            .and_then(|s| s.parse().ok()),
        ports,
        location: Some(ctx.at(obj)),
    }
}

/// Reads the backends of an Ingress (networking.k8s.io/v1): the default backend and
/// every path's backend Service, in the Ingress's namespace.
pub fn ingress(ctx: &mut Ctx, obj: &Node, meta: Meta) -> Route {
    let namespace = meta.namespace.unwrap_or_else(|| "default".into());
    let mut backends = Vec::new();
    let mut add = |backend: Option<&Node>| {
        if let Some(name) = backend
            .and_then(|b| b.get("service"))
            .and_then(|s| s.get("name"))
            .and_then(Node::as_str)
        {
            backends.push((namespace.clone(), name.to_string()));
        }
    };
    let spec = obj.get("spec");
    add(spec.and_then(|s| s.get("defaultBackend")));
    if let Some(Value::Seq(rules)) = spec.and_then(|s| s.get("rules")).map(|n| &n.value) {
        for rule in rules {
            let paths = rule.get("http").and_then(|h| h.get("paths"));
            if let Some(Value::Seq(paths)) = paths.map(|n| &n.value) {
                for path in paths {
                    add(path.get("backend"));
                }
            }
        }
    }
    route(ctx, obj, "Ingress", namespace, meta.name, backends)
}

/// Reads the backends of a Gateway API route (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute,
/// UDPRoute): every `backendRefs` entry that is a Service (the default kind), in its
/// own namespace unless it names another.
pub fn http_route(ctx: &mut Ctx, obj: &Node, meta: Meta, route_kind: &str) -> Route {
    let namespace = meta.namespace.unwrap_or_else(|| "default".into());
    let mut backends = Vec::new();
    let rules = obj.get("spec").and_then(|s| s.get("rules"));
    if let Some(Value::Seq(rules)) = rules.map(|n| &n.value) {
        for rule in rules {
            let Some(Value::Seq(refs)) = rule.get("backendRefs").map(|n| &n.value) else {
                continue;
            };
            for r in refs {
                let kind = r.get("kind").and_then(Node::as_str).unwrap_or("Service");
                let group = r.get("group").and_then(Node::as_str).unwrap_or("");
                let Some(name) = r.get("name").and_then(Node::as_str) else {
                    continue;
                };
                if kind != "Service" || !group.is_empty() {
                    ctx.warning_at(
                        r.line,
                        r.column,
                        "unmodelled-backend",
                        format!("route backend of kind `{kind}` is not a Service; kubeseg does not follow it"),
                    );
                    continue;
                }
                let ns = r
                    .get("namespace")
                    .and_then(Node::as_str)
                    .unwrap_or(&namespace);
                backends.push((ns.to_string(), name.to_string()));
            }
        }
    }
    route(ctx, obj, route_kind, namespace, meta.name, backends)
}

/// Reads the destinations of an Istio VirtualService bound to a gateway: every
/// `route[].destination.host` of its `http`, `tls` and `tcp` routes that names a
/// Service of the cluster (`name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`,
/// resolved in the VirtualService's namespace as Istio does). `None` for a
/// VirtualService of the mesh only (no `gateways`, or only `mesh`), which exposes
/// nothing.
pub fn virtual_service(ctx: &mut Ctx, obj: &Node, meta: Meta) -> Option<Route> {
    let namespace = meta.namespace.unwrap_or_else(|| "default".into());
    let spec = obj.get("spec");
    let gateways: Vec<&str> = match spec.and_then(|s| s.get("gateways")).map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(Node::as_str).collect(),
        _ => Vec::new(),
    };
    if gateways.iter().all(|g| *g == "mesh") {
        return None;
    }
    let mut backends = Vec::new();
    for kind in ["http", "tls", "tcp"] {
        let Some(Value::Seq(routes)) = spec.and_then(|s| s.get(kind)).map(|n| &n.value) else {
            continue;
        };
        for r in routes {
            let Some(Value::Seq(dests)) = r.get("route").map(|n| &n.value) else {
                continue;
            };
            for d in dests {
                let Some(host_node) = d.get("destination").and_then(|x| x.get("host")) else {
                    continue;
                };
                let Some(host) = host_node.as_str() else {
                    continue;
                };
                match service_of_host(host, &namespace) {
                    Some(b) => backends.push(b),
                    None => ctx.warning_at(
                        host_node.line,
                        host_node.column,
                        "unmodelled-backend",
                        format!("VirtualService destination `{host}` is not a Service of the cluster (a ServiceEntry or an outside host); kubeseg does not follow it"),
                    ),
                }
            }
        }
    }
    Some(route(
        ctx,
        obj,
        "VirtualService",
        namespace,
        meta.name,
        backends,
    ))
}

/// The Service a VirtualService host names. Istio expands only a name without dots, in
/// the VirtualService's namespace (`ResolveShortnameToFQDN`); anything else is taken
/// as written, so only `name.ns.svc.cluster.local` names another Service. Wildcards
/// name no one Service.
fn service_of_host(host: &str, namespace: &str) -> Option<(String, String)> {
    if host.contains('*') {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some((namespace.to_string(), name.to_string())),
        [name, ns, "svc", "cluster", "local"] => Some((ns.to_string(), name.to_string())),
        _ => None,
    }
}

fn route(
    ctx: &mut Ctx,
    obj: &Node,
    kind: &str,
    namespace: String,
    name: String,
    mut backends: Vec<(String, String)>,
) -> Route {
    backends.sort();
    backends.dedup();
    Route {
        kind: kind.to_string(),
        namespace,
        name,
        backends,
        location: Some(ctx.at(obj)),
    }
}
