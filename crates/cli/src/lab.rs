//! `kubeseg lab`: build, verify and remove kernel labs (see `kubeseg-lab`).

use crate::args::{
    Common, EnforceArgs, LabArgs, LabCommand, LabFormat, LabServeArgs, MAX_PODS_PER_WORKLOAD,
};
use crate::{load_input, options};
use anyhow::{Context, Result, bail};
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_lab::net::{self, SUBNET};
use kubeseg_lab::nft::Reading;
use kubeseg_lab::probe::Target;
use kubeseg_lab::verify::{Probe, Verdict};
use kubeseg_lab::{Plan, State};
use std::net::Ipv4Addr;

/// Runs a `lab` subcommand; returns the output and whether verification failed.
pub fn run(c: &LabCommand) -> Result<(String, bool)> {
    match c {
        LabCommand::Up(a) => {
            let state = up(&a.lab)?;
            let out = if a.json {
                kubeseg_report::lab::pods_json(&state.plan)
            } else {
                kubeseg_report::lab::pods_text(&state)
            };
            Ok((out, false))
        }
        LabCommand::Apply(a) => {
            let loaded = load_input(&a.common)?;
            refuse_cni_policies(&loaded)?;
            let engine = Engine::new(&loaded.cluster, options(&a.common, &loaded.cluster));
            let plan = plan_for(&engine, a);
            let exe = std::env::current_exe().context("the kubeseg executable")?;
            let applied = net::apply(&loaded.cluster, &a.name.name, plan, setup(a, &exe)?)
                .with_context(|| format!("lab apply {}", a.name.name))?;
            Ok((
                kubeseg_report::lab::applied_text(&a.name.name, &applied),
                false,
            ))
        }
        LabCommand::Down(a) => {
            let state = net::down(&a.name).with_context(|| format!("lab down {}", a.name))?;
            Ok((
                format!(
                    "removed lab {}: {} pod and {} external namespaces, the node namespace and /run/kubeseg-lab/{}\n",
                    state.name,
                    state.plan.pods.len(),
                    state.plan.externals.len(),
                    state.name
                ),
                false,
            ))
        }
        LabCommand::Verify(a) => {
            let verdict = verify(&a.lab)?;
            let fail = !verdict.mismatches.is_empty();
            let out = match a.format {
                LabFormat::Text => kubeseg_report::lab::verdict_text(&verdict),
                LabFormat::Json => kubeseg_report::lab::verdict_json(&verdict),
            };
            Ok((out, fail))
        }
        LabCommand::Flood {
            address,
            port,
            millis,
            first_port,
        } => {
            let f = kubeseg_lab::probe::flood(*address, *port, *millis, *first_port);
            Ok((serde_json::to_string(&f)?, false))
        }
        LabCommand::Rtt {
            address,
            port,
            protocol,
            count,
            new_flows,
        } => {
            let protocol = kubeseg_model::Protocol::parse(protocol)
                .with_context(|| format!("protocol {protocol}"))?;
            let r = kubeseg_lab::probe::rtt(*address, *port, protocol, *count, *new_flows);
            Ok((serde_json::to_string(&r)?, false))
        }
        LabCommand::Serve(a) => serve(a).map(|()| (String::new(), false)),
        LabCommand::Probe { in_flight } => {
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)?;
            let targets: Vec<Target> = serde_json::from_str(&input).context("probe targets")?;
            let answers = kubeseg_lab::probe::probe(&targets, (*in_flight).max(1));
            Ok((serde_json::to_string(&answers)?, false))
        }
    }
}

fn ports(list: &str) -> Result<Vec<u16>> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().with_context(|| format!("port {s}")))
        .collect()
}

fn serve(a: &LabServeArgs) -> Result<()> {
    kubeseg_lab::probe::serve(&ports(&a.tcp)?, &ports(&a.udp)?, a.ready.as_deref())?;
    Ok(())
}

