//! Discovery as the real server serves it, and uninstalled CRD groups.

mod common;
use common::*;
use kubeseg_fakeapi::FakeApi;
use serde_json::Value;

fn names(list: &Value, field: &str) -> Vec<String> {
    list[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn discovery_documents_have_the_real_shape() {
    let api = FakeApi::new().start().expect("start");
    let a = api.addr();
    let version = get(a, "/version", None).json();
    assert_eq!(version["major"], "1");
    assert!(
        version["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1."))
    );

    let core = get(a, "/api", None).json();
    assert_eq!(core["kind"], "APIVersions");
    assert_eq!(core["versions"], serde_json::json!(["v1"]));

    let v1 = get(a, "/api/v1", None).json();
    assert_eq!(v1["kind"], "APIResourceList");
    assert_eq!(v1["groupVersion"], "v1");
    let pods = v1["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "pods"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(pods["kind"], "Pod");
    assert_eq!(pods["singularName"], "pod");
    assert_eq!(pods["namespaced"], true);
    let verbs: Vec<&str> = pods["verbs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        verbs.contains(&"list") && verbs.contains(&"watch"),
        "{verbs:?}"
    );
    let ns = v1["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "namespaces"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ns["namespaced"], false);

    let groups = get(a, "/apis", None).json();
    assert_eq!(groups["kind"], "APIGroupList");
    let group_names = names(&groups, "groups");
    for g in [
        "apps",
        "networking.k8s.io",
        "cilium.io",
        "projectcalico.org",
        "security.istio.io",
        "policy.networking.k8s.io",
    ] {
        assert!(
            group_names.iter().any(|n| n == g),
            "{g} missing from {group_names:?}"
        );
    }
    let policy = groups["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == "policy.networking.k8s.io"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(policy["preferredVersion"]["version"], "v1alpha2");
    assert_eq!(policy["versions"].as_array().map(Vec::len), Some(2));

    let anp = get(a, "/apis/policy.networking.k8s.io/v1alpha1", None).json();
    assert_eq!(anp["groupVersion"], "policy.networking.k8s.io/v1alpha1");
    let anp_names = names(&anp, "resources");
    assert_eq!(
        anp_names,
        vec!["adminnetworkpolicies", "baselineadminnetworkpolicies"]
    );
    assert!(
        anp["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["namespaced"] == false)
    );

    let group = get(a, "/apis/cilium.io", None).json();
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(group["preferredVersion"]["groupVersion"], "cilium.io/v2");
}

#[test]
fn an_uninstalled_group_is_absent_and_answers_404_status() {
    let api = FakeApi::new()
        .without_group("cilium.io")
        .start()
        .expect("start");
    let a = api.addr();
    let groups = names(&get(a, "/apis", None).json(), "groups");
    assert!(!groups.iter().any(|g| g == "cilium.io"), "{groups:?}");
    assert!(groups.iter().any(|g| g == "projectcalico.org"));
    for path in [
        "/apis/cilium.io",
        "/apis/cilium.io/v2",
        "/apis/cilium.io/v2/ciliumnetworkpolicies",
        "/apis/cilium.io/v2/namespaces/a/ciliumnetworkpolicies",
    ] {
        let r = get(a, path, None);
        assert_eq!(r.code, 404, "{path}");
        let s = r.json();
        assert_eq!(
            (
                s["kind"].as_str(),
                s["apiVersion"].as_str(),
                s["status"].as_str()
            ),
            (Some("Status"), Some("v1"), Some("Failure")),
            "{path}"
        );
        assert_eq!(
            (s["reason"].as_str(), s["code"].as_u64()),
            (Some("NotFound"), Some(404)),
            "{path}"
        );
    }
    // Installing the CRD later makes the group appear.
    api.set_group_installed("cilium.io", true);
    assert_eq!(
        get(a, "/apis/cilium.io/v2/ciliumnetworkpolicies", None).code,
        200
    );
    // A served group's unknown resource and a built-in kind under the wrong scope are 404 too.
    assert_eq!(get(a, "/api/v1/widgets", None).code, 404);
    assert_eq!(get(a, "/api/v1/namespaces/a/nodes", None).code, 404);
}

#[test]
fn aggregated_discovery_is_served_when_asked_for() {
    let api = FakeApi::new()
        .without_group("projectcalico.org")
        .start()
        .expect("start");
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let mut s = connect(api.addr());
    let r = send(&mut *s, "GET", "/apis", &[("Accept", accept)], "").expect("request");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.contains("as=APIGroupDiscoveryList"))
    );
    let list = r.json();
    assert_eq!(list["kind"], "APIGroupDiscoveryList");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert!(
        !items
            .iter()
            .any(|g| g["metadata"]["name"] == "projectcalico.org")
    );
    let cilium = items
        .iter()
        .find(|g| g["metadata"]["name"] == "cilium.io")
        .cloned()
        .unwrap_or_default();
    let res = &cilium["versions"][0]["resources"];
    assert!(res.as_array().into_iter().flatten().any(|r| r["resource"] == "ciliumclusterwidenetworkpolicies" && r["scope"] == "Cluster"));
    // The same connection serves the plain form next (keep-alive).
    let plain = send(
        &mut *s,
        "GET",
        "/api",
        &[("Accept", "application/json")],
        "",
    )
    .expect("request");
    assert_eq!(plain.json()["kind"], "APIVersions");
}
