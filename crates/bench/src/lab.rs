//! `kubeseg-bench --lab`: the kernel lab at scale (run as root). Builds a lab from a
//! generated B2 cluster, times `lab apply` (every pod's rules replaced by the two-phase
//! update), then the packet path between two pods with their rules and without them.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use kubeseg_synth::{Format, generate, shape};
use serde_json::Value;

/// The lab's name while the benchmark runs.
const NAME: &str = "ksbench";
/// Round trips per packet-path measurement.
const ROUND_TRIPS: usize = 2000;

/// What to measure.
pub struct LabBench {
    pub pods_per_workload: u16,
    pub runs: usize,
    pub seed: u64,
}

/// One timed command: wall seconds, peak RSS in KB, standard output.
struct Timed {
    wall: f64,
    rss_kb: u64,
    stdout: String,
}

/// Runs `args` (program first) as the other benchmarks do: wall time, peak RSS, and
/// here its standard output too.
fn timed(out: &Path, args: &[&str]) -> Result<Timed, String> {
    let (stdout, stderr) = (out.join("lab-stdout.txt"), out.join("lab-stderr.txt"));
    let meter = if crate::gnu_time_works() {
        crate::Meter::GnuTime
    } else {
        crate::Meter::Poll
    };
    let rest: Vec<String> = args[1..].iter().map(|a| a.to_string()).collect();
    let r = crate::run_measured(
        Path::new(args[0]),
        &rest,
        Some(&stdout),
        &stderr,
        3600.0,
        meter,
    )
    .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if r.outcome != crate::Outcome::Ok {
        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
        return Err(format!(
            "{} failed ({:?}): {log}",
            args.join(" "),
            r.outcome
        ));
    }
    Ok(Timed {
        wall: r.wall,
        rss_kb: r.rss_kb.unwrap_or(0),
        stdout: std::fs::read_to_string(&stdout).map_err(|e| e.to_string())?,
    })
}

fn in_netns(netns: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new("ip")
        .args(["netns", "exec", netns])
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "{} in {netns}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Median, min and max.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    // `median` sorts.
    let median = crate::median(v).unwrap_or(0.0);
    (
        median,
        v.first().copied().unwrap_or(0.0),
        v.last().copied().unwrap_or(0.0),
    )
}

/// A connection to time: from a pod's namespace to an address and port.
struct Pair {
    netns: String,
    ip: String,
    port: u16,
    protocol: String,
}

/// An allowed connection for each of TCP and UDP.
fn allowed_pairs(kubeseg: &str, pods: &[Value]) -> Result<Vec<Pair>, String> {
    let mut found: Vec<Pair> = Vec::new();
    for src in pods.iter().take(40) {
        let netns = src["netns"].as_str().unwrap_or_default();
        let mut targets = Vec::new();
        for dst in pods {
            if dst["netns"] == src["netns"] {
                continue;
            }
            for p in dst["ports"].as_array().into_iter().flatten() {
                let proto = p["protocol"].as_str().unwrap_or_default();
                if proto == "SCTP" || found.iter().any(|f| f.protocol == proto) {
                    continue;
                }
                targets.push(
                    serde_json::json!({"ip": dst["ip"], "protocol": proto, "port": p["port"]}),
                );
            }
        }
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns, kubeseg, "lab", "probe"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = std::io::Write::write_all(
                &mut stdin,
                Value::Array(targets.clone()).to_string().as_bytes(),
            );
        }
        let o = child.wait_with_output().map_err(|e| e.to_string())?;
        let answers: Vec<bool> = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
        for (t, ok) in targets.iter().zip(answers) {
            let proto = t["protocol"].as_str().unwrap_or_default().to_string();
            if ok && !found.iter().any(|f| f.protocol == proto) {
                found.push(Pair {
                    netns: netns.to_string(),
                    ip: t["ip"].as_str().unwrap_or_default().to_string(),
                    port: t["port"].as_u64().unwrap_or(0) as u16,
                    protocol: proto,
                });
            }
        }
        if found.len() == 2 {
            break;
        }
    }
    found.sort_by(|a, b| a.protocol.cmp(&b.protocol));
    Ok(found)
}

