#![allow(clippy::print_stdout, clippy::print_stderr)]
//! `kubeseg-bench`: benchmark driver for the `kubeseg` binary.
//!
//! For every scenario the input is generated once with the `kubeseg-synth`
//! library, then `kubeseg` runs N times as a child process (stdout to
//! `/dev/null`). Wall time is measured around the child; peak RSS comes from
//! GNU `/usr/bin/time -f %M` when present, else from polling `VmHWM` in
//! `/proc/<pid>/status`. With `--nca` the same is done side by side with
//! network-config-analyzer (`nca --connectivity`) on the nca300/nca1000 shapes.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use kubeseg_synth::{Format, generate, shape};

mod browser;
mod lab;

/// Benchmark driver: generates synthetic clusters and times `kubeseg` on them.
#[derive(Debug, Parser)]
#[command(name = "kubeseg-bench", version)]
struct Args {
    /// The kubeseg binary (default: `kubeseg` next to this executable, else on PATH).
    #[arg(long, value_name = "PATH")]
    kubeseg: Option<PathBuf>,
    /// Runs per scenario (default: 5, and 3 for shapes with 100k pods or more).
    #[arg(long)]
    runs: Option<usize>,
    /// Scenarios to run, comma separated: ids from --list, or the groups
    /// `small`, `big`, `all` (default: all, or none when --nca is given).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    shapes: Vec<String>,
    /// Directory for generated inputs, logs and results.md.
    #[arg(long, default_value = "bench-out", value_name = "DIR")]
    out: PathBuf,
    /// Per-run timeout in seconds; the child is killed and the run recorded as a timeout.
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    timeout: f64,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Compare with network-config-analyzer on the nca300 and nca1000 shapes.
    #[arg(long)]
    nca: bool,
    /// The nca executable (default: /work/nca-venv/bin/nca if present, else `nca` on PATH).
    #[arg(long, value_name = "PATH")]
    nca_bin: Option<PathBuf>,
    /// NCA runs per shape (default: 3 for nca300, 1 for nca1000).
    #[arg(long)]
    nca_runs: Option<usize>,
    /// Per-run timeout for NCA in seconds.
    #[arg(long, default_value_t = 900.0, value_name = "SECS")]
    nca_timeout: f64,
    /// Shapes for the NCA comparison.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "nca300,nca1000",
        value_name = "LIST"
    )]
    nca_shapes: Vec<String>,
    /// Measure peak RSS by polling /proc even when /usr/bin/time exists.
    #[arg(long)]
    poll_rss: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Time `kubeseg audit --format json` instead of `reach` on the scenarios.
    #[arg(long)]
    audit: bool,
    /// With --audit: write `--format html` instead, then open the page in headless
    /// Chromium --runs times and report its size and how long it takes to become
    /// interactive (navigation to the page's ready mark).
    #[arg(long, requires = "audit")]
    html: bool,
    /// With --audit: workloads passed as `--assume-compromised` (repeatable).
    #[arg(long, value_name = "WORKLOAD")]
    assume_compromised: Vec<String>,
    /// Time `kubeseg diff` between each scenario's JSON input and a copy with 1% of its
    /// policies changed, next to `reach --compact` on the input.
    #[arg(long)]
    diff: bool,
    /// Benchmark the kernel lab instead (as root): `lab up` of a B2 cluster, `lab apply`
    /// (--runs times), and the packet path with and without the rules.
    #[arg(long)]
    lab: bool,
    /// With --lab: pods per workload (B2 has 100 workloads).
    #[arg(long, default_value_t = 10, requires = "lab")]
    lab_pods_per_workload: u16,
}

/// One benchmark scenario: a shape, its input formats and the kubeseg flags.
struct Scenario {
    id: &'static str,
    shape: &'static str,
    unique_labels: bool,
    formats: &'static [Format],
    compact: bool,
}

const BOTH: &[Format] = &[Format::Yaml, Format::Json];
const YAML: &[Format] = &[Format::Yaml];

