//! The live mode through real HTTP(S) against kubeseg-fakeapi, an API-server double
//! that behaves as the real server does where it matters: discovery, pagination,
//! watches, 410 Gone, 403, absent CRDs, authentication, and faults.

mod common;

use common::{run, scratch};
use kubeseg_fakeapi::{FakeApi, Handle, KubeconfigStyle};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc::Receiver;
use std::time::Duration;

const EXAMPLE: &str = "examples/wordpress-cluster";

fn example() -> FakeApi {
    let mut api = FakeApi::new();
    for f in std::fs::read_dir(Path::new(common::ROOT).join(EXAMPLE)).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "yaml") {
            api = api.fixture(&f).unwrap();
        }
    }
    api
}

/// Writes a kubeconfig for `server` and returns its path.
fn kubeconfig(server: &Handle, name: &str, style: KubeconfigStyle) -> String {
    let dir = scratch(name, &[("kubeconfig", &server.kubeconfig(style).unwrap())]);
    dir.join("kubeconfig").display().to_string()
}

fn reach_json(args: &[&str]) -> Value {
    let mut all = vec!["reach", "--format", "json"];
    all.extend(args);
    let (out, err, code) = run(&all);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn https_with_a_token_client_certificates_or_no_verification_gives_the_files_answer() {
    let server = example().tls().token("s3cret").start().unwrap();
    let files = reach_json(&[EXAMPLE]);
    for (i, style) in [
        KubeconfigStyle::Token,
        KubeconfigStyle::ClientCert,
        KubeconfigStyle::Insecure,
    ]
    .into_iter()
    .enumerate()
    {
        let kc = kubeconfig(&server, &format!("live-tls-{i}"), style);
        assert_eq!(reach_json(&["--kubeconfig", &kc]), files, "{style:?}");
    }
    // Without credentials the server answers 401: an error, and nothing on stdout.
    let kc = kubeconfig(&server, "live-tls-anon", KubeconfigStyle::Anonymous);
    let (out, err, code) = run(&["reach", "--kubeconfig", &kc]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("401"), "{err}");
}

#[test]
fn the_kubeconfig_environment_variable_and_a_named_context_are_honoured() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-env", KubeconfigStyle::Token);
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .current_dir(common::ROOT)
        .args(["reach", "--format", "json", "--context", "fakeapi"])
        .env("KUBECONFIG", format!("/nonexistent/kubeconfig:{kc}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(live, reach_json(&[EXAMPLE]));
    let (_, err, code) = run(&["reach", "--kubeconfig", &kc, "--context", "nosuch"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("nosuch"), "{err}");
}

#[test]
fn lists_are_read_page_by_page() {
    // 1,200 pods: three pages of 500.
    let mut api = FakeApi::new()
        .object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}}));
    let mut manifest = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n");
    for i in 0..1200 {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{i:04}"), "namespace": "big", "labels": {"app": format!("a{}", i % 7)}}, "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}});
        manifest.push_str(&format!("---\n{pod}\n"));
        api = api.object(pod);
    }
    let policy = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "only-a0", "namespace": "big"}, "spec": {"podSelector": {"matchLabels": {"app": "a1"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a0"}}}]}]}});
    manifest.push_str(&format!("---\n{policy}\n"));
    let server = api.object(policy).start().unwrap();
    let kc = kubeconfig(&server, "live-pages", KubeconfigStyle::Token);
    let dir = scratch("live-pages-files", &[("all.yaml", &manifest)]);
    let file = dir.join("all.yaml").display().to_string();
    let live = reach_json(&["--compact", "--kubeconfig", &kc]);
    assert_eq!(live, reach_json(&["--compact", &file]));
    let pages = server
        .requests()
        .iter()
        .filter(|r| r.contains("/api/v1/pods"))
        .count();
    assert!(pages >= 3, "{:?}", server.requests());
}

#[test]
fn a_forbidden_kind_is_named_in_the_answer_and_an_absent_crd_is_a_note() {
    let server = example()
        .forbid("services")
        .without_group("cilium.io")
        .start()
        .unwrap();
    let kc = kubeconfig(&server, "live-forbid", KubeconfigStyle::Token);
    let (out, err, code) = run(&["reach", "--format", "json", "--kubeconfig", &kc]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("warning[unreadable-kind]"), "{err}");
    assert!(
        err.contains("info[kind-not-served]") && err.contains("cilium.io"),
        "{err}"
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    let unmodelled = doc["unmodelled"].to_string();
    assert!(
        unmodelled.contains("services") && unmodelled.contains("403"),
        "{doc}"
    );
}

#[test]
fn a_server_that_is_down_or_failing_is_an_error_not_an_answer() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-down", KubeconfigStyle::Token);
    server.stop();
    let (out, err, code) = run(&["audit", "--kubeconfig", &kc]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("error"), "{err}");
    server.restart().unwrap();
    server.fail_next(1000, 500);
    let (out, err, code) = run(&["audit", "--kubeconfig", &kc]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
}

/// A running `kubeseg watch --format jsonl`, killed when dropped.
struct Watch {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watch {
    fn start(kc: &str) -> Watch {
        let (child, lines) = common::spawn_lines(&[
            "watch",
            "--kubeconfig",
            kc,
            "--format",
            "jsonl",
            "--batch-ms",
            "100",
        ]);
        Watch { child, lines }
    }

    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a line within a minute");
        serde_json::from_str(&line).unwrap()
    }
}

fn lockdown(name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "blogs"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
}

/// Whether a change line removes the connection the blogs lockdown closes (derived by
/// hand: nothing isolates the WordPress pods' ingress nor the debug shell's egress).
fn closes_blogs(change: &Value) -> bool {
    change["removed"].as_array().is_some_and(|r| {
        r.iter().any(|c| {
            c["src"] == "blogs/debug-shell[Pod]" && c["dst"] == "blogs/wordpress-a[Deployment]"
        })
    })
}

#[test]
fn watch_follows_changes_through_cut_streams_410_and_a_restart() {
    let server = example()
        .bookmark_interval(Duration::from_millis(200))
        .start()
        .unwrap();
    let kc = kubeconfig(&server, "live-watch", KubeconfigStyle::Token);
    let watch = Watch::start(&kc);
    let synced = watch.next();
    assert_eq!(synced["kind"], "synced");
    let files = reach_json(&[EXAMPLE]);
    assert_eq!(
        synced["connections"].as_u64(),
        Some(files["connections"].as_array().unwrap().len() as u64)
    );
    // A policy created: its connections go, with the object as the cause.
    server.apply(lockdown("lockdown")).unwrap();
    let change = watch.next();
    assert!(closes_blogs(&change), "{change}");
    assert_eq!(
        change["cause"],
        json!([{"action": "created", "object": "NetworkPolicy/blogs/lockdown"}])
    );
    // The streams are cut: the watchers resume, and a deletion still arrives.
    server.close_watches();
    std::thread::sleep(Duration::from_millis(300));
    server.delete("NetworkPolicy", "blogs", "lockdown").unwrap();
    let change = watch.next();
    assert_eq!(
        change["cause"],
        json!([{"action": "deleted", "object": "NetworkPolicy/blogs/lockdown"}]),
        "{change}"
    );
    assert!(
        change["added"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["src"] == "blogs/debug-shell[Pod]"
                && c["dst"] == "blogs/wordpress-a[Deployment]")),
        "{change}"
    );
    // The server goes down; meanwhile a policy is created and the history compacted.
    // Back on the same port, resuming from the old resourceVersion answers 410, so
    // the watchers list again and find the policy.
    server.stop();
    server.apply(lockdown("lockdown-2")).unwrap();
    server.compact();
    std::thread::sleep(Duration::from_millis(300));
    server.restart().unwrap();
    let change = watch.next();
    assert!(closes_blogs(&change), "{change}");
    assert_eq!(
        change["cause"],
        json!([{"action": "created", "object": "NetworkPolicy/blogs/lockdown-2"}])
    );
    server
        .delete("NetworkPolicy", "blogs", "lockdown-2")
        .unwrap();
    let change = watch.next();
    assert!(
        change["cause"].to_string().contains("lockdown-2"),
        "{change}"
    );
    assert!(!change["added"].as_array().unwrap().is_empty(), "{change}");
}

#[test]
fn watch_reports_findings_that_appear_and_are_resolved() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-findings", KubeconfigStyle::Token);
    let watch = Watch::start(&kc);
    assert_eq!(watch.next()["kind"], "synced");
    // A default-deny ingress in `blogs` resolves the finding that the WordPress
    // entry points' ingress is not isolated (KS101, hand-checked in the audit's text).
    server.apply(lockdown("lockdown")).unwrap();
    let change = watch.next();
    let resolved = change["findings"]["resolved"].to_string();
    assert!(
        resolved.contains("KS101") && resolved.contains("blogs/wordpress-a"),
        "{change}"
    );
    server.delete("NetworkPolicy", "blogs", "lockdown").unwrap();
    let change = watch.next();
    let added = change["findings"]["added"].to_string();
    assert!(
        added.contains("KS101") && added.contains("blogs/wordpress-a"),
        "{change}"
    );
}

#[test]
fn snapshots_of_an_unchanged_cluster_are_byte_identical_and_answer_like_the_files() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-snap", KubeconfigStyle::Token);
    let base = scratch("live-snap-out", &[]);
    let (a, b) = (base.join("a"), base.join("b"));
    for dir in [&a, &b] {
        let (out, err, code) = run(&[
            "snapshot",
            "--kubeconfig",
            &kc,
            "-o",
            &dir.display().to_string(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains("objects of"), "{out}");
    }
    let files = |d: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(&a), files(&b));
    assert!(files(&a).iter().any(|(n, _)| n == "Deployment.yaml"));
    assert_eq!(
        reach_json(&[&a.display().to_string()]),
        reach_json(&[EXAMPLE])
    );
    // A snapshot never overwrites: the directory must be new or empty.
    let (_, err, code) = run(&[
        "snapshot",
        "--kubeconfig",
        &kc,
        "-o",
        &a.display().to_string(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn watch_text_and_metrics_say_what_the_cluster_holds() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-metrics", KubeconfigStyle::Token);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let (mut child, lines) = common::spawn_lines(&[
        "watch",
        "--kubeconfig",
        &kc,
        "--batch-ms",
        "50",
        "--metrics-addr",
        &addr,
    ]);
    let next = || lines.recv_timeout(Duration::from_secs(60)).expect("a line");
    let synced = next();
    let files = reach_json(&[EXAMPLE]);
    let connections = files["connections"].as_array().unwrap().len();
    let workloads = files["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] != "External")
        .count();
    assert!(
        synced.starts_with("synced: ")
            && synced.contains(&format!("{workloads} workloads, {connections} connections")),
        "{synced}"
    );
    let metrics = http_get(&addr, "/metrics");
    assert!(
        metrics.contains(&format!("kubeseg_workloads {workloads}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("kubeseg_connections {connections}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("kubeseg_findings{severity=\"critical\"}"),
        "{metrics}"
    );
    server.apply(lockdown("lockdown")).unwrap();
    assert_eq!(next(), "change: NetworkPolicy/blogs/lockdown created");
    let mut removed = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        removed.push(line);
    }
    // As reach prints it: nothing isolated either end before the lockdown.
    let lost = "  - blogs/debug-shell[Pod] => blogs/wordpress-a[Deployment] : All Connections";
    assert!(removed.iter().any(|l| l == lost), "{removed:?}");
    let after = http_get(&addr, "/metrics");
    assert!(after.contains("kubeseg_evaluations_total 2\n"), "{after}");
    let _ = child.kill();
    let _ = child.wait();
}

/// The body of a plain HTTP GET.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_exec_credential_plugin_supplies_the_token() {
    let server = example().tls().token("from-plugin").start().unwrap();
    // Trust and server from the generated kubeconfig; the user runs a plugin that prints
    // an ExecCredential, as cloud providers' plugins do.
    let generated = server.kubeconfig(KubeconfigStyle::Anonymous).unwrap();
    let credential = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}"#;
    let user = format!(
        "users:\n- name: fakeapi-user\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args:\n      - -c\n      - |\n        echo '{credential}'\n      interactiveMode: Never\n"
    );
    let start = generated.find("users:").expect("a users section");
    let end = generated[start..]
        .find("contexts:")
        .map_or(generated.len(), |i| start + i);
    let kc_text = format!("{}{user}{}", &generated[..start], &generated[end..]);
    let dir = scratch("live-exec", &[("kubeconfig", &kc_text)]);
    let kc = dir.join("kubeconfig").display().to_string();
    assert_eq!(reach_json(&["--kubeconfig", &kc]), reach_json(&[EXAMPLE]));
}

#[test]
fn watch_names_a_policy_it_leaves_out_when_it_appears() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-unmodelled", KubeconfigStyle::Token);
    let watch = Watch::start(&kc);
    let synced = watch.next();
    assert_eq!(synced["unmodelled"], json!([]), "{synced}");
    // Calico's HostEndpoint changes connectivity and is not modelled: it changes no
    // connection kubeseg computes, yet the watch must say that the answers ignore it.
    server
        .apply(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
            "metadata": {"name": "node-1-eth0"},
            "spec": {"node": "node-1", "interfaceName": "eth0"}}),
        )
        .unwrap();
    let change = watch.next();
    assert!(change["added"].as_array().unwrap().is_empty(), "{change}");
    let unmodelled = change["unmodelled"].to_string();
    assert!(unmodelled.contains("HostEndpoint"), "{change}");
}

