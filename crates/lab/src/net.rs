//! Building and removing a lab: a "node" network namespace holding the bridge, one
//! namespace per pod attached by Debian's reference CNI plugins (`bridge` with
//! `host-local` IPAM, run inside the node namespace as the CNI specification says:
//! `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_PATH`, the
//! configuration on stdin), one namespace per external address on the same bridge,
//! listeners in every namespace, and each pod's compiled rules.
//!
//! Nothing touches the host's own network: the bridge, routes and rules live in the
//! lab's namespaces, the node namespace has no uplink, and pods get addresses from
//! [`SUBNET`], which has no route out. What a lab created is recorded in its state
//! file, and `down` removes exactly that.

use crate::nft::{self, Reading};
use crate::plan::{LabPod, Plan};
use kubeseg_model::Cluster;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pods' range (RFC 1918, chosen unlikely to appear in policies).
pub const SUBNET: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 233, 0, 0), 16);
/// Where the reference CNI plugins are (Debian's `containernetworking-plugins`).
pub const CNI_PATH: &str = "/usr/lib/cni";

/// Why a lab could not be built or removed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{what}: {detail}")]
    Command { what: String, detail: String },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("a lab named {0} exists already: `kubeseg lab down --name {0}` first")]
    Exists(String),
    #[error("no lab named {0} (no state file at {1})")]
    Missing(String, String),
}

/// What a running lab is made of, saved for `down` and for probing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub name: String,
    pub node: String,
    pub plan: Plan,
    /// Listener processes, by network namespace.
    pub listeners: std::collections::BTreeMap<String, u32>,
    /// The chained plugin (`kubeseg-cni`) and the manifests it reads.
    pub plugin: PathBuf,
    pub paths: Vec<String>,
    pub ipblock_pod_ips: bool,
    /// The generation of the pods' rules in force (see `nft::script`).
    #[serde(default)]
    pub generation: u8,
}

/// The directory of a lab's state and IPAM files.
pub fn dir(name: &str) -> PathBuf {
    Path::new("/run/kubeseg-lab").join(name)
}

/// Runs a command (with `stdin` written to it), its standard output; a failure names
/// `what` and carries the command's error output.
pub fn run(what: &str, cmd: &mut Command, stdin: Option<&str>) -> Result<String, LabError> {
    let err = |detail: String| LabError::Command {
        what: what.to_string(),
        detail,
    };
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| err(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        )));
    }
    Ok(stdout)
}

fn ip(args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(args);
    c
}

/// `program` run in network namespace `ns` as `ip netns exec` runs it (with its own
/// mount namespace and `/sys`), for the CNI plugins.
fn in_netns(ns: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, program]);
    c
}

/// `program` run in network namespace `ns`, entering that alone: `ip netns exec` also
/// copies the mount namespace, which holds a mount per lab namespace, and at 1,000 pods
/// that copy cost more than `nft` itself.
fn entered(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    entered_at(&format!("/var/run/netns/{ns}"), program)
}

/// `program` run in the network namespace at `path` (a CNI runtime's `CNI_NETNS`).
pub fn entered_at(path: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={path}")).arg(program);
    c
}

/// The CNI configuration of the lab's network.
fn cni_config(name: &str) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": format!("kubeseg-lab-{name}"),
        "type": "bridge",
        "bridge": "ksbr0",
        "isGateway": true,
        "ipMasq": false,
        "hairpinMode": false,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": format!("{}/{}", SUBNET.0, SUBNET.1)}]],
            "dataDir": dir(name).join("ipam").display().to_string(),
        }
    })
    .to_string()
}

/// Calls the bridge plugin for one pod namespace, inside the node namespace.
fn cni(state: &State, command: &str, netns: &str) -> Result<String, LabError> {
    let mut c = in_netns(&state.node, &format!("{CNI_PATH}/bridge"));
    cni_env(&mut c, command, netns, "");
    run(
        &format!("CNI {command} for {netns}"),
        &mut c,
        Some(&cni_config(&state.name)),
    )
}

