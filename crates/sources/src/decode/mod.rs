//! Document trees into typed objects, with every problem reported at its position.

pub mod ctx;
mod ignore;
mod mesh;
mod meta;
mod policy;
pub mod shape;
mod tier;
mod tier_peers;
mod tier_ports;
mod workloads;

use crate::tree::Node;
use ctx::Ctx;
use kubeseg_model::{
    AuthorizationPolicy, Labels, NetworkPolicy, PeerAuthentication, Pod, Route, Service,
};
pub use meta::labels;
use std::collections::BTreeMap;

/// An object of a kind kubeseg models.
#[derive(Clone, Debug)]
pub enum Object {
    /// A Namespace.
    Namespace {
        /// Its name.
        name: String,
        /// Its labels as written.
        labels: Labels,
        /// Where it is.
        location: kubeseg_model::Location,
    },
    /// A Pod, with its controller owner if any.
    Pod {
        /// Its namespace.
        namespace: String,
        /// The controller ownerReference: (kind, name).
        owner: Option<(String, String)>,
        /// The pod.
        pod: Pod,
    },
    /// A pod controller (Deployment, ReplicaSet, ...).
    Controller {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its own controller ownerReference: (kind, name).
        owner: Option<(String, String)>,
        /// Its pod template.
        template: Option<Pod>,
        /// Where it is.
        location: kubeseg_model::Location,
    },
    /// A Service.
    Service(Service),
    /// A NetworkPolicy.
    NetworkPolicy(NetworkPolicy),
    /// An Ingress or HTTPRoute.
    Route(Route),
    /// A document shaped like a NetworkPolicy under another apiVersion or kind: not
    /// part of the cluster, read as the policy it was meant to be for `lint`.
    Misfiled(NetworkPolicy),
    /// An Istio AuthorizationPolicy; `misfiled` when its apiVersion or kind is wrong.
    AuthorizationPolicy {
        /// The policy.
        policy: AuthorizationPolicy,
        /// Whether it was filed under a wrong apiVersion or kind.
        misfiled: bool,
    },
    /// An Istio PeerAuthentication.
    PeerAuthentication(PeerAuthentication),
    /// An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy.
    ClusterPolicy(kubeseg_model::ClusterPolicy),
    /// A Node.
    Node(kubeseg_model::Node),
    /// A ServiceAccount.
    ServiceAccount(kubeseg_model::ServiceAccount),
    /// A `kubeseg.io/ignore` annotation of the object decoded just before it.
    Ignore(kubeseg_model::Ignore),
    /// An object an operator creates from a custom resource, as its description says:
    /// a real object of the same identity in the input (a live export) replaces it, and
    /// real pods of the same owner replace its pods (`assemble::expanded_or_real`).
    Expanded(Box<Object>),
}

impl Object {
    /// What names the object in a cluster, which holds one object per name:
    /// `(kind, namespace, name)` (namespace empty for cluster-scoped kinds; each
    /// modelled kind belongs to one API group, so the kind stands for the group too),
    /// and where it is. `None` for misfiled documents, which are never in the cluster.
    pub fn identity(&self) -> Option<(&str, &str, &str, Option<&kubeseg_model::Location>)> {
        Some(match self {
            Object::Namespace { name, location, .. } => ("Namespace", "", name, Some(location)),
            Object::Pod { namespace, pod, .. } => {
                ("Pod", namespace, &pod.name, pod.location.as_ref())
            }
            Object::Controller {
                kind,
                namespace,
                name,
                location,
                ..
            } => (kind, namespace, name, Some(location)),
            Object::Service(s) => ("Service", &s.namespace, &s.name, s.location.as_ref()),
            Object::NetworkPolicy(p) => {
                ("NetworkPolicy", &p.namespace, &p.name, p.location.as_ref())
            }
            Object::Route(r) => (&r.kind, &r.namespace, &r.name, r.location.as_ref()),
            Object::Misfiled(_)
            | Object::AuthorizationPolicy { misfiled: true, .. }
            | Object::Ignore(_)
            | Object::Expanded(_) => {
                return None;
            }
            Object::AuthorizationPolicy { policy: p, .. } => (
                "AuthorizationPolicy",
                &p.namespace,
                &p.name,
                p.location.as_ref(),
            ),
            Object::PeerAuthentication(p) => (
                "PeerAuthentication",
                &p.namespace,
                &p.name,
                p.location.as_ref(),
            ),
            Object::ClusterPolicy(p) => (&p.kind, "", &p.name, p.location.as_ref()),
            Object::Node(n) => ("Node", "", &n.name, n.location.as_ref()),
            Object::ServiceAccount(a) => {
                ("ServiceAccount", &a.namespace, &a.name, a.location.as_ref())
            }
        })
    }
}

