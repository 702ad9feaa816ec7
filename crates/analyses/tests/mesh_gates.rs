//! `kubeseg test` agrees with `explain` on meshes: for random inputs with Istio
//! policies, an `allow` assertion holds exactly when explain's composed verdict is
//! ALLOWED (or, asked about any request, ALLOWED ONLY IF), and a `deny` assertion
//! exactly when it is DENIED. Explain's verdict is computed as the `explain` command
//! does: the policy-by-policy L3/L4 walk, then the mesh per TCP port.

use kubeseg_analyses::assert::check;
use kubeseg_engine::explain::{Side, explain};
use kubeseg_engine::mesh::{self, Decision, MeshOptions, Party, Request};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::spec::{Assertion, Check, ConnectivitySpec, Flow, Matcher};
use kubeseg_model::{Location, PortSet, Protocol};
use proptest::prelude::*;

const APPS: [&str; 4] = ["a", "b", "c", "d"];
const SAS: [&str; 3] = ["sa1", "sa2", "default"];
const PORTS: [u16; 2] = [80, 8080];
const METHODS: [&str; 2] = ["GET", "POST"];

#[derive(Clone, Debug)]
struct Ap {
    deny: bool,
    target: Option<usize>,
    principals: Option<Vec<usize>>,
    methods: Option<Vec<usize>>,
    port: Option<usize>,
    no_rules: bool,
    /// A `when` on a header, which the manifests never decide.
    header: bool,
}

fn ap_strategy() -> impl Strategy<Value = Ap> {
    (
        any::<bool>(),
        proptest::option::of(0..APPS.len()),
        proptest::option::of(proptest::collection::vec(0..SAS.len(), 1..3)),
        proptest::option::of(proptest::collection::vec(0..METHODS.len(), 1..2)),
        proptest::option::of(0..PORTS.len()),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(deny, target, principals, methods, port, no_rules, header)| Ap {
                deny,
                target,
                principals,
                methods,
                port,
                no_rules,
                header,
            },
        )
}

#[derive(Clone, Debug)]
struct Mesh {
    /// Per app: (service account, injected namespace, http on 8080).
    pods: Vec<(usize, bool, bool)>,
    aps: Vec<Ap>,
    strict: Option<bool>,
    isolate: Option<usize>,
}

fn mesh_strategy() -> impl Strategy<Value = Mesh> {
    (
        proptest::collection::vec((0..SAS.len(), any::<bool>(), any::<bool>()), 4),
        proptest::collection::vec(ap_strategy(), 0..4),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0..APPS.len()),
    )
        .prop_map(|(pods, aps, strict, isolate)| Mesh {
            pods,
            aps,
            strict,
            isolate,
        })
}

fn yaml(m: &Mesh) -> String {
    let mut y = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: mesh, labels: {istio-injection: enabled}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: plain}\n",
    );
    for (i, (sa, injected, http)) in m.pods.iter().enumerate() {
        let ns = if *injected { "mesh" } else { "plain" };
        y += &format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {app}, namespace: {ns}, labels: {{app: {app}}}}}\nspec:\n  serviceAccountName: {sa}\n  containers: [{{name: c, image: x, ports: [{{containerPort: 80}}, {{containerPort: 8080}}]}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: {app}, namespace: {ns}}}\nspec:\n  selector: {{app: {app}}}\n  ports: [{{name: {proto}-alt, port: 8080}}]\n",
            app = APPS[i],
            sa = SAS[*sa],
            proto = if *http { "http" } else { "tcp" },
        );
    }
    if let Some(strict) = m.strict {
        let mode = if strict { "STRICT" } else { "PERMISSIVE" };
        y += &format!(
            "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: default, namespace: mesh}}\nspec: {{mtls: {{mode: {mode}}}}}\n"
        );
    }
    if let Some(t) = m.isolate {
        y += &format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: iso, namespace: mesh}}\nspec:\n  podSelector: {{matchLabels: {{app: {}}}}}\n  ingress: [{{ports: [{{port: 80}}]}}]\n",
            APPS[t]
        );
    }
    for (i, ap) in m.aps.iter().enumerate() {
        let mut spec = format!("  action: {}\n", if ap.deny { "DENY" } else { "ALLOW" });
        if let Some(t) = ap.target {
            spec += &format!("  selector: {{matchLabels: {{app: {}}}}}\n", APPS[t]);
        }
        if !ap.no_rules {
            spec += "  rules:\n  - {}\n";
            let mut rule = Vec::new();
            if let Some(p) = &ap.principals {
                let list: Vec<String> = p
                    .iter()
                    .map(|&s| format!("\"cluster.local/ns/mesh/sa/{}\"", SAS[s]))
                    .collect();
                rule.push(format!(
                    "from: [{{source: {{principals: [{}]}}}}]",
                    list.join(", ")
                ));
            }
            let mut op = Vec::new();
            if let Some(ms) = &ap.methods {
                let list: Vec<&str> = ms.iter().map(|&k| METHODS[k]).collect();
                op.push(format!("methods: [{}]", list.join(", ")));
            }
            if let Some(p) = ap.port {
                op.push(format!("ports: [\"{}\"]", PORTS[p]));
            }
            if !op.is_empty() {
                rule.push(format!("to: [{{operation: {{{}}}}}]", op.join(", ")));
            }
            if ap.header {
                rule.push("when: [{key: \"request.headers[x-token]\", values: [t]}]".into());
            }
            spec = spec.replace("  - {}\n", &format!("  - {{{}}}\n", rule.join(", ")));
        }
        y += &format!(
            "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p{i}, namespace: mesh}}\nspec:\n{spec}"
        );
    }
    y
}