fn cni_env(c: &mut Command, command: &str, netns: &str, args: &str) {
    c.env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", netns)
        .env("CNI_NETNS", format!("/var/run/netns/{netns}"))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_ARGS", args)
        .env("CNI_PATH", CNI_PATH);
}

/// Calls the chained plugin after the bridge plugin, with the bridge's result as
/// `prevResult`, as a CNI runtime does.
fn chained(
    state: &State,
    command: &str,
    p: &LabPod,
    prev: Option<&str>,
) -> Result<String, LabError> {
    let (namespace, name) = p.pod.split_once('/').unwrap_or(("", &p.pod));
    let mut config = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": format!("kubeseg-lab-{}", state.name),
        "type": "kubeseg-cni",
        "kubeseg": {
            "paths": state.paths,
            "state": dir(&state.name).join("state.json").display().to_string(),
            "ipblockPodIps": state.ipblock_pod_ips,
        },
    });
    if let Some(prev) = prev {
        config["prevResult"] = serde_json::from_str(prev).unwrap_or_default();
    }
    let mut c = in_netns(&state.node, &state.plugin.display().to_string());
    cni_env(
        &mut c,
        command,
        &p.netns,
        &format!("K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name}"),
    );
    run(
        &format!("kubeseg-cni {command} for {}", p.netns),
        &mut c,
        Some(&config.to_string()),
    )
}

/// The address a CNI ADD result gave the pod.
fn address_of(result: &str) -> Option<Ipv4Addr> {
    crate::cni::address(&serde_json::from_str(result).ok()?)
}

fn save(state: &State) -> Result<(), LabError> {
    let path = dir(&state.name).join("state.json");
    let text = serde_json::to_string_pretty(state).unwrap_or_default();
    std::fs::write(&path, text).map_err(|e| LabError::Io(path.display().to_string(), e))
}

/// Reads a running lab's state.
pub fn load(name: &str) -> Result<State, LabError> {
    let path = dir(name).join("state.json");
    if !path.exists() {
        return Err(LabError::Missing(
            name.to_string(),
            path.display().to_string(),
        ));
    }
    load_path(&path)
}

/// Reads a state file.
pub fn load_path(path: &Path) -> Result<State, LabError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| LabError::Io(path.display().to_string(), e))?;
    serde_json::from_str(&text).map_err(|e| LabError::Command {
        what: format!("reading {}", path.display()),
        detail: e.to_string(),
    })
}

/// What `up` needs besides the cluster and the plan.
pub struct Setup<'a> {
    pub name: &'a str,
    pub reading: Reading,
    /// The `kubeseg` executable (for listeners and probes).
    pub exe: &'a Path,
    /// The `kubeseg-cni` executable.
    pub plugin: PathBuf,
    /// The manifests, as absolute paths (the plugin reads them).
    pub paths: Vec<String>,
}

/// Builds the lab; on failure whatever was built is removed again.
pub fn up(cluster: &Cluster, mut plan: Plan, setup: Setup) -> Result<State, LabError> {
    let (name, reading, exe) = (setup.name, setup.reading, setup.exe);
    let d = dir(name);
    if d.join("state.json").exists() {
        return Err(LabError::Exists(name.to_string()));
    }
    std::fs::create_dir_all(&d).map_err(|e| LabError::Io(d.display().to_string(), e))?;
    plan.pods.iter_mut().for_each(|p| p.ip = None);
    let mut state = State {
        name: name.to_string(),
        node: format!("{name}-node"),
        plan,
        listeners: Default::default(),
        plugin: setup.plugin,
        paths: setup.paths,
        ipblock_pod_ips: reading.ipblock_pod_ips,
        generation: 0,
    };
    // The state is saved before anything is created, and after each step, so that
    // `down` can always remove what exists.
    save(&state)?;
    let built = build(cluster, &mut state, reading, exe);
    save(&state)?;
    if let Err(e) = built {
        let _ = down(name);
        return Err(e);
    }
    Ok(state)
}

