//! `kubeseg-cni`: a chained CNI plugin that enforces kubeseg's compiled policy in each
//! pod's network namespace (see `kubeseg_lab::cni` for the protocol side).
#![allow(clippy::print_stdout)]

use kubeseg_lab::cni::{self, CniError, Config};
use kubeseg_lab::nft::Reading;
use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = std::env::var("CNI_COMMAND").unwrap_or_default();
    let mut stdin = String::new();
    let _ = std::io::stdin().read_to_string(&mut stdin);
    // The version to answer in: the configuration's when it can be read.
    let version = serde_json::from_str::<serde_json::Value>(&stdin)
        .ok()
        .and_then(|v| v["cniVersion"].as_str().map(String::from))
        .unwrap_or_else(|| "1.0.0".into());
    if command == "VERSION" {
        println!("{}", cni::version_result(&version));
        return ExitCode::SUCCESS;
    }
    let result = cni::parse_config(&stdin, &command).and_then(|config| match command.as_str() {
        "ADD" => add(&config),
        "DEL" => del().map(|()| String::new()),
        "CHECK" => check().map(|()| String::new()),
        "GC" | "STATUS" => Ok(String::new()),
        other => Err(CniError::new(
            4,
            "unknown CNI_COMMAND",
            format!("{other:?} (ADD, DEL, CHECK, GC, STATUS, VERSION)"),
        )),
    });
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", e.to_json(&version));
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Result<String, CniError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CniError::new(4, "missing environment variable", name))
}

/// Runs `nft` in the pod's network namespace.
fn nft_in(netns: &str, args: &[&str], script: Option<&str>) -> Result<(), String> {
    let mut cmd = kubeseg_lab::net::entered_at(netns, "nft");
    cmd.args(args);
    kubeseg_lab::net::run("nft", &mut cmd, script)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn add(config: &Config) -> Result<String, CniError> {
    let netns = env("CNI_NETNS")?;
    let (namespace, name) = cni::pod_identity(&std::env::var("CNI_ARGS").unwrap_or_default())
        .ok_or_else(|| CniError::new(4, "CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME", ""))?;
    let k = config
        .kubeseg
        .as_ref()
        .ok_or_else(|| CniError::new(7, "no kubeseg section", ""))?;
    let loaded = kubeseg_sources::load(&k.paths);
    if let Some(d) = loaded
        .diagnostics
        .iter()
        .find(|d| d.severity == kubeseg_model::Severity::Error)
    {
        return Err(CniError::new(
            100,
            "the manifests do not load",
            d.message.clone(),
        ));
    }
    // The kernel rules cover NetworkPolicy and the cluster tiers only: a pod must not
    // come up under rules that ignore the Cilium policies meant to guard it.
    if let Some(p) = loaded.cluster.cilium_policies.first() {
        return Err(CniError::new(
            100,
            "the manifests hold Cilium policies, which kubeseg-cni does not enforce",
            p.id(),
        ));
    }
    if let Some(p) = loaded.cluster.calico_policies.first() {
        return Err(CniError::new(
            100,
            "the manifests hold Calico policies, which kubeseg-cni does not enforce",
            p.id(),
        ));
    }
    let mut state = kubeseg_lab::net::load_path(std::path::Path::new(&k.state))
        .map_err(|e| CniError::new(100, "cannot read the state file", e.to_string()))?;
    let pod = format!("{namespace}/{name}");
    let i = state
        .plan
        .pods
        .iter()
        .position(|p| p.pod == pod)
        .ok_or_else(|| CniError::new(100, "no such pod in the state file", pod.clone()))?;
    let prev = config
        .prev_result
        .as_ref()
        .ok_or_else(|| CniError::new(7, "no prevResult", ""))?;
    let ip = cni::address(prev)
        .ok_or_else(|| CniError::new(7, "prevResult has no IPv4 address", prev.to_string()))?;
    state.plan.pods[i].ip = Some(ip);
    let reading = Reading {
        ipblock_pod_ips: k.ipblock_pod_ips,
    };
    let g = state.generation;
    let script = kubeseg_lab::net::rules_script(&loaded.cluster, &state, i, reading, g, &[g]);
    nft_in(&netns, &["-f", "-"], Some(&script))
        .map_err(|e| CniError::new(101, "nft refused the pod's rules", e))?;
    Ok(cni::add_result(config))
}

/// Removes the pod's table; succeeds whatever is already gone (the specification
/// requires DEL to be idempotent).
fn del() -> Result<(), CniError> {
    if let Ok(netns) = env("CNI_NETNS")
        && std::path::Path::new(&netns).exists()
    {
        let _ = nft_in(&netns, &["delete", "table", "inet", "kubeseg"], None);
    }
    Ok(())
}

fn check() -> Result<(), CniError> {
    let netns = env("CNI_NETNS")?;
    nft_in(&netns, &["list", "table", "inet", "kubeseg"], None)
        .map_err(|e| CniError::new(102, "the pod's kubeseg table is missing", e))
}
