//! The Istio layer, one small test per semantic rule: manifests loaded from YAML, each
//! expectation derived by hand from Istio's documentation (AuthorizationPolicy reference
//! and concepts, PeerAuthentication reference, the authz-tcp task, sidecar injection and
//! ambient L4 policy pages), never from kubeseg's output.

use kubeseg_engine::mesh::{
    Dataplane, Decision, MeshOptions, MeshVerdict, Party, Request, evaluate,
};
use kubeseg_model::{Cluster, Pod};
use std::net::IpAddr;

// ---------------------------------------------------------------------------------------
// Helpers

fn load(yaml: &str) -> Cluster {
    let loaded = kubeseg_sources::load_str("mesh.yaml", yaml);
    assert!(
        !loaded.has_errors(),
        "manifests do not load: {:#?}",
        loaded.diagnostics
    );
    loaded.cluster
}

/// The first pod of workload `ns/name`.
fn pod<'c>(cluster: &'c Cluster, id: &str) -> (&'c str, &'c Pod) {
    let (ns, name) = id.split_once('/').unwrap();
    let w = cluster
        .workloads
        .iter()
        .find(|w| w.namespace == ns && w.name == name)
        .unwrap_or_else(|| panic!("no workload {id}"));
    (&w.namespace, &w.pods[0])
}

/// A request: method, path, host (empty string: not given).
fn req(method: &str, path: &str, host: &str) -> Request {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Request {
        method: opt(method),
        path: opt(path),
        host: opt(host),
    }
}

/// The verdict from `from` (`ns/name` or an IP address) to `to` (`ns/name`) on `port`.
fn verdict_with(
    cluster: &Cluster,
    from: &str,
    to: &str,
    port: u16,
    request: &Request,
    options: &MeshOptions,
) -> MeshVerdict {
    let src = match from.parse::<IpAddr>() {
        Ok(ip) => Party::Address(ip),
        Err(_) => {
            let (namespace, pod) = pod(cluster, from);
            Party::Pod { namespace, pod }
        }
    };
    let (dst_ns, dst) = pod(cluster, to);
    evaluate(cluster, src, dst_ns, dst, port, request, options)
}

fn verdict(cluster: &Cluster, from: &str, to: &str, port: u16, request: &Request) -> MeshVerdict {
    verdict_with(cluster, from, to, port, request, &MeshOptions::default())
}

fn any() -> Request {
    Request::default()
}

fn get() -> Request {
    req("GET", "/", "")
}

#[track_caller]
fn allowed(v: &MeshVerdict) {
    assert_eq!(v.decision, Decision::Allowed, "expected allowed: {v:#?}");
}

#[track_caller]
fn denied(v: &MeshVerdict) {
    assert_eq!(v.decision, Decision::Denied, "expected denied: {v:#?}");
}

/// Conditional, with a condition mentioning each of `words`.
#[track_caller]
fn conditional(v: &MeshVerdict, words: &[&str]) {
    let Decision::Conditional(conds) = &v.decision else {
        panic!("expected conditional on {words:?}: {v:#?}");
    };
    let text = conds.join(" ; ");
    for w in words {
        assert!(text.contains(w), "conditions {conds:?} do not mention {w}");
    }
}

/// A Pod: `labels` and `annotations` are YAML flow-map contents.
fn pod_yaml(ns: &str, name: &str, sa: &str, labels: &str, annotations: &str, ip: &str) -> String {
    let sa = if sa.is_empty() {
        String::new()
    } else {
        format!("serviceAccountName: {sa}, ")
    };
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}, {labels}}}, annotations: {{{annotations}}}}}\n\
         spec: {{{sa}containers: [{{name: main, image: app, ports: [{{name: http, containerPort: 8080}}, {{name: db, containerPort: 9000}}]}}]}}\n\
         status: {{podIP: {ip}}}\n"
    )
}

fn ns_yaml(name: &str, labels: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n"
    )
}

/// The base mesh:
/// - `app` (istio-injection=enabled): `server` (sa server, 10.0.0.10), `client` (sa
///   client, 10.0.0.1), `other` (sa other, 10.0.0.2); Service `server` declares 8080 as
///   `http` and 9000 as `tcp-db`.
/// - `other` (istio-injection=enabled): `client` (sa client, 10.0.1.1), `server` (sa
///   server, 10.0.1.10).
/// - `plain` (no injection): `client` (sa client, 10.0.2.1), no sidecar.
/// - `istio-system` (the root namespace), no pods.
fn base() -> String {
    let mut y = String::new();
    y += &ns_yaml("app", "istio-injection: enabled");
    y += &ns_yaml("other", "istio-injection: enabled");
    y += &ns_yaml("plain", "");
    y += &ns_yaml("istio-system", "");
    y += &pod_yaml("app", "server", "server", "", "", "10.0.0.10");
    y += &pod_yaml("app", "client", "client", "", "", "10.0.0.1");
    y += &pod_yaml("app", "other", "other", "", "", "10.0.0.2");
    y += &pod_yaml("other", "client", "client", "", "", "10.0.1.1");
    y += &pod_yaml("other", "server", "server", "", "", "10.0.1.10");
    y += &pod_yaml("plain", "client", "client", "", "", "10.0.2.1");
    y += "---\napiVersion: v1\nkind: Service\nmetadata: {name: server, namespace: app}\n\
          spec:\n  selector: {app: server}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n  - {name: tcp-db, port: 9000, targetPort: 9000}\n";
    y
}