fn build(
    cluster: &Cluster,
    state: &mut State,
    reading: Reading,
    exe: &Path,
) -> Result<(), LabError> {
    run(
        "creating the node namespace",
        &mut ip(&["netns", "add", &state.node]),
        None,
    )?;
    run(
        "loopback up in the node namespace",
        &mut ip(&["-n", &state.node, "link", "set", "lo", "up"]),
        None,
    )?;
    for i in 0..state.plan.pods.len() {
        attach_pod(state, i, false)?;
    }
    for i in 0..state.plan.externals.len() {
        let x = state.plan.externals[i].clone();
        external(state, &x.netns, x.ip)?;
    }
    neighbours(state)?;
    // Every pod's rules again, now that every address is known (the plugin saw only
    // the pods attached before each one), before any listener starts.
    apply_rules(cluster, state, reading)?;
    for i in 0..state.plan.pods.len() {
        pod_listener(state, i, exe)?;
    }
    let ext_ports = external_ports(&state.plan);
    for x in state.plan.externals.clone() {
        listen(state, &x.netns, &ext_ports.0, &ext_ports.1, exe)?;
    }
    Ok(())
}

/// Creates pod `i`'s namespace and attaches it: the bridge plugin, then the chained
/// plugin (which isolates the pod before anything runs in it); with `route_externals`,
/// also the routes to the external addresses already in the lab.
fn attach_pod(state: &mut State, i: usize, route_externals: bool) -> Result<(), LabError> {
    let ns = state.plan.pods[i].netns.clone();
    run(
        &format!("creating {ns}"),
        &mut ip(&["netns", "add", &ns]),
        None,
    )?;
    run(
        "loopback up",
        &mut ip(&["-n", &ns, "link", "set", "lo", "up"]),
        None,
    )?;
    let result = cni(state, "ADD", &ns)?;
    let Some(addr) = address_of(&result) else {
        return Err(LabError::Command {
            what: format!("CNI ADD for {ns}"),
            detail: format!("no IPv4 address in the result: {result}"),
        });
    };
    // The chained plugin's result must pass the bridge's through.
    let chained_result = chained(state, "ADD", &state.plan.pods[i], Some(&result))?;
    if address_of(&chained_result) != Some(addr) {
        return Err(LabError::Command {
            what: format!("kubeseg-cni ADD for {ns}"),
            detail: format!("prevResult not passed through: {chained_result}"),
        });
    }
    state.plan.pods[i].ip = Some(addr);
    save(state)?;
    if route_externals {
        for x in &state.plan.externals {
            let cidr = format!("{}/32", x.ip);
            run(
                "route from a pod to an external address",
                &mut ip(&["-n", &ns, "route", "add", &cidr, "dev", "eth0"]),
                None,
            )?;
        }
    }
    Ok(())
}

/// Starts pod `i`'s listener on its declared TCP and UDP ports.
fn pod_listener(state: &mut State, i: usize, exe: &Path) -> Result<(), LabError> {
    let p = state.plan.pods[i].clone();
    let ports = |proto: &str| -> String {
        let mut v: Vec<u16> = p
            .ports
            .iter()
            .filter(|c| c.protocol == proto)
            .map(|c| c.port)
            .collect();
        v.sort_unstable();
        v.dedup();
        v.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
    };
    listen(state, &p.netns, &ports("TCP"), &ports("UDP"), exe)
}

/// Removes one pod: its listener, the chained plugin's and the bridge's attachment,
/// its namespace.
fn detach_pod(state: &mut State, p: &LabPod) {
    if let Some(pid) = state.listeners.remove(&p.netns) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    if p.ip.is_some() {
        // Chained plugins are deleted in reverse order.
        let _ = chained(state, "DEL", p, None);
        let _ = cni(state, "DEL", &p.netns);
    }
    let _ = run(
        "deleting a pod namespace",
        &mut ip(&["netns", "del", &p.netns]),
        None,
    );
}

/// What `apply` changed.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Pods whose rules were replaced (every pod of the lab).
    pub updated: usize,
    /// How long replacing every pod's rules took.
    pub rules_time: std::time::Duration,
    /// What the rules leave out of the manifests (the plan's notes).
    pub notes: Vec<String>,
}

