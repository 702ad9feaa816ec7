//! What is kept of an object read from the API server: what kubeseg reads, without the
//! bookkeeping that changes on every write.

use serde_json::{Map, Value};

/// The annotation `kubectl apply` writes: a copy of the object, never read.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Removes server bookkeeping (`managedFields`, `resourceVersion`, `generation`,
/// `selfLink`, the last-applied copy) and every `status` field except the addresses
/// kubeseg reads (a Pod's IPs and phase, a Node's addresses), so two reads of an
/// unchanged cluster give the same manifests.
pub fn strip(object: &mut Value, kind: &str) {
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        for key in ["managedFields", "resourceVersion", "generation", "selfLink"] {
            meta.remove(key);
        }
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    let kept: &[&str] = match kind {
        "Pod" => &["phase", "podIP", "podIPs", "hostIP", "hostIPs"],
        "Node" => &["addresses"],
        _ => &[],
    };
    match obj.remove("status") {
        Some(Value::Object(status)) if !kept.is_empty() => {
            let status: Map<String, Value> = status
                .into_iter()
                .filter(|(k, _)| kept.contains(&k.as_str()))
                .collect();
            if !status.is_empty() {
                obj.insert("status".into(), Value::Object(status));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bookkeeping_goes_and_addresses_stay() {
        let mut pod = json!({
            "kind": "Pod",
            "metadata": {"name": "a", "resourceVersion": "7", "managedFields": [{}],
                "annotations": {LAST_APPLIED: "{}"}, "labels": {"app": "a"}},
            "status": {"podIP": "10.0.0.1", "conditions": [], "phase": "Running"}
        });
        strip(&mut pod, "Pod");
        assert_eq!(
            pod,
            json!({"kind": "Pod", "metadata": {"name": "a", "labels": {"app": "a"}},
                "status": {"podIP": "10.0.0.1", "phase": "Running"}})
        );
        let mut svc = json!({"kind": "Service", "status": {"loadBalancer": {}}});
        strip(&mut svc, "Service");
        assert_eq!(svc, json!({"kind": "Service"}));
    }
}
