//! The `kubeseg` binary: flags in, answers out. All logic lives in the library crates.

/// Writes a line to stderr. A closed or full stderr must not stop the answer, so a
/// failed write is ignored (`eprintln!` would panic).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Writes text to stderr as is, ignoring a failed write (see `note!`).
macro_rules! note_text {
    ($text:expr) => {{
        use std::io::Write as _;
        let _ = std::io::stderr().write_all($text.as_bytes());
    }};
}

mod args;
mod audit;
mod diff;
mod lab;
mod lint;
mod metrics;
mod select;
mod snapshot;
mod test;
mod visible;
mod watch;
mod watch_rows;
mod watch_touch;

use anyhow::{Context, Result, bail};
use args::{
    Cli, Cni, Command, Common, ExplainArgs, ExplainFormat, ProtocolArg, ReachArgs, ReachFormat,
};
use clap::Parser;
use kubeseg_engine::explain::{Side, explain};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::{Protocol, Severity};
use kubeseg_report::{Format, diagnostics};
use kubeseg_sources::Loaded;
use select::{Resolved, filter, resolve};
use std::io::Write;
use std::process::ExitCode;

/// Exit status for invalid input or arguments: nothing was written to stdout.
const EXIT_INPUT: u8 = 2;
/// Exit status of `audit --fail-on` when a finding reaches the threshold.
const EXIT_FINDINGS: u8 = 1;
/// Exit status when the answer could not be written.
const EXIT_WRITE: u8 = 3;

/// What one run may read, set once from `--max-file-size`.
static LIMITS: std::sync::OnceLock<kubeseg_sources::Limits> = std::sync::OnceLock::new();

/// `-n`: the namespace of objects that name none.
static NAMESPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The operator descriptions: the built-in ones and `--operators` files.
static OPERATORS: std::sync::OnceLock<std::sync::Arc<kubeseg_sources::operators::Catalog>> =
    std::sync::OnceLock::new();

/// Reads the `--operators` files; their problems are input errors.
fn read_operators(files: &[String]) -> Result<()> {
    use kubeseg_sources::operators::{Catalog, parse_catalog};
    if files.is_empty() {
        return Ok(());
    }
    let mut user = Catalog::default();
    let mut problems = Vec::new();
    for f in files {
        let text = kubeseg_sources::read_file(f, limits())
            .map_err(|d| anyhow::anyhow!("--operators {f}: {}", d.message))?;
        match parse_catalog(f, &text) {
            Ok(c) => user.operators.extend(c.operators),
            Err(d) => problems.extend(d),
        }
    }
    if !problems.is_empty() {
        note_text!(diagnostics::text(&problems));
        return Err(Failure::Input.into());
    }
    let _ = OPERATORS.set(Catalog::with_user(user));
    Ok(())
}

/// `-n`, when given.
pub(crate) fn namespace() -> Option<&'static str> {
    NAMESPACE.get().map(String::as_str)
}

/// The run's input limits.
pub(crate) fn limits() -> kubeseg_sources::Limits {
    LIMITS.get().copied().unwrap_or_default()
}

