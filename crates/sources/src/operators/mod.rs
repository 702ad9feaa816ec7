//! Operator descriptions: the pods well-known operators create from their custom
//! resources, as data. The built-in catalog (`operators.yaml` beside this crate's
//! sources) cites each operator's source; users add their own with `--operators FILE`
//! in the same format (`apiVersion: kubeseg.io/v1`, `kind: OperatorCatalog`).

mod expand;
mod expr;

pub use expand::{expand, looks_like_a_workload};

use crate::decode::ctx::{Ctx, field};
use crate::spec::strict_fields;
use crate::tree::{Node, Value};
use expr::{Condition, Path, Template};
use kubeseg_model::{Diagnostic, Location, Protocol};
use std::sync::{Arc, OnceLock};

const CODE: &str = "invalid-operators";

/// The built-in descriptions.
const BUILTIN: &str = include_str!("../../operators.yaml");

/// Operator descriptions, looked up by API group and kind.
#[derive(Debug, Default)]
pub struct Catalog {
    /// The descriptions, user-given ones first (they win over built-in ones).
    pub operators: Vec<Operator>,
}

/// How one operator turns one kind of custom resource into workloads.
#[derive(Debug)]
pub struct Operator {
    /// The resource's API group, e.g. `monitoring.coreos.com`.
    pub api_group: String,
    /// The resource's kind, e.g. `Prometheus`.
    pub kind: String,
    /// Where the facts come from (the operator's source files and version).
    pub source: String,
    /// The workloads it creates.
    workloads: Vec<WorkloadDesc>,
    /// Where the description is.
    pub location: Location,
}

#[derive(Debug)]
struct WorkloadDesc {
    kind: String,
    name: Template,
    for_each: Option<Path>,
    when: Condition,
    labels: Vec<Layer>,
    service_account: Option<Template>,
    ports: Vec<PortDesc>,
    pods: Vec<PodDesc>,
}

#[derive(Debug)]
enum Layer {
    From(Path, Condition),
    Set(Vec<(String, Template)>, Condition),
}

#[derive(Debug)]
struct PortDesc {
    name: Option<Template>,
    port: Template,
    protocol: Protocol,
    for_each: Option<Path>,
    when: Condition,
}

#[derive(Debug)]
struct PodDesc {
    name: Template,
    when: Condition,
    labels: Vec<(String, Template)>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Arc<Catalog> {
        static BUILT: OnceLock<Arc<Catalog>> = OnceLock::new();
        BUILT
            .get_or_init(|| {
                // Tests parse the built-in catalog strictly; a broken one must not stop a run.
                Arc::new(parse_catalog("<built-in operators.yaml>", BUILTIN).unwrap_or_default())
            })
            .clone()
    }

    /// The built-in catalog with `user`'s descriptions in front.
    pub fn with_user(user: Catalog) -> Arc<Catalog> {
        let mut operators = user.operators;
        let builtin = parse_catalog("<built-in operators.yaml>", BUILTIN).unwrap_or_default();
        operators.extend(builtin.operators);
        Arc::new(Catalog { operators })
    }

    /// The description of this apiVersion's group and kind.
    pub fn find(&self, api_version: &str, kind: &str) -> Option<&Operator> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        self.operators
            .iter()
            .find(|o| o.kind == kind && o.api_group == group)
    }
}

/// Parses a catalog; on any problem, every diagnostic found.
pub fn parse_catalog(file: &str, text: &str) -> Result<Catalog, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(Arc::from(file), text);
    let Some(docs) = crate::spec::strict_documents(&mut ctx, text, CODE) else {
        return Err(ctx.diagnostics);
    };
    let mut catalog = Catalog::default();
    for doc in &docs {
        read(&mut ctx, doc, &mut catalog);
    }
    if ctx.diagnostics.is_empty() {
        Ok(catalog)
    } else {
        Err(ctx.diagnostics)
    }
}