/// The base mesh plus `extra` manifests.
fn mesh(extra: &str) -> Cluster {
    load(&format!("{}---\n{extra}", base()))
}

/// An AuthorizationPolicy on `app/server` (selector app=server) with this spec body
/// (indented two spaces, under `spec:`), in namespace `app`.
fn on_server(spec: &str) -> Cluster {
    mesh(&format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p, namespace: app}}\n\
         spec:\n  selector: {{matchLabels: {{app: server}}}}\n{spec}"
    ))
}

const CLIENT: &str = "cluster.local/ns/app/sa/client";

// ---------------------------------------------------------------------------------------
// The article: the search service accepts only POST from cluster.local/ns/default/sa/1tap.

fn article(extra: &str) -> Cluster {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/mesh/ci-cd.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    load(&format!("{text}\n---\n{extra}"))
}

#[test]
fn article_post_from_1tap_is_allowed_by_the_rule() {
    let c = article("");
    let v = verdict(
        &c,
        "default/ci",
        "default/search",
        8080,
        &req("POST", "", ""),
    );
    allowed(&v);
    assert_eq!(
        v.principal.as_deref(),
        Some("cluster.local/ns/default/sa/1tap")
    );
    assert_eq!(v.dataplanes, (Dataplane::Sidecar, Dataplane::Sidecar));
    assert_eq!(v.mtls.0.as_str(), "PERMISSIVE");
    let ap = c
        .authorization_policies
        .iter()
        .position(|p| p.name == "ci-cd")
        .unwrap();
    assert_eq!(v.deciding, Some((ap, Some(0))));
}

#[test]
fn article_get_from_1tap_is_denied() {
    let c = article("");
    denied(&verdict(
        &c,
        "default/ci",
        "default/search",
        8080,
        &req("GET", "", ""),
    ));
}

#[test]
fn article_without_a_method_is_conditional_on_post() {
    let c = article("");
    let v = verdict(&c, "default/ci", "default/search", 8080, &any());
    conditional(&v, &["request.method", "POST"]);
}

#[test]
fn article_post_from_another_service_account_is_denied() {
    let c = article("");
    let v = verdict(
        &c,
        "default/web",
        "default/search",
        8080,
        &req("POST", "", ""),
    );
    assert_eq!(
        v.principal.as_deref(),
        Some("cluster.local/ns/default/sa/web")
    );
    denied(&v);
}

#[test]
fn article_post_from_a_pod_without_sidecar_is_denied_under_strict() {
    // legacy/batch runs as 1tap too, but `legacy` has no injection label: it sends
    // plaintext, which STRICT mutual TLS rejects.
    let c = article(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n\
         metadata: {name: default, namespace: default}\nspec: {mtls: {mode: STRICT}}\n",
    );
    let v = verdict(
        &c,
        "legacy/batch",
        "default/search",
        8080,
        &req("POST", "", ""),
    );
    assert_eq!(v.dataplanes.0, Dataplane::None);
    assert_eq!(v.mtls.0.as_str(), "STRICT");
    assert_eq!(v.principal, None);
    denied(&v);
}

#[test]
fn article_post_from_a_pod_without_sidecar_is_denied_under_permissive_too() {
    // Plaintext is accepted, but carries no principal, so the rule cannot match.
    let c = article("");
    let v = verdict(
        &c,
        "legacy/batch",
        "default/search",
        8080,
        &req("POST", "", ""),
    );
    assert_eq!(v.principal, None);
    denied(&v);
}

#[test]
fn article_allowed_where_no_authorization_policy_applies() {
    let c = article("");
    // default/web is not selected by ci-cd: any request passes.
    allowed(&verdict(
        &c,
        "default/ci",
        "default/web",
        8080,
        &req("GET", "", ""),
    ));
    allowed(&verdict(&c, "legacy/batch", "default/web", 8080, &any()));
}

// ---------------------------------------------------------------------------------------
// Source fields

#[test]
fn source_principals() {
    let c = on_server(&format!(
        "  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"
    ));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/other", "app/server", 8080, &get()));
    // Same service account name, other namespace: another identity.
    denied(&verdict(&c, "other/client", "app/server", 8080, &get()));
    // Plaintext has no principal.
    denied(&verdict(&c, "plain/client", "app/server", 8080, &get()));
}