/// Loads manifests within the run's limits.
pub(crate) fn load_paths(paths: &[String]) -> Loaded {
    let options = kubeseg_sources::LoadOptions {
        limits: limits(),
        namespace: NAMESPACE.get().cloned(),
        operators: OPERATORS.get().cloned(),
    };
    kubeseg_sources::load_opts(paths, &options)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(max_file_bytes) = cli.max_file_size {
        let _ = LIMITS.set(kubeseg_sources::Limits { max_file_bytes });
    }
    if let Some(ns) = &cli.namespace {
        let _ = NAMESPACE.set(ns.clone());
    }
    let result = read_operators(&cli.operators).and_then(|()| match &cli.command {
        Command::Reach(a) => reach(a),
        Command::Explain(a) => explain_cmd(a).map(Output::Text),
        Command::Audit(a) => audit::run(a).map(|(out, fail)| Output::Status(out, fail)),
        Command::Lint(a) => lint::run(a).map(|(out, fail)| Output::Status(out, fail)),
        Command::Rules(a) => audit::rules(a).map(Output::Text),
        Command::Snapshot(a) => snapshot::run(a).map(Output::Text),
        Command::Watch(a) => watch::run(a).map(|()| Output::Written),
        Command::Test(a) => test::run(a).map(|(out, fail)| Output::Status(out, fail)),
        Command::Diff(a) => diff::run(a).map(|(out, fail)| Output::Status(out, fail)),
        Command::Lab(c) => lab::run(c).map(|(out, fail)| Output::Status(out, fail)),
        Command::Enforce(a) => lab::enforce(a).map(|()| Output::Written),
    });
    match result {
        Ok(Output::Text(out)) => write_stdout(&out),
        Ok(Output::Status(out, fail)) => match write_stdout(&out) {
            code if code == ExitCode::SUCCESS && fail => ExitCode::from(EXIT_FINDINGS),
            code => code,
        },
        Ok(Output::Written) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
                note!("error: cannot write output: {io}");
                return ExitCode::from(EXIT_WRITE);
            }
            if let Some(Failure::Input) = e.downcast_ref::<Failure>() {
                return ExitCode::from(EXIT_INPUT);
            }
            note!("error: {e:#}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}

fn write_stdout(out: &str) -> ExitCode {
    let mut stdout = visible::Visible::new(std::io::stdout().lock());
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.finish())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: cannot write output: {e}");
            ExitCode::from(EXIT_WRITE)
        }
    }
}

/// The input had errors, already printed.
#[derive(Debug)]
pub(crate) enum Failure {
    Input,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid input")
    }
}

impl std::error::Error for Failure {}

/// Objects that change connectivity but that the answer leaves out, each with its
/// location: every command names them in its output, not only on stderr.
pub(crate) fn unmodelled(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| kubeseg_sources::UNMODELLED_CODES.contains(&d.code))
        .map(|d| match &d.location {
            Some(l) => format!("{} ({l})", d.message),
            None => d.message.clone(),
        })
        .collect()
}

/// Loads the files named, or with `--kubeconfig`/`--context` the cluster.
pub(crate) fn load_source(paths: &[String], live: &args::Live) -> Result<Loaded> {
    let Some(target) = live.target() else {
        return Ok(load_paths(paths));
    };
    if !paths.is_empty() {
        bail!("give either manifest paths or --kubeconfig/--context, not both");
    }
    read_cluster(&target)
}

/// Reads a running cluster into what the file loader would make of the same objects.
pub(crate) fn read_cluster(target: &kubeseg_live::Target) -> Result<Loaded> {
    let start = std::time::Instant::now();
    let read = kubeseg_live::read_cluster(target, &operator_kinds())?;
    if std::env::var_os("KUBESEG_TIMINGS").is_some() {
        note!(
            "timing: listed {} objects {:?} rss {}",
            read.objects.len(),
            start.elapsed(),
            rss()
        );
    }
    let texts = read
        .objects
        .into_iter()
        .map(kubeseg_live::ReadObject::into_named_text)
        .collect();
    let options = kubeseg_sources::LoadOptions {
        limits: limits(),
        namespace: None,
        operators: OPERATORS.get().cloned(),
    };
    let mut loaded = kubeseg_sources::load_texts(texts, &options);
    // Kinds the cluster does not serve hold nothing: a note, not part of any answer.
    let (notes, warnings): (Vec<_>, Vec<_>) = read
        .diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Info);
    if !notes.is_empty() {
        note_text!(diagnostics::text(&notes));
    }
    loaded.diagnostics.extend(warnings);
    loaded.diagnostics.sort();
    Ok(loaded)
}

/// The operator descriptions of the run (`None`: the built-in ones).
pub(crate) fn operators() -> Option<std::sync::Arc<kubeseg_sources::operators::Catalog>> {
    OPERATORS.get().cloned()
}

/// The custom resource kinds the operator catalog expands into workloads: a live read
/// lists them too.
pub(crate) fn operator_kinds() -> Vec<(String, String)> {
    let catalog = OPERATORS
        .get()
        .cloned()
        .unwrap_or_else(kubeseg_sources::operators::Catalog::builtin);
    catalog
        .operators
        .iter()
        .map(|o| (o.api_group.clone(), o.kind.clone()))
        .collect()
}