/// Runs the benchmark; the Markdown section of results.md.
pub fn run(kubeseg: &Path, out: &Path, b: &LabBench) -> Result<String, String> {
    let sh = shape("B2").ok_or("no B2 shape")?;
    let mut text = Vec::new();
    generate(&sh, b.seed, Format::Yaml, &mut text).map_err(|e| e.to_string())?;
    let file = out.join(format!("lab-B2-{}.yaml", b.seed));
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    let (k, f) = (
        kubeseg.to_str().unwrap_or("kubeseg"),
        file.to_str().unwrap_or_default(),
    );
    let _ = Command::new(k)
        .args(["lab", "down", "--name", NAME])
        .output();
    let ppw = b.pods_per_workload.to_string();
    eprintln!(
        "kubeseg-bench: lab up ({ppw} pods per workload of B2 seed {})",
        b.seed
    );
    let up = timed(
        out,
        &[
            k,
            "lab",
            "up",
            f,
            "--name",
            NAME,
            "--pods-per-workload",
            &ppw,
            "--json",
        ],
    )?;
    let result = measure(k, f, out, b, &up);
    let _ = Command::new(k)
        .args(["lab", "down", "--name", NAME])
        .output();
    result
}

fn measure(k: &str, f: &str, out: &Path, b: &LabBench, up: &Timed) -> Result<String, String> {
    let lab: Value = serde_json::from_str(&up.stdout).map_err(|e| e.to_string())?;
    let pods = lab["pods"].as_array().cloned().unwrap_or_default();
    let mut md = format!(
        "\n### Kernel lab: B2 seed {}, {} pods and {} external addresses on one node\n\n",
        b.seed,
        pods.len(),
        lab["externals"].as_array().map_or(0, Vec::len)
    );
    let _ = writeln!(
        md,
        "`lab up`: {:.1} s, peak RSS {:.1} MB\n",
        up.wall,
        up.rss_kb as f64 / 1024.0
    );
    let (mut rules, mut walls, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..b.runs {
        let ppw = b.pods_per_workload.to_string();
        let a = timed(
            out,
            &[
                k,
                "lab",
                "apply",
                "--name",
                NAME,
                "--pods-per-workload",
                &ppw,
                f,
            ],
        )?;
        // "… rules replaced in N pods in X ms …"
        let ms = a
            .stdout
            .split(" pods in ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| format!("unexpected lab apply output: {}", a.stdout))?;
        eprintln!(
            "kubeseg-bench: lab apply run {}: rules {ms:.0} ms, wall {:.2} s",
            r + 1,
            a.wall
        );
        rules.push(ms);
        walls.push(a.wall);
        rss.push(a.rss_kb as f64 / 1024.0);
    }
    let (rm, rmin, rmax) = spread(&mut rules);
    let (wm, wmin, wmax) = spread(&mut walls);
    let (sm, _, _) = spread(&mut rss);
    let per_pod = if pods.is_empty() {
        0.0
    } else {
        rm / pods.len() as f64
    };
    let _ = writeln!(
        md,
        "| `lab apply` ({} runs) | median | min–max |\n|---|---|---|\n| rules replaced in every pod (both phases) | {rm:.0} ms | {rmin:.0}–{rmax:.0} ms |\n| per pod | {per_pod:.2} ms | |\n| whole command (load, compile, replace) | {wm:.2} s | {wmin:.2}–{wmax:.2} s |\n| peak RSS | {sm:.1} MB | |\n",
        b.runs
    );
    let pairs = allowed_pairs(k, &pods)?;
    let _ = writeln!(
        md,
        "| packet path (µs; median of 3 runs of {ROUND_TRIPS} round trips, both ends on CPU 0) | with rules: median | p99 | without: median | p99 |\n|---|---|---|---|---|"
    );
    let modes: Vec<(&Pair, bool, &str)> = pairs
        .iter()
        .flat_map(|p| {
            if p.protocol == "TCP" {
                vec![(p, true, "TCP handshake (new flow)")]
            } else {
                vec![
                    (p, true, "UDP echo, new flow"),
                    (p, false, "UDP echo, established"),
                ]
            }
        })
        .collect();
    // Both ends on CPU 0: a wake-up across CPUs costs tens of microseconds on this
    // VM, more than the rules, and would decide each figure by where the scheduler
    // happened to put the two processes.
    let state: Value = std::fs::read_to_string(format!("/run/kubeseg-lab/{NAME}/state.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    for (p, _, _) in &modes {
        let dst = pods.iter().find(|x| x["ip"] == p.ip.as_str());
        let pid = dst
            .and_then(|x| x["netns"].as_str())
            .and_then(|ns| state["listeners"][ns].as_u64());
        if let Some(pid) = pid {
            let _ = Command::new("taskset")
                .args(["-a", "-p", "1", &pid.to_string()])
                .output();
        }
    }
    let rtt = |p: &Pair, new: bool| -> Result<Value, String> {
        let port = p.port.to_string();
        let count = ROUND_TRIPS.to_string();
        let mut args = vec![
            "taskset",
            "-c",
            "0",
            k,
            "lab",
            "rtt",
            &p.ip,
            &port,
            &p.protocol,
            &count,
        ];
        if new {
            args.push("--new-flows");
        }
        // Three runs, each preceded by a short warm-up; the median of each figure.
        let mut medians = Vec::new();
        let mut p99s = Vec::new();
        for _ in 0..3 {
            let mut warm = args.clone();
            warm[9] = "100";
            in_netns(&p.netns, &warm)?;
            let o: Value =
                serde_json::from_str(&in_netns(&p.netns, &args)?).map_err(|e| e.to_string())?;
            medians.push(o["median_us"].as_f64().unwrap_or(0.0));
            p99s.push(o["p99_us"].as_f64().unwrap_or(0.0));
        }
        Ok(serde_json::json!({"median_us": spread(&mut medians).0, "p99_us": spread(&mut p99s).0}))
    };
    let with: Vec<Value> = modes
        .iter()
        .map(|(p, new, _)| rtt(p, *new))
        .collect::<Result<_, _>>()?;
    // The same pairs with the lab's table removed from both ends.
    for (p, _, _) in &modes {
        let _ = in_netns(&p.netns, &["nft", "delete", "table", "inet", "kubeseg"]);
        let dst = pods.iter().find(|x| x["ip"] == p.ip.as_str());
        if let Some(ns) = dst.and_then(|x| x["netns"].as_str()) {
            let _ = in_netns(ns, &["nft", "delete", "table", "inet", "kubeseg"]);
        }
    }
    let without: Vec<Value> = modes
        .iter()
        .map(|(p, new, _)| rtt(p, *new))
        .collect::<Result<_, _>>()?;
    for (((_, _, what), w), wo) in modes.iter().zip(&with).zip(&without) {
        let _ = writeln!(
            md,
            "| {what} | {:.0} | {:.0} | {:.0} | {:.0} |",
            w["median_us"].as_f64().unwrap_or(0.0),
            w["p99_us"].as_f64().unwrap_or(0.0),
            wo["median_us"].as_f64().unwrap_or(0.0),
            wo["p99_us"].as_f64().unwrap_or(0.0)
        );
    }
    let _ = writeln!(
        md,
        "\nCommand: `kubeseg-bench --lab --lab-pods-per-workload {} --runs {} --seed {}` (as root).",
        b.pods_per_workload, b.runs, b.seed
    );
    Ok(md)
}