const fn sc(id: &'static str, formats: &'static [Format], compact: bool) -> Scenario {
    Scenario {
        id,
        shape: id,
        unique_labels: false,
        formats,
        compact,
    }
}

const SCENARIOS: &[Scenario] = &[
    sc("B0", BOTH, false),
    sc("B1", BOTH, false),
    sc("B2", BOTH, false),
    sc("B3", BOTH, false),
    sc("B5", BOTH, false),
    sc("issue-10k", BOTH, false),
    sc("issue-150k", YAML, true),
    Scenario {
        id: "issue-150k-unique",
        shape: "issue-150k",
        unique_labels: true,
        formats: YAML,
        compact: true,
    },
    sc("issue-10k-real", BOTH, false),
    sc("issue-150k-real", BOTH, true),
    sc("issue-150k-real-unique", YAML, true),
    sc("issue-10k-real-tiers", BOTH, false),
    sc("issue-150k-real-tiers", BOTH, true),
    sc("issue-10k-real-cilium", BOTH, false),
    sc("issue-150k-real-cilium", BOTH, true),
    sc("issue-10k-real-calico", BOTH, false),
    sc("issue-150k-real-calico", BOTH, true),
    sc("mesh-20k", BOTH, false),
    sc("B4", BOTH, true),
    sc("B6", BOTH, true),
    sc("B7", BOTH, true),
    sc("B8", YAML, true),
];

const SMALL: &[&str] = &["B0", "B1", "B2", "B3", "B5", "issue-10k"];

fn ext(f: Format) -> &'static str {
    match f {
        Format::Yaml => "yaml",
        Format::Json => "json",
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok,
    Failed(String),
    Timeout,
}

#[derive(Debug, Clone)]
struct RunResult {
    wall: f64,
    rss_kb: Option<u64>,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Meter {
    GnuTime,
    Poll,
}

fn gnu_time_works() -> bool {
    let p = Path::new("/usr/bin/time");
    if !p.exists() {
        return false;
    }
    let tmp = std::env::temp_dir().join(format!("kubeseg-bench-time-{}", std::process::id()));
    let ok = Command::new(p)
        .args(["-f", "%M", "-o"])
        .arg(&tmp)
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && fs::read_to_string(&tmp)
            .ok()
            .and_then(|s| {
                s.trim()
                    .lines()
                    .last()
                    .map(|l| l.trim().parse::<u64>().is_ok())
            })
            .unwrap_or(false);
    let _ = fs::remove_file(&tmp);
    ok
}

fn child_pids(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Kills `pid` and its descendants, deepest first.
fn kill_tree(pid: u32) {
    for c in child_pids(pid) {
        kill_tree(c);
    }
    kill(pid);
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `program args` once, measuring wall time and peak RSS.
/// stdout goes to `stdout` (or /dev/null), stderr to `stderr_path`.
fn run_measured(
    program: &Path,
    args: &[String],
    stdout: Option<&Path>,
    stderr_path: &Path,
    timeout: f64,
    meter: Meter,
) -> io::Result<RunResult> {
    let time_file = stderr_path.with_extension("time");
    let mut cmd = match meter {
        Meter::GnuTime => {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M", "-o"]).arg(&time_file).arg(program);
            c
        }
        Meter::Poll => Command::new(program),
    };
    cmd.args(args);
    cmd.stdout(match stdout {
        Some(p) => Stdio::from(File::create(p)?),
        None => Stdio::null(),
    });
    cmd.stderr(Stdio::from(File::create(stderr_path)?));
    cmd.stdin(Stdio::null());

    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let timed_out = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let peak = Arc::new(AtomicU64::new(0));

    // Watchdog: kills the measured process when the timeout expires.
    let watchdog = {
        let timed_out = Arc::clone(&timed_out);
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) =
                done_rx.recv_timeout(Duration::from_secs_f64(timeout))
            {
                timed_out.store(true, Ordering::SeqCst);
                match meter {
                    // Kill the measured grandchild so that time still reports %M.
                    Meter::GnuTime => {
                        let kids = child_pids(pid);
                        if kids.is_empty() {
                            kill(pid);
                        } else {
                            kids.into_iter().for_each(kill_tree);
                        }
                    }
                    Meter::Poll => kill_tree(pid),
                }
            }
        })
    };
    // RSS poller (only without GNU time).
    let stop = Arc::new(AtomicBool::new(false));
    let poller = (meter == Meter::Poll).then(|| {
        let stop = Arc::clone(&stop);
        let peak = Arc::clone(&peak);
        thread::spawn(move || {
            let mut interval = Duration::from_millis(1);
            while !stop.load(Ordering::SeqCst) {
                if let Some(kb) = vm_hwm_kb(pid) {
                    peak.fetch_max(kb, Ordering::SeqCst);
                }
                thread::sleep(interval);
                interval = (interval * 2).min(Duration::from_millis(20));
            }
        })
    });

