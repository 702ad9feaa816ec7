//! Rough edges a new user meets (issue 14, item 8): `-n` as kubectl has it, and
//! `diff --evidence` in text.

mod common;

use common::{run, scratch};

/// Namespace-less manifests, as projects ship them for `kubectl apply -n argocd`.
const NAMELESS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: server, labels: {app: server}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: redis, labels: {app: redis}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: redis-from-server}\nspec:\n  podSelector: {matchLabels: {app: redis}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: server}}}], ports: [{port: 6379}]}]\n";

#[test]
fn dash_n_places_objects_that_name_no_namespace() {
    let dir = scratch("n", &[("m.yaml", NAMELESS)]);
    let file = dir.join("m.yaml").display().to_string();
    // Without -n they land in default, as kubectl apply without -n puts them.
    let (out, _, code) = run(&["reach", &file]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("default/server[Pod] => default/redis[Pod] : TCP 6379"),
        "{out}"
    );
    let (out, _, code) = run(&["reach", &file, "-n", "argocd"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("argocd/server[Pod] => argocd/redis[Pod] : TCP 6379"),
        "{out}"
    );
    assert!(!out.contains("default/"), "{out}");
    // The policy moved with them: the namespace's other ports stay closed.
    let (out, _, _) = run(&[
        "explain",
        &file,
        "--namespace",
        "argocd",
        "--from",
        "argocd/server",
        "--to",
        "argocd/redis",
        "--port",
        "80",
    ]);
    assert!(out.lines().next().unwrap().ends_with("DENIED"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dash_n_refuses_an_object_of_another_namespace_as_kubectl_does() {
    let text = NAMELESS.replacen(
        "metadata: {name: redis,",
        "metadata: {name: redis, namespace: cache,",
        1,
    );
    let dir = scratch("mismatch", &[("m.yaml", &text)]);
    let file = dir.join("m.yaml").display().to_string();
    let (_, err, code) = run(&["reach", &file, "-n", "argocd"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error[namespace-mismatch]: Pod names namespace `cache` but -n says `argocd`"),
        "{err}"
    );
    assert!(err.contains("m.yaml:8:36"), "{err}");
    // Cluster-scoped kinds have no namespace to mismatch.
    let ns =
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n---\n".to_string() + NAMELESS;
    let dir2 = scratch("cluster-scoped", &[("m.yaml", &ns)]);
    let (_, err, code) = run(&[
        "reach",
        &dir2.join("m.yaml").display().to_string(),
        "-n",
        "argocd",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (_, err, code) = run(&["reach", &file, "-n", "Not_A_Name"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("a namespace is 1-63 lower-case letters"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

#[test]
fn diff_evidence_shows_in_text() {
    let old = NAMELESS.to_string();
    let new = NAMELESS.replace(
        "ports: [{port: 6379}]",
        "ports: [{port: 6379}, {port: 6380}]",
    );
    let dir = scratch("evidence", &[("old.yaml", &old), ("new.yaml", &new)]);
    let (o, n) = (
        dir.join("old.yaml").display().to_string(),
        dir.join("new.yaml").display().to_string(),
    );
    let (plain, _, _) = run(&["diff", &o, &n]);
    let (with, _, _) = run(&["diff", &o, &n, "--evidence"]);
    assert!(
        plain.contains("~ default/server[Pod] => default/redis[Pod] : TCP 6379 → TCP 6379-6380"),
        "{plain}"
    );
    // Each side's allowing rule, indented under the change, located.
    assert!(with.contains("\n    now: "), "{with}");
    assert!(with.contains("\n    before: "), "{with}");
    assert!(with.contains("new.yaml:"), "{with}");
    assert!(with.lines().count() > plain.lines().count(), "{with}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn host_network_workloads_get_no_networkpolicy_they_cannot_use() {
    // node-exporter runs with hostNetwork: no NetworkPolicy selects it, so KS101's
    // remediation names the host firewall or the CNI's host policies and carries no
    // YAML; the ordinary pod beside it keeps its default-deny YAML.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: node-exporter, namespace: monitoring, labels: {app: node-exporter}}\nspec: {hostNetwork: true, containers: [{name: c, image: i, ports: [{containerPort: 9100}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: grafana, namespace: monitoring, labels: {app: grafana}}\nspec: {containers: [{name: c, image: i}]}\n";
    let dir = scratch("hostnet", &[("m.yaml", text)]);
    let file = dir.join("m.yaml").display().to_string();
    let (out, err, _) = run(&["audit", &file, "--only", "KS101", "--format", "json"]);
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    let by = |id: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["endpoints"][0] == id)
            .unwrap_or_else(|| panic!("{id}: {doc}"))
            .clone()
    };
    let host = by("monitoring/node-exporter[Pod]");
    assert_eq!(
        host["remediation"]["yaml"],
        serde_json::Value::Null,
        "{host}"
    );
    assert!(
        host["remediation"]["text"]
            .as_str()
            .unwrap()
            .contains("host firewall"),
        "{host}"
    );
    let plain = by("monitoring/grafana[Pod]");
    assert!(
        plain["remediation"]["yaml"]
            .as_str()
            .unwrap()
            .contains("kind: NetworkPolicy"),
        "{plain}"
    );
    // Read as selectable, it is an ordinary pod again.
    let (out, _, _) = run(&[
        "audit",
        &file,
        "--only",
        "KS101",
        "--format",
        "json",
        "--host-network-selectable",
    ]);
    assert!(!out.contains("host firewall"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_namespace_no_manifest_declares_is_located_at_its_first_object() {
    // `default` is never declared in NAMELESS: KS103/KS104 point at its first object,
    // the Pod on line 1, so SARIF viewers keep the result.
    let dir = scratch("nsloc", &[("m.yaml", NAMELESS)]);
    let file = dir.join("m.yaml").display().to_string();
    let (out, _, _) = run(&["audit", &file, "--only", "KS104", "--format", "sarif"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "KS104", "{doc}");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 1, "{result}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_takes_a_bare_name_when_it_is_unambiguous() {
    // `server` and `redis` exist once each (in default): bare names resolve. Copied into
    // a second namespace, `redis` becomes ambiguous and the error lists both; `-n`
    // picks the namespace, as kubectl does.
    let two = NAMELESS.to_string()
        + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: redis, namespace: cache, labels: {app: redis}}\nspec: {containers: [{name: c, image: i}]}\n";
    let dir = scratch("bare", &[("one.yaml", NAMELESS), ("two.yaml", &two)]);
    let one = dir.join("one.yaml").display().to_string();
    let (out, err, code) = run(&[
        "explain", &one, "--from", "server", "--to", "redis", "--port", "6379",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("default/server[Pod] => default/redis[Pod] on TCP 6379: ALLOWED"),
        "{out}"
    );
    let two = dir.join("two.yaml").display().to_string();
    let (_, err, code) = run(&["explain", &two, "--from", "server", "--to", "redis"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`redis` is ambiguous; use one of: cache/redis[Pod], default/redis[Pod]"),
        "{err}"
    );
    let (out, err, code) = run(&[
        "explain", &two, "-n", "default", "--from", "server", "--to", "redis", "--port", "6379",
    ]);
    assert_eq!(
        code,
        Some(2),
        "the cache Pod names another namespace than -n: {out}{err}"
    );
    let (_, err, _) = run(&["explain", &one, "--from", "nosuch", "--to", "redis"]);
    assert!(err.contains("`nosuch` names no workload or pod"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unmodelled_objects_are_named_in_every_audit_format() {
    // A Cilium policy (line 1, not enforced under `--cni generic`) and a Calico
    // GlobalNetworkPolicy (line 6) change connectivity; the audit ignores them, and every
    // format says so with the location, not only stderr.
    let text = NAMELESS.to_string()
        .replacen("apiVersion: v1\nkind: Pod", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c}\nspec: {endpointSelector: {}, ingress: [{}]}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: gw}\nspec: {selector: all()}\n---\napiVersion: v1\nkind: Pod", 1);
    let dir = scratch("unmodelled", &[("m.yaml", &text)]);
    let file = dir.join("m.yaml").display().to_string();
    for format in ["text", "json", "sarif", "md"] {
        let (out, _, _) = run(&["audit", &file, "--format", format, "--cni", "generic"]);
        assert!(
            out.contains("not modelled, the findings ignore it: CiliumNetworkPolicy"),
            "{format}: {out}"
        );
        assert!(out.contains("m.yaml:1:1"), "{format}");
        assert!(
            out.contains("not modelled, the findings ignore it: GlobalNetworkPolicy"),
            "{format}"
        );
        assert!(out.contains("m.yaml:6:1"), "{format}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_audit_leads_with_a_short_summary() {
    // The bundled example: its first screen holds the counts by severity and the
    // shortest paths (wordpress-a reaches MySQL in one hop, as KS202 says below).
    let (out, _, _) = run(&["audit", "examples/wordpress-cluster", "--color", "never"]);
    let head: Vec<&str> = out.lines().take(12).collect();
    let head = head.join("\n");
    assert!(head.contains("summary: "), "{head}");
    assert!(head.contains("critical"), "{head}");
    assert!(
        head.contains(
            "  top path: blogs/wordpress-a[Deployment] → data/mysql[StatefulSet] (1 hop(s))"
        ),
        "{head}"
    );
}

#[test]
fn a_raw_kustomize_tree_gets_a_hint_to_render_it() {
    // Read raw, a kustomize tree loses its patches, namespace and name prefixes: the
    // kustomization (with or without `kind`) is a warning that says to render it first.
    let with_kind = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources: [pod.yaml]\n";
    let without_kind = "namespace: shop\nresources: [pod.yaml]\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: c, image: i}]}\n";
    for (name, k) in [("kind", with_kind), ("nokind", without_kind)] {
        let dir = scratch(
            &format!("kustomize-{name}"),
            &[("kustomization.yaml", k), ("pod.yaml", pod)],
        );
        let (out, err, code) = run(&["reach", &dir.display().to_string()]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            err.contains("warning[kustomize-tree]: this is a kustomization"),
            "{name}: {err}"
        );
        assert!(err.contains("kustomize build DIR"), "{err}");
        assert!(err.contains("kustomization.yaml:1:1"), "{err}");
        // The pod is still read, in `default` (the kustomization's namespace is not applied).
        assert!(out.contains("default/web[Pod]"), "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn unmodelled_objects_are_named_in_every_format_of_every_command() {
    // A Cilium policy (line 1, not enforced under `--cni generic`) and a RabbitmqCluster
    // no operator description covers (line 6) change connectivity; each command's every format names them with
    // their location, not only stderr.
    let text = NAMELESS.to_string().replacen(
        "apiVersion: v1\nkind: Pod",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c}\nspec: {endpointSelector: {}, ingress: [{}]}\n---\napiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata: {name: mq}\nspec: {replicas: 3}\n---\napiVersion: v1\nkind: Pod",
        1,
    );
    let spec = "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: server reaches redis\n  allow: {from: default/server, to: default/redis, port: TCP/6379}\n";
    let dir = scratch("unmodelled-all", &[("m.yaml", &text), ("spec.yaml", spec)]);
    let file = dir.join("m.yaml").display().to_string();
    let spec = dir.join("spec.yaml").display().to_string();
    let explain = [
        "explain", &file, "--from", "server", "--to", "redis", "--port", "6379",
    ];
    let mut runs: Vec<(String, Vec<&str>)> = Vec::new();
    for f in ["text", "json", "csv", "md", "dot"] {
        runs.push((format!("reach {f}"), vec!["reach", &file, "--format", f]));
        runs.push((
            format!("reach --compact {f}"),
            vec!["reach", &file, "--compact", "--format", f],
        ));
    }
    for f in ["text", "json"] {
        let mut args = explain.to_vec();
        args.extend(["--format", f]);
        runs.push((format!("explain {f}"), args));
    }
    for f in ["text", "json", "junit", "tap", "sarif"] {
        runs.push((
            format!("test {f}"),
            vec!["test", "--spec", &spec, &file, "--format", f],
        ));
    }
    for f in ["text", "json", "md", "sarif"] {
        runs.push((
            format!("diff {f}"),
            vec!["diff", &file, &file, "--format", f],
        ));
        runs.push((format!("lint {f}"), vec!["lint", &file, "--format", f]));
    }
    for (what, args) in runs {
        if what.starts_with("lint md") {
            continue;
        }
        let mut args = args;
        args.extend(["--cni", "generic"]);
        let (out, err, code) = run(&args);
        assert!(code == Some(0), "{what}: {err}");
        for (kind, at, line) in [
            ("CiliumNetworkPolicy", "m.yaml:1:1", 1),
            ("RabbitmqCluster", "m.yaml:6:1", 6),
        ] {
            assert!(out.contains(kind), "{what}: no {kind} in\n{out}");
            // Lint's findings carry structured locations.
            let located = match what.as_str() {
                "lint json" => out.contains(&format!("\"line\": {line},")),
                "lint sarif" => out.contains(&format!("\"startLine\": {line}")),
                _ => out.contains(at),
            };
            assert!(located, "{what}: no {at} in\n{out}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_gateway_bound_virtual_service_makes_its_backend_an_entry_point() {
    // `web` has no Service of type LoadBalancer; the VirtualService bound to the Istio
    // Gateway routes outside traffic to it, as an Ingress would. The mesh-only one
    // (no `gateways`) exposes `api` to nobody outside.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop, labels: {app: api}}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec: {selector: {app: api}, ports: [{port: 80, targetPort: 8080}]}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: shop}\nspec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: front, namespace: shop}\nspec: {hosts: ['*'], gateways: [public], http: [{route: [{destination: {host: web}}]}]}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: inner, namespace: shop}\nspec: {hosts: [api], http: [{route: [{destination: {host: api}}]}]}\n";
    let dir = scratch("vs-entry", &[("m.yaml", text)]);
    let file = dir.join("m.yaml").display().to_string();
    let (out, err, code) = run(&["audit", &file, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !err.contains("unmodelled-policy"),
        "Gateway and VirtualService are modelled: {err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries: Vec<&str> = doc["entryPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["workload"].as_str().unwrap())
        .collect();
    assert_eq!(entries, ["shop/web[Pod]"]);
    let reasons = doc["entryPoints"][0]["reasons"].to_string();
    assert!(
        reasons.contains("backend of VirtualService shop/front through Service shop/web"),
        "{reasons}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn svc_names_a_service_and_its_ports() {
    // Service `cache` (port `redis` 6379 → targetPort `resp`, the container's named
    // port 6380) selects the one Pod `redis`; `server` reaches it by the policy.
    let text = NAMELESS.replace(
        "spec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1",
        "spec: {containers: [{name: c, image: i, ports: [{name: resp, containerPort: 6380}]}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: cache}\nspec: {selector: {app: redis}, ports: [{name: redis, port: 6379, targetPort: resp}]}\n---\napiVersion: networking.k8s.io/v1",
    ).replace("ports: [{port: 6379}]", "ports: [{port: 6380}]");
    let dir = scratch("svc", &[("m.yaml", &text)]);
    let file = dir.join("m.yaml").display().to_string();
    let explain = |to: &str, port: &str| {
        run(&[
            "explain", &file, "--from", "server", "--to", to, "--port", port,
        ])
    };
    // By the Service's port name and number alike: the pod's 6380 is what is asked.
    for port in ["redis", "6379"] {
        let (out, err, code) = explain("svc/cache", port);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            out.contains("default/redis[Pod]") && out.contains("6380"),
            "{out}"
        );
        assert!(out.contains("ALLOWED"), "{out}");
    }
    let (_, err, code) = explain("svc/cache", "http");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Service default/cache has no such port; its ports: redis (TCP 6379)"),
        "{err}"
    );
    let (_, err, _) = explain("svc/nosuch", "80");
    assert!(err.contains("`svc/nosuch` names no Service"), "{err}");
    // reach --to takes it too.
    let (out, _, _) = run(&["reach", &file, "--to", "svc/cache"]);
    assert_eq!(
        out,
        "default/server[Pod] => default/redis[Pod] : TCP 6380\n"
    );
    // The audit's --assume-compromised reads names the same way.
    let (out, err, code) = run(&[
        "audit",
        &file,
        "--assume-compromised",
        "svc/cache",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("\"workload\": \"default/redis[Pod]\""),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