/// What one file held.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The objects read.
    pub objects: Vec<Object>,
    /// How many objects of each kind kubeseg does not model were skipped.
    pub skipped: BTreeMap<String, usize>,
    /// Number of documents (List items count individually).
    pub documents: usize,
}

/// Pod controllers whose pods fold into them.
pub const CONTROLLER_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// Policy kinds that change connectivity but that this version does not model: never dropped silently.
/// (ClusterNetworkPolicy here is Antrea's, `crd.antrea.io`; the
/// `policy.networking.k8s.io/v1alpha2` one is modelled.)
const UNMODELLED_POLICY_KINDS: &[&str] = &[
    "AuthorizationPolicy",
    "PeerAuthentication",
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "GlobalNetworkPolicy",
    "AntreaNetworkPolicy",
    "ClusterNetworkPolicy",
];

/// What a kustomization file in the input means for the answer.
pub const KUSTOMIZE_HINT: &str = "this is a kustomization: kubeseg reads the files beside it as they are, without its patches, overlays, namespace, name prefixes or generated objects; render it first (`kustomize build DIR | kubeseg audit -`, or `kubectl kustomize DIR`)";

/// Decodes the documents of one file.
pub fn decode_documents(ctx: &mut Ctx, docs: &[Node]) -> Decoded {
    let mut out = Decoded::default();
    for doc in docs {
        decode_document(ctx, doc, &mut out);
    }
    out
}

/// Decodes one document: an object, a List, or a bare list of objects.
pub fn decode_document(ctx: &mut Ctx, doc: &Node, out: &mut Decoded) {
    match &doc.value {
        // A bare list of objects, as some tools write: read it like a List.
        crate::tree::Value::Seq(items) => {
            for item in items {
                decode_object(ctx, item, None, out);
            }
        }
        _ => decode_object(ctx, doc, None, out),
    }
}