/// Loads the input and prints its diagnostics; fails when any is an error.
pub(crate) fn load_input(common: &Common) -> Result<Loaded> {
    let mut loaded = load_source(&common.paths, &common.live)?;
    let cni = leave_out_unenforced(common.semantics.cni, &mut loaded);
    if cni == Cni::Cilium && common.semantics.ipblock_pod_ips {
        bail!(
            "--ipblock-pod-ips contradicts Cilium (--cni {}): Cilium never matches pod addresses by ipBlock or CIDR",
            if common.semantics.cni == Cni::Auto {
                "auto, and the input holds Cilium policies"
            } else {
                "cilium"
            }
        );
    }
    let shown: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error || !common.quiet)
        .cloned()
        .collect();
    if !shown.is_empty() {
        note_text!(diagnostics::text(&shown));
        note!("{}", diagnostics::summary(&loaded.diagnostics));
    }
    if common.verbose {
        note!("read {} files, {} objects", loaded.files, loaded.documents);
        for (kind, n) in &loaded.skipped {
            note!("skipped {n} {kind}");
        }
    } else if !loaded.skipped.is_empty() {
        let n: usize = loaded.skipped.values().sum();
        note!("skipped {n} objects of kinds kubeseg does not model (-v lists them)");
    }
    if loaded.has_errors() {
        return Err(Failure::Input.into());
    }
    Ok(loaded)
}

/// The dataplane `--cni` names, `auto` resolved on the cluster.
pub(crate) fn dataplane(cni: Cni, cluster: &kubeseg_model::Cluster) -> Cni {
    match cni {
        Cni::Auto if !cluster.cilium_policies.is_empty() => Cni::Cilium,
        Cni::Auto if !cluster.calico_policies.is_empty() => Cni::Calico,
        Cni::Auto => Cni::Generic,
        cni => cni,
    }
}

/// Leaves out the policies the dataplane does not enforce, each with a warning that
/// every answer repeats; returns the dataplane.
pub(crate) fn leave_out_unenforced(cni: Cni, loaded: &mut Loaded) -> Cni {
    let cni = dataplane(cni, &loaded.cluster);
    let name = match cni {
        Cni::Cilium => "cilium",
        Cni::Calico => "calico",
        _ => "generic",
    };
    let mut left_out = |id: String, at: Option<kubeseg_model::Location>| {
        loaded.diagnostics.push(kubeseg_model::Diagnostic::warning(
            "unmodelled-policy",
            at,
            format!("{id} is not enforced under --cni {name}: left out of the answer"),
        ));
    };
    if cni != Cni::Cilium {
        for p in std::mem::take(&mut loaded.cluster.cilium_policies) {
            left_out(p.id(), p.location);
        }
    }
    if cni != Cni::Calico {
        for p in std::mem::take(&mut loaded.cluster.calico_policies) {
            left_out(p.id(), p.location);
        }
        // Tiers and network sets change nothing without Calico's policies.
        loaded.cluster.calico_tiers.clear();
        loaded.cluster.calico_network_sets.clear();
        return cni;
    }
    // What the engine cannot evaluate exactly is refused, never guessed.
    for (at, why) in kubeseg_engine::index::calico_unsupported(&loaded.cluster) {
        let d = kubeseg_model::Diagnostic::error("unsupported-policy", at, why);
        loaded.diagnostics.push(d);
    }
    cni
}

pub(crate) fn options(common: &Common, cluster: &kubeseg_model::Cluster) -> Options {
    Options {
        host_network_selectable: common.semantics.host_network_selectable,
        threads: threads(),
        ..engine_options(
            common.semantics.cni,
            common.semantics.ipblock_pod_ips,
            cluster,
        )
    }
}

/// What the dataplane fixes about ipBlocks.
pub(crate) fn engine_options(
    cni: Cni,
    ipblock_pod_ips: bool,
    cluster: &kubeseg_model::Cluster,
) -> Options {
    let cni = dataplane(cni, cluster);
    Options {
        ipblock_pod_ips: ipblock_pod_ips || cni == Cni::Calico,
        ipblock_skips_nodes: cni == Cni::Cilium,
        ..Options::default()
    }
}