#[test]
fn source_not_principals() {
    let c = on_server(&format!(
        "  rules:\n  - from:\n    - source: {{notPrincipals: [\"{CLIENT}\"]}}\n"
    ));
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "app/other", "app/server", 8080, &get()));
    // No principal is not the excluded principal (Envoy: not(authenticated match)).
    allowed(&verdict(&c, "plain/client", "app/server", 8080, &get()));
}

#[test]
fn source_namespaces() {
    let c = on_server("  rules:\n  - from:\n    - source: {namespaces: [other, plain]}\n");
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    // `namespaces` requires mutual TLS: a plaintext source has no namespace.
    denied(&verdict(&c, "plain/client", "app/server", 8080, &get()));
}

#[test]
fn source_not_namespaces() {
    let c = on_server("  rules:\n  - from:\n    - source: {notNamespaces: [other]}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "other/client", "app/server", 8080, &get()));
}

#[test]
fn source_ip_blocks_match_pod_ips() {
    let c =
        on_server("  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.1/32, 10.0.2.0/24]}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get())); // 10.0.0.1
    denied(&verdict(&c, "app/other", "app/server", 8080, &get())); // 10.0.0.2
    // source.ip does not need mutual TLS.
    allowed(&verdict(&c, "plain/client", "app/server", 8080, &get())); // 10.0.2.1
    allowed(&verdict(&c, "10.0.2.7", "app/server", 8080, &get()));
    denied(&verdict(&c, "192.168.1.1", "app/server", 8080, &get()));
}

#[test]
fn source_not_ip_blocks() {
    let c = on_server("  rules:\n  - from:\n    - source: {notIpBlocks: [10.0.0.1]}\n");
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "app/other", "app/server", 8080, &get()));
}

#[test]
fn deny_on_a_single_ip_block() {
    // Istio: "Single IP (e.g. 203.0.113.4) and CIDR (e.g. 203.0.113.0/24) are supported."
    let c =
        on_server("  action: DENY\n  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.1]}\n");
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "app/other", "app/server", 8080, &get()));
}

#[test]
fn source_request_principals_are_conditional() {
    let c = on_server(
        "  rules:\n  - from:\n    - source: {requestPrincipals: [\"https://issuer/*\"]}\n",
    );
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &get()),
        &["request.auth.principal", "https://issuer/*"],
    );
}

#[test]
fn source_remote_ip_blocks_are_conditional() {
    let c = on_server("  rules:\n  - from:\n    - source: {remoteIpBlocks: [203.0.113.0/24]}\n");
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &get()),
        &["remote.ip", "203.0.113.0/24"],
    );
}

#[test]
fn source_fields_are_anded_and_sources_ored() {
    // (principal client AND namespace app) OR namespace other.
    let c = on_server(&format!(
        "  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"], namespaces: [app]}}\n    - source: {{namespaces: [other]}}\n"
    ));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/other", "app/server", 8080, &get()));
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
}

// ---------------------------------------------------------------------------------------
// Operation fields

#[test]
fn operation_hosts() {
    let c = on_server(
        "  rules:\n  - to:\n    - operation: {hosts: [\"server.app.svc.cluster.local\", \"*.example.com\"]}\n",
    );
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", "server.app.svc.cluster.local"),
    ));
    // Host matching is case-insensitive.
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", "API.Example.com"),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", "server"),
    ));
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &req("GET", "/", "")),
        &["request.host"],
    );
}

#[test]
fn operation_not_hosts() {
    let c = on_server("  rules:\n  - to:\n    - operation: {notHosts: [\"admin.example.com\"]}\n");
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", "admin.example.com"),
    ));
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", "www.example.com"),
    ));
}

#[test]
fn operation_ports() {
    let c = on_server("  rules:\n  - to:\n    - operation: {ports: [\"8080\"]}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &any()));
    denied(&verdict(&c, "app/client", "app/server", 9000, &any()));
}

#[test]
fn operation_not_ports() {
    let c = on_server("  rules:\n  - to:\n    - operation: {notPorts: [\"8080\"]}\n");
    denied(&verdict(&c, "app/client", "app/server", 8080, &any()));
    allowed(&verdict(&c, "app/client", "app/server", 9000, &any()));
}

#[test]
fn operation_methods() {
    let c = on_server("  rules:\n  - to:\n    - operation: {methods: [GET, HEAD]}\n");
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("HEAD", "", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("POST", "", ""),
    ));
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &any()),
        &["request.method", "GET"],
    );
}

#[test]
fn operation_not_methods() {
    let c = on_server("  rules:\n  - to:\n    - operation: {notMethods: [DELETE]}\n");
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("DELETE", "", ""),
    ));
}

#[test]
fn operation_paths() {
    let c = on_server("  rules:\n  - to:\n    - operation: {paths: [\"/api/*\"]}\n");
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/api/v1", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/admin", ""),
    ));
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &req("GET", "", "")),
        &["request.path"],
    );
}