/// An IPv4 address of an external range that the lab can give a namespace: not in
/// the pods' range, not `0/8`, loopback, multicast or broadcast.
fn usable_address(addresses: &kubeseg_model::IpSet) -> Option<Ipv4Addr> {
    let subnet = u32::from(SUBNET.0);
    let mask = u32::MAX << (32 - SUBNET.1);
    let ok = |a: u32| {
        let ip = Ipv4Addr::from(a);
        a & mask != subnet && ip.octets()[0] != 0 && !ip.is_loopback() && a < 0xE000_0000
    };
    addresses.v4.ranges().iter().find_map(|&(lo, hi)| {
        // The lowest usable address of the range: step over what is not usable.
        let mut a = lo.max(u32::from(Ipv4Addr::new(1, 0, 0, 1)));
        while a <= hi && a < 0xE000_0000 {
            if ok(a) {
                return Some(Ipv4Addr::from(a));
            }
            a = if a & mask == subnet {
                (subnet | !mask).saturating_add(2)
            } else if Ipv4Addr::from(a).is_loopback() {
                u32::from(Ipv4Addr::new(128, 0, 0, 1))
            } else {
                a.saturating_add(1)
            };
        }
        None
    })
}

fn plan_for(engine: &Engine, a: &LabArgs) -> Plan {
    planned(engine, &a.name.name, usize::from(a.pods_per_workload))
}

/// The pods and external addresses of the manifests, with notes on every part of the
/// policy the kernel rules leave out (for `lab up`, `apply`, `verify` and `enforce`).
fn planned(engine: &Engine, name: &str, per_workload: usize) -> Plan {
    let mut externals = Vec::new();
    let mut skipped = Vec::new();
    let mut domains = Vec::new();
    for (e, endpoint) in engine.endpoints().iter().enumerate() {
        match endpoint {
            Endpoint::External { addresses, .. } => match usable_address(addresses) {
                Some(ip) => externals.push((e, engine.endpoint_id(e), ip)),
                None => skipped.push(engine.endpoint_id(e)),
            },
            Endpoint::Domain { .. } => domains.push(engine.endpoint_id(e)),
            Endpoint::Workload { .. } => {}
        }
    }
    let mut plan = kubeseg_lab::plan(engine.cluster, name, per_workload, externals);
    if !domains.is_empty() {
        plan.notes.push(format!(
            "destinations known by name ({}) are not in the lab: nothing resolves them there, so their connections are not probed",
            domains.join(", ")
        ));
    }
    for id in skipped {
        plan.notes.push(format!(
            "external range {id} has no IPv4 address: the kernel rules are IPv4 only (the lab does not probe it, and enforced pods reject its traffic)"
        ));
    }
    if kubeseg_engine::mesh::present(engine.cluster) {
        plan.notes.push(
            "the kernel rules are L3/L4 only: the Istio mesh is not enforced, and lab verify compares probes with reach's L3/L4 answer".into(),
        );
    }
    plan
}

/// The kernel rules cover NetworkPolicy and the cluster tiers only.
fn refuse_cni_policies(loaded: &kubeseg_sources::Loaded) -> Result<()> {
    if let Some(p) = loaded.cluster.cilium_policies.first() {
        bail!(
            "{} (and {} more Cilium policies): the kernel lab and the node agent enforce NetworkPolicy and the AdminNetworkPolicy tiers, not Cilium's policies; run with --cni generic to leave them out",
            p.id(),
            loaded.cluster.cilium_policies.len() - 1
        );
    }
    if let Some(p) = loaded.cluster.calico_policies.first() {
        bail!(
            "{} (and {} more Calico policies): the kernel lab and the node agent enforce NetworkPolicy and the AdminNetworkPolicy tiers, not Calico's policies; run with --cni generic to leave them out",
            p.id(),
            loaded.cluster.calico_policies.len() - 1
        );
    }
    Ok(())
}

fn reading(common: &Common) -> Reading {
    Reading {
        ipblock_pod_ips: common.semantics.ipblock_pod_ips,
    }
}

/// The manifests as absolute paths, which the CNI plugin and `--watch` read again (so
/// not stdin); hostNetwork pods are not attached, so they cannot be made selectable.
fn kernel_paths(common: &Common) -> Result<Vec<String>> {
    if common.semantics.host_network_selectable {
        bail!(
            "--host-network-selectable: hostNetwork pods share their node's namespace, which the kernel rules do not cover"
        );
    }
    let mut paths = Vec::new();
    for p in &common.paths {
        if p == "-" {
            bail!(
                "the kernel rules are read from files (the CNI plugin and --watch read them again), not from stdin"
            );
        }
        let abs = std::fs::canonicalize(p).with_context(|| p.clone())?;
        paths.push(abs.display().to_string());
    }
    Ok(paths)
}