fn at() -> Location {
    Location {
        file: "spec".into(),
        line: 1,
        column: 1,
    }
}

fn assertion(allow: bool, from: &str, to: &str, port: u16, request: Option<&str>) -> Assertion {
    let party = |id: &str| {
        let (namespace, name) = id.split_once('/').unwrap();
        kubeseg_model::spec::Party {
            text: id.into(),
            matcher: Matcher::Workload {
                namespace: namespace.into(),
                name: name.into(),
                kind: None,
            },
            location: at(),
        }
    };
    let flow = Flow {
        from: vec![party(from)],
        to: vec![party(to)],
        ports: Some(PortSet::range(Protocol::Tcp, port, port)),
        ports_text: Some(format!("TCP/{port}")),
        request: request.map(|m| kubeseg_model::spec::Request {
            method: Some(m.into()),
            ..Default::default()
        }),
    };
    Assertion {
        name: "a".into(),
        location: at(),
        check: if allow {
            Check::Allow(flow)
        } else {
            Check::Deny(flow)
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn test_agrees_with_explain(m in mesh_strategy()) {
        let text = yaml(&m);
        let loaded = kubeseg_sources::load_str("t.yaml", &text);
        prop_assert!(!loaded.has_errors(), "{:?}\n{text}", loaded.diagnostics);
        let cluster = &loaded.cluster;
        let options = MeshOptions::default();
        let mut engine = Engine::new(cluster, Options::default());
        for src in &cluster.workloads {
            for dst in &cluster.workloads {
                if src.id() == dst.id() {
                    continue;
                }
                for port in PORTS {
                    for method in [None, Some("GET"), Some("POST")] {
                        let s = Side::Pod { namespace: &src.namespace, pod: &src.pods[0] };
                        let d = Side::Pod { namespace: &dst.namespace, pod: &dst.pods[0] };
                        let l4 = explain(cluster, &s, &d, Options::default())
                            .allowed
                            .contains(Protocol::Tcp, port);
                        let request = Request { method: method.map(str::to_string), ..Request::default() };
                        let v = mesh::evaluate(
                            cluster,
                            Party::Pod { namespace: &src.namespace, pod: &src.pods[0] },
                            &dst.namespace,
                            &dst.pods[0],
                            port,
                            &request,
                            &options,
                        );
                        // explain's first line.
                        let (allowed, denied) = match (l4, &v.decision) {
                            (false, _) | (true, Decision::Denied) => (false, true),
                            (true, Decision::Allowed) => (true, false),
                            (true, Decision::Conditional(_)) => (method.is_none(), false),
                        };
                        let from = format!("{}/{}", src.namespace, src.name);
                        let to = format!("{}/{}", dst.namespace, dst.name);
                        let spec = ConnectivitySpec {
                            assertions: vec![
                                assertion(true, &from, &to, port, method),
                                assertion(false, &from, &to, port, method),
                            ],
                        };
                        let out = check(&mut engine, &spec, &options).unwrap();
                        prop_assert_eq!(
                            (out[0].passed, out[1].passed),
                            (allowed, denied),
                            "{} -> {} TCP {} {:?}: explain says {:?} (L4 {}); test says {:?} / {:?}\n{}",
                            from, to, port, method, v.decision, l4, out[0].message, out[1].message, text
                        );
                    }
                }
            }
        }
    }
}
