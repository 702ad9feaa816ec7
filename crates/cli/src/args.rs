//! Command-line flags, as typed.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find and close network segmentation gaps in Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "kubeseg", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// The largest single input kubeseg reads (a file or standard input): bytes, or
    /// with a K, M or G suffix (powers of 1024). Default: 512M.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,
    /// Put objects that name no namespace in NAMESPACE (as `kubectl apply -n`); an
    /// object that names another namespace is then an error. Default: `default`.
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE", value_parser = parse_namespace)]
    pub namespace: Option<String>,
    /// Describe more operators' custom resources (an `OperatorCatalog` file; repeatable):
    /// their pods join the model, as the built-in descriptions' do.
    #[arg(long, global = true, value_name = "FILE")]
    pub operators: Vec<String>,
}

/// Parses `512M`, `2G`, `1048576`.
fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "m" | "MiB" => 20,
        "G" | "g" | "GiB" => 30,
        _ => return Err(format!("unknown unit `{unit}`; use K, M or G")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a number of bytes, e.g. 512M".to_string())?;
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| "expected a size between 1 byte and 16E".to_string())
}

/// kubeseg's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every allowed connection between workloads and external address ranges.
    Reach(ReachArgs),
    /// Explain why one connection is allowed or denied, rule by rule.
    Explain(ExplainArgs),
    /// Find the segmentation gaps an attacker would use: unisolated workloads, lateral
    /// movement to crown jewels, sensitive egress, over-broad rules, broken DNS, dead policy.
    Audit(AuditArgs),
    /// Find malformed and misleading policies: what the API server would reject, wrong
    /// kinds, misspelled fields, and policies that do not do what they seem to.
    Lint(LintArgs),
    /// List every finding code (audit and lint), or print one rule's documentation.
    Rules(RulesArgs),
    /// Read a running cluster and write what kubeseg reads of it as manifests, to run
    /// offline later, attach to a bug report, or compare with `kubeseg diff`.
    Snapshot(SnapshotArgs),
    /// Follow a running cluster and report, as they happen, the connections and
    /// findings each change opens or closes, with the object changes that caused it.
    Watch(WatchArgs),
    /// Check connectivity assertions (a ConnectivitySpec file) against the manifests.
    Test(TestArgs),
    /// What a change opens or closes: connections added, removed and changed, and the
    /// policy edit responsible for each.
    Diff(DiffArgs),
    /// The kernel lab (root): pods as network namespaces, policy enforced by nftables,
    /// real probes compared with `reach`.
    #[command(subcommand)]
    Lab(LabCommand),
    /// The node agent (root): apply the manifests' policy, compiled to nftables, to the
    /// pods of one node listed in its node file, and keep it applied as they change.
    Enforce(EnforceArgs),
}

/// Pods per workload a lab may have (copies of the workload's pod template).
pub const MAX_PODS_PER_WORKLOAD: u16 = 16;

/// `kubeseg enforce`.
#[derive(Args, Debug)]
pub struct EnforceArgs {
    #[command(flatten)]
    pub common: Common,
    /// The node file: the pods of this node with their network namespaces and
    /// addresses (the file `kubeseg-cni` reads; a lab's is /run/kubeseg-lab/NAME/state.json).
    #[arg(long, value_name = "FILE")]
    pub node_file: std::path::PathBuf,
    /// Keep running: apply again whenever the manifests or the node's pods change.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often to look for changes, in milliseconds.
    #[arg(long, default_value_t = 1000, requires = "watch", value_name = "MS")]
    pub interval_ms: u64,
}

/// `kubeseg lab`.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Build a lab from the manifests and leave it running.
    Up(LabUpArgs),
    /// Bring a running lab to new manifests: attach new pods, replace every pod's rules
    /// in place, remove pods that are gone.
    Apply(LabArgs),
    /// Remove a lab: everything it created, and only that.
    Down(LabNameArgs),
    /// Build a lab, probe every pod pair on every declared port, compare with `reach`,
    /// remove the lab; exit 1 on any mismatch.
    Verify(LabVerifyArgs),
    /// (internal) Listen on ports inside a lab namespace.
    #[command(hide = true)]
    Serve(LabServeArgs),
    /// (internal) Probe targets (JSON on stdin) from inside a lab namespace.
    #[command(hide = true)]
    Probe {
        /// Probes in flight at once, at most.
        #[arg(long, default_value_t = kubeseg_lab::probe::IN_FLIGHT)]
        in_flight: usize,
    },
    /// (internal) Send a UDP datagram every millisecond to ADDRESS:PORT for MILLIS ms,
    /// each from a new source port; print what was sent and answered.
    #[command(hide = true)]
    Flood {
        address: std::net::Ipv4Addr,
        port: u16,
        millis: u64,
        first_port: u16,
    },
    /// (internal) Time COUNT round trips to ADDRESS:PORT (TCP handshakes, or UDP echoes
    /// over one socket unless --new-flows); print the median and 99th percentile.
    #[command(hide = true)]
    Rtt {
        address: std::net::Ipv4Addr,
        port: u16,
        protocol: String,
        count: usize,
        #[arg(long)]
        new_flows: bool,
    },
}