/// The executables and absolute manifest paths `net::up` needs.
fn setup<'a>(a: &'a LabArgs, exe: &'a std::path::Path) -> Result<net::Setup<'a>> {
    let paths = kernel_paths(&a.common)?;
    let plugin = exe.with_file_name("kubeseg-cni");
    if !plugin.exists() {
        bail!(
            "{} not found: the lab chains kubeseg's CNI plugin after the bridge plugin (cargo build --release --workspace builds both binaries)",
            plugin.display()
        );
    }
    Ok(net::Setup {
        name: &a.name.name,
        reading: reading(&a.common),
        exe,
        plugin,
        paths,
    })
}

/// Loads the manifests and builds the lab from them; the engine answers for it.
fn start<'c>(a: &LabArgs, loaded: &'c kubeseg_sources::Loaded) -> Result<(Engine<'c>, State)> {
    refuse_cni_policies(loaded)?;
    let engine = Engine::new(&loaded.cluster, options(&a.common, &loaded.cluster));
    let plan = plan_for(&engine, a);
    let exe = std::env::current_exe().context("the kubeseg executable")?;
    let state = net::up(&loaded.cluster, plan, setup(a, &exe)?)
        .with_context(|| format!("lab up {}", a.name.name))?;
    Ok((engine, state))
}

fn up(a: &LabArgs) -> Result<State> {
    let loaded = load_input(&a.common)?;
    Ok(start(a, &loaded)?.1)
}

fn verify(a: &LabArgs) -> Result<Verdict> {
    let loaded = load_input(&a.common)?;
    let (mut engine, state) = start(a, &loaded)?;
    let exe = std::env::current_exe().context("the kubeseg executable")?;
    let dropped_before = net::backlog_drops();
    let probed = probe_all(&mut engine, &state, &exe);
    let dropped = net::backlog_drops().saturating_sub(dropped_before);
    let down = net::down(&state.name);
    let mut verdict = probed?;
    if dropped > 0 {
        verdict.notes.push(format!(
            "the kernel's receive backlog overflowed while probing ({dropped} packets dropped, /proc/net/softnet_stat): a denial may be a lost packet; raise net.core.netdev_max_backlog or probe a smaller cluster"
        ));
    }
    down.with_context(|| format!("lab down {}", state.name))?;
    Ok(verdict)
}

/// Sources probing at once, at most.
const PROBING_SOURCES: usize = 8;

/// A probe destination: a lab pod, or an external address.
struct Dest {
    /// `ns/name`, or the range's id.
    name: String,
    /// The engine's endpoint index.
    endpoint: usize,
    ip: Ipv4Addr,
    /// (protocol, port) to probe.
    ports: Vec<(String, u16)>,
    external: bool,
}