/// Brings a running lab to new manifests: pods that appear are attached (isolated by
/// the chained plugin from their first packet), every pod's rules are replaced in
/// place (one transaction per pod, base chains kept), then pods that disappeared are
/// removed. `fresh` is the plan of the new manifests; pods keep their namespace and
/// address by name; the external addresses stay as they are.
pub fn apply(
    cluster: &Cluster,
    name: &str,
    fresh: Plan,
    setup: Setup,
) -> Result<Applied, LabError> {
    let (reading, exe) = (setup.reading, setup.exe);
    let mut state = load(name)?;
    let mut next = state
        .plan
        .pods
        .iter()
        .filter_map(|p| p.netns.rsplit_once("-p")?.1.parse::<usize>().ok())
        .max()
        .map_or(0, |n| n + 1);
    let old: std::collections::BTreeMap<String, LabPod> = state
        .plan
        .pods
        .iter()
        .map(|p| (p.pod.clone(), p.clone()))
        .collect();
    let mut applied = Applied::default();
    let mut pods = Vec::new();
    for mut p in fresh.pods {
        match old.get(&p.pod) {
            Some(o) => {
                p.netns = o.netns.clone();
                p.ip = o.ip;
                p.mac = o.mac.clone();
            }
            None => {
                p.netns = format!("{name}-p{next}");
                p.ip = None;
                next += 1;
                applied.added.push(p.pod.clone());
            }
        }
        pods.push(p);
    }
    let removed: Vec<LabPod> = old
        .values()
        .filter(|o| !pods.iter().any(|p| p.pod == o.pod))
        .cloned()
        .collect();
    let (before, after) = (state.generation, 1 - state.generation);
    state.plan.pods = pods;
    state.plan.notes = fresh.notes;
    applied.notes = state.plan.notes.clone();
    state.paths = setup.paths;
    state.ipblock_pod_ips = reading.ipblock_pod_ips;
    state.generation = after;
    save(&state)?;
    // New pods start in the new generation, isolated by the chained plugin.
    for i in 0..state.plan.pods.len() {
        if state.plan.pods[i].ip.is_none() {
            attach_pod(&mut state, i, true)?;
        }
    }
    neighbours(&mut state)?;
    let start = std::time::Instant::now();
    let (existing, fresh): (Vec<usize>, Vec<usize>) =
        (0..state.plan.pods.len()).partition(|&i| old.contains_key(&state.plan.pods[i].pod));
    replace_rules(cluster, &state, reading, &existing, before)?;
    // New pods again, now that every new pod's address is known.
    in_parallel(&fresh, |i| {
        install(
            &state,
            i,
            &rules_script(cluster, &state, i, reading, after, &[after]),
        )
    })?;
    applied.rules_time = start.elapsed();
    applied.updated = state.plan.pods.len();
    for p in &removed {
        detach_pod(&mut state, p);
        applied.removed.push(p.pod.clone());
    }
    for i in 0..state.plan.pods.len() {
        if !state.listeners.contains_key(&state.plan.pods[i].netns) {
            pod_listener(&mut state, i, exe)?;
        }
    }
    save(&state)?;
    Ok(applied)
}

/// The two-phase update of pods `which`, from generation `before` to the state's
/// generation: first every pod consults both (a packet passes only if both allow it),
/// then, once every pod has both, the new one alone.
fn replace_rules(
    cluster: &Cluster,
    state: &State,
    reading: Reading,
    which: &[usize],
    before: u8,
) -> Result<(), LabError> {
    let after = state.generation;
    in_parallel(which, |i| {
        install(
            state,
            i,
            &rules_script(cluster, state, i, reading, after, &[before, after]),
        )
    })?;
    in_parallel(which, |i| install(state, i, &nft::activate(&[after])))
}

/// What `enforce` did.
#[derive(Clone, Debug, Default)]
pub struct Enforced {
    /// Pods whose rules were replaced.
    pub updated: usize,
    /// Pods of the node the manifests do not describe: their rules were left as they were.
    pub unknown: Vec<String>,
    /// The generation now in force.
    pub generation: u8,
    pub rules_time: std::time::Duration,
    /// What the rules leave out of the manifests (the plan's notes).
    pub notes: Vec<String>,
}