#[test]
fn endpoint_slices_are_read_live_and_snapshotted_for_cilium_services() {
    // tests/cilium/services.yaml resolves a toServices entry through an EndpointSlice
    // (discovery.k8s.io/v1): the live answer and a snapshot's equal the file's.
    const SERVICES: &str = "crates/cli/tests/cilium/services.yaml";
    let fixture = Path::new(common::ROOT).join(SERVICES);
    let server = FakeApi::new().fixture(&fixture).unwrap().start().unwrap();
    let kc = kubeconfig(&server, "live-slices", KubeconfigStyle::Token);
    let files = reach_json(&[fixture.to_str().unwrap()]);
    assert_eq!(reach_json(&["--kubeconfig", &kc]), files);
    let dir = scratch("live-slices-out", &[]).join("snap");
    let (_, err, code) = run(&["snapshot", "--kubeconfig", &kc, "-o", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let slices = std::fs::read_to_string(dir.join("EndpointSlice.yaml")).unwrap();
    assert!(slices.contains("203.0.113.10"), "{slices}");
    assert_eq!(reach_json(&[dir.to_str().unwrap()]), files);
}

/// The watch computes again only the connections of the workloads a Pod or
/// NetworkPolicy change touches. The same changes followed by a watch that computes
/// every connection each time (`KUBESEG_WATCH_FULL=1`) must give the same lines.
#[test]
fn watch_recomputes_what_a_change_touches_and_answers_as_a_full_recompute() {
    let server = example().start().unwrap();
    let kc = kubeconfig(&server, "live-incremental", KubeconfigStyle::Token);
    let dir = scratch("live-incremental-log", &[]);
    let log = dir.join("stderr");
    let start = |envs: &[(&str, &str)], stderr: std::process::Stdio| {
        let args = [
            "watch",
            "--kubeconfig",
            &kc,
            "--format",
            "jsonl",
            "--batch-ms",
            "100",
        ];
        let (child, lines) = common::spawn_lines_with(&args, envs, stderr);
        Watch { child, lines }
    };
    let touched = start(
        &[("KUBESEG_TIMINGS", "1")],
        std::fs::File::create(&log).unwrap().into(),
    );
    let full = start(&[("KUBESEG_WATCH_FULL", "1")], std::process::Stdio::null());
    assert_eq!(touched.next(), full.next());
    // A pod; with an owner, one of the pods of that ReplicaSet's workload.
    let pod = |name: &str, labels: Value, owner: Option<&str>| {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "blogs", "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "docker.io/library/busybox:1.36",
                "ports": [{"containerPort": 9000}]}]},
            "status": {"podIP": format!("10.9.9.{}", name.len())}});
        if let Some(rs) = owner {
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": rs, "uid": "u1", "controller": true}]);
        }
        p
    };
    let from_probes = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "lockdown", "namespace": "blogs"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "probe"}}},
                {"podSelector": {"matchLabels": {"tier": "frontend"}}}]}]}});
    let mut from_range = from_probes.clone();
    from_range["spec"]["ingress"][0]["from"]
        .as_array_mut()
        .unwrap()
        .push(json!({"ipBlock": {"cidr": "192.0.2.0/24"}}));
    let steps: Vec<Box<dyn Fn() -> Value>> = vec![
        Box::new(|| server.apply(lockdown("lockdown")).unwrap()),
        Box::new(|| server.apply(from_probes.clone()).unwrap()),
        Box::new(|| {
            server
                .apply(pod("probe", json!({"role": "probe"}), None))
                .unwrap()
        }),
        Box::new(|| {
            server
                .apply(pod("probe", json!({"role": "other"}), None))
                .unwrap()
        }),
        Box::new(|| server.delete("Pod", "blogs", "probe").unwrap()),
        // A workload of two pods; one leaves it (orphaned), and the workload stays.
        Box::new(|| {
            server
                .apply(pod("probe-1", json!({"role": "other"}), Some("rs")))
                .unwrap()
        }),
        Box::new(|| {
            server
                .apply(pod("probe-22", json!({"role": "probe"}), Some("rs")))
                .unwrap()
        }),
        Box::new(|| {
            server
                .apply(pod("probe-22", json!({"role": "probe"}), None))
                .unwrap()
        }),
        // A new address range splits the outside ranges: every workload's connections
        // to them move, so this step, and the deletion that merges them again, are
        // answered in full.
        Box::new(|| server.apply(from_range.clone()).unwrap()),
        Box::new(|| server.delete("NetworkPolicy", "blogs", "lockdown").unwrap()),
    ];
    for (i, step) in steps.iter().enumerate() {
        step();
        let (a, b) = (touched.next(), full.next());
        assert_eq!(a["kind"], "change", "step {i}: {a}");
        let moved = ["added", "removed", "changed"]
            .iter()
            .any(|k| a[k].as_array().is_some_and(|v| !v.is_empty()));
        assert!(moved, "step {i} changes some connection: {a}");
        assert_eq!(a, b, "step {i}");
    }
    // Batches kubeseg cannot answer (a policy it refuses, then a pod relabelled as a
    // WordPress front end, which the `data` policies admit) print no line; the answer
    // after the fix must still cover the pod.
    let refused = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "refused", "namespace": "search"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 100, "endPort": 50}]}]}});
    server.apply(refused).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let front_end = json!({"app": "wordpress", "instance": "a", "tier": "frontend"});
    server.apply(pod("probe-22", front_end, None)).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    server.delete("NetworkPolicy", "search", "refused").unwrap();
    let (a, b) = (touched.next(), full.next());
    assert_eq!(a, b, "after the refused policy");
    assert!(
        a["added"].to_string().contains("blogs/probe-22[Pod]"),
        "the new pod's connections: {a}"
    );
    // A kind the cluster stops letting kubeseg read is named by the next answer, which
    // patches the model: the note joins it there too.
    server.set_forbidden("services", true);
    server.close_watches();
    std::thread::sleep(Duration::from_millis(400));
    server
        .apply(pod("probe-3", json!({"role": "probe"}), None))
        .unwrap();
    let (a, b) = (touched.next(), full.next());
    assert_eq!(a, b, "after services became unreadable");
    assert!(
        a["unmodelled"]
            .to_string()
            .contains("refused to list services"),
        "{a}"
    );
    drop(touched);
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log.matches("touched workloads computed again").count(),
        steps.len(),
        "every answer after the first but the two that add and remove a range came from the touched workloads:\n{log}"
    );
    // Those answers kept the audit's rows of the sources they did not touch too.
    let kept = (log.lines())
        .filter(|l| l.contains("sources kept") && !l.contains("rows of 0 sources"))
        .count();
    assert_eq!(kept, steps.len(), "the audit kept rows:\n{log}");
    // Every answer after the first patched the model (pods and NetworkPolicies in
    // namespaces with their objects), but those of the batches the refused policy
    // was part of.
    assert_eq!(
        log.matches("timing: patched").count(),
        steps.len() + 2,
        "the model was patched, not assembled again:\n{log}"
    );
}
