#![allow(clippy::print_stdout, clippy::print_stderr)]
//! `kubeseg-bench-watch`: how long `kubeseg watch` takes from an event in the cluster
//! to its change line.
//!
//! A synthetic cluster is served by the fakeapi double over loopback HTTP; `kubeseg
//! watch --format jsonl` follows it; then events are replayed through the double, one
//! at a time: a NetworkPolicy created and deleted, a Pod created and deleted. Each
//! latency runs from the write to the change line on the watch's stdout, so it
//! includes the watch stream, the batch window and the whole recomputation.

use clap::Parser;
use kubeseg_fakeapi::{FakeApi, KubeconfigStyle};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "kubeseg-bench-watch")]
struct Args {
    /// The kubeseg binary.
    #[arg(long, default_value = "target/release/kubeseg")]
    kubeseg: PathBuf,
    /// The synthetic shape (see `kubeseg-synth --list`).
    #[arg(long, default_value = "issue-10k-real")]
    shape: String,
    /// Events to replay (policy create, policy delete, pod create, pod delete, ...).
    #[arg(long, default_value_t = 20)]
    events: usize,
    /// The watch's `--batch-ms`.
    #[arg(long, default_value_t = 20)]
    batch_ms: u64,
    /// Directory for the input, the watch's stderr and results.md.
    #[arg(long, default_value = "bench-out", value_name = "DIR")]
    out: PathBuf,
    /// Seconds to wait for one change line.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubeseg-bench-watch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&a.out).map_err(|e| e.to_string())?;
    let shape = kubeseg_synth::shape(&a.shape).ok_or(format!("unknown shape {}", a.shape))?;
    let mut text = Vec::new();
    kubeseg_synth::generate(&shape, 1, kubeseg_synth::Format::Json, &mut text)
        .map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let items = doc["items"].as_array().cloned().unwrap_or_default();
    let namespaces: Vec<String> = items
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    eprintln!(
        "serving {} objects ({} namespaces)",
        items.len(),
        namespaces.len()
    );
    let mut api = FakeApi::new();
    for o in items {
        api = api.object(o);
    }
    let server = api.start()?;
    let kubeconfig = a.out.join("watch-kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig(KubeconfigStyle::Token)?)
        .map_err(|e| e.to_string())?;
    let stderr =
        std::fs::File::create(a.out.join("watch-stderr.txt")).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut child = Command::new(&a.kubeseg)
        .arg("watch")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--format",
            "jsonl",
            "--quiet",
            "--batch-ms",
            &a.batch_ms.to_string(),
        ])
        .env("KUBESEG_TIMINGS", "1")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", a.kubeseg.display()))?;
    let lines = reader(child.stdout.take().ok_or("no stdout")?);
    let timeout = Duration::from_secs_f64(a.timeout);
    let synced = next(&lines, timeout)?;
    let sync_time = start.elapsed();
    eprintln!("synced in {:.2} s: {synced}", sync_time.as_secs_f64());
    let mut policy = Vec::new();
    let mut pod = Vec::new();
    let mut quiet = 0;
    for i in 0..a.events {
        let ns = &namespaces[(i / 4) % namespaces.len()];
        let name = format!("bench-{}", i / 4);
        let t0 = Instant::now();
        match i % 4 {
            0 => server
                .apply(
                    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"podSelector": {}, "ingress": [{}], "egress": [{}]}}),
                )
                .map(|_| ()),
            1 => server.delete("NetworkPolicy", ns, &name).map(|_| ()),
            2 => server
                .apply(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}}))
                .map(|_| ()),
            _ => server.delete("Pod", ns, &name).map(|_| ()),
        }
        .map_err(|e| format!("{e:?}"))?;
        let written = t0.elapsed().as_secs_f64() * 1000.0;
        if written > 10.0 {
            eprintln!("  the double took {written:.0} ms to store event {i}");
        }
        match lines.recv_timeout(timeout) {
            Ok(_) => {
                let took = t0.elapsed().as_secs_f64() * 1000.0;
                if i % 4 < 2 {
                    policy.push(took)
                } else {
                    pod.push(took)
                }
            }
            Err(_) => quiet += 1,
        }
    }
    let peak = peak_rss_kb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let report = format!(
        "# kubeseg watch latency\n\nshape {} ({}), --batch-ms {}, {} events; command: `{}`\n\n| | median ms | p90 ms | max ms | n |\n|---|---|---|---|---|\n| policy event → change line | {} |\n| pod event → change line | {} |\n\ninitial sync {:.2} s; watch peak RSS {} MB; events without a change line: {quiet}\n",
        a.shape,
        shape.description,
        a.batch_ms,
        a.events,
        std::env::args().collect::<Vec<_>>().join(" "),
        stats(&mut policy),
        stats(&mut pod),
        sync_time.as_secs_f64(),
        peak / 1024,
    );
    print!("{report}");
    let mut f = BufWriter::new(
        std::fs::File::create(a.out.join("watch-results.md")).map_err(|e| e.to_string())?,
    );
    f.write_all(report.as_bytes()).map_err(|e| e.to_string())?;
    Ok(())
}

fn reader(stdout: std::process::ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn next(lines: &Receiver<String>, timeout: Duration) -> Result<String, String> {
    let line = lines
        .recv_timeout(timeout)
        .map_err(|_| "no line from the watch".to_string())?;
    Ok(line.chars().take(200).collect())
}

/// `median | p90 | max | n`.
fn stats(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "- | - | - | 0".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "{:.0} | {:.0} | {:.0} | {}",
        at(0.5),
        at(0.9),
        v[v.len() - 1],
        v.len()
    )
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