fn read(ctx: &mut Ctx, doc: &Node, catalog: &mut Catalog) {
    let Some(entries) = ctx.map(doc, "an operator catalog") else {
        return;
    };
    strict_fields(
        ctx,
        CODE,
        entries,
        &["apiVersion", "kind", "operators"],
        "the catalog",
    );
    if field(entries, "apiVersion").and_then(Node::as_str) != Some("kubeseg.io/v1") {
        ctx.error(
            field(entries, "apiVersion").unwrap_or(doc),
            CODE,
            "apiVersion must be kubeseg.io/v1",
        );
    }
    if field(entries, "kind").and_then(Node::as_str) != Some("OperatorCatalog") {
        ctx.error(
            field(entries, "kind").unwrap_or(doc),
            CODE,
            "kind must be OperatorCatalog",
        );
    }
    let Some(list) = field(entries, "operators") else {
        ctx.error(doc, CODE, "the catalog has no `operators`");
        return;
    };
    for item in ctx.seq(list, "operators").unwrap_or_default() {
        if let Some(o) = operator(ctx, item) {
            catalog.operators.push(o);
        }
    }
}

fn operator(ctx: &mut Ctx, node: &Node) -> Option<Operator> {
    let entries = ctx.map(node, "an operator")?;
    let known = ["apiGroup", "kind", "source", "workloads"];
    strict_fields(ctx, CODE, entries, &known, "an operator");
    let api_group = required_str(ctx, node, entries, "apiGroup")?;
    let kind = required_str(ctx, node, entries, "kind")?;
    let source = required_str(ctx, node, entries, "source")?;
    let list = required(ctx, node, entries, "workloads")?;
    let workloads = ctx
        .seq(list, "workloads")
        .unwrap_or_default()
        .iter()
        .filter_map(|w| workload(ctx, w))
        .collect();
    Some(Operator {
        api_group,
        kind,
        source,
        workloads,
        location: ctx.at(node),
    })
}

fn workload(ctx: &mut Ctx, node: &Node) -> Option<WorkloadDesc> {
    let entries = ctx.map(node, "a workload")?;
    let known = [
        "kind",
        "name",
        "forEach",
        "when",
        "labels",
        "serviceAccount",
        "ports",
        "pods",
    ];
    strict_fields(ctx, CODE, entries, &known, "a workload");
    let kind = required_str(ctx, node, entries, "kind")?;
    let name = required(ctx, node, entries, "name")?;
    let name = template(ctx, name)?;
    let mut labels = Vec::new();
    if let Some(list) = field(entries, "labels") {
        for layer in ctx.seq(list, "labels").unwrap_or_default() {
            labels.extend(label_layer(ctx, layer));
        }
    }
    let mut ports = Vec::new();
    if let Some(list) = field(entries, "ports") {
        for p in ctx.seq(list, "ports").unwrap_or_default() {
            ports.extend(port(ctx, p));
        }
    }
    let mut pods = Vec::new();
    if let Some(list) = field(entries, "pods") {
        for p in ctx.seq(list, "pods").unwrap_or_default() {
            pods.extend(pod(ctx, p));
        }
    }
    Some(WorkloadDesc {
        kind,
        name,
        for_each: optional_path(ctx, entries, "forEach"),
        when: condition(ctx, entries),
        labels,
        service_account: field(entries, "serviceAccount").and_then(|n| template(ctx, n)),
        ports,
        pods,
    })
}

fn label_layer(ctx: &mut Ctx, node: &Node) -> Option<Layer> {
    let entries = ctx.map(node, "a label layer")?;
    strict_fields(
        ctx,
        CODE,
        entries,
        &["from", "set", "when"],
        "a label layer",
    );
    let when = condition(ctx, entries);
    match (field(entries, "from"), field(entries, "set")) {
        (Some(_), None) => Some(Layer::From(optional_path(ctx, entries, "from")?, when)),
        (None, Some(set)) => Some(Layer::Set(template_map(ctx, set)?, when)),
        _ => {
            ctx.error(
                node,
                CODE,
                "a label layer has either `from: PATH` or `set: {KEY: VALUE}`",
            );
            None
        }
    }
}