/// The lab's name.
#[derive(Args, Debug)]
pub struct LabNameArgs {
    /// Name of the lab (prefix of its network namespaces; state in /run/kubeseg-lab/NAME).
    #[arg(long, default_value = "kslab", value_parser = lab_name, value_name = "NAME")]
    pub name: String,
}

fn lab_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 8
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.starts_with(|c: char| c.is_ascii_lowercase());
    if ok {
        Ok(s.to_string())
    } else {
        Err("1 to 8 lower-case letters and digits, starting with a letter".into())
    }
}

/// `kubeseg lab up`.
#[derive(Args, Debug)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Print the pods, their namespaces, addresses and ports as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `lab up` and `lab verify` share.
#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub name: LabNameArgs,
    /// Pods per workload (copies of its pod template), at most.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_PODS_PER_WORKLOAD)), value_name = "N")]
    pub pods_per_workload: u16,
}

/// Output formats of `lab verify`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabFormat {
    /// Totals and one line per mismatch.
    Text,
    /// The versioned JSON document.
    Json,
}

/// `kubeseg lab verify`.
#[derive(Args, Debug)]
pub struct LabVerifyArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LabFormat,
}

/// `kubeseg lab serve`.
#[derive(Args, Debug)]
pub struct LabServeArgs {
    #[arg(long, default_value = "")]
    pub tcp: String,
    #[arg(long, default_value = "")]
    pub udp: String,
    #[arg(long)]
    pub ready: Option<std::path::PathBuf>,
}

/// Output formats of `diff`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    /// One line per change.
    Text,
    /// The versioned JSON document.
    Json,
    /// A pull-request comment.
    Md,
    /// SARIF 2.1.0.
    Sarif,
}

/// `kubeseg diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// `OLD NEW` (files or directories), or with `--git REV` the paths to compare with
    /// themselves at that revision, or with `--kubeconfig`/`--context` OLD alone (a
    /// snapshot, say) to compare with the running cluster.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Compare the working tree's PATHs with the same paths at this git revision.
    #[arg(long, value_name = "REV")]
    pub git: Option<String>,
    /// The running cluster as NEW.
    #[command(flatten)]
    pub live: Live,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit 1 when a connection is added.
    #[arg(long)]
    pub fail_on_added: bool,
    /// Exit 1 when anything changes.
    #[arg(long)]
    pub fail_on_change: bool,
    /// Give every change the rules that allow it on each side (slower on large diffs).
    #[arg(long)]
    pub evidence: bool,
    /// How both sides' policies are read.
    #[command(flatten)]
    pub semantics: Semantics,
    /// Print no warnings (errors are always printed).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Output formats of `test`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFormat {
    /// PASS/FAIL lines with counterexamples.
    Text,
    /// The versioned JSON document.
    Json,
    /// JUnit XML (one testcase per assertion).
    Junit,
    /// Test Anything Protocol 13.
    Tap,
    /// SARIF 2.1.0, failures at their line of the spec.
    Sarif,
}

/// `kubeseg test`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// Inputs and shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The assertion file (`apiVersion: kubeseg.io/v1`, `kind: ConnectivitySpec`).
    #[arg(long, value_name = "FILE")]
    pub spec: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}

/// Output formats of `lint`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    /// Compiler-style: the source line and a caret under the spot.
    Text,
    /// The versioned JSON document.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
}

/// `kubeseg lint`.
#[derive(Args, Debug)]
pub struct LintArgs {
    /// Manifest files or directories (recursive; .yaml, .yml, .json); `-` reads stdin.
    /// Without any, `--kubeconfig` or `--context` reads a running cluster.
    #[arg(required_unless_present_any = ["kubeconfig", "context"], value_name = "PATH")]
    pub paths: Vec<String>,
    /// Read a running cluster instead of files.
    #[command(flatten)]
    pub live: Live,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Exit with status 1 when a finding has this severity or a higher one.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = SeverityArg::High)]
    pub fail_on: SeverityArg,
    /// Report only these codes or names (repeatable, or comma-separated).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave out these codes or names (repeatable, or comma-separated).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// The cluster's pod address range, for ipBlock overlap checks (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub pod_cidr: Vec<String>,
    /// The cluster's Service address range (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub service_cidr: Vec<String>,
    /// The dataplane whose semantics to follow (see the other commands).
    #[arg(long, value_enum, default_value_t = Cni::Auto)]
    pub cni: Cni,
    /// Trust domain of Istio identities (`<trust-domain>/ns/<ns>/sa/<sa>`).
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub trust_domain: String,
    /// Istio's root namespace: its AuthorizationPolicies and PeerAuthentications
    /// without selector apply mesh-wide.
    #[arg(long, default_value = "istio-system", value_name = "NAMESPACE")]
    pub istio_root_namespace: String,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

