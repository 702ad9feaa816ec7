//! The CNI side of `kubeseg-cni`, a chained plugin (CNI specification 1.0 and 1.1):
//! reading its configuration and environment, and writing its results and errors.
//! The plugin runs after an interface plugin (the lab chains it after `bridge`): on
//! ADD it installs the pod's compiled policy in the pod's network namespace and passes
//! `prevResult` through; DEL removes the table and succeeds whatever is left; CHECK
//! fails when the table is missing; VERSION lists the versions it speaks.

use serde::Deserialize;
use serde_json::{Value, json};

/// The specification versions the plugin accepts.
pub const SUPPORTED: [&str; 4] = ["0.4.0", "1.0.0", "1.1.0", "1.1"];

/// A CNI error: written as JSON on stdout with a non-zero exit.
#[derive(Debug, PartialEq, Eq)]
pub struct CniError {
    /// 1 incompatible version, 4 invalid environment, 6 decoding failure, 7 invalid
    /// network configuration, 100 and above this plugin's own.
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: &str, details: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.to_string(),
            details: details.into(),
        }
    }

    /// The error document.
    pub fn to_json(&self, version: &str) -> String {
        json!({"cniVersion": version, "code": self.code, "msg": self.msg, "details": self.details})
            .to_string()
    }
}

/// What the plugin reads from the network configuration.
#[derive(Debug, Deserialize)]
pub struct Config {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "prevResult")]
    pub prev_result: Option<Value>,
    /// kubeseg's own section.
    pub kubeseg: Option<KubesegConfig>,
}

/// The `kubeseg` section: where the policy and the other pods come from.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubesegConfig {
    /// Manifest files or directories holding the policies.
    pub paths: Vec<String>,
    /// The state file of the lab (or agent) that knows the other pods' addresses.
    pub state: String,
    /// ipBlocks also match pods' known addresses.
    #[serde(default)]
    pub ipblock_pod_ips: bool,
}

/// Reads the configuration; a chained ADD or CHECK needs `prevResult`.
pub fn parse_config(stdin: &str, command: &str) -> Result<Config, CniError> {
    let config: Config = serde_json::from_str(stdin)
        .map_err(|e| CniError::new(6, "cannot decode the network configuration", e.to_string()))?;
    if !SUPPORTED.contains(&config.cni_version.as_str()) {
        return Err(CniError::new(
            1,
            "incompatible CNI version",
            format!(
                "cniVersion {} (supported: {})",
                config.cni_version,
                SUPPORTED.join(", ")
            ),
        ));
    }
    if matches!(command, "ADD" | "CHECK") && config.prev_result.is_none() {
        return Err(CniError::new(
            7,
            "kubeseg-cni is a chained plugin: it needs prevResult",
            "list it after an interface plugin such as bridge",
        ));
    }
    if matches!(command, "ADD" | "CHECK") && config.kubeseg.is_none() {
        return Err(CniError::new(
            7,
            "the network configuration has no kubeseg section",
            "kubeseg: {paths: [...], state: FILE}",
        ));
    }
    Ok(config)
}

/// The answer to VERSION.
pub fn version_result(version: &str) -> String {
    json!({"cniVersion": version, "supportedVersions": SUPPORTED}).to_string()
}

/// The ADD result: the previous plugin's result, under this configuration's version.
pub fn add_result(config: &Config) -> String {
    let mut r = config.prev_result.clone().unwrap_or_else(|| json!({}));
    if let Some(m) = r.as_object_mut() {
        m.insert("cniVersion".into(), json!(config.cni_version));
    }
    r.to_string()
}

/// The pod's IPv4 address in a result.
pub fn address(result: &Value) -> Option<std::net::Ipv4Addr> {
    result["ips"]
        .as_array()?
        .iter()
        .find_map(|ip| ip["address"].as_str()?.split('/').next()?.parse().ok())
}

/// `K8S_POD_NAMESPACE` and `K8S_POD_NAME` from `CNI_ARGS` (`K=V;K=V`).
pub fn pod_identity(args: &str) -> Option<(String, String)> {
    let get = |key: &str| {
        args.split(';')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    Some((get("K8S_POD_NAMESPACE")?, get("K8S_POD_NAME")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREV: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/p"}],"ips":[{"address":"10.233.0.5/16","gateway":"10.233.0.1","interface":0}]}"#;

    fn conf(version: &str, prev: bool) -> String {
        let prev = if prev {
            format!(",\"prevResult\":{PREV}")
        } else {
            String::new()
        };
        format!(
            "{{\"cniVersion\":\"{version}\",\"name\":\"lab\",\"type\":\"kubeseg-cni\",\"kubeseg\":{{\"paths\":[\"a.yaml\"],\"state\":\"/run/x\"}}{prev}}}"
        )
    }

    #[test]
    fn add_passes_the_previous_result_through_under_the_configured_version() {
        let c = parse_config(&conf("1.1.0", true), "ADD").unwrap();
        let r: Value = serde_json::from_str(&add_result(&c)).unwrap();
        assert_eq!(r["cniVersion"], "1.1.0");
        let prev: Value = serde_json::from_str(PREV).unwrap();
        assert_eq!(r["ips"], prev["ips"]);
        assert_eq!(r["interfaces"], prev["interfaces"]);
        assert_eq!(address(&r), Some("10.233.0.5".parse().unwrap()));
    }

    #[test]
    fn a_chained_add_without_prev_result_is_a_configuration_error() {
        assert_eq!(
            parse_config(&conf("1.0.0", false), "ADD").unwrap_err().code,
            7
        );
        // DEL needs nothing but the version: it must succeed whatever is left.
        assert!(parse_config(&conf("1.0.0", false), "DEL").is_ok());
    }

    #[test]
    fn versions_are_checked_and_listed() {
        assert_eq!(
            parse_config(&conf("0.3.1", true), "ADD").unwrap_err().code,
            1
        );
        let v: Value = serde_json::from_str(&version_result("1.0.0")).unwrap();
        assert!(
            v["supportedVersions"]
                .as_array()
                .unwrap()
                .contains(&json!("1.0.0"))
        );
        let e: Value = serde_json::from_str(&CniError::new(6, "m", "d").to_json("1.0.0")).unwrap();
        assert_eq!(
            e,
            json!({"cniVersion": "1.0.0", "code": 6, "msg": "m", "details": "d"})
        );
        assert_eq!(parse_config("{", "ADD").unwrap_err().code, 6);
    }

    #[test]
    fn the_pod_comes_from_cni_args() {
        assert_eq!(
            pod_identity("IgnoreUnknown=1;K8S_POD_NAMESPACE=x;K8S_POD_NAME=a"),
            Some(("x".into(), "a".into()))
        );
        assert_eq!(pod_identity("K8S_POD_NAME=a"), None);
    }
}