fn port(ctx: &mut Ctx, node: &Node) -> Option<PortDesc> {
    let entries = ctx.map(node, "a port")?;
    let known = ["name", "port", "protocol", "forEach", "when"];
    strict_fields(ctx, CODE, entries, &known, "a port");
    let number = required(ctx, node, entries, "port")?;
    let protocol = match field(entries, "protocol") {
        None => Protocol::Tcp,
        Some(p) => match ctx.str(p, "protocol").and_then(Protocol::parse) {
            Some(p) => p,
            None => {
                ctx.error(p, CODE, "protocol is TCP, UDP or SCTP");
                return None;
            }
        },
    };
    Some(PortDesc {
        name: field(entries, "name").and_then(|n| template(ctx, n)),
        port: template(ctx, number)?,
        protocol,
        for_each: optional_path(ctx, entries, "forEach"),
        when: condition(ctx, entries),
    })
}

fn pod(ctx: &mut Ctx, node: &Node) -> Option<PodDesc> {
    let entries = ctx.map(node, "a pod")?;
    strict_fields(ctx, CODE, entries, &["name", "when", "labels"], "a pod");
    let name = required(ctx, node, entries, "name")?;
    let name = template(ctx, name)?;
    let labels = match field(entries, "labels") {
        Some(m) => template_map(ctx, m)?,
        None => Vec::new(),
    };
    Some(PodDesc {
        name,
        when: condition(ctx, entries),
        labels,
    })
}

fn required<'n>(
    ctx: &mut Ctx,
    node: &Node,
    entries: &'n [(crate::tree::Key, Node)],
    key: &str,
) -> Option<&'n Node> {
    let found = field(entries, key);
    if found.is_none() {
        ctx.error(node, CODE, format!("`{key}` is required here"));
    }
    found
}

fn required_str(
    ctx: &mut Ctx,
    node: &Node,
    entries: &[(crate::tree::Key, Node)],
    key: &str,
) -> Option<String> {
    let n = required(ctx, node, entries, key)?;
    ctx.str(n, key).map(str::to_string)
}

/// A scalar as template text: numbers are written as they read.
fn template(ctx: &mut Ctx, node: &Node) -> Option<Template> {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => {
            ctx.error(node, CODE, "expected a string or a number");
            return None;
        }
    };
    Template::parse(&text)
        .map_err(|e| ctx.error(node, CODE, e))
        .ok()
}

fn template_map(ctx: &mut Ctx, node: &Node) -> Option<Vec<(String, Template)>> {
    let entries = ctx.map(node, "a map of labels")?;
    let mut out = Vec::new();
    for (k, v) in entries {
        out.push((k.name.clone(), template(ctx, v)?));
    }
    Some(out)
}

fn optional_path(ctx: &mut Ctx, entries: &[(crate::tree::Key, Node)], key: &str) -> Option<Path> {
    let node = field(entries, key)?;
    let text = ctx.str(node, key)?;
    Path::parse(text).map_err(|e| ctx.error(node, CODE, e)).ok()
}

/// `when`: one clause, or a list of clauses that must all hold.
fn condition(ctx: &mut Ctx, entries: &[(crate::tree::Key, Node)]) -> Condition {
    let Some(node) = field(entries, "when") else {
        return Condition::default();
    };
    let clauses: Vec<&str> = match &node.value {
        Value::Str(s) => vec![s.as_str()],
        Value::Seq(items) if items.iter().all(|i| i.as_str().is_some()) => {
            items.iter().filter_map(Node::as_str).collect()
        }
        _ => {
            ctx.error(node, CODE, "`when` is a condition or a list of conditions");
            return Condition::default();
        }
    };
    Condition::parse(&clauses)
        .map_err(|e| ctx.error(node, CODE, e))
        .unwrap_or_default()
}
