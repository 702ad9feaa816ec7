//! Which kinds are read and how, by kind and apiVersion: each reader takes the kinds it
//! knows and declines the rest, and every kind that changes connectivity but is not
//! modelled is reported, never dropped silently.

use super::ctx::Ctx;
use super::{
    CONTROLLER_KINDS, Decoded, KUSTOMIZE_HINT, Object, UNMODELLED_POLICY_KINDS, calico,
    calico_sets, cilium, endpoint_slice, mesh, meta, policy, shape, tier, tier_peers, workloads,
};
use crate::tree::Node;

/// One object being decoded, once its kind and apiVersion are known.
pub(super) struct Document<'d, 'c> {
    pub ctx: &'d mut Ctx<'c>,
    pub obj: &'d Node,
    pub kind: &'d str,
    pub api_version: &'d str,
    pub out: &'d mut Decoded,
}

impl Document<'_, '_> {
    /// The object's metadata, read as that of a `kind` (names are required).
    fn meta(&mut self, kind: &str) -> meta::Meta {
        meta::metadata(self.ctx, self.obj, kind, true)
    }

    fn push(&mut self, object: Object) {
        self.out.objects.push(object);
    }

    /// Counts the object as skipped under `key`.
    fn skip(&mut self, key: String) {
        *self.out.skipped.entry(key).or_default() += 1;
    }

    /// Counts the object as skipped under its kind and apiVersion.
    fn skip_version(&mut self) {
        self.skip(format!("{} ({})", self.kind, self.api_version));
    }

    /// A warning at the object.
    fn warn(&mut self, code: &'static str, message: impl Into<String>) {
        self.ctx
            .warning_at(self.obj.line, self.obj.column, code, message);
    }

    /// Reports a document shaped like a policy but filed under another apiVersion or
    /// kind, and reads it as the policy it was meant to be for `lint`; whether it was one.
    pub fn misfiled(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        let Some((intended, keys, at)) = shape::misfiled(obj, kind, api_version) else {
            return false;
        };
        let want = intended.api_versions[0];
        self.ctx.warning_at(at.line, at.column, "wrong-kind", format!(
            "this document looks like a {want} {} (its spec has {}) but says apiVersion `{api_version}`, kind `{kind}`: the API server rejects it or applies something else; did you mean `apiVersion: {want}` and `kind: {}`?",
            intended.kind,
            keys.join(", "),
            intended.kind
        ));
        self.skip_version();
        match intended.kind {
            "NetworkPolicy" => {
                let meta = self.meta("NetworkPolicy");
                if let Some(p) = policy::network_policy(self.ctx, obj, meta) {
                    self.push(Object::Misfiled(p));
                }
            }
            "AuthorizationPolicy" => {
                let meta = self.meta("AuthorizationPolicy");
                self.authorization_policy(meta, true);
            }
            other => {
                self.meta(other);
            }
        }
        true
    }

    /// Reads an Istio AuthorizationPolicy with its metadata, `misfiled` when it was filed
    /// under a wrong apiVersion or kind.
    fn authorization_policy(&mut self, meta: meta::Meta, misfiled: bool) {
        let policy = mesh::authorization_policy(self.ctx, self.obj, meta);
        self.push(Object::AuthorizationPolicy { policy, misfiled });
    }

    /// A `projectcalico.org/v3` policy, Tier or network set; the Calico kinds that change
    /// connectivity but are not modelled are reported with the reason. Other versions
    /// (Calico's `crd.projectcalico.org/v1` storage form) are left to the other readers.
    pub fn calico_object(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        if api_version.starts_with("crd.projectcalico.org/") && calico::POLICY_KINDS.contains(&kind)
        {
            // Calico's storage form, which only Calico itself writes: its names and
            // defaults differ from what users apply.
            self.meta(kind);
            self.warn("unmodelled-policy", format!("{kind} with apiVersion `{api_version}` is Calico's internal storage form, which kubeseg does not read; the results ignore it (export the `{}` objects instead)", calico::API_VERSION));
            self.skip_version();
            return true;
        }
        if api_version != calico::API_VERSION {
            return false;
        }
        if calico::POLICY_KINDS.contains(&kind) {
            let meta = self.meta(kind);
            if let Some(p) = calico::calico_policy(self.ctx, obj, meta, kind) {
                self.push(Object::CalicoPolicy(p));
            }
        } else if kind == "Tier" {
            let meta = self.meta(kind);
            if let Some(t) = calico_sets::tier(self.ctx, obj, meta) {
                self.push(Object::CalicoTier(t));
            }
        } else if matches!(kind, "NetworkSet" | "GlobalNetworkSet") {
            let meta = self.meta(kind);
            if let Some(s) = calico_sets::network_set(self.ctx, obj, meta, kind) {
                self.push(Object::CalicoNetworkSet(s));
            }
        } else if let Some((_, reason)) = calico::UNMODELLED.iter().find(|(k, _)| *k == kind) {
            self.meta(kind);
            self.warn(
                "unmodelled-policy",
                format!(
                    "{kind} ({}) changes connectivity but {reason}; the results ignore it",
                    calico::API_VERSION
                ),
            );
            self.skip(kind.to_string());
        } else {
            return false;
        }
        true
    }

