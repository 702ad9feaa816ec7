#![allow(clippy::print_stdout, clippy::print_stderr)]
//! `kubeseg-synth`: write a deterministic synthetic Kubernetes cluster.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use kubeseg_synth::{Format, SHAPE_IDS, generate, shape, shapes};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Fmt {
    Yaml,
    Json,
}

/// Deterministic synthetic Kubernetes cluster generator (Namespaces,
/// Deployments, ReplicaSets, Pods, NetworkPolicies).
#[derive(Debug, Parser)]
#[command(name = "kubeseg-synth", version)]
struct Args {
    /// Shape id (see --list).
    #[arg(long, default_value = "B2")]
    shape: String,
    /// PRNG seed; same seed and arguments give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Fmt,
    /// Output file (stdout when absent).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Number of pods; other counts not given scale proportionally.
    #[arg(long)]
    pods: Option<usize>,
    /// Number of workloads (Deployments).
    #[arg(long)]
    workloads: Option<usize>,
    /// Number of namespaces.
    #[arg(long)]
    namespaces: Option<usize>,
    /// Number of NetworkPolicies.
    #[arg(long)]
    policies: Option<usize>,
    /// Give every workload (every standalone pod) its own label set.
    #[arg(long)]
    unique_labels: bool,
    /// Add the pod-template-hash label to ReplicaSet pods.
    #[arg(long)]
    pod_template_hash: bool,
    /// Realistic policy mix (teams, tiers, default-deny, DNS, ingress,
    /// monitoring, cross-team and external-egress policies).
    #[arg(long)]
    realistic: bool,
    /// Print the shapes table and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        let all = shapes();
        let w = all.iter().map(|s| s.name.len()).max().unwrap_or(5);
        println!(
            "{:<w$} {:>8} {:>7} {:>6} {:>9}  description",
            "shape", "pods", "wls", "ns", "policies"
        );
        for s in all {
            println!(
                "{:<w$} {:>8} {:>7} {:>6} {:>9}  {}",
                s.name, s.pods, s.workloads, s.namespaces, s.policies, s.description
            );
        }
        return ExitCode::SUCCESS;
    }
    let Some(base) = shape(&args.shape) else {
        eprintln!(
            "kubeseg-synth: unknown shape {:?} (known: {})",
            args.shape,
            SHAPE_IDS.join(", ")
        );
        return ExitCode::from(2);
    };
    let mut sh = base.scaled(args.pods, args.workloads, args.namespaces, args.policies);
    sh.unique_labels |= args.unique_labels;
    sh.pod_template_hash |= args.pod_template_hash;
    sh.realistic |= args.realistic;
    let format = match args.format {
        Fmt::Yaml => Format::Yaml,
        Fmt::Json => Format::Json,
    };
    let start = Instant::now();
    let res = match &args.output {
        Some(p) => File::create(p).and_then(|f| {
            let mut w = BufWriter::new(f);
            let st = generate(&sh, args.seed, format, &mut w)?;
            w.flush()?;
            Ok(st)
        }),
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            generate(&sh, args.seed, format, &mut lock)
        }
    };
    match res {
        Ok(st) => {
            eprintln!(
                "kubeseg-synth: shape={} seed={} namespaces={} workloads={} pods={} policies={} cilium={} calico={} objects={} bytes={} time={:.2}s",
                sh.name,
                args.seed,
                st.namespaces,
                st.workloads,
                st.pods,
                st.policies,
                st.cilium,
                st.calico,
                st.objects,
                st.bytes,
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubeseg-synth: {e}");
            ExitCode::FAILURE
        }
    }
}