/// Output formats of `audit`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    /// Findings grouped by severity, for a terminal.
    Text,
    /// The versioned JSON document.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// A pull-request comment.
    Md,
    /// One self-contained HTML page: summary, graph, findings, minimal fix.
    Html,
}

/// Finding severities.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeverityArg {
    /// Info and above.
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
}

/// When to colour text output.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorArg {
    /// When stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `kubeseg audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Inputs and shared flags.
    #[command(flatten)]
    pub common: Common,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Exit with status 1 when a reported finding has this severity or a higher one.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<SeverityArg>,
    /// Report only these finding codes or names (repeatable, or comma-separated).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave out these finding codes or names (repeatable, or comma-separated).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Treat this workload as compromised: `ns/name` or `ns/name[Kind]` (repeatable).
    #[arg(long, value_name = "WORKLOAD")]
    pub assume_compromised: Vec<String>,
    /// Pods matching this label selector are crown jewels, e.g. `app=payments` (repeatable).
    #[arg(long, value_name = "SELECTOR")]
    pub crown_jewel: Vec<String>,
    /// The API server: `CIDR`, `IP`, `IP:PORT`, `CIDR:PORT` or `[IPv6]:PORT` (repeatable).
    /// Default: the ClusterIP of Service default/kubernetes, ports 443 and 6443.
    #[arg(long, value_name = "CIDR[:PORT]")]
    pub apiserver: Vec<String>,
    /// The nodes' addresses, for kubelet (TCP 10250) egress (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub node_cidr: Vec<String>,
    /// List the minimal fix connection by connection only up to this many connections.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_cut: usize,
    /// Count lateral movement (blast radius, paths, minimal fix) on these protocols
    /// only, e.g. `--protocols tcp` for what a mesh authorizes (default: all).
    #[arg(long, value_enum, value_name = "PROTOCOL", value_delimiter = ',')]
    pub protocols: Vec<ProtocolArg>,
    /// The flows the application needs: a ConnectivitySpec (as `kubeseg test` reads)
    /// whose `allow` assertions are required. The minimal fix never cuts one, and a
    /// path made of required flows only is intended, not a finding.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<String>,
    /// Accept the findings listed in this baseline file: they are reported as
    /// suppressed and do not count for `--fail-on`.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<String>,
    /// Write every finding reported now to this baseline file (and accept them).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<String>,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

/// `kubeseg rules`.
#[derive(Args, Debug)]
pub struct RulesArgs {
    /// A code or name: print that rule's documentation.
    pub code: Option<String>,
    /// `text` (default), or `md`: the documentation of every rule as Markdown.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

/// Output formats of `rules`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RulesFormat {
    /// One line per rule, or one rule's documentation.
    Text,
    /// Every rule's documentation as Markdown.
    Md,
}

/// The dataplane whose semantics answers follow (`--cni`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cni {
    /// Cilium when the input holds Cilium policies, else Calico when it holds Calico
    /// policies, else generic.
    #[default]
    Auto,
    /// A conformant NetworkPolicy implementation; ipBlocks match outside addresses only
    /// (unless `--ipblock-pod-ips`); CNI-specific policy kinds are not enforced.
    Generic,
    /// Cilium: CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy are enforced;
    /// ipBlocks and CIDRs never match pod or node addresses.
    Cilium,
    /// Calico: its NetworkPolicy, GlobalNetworkPolicy and tiers are enforced around the
    /// Kubernetes policies, and ipBlocks match pod addresses.
    Calico,
}

/// Where to read a running cluster (`--kubeconfig`, `--context`).
#[derive(Args, Debug, Clone, Default)]
pub struct Live {
    /// Read the cluster a kubeconfig names instead of files: this PATH, or without one
    /// `KUBECONFIG` (its paths merged, as kubectl does) or `~/.kube/config`.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "")]
    pub kubeconfig: Option<String>,
    /// The kubeconfig context to read (default: its current-context); reads the cluster.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl Live {
    /// The cluster to read, when the flags name one.
    pub fn target(&self) -> Option<kubeseg_live::Target> {
        if self.kubeconfig.is_none() && self.context.is_none() {
            return None;
        }
        Some(kubeseg_live::Target {
            kubeconfig: self
                .kubeconfig
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from),
            context: self.context.clone(),
        })
    }
}

