//! A custom resource into the workloads its operator creates.

use super::expr::{Env, Path};
use super::{Layer, Operator, WorkloadDesc};
use crate::decode::Object;
use crate::decode::ctx::Ctx;
use crate::tree::{Node, Value};
use kubeseg_model::{ContainerPort, Labels, Pod};

/// Fields whose presence in a custom resource's spec says that an operator runs pods
/// for it: such a resource that no description covers gets a warning.
const POD_FIELDS: &[&str] = &[
    "replicas",
    "instances",
    "template",
    "podTemplate",
    "nodeSets",
    "podSpec",
];

/// Whether an undescribed custom resource looks like it makes pods.
pub fn looks_like_a_workload(api_version: &str, obj: &Node) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    group.contains('.')
        && obj
            .get("spec")
            .is_some_and(|s| POD_FIELDS.iter().any(|f| s.get(f).is_some()))
}

/// The workloads `op` creates for `obj`, named `name` in `namespace`: controllers
/// standing for their pods by a template, or pods owned by the resource itself.
pub fn expand<'n>(
    ctx: &mut Ctx,
    op: &Operator,
    obj: &'n Node,
    name: &'n str,
    namespace: &'n str,
) -> Vec<Object> {
    let mut out = Vec::new();
    let top = Env {
        name,
        namespace,
        object: obj,
        item: None,
    };
    for desc in &op.workloads {
        let items: Vec<Option<&Node>> = match &desc.for_each {
            None => vec![None],
            Some(path) => {
                let all = list(path, &top);
                if all.len() > MAX_ITEMS {
                    ctx.warning_at(obj.line, obj.column, "unexpanded-workload", format!(
                        "{} {namespace}/{name}: only the first {MAX_ITEMS} items of its list are expanded into workloads; the results leave the others out",
                        op.kind
                    ));
                }
                if all.is_empty() {
                    // A resource whose list names no item creates none of these
                    // workloads, which the operator would not do silently either.
                    ctx.warning_at(obj.line, obj.column, "unexpanded-workload", format!(
                        "{} {namespace}/{name}: the operator description ({}) makes one {} per item of a list this resource does not hold; kubeseg expands none of them",
                        op.kind, op.location, desc.kind
                    ));
                }
                all.iter().take(MAX_ITEMS).map(Some).collect()
            }
        };
        for item in items {
            let env = Env {
                name,
                namespace,
                object: obj,
                item,
            };
            if desc.when.holds(&env) {
                workload(ctx, op, desc, &env, &mut out);
            }
        }
    }
    out
}

/// The most items of one `forEach` list expanded: a hostile resource must not turn a
/// few bytes per item into kilobytes of workloads without bound.
pub const MAX_ITEMS: usize = 1_000;

/// The items of the list `path` leads to; none when it leads to no list.
fn list<'n>(path: &Path, env: &Env<'n>) -> &'n [Node] {
    match path.node(env).map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

fn workload(ctx: &mut Ctx, op: &Operator, desc: &WorkloadDesc, env: &Env, out: &mut Vec<Object>) {
    let Some(workload_name) = desc.name.render(env) else {
        ctx.warning_at(env.object.line, env.object.column, "unexpanded-workload", format!(
            "{} {}/{}: the operator description ({}) names its {} from a field this resource does not set; kubeseg cannot expand it and the results leave its pods out",
            op.kind, env.namespace, env.name, op.location, desc.kind
        ));
        return;
    };
    let mut labels = Labels::new();
    for layer in &desc.labels {
        match layer {
            Layer::From(path, when) if when.holds(env) => {
                if let Some(node) = path.node(env) {
                    labels.extend(crate::decode::labels(ctx, node, "labels"));
                }
            }
            Layer::Set(set, when) if when.holds(env) => {
                for (k, t) in set {
                    if let Some(v) = t.render(env) {
                        labels.insert(k.clone(), v);
                    }
                }
            }
            _ => {}
        }
    }
    let base = Pod {
        name: workload_name.clone(),
        labels,
        ports: ports(ctx, desc, env),
        ips: Vec::new(),
        host_network: false,
        host_port: false,
        images: Vec::new(),
        service_account: desc.service_account.as_ref().and_then(|t| t.render(env)),
        inject_annotation: None,
        location: Some(ctx.at(env.object)),
    };
    if desc.pods.is_empty() {
        out.push(Object::Controller {
            kind: desc.kind.clone(),
            namespace: env.namespace.to_string(),
            name: workload_name,
            owner: None,
            template: Some(base),
            location: ctx.at(env.object),
        });
        return;
    }
    for p in desc.pods.iter().filter(|p| p.when.holds(env)) {
        let Some(pod_name) = p.name.render(env) else {
            continue;
        };
        let mut pod = base.clone();
        pod.name = pod_name;
        for (k, t) in &p.labels {
            if let Some(v) = t.render(env) {
                pod.labels.insert(k.clone(), v);
            }
        }
        out.push(Object::Pod {
            namespace: env.namespace.to_string(),
            owner: Some((desc.kind.clone(), workload_name.clone())),
            pod,
        });
    }
}

fn ports(ctx: &mut Ctx, desc: &WorkloadDesc, env: &Env) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    for p in &desc.ports {
        let items: Vec<Option<&Node>> = match &p.for_each {
            None => vec![env.item],
            Some(path) => list(path, env).iter().take(MAX_ITEMS).map(Some).collect(),
        };
        for item in items {
            let env = Env { item, ..*env };
            if !p.when.holds(&env) {
                continue;
            }
            let Some(text) = p.port.render(&env) else {
                continue;
            };
            match text.parse::<u16>() {
                Ok(port) if port > 0 => out.push(ContainerPort {
                    name: p.name.as_ref().and_then(|t| t.render(&env)),
                    port,
                    protocol: p.protocol,
                }),
                _ => ctx.warning_at(env.object.line, env.object.column, "unexpanded-workload", format!(
                    "{}/{}: port `{text}` of a {} it creates is not a port number; kubeseg leaves it out",
                    env.namespace, env.name, desc.kind
                )),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