/// Decodes one object; `item_kind` is the kind implied by a typed list (`PodList` → `Pod`),
/// whose items `kubectl` prints without `kind`.
pub fn decode_object(ctx: &mut Ctx, obj: &Node, item_kind: Option<&str>, out: &mut Decoded) {
    let Some(entries) = ctx.map(obj, "a Kubernetes object") else {
        return;
    };
    let kind = match ctx::field(entries, "kind") {
        Some(k) => match ctx.str(k, "kind") {
            Some(k) => k.to_string(),
            None => return,
        },
        None if item_kind.is_some() => item_kind.unwrap_or_default().to_string(),
        None => {
            ctx.error(
                obj,
                "missing-kind",
                "document has no `kind`: it is not a Kubernetes object",
            );
            return;
        }
    };
    // Items of a typed list may omit apiVersion: the list's kind implies it.
    let implied_version = match (kind.as_str(), item_kind.is_some()) {
        ("NetworkPolicy", true) => "networking.k8s.io/v1",
        ("Node", true) => "v1",
        ("AdminNetworkPolicy" | "BaselineAdminNetworkPolicy", true) => {
            "policy.networking.k8s.io/v1alpha1"
        }
        _ => "",
    };
    let api_version = obj
        .get("apiVersion")
        .and_then(Node::as_str)
        .unwrap_or(implied_version);
    if kind == "List" || (kind.ends_with("List") && obj.get("items").is_some()) {
        let implied = kind.strip_suffix("List").filter(|k| !k.is_empty());
        if let Some(items) = obj.get("items") {
            for item in ctx.seq(items, "items").unwrap_or_default() {
                decode_object(ctx, item, implied, out);
            }
        }
        return;
    }
    out.documents += 1;
    if let Some((intended, keys, at)) = shape::misfiled(obj, &kind, api_version) {
        let want = intended.api_versions[0];
        ctx.warning_at(at.line, at.column, "wrong-kind", format!(
            "this document looks like a {want} {} (its spec has {}) but says apiVersion `{api_version}`, kind `{kind}`: the API server rejects it or applies something else; did you mean `apiVersion: {want}` and `kind: {}`?",
            intended.kind,
            keys.join(", "),
            intended.kind
        ));
        *out.skipped
            .entry(format!("{kind} ({api_version})"))
            .or_default() += 1;
        if intended.kind == "NetworkPolicy" {
            let meta = meta::metadata(ctx, obj, "NetworkPolicy", true);
            if let Some(p) = policy::network_policy(ctx, obj, meta) {
                out.objects.push(Object::Misfiled(p));
            }
        } else if intended.kind == "AuthorizationPolicy" {
            let meta = meta::metadata(ctx, obj, "AuthorizationPolicy", true);
            out.objects.push(Object::AuthorizationPolicy {
                policy: mesh::authorization_policy(ctx, obj, meta),
                misfiled: true,
            });
        } else {
            meta::metadata(ctx, obj, intended.kind, true);
        }
        return;
    }
    if let Some(i) = ignore::ignore(ctx, obj, &kind) {
        out.objects.push(Object::Ignore(i));
    }
    match kind.as_str() {
        "NetworkPolicy" if api_version != "networking.k8s.io/v1" => {
            // Calico's projectcalico.org/v3 NetworkPolicy (look-alikes under made-up groups
            // were reported above as misfiled).
            ctx.warning_at(obj.line, obj.column, "unmodelled-policy", format!("NetworkPolicy with apiVersion `{api_version}` is not a networking.k8s.io/v1 NetworkPolicy; kubeseg does not model it and the results ignore it"));
            *out.skipped
                .entry(format!("{kind} ({api_version})"))
                .or_default() += 1;
        }
        "NetworkPolicy" => {
            let meta = meta::metadata(ctx, obj, "NetworkPolicy", true);
            if let Some(p) = policy::network_policy(ctx, obj, meta) {
                out.objects.push(Object::NetworkPolicy(p));
            }
        }
        "Namespace" => {
            let meta = meta::metadata(ctx, obj, "Namespace", true);
            out.objects.push(Object::Namespace {
                name: meta.name,
                labels: meta.labels,
                location: ctx.at(obj),
            });
        }
        "Pod" => {
            let meta = meta::metadata(ctx, obj, "Pod", true);
            let pod = workloads::pod(ctx, obj, &meta.name, meta.labels);
            out.objects.push(Object::Pod {
                namespace: meta.namespace.unwrap_or_else(|| "default".into()),
                owner: meta.controller,
                pod,
            });
        }
        "Service" => {
            let meta = meta::metadata(ctx, obj, "Service", true);
            out.objects
                .push(Object::Service(workloads::service(ctx, obj, meta)));
        }
        "Ingress" if api_version == "networking.k8s.io/v1" => {
            let meta = meta::metadata(ctx, obj, "Ingress", true);
            out.objects
                .push(Object::Route(workloads::ingress(ctx, obj, meta)));
        }
        "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute" | "UDPRoute"
            if api_version.starts_with("gateway.networking.k8s.io/") =>
        {
            let meta = meta::metadata(ctx, obj, &kind, true);
            out.objects
                .push(Object::Route(workloads::http_route(ctx, obj, meta, &kind)));
        }
        "VirtualService" if api_version.starts_with("networking.istio.io/") => {
            let meta = meta::metadata(ctx, obj, "VirtualService", true);
            if let Some(r) = workloads::virtual_service(ctx, obj, meta) {
                out.objects.push(Object::Route(r));
            }
        }
        // A Gateway exposes what the routes bound to it name (read above); the gateway
        // pods themselves are exposed by their own Service.
        "Gateway"
            if api_version.starts_with("networking.istio.io/")
                || api_version.starts_with("gateway.networking.k8s.io/") =>
        {
            meta::metadata(ctx, obj, "Gateway", true);
        }
        "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy"
            if let Some(flavor) = tier::Flavor::of(&kind, api_version) =>
        {
            let meta = meta::metadata(ctx, obj, &kind, true);
            if let Some(p) = tier::cluster_policy(ctx, obj, meta, flavor) {
                out.objects.push(Object::ClusterPolicy(p));
            }
        }
        "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy"
            if kind != "ClusterNetworkPolicy"
                || api_version.starts_with("policy.networking.k8s.io/") =>
        {
            // Another version of a tiered kind (Antrea's ClusterNetworkPolicy is below).
            meta::metadata(ctx, obj, &kind, true);
            let want = if kind == "ClusterNetworkPolicy" {
                "policy.networking.k8s.io/v1alpha2"
            } else {
                "policy.networking.k8s.io/v1alpha1"
            };
            ctx.warning_at(obj.line, obj.column, "unmodelled-policy", format!("{kind} with apiVersion `{api_version}` changes connectivity but kubeseg models only `{want}` {kind}; the results ignore it"));
            *out.skipped
                .entry(format!("{kind} ({api_version})"))
                .or_default() += 1;
        }
        "Node" if api_version == "v1" => {
            let meta = meta::metadata(ctx, obj, "Node", true);
            out.objects
                .push(Object::Node(tier_peers::node(ctx, obj, meta)));
        }
        k if CONTROLLER_KINDS.contains(&k) => {
            let meta = meta::metadata(ctx, obj, k, true);
            let template = workloads::template(k, obj).map(|t| {
                let labels = workloads::template_labels(ctx, t);
                workloads::pod(ctx, t, &meta.name, labels)
            });
            let template = template.map(|mut t| {
                t.location = Some(ctx.at(obj));
                t
            });
            out.objects.push(Object::Controller {
                kind: k.to_string(),
                namespace: meta.namespace.unwrap_or_else(|| "default".into()),
                name: meta.name,
                owner: meta.controller,
                template,
                location: ctx.at(obj),
            });
        }
        "AuthorizationPolicy"
            if matches!(
                api_version,
                "security.istio.io/v1" | "security.istio.io/v1beta1"
            ) =>
        {
            let meta = meta::metadata(ctx, obj, "AuthorizationPolicy", true);
            out.objects.push(Object::AuthorizationPolicy {
                policy: mesh::authorization_policy(ctx, obj, meta),
                misfiled: false,
            });
        }
        "PeerAuthentication"
            if matches!(
                api_version,
                "security.istio.io/v1" | "security.istio.io/v1beta1"
            ) =>
        {
            let meta = meta::metadata(ctx, obj, "PeerAuthentication", true);
            out.objects
                .push(Object::PeerAuthentication(mesh::peer_authentication(
                    ctx, obj, meta,
                )));
        }
        "ServiceAccount" if api_version == "v1" => {
            let meta = meta::metadata(ctx, obj, "ServiceAccount", true);
            out.objects
                .push(Object::ServiceAccount(mesh::service_account(
                    ctx, obj, meta,
                )));
        }
        "Kustomization" | "Component" if api_version.starts_with("kustomize.config.k8s.io/") => {
            ctx.warning_at(obj.line, obj.column, "kustomize-tree", KUSTOMIZE_HINT);
            *out.skipped.entry(kind).or_default() += 1;
        }
        k if UNMODELLED_POLICY_KINDS.contains(&k) => {
            // The API server checks the name of every object, modelled or not.
            let meta = meta::metadata(ctx, obj, k, true);
            if api_version.starts_with("security.istio.io/") {
                match k {
                    "AuthorizationPolicy" => out.objects.push(Object::AuthorizationPolicy {
                        policy: mesh::authorization_policy(ctx, obj, meta),
                        misfiled: false,
                    }),
                    "PeerAuthentication" => {
                        out.objects
                            .push(Object::PeerAuthentication(mesh::peer_authentication(
                                ctx, obj, meta,
                            )))
                    }
                    _ => {}
                }
            }
            ctx.warning_at(obj.line, obj.column, "unmodelled-policy", format!("{k} ({api_version}) changes connectivity but is not modelled by this version of kubeseg; the results ignore it"));
            *out.skipped.entry(kind).or_default() += 1;
        }
        _ => {
            let catalog = ctx
                .operators
                .clone()
                .unwrap_or_else(crate::operators::Catalog::builtin);
            if let Some(op) = catalog.find(api_version, &kind) {
                let meta = meta::metadata(ctx, obj, &kind, true);
                let namespace = meta.namespace.unwrap_or_else(|| "default".into());
                let expanded = crate::operators::expand(ctx, op, obj, &meta.name, &namespace);
                out.objects
                    .extend(expanded.into_iter().map(|o| Object::Expanded(Box::new(o))));
            } else {
                if crate::operators::looks_like_a_workload(api_version, obj) {
                    ctx.warning_at(obj.line, obj.column, "unexpanded-workload", format!(
                        "{kind} ({api_version}) looks like it makes an operator run pods, but no operator description covers it: the results leave those pods out; describe them with --operators FILE (see the README)"
                    ));
                }
                *out.skipped.entry(kind).or_default() += 1;
            }
        }
    }
}