/// `kubeseg snapshot`.
#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// The cluster to read (default: `KUBECONFIG` or `~/.kube/config`, current context).
    #[command(flatten)]
    pub live: Live,
    /// The directory to write the manifests to (created; must be empty if it exists).
    #[arg(short, long, value_name = "DIR")]
    pub output: String,
}

/// `kubeseg watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The cluster (default: `KUBECONFIG` or `~/.kube/config`, current context; in a pod,
    /// its service account).
    #[command(flatten)]
    pub live: Live,
    /// How the cluster's policies are read.
    #[command(flatten)]
    pub semantics: Semantics,
    /// Print no warnings (errors are always printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = WatchFormat::Text)]
    pub format: WatchFormat,
    /// Events arriving within this many milliseconds of the first are reported together.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub batch_ms: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
}

/// Output formats of `watch`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchFormat {
    /// A line per change, then its connections and findings.
    Text,
    /// One JSON object per line: `synced` once, then `change` lines.
    Jsonl,
}

/// Flags every command shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Manifest files or directories (recursive; .yaml, .yml, .json); `-` reads stdin.
    /// Without any, `--kubeconfig` or `--context` reads a running cluster.
    #[arg(required_unless_present_any = ["kubeconfig", "context"], value_name = "PATH")]
    pub paths: Vec<String>,
    /// Read a running cluster instead of files.
    #[command(flatten)]
    pub live: Live,
    /// How the policies are read.
    #[command(flatten)]
    pub semantics: Semantics,
    /// Also list the kinds that were skipped, and print every warning in full.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print no warnings (errors are always printed).
    #[arg(short, long)]
    pub quiet: bool,
}

/// The flags that change how policies are read, shared by every command that answers
/// about connectivity.
#[derive(Args, Debug, Clone)]
pub struct Semantics {
    /// Let ipBlocks also match pods whose IP is known (status.podIP), as Calico does.
    #[arg(long)]
    pub ipblock_pod_ips: bool,
    /// The dataplane whose semantics to follow: which policy kinds are enforced and
    /// what ipBlocks match.
    #[arg(long, value_enum, default_value_t = Cni::Auto)]
    pub cni: Cni,
    /// Treat hostNetwork pods like other pods: policies select them and selectors match
    /// them (np-guard's reading). Default: policies ignore them, as most CNIs do.
    #[arg(long)]
    pub host_network_selectable: bool,
    /// Trust domain of Istio identities (`<trust-domain>/ns/<ns>/sa/<sa>`).
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub trust_domain: String,
    /// Istio's root namespace: its AuthorizationPolicies and PeerAuthentications
    /// without selector apply mesh-wide.
    #[arg(long, default_value = "istio-system", value_name = "NAMESPACE")]
    pub istio_root_namespace: String,
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
    /// One self-contained HTML page with the interactive connectivity map.
    Html,
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
    /// ICMP (for `explain`, --port is TYPE or TYPE/CODE).
    #[value(name = "ICMP", alias = "icmp")]
    Icmp,
    /// ICMPv6 (for `explain`, --port is TYPE or TYPE/CODE).
    #[value(name = "ICMPv6", aliases = ["icmpv6", "ICMPV6"])]
    IcmpV6,
}

/// `kubeseg explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Inputs and shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The source: `ns/name` (workload or pod), `ns/name[Kind]`, a bare name when it is
    /// unique (in `-n`'s namespace when given), `svc/NAME` or `svc/NS/NAME` (the one
    /// workload a Service selects; --port then names the Service's port), an IP address
    /// or a domain name.
    #[arg(long, value_name = "ENDPOINT")]
    pub from: String,
    /// The destination (same forms as --from).
    #[arg(long, value_name = "ENDPOINT")]
    pub to: String,
    /// A port number or a named port of the destination; for ICMP and ICMPv6 a message,
    /// TYPE/CODE or TYPE (code 0), such as 8/0 for an echo request.
    #[arg(long)]
    pub port: Option<String>,
    /// The protocol of --port.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Tcp)]
    pub protocol: ProtocolArg,
    /// The HTTP method of the request, for the mesh layer (e.g. POST).
    #[arg(long)]
    pub method: Option<String>,
    /// The request path, for the mesh layer (e.g. /index).
    #[arg(long)]
    pub path: Option<String>,
    /// The request host (`:authority`), for the mesh layer.
    #[arg(long)]
    pub host: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

/// A namespace name: a DNS-1123 label, as the API server requires.
fn parse_namespace(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err("a namespace is 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit".into())
    }
}