#[test]
fn operation_not_paths() {
    let c = on_server("  rules:\n  - to:\n    - operation: {notPaths: [\"/admin/*\"]}\n");
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/admin/users", ""),
    ));
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/api", ""),
    ));
}

#[test]
fn from_and_to_are_anded() {
    let c = on_server(&format!(
        "  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n    to:\n    - operation: {{methods: [GET], paths: [\"/api/*\"]}}\n"
    ));
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/api/x", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/x", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("PUT", "/api/x", ""),
    ));
    denied(&verdict(
        &c,
        "app/other",
        "app/server",
        8080,
        &req("GET", "/api/x", ""),
    ));
}

// ---------------------------------------------------------------------------------------
// Conditions

#[test]
fn when_source_namespace_is_decided() {
    let c = on_server("  rules:\n  - when:\n    - {key: source.namespace, values: [other]}\n");
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    // Plaintext: no source.namespace.
    denied(&verdict(&c, "plain/client", "app/server", 8080, &get()));
}

#[test]
fn when_source_namespace_not_values() {
    let c = on_server("  rules:\n  - when:\n    - {key: source.namespace, notValues: [other]}\n");
    denied(&verdict(&c, "other/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn when_source_ip_takes_cidrs() {
    // Istio's conditions: source.ip "supports single IP or CIDR".
    let c = on_server("  rules:\n  - when:\n    - {key: source.ip, values: [10.0.0.0/24]}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get())); // 10.0.0.1
    denied(&verdict(&c, "other/client", "app/server", 8080, &get())); // 10.0.1.1
}

#[test]
fn when_request_header_is_conditional() {
    let c = on_server(
        "  rules:\n  - when:\n    - {key: \"request.headers[x-token]\", values: [secret]}\n",
    );
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &get()),
        &["request.headers[x-token]", "secret"],
    );
}

#[test]
fn a_decided_rule_beats_a_conditional_one() {
    // Rules are ORed: the second rule matches the client outright.
    let c = on_server(&format!(
        "  rules:\n  - when:\n    - {{key: \"request.headers[x-token]\", values: [secret]}}\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"
    ));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    conditional(
        &verdict(&c, "app/other", "app/server", 8080, &get()),
        &["request.headers[x-token]"],
    );
}

// ---------------------------------------------------------------------------------------
// Match forms

#[test]
fn match_exact() {
    let c = on_server("  rules:\n  - to:\n    - operation: {paths: [/api]}\n");
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/api", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/api/v1", ""),
    ));
}

#[test]
fn match_prefix() {
    let c = on_server(
        "  rules:\n  - from:\n    - source: {principals: [\"cluster.local/ns/other/*\"]}\n",
    );
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn match_suffix() {
    let c = on_server("  rules:\n  - from:\n    - source: {principals: [\"*/sa/client\"]}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/other", "app/server", 8080, &get()));
}

#[test]
fn match_presence_requires_mtls() {
    let c = on_server("  rules:\n  - from:\n    - source: {principals: [\"*\"]}\n");
    allowed(&verdict(&c, "app/other", "app/server", 8080, &get()));
    // Plaintext (PERMISSIVE accepts it) carries no principal: `*` does not match.
    denied(&verdict(&c, "plain/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "10.9.9.9", "app/server", 8080, &get()));
}

// ---------------------------------------------------------------------------------------
// Actions and their order

fn ap(name: &str, ns: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

#[test]
fn deny_beats_allow() {
    let c = mesh(
        &(ap(
            "allow-all",
            "app",
            "  selector: {matchLabels: {app: server}}\n  rules:\n  - {}\n",
        ) + &ap(
            "deny-client",
            "app",
            &format!(
                "  selector: {{matchLabels: {{app: server}}}}\n  action: DENY\n  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"
            ),
        )),
    );
    let v = verdict(&c, "app/client", "app/server", 8080, &get());
    denied(&v);
    let deny = c
        .authorization_policies
        .iter()
        .position(|p| p.name == "deny-client")
        .unwrap();
    assert_eq!(v.deciding, Some((deny, Some(0))));
    allowed(&verdict(&c, "app/other", "app/server", 8080, &get()));
}

#[test]
fn deny_on_an_undecided_attribute_is_conditional() {
    let c = on_server(
        "  action: DENY\n  rules:\n  - when:\n    - {key: \"request.headers[x-debug]\", values: [\"1\"]}\n",
    );
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &get()),
        &["request.headers[x-debug]"],
    );
}

#[test]
fn deny_without_rules_matches_nothing() {
    let c = on_server("  action: DENY\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn audit_has_no_effect() {
    let c = on_server("  action: AUDIT\n  rules:\n  - {}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    // AUDIT does not count as an ALLOW policy: an ALLOW that does not match still denies.
    let c = mesh(
        &(ap(
            "audit",
            "app",
            "  selector: {matchLabels: {app: server}}\n  action: AUDIT\n  rules:\n  - {}\n",
        ) + &ap(
            "allow-other",
            "app",
            "  selector: {matchLabels: {app: server}}\n  rules:\n  - from:\n    - source: {namespaces: [other]}\n",
        )),
    );
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
}

#[test]
fn custom_is_conditional_on_the_external_authorizer() {
    let c = on_server(
        "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - to:\n    - operation: {paths: [\"/admin/*\"]}\n",
    );
    conditional(
        &verdict(
            &c,
            "app/client",
            "app/server",
            8080,
            &req("GET", "/admin/x", ""),
        ),
        &["ext-authz"],
    );
    // The CUSTOM rule does not match: the authorizer is not asked.
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/public", ""),
    ));
}

#[test]
fn custom_comes_before_deny_and_allow_still_applies() {
    // CUSTOM (ask ext-authz), then DENY (decided), then ALLOW.
    let c = mesh(
        &(ap(
            "custom",
            "app",
            "  selector: {matchLabels: {app: server}}\n  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - {}\n",
        ) + &ap(
            "allow-client",
            "app",
            &format!(
                "  selector: {{matchLabels: {{app: server}}}}\n  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"
            ),
        )),
    );
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &get()),
        &["ext-authz"],
    );
    denied(&verdict(&c, "app/other", "app/server", 8080, &get()));
}