/// Every probe of the lab, compared with the engine's answer for the same endpoints.
fn probe_all(engine: &mut Engine, state: &State, exe: &std::path::Path) -> Result<Verdict> {
    let plan = &state.plan;
    let mut v = Verdict {
        pods: plan.pods.len(),
        externals: plan.externals.len(),
        notes: plan.notes.clone(),
        ..Verdict::default()
    };
    let (ext_tcp, ext_udp) = net::external_ports(plan);
    let ext_ports: Vec<(String, u16)> = [("TCP", ext_tcp), ("UDP", ext_udp)]
        .iter()
        .flat_map(|(p, list)| {
            list.split(',')
                .filter_map(|s| s.parse().ok())
                .map(|n| (p.to_string(), n))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut dests: Vec<Dest> = Vec::new();
    for p in &plan.pods {
        let mut ports: Vec<(String, u16)> = Vec::new();
        for c in &p.ports {
            if c.protocol == "SCTP" {
                v.unprobed.push(format!("{} SCTP/{}", p.pod, c.port));
            } else {
                ports.push((c.protocol.clone(), c.port));
            }
        }
        ports.sort();
        ports.dedup();
        if let Some(ip) = p.ip {
            dests.push(Dest {
                name: p.pod.clone(),
                endpoint: p.workload,
                ip,
                ports,
                external: false,
            });
        }
    }
    for x in &plan.externals {
        dests.push(Dest {
            name: x.id.clone(),
            endpoint: x.endpoint,
            ip: x.ip,
            ports: ext_ports.clone(),
            external: true,
        });
    }
    let sources: Vec<(&str, usize, &str, bool)> = plan
        .pods
        .iter()
        .map(|p| (p.pod.as_str(), p.workload, p.netns.as_str(), false))
        .chain(
            plan.externals
                .iter()
                .map(|x| (x.id.as_str(), x.endpoint, x.netns.as_str(), true)),
        )
        .collect();
    // What kubeseg says for every probe, then every source's probes at once.
    let mut work = Vec::new();
    for (from, src, netns, external) in &sources {
        let mut targets = Vec::new();
        let mut expected = Vec::new();
        for d in &dests {
            // Addresses outside the cluster talk to pods, not to each other.
            if d.name == *from || (*external && d.external) {
                continue;
            }
            let allowed = engine.pair(*src, d.endpoint);
            for (proto, port) in &d.ports {
                let protocol =
                    kubeseg_model::Protocol::parse(proto).unwrap_or(kubeseg_model::Protocol::Tcp);
                targets.push(Target {
                    ip: d.ip,
                    protocol: proto.clone(),
                    port: *port,
                    source_port: None,
                });
                expected.push((d.name.clone(), allowed.contains(protocol, *port)));
            }
        }
        if !targets.is_empty() {
            work.push((from, netns, targets, expected));
        }
    }
    // A few sources at a time: each probes many targets at once itself.
    let mut answers: Vec<Result<Vec<bool>, _>> = Vec::new();
    for chunk in work.chunks(PROBING_SOURCES) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(_, netns, targets, _)| {
                    scope.spawn(move || {
                        net::probe_from(netns, exe, targets, kubeseg_lab::probe::IN_FLIGHT)
                    })
                })
                .collect();
            answers.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))),
            );
        });
    }
    let answers = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
    for ((from, _, targets, expected), answers) in work.into_iter().zip(answers) {
        for ((t, (to, kubeseg)), kernel) in targets.iter().zip(expected).zip(answers) {
            v.probes += 1;
            v.allowed += usize::from(kernel);
            if kernel != kubeseg {
                v.mismatches.push(Probe {
                    from: from.to_string(),
                    to,
                    protocol: t.protocol.clone(),
                    port: t.port,
                    kernel,
                    kubeseg,
                });
            }
        }
    }
    v.mismatches.sort();
    v.unprobed.sort();
    v.unprobed.dedup();
    Ok(v)
}

/// `kubeseg enforce`: one application of the policy, or (`--watch`) one whenever the
/// manifests or the node's pods change; a line on stdout for each.
pub fn enforce(a: &EnforceArgs) -> Result<()> {
    let mut last = None;
    loop {
        let seen = fingerprint(a)?;
        if last.as_ref() != Some(&seen) {
            let line = enforce_once(a)?;
            write_line(&line)?;
            last = Some(seen);
        }
        if !a.watch {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(a.interval_ms.max(10)));
    }
}

/// Writes one application's lines at once (escaped like every answer: pod names come
/// from the node file and the manifests).
fn write_line(line: &str) -> Result<()> {
    use std::io::Write;
    let mut out = crate::visible::Visible::new(std::io::stdout().lock());
    out.write_all(line.as_bytes())?;
    out.finish()?;
    Ok(())
}

fn enforce_once(a: &EnforceArgs) -> Result<String> {
    let paths = kernel_paths(&a.common)?;
    let loaded = load_input(&a.common)?;
    refuse_cni_policies(&loaded)?;
    let engine = Engine::new(&loaded.cluster, options(&a.common, &loaded.cluster));
    // Pods are matched by name (the node file keeps their namespaces and addresses):
    // plan as many copies per workload as a lab can have.
    let plan = planned(&engine, "", usize::from(MAX_PODS_PER_WORKLOAD));
    let done = net::enforce(
        &loaded.cluster,
        &a.node_file,
        &plan,
        reading(&a.common),
        paths,
    )
    .with_context(|| format!("enforcing on the pods of {}", a.node_file.display()))?;
    Ok(kubeseg_report::lab::enforced_text(&done))
}

/// What `--watch` compares: each manifest file's size and modification time, and the
/// node's pods with their addresses.
fn fingerprint(a: &EnforceArgs) -> Result<Vec<String>> {
    let mut seen = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = a.common.paths.iter().map(Into::into).collect();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| p.display().to_string())?;
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).with_context(|| p.display().to_string())? {
                stack.push(e?.path());
            }
        } else {
            seen.push(format!(
                "{} {} {:?}",
                p.display(),
                meta.len(),
                meta.modified().ok()
            ));
        }
    }
    let node = net::load_path(&a.node_file)?;
    seen.extend(
        node.plan
            .pods
            .iter()
            .map(|p| format!("{} {:?} {}", p.pod, p.ip, p.netns)),
    );
    seen.sort();
    Ok(seen)
}
