//! Exposure objects the audit reads: Ingress and HTTPRoute backends, Service ports,
//! container images.

use kubeseg_sources::load_str;

#[test]
fn ingress_and_httproute_backends_are_read() {
    let loaded = load_str(
        "routes.yaml",
        r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: web}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: front, port: {name: http}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs:
    - {name: front, port: 80}
    - {name: billing, namespace: pay, port: 443}
    - {name: bucket, kind: Backend, group: example.io}
"#,
    );
    let routes = &loaded.cluster.routes;
    assert_eq!(routes.len(), 2);
    let ingress = routes.iter().find(|r| r.kind == "Ingress").unwrap();
    let names: Vec<(&str, &str)> = ingress
        .backends
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("web", "api"), ("web", "fallback"), ("web", "front")]
    );
    let route = routes.iter().find(|r| r.kind == "HTTPRoute").unwrap();
    let names: Vec<(&str, &str)> = route
        .backends
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    assert_eq!(names, vec![("pay", "billing"), ("web", "front")]);
    // The non-Service backend is not followed, and says so at its line.
    let warning = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "unmodelled-backend")
        .expect("warning");
    assert_eq!(warning.location.as_ref().map(|l| l.line), Some(23));
}

#[test]
fn service_ports_and_images_are_read() {
    let loaded = load_str(
        "svc.yaml",
        r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: http, nodePort: 30080}
  - {port: 53, protocol: UDP, targetPort: 5353}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  initContainers: [{name: init, image: busybox:1.36}]
  containers: [{name: c, image: "docker.io/library/nginx:1.27@sha256:abc"}]
"#,
    );
    let svc = &loaded.cluster.services[0];
    assert_eq!(svc.service_type, "NodePort");
    assert_eq!(svc.ports[0].target.as_deref(), Some("http"));
    assert_eq!(svc.ports[0].node_port, Some(30080));
    assert_eq!(svc.ports[1].protocol, kubeseg_model::Protocol::Udp);
    assert_eq!(svc.ports[1].target.as_deref(), Some("5353"));
    let pod = &loaded.cluster.workloads[0].pods[0];
    assert_eq!(
        pod.images,
        vec![
            "busybox:1.36".to_string(),
            "docker.io/library/nginx:1.27@sha256:abc".to_string()
        ]
    );
}

#[test]
fn gateway_bound_virtual_services_and_gateway_api_routes_name_their_backends() {
    // Istio expands a short host (no dot) in the VirtualService's namespace and takes
    // any other host as written: only the full name names another namespace's Service;
    // `db.data` would need a ServiceEntry (istio.io, VirtualService `host`).
    let loaded = load_str(
        "vs.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: shop}
spec:
  hosts: ["*"]
  gateways: [public]
  http:
  - route:
    - destination: {host: web}
    - destination: {host: api.backend.svc.cluster.local}
  tcp:
  - route:
    - destination: {host: db.data}
  tls:
  - route:
    - destination: {host: payments.example.com}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: internal, namespace: shop}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec: {gatewayClassName: x, listeners: [{name: tls, port: 443, protocol: TLS}]}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: passthrough, namespace: shop}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: secure, port: 443}]}]
"#,
    );
    let routes: Vec<(String, Vec<(String, String)>)> = loaded
        .cluster
        .routes
        .iter()
        .map(|r| (r.id(), r.backends.clone()))
        .collect();
    let pair = |ns: &str, n: &str| (ns.to_string(), n.to_string());
    assert_eq!(
        routes,
        // Sorted by namespace and name.
        vec![
            (
                "VirtualService shop/front".to_string(),
                vec![pair("backend", "api"), pair("shop", "web")]
            ),
            (
                "TLSRoute shop/passthrough".to_string(),
                vec![pair("shop", "secure")]
            ),
        ]
    );
    // The outside host is named, not dropped; the mesh-only VirtualService exposes nothing.
    let warnings: Vec<_> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.location.as_ref().map(|l| l.line)))
        .collect();
    assert_eq!(
        warnings,
        vec![
            ("unmodelled-backend", Some(21)),
            ("unmodelled-backend", Some(24))
        ],
        "{:#?}",
        loaded.diagnostics
    );
}