/// The node agent's step: brings the pods listed in the node file at `path` (the file
/// `kubeseg-cni` reads: each pod's network namespace and address) to the policy of
/// `cluster`, whose pods `fresh` plans, by the same two-phase update as `apply`. Pods
/// are matched by `ns/name`; pods are neither attached nor removed (the runtime and
/// the CNI plugin do that).
pub fn enforce(
    cluster: &Cluster,
    path: &Path,
    fresh: &Plan,
    reading: Reading,
    paths: Vec<String>,
) -> Result<Enforced, LabError> {
    let mut state = load_path(path)?;
    let described: std::collections::BTreeMap<&str, &LabPod> =
        fresh.pods.iter().map(|p| (p.pod.as_str(), p)).collect();
    let mut done = Enforced {
        notes: fresh.notes.clone(),
        ..Enforced::default()
    };
    // Pods the manifests do not describe are set aside while the rules are compiled:
    // their labels are unknown, so they are no one's peers.
    let mut aside = Vec::new();
    for mut p in std::mem::take(&mut state.plan.pods) {
        match described.get(p.pod.as_str()) {
            Some(d) if p.ip.is_some() => {
                p.workload = d.workload;
                p.template = d.template;
                p.workload_id = d.workload_id.clone();
                p.namespace = d.namespace.clone();
                p.ports = d.ports.clone();
                state.plan.pods.push(p);
            }
            _ => {
                done.unknown.push(p.pod.clone());
                aside.push(p);
            }
        }
    }
    let which: Vec<usize> = (0..state.plan.pods.len()).collect();
    let before = state.generation;
    state.generation = 1 - before;
    state.paths = paths;
    state.ipblock_pod_ips = reading.ipblock_pod_ips;
    let start = std::time::Instant::now();
    replace_rules(cluster, &state, reading, &which, before)?;
    done.rules_time = start.elapsed();
    done.updated = which.len();
    done.generation = state.generation;
    state.plan.pods.extend(aside);
    let text = serde_json::to_string_pretty(&state).unwrap_or_default();
    std::fs::write(path, text).map_err(|e| LabError::Io(path.display().to_string(), e))?;
    Ok(done)
}

/// The ports every external address listens on: every port a pod declares.
pub fn external_ports(plan: &Plan) -> (String, String) {
    let mut tcp = std::collections::BTreeSet::new();
    let mut udp = std::collections::BTreeSet::new();
    for p in &plan.pods {
        for c in &p.ports {
            match c.protocol.as_str() {
                "TCP" => tcp.insert(c.port),
                "UDP" => udp.insert(c.port),
                _ => false,
            };
        }
    }
    let join = |s: std::collections::BTreeSet<u16>| {
        s.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
    };
    (join(tcp), join(udp))
}

/// Compiles and installs every pod's rules in the generation in force, each pod in one
/// nft transaction (used while the lab is built, before anything listens).
pub fn apply_rules(cluster: &Cluster, state: &State, reading: Reading) -> Result<(), LabError> {
    let g = state.generation;
    let all: Vec<usize> = (0..state.plan.pods.len()).collect();
    in_parallel(&all, |i| {
        install(state, i, &rules_script(cluster, state, i, reading, g, &[g]))
    })
}

/// Installers running at once. An `nft` transaction spends most of its time waiting
/// for the kernel's commit, not computing: at 1,000 pods on 2 cores, 4 installers
/// replaced every pod's rules in 11.6 s, 16 in 7.2 s, 48 no faster.
const INSTALLERS: usize = 16;