    /// A NetworkPolicy; one under another apiVersion is reported as not modelled.
    pub fn network_policy(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        if kind != "NetworkPolicy" {
            return false;
        }
        if api_version != "networking.k8s.io/v1" {
            // Calico's crd.projectcalico.org/v1 storage form (look-alikes under
            // made-up groups were reported as misfiled; projectcalico.org/v3 was read).
            self.warn("unmodelled-policy", format!("NetworkPolicy with apiVersion `{api_version}` is not a networking.k8s.io/v1 NetworkPolicy; kubeseg does not model it and the results ignore it"));
            self.skip_version();
            return true;
        }
        let meta = self.meta("NetworkPolicy");
        if let Some(p) = policy::network_policy(self.ctx, obj, meta) {
            self.push(Object::NetworkPolicy(p));
        }
        true
    }

    /// A Namespace, Pod, Service, EndpointSlice, Node, pod controller or ServiceAccount.
    pub fn core_object(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        match kind {
            "Namespace" => {
                let meta = self.meta("Namespace");
                let location = self.ctx.at(obj);
                self.push(Object::Namespace {
                    name: meta.name,
                    labels: meta.labels,
                    location,
                });
            }
            "Pod" => {
                let meta = self.meta("Pod");
                let pod = workloads::pod(self.ctx, obj, &meta.name, meta.labels);
                self.push(Object::Pod {
                    namespace: meta.namespace.unwrap_or_else(|| "default".into()),
                    owner: meta.controller,
                    pod,
                });
            }
            "Service" => {
                let meta = self.meta("Service");
                let service = workloads::service(self.ctx, obj, meta);
                self.push(Object::Service(service));
            }
            // Other versions (`v1beta1`, which no current API server serves) are left to
            // `custom_resource`, as every kind kubeseg does not read.
            "EndpointSlice" if api_version == "discovery.k8s.io/v1" => {
                let meta = self.meta("EndpointSlice");
                if let Some(s) = endpoint_slice::endpoint_slice(self.ctx, obj, meta) {
                    self.push(Object::EndpointSlice(s));
                }
            }
            "Node" if api_version == "v1" => {
                let meta = self.meta("Node");
                let node = tier_peers::node(self.ctx, obj, meta);
                self.push(Object::Node(node));
            }
            k if CONTROLLER_KINDS.contains(&k) => self.controller(),
            "ServiceAccount" if api_version == "v1" => {
                let meta = self.meta("ServiceAccount");
                let account = mesh::service_account(self.ctx, obj, meta);
                self.push(Object::ServiceAccount(account));
            }
            _ => return false,
        }
        true
    }

    /// A pod controller, standing for its pods by its template.
    fn controller(&mut self) {
        let (obj, kind) = (self.obj, self.kind);
        let meta = self.meta(kind);
        let template = workloads::template(kind, obj).map(|t| {
            let labels = workloads::template_labels(self.ctx, t);
            workloads::pod(self.ctx, t, &meta.name, labels)
        });
        let template = template.map(|mut t| {
            t.location = Some(self.ctx.at(obj));
            t
        });
        let location = self.ctx.at(obj);
        self.push(Object::Controller {
            kind: kind.to_string(),
            namespace: meta.namespace.unwrap_or_else(|| "default".into()),
            name: meta.name,
            owner: meta.controller,
            template,
            location,
        });
    }

    /// An Ingress, a Gateway API route, an Istio VirtualService, or a Gateway.
    pub fn route(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        match kind {
            "Ingress" if api_version == "networking.k8s.io/v1" => {
                let meta = self.meta("Ingress");
                let route = workloads::ingress(self.ctx, obj, meta);
                self.push(Object::Route(route));
            }
            "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute" | "UDPRoute"
                if api_version.starts_with("gateway.networking.k8s.io/") =>
            {
                let meta = self.meta(kind);
                let route = workloads::http_route(self.ctx, obj, meta, kind);
                self.push(Object::Route(route));
            }
            "VirtualService" if api_version.starts_with("networking.istio.io/") => {
                let meta = self.meta("VirtualService");
                if let Some(r) = workloads::virtual_service(self.ctx, obj, meta) {
                    self.push(Object::Route(r));
                }
            }
            // A Gateway exposes what the routes bound to it name (read above); the gateway
            // pods themselves are exposed by their own Service.
            "Gateway"
                if api_version.starts_with("networking.istio.io/")
                    || api_version.starts_with("gateway.networking.k8s.io/") =>
            {
                self.meta("Gateway");
            }
            _ => return false,
        }
        true
    }

