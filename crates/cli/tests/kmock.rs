//! The live cluster mode against an independent black box: kmock, the Kubernetes
//! emulator from PyPI (`.ci/run` installs it), serving the bundled example. What kubeseg
//! reads through the API must give the answers the same objects give in files.
#![allow(clippy::print_stderr)]

mod common;

use common::{ROOT, run, scratch};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXAMPLE: &[&str] = &["examples/wordpress-cluster", "examples/mesh"];

/// A kmock process serving manifests; killed when dropped.
struct Kmock {
    child: Child,
    port: u16,
    kubeconfig: PathBuf,
}

impl Drop for Kmock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts kmock on `paths` (relative to the repository root), or `None` when kmock is
/// not installed and skipping was asked for.
fn kmock(name: &str, paths: &[&str]) -> Option<Kmock> {
    let probe = Command::new("python3")
        .args(["-c", "import kmock, yaml"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        common::missing_data("kmock (pip install kmock==0.8 pyyaml) is not installed");
        return None;
    }
    let dir = scratch(name, &[]);
    let port_file = dir.join("port");
    let child = Command::new("python3")
        .arg("crates/cli/tests/live/kmock_serve.py")
        .arg(&port_file)
        .args(paths)
        .current_dir(ROOT)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let mut server = Kmock {
        child,
        port: 0,
        kubeconfig: dir.join("kubeconfig"),
    };
    let start = Instant::now();
    while server.port == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "kmock did not start"
        );
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            server.port = text.trim().parse().expect("a port");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(
        &server.kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kmock\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: nobody\n  user: {{}}\ncontexts:\n- name: kmock\n  context: {{cluster: kmock, user: nobody}}\ncurrent-context: kmock\n",
            server.port
        ),
    )
    .unwrap();
    Some(server)
}