    let status = child.wait()?;
    let wall = start.elapsed().as_secs_f64();
    let _ = done_tx.send(());
    stop.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    if let Some(p) = poller {
        let _ = p.join();
    }

    let mut detail = String::new();
    let rss_kb = match meter {
        Meter::GnuTime => {
            let text = fs::read_to_string(&time_file).unwrap_or_default();
            let mut rss = None;
            for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                match l.parse::<u64>() {
                    Ok(v) => rss = Some(v),
                    Err(_) => detail = l.to_string(),
                }
            }
            rss
        }
        Meter::Poll => Some(peak.load(Ordering::SeqCst)).filter(|&v| v > 0),
    };
    let outcome = if timed_out.load(Ordering::SeqCst) {
        Outcome::Timeout
    } else if status.success() {
        Outcome::Ok
    } else if !detail.is_empty() {
        Outcome::Failed(detail)
    } else {
        Outcome::Failed(format!("{status}"))
    };
    Ok(RunResult {
        wall,
        rss_kb,
        outcome,
    })
}

/// One table row: a scenario in one input format.
struct Row {
    name: String,
    pods: usize,
    policies: usize,
    input_bytes: u64,
    command: String,
    runs: Vec<RunResult>,
    stderr_first: Vec<String>,
    stderr_lines: usize,
    timeout: f64,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

impl Row {
    fn ok_walls(&self) -> Vec<f64> {
        self.runs
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .map(|r| r.wall)
            .collect()
    }
    fn median_wall(&self) -> Option<f64> {
        median(&mut self.ok_walls())
    }
    fn min_wall(&self) -> Option<f64> {
        self.ok_walls().into_iter().reduce(f64::min)
    }
    fn max_wall(&self) -> Option<f64> {
        self.ok_walls().into_iter().reduce(f64::max)
    }
    fn median_rss_mb(&self) -> Option<f64> {
        let mut v: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|r| r.rss_kb)
            .map(|kb| kb as f64 / 1024.0)
            .collect();
        median(&mut v)
    }
    fn status(&self) -> String {
        let ok = self
            .runs
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .count();
        let mut s = if ok == self.runs.len() {
            "ok".to_string()
        } else {
            let mut parts = Vec::new();
            if ok > 0 {
                parts.push(format!("{ok} ok"));
            }
            for r in &self.runs {
                match &r.outcome {
                    Outcome::Ok => {}
                    Outcome::Timeout => parts.push(format!("timeout >{}s", self.timeout)),
                    Outcome::Failed(m) => parts.push(format!("failed: {m}")),
                }
            }
            parts.join(", ")
        };
        if self.stderr_lines > 0 {
            let _ = write!(s, " ({} stderr lines)", self.stderr_lines);
        }
        s
    }
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.prec$}"))
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn command_line(program: &Path, args: &[String], redirect: &str) -> String {
    let mut s = shell_quote(&program.display().to_string());
    for a in args {
        s.push(' ');
        s.push_str(&shell_quote(a));
    }
    s.push_str(redirect);
    s
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Generates (or regenerates) one input file.
fn gen_input(
    shape_id: &str,
    unique: bool,
    seed: u64,
    format: Format,
    path: &Path,
) -> io::Result<kubeseg_synth::Stats> {
    let mut sh = shape(shape_id).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown shape {shape_id}"),
        )
    })?;
    sh.unique_labels |= unique;
    let start = Instant::now();
    let mut w = BufWriter::new(File::create(path)?);
    let st = generate(&sh, seed, format, &mut w)?;
    w.flush()?;
    eprintln!(
        "  generated {} ({} pods, {} NetworkPolicies, {} Cilium policies, {} Calico policies, {:.1} MB) in {:.1}s",
        path.display(),
        st.pods,
        st.policies,
        st.cilium,
        st.calico,
        mb(st.bytes),
        start.elapsed().as_secs_f64()
    );
    Ok(st)
}