#[test]
fn allow_with_empty_spec_denies_all() {
    let c = mesh(&ap("deny-all", "app", "  {}\n"));
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "other/client", "app/server", 9000, &any()));
    // Another namespace is not covered.
    allowed(&verdict(&c, "app/client", "other/server", 8080, &get()));
}

#[test]
fn allow_with_one_empty_rule_allows_all() {
    let c = on_server("  rules:\n  - {}\n");
    allowed(&verdict(&c, "app/client", "app/server", 8080, &any()));
    allowed(&verdict(&c, "plain/client", "app/server", 9000, &any()));
    allowed(&verdict(&c, "192.168.1.1", "app/server", 8080, &any()));
}

#[test]
fn any_allow_policy_suffices() {
    let c = mesh(
        &(ap(
            "a",
            "app",
            "  selector: {matchLabels: {app: server}}\n  rules:\n  - from:\n    - source: {namespaces: [other]}\n",
        ) + &ap(
            "b",
            "app",
            &format!("  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"),
        )),
    );
    allowed(&verdict(&c, "other/client", "app/server", 8080, &get()));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/other", "app/server", 8080, &get()));
}

// ---------------------------------------------------------------------------------------
// PeerAuthentication

fn pa(name: &str, ns: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

#[test]
fn permissive_is_the_default() {
    let c = mesh("");
    let v = verdict(&c, "plain/client", "app/server", 8080, &get());
    assert_eq!(v.mtls, (kubeseg_model::MtlsMode::Permissive, None));
    assert_eq!(v.principal, None);
    allowed(&v);
}

#[test]
fn mesh_strict_overridden_by_namespace_permissive() {
    let c = mesh(
        &(pa("default", "istio-system", "  mtls: {mode: STRICT}\n")
            + &pa("default", "app", "  mtls: {mode: PERMISSIVE}\n")),
    );
    let v = verdict(&c, "plain/client", "app/server", 8080, &get());
    assert_eq!(v.mtls.0.as_str(), "PERMISSIVE");
    allowed(&v);
    // `other` has no namespace policy: the mesh-wide STRICT rejects plaintext.
    let v = verdict(&c, "plain/client", "other/server", 8080, &get());
    assert_eq!(v.mtls.0.as_str(), "STRICT");
    denied(&v);
    // A sidecar source speaks mutual TLS: STRICT accepts it.
    allowed(&verdict(&c, "app/client", "other/server", 8080, &get()));
}

#[test]
fn workload_port_level_strict_on_one_port_only() {
    let c = mesh(&pa(
        "server",
        "app",
        "  selector: {matchLabels: {app: server}}\n  portLevelMtls:\n    9000: {mode: STRICT}\n",
    ));
    let v = verdict(&c, "plain/client", "app/server", 9000, &any());
    assert_eq!(v.mtls.0.as_str(), "STRICT");
    denied(&v);
    let v = verdict(&c, "plain/client", "app/server", 8080, &get());
    assert_eq!(v.mtls.0.as_str(), "PERMISSIVE");
    allowed(&v);
}

#[test]
fn workload_mode_overrides_namespace_strict() {
    let c = mesh(
        &(pa("default", "app", "  mtls: {mode: STRICT}\n")
            + &pa(
                "server",
                "app",
                "  selector: {matchLabels: {app: server}}\n  mtls: {mode: PERMISSIVE}\n",
            )),
    );
    allowed(&verdict(&c, "plain/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "plain/client", "app/client", 8080, &get()));
}

#[test]
fn disable_means_no_principal() {
    let c = mesh(
        &(pa("default", "app", "  mtls: {mode: DISABLE}\n")
            + &ap(
                "p",
                "app",
                &format!(
                    "  selector: {{matchLabels: {{app: server}}}}\n  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"
                ),
            )),
    );
    let v = verdict(&c, "app/client", "app/server", 8080, &get());
    assert_eq!(v.mtls.0.as_str(), "DISABLE");
    assert_eq!(v.principal, None);
    denied(&v);
}

// ---------------------------------------------------------------------------------------
// Sidecar injection and ambient

#[test]
fn injection_by_namespace_label_and_revision() {
    let c = load(
        &(ns_yaml("a", "istio-injection: enabled")
            + &ns_yaml("b", "istio.io/rev: canary")
            + &ns_yaml("c", "")
            + &ns_yaml("d", "istio-injection: disabled")
            + &pod_yaml("a", "x", "", "", "", "10.1.0.1")
            + &pod_yaml("b", "x", "", "", "", "10.1.0.2")
            + &pod_yaml("c", "x", "", "", "", "10.1.0.3")
            + &pod_yaml("d", "x", "", "", "", "10.1.0.4")),
    );
    let plane = |id| {
        let (ns, p) = pod(&c, id);
        kubeseg_engine::mesh::dataplane(&c, ns, p)
    };
    assert_eq!(plane("a/x"), Dataplane::Sidecar);
    assert_eq!(plane("b/x"), Dataplane::Sidecar);
    assert_eq!(plane("c/x"), Dataplane::None);
    assert_eq!(plane("d/x"), Dataplane::None);
}

#[test]
fn pod_label_overrides_the_namespace() {
    let c = load(
        &(ns_yaml("inj", "istio-injection: enabled")
            + &ns_yaml("noinj", "")
            + &ns_yaml("disabled", "istio-injection: disabled")
            + &pod_yaml(
                "inj",
                "optout",
                "",
                "sidecar.istio.io/inject: \"false\"",
                "",
                "10.1.0.1",
            )
            + &pod_yaml(
                "noinj",
                "optin",
                "",
                "sidecar.istio.io/inject: \"true\"",
                "",
                "10.1.0.2",
            )
            + &pod_yaml(
                "disabled",
                "optin",
                "",
                "sidecar.istio.io/inject: \"true\"",
                "",
                "10.1.0.3",
            )
            + &pod_yaml("inj", "client", "", "", "", "10.1.0.4")
            + &ap("deny-all", "inj", "  {}\n")),
    );
    let plane = |id| {
        let (ns, p) = pod(&c, id);
        kubeseg_engine::mesh::dataplane(&c, ns, p)
    };
    assert_eq!(plane("inj/optout"), Dataplane::None);
    assert_eq!(plane("noinj/optin"), Dataplane::Sidecar);
    // Either label disabled: not injected.
    assert_eq!(plane("disabled/optin"), Dataplane::None);
    // A destination without sidecar enforces nothing: the deny-all policy is unenforced.
    let v = verdict(&c, "inj/client", "inj/optout", 8080, &get());
    allowed(&v);
    assert_eq!(v.unenforced.len(), 1);
    denied(&verdict(&c, "noinj/optin", "inj/client", 8080, &get()));
}

#[test]
fn annotation_opts_out_in_an_enabled_namespace() {
    let c = load(
        &(ns_yaml("inj", "istio-injection: enabled")
            + &pod_yaml(
                "inj",
                "legacy",
                "legacy",
                "",
                "sidecar.istio.io/inject: \"false\"",
                "10.1.0.1",
            )
            + &pod_yaml("inj", "server", "server", "", "", "10.1.0.2")
            + &pa("default", "inj", "  mtls: {mode: STRICT}\n")),
    );
    let (ns, p) = pod(&c, "inj/legacy");
    assert_eq!(kubeseg_engine::mesh::dataplane(&c, ns, p), Dataplane::None);
    // As a source it sends plaintext, which STRICT rejects.
    let v = verdict(&c, "inj/legacy", "inj/server", 8080, &get());
    assert_eq!(v.principal, None);
    denied(&v);
}

fn ambient(extra: &str) -> Cluster {
    load(
        &(ns_yaml("amb", "istio.io/dataplane-mode: ambient")
            + &pod_yaml("amb", "server", "server", "", "", "10.2.0.10")
            + &pod_yaml("amb", "client", "client", "", "", "10.2.0.1")
            + &pod_yaml(
                "amb",
                "outside",
                "outside",
                "istio.io/dataplane-mode: none",
                "",
                "10.2.0.2",
            )
            + extra),
    )
}

#[test]
fn ambient_enforces_l4_fields() {
    let c = ambient(&ap(
        "p",
        "amb",
        "  selector: {matchLabels: {app: server}}\n  rules:\n  - from:\n    - source: {principals: [\"cluster.local/ns/amb/sa/client\"]}\n",
    ));
    let v = verdict(&c, "amb/client", "amb/server", 8080, &get());
    assert_eq!(v.dataplanes, (Dataplane::Ambient, Dataplane::Ambient));
    assert_eq!(
        v.principal.as_deref(),
        Some("cluster.local/ns/amb/sa/client")
    );
    allowed(&v);
    // The opted-out pod has no proxy: plaintext, no principal.
    let v = verdict(&c, "amb/outside", "amb/server", 8080, &get());
    assert_eq!(v.dataplanes.0, Dataplane::None);
    denied(&v);
}

#[test]
fn ambient_without_waypoint_never_matches_l7_allow_rules() {
    // ztunnel cannot see methods: the ALLOW rule using them cannot match.
    let c = ambient(&ap(
        "p",
        "amb",
        "  selector: {matchLabels: {app: server}}\n  rules:\n  - to:\n    - operation: {methods: [GET]}\n",
    ));
    denied(&verdict(
        &c,
        "amb/client",
        "amb/server",
        8080,
        &req("GET", "/", ""),
    ));
}

// ---------------------------------------------------------------------------------------
// Root namespace

#[test]
fn root_namespace_policy_without_selector_is_mesh_wide() {
    let c = mesh(&ap(
        "deny-other",
        "istio-system",
        "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [other]}\n",
    ));
    denied(&verdict(&c, "other/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "other/client", "app/client", 8080, &get()));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn root_namespace_policy_with_selector_applies_in_every_namespace() {
    let c = mesh(&ap(
        "servers",
        "istio-system",
        &format!(
            "  selector: {{matchLabels: {{app: server}}}}\n  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n"
        ),
    ));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/other", "app/server", 8080, &get()));
    denied(&verdict(&c, "app/other", "other/server", 8080, &get()));
    // Not selected.
    allowed(&verdict(&c, "app/other", "other/client", 8080, &get()));
}

#[test]
fn a_namespace_policy_without_selector_stays_in_its_namespace() {
    let c = mesh(&ap("deny-all", "other", "  {}\n"));
    denied(&verdict(&c, "app/client", "other/server", 8080, &get()));
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn the_root_namespace_is_an_option() {
    let c = mesh(&(ns_yaml("mesh-root", "") + &ap("deny-all", "mesh-root", "  {}\n")));
    let options = MeshOptions {
        root_namespace: "mesh-root".into(),
        ..MeshOptions::default()
    };
    denied(&verdict_with(
        &c,
        "app/client",
        "app/server",
        8080,
        &get(),
        &options,
    ));
    // With the default root, mesh-root is an ordinary namespace.
    allowed(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn the_trust_domain_is_an_option() {
    let c = on_server(
        "  rules:\n  - from:\n    - source: {principals: [\"example.org/ns/app/sa/client\"]}\n",
    );
    let options = MeshOptions {
        trust_domain: "example.org".into(),
        ..MeshOptions::default()
    };
    let v = verdict_with(&c, "app/client", "app/server", 8080, &get(), &options);
    assert_eq!(v.principal.as_deref(), Some("example.org/ns/app/sa/client"));
    allowed(&v);
    denied(&verdict(&c, "app/client", "app/server", 8080, &get()));
}

#[test]
fn the_default_service_account() {
    let c = load(
        &(ns_yaml("inj", "istio-injection: enabled")
            + &pod_yaml("inj", "anon", "", "", "", "10.1.0.1")
            + &pod_yaml("inj", "server", "server", "", "", "10.1.0.2")),
    );
    let v = verdict(&c, "inj/anon", "inj/server", 8080, &get());
    assert_eq!(
        v.principal.as_deref(),
        Some("cluster.local/ns/inj/sa/default")
    );
}

// ---------------------------------------------------------------------------------------
// HTTP-only fields on a TCP port (authz-tcp task)

#[test]
fn allow_rule_with_http_fields_never_matches_on_tcp() {
    let c = on_server(
        "  rules:\n  - to:\n    - operation: {ports: [\"9000\", \"8080\"], methods: [GET]}\n",
    );
    // 9000 is declared `tcp-db`: the rule cannot match, even for a GET.
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        9000,
        &req("GET", "/", ""),
    ));
    // 8080 is `http`: it matches.
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", ""),
    ));
}

#[test]
fn deny_rule_ignores_http_fields_on_tcp() {
    let c = on_server(&format!(
        "  action: DENY\n  rules:\n  - from:\n    - source: {{principals: [\"{CLIENT}\"]}}\n    to:\n    - operation: {{methods: [POST]}}\n"
    ));
    // On TCP the methods are ignored: everything from the client is denied.
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        9000,
        &req("GET", "/", ""),
    ));
    denied(&verdict(&c, "app/client", "app/server", 9000, &any()));
    // On HTTP only POST is.
    allowed(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("GET", "/", ""),
    ));
    denied(&verdict(
        &c,
        "app/client",
        "app/server",
        8080,
        &req("POST", "/", ""),
    ));
    // Not the client: not denied.
    allowed(&verdict(&c, "app/other", "app/server", 9000, &any()));
}

#[test]
fn deny_rule_ignores_request_conditions_on_tcp() {
    let c = on_server(
        "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [app]}\n    when:\n    - {key: \"request.headers[x-debug]\", values: [\"1\"]}\n",
    );
    denied(&verdict(&c, "app/client", "app/server", 9000, &any()));
    conditional(
        &verdict(&c, "app/client", "app/server", 8080, &any()),
        &["request.headers[x-debug]"],
    );
}

#[test]
fn allow_rule_with_request_principals_never_matches_on_tcp() {
    let c = on_server("  rules:\n  - from:\n    - source: {requestPrincipals: [\"*\"]}\n");
    denied(&verdict(&c, "app/client", "app/server", 9000, &any()));
}

#[test]
fn app_protocol_tcp_makes_a_port_tcp() {
    let c = load(
        &(ns_yaml("inj", "istio-injection: enabled")
            + &pod_yaml("inj", "server", "server", "", "", "10.1.0.2")
            + &pod_yaml("inj", "client", "client", "", "", "10.1.0.1")
            + "---\napiVersion: v1\nkind: Service\nmetadata: {name: server, namespace: inj}\n\
           spec:\n  selector: {app: server}\n  ports:\n  - {name: web, port: 80, targetPort: 8080, appProtocol: tcp}\n"
            + &ap(
                "p",
                "inj",
                "  selector: {matchLabels: {app: server}}\n  rules:\n  - to:\n    - operation: {methods: [GET]}\n",
            )),
    );
    denied(&verdict(
        &c,
        "inj/client",
        "inj/server",
        8080,
        &req("GET", "/", ""),
    ));
}

#[test]
fn a_port_name_without_a_known_protocol_prefix_leaves_http_possible() {
    // Istio selects a protocol from `appProtocol` or a known name prefix (http, tcp,
    // grpc, …); a port named `web` has neither, so Istio detects the protocol and an
    // HTTP GET reaches the rule: allowed.
    let c = load(
        &(ns_yaml("inj", "istio-injection: enabled")
            + &pod_yaml("inj", "server", "server", "", "", "10.1.0.2")
            + &pod_yaml("inj", "client", "client", "", "", "10.1.0.1")
            + "---\napiVersion: v1\nkind: Service\nmetadata: {name: server, namespace: inj}\n\
           spec:\n  selector: {app: server}\n  ports:\n  - {name: web, port: 80, targetPort: 8080}\n"
            + &ap(
                "p",
                "inj",
                "  selector: {matchLabels: {app: server}}\n  rules:\n  - to:\n    - operation: {methods: [GET]}\n",
            )),
    );
    let v = verdict(&c, "inj/client", "inj/server", 8080, &req("GET", "/", ""));
    assert_eq!(v.decision, Decision::Allowed, "{v:?}");
}

#[test]
fn reach_annotations_see_a_tcp_service_port_that_is_not_a_container_port() {
    // The Service declares 5432 as `tcp-db`, the pod declares no container port. An ALLOW
    // rule on methods never matches on that TCP port, whatever the request: the
    // annotation of 5432 must say denied, as `evaluate` does for the same port.
    let c = load(
        &(ns_yaml("db", "istio-injection: enabled")
            + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: db, labels: {app: server}}\nspec: {containers: [{name: m, image: x}]}\n"
            + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: db, labels: {app: client}}\nspec: {containers: [{name: m, image: x}]}\n"
            + "---\napiVersion: v1\nkind: Service\nmetadata: {name: server, namespace: db}\nspec:\n  selector: {app: server}\n  ports: [{name: tcp-db, port: 5432, targetPort: 5432}]\n"
            + &ap(
                "p",
                "db",
                "  selector: {matchLabels: {app: server}}\n  rules:\n  - to:\n    - operation: {methods: [GET]}\n",
            )),
    );
    denied(&verdict(
        &c,
        "db/client",
        "db/server",
        5432,
        &req("GET", "/", ""),
    ));
    let index = |name: &str| {
        c.workloads
            .iter()
            .position(|w| w.namespace == "db" && w.name == name)
            .unwrap()
    };
    let mut annotator =
        kubeseg_engine::mesh::Annotator::new(&c, MeshOptions::default(), Default::default())
            .unwrap();
    let tcp = kubeseg_model::PortSet::all_of(kubeseg_model::Protocol::Tcp);
    let annotations = annotator.annotate(Ok(index("client")), index("server"), 0, &tcp);
    let on_5432 = annotations
        .iter()
        .find(|a| a.ports.contains(kubeseg_model::Protocol::Tcp, 5432))
        .expect("5432 is annotated");
    denied(on_5432.verdict.as_ref().unwrap());
}
