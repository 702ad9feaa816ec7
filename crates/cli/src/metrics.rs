//! `--metrics-addr`: Prometheus metrics of `kubeseg watch`, served over plain HTTP.

use anyhow::{Context, Result};
use std::io::Write as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The figures the watch keeps current.
#[derive(Clone, Default)]
pub(crate) struct Metrics(Arc<Mutex<Figures>>);

/// What the cluster holds now.
pub(crate) struct Current {
    pub objects: usize,
    pub workloads: usize,
    pub connections: usize,
    pub findings_by_severity: std::collections::BTreeMap<String, usize>,
}

#[derive(Default)]
struct Figures {
    objects: usize,
    workloads: usize,
    connections: usize,
    findings: std::collections::BTreeMap<String, usize>,
    lag_seconds: f64,
    evaluations: u64,
    troubles: u64,
}

impl Metrics {
    /// The figures of the answer just given, `lag` after its first event arrived.
    pub(crate) fn update(&self, now: Current, lag: Duration) {
        if let Ok(mut f) = self.0.lock() {
            f.objects = now.objects;
            f.workloads = now.workloads;
            f.connections = now.connections;
            f.findings = now.findings_by_severity;
            f.lag_seconds = lag.as_secs_f64();
            f.evaluations += 1;
        }
    }

    pub(crate) fn trouble(&self) {
        if let Ok(mut f) = self.0.lock() {
            f.troubles += 1;
        }
    }

    fn render(&self) -> String {
        let Ok(f) = self.0.lock() else {
            return String::new();
        };
        let mut s = String::new();
        let mut gauge = |name: &str, help: &str, value: String| {
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        };
        gauge(
            "kubeseg_objects",
            "Objects read from the cluster.",
            f.objects.to_string(),
        );
        gauge(
            "kubeseg_workloads",
            "Workloads in the cluster.",
            f.workloads.to_string(),
        );
        gauge(
            "kubeseg_connections",
            "Allowed connections between endpoints.",
            f.connections.to_string(),
        );
        gauge(
            "kubeseg_event_lag_seconds",
            "Time from the last batch's first event to its answer.",
            f.lag_seconds.to_string(),
        );
        s.push_str(
            "# HELP kubeseg_findings Audit findings by severity.\n# TYPE kubeseg_findings gauge\n",
        );
        for severity in ["critical", "high", "medium", "low", "info"] {
            let n = f.findings.get(severity).copied().unwrap_or(0);
            s.push_str(&format!(
                "kubeseg_findings{{severity=\"{severity}\"}} {n}\n"
            ));
        }
        s.push_str(&format!(
            "# HELP kubeseg_evaluations_total Answers computed.\n# TYPE kubeseg_evaluations_total counter\nkubeseg_evaluations_total {}\n",
            f.evaluations
        ));
        s.push_str(&format!(
            "# HELP kubeseg_watch_errors_total Watch failures (disconnects, server down), each retried.\n# TYPE kubeseg_watch_errors_total counter\nkubeseg_watch_errors_total {}\n",
            f.troubles
        ));
        s
    }
}

/// Serves `GET /metrics` on `addr` from a thread of its own.
pub(crate) fn serve(addr: &str, metrics: Metrics) -> Result<()> {
    let listener = TcpListener::bind(addr).with_context(|| format!("--metrics-addr {addr}"))?;
    std::thread::Builder::new()
        .name("kubeseg-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let head = read_head(&mut stream);
                let (status, body) = if head.starts_with("GET /metrics ") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "not found: metrics are at /metrics\n".to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        })?;
    Ok(())
}

/// The request line and headers, read until the blank line that ends them (a client
/// may send them in several pieces), at most 8 KiB.
fn read_head(stream: &mut impl std::io::Read) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}