fn read_stderr(path: &Path) -> (usize, Vec<String>) {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    (
        lines.len(),
        lines.iter().take(5).map(|s| (*s).to_string()).collect(),
    )
}

struct Ctx {
    out: PathBuf,
    logs: PathBuf,
    meter: Meter,
}

/// Runs one command `runs` times and returns a row; stops early after a
/// timeout or a failure.
#[allow(clippy::too_many_arguments)]
fn bench_command(
    ctx: &Ctx,
    name: &str,
    program: &Path,
    args: &[String],
    stdout_file: Option<&Path>,
    remove_before_run: Option<&Path>,
    runs: usize,
    timeout: f64,
    stats: &kubeseg_synth::Stats,
) -> io::Result<Row> {
    let tag: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let redirect = match stdout_file {
        Some(p) => format!(" > {}", shell_quote(&p.display().to_string())),
        None => " > /dev/null".to_string(),
    };
    let mut row = Row {
        name: name.to_string(),
        pods: stats.pods,
        // Cilium's and Calico's policies count like NetworkPolicies in the tables.
        policies: stats.policies + stats.cilium + stats.calico,
        input_bytes: stats.bytes,
        command: command_line(program, args, &redirect),
        runs: Vec::new(),
        stderr_first: Vec::new(),
        stderr_lines: 0,
        timeout,
    };
    eprintln!("  $ {}", row.command);
    for i in 0..runs {
        if let Some(p) = remove_before_run {
            // e.g. `nca --file_out` appends to an existing file.
            let _ = fs::remove_file(p);
        }
        let err_path = ctx.logs.join(format!("{tag}.run{i}.stderr"));
        let r = run_measured(program, args, stdout_file, &err_path, timeout, ctx.meter)?;
        eprintln!(
            "    run {}/{}: {:.3}s, peak RSS {} MB, {}",
            i + 1,
            runs,
            r.wall,
            fmt_opt(r.rss_kb.map(|k| k as f64 / 1024.0), 1),
            match &r.outcome {
                Outcome::Ok => "ok".to_string(),
                Outcome::Timeout => format!("TIMEOUT (>{timeout}s, killed)"),
                Outcome::Failed(m) => format!("FAILED: {m}"),
            }
        );
        let (n, first) = read_stderr(&err_path);
        if i == 0 || (row.stderr_lines == 0 && n > 0) {
            row.stderr_lines = n;
            row.stderr_first = first;
        }
        let stop = r.outcome != Outcome::Ok;
        row.runs.push(r);
        if stop {
            eprintln!("    (stopping this scenario after a non-ok run)");
            break;
        }
    }
    if row.stderr_lines > 0 {
        eprintln!("    stderr ({} lines), first lines:", row.stderr_lines);
        for l in &row.stderr_first {
            eprintln!("      {l}");
        }
    }
    Ok(row)
}

fn markdown(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("| Scenario | Pods | Policies | Input MB | Runs | Median s | Min s | Max s | Peak RSS MB (median) | Status | Command |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | `{}` |",
            r.name,
            r.pods,
            r.policies,
            mb(r.input_bytes),
            r.runs.len(),
            fmt_opt(r.median_wall(), 3),
            fmt_opt(r.min_wall(), 3),
            fmt_opt(r.max_wall(), 3),
            fmt_opt(r.median_rss_mb(), 1),
            r.status().replace('|', "\\|"),
            r.command.replace('|', "\\|"),
        );
    }
    s
}