    /// An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy of a
    /// modelled version; another version of one is reported as not modelled (Antrea's
    /// ClusterNetworkPolicy is left to `unmodelled_policy`).
    pub fn tiered_policy(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        if !matches!(
            kind,
            "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy"
        ) {
            return false;
        }
        if let Some(flavor) = tier::Flavor::of(kind, api_version) {
            let meta = self.meta(kind);
            if let Some(p) = tier::cluster_policy(self.ctx, obj, meta, flavor) {
                self.push(Object::ClusterPolicy(p));
            }
            return true;
        }
        if kind == "ClusterNetworkPolicy" && !api_version.starts_with("policy.networking.k8s.io/") {
            return false;
        }
        self.meta(kind);
        let want = if kind == "ClusterNetworkPolicy" {
            "policy.networking.k8s.io/v1alpha2"
        } else {
            "policy.networking.k8s.io/v1alpha1"
        };
        self.warn("unmodelled-policy", format!("{kind} with apiVersion `{api_version}` changes connectivity but kubeseg models only `{want}` {kind}; the results ignore it"));
        self.skip_version();
        true
    }

    /// A `cilium.io/v2` CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy; another
    /// version of one is reported as not modelled.
    pub fn cilium_policy(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        if !cilium::KINDS.contains(&kind) {
            return false;
        }
        let meta = self.meta(kind);
        if api_version != "cilium.io/v2" {
            self.warn("unmodelled-policy", format!("{kind} with apiVersion `{api_version}` changes connectivity but kubeseg models only `cilium.io/v2` {kind}; the results ignore it"));
            self.skip_version();
            return true;
        }
        if let Some(p) = cilium::cilium_policy(self.ctx, obj, meta, kind) {
            self.push(Object::CiliumPolicy(p));
        }
        true
    }

    /// An Istio AuthorizationPolicy or PeerAuthentication of a modelled version.
    pub fn mesh_object(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        if !matches!(
            api_version,
            "security.istio.io/v1" | "security.istio.io/v1beta1"
        ) {
            return false;
        }
        match kind {
            "AuthorizationPolicy" => {
                let meta = self.meta("AuthorizationPolicy");
                self.authorization_policy(meta, false);
            }
            "PeerAuthentication" => {
                let meta = self.meta("PeerAuthentication");
                let p = mesh::peer_authentication(self.ctx, obj, meta);
                self.push(Object::PeerAuthentication(p));
            }
            _ => return false,
        }
        true
    }

    /// A kustomization, which kubeseg does not render: reported with how to render it.
    pub fn kustomization(&mut self) -> bool {
        if !matches!(self.kind, "Kustomization" | "Component")
            || !self.api_version.starts_with("kustomize.config.k8s.io/")
        {
            return false;
        }
        self.warn("kustomize-tree", KUSTOMIZE_HINT);
        self.skip(self.kind.to_string());
        true
    }

    /// A policy kind that changes connectivity but is not modelled: reported. Istio's
    /// other versions are still read.
    pub fn unmodelled_policy(&mut self) -> bool {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        if !UNMODELLED_POLICY_KINDS.contains(&kind) {
            return false;
        }
        // The API server checks the name of every object, modelled or not.
        let meta = self.meta(kind);
        if api_version.starts_with("security.istio.io/") {
            match kind {
                "AuthorizationPolicy" => self.authorization_policy(meta, false),
                "PeerAuthentication" => {
                    let p = mesh::peer_authentication(self.ctx, obj, meta);
                    self.push(Object::PeerAuthentication(p));
                }
                _ => {}
            }
        }
        self.warn("unmodelled-policy", format!("{kind} ({api_version}) changes connectivity but is not modelled by this version of kubeseg; the results ignore it"));
        self.skip(kind.to_string());
        true
    }

    /// Any other kind: a custom resource an operator description covers is expanded into
    /// what the operator creates; the rest is skipped, with a warning when it looks like
    /// it makes pods run.
    pub fn custom_resource(&mut self) {
        let (obj, kind, api_version) = (self.obj, self.kind, self.api_version);
        let catalog = self
            .ctx
            .operators
            .clone()
            .unwrap_or_else(crate::operators::Catalog::builtin);
        if let Some(op) = catalog.find(api_version, kind) {
            let meta = self.meta(kind);
            let namespace = meta.namespace.unwrap_or_else(|| "default".into());
            let expanded = crate::operators::expand(self.ctx, op, obj, &meta.name, &namespace);
            self.out
                .objects
                .extend(expanded.into_iter().map(|o| Object::Expanded(Box::new(o))));
            return;
        }
        if crate::operators::looks_like_a_workload(api_version, obj) {
            self.warn("unexpanded-workload", format!(
                "{kind} ({api_version}) looks like it makes an operator run pods, but no operator description covers it: the results leave those pods out; describe them with --operators FILE (see the README)"
            ));
        }
        self.skip(kind.to_string());
    }
}