/// `KUBESEG_THREADS`: how many threads compute rows (unset or 0: one per core).
/// Answers are the same for any number; the tests compare one thread with several.
pub(crate) fn threads() -> usize {
    std::env::var("KUBESEG_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What a command produced.
enum Output {
    /// Text still to be written to stdout.
    Text(String),
    /// Already streamed to stdout.
    Written,
    /// Text to write, and whether the exit status must say findings reached `--fail-on`.
    Status(String, bool),
}

fn reach(a: &ReachArgs) -> Result<Output> {
    let timings = std::env::var_os("KUBESEG_TIMINGS").is_some();
    let start = std::time::Instant::now();
    let loaded = load_input(&a.common)?;
    if timings {
        note!("timing: load {:?} rss {}", start.elapsed(), rss());
    }
    let mut engine = Engine::new(&loaded.cluster, options(&a.common, &loaded.cluster));
    if timings {
        note!(
            "timing: compile {:?} rss {} ({} classes, {} endpoints, {} signatures)",
            start.elapsed(),
            rss(),
            engine.reach.index.class_count(),
            engine.endpoints().len(),
            engine.reach.signature_count()
        );
        note!(
            "timing: (ingress profiles, profile entries, ingress peer sets, egress signatures) = {:?}",
            engine.reach.stats()
        );
    }
    let from = filter(&engine, a.from.as_deref()).context("--from")?;
    let to = filter(&engine, a.to.as_deref()).context("--to")?;
    let unmodelled = unmodelled(&loaded);
    let n = engine.endpoints().len();
    let sources: Vec<usize> = (0..n).filter(|&e| from.accepts(e)).collect();
    let destinations: Vec<usize> = (0..n).filter(|&e| to.accepts(e)).collect();
    let format = match a.format {
        ReachFormat::Text => Format::Text,
        ReachFormat::Json => Format::Json,
        ReachFormat::Csv => Format::Csv,
        ReachFormat::Md => Format::Md,
        ReachFormat::Dot => Format::Dot,
        ReachFormat::Html => {
            let layers = request_layers(engine.cluster);
            let page = kubeseg_report::html::reach(
                &mut engine,
                &sources,
                &destinations,
                &unmodelled,
                layers,
            )?;
            return Ok(Output::Text(page));
        }
    };
    // Nothing can fail any more but writing (and a never-seen fingerprint collision): stream the answer.
    let mut stdout =
        std::io::BufWriter::with_capacity(1 << 16, visible::Visible::new(std::io::stdout().lock()));
    let cluster = engine.cluster;
    let mut mesh =
        kubeseg_engine::mesh::Annotator::new(cluster, mesh_options(&a.common), engine.options);
    if a.compact {
        if mesh.is_some() && !a.common.quiet {
            let layers = request_layers(cluster);
            let what = match (layers.istio, layers.cilium_l7) {
                (true, true) => "the Istio mesh's and Cilium's L7 rules' constraints",
                (false, true) => "the constraints of Cilium's L7 rules",
                _ => "their mesh constraints",
            };
            note!(
                "note: --compact lists L3/L4 connections without {what}; drop --compact to see them"
            );
        }
        kubeseg_report::reach::write_compact(
            &mut engine,
            &sources,
            &destinations,
            format,
            &unmodelled,
            &mut stdout,
        )??;
    } else {
        kubeseg_report::reach::write_connections(
            &mut engine,
            &sources,
            &destinations,
            format,
            mesh.as_mut(),
            &unmodelled,
            &mut stdout,
        )?;
    }
    stdout.flush()?;
    stdout.get_mut().finish()?;
    // The process ends here: the operating system reclaims the model faster than
    // dropping it piece by piece (0.12 s of 3.2 s at 150,000 pods).
    std::mem::forget(engine);
    std::mem::forget(loaded);
    Ok(Output::Written)
}

fn explain_cmd(a: &ExplainArgs) -> Result<String> {
    let loaded = load_input(&a.common)?;
    let cluster = &loaded.cluster;
    let src = resolve(cluster, &a.from).context("--from")?;
    let dst = resolve(cluster, &a.to).context("--to")?;
    fn side<'c>(r: &'c Resolved<'c>) -> (Side<'c>, String, String) {
        match r {
            Resolved::Pod { workload, pod } => {
                let workload: &'c kubeseg_model::Workload = workload;
                let p = &workload.pods[*pod];
                (
                    Side::Pod {
                        namespace: &workload.namespace,
                        pod: p,
                    },
                    workload.id(),
                    workload.kind.clone(),
                )
            }
            Resolved::Address(ip) => (Side::Address(*ip), ip.to_string(), "External".to_string()),
            Resolved::Domain(name) => (
                Side::Domain(name),
                format!("{name}[Domain]"),
                "Domain".to_string(),
            ),
        }
    }
    let (src_side, src_id, src_kind) = side(&src);
    let (dst_side, dst_id, dst_kind) = side(&dst);
    for (r, flag) in [(&src, "--from"), (&dst, "--to")] {
        if let Resolved::Pod { workload, .. } = r
            && workload
                .pods
                .iter()
                .any(|p| p.labels != workload.pods[0].labels || p.ports != workload.pods[0].ports)
            && !a.common.quiet
        {
            note!(
                "warning: the pods of {} differ in labels or ports; {flag} explains pod `{}` (name a pod to choose another)",
                workload.id(),
                workload.pods[0].name
            );
        }
    }
    let protocol = a.protocol.protocol();
    // Through a Service, --port names the Service's port (number or name): its
    // targetPort is what reaches the pod.
    let service_port = match (
        &a.port,
        kubeseg_analyses::resolve::service(cluster, &a.to, namespace()),
    ) {
        (Some(p), Some(Ok(svc))) => Some(service_target(svc, p, protocol)?),
        _ => None,
    };
    let port = match service_port.as_ref().or(a.port.as_ref()) {
        None => None,
        Some(p) if protocol.is_icmp() => Some((protocol, icmp_message(p, protocol)?)),
        Some(p) => Some((protocol, port_number(p, protocol, &dst_side)?)),
    };
    let e = explain(cluster, &src_side, &dst_side, options(&a.common, cluster));
    let request = kubeseg_engine::mesh::Request {
        method: a.method.clone(),
        path: a.path.clone(),
        host: a.host.clone(),
    };
    let mesh = mesh_layer(
        cluster, &src_side, &dst_side, port, &e.allowed, &request, &a.common,
    );
    let cilium_l7 = if kubeseg_engine::mesh::cilium_l7_present(cluster) {
        kubeseg_engine::mesh::cilium_l7_conditions(cluster, &e)
    } else {
        Vec::new()
    };
    let q = kubeseg_report::explain::Query {
        src: &src_id,
        src_kind: &src_kind,
        dst: &dst_id,
        dst_kind: &dst_kind,
        port,
        mesh: &mesh,
        request: &request,
        cilium_l7: &cilium_l7,
    };
    use kubeseg_report::unmodelled::{Shape, add};
    let unmodelled = unmodelled(&loaded);
    Ok(match a.format {
        ExplainFormat::Text => add(
            Shape::Text,
            kubeseg_report::explain::text(cluster, &q, &e),
            &unmodelled,
        ),
        ExplainFormat::Json => add(
            Shape::Json,
            kubeseg_report::explain::json(cluster, &q, &e),
            &unmodelled,
        ),
    })
}

/// The request-level layers the HTML pages name: an Istio mesh, Cilium's L7 rules.
pub(crate) fn request_layers(
    cluster: &kubeseg_model::Cluster,
) -> kubeseg_report::html::RequestLayers {
    kubeseg_report::html::RequestLayers {
        istio: kubeseg_engine::mesh::present(cluster),
        cilium_l7: kubeseg_engine::mesh::cilium_l7_present(cluster),
    }
}

/// The mesh verdicts behind an explanation: for `--port` (TCP only: Istio does not
/// authorize UDP or SCTP), else for every TCP container port of the destination that
/// L3/L4 allows. Empty when the input has no mesh.
fn mesh_layer(
    cluster: &kubeseg_model::Cluster,
    src: &Side,
    dst: &Side,
    port: Option<(Protocol, u16)>,
    allowed: &kubeseg_model::PortSet,
    request: &kubeseg_engine::mesh::Request,
    common: &Common,
) -> Vec<(u16, kubeseg_engine::mesh::MeshVerdict)> {
    use kubeseg_engine::mesh::{self, Party};
    let Side::Pod { namespace, pod } = dst else {
        return Vec::new();
    };
    let party = match src {
        Side::Pod { namespace, pod } => Party::Pod { namespace, pod },
        Side::Address(ip) => Party::Address(*ip),
        Side::Domain(_) => return Vec::new(),
    };
    if !mesh::present(cluster) {
        return Vec::new();
    }
    let options = mesh_options(common);
    let ports: Vec<u16> = match port {
        Some((Protocol::Tcp, n)) => vec![n],
        Some(_) => Vec::new(),
        None => {
            let mut v: Vec<u16> = pod
                .ports
                .iter()
                .filter(|c| c.protocol == Protocol::Tcp && allowed.contains(Protocol::Tcp, c.port))
                .map(|c| c.port)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    };
    ports
        .into_iter()
        .map(|p| {
            (
                p,
                mesh::evaluate(cluster, party, namespace, pod, p, request, &options),
            )
        })
        .collect()
}

/// The targetPort of the Service port `p` (its number or name): a number, or a
/// container port name for [`port_number`].
fn service_target(svc: &kubeseg_model::Service, p: &str, protocol: Protocol) -> Result<String> {
    let hit = svc.ports.iter().find(|sp| {
        sp.protocol == protocol && (sp.name.as_deref() == Some(p) || sp.port.to_string() == p)
    });
    match hit {
        Some(sp) => Ok(sp.target.clone().unwrap_or_else(|| sp.port.to_string())),
        None => {
            let ports: Vec<String> = svc
                .ports
                .iter()
                .map(|sp| match &sp.name {
                    Some(n) => format!("{n} ({} {})", sp.protocol, sp.port),
                    None => format!("{} {}", sp.protocol, sp.port),
                })
                .collect();
            bail!(
                "--port {}: Service {}/{} has no such port; its ports: {}",
                kubeseg_model::clip(p),
                svc.namespace,
                svc.name,
                ports.join(", ")
            )
        }
    }
}

/// An ICMP or ICMPv6 `--port`: `TYPE/CODE`, or `TYPE` for code 0, as the verdicts
/// number messages (`type << 8 | code`).
fn icmp_message(p: &str, protocol: Protocol) -> Result<u16> {
    let (t, c) = p.split_once('/').unwrap_or((p, "0"));
    match (t.parse::<u8>(), c.parse::<u8>()) {
        (Ok(t), Ok(c)) => Ok(kubeseg_model::icmp_message(t, c)),
        _ => bail!(
            "--port {}: an {protocol} message is TYPE or TYPE/CODE, each 0 to 255",
            kubeseg_model::clip(p)
        ),
    }
}

fn port_number(p: &str, protocol: Protocol, dst: &Side) -> Result<u16> {
    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
        return match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!(
                "--port {}: out of range; ports are 1 to 65535",
                kubeseg_model::clip(p)
            ),
        };
    }
    match dst {
        Side::Pod { pod, .. } => {
            let found: Vec<u16> = pod
                .ports
                .iter()
                .filter(|cp| cp.protocol == protocol && cp.name.as_deref() == Some(p))
                .map(|cp| cp.port)
                .collect();
            match found.as_slice() {
                [n] => Ok(*n),
                [] => {
                    let names: Vec<String> = pod
                        .ports
                        .iter()
                        .filter_map(|cp| {
                            cp.name
                                .as_ref()
                                .map(|n| format!("{n} ({} {})", cp.protocol, cp.port))
                        })
                        .collect();
                    bail!(
                        "the destination defines no {protocol} port named `{p}`; its named ports: {}",
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    )
                }
                _ => bail!("the destination defines `{p}` more than once"),
            }
        }
        Side::Address(_) | Side::Domain(_) => bail!("a named port needs a pod destination"),
    }
}

/// The resident set size as the kernel reports it, for `KUBESEG_TIMINGS`.
pub(crate) fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The mesh settings of the common flags.
pub(crate) fn mesh_options(common: &Common) -> kubeseg_engine::mesh::MeshOptions {
    kubeseg_engine::mesh::MeshOptions {
        trust_domain: common.semantics.trust_domain.clone(),
        root_namespace: common.semantics.istio_root_namespace.clone(),
    }
}

impl ProtocolArg {
    /// The model's protocol.
    pub(crate) fn protocol(self) -> Protocol {
        match self {
            ProtocolArg::Tcp => Protocol::Tcp,
            ProtocolArg::Udp => Protocol::Udp,
            ProtocolArg::Sctp => Protocol::Sctp,
            ProtocolArg::Icmp => Protocol::Icmp,
            ProtocolArg::IcmpV6 => Protocol::IcmpV6,
        }
    }
}