fn print_summary(rows: &[Row]) {
    println!(
        "{:<28} {:>8} {:>8} {:>9} {:>4} {:>9} {:>9} {:>9} {:>9}  status",
        "scenario", "pods", "policies", "input MB", "runs", "median s", "min s", "max s", "RSS MB"
    );
    for r in rows {
        println!(
            "{:<28} {:>8} {:>8} {:>9.1} {:>4} {:>9} {:>9} {:>9} {:>9}  {}",
            r.name,
            r.pods,
            r.policies,
            mb(r.input_bytes),
            r.runs.len(),
            fmt_opt(r.median_wall(), 3),
            fmt_opt(r.min_wall(), 3),
            fmt_opt(r.max_wall(), 3),
            fmt_opt(r.median_rss_mb(), 1),
            r.status()
        );
        println!("    {}", r.command);
    }
}

fn select_scenarios(list: &[String]) -> Result<Vec<&'static Scenario>, String> {
    let mut out: Vec<&'static Scenario> = Vec::new();
    let mut push = |s: &'static Scenario| {
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    };
    for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match item.to_ascii_lowercase().as_str() {
            "all" => SCENARIOS.iter().for_each(&mut push),
            "small" => SCENARIOS
                .iter()
                .filter(|s| SMALL.contains(&s.id))
                .for_each(&mut push),
            "big" => SCENARIOS
                .iter()
                .filter(|s| !SMALL.contains(&s.id))
                .for_each(&mut push),
            _ => {
                let s = SCENARIOS
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(item))
                    .ok_or_else(|| {
                        format!(
                            "unknown scenario {item:?} (known: {}, small, big, all)",
                            SCENARIOS
                                .iter()
                                .map(|s| s.id)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })?;
                push(s);
            }
        }
    }
    Ok(out)
}

fn kubeseg_args(input: &Path, compact: bool) -> Vec<String> {
    let mut a = vec![
        "reach".to_string(),
        input.display().to_string(),
        "--format".to_string(),
        "json".to_string(),
    ];
    if compact {
        a.push("--compact".to_string());
    }
    a
}

