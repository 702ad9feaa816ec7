//! Document trees into typed objects, with every problem reported at its position.

mod calico;
mod calico_entity;
mod calico_ports;
mod calico_rules;
mod calico_sets;
mod calico_values;
mod cilium;
mod cilium_peers;
mod cilium_ports;
mod cilium_selector;
mod cilium_services;
pub mod ctx;
mod endpoint_slice;
mod ignore;
mod kinds;
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
    /// A `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice(kubeseg_model::EndpointSlice),
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
    /// A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy.
    CiliumPolicy(kubeseg_model::CiliumPolicy),
    /// A Calico NetworkPolicy, GlobalNetworkPolicy or staged one.
    CalicoPolicy(kubeseg_model::CalicoPolicy),
    /// A Calico Tier.
    CalicoTier(kubeseg_model::CalicoTier),
    /// A Calico NetworkSet or GlobalNetworkSet.
    CalicoNetworkSet(kubeseg_model::CalicoNetworkSet),
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
            Object::EndpointSlice(s) => {
                ("EndpointSlice", &s.namespace, &s.name, s.location.as_ref())
            }
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
            Object::CiliumPolicy(p) => (&p.kind, &p.namespace, &p.name, p.location.as_ref()),
            // Calico's NetworkPolicy shares its kind with the Kubernetes one.
            Object::CalicoPolicy(p) => (
                calico_identity_kind(&p.kind),
                &p.namespace,
                &p.name,
                p.location.as_ref(),
            ),
            Object::CalicoTier(t) => ("Tier", "", &t.name, t.location.as_ref()),
            Object::CalicoNetworkSet(s) => (&s.kind, &s.namespace, &s.name, s.location.as_ref()),
            Object::Node(n) => ("Node", "", &n.name, n.location.as_ref()),
            Object::ServiceAccount(a) => {
                ("ServiceAccount", &a.namespace, &a.name, a.location.as_ref())
            }
        })
    }
}

/// The kind that names a Calico policy in [`Object::identity`]: Calico's NetworkPolicy
/// is told apart from the Kubernetes one by its group.
fn calico_identity_kind(kind: &str) -> &str {
    if kind == "NetworkPolicy" {
        "NetworkPolicy.projectcalico.org"
    } else {
        kind
    }
}

/// What one file held.
#[derive(Clone, Debug, Default)]
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
/// `policy.networking.k8s.io/v1alpha2` one is modelled. GlobalNetworkPolicy is read
/// under `projectcalico.org/v3`; this catches its other versions, such as Calico's
/// `crd.projectcalico.org/v1` storage form.)
const UNMODELLED_POLICY_KINDS: &[&str] = &[
    "AuthorizationPolicy",
    "PeerAuthentication",
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
    let Some(kind) = object_kind(ctx, obj, entries, item_kind) else {
        return;
    };
    let api_version = api_version_of(obj, &kind, item_kind.is_some());
    if kind == "List" || (kind.ends_with("List") && obj.get("items").is_some()) {
        decode_list_items(ctx, obj, &kind, out);
        return;
    }
    out.documents += 1;
    let mut doc = kinds::Document {
        ctx,
        obj,
        kind: &kind,
        api_version,
        out,
    };
    if doc.misfiled() {
        return;
    }
    if let Some(i) = ignore::ignore(doc.ctx, obj, &kind) {
        doc.out.objects.push(Object::Ignore(i));
    }
    // Each reader takes only the kinds and apiVersions it knows and leaves the rest to
    // the next. Order matters where two share a kind: the modelled versions of the
    // tiered and Istio kinds are read before `unmodelled_policy` reports the others.
    let read = doc.calico_object()
        || doc.network_policy()
        || doc.core_object()
        || doc.route()
        || doc.tiered_policy()
        || doc.cilium_policy()
        || doc.mesh_object()
        || doc.kustomization()
        || doc.unmodelled_policy();
    if !read {
        doc.custom_resource();
    }
}

/// The object's `kind`, or for an item of a typed list without one, the list's; `None`
/// (with an error) when there is none.
fn object_kind(
    ctx: &mut Ctx,
    obj: &Node,
    entries: &[(crate::tree::Key, Node)],
    item_kind: Option<&str>,
) -> Option<String> {
    match ctx::field(entries, "kind") {
        Some(k) => ctx.str(k, "kind").map(str::to_string),
        None if item_kind.is_some() => Some(item_kind.unwrap_or_default().to_string()),
        None => {
            ctx.error(
                obj,
                "missing-kind",
                "document has no `kind`: it is not a Kubernetes object",
            );
            None
        }
    }
}

/// The object's `apiVersion`; for an item of a typed list (`typed_item`), which may omit
/// it, the one the list's kind implies.
fn api_version_of<'n>(obj: &'n Node, kind: &str, typed_item: bool) -> &'n str {
    let implied_version = match (kind, typed_item) {
        ("NetworkPolicy", true) => "networking.k8s.io/v1",
        ("Node", true) => "v1",
        ("AdminNetworkPolicy" | "BaselineAdminNetworkPolicy", true) => {
            "policy.networking.k8s.io/v1alpha1"
        }
        _ => "",
    };
    obj.get("apiVersion")
        .and_then(Node::as_str)
        .unwrap_or(implied_version)
}

/// Decodes the items of a List or typed list (`PodList`: its items are Pods).
fn decode_list_items(ctx: &mut Ctx, obj: &Node, kind: &str, out: &mut Decoded) {
    let implied = kind.strip_suffix("List").filter(|k| !k.is_empty());
    if let Some(items) = obj.get("items") {
        for item in ctx.seq(items, "items").unwrap_or_default() {
            decode_object(ctx, item, implied, out);
        }
    }
}