/// Runs `job` for every item, [`INSTALLERS`] at a time; the first error, if any.
fn in_parallel(
    items: &[usize],
    job: impl Fn(usize) -> Result<(), LabError> + Sync,
) -> Result<(), LabError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..INSTALLERS.min(items.len()) {
            scope.spawn(|| {
                while let Some(&i) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(e) = job(i) {
                        failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((i, e));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort_by_key(|(i, _)| *i);
    failures.into_iter().next().map_or(Ok(()), |(_, e)| Err(e))
}

/// Pod `i`'s nft script: its rules in `generation`, with the `active` generations consulted.
pub fn rules_script(
    cluster: &Cluster,
    state: &State,
    i: usize,
    reading: Reading,
    generation: u8,
    active: &[u8],
) -> String {
    let ips: Vec<Ipv4Addr> = state.plan.pods.iter().filter_map(|p| p.ip).collect();
    let rules = nft::compile_pod(cluster, &state.plan, i, reading);
    nft::script(&rules, &ips, generation, active)
}

/// Runs one nft script, as one transaction, in pod `i`'s namespace.
fn install(state: &State, i: usize, script: &str) -> Result<(), LabError> {
    let ns = &state.plan.pods[i].netns;
    run(
        &format!("nft in {ns}"),
        entered(ns, "nft").args(["-f", "-"]),
        Some(script),
    )?;
    Ok(())
}

/// Gives every namespace on the bridge the hardware address of every other it talks to,
/// as permanent neighbour entries. Address resolution would broadcast, and the bridge
/// copies each broadcast to every port: with many pods probing at once, the copies
/// overflow the kernel's per-CPU receive backlog (`net.core.netdev_max_backlog`,
/// counted in `/proc/net/softnet_stat`) and real packets are lost with them.
///
/// Hardware addresses are read once and kept in the state; a host whose address was
/// not known yet is new: it learns every other host, and every other host learns it.
fn neighbours(state: &mut State) -> Result<(), LabError> {
    let mut fresh = std::collections::BTreeSet::new();
    let pods = state.plan.pods.iter_mut().filter(|p| p.ip.is_some());
    let slots = pods.map(|p| (&p.netns, &mut p.mac)).chain(
        state
            .plan
            .externals
            .iter_mut()
            .map(|x| (&x.netns, &mut x.mac)),
    );
    for (ns, mac) in slots {
        if mac.is_none() {
            *mac = Some(hardware_address(ns)?);
            fresh.insert(ns.clone());
        }
    }
    let hosts: Vec<(&str, Ipv4Addr, bool, &str)> = state
        .plan
        .pods
        .iter()
        .filter_map(|p| Some((p.netns.as_str(), p.ip?, false, p.mac.as_deref()?)))
        .chain(
            state
                .plan
                .externals
                .iter()
                .filter_map(|x| Some((x.netns.as_str(), x.ip, true, x.mac.as_deref()?))),
        )
        .collect();
    for &(ns, _, external, _) in &hosts {
        let mut batch = String::new();
        for &(other, addr, other_external, mac) in &hosts {
            // Addresses outside the cluster talk to pods, not to each other.
            let talks = other != ns && !(external && other_external);
            if talks && (fresh.contains(ns) || fresh.contains(other)) {
                batch.push_str(&format!(
                    "neigh replace {addr} lladdr {mac} dev eth0 nud permanent\n"
                ));
            }
        }
        if !batch.is_empty() {
            run(
                &format!("neighbour entries in {ns}"),
                &mut ip(&["-n", ns, "-batch", "-"]),
                Some(&batch),
            )?;
        }
    }
    save(state)
}

/// The hardware address of `eth0` in namespace `ns`.
fn hardware_address(ns: &str) -> Result<String, LabError> {
    let what = format!("the hardware address in {ns}");
    let shown = run(
        &what,
        &mut ip(&["-n", ns, "-o", "link", "show", "eth0"]),
        None,
    )?;
    shown
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| LabError::Command {
            what,
            detail: format!("no link/ether in: {shown}"),
        })
}

/// Packets the kernel has dropped because a CPU's receive backlog was full (the second
/// column of `/proc/net/softnet_stat`, summed over CPUs); 0 when unreadable.
pub fn backlog_drops() -> u64 {
    std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .sum()
}

/// A namespace holding one external address, on the lab's bridge by a veth pair.
fn external(state: &State, ns: &str, addr: Ipv4Addr) -> Result<(), LabError> {
    let host_end = format!("kx{}", ns.rsplit('x').next().unwrap_or("0"));
    run(
        &format!("creating {ns}"),
        &mut ip(&["netns", "add", ns]),
        None,
    )?;
    run(
        "loopback up",
        &mut ip(&["-n", ns, "link", "set", "lo", "up"]),
        None,
    )?;
    run(
        "veth for an external address",
        &mut ip(&[
            "-n",
            &state.node,
            "link",
            "add",
            &host_end,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
        ]),
        None,
    )?;
    run(
        "attaching it to the bridge",
        &mut ip(&[
            "-n",
            &state.node,
            "link",
            "set",
            &host_end,
            "master",
            "ksbr0",
            "up",
        ]),
        None,
    )?;
    let cidr = format!("{addr}/32");
    let subnet = format!("{}/{}", SUBNET.0, SUBNET.1);
    run(
        "address",
        &mut ip(&["-n", ns, "addr", "add", &cidr, "dev", "eth0"]),
        None,
    )?;
    run(
        "link up",
        &mut ip(&["-n", ns, "link", "set", "eth0", "up"]),
        None,
    )?;
    run(
        "route to the pods",
        &mut ip(&["-n", ns, "route", "add", &subnet, "dev", "eth0"]),
        None,
    )?;
    // Pods reach the address on the bridge directly, not through the gateway.
    for p in &state.plan.pods {
        run(
            "route from a pod to an external address",
            &mut ip(&["-n", &p.netns, "route", "add", &cidr, "dev", "eth0"]),
            None,
        )?;
    }
    Ok(())
}

fn listen(state: &mut State, ns: &str, tcp: &str, udp: &str, exe: &Path) -> Result<(), LabError> {
    if tcp.is_empty() && udp.is_empty() {
        return Ok(());
    }
    let ready = dir(&state.name).join(format!("ready-{ns}"));
    let mut c = entered(ns, exe);
    c.args(["lab", "serve", "--tcp", tcp, "--udp", udp, "--ready"])
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().map_err(|e| LabError::Command {
        what: format!("starting the listener in {ns}"),
        detail: e.to_string(),
    })?;
    state.listeners.insert(ns.to_string(), child.id());
    save(state)?;
    // Wait until every socket is bound (or the listener died).
    let mut child = child;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ready.exists() {
        let gone = child.try_wait().ok().flatten();
        if gone.is_some() || std::time::Instant::now() > deadline {
            return Err(LabError::Command {
                what: format!("the listener in {ns}"),
                detail: "it did not bind its ports".into(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(())
}

/// Removes everything the lab's state file records, and the state file.
pub fn down(name: &str) -> Result<State, LabError> {
    let mut state = load(name)?;
    for p in state.plan.pods.clone() {
        detach_pod(&mut state, &p);
    }
    for (_, pid) in std::mem::take(&mut state.listeners) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    for x in &state.plan.externals {
        let _ = run(
            "deleting an external namespace",
            &mut ip(&["netns", "del", &x.netns]),
            None,
        );
    }
    let _ = run(
        "deleting the node namespace",
        &mut ip(&["netns", "del", &state.node]),
        None,
    );
    let d = dir(name);
    std::fs::remove_dir_all(&d).map_err(|e| LabError::Io(d.display().to_string(), e))?;
    Ok(state)
}

/// Probes `targets` from inside `ns` (a child process in that namespace), at most
/// `in_flight` at a time.
pub fn probe_from(
    ns: &str,
    exe: &Path,
    targets: &[crate::probe::Target],
    in_flight: usize,
) -> Result<Vec<bool>, LabError> {
    let input = serde_json::to_string(targets).unwrap_or_default();
    let mut c = entered(ns, exe);
    c.args(["lab", "probe", "--in-flight", &in_flight.to_string()]);
    let out = run(&format!("probing from {ns}"), &mut c, Some(&input))?;
    serde_json::from_str(&out).map_err(|e| LabError::Command {
        what: format!("probe answer from {ns}"),
        detail: e.to_string(),
    })
}