/// Output with every source location cut, the one thing that may differ between a
/// cluster and files: in JSON every `location` object, in text every
/// `file:line:col` (`Kind/ns/name:line:col`), with the line wrapping that their
/// lengths move.
fn without_locations(text: &str) -> String {
    if let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(text) {
        cut_locations(&mut doc);
        return serde_json::to_string_pretty(&doc).unwrap();
    }
    text.split_whitespace()
        .map(|word| {
            let core = word.trim_matches(|c| matches!(c, '(' | ')' | ','));
            let parts: Vec<&str> = core.rsplitn(3, ':').collect();
            let located = parts.len() == 3
                && parts[0].parse::<u32>().is_ok()
                && parts[1].parse::<u32>().is_ok();
            if located {
                word.replace(core, "LOC")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cut_locations(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "location" {
                    *val = serde_json::Value::Null;
                } else {
                    cut_locations(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(cut_locations),
        _ => {}
    }
}

#[test]
fn without_locations_cuts_locations_only() {
    assert_eq!(
        without_locations("  --> a/b.yaml:18:1\n(Deployment/blogs/x:1:1)\n  port 80:81 x:y:z\n"),
        "--> LOC (LOC) port 80:81 x:y:z"
    );
    assert_eq!(
        without_locations(r#"{"a": {"location": {"file": "x", "line": 3}, "b": 80}}"#),
        without_locations(r#"{"a": {"location": {"file": "y", "line": 9}, "b": 80}}"#),
    );
    assert_ne!(
        without_locations(r#"{"a": {"location": null, "b": 80}}"#),
        without_locations(r#"{"a": {"location": null, "b": 81}}"#),
    );
}

fn kubeconfig(server: &Kmock) -> String {
    server.kubeconfig.display().to_string()
}

#[test]
fn audit_reach_explain_and_test_from_the_cluster_equal_those_from_the_files() {
    let Some(server) = kmock("kmock-audit", EXAMPLE) else {
        return;
    };
    same_answers(
        &server,
        EXAMPLE,
        &[
            &["audit"],
            &["audit", "--format", "json"],
            &["reach"],
            &["reach", "--format", "json", "--compact"],
            &[
                "explain",
                "--from",
                "blogs/wordpress-a",
                "--to",
                "data/mysql",
                "--port",
                "3306",
                "--format",
                "json",
            ],
            &[
                "test",
                "--spec",
                "examples/wordpress-spec.yaml",
                "--format",
                "json",
            ],
        ],
    );
}

/// Lint on the example alone: the mesh example redefines Namespace `default`, which
/// lint reports in files (KL005) and a cluster cannot hold twice.
#[test]
fn lint_from_the_cluster_equals_lint_from_the_files() {
    let paths = ["examples/wordpress-cluster"];
    let Some(server) = kmock("kmock-lint", &paths) else {
        return;
    };
    // Text shows the source lines under each finding, which differ by nature.
    same_answers(&server, &paths, &[&["lint", "--format", "json"]]);
}

/// Each command gives the same answer (but for locations) from `server` and `paths`.
fn same_answers(server: &Kmock, paths: &[&str], commands: &[&[&str]]) {
    let kc = kubeconfig(server);
    for command in commands {
        let mut live = command.to_vec();
        live.extend(["--kubeconfig", &kc]);
        let (live_out, live_err, live_code) = run(&live);
        let mut files = command.to_vec();
        files.extend(paths);
        let (file_out, _, file_code) = run(&files);
        assert_eq!(live_code, file_code, "{command:?}: {live_err}");
        assert!(!file_out.is_empty());
        assert_eq!(
            without_locations(&live_out),
            without_locations(&file_out),
            "{command:?}"
        );
    }
}

#[test]
fn a_snapshot_gives_the_files_answers_offline_and_diff_sees_a_policy_created_through_the_api() {
    let Some(server) = kmock("kmock-snapshot", EXAMPLE) else {
        return;
    };
    let kc = kubeconfig(&server);
    let out = scratch("kmock-snapshot-out", &[]).join("snap");
    let snap = out.display().to_string();
    let (summary, err, code) = run(&["snapshot", "--kubeconfig", &kc, "-o", &snap]);
    assert_eq!(code, Some(0), "{err}");
    assert!(summary.contains("objects of"), "{summary}");
    assert!(Path::new(&snap).join("NetworkPolicy.yaml").is_file());
    let (from_snapshot, _, _) = run(&["reach", "--format", "json", &snap]);
    let mut files = vec!["reach", "--format", "json"];
    files.extend(EXAMPLE);
    let (from_files, _, _) = run(&files);
    assert_eq!(from_snapshot, from_files);
    create_lockdown(server.port);
    let (diff, err, code) = run(&["diff", &snap, "--kubeconfig", &kc]);
    assert_eq!(code, Some(0), "{err}");
    assert!(diff.contains(LOST), "{diff}");
    assert!(
        diff.contains("policy NetworkPolicy blogs/lockdown added"),
        "{diff}"
    );
    assert!(diff.lines().any(|l| l.starts_with("0 added, ")), "{diff}");
}

/// A connection the lockdown closes, derived by hand: nothing isolates the ingress of
/// the WordPress pods in `blogs` nor the egress of the debug shell beside them (the
/// audit says so), so all traffic flows until a deny-all ingress policy in `blogs`.
const LOST: &str = "- blogs/debug-shell[Pod] => blogs/wordpress-a[Deployment] : All Connections";

/// Creates a deny-all ingress policy in `blogs` through the emulator's API.
fn create_lockdown(port: u16) {
    let policy = r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"lockdown","namespace":"blogs"},"spec":{"podSelector":{},"policyTypes":["Ingress"]}}"#;
    post(
        port,
        "/apis/networking.k8s.io/v1/namespaces/blogs/networkpolicies",
        policy,
    );
}

#[test]
fn watch_reports_a_policy_created_through_the_api() {
    let paths = ["examples/wordpress-cluster"];
    let Some(server) = kmock("kmock-watch", &paths) else {
        return;
    };
    let kc = kubeconfig(&server);
    let (mut child, lines) =
        common::spawn_lines(&["watch", "--kubeconfig", &kc, "--format", "jsonl", "--quiet"]);
    let next = |what: &str| {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {what} line"));
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    let synced = next("synced");
    let files: Vec<&str> = ["reach", "--format", "json"]
        .into_iter()
        .chain(paths)
        .collect();
    let (reach, _, _) = run(&files);
    let reach: serde_json::Value = serde_json::from_str(&reach).unwrap();
    assert_eq!(synced["kind"], "synced");
    assert_eq!(
        synced["connections"].as_u64(),
        Some(reach["connections"].as_array().unwrap().len() as u64)
    );
    create_lockdown(server.port);
    let change = next("change");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(change["kind"], "change");
    assert!(
        change["cause"].as_array().unwrap().contains(
            &serde_json::json!({"action": "created", "object": "NetworkPolicy/blogs/lockdown"})
        ),
        "{change}"
    );
    let removed = change["removed"].as_array().unwrap();
    assert!(
        removed
            .iter()
            .any(|c| c["src"] == "blogs/debug-shell[Pod]"
                && c["dst"] == "blogs/wordpress-a[Deployment]"),
        "{change}"
    );
    assert!(change["added"].as_array().unwrap().is_empty(), "{change}");
}

/// POSTs `body` as JSON; panics unless the server answers 2xx.
fn post(port: u16, path: &str, body: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert!(status.starts_with('2'), "{answer}");
}