/// Writes `output`: `input` (kubeseg-synth JSON, one item per line) with every 100th
/// NetworkPolicy changed: an ingress (or egress) rule allowing TCP 8443 added, or, for a
/// policy without rules, Egress dropped from its policyTypes. Returns how many changed.
fn change_policies(input: &Path, output: &Path) -> io::Result<usize> {
    let text = fs::read_to_string(input)?;
    let mut out = String::with_capacity(text.len() + (1 << 16));
    let (mut seen, mut changed, mut due) = (0usize, 0usize, false);
    const RULE: &str = "{\"ports\":[{\"protocol\":\"TCP\",\"port\":8443}]},";
    for line in text.lines() {
        let mut line = line.to_string();
        if line.contains("\"kind\":\"NetworkPolicy\"") {
            seen += 1;
            due |= seen % 100 == 0;
            if due {
                let edited = if line.contains("\"ingress\":[") {
                    line.replacen("\"ingress\":[", &format!("\"ingress\":[{RULE}"), 1)
                } else if line.contains("\"egress\":[") {
                    line.replacen("\"egress\":[", &format!("\"egress\":[{RULE}"), 1)
                } else {
                    line.replacen(
                        "\"policyTypes\":[\"Ingress\",\"Egress\"]",
                        "\"policyTypes\":[\"Ingress\"]",
                        1,
                    )
                };
                if edited != line {
                    line = edited;
                    changed += 1;
                    due = false;
                }
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    fs::write(output, out)?;
    Ok(changed)
}

fn audit_args(input: &Path, assumed: &[String], format: &str) -> Vec<String> {
    let mut a = vec![
        "audit".to_string(),
        input.display().to_string(),
        "--format".to_string(),
        format.to_string(),
    ];
    for w in assumed {
        a.push("--assume-compromised".to_string());
        a.push(w.clone());
    }
    a
}

/// Opens an HTML report `runs` times in a fresh headless Chromium each and returns a
/// line with its size and the median, min and max time to its ready mark.
fn open_page(name: &str, page: &Path, runs: usize) -> io::Result<String> {
    let bytes = fs::metadata(page)?.len();
    let mut times = Vec::new();
    for i in 0..runs {
        let Some(mut b) = browser::Browser::launch() else {
            return Err(io::Error::other("no Chromium"));
        };
        b.viewport(1280, 800);
        let t = b.open(page).as_secs_f64();
        let errors = b.errors();
        if !errors.is_empty() {
            return Err(io::Error::other(format!("console errors: {errors:?}")));
        }
        eprintln!("    open {}/{runs}: ready in {t:.3}s", i + 1);
        times.push(t);
    }
    let (lo, hi) = times
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    let med = median(&mut times).unwrap_or(0.0);
    Ok(format!(
        "{name}: page {:.1} MB, interactive in {med:.2} s median ({lo:.2}–{hi:.2} s, {runs} runs, headless Chromium at 1280×800)",
        mb(bytes)
    ))
}

fn run_scenarios(
    ctx: &Ctx,
    args: &Args,
    kubeseg: &Path,
    list: &[&'static Scenario],
) -> io::Result<(Vec<Row>, Vec<String>)> {
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    for s in list {
        let sh = shape(s.shape).ok_or_else(|| io::Error::other(format!("no shape {}", s.shape)))?;
        let runs = args.runs.unwrap_or(if sh.pods >= 100_000 { 3 } else { 5 });
        for &f in s.formats {
            eprintln!("== {} ({})", s.id, ext(f));
            let input = ctx.out.join(format!("{}.{}", s.id, ext(f)));
            let stats = gen_input(s.shape, s.unique_labels, args.seed, f, &input)?;
            if args.diff {
                if f != Format::Json {
                    continue;
                }
                let changed = ctx.out.join(format!("{}-changed.json", s.id));
                let n = change_policies(&input, &changed)?;
                eprintln!("  changed {n} policies into {}", changed.display());
                let diff = vec![
                    "diff".to_string(),
                    input.display().to_string(),
                    changed.display().to_string(),
                    "--format".into(),
                    "json".into(),
                    "-q".into(),
                ];
                rows.push(bench_command(
                    ctx,
                    &format!("{} json diff (1% changed)", s.id),
                    kubeseg,
                    &diff,
                    None,
                    None,
                    runs,
                    args.timeout,
                    &stats,
                )?);
                let reach = kubeseg_args(&input, true);
                rows.push(bench_command(
                    ctx,
                    &format!("{} json reach --compact", s.id),
                    kubeseg,
                    &reach,
                    None,
                    None,
                    runs,
                    args.timeout,
                    &stats,
                )?);
                continue;
            }
            let format = if args.html { "html" } else { "json" };
            let a = if args.audit {
                audit_args(&input, &args.assume_compromised, format)
            } else {
                kubeseg_args(&input, s.compact)
            };
            let name = format!(
                "{} {}{}",
                s.id,
                ext(f),
                match (args.audit, s.compact) {
                    (true, _) if args.html => " audit html",
                    (true, _) => " audit",
                    (false, true) => " compact",
                    (false, false) => "",
                }
            );
            let page = ctx.out.join(format!("{}.html", s.id));
            rows.push(bench_command(
                ctx,
                &name,
                kubeseg,
                &a,
                args.html.then_some(page.as_path()),
                None,
                runs,
                args.timeout,
                &stats,
            )?);
            if args.html {
                let line = open_page(&name, &page, runs)?;
                eprintln!("  {line}");
                pages.push(line);
            }
        }
    }
    Ok((rows, pages))
}

/// NCA output facts used to check that it really analysed the policies.
struct NcaCheck {
    out_bytes: u64,
    out_lines: usize,
    rule_lines: usize,
    port_rules: usize,
    endpoints_line: Option<String>,
    nca_reported_time: Option<String>,
}

fn nca_check(out_file: &Path, log_file: &Path) -> NcaCheck {
    let text = fs::read_to_string(out_file).unwrap_or_default();
    let log = fs::read_to_string(log_file).unwrap_or_default();
    NcaCheck {
        out_bytes: text.len() as u64,
        out_lines: text.lines().count(),
        rule_lines: text.lines().filter(|l| l.contains("conn:")).count(),
        port_rules: text.lines().filter(|l| l.contains("dst_ports")).count(),
        endpoints_line: log
            .lines()
            .find(|l| l.contains("unique endpoints"))
            .map(|l| l.trim().to_string()),
        nca_reported_time: log
            .lines()
            .find(|l| l.contains("Total run time"))
            .map(|l| l.trim().to_string()),
    }
}

fn run_nca(ctx: &Ctx, args: &Args, kubeseg: &Path) -> io::Result<(Vec<Row>, String)> {
    let nca = args.nca_bin.clone().unwrap_or_else(|| {
        let venv = PathBuf::from("/work/nca-venv/bin/nca");
        if venv.exists() {
            venv
        } else {
            PathBuf::from("nca")
        }
    });
    let mut rows = Vec::new();
    let mut md = String::new();
    md.push_str("| Shape | Pods | Policies | kubeseg median s | kubeseg --compact median s | NCA median s (runs) | NCA / kubeseg | NCA / kubeseg --compact | kubeseg RSS MB | NCA RSS MB | NCA output |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for id in &args.nca_shapes {
        let sh = shape(id).ok_or_else(|| io::Error::other(format!("unknown shape {id}")))?;
        eprintln!("== NCA comparison: {id}");
        let input = ctx.out.join(format!("{id}.yaml"));
        let stats = gen_input(id, false, args.seed, Format::Yaml, &input)?;
        let runs = args.runs.unwrap_or(5);
        let k = bench_command(
            ctx,
            &format!("{id} kubeseg"),
            kubeseg,
            &kubeseg_args(&input, false),
            None,
            None,
            runs,
            args.timeout,
            &stats,
        )?;
        let kc = bench_command(
            ctx,
            &format!("{id} kubeseg compact"),
            kubeseg,
            &kubeseg_args(&input, true),
            None,
            None,
            runs,
            args.timeout,
            &stats,
        )?;
        let nca_out = ctx.out.join(format!("{id}.nca.txt"));
        let nca_log = ctx.out.join(format!("{id}.nca.log"));
        let nca_args = vec![
            "--connectivity".to_string(),
            "--resource_list".to_string(),
            input.display().to_string(),
            "--output_format".to_string(),
            "txt".to_string(),
            "--file_out".to_string(),
            nca_out.display().to_string(),
        ];
        let nca_runs = args
            .nca_runs
            .unwrap_or(if sh.pods >= 1_000 { 1 } else { 3 });
        let n = bench_command(
            ctx,
            &format!("{id} nca"),
            &nca,
            &nca_args,
            Some(&nca_log),
            Some(&nca_out),
            nca_runs,
            args.nca_timeout,
            &stats,
        )?;
        let chk = nca_check(&nca_out, &nca_log);
        eprintln!(
            "  NCA output {}: {} bytes, {} lines, {} rule lines ({} with port restrictions); {}; {}",
            nca_out.display(),
            chk.out_bytes,
            chk.out_lines,
            chk.rule_lines,
            chk.port_rules,
            chk.endpoints_line
                .as_deref()
                .unwrap_or("no endpoint count in log"),
            chk.nca_reported_time
                .as_deref()
                .unwrap_or("no run time in log"),
        );
        let analysed = chk.rule_lines > 1 && chk.port_rules > 0;
        if !analysed {
            eprintln!(
                "  WARNING: NCA output looks trivial; see {}",
                nca_log.display()
            );
        }
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.0}x", a / b),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            md,
            "| {id} | {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} KB, {} rule lines{} |",
            stats.pods,
            stats.policies,
            fmt_opt(k.median_wall(), 3),
            fmt_opt(kc.median_wall(), 3),
            fmt_opt(n.median_wall(), 2),
            n.runs.len(),
            ratio(n.median_wall(), k.median_wall()),
            ratio(n.median_wall(), kc.median_wall()),
            fmt_opt(k.median_rss_mb(), 1),
            fmt_opt(n.median_rss_mb(), 1),
            chk.out_bytes / 1024,
            chk.rule_lines,
            if analysed { "" } else { " (TRIVIAL?)" },
        );
        rows.extend([k, kc, n]);
    }
    Ok((rows, md))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        println!(
            "{:<22} {:>8} {:>9}  formats    kubeseg flags",
            "scenario", "pods", "policies"
        );
        for s in SCENARIOS {
            let sh = shape(s.shape);
            println!(
                "{:<22} {:>8} {:>9}  {:<10} reach --format json{}{}",
                s.id,
                sh.as_ref().map_or(0, |x| x.pods),
                sh.as_ref()
                    .map_or(0, |x| x.policies + x.cilium_policies + x.calico_policies),
                s.formats
                    .iter()
                    .map(|&f| ext(f))
                    .collect::<Vec<_>>()
                    .join("+"),
                if s.compact { " --compact" } else { "" },
                if SMALL.contains(&s.id) {
                    "  [small]"
                } else {
                    "  [big]"
                },
            );
        }
        return ExitCode::SUCCESS;
    }
    if args.lab {
        let kubeseg = args.kubeseg.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("kubeseg")))
                .unwrap_or_else(|| PathBuf::from("kubeseg"))
        });
        let _ = fs::create_dir_all(&args.out);
        let bench = lab::LabBench {
            pods_per_workload: args.lab_pods_per_workload,
            runs: args.runs.unwrap_or(5),
            seed: args.seed,
        };
        return match lab::run(&kubeseg, &args.out, &bench) {
            Ok(md) => {
                println!("{md}");
                let _ = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(args.out.join("results.md"))
                    .and_then(|mut f| f.write_all(md.as_bytes()));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kubeseg-bench: lab: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let selection = if args.shapes.is_empty() {
        if args.nca {
            Vec::new()
        } else {
            vec!["all".to_string()]
        }
    } else {
        args.shapes.clone()
    };
    let list = match select_scenarios(&selection) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kubeseg-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let kubeseg = args.kubeseg.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("kubeseg")))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("kubeseg"))
    });
    let logs = args.out.join("logs");
    if let Err(e) = fs::create_dir_all(&logs) {
        eprintln!("kubeseg-bench: cannot create {}: {e}", logs.display());
        return ExitCode::FAILURE;
    }
    let meter = if !args.poll_rss && gnu_time_works() {
        Meter::GnuTime
    } else {
        Meter::Poll
    };
    eprintln!(
        "kubeseg-bench: kubeseg={} peak-RSS via {}",
        kubeseg.display(),
        match meter {
            Meter::GnuTime => "/usr/bin/time -f %M",
            Meter::Poll => "polling VmHWM in /proc/<pid>/status",
        }
    );
    let ctx = Ctx {
        out: args.out.clone(),
        logs,
        meter,
    };
    let mut report = String::new();
    let (rows, pages) = match run_scenarios(&ctx, &args, &kubeseg, &list) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubeseg-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !rows.is_empty() {
        println!();
        print_summary(&rows);
        let md = markdown(&rows);
        println!("\n{md}");
        report.push_str(&md);
    }
    for line in &pages {
        println!("{line}");
        let _ = writeln!(report, "\n{line}");
    }
    if args.nca {
        match run_nca(&ctx, &args, &kubeseg) {
            Ok((nrows, md)) => {
                println!();
                print_summary(&nrows);
                println!("\n{}\n{md}", markdown(&nrows));
                let _ = write!(report, "\n{}\n{md}", markdown(&nrows));
            }
            Err(e) => {
                eprintln!("kubeseg-bench: NCA comparison: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let res_path = ctx.out.join("results.md");
    // Append so that several invocations into one --out accumulate.
    let appended = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&res_path)
        .and_then(|mut f| f.write_all(format!("{report}\n").as_bytes()));
    if let Err(e) = appended {
        eprintln!("kubeseg-bench: cannot write {}: {e}", res_path.display());
    }
    ExitCode::SUCCESS
}
