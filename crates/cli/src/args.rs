//! Command-line flags, as typed.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find and close network segmentation gaps in Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "kubeseg", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// kubeseg's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every allowed connection between workloads and external address ranges.
    Reach(ReachArgs),
    /// Explain why one connection is allowed or denied, rule by rule.
    Explain(ExplainArgs),
}

/// Flags every command shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Manifest files or directories (recursive; .yaml, .yml, .json); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Let ipBlocks also match pods whose IP is known (status.podIP), as Calico does.
    #[arg(long)]
    pub ipblock_pod_ips: bool,
    /// Treat hostNetwork pods like other pods: policies select them and selectors match
    /// them (np-guard's reading). Default: policies ignore them, as most CNIs do.
    #[arg(long)]
    pub host_network_selectable: bool,
    /// Also list the kinds that were skipped, and print every warning in full.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print no warnings (errors are always printed).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Output formats of `reach`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReachFormat {
    /// `SRC => DST : CONNECTIONS`, one line per pair.
    Text,
    /// The versioned JSON document.
    Json,
    /// `src,dst,connection`.
    Csv,
    /// A Markdown table.
    Md,
    /// A Graphviz digraph.
    Dot,
}

/// `kubeseg reach`.
#[derive(Args, Debug)]
pub struct ReachArgs {
    /// Inputs and shared flags.
    #[command(flatten)]
    pub common: Common,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReachFormat::Text)]
    pub format: ReachFormat,
    /// Group endpoints with identical connectivity; one line per group pair.
    #[arg(long)]
    pub compact: bool,
    /// Only sources matching: `ns/name[Kind]`, `ns/name`, `ns/*`, an IP or CIDR, or a label selector.
    #[arg(long, value_name = "ENDPOINT")]
    pub from: Option<String>,
    /// Only destinations matching (same forms as --from).
    #[arg(long, value_name = "ENDPOINT")]
    pub to: Option<String>,
}

/// Output formats of `explain`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainFormat {
    /// Human-readable.
    Text,
    /// The versioned JSON document.
    Json,
}

/// Protocols for `--protocol`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolArg {
    /// TCP.
    #[value(name = "TCP", alias = "tcp")]
    Tcp,
    /// UDP.
    #[value(name = "UDP", alias = "udp")]
    Udp,
    /// SCTP.
    #[value(name = "SCTP", alias = "sctp")]
    Sctp,
}

/// `kubeseg explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Inputs and shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The source: `ns/name` (workload or pod), `ns/name[Kind]`, or an IP address.
    #[arg(long, value_name = "ENDPOINT")]
    pub from: String,
    /// The destination (same forms as --from).
    #[arg(long, value_name = "ENDPOINT")]
    pub to: String,
    /// A port number or a named port of the destination.
    #[arg(long)]
    pub port: Option<String>,
    /// The protocol of --port.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Tcp)]
    pub protocol: ProtocolArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}
