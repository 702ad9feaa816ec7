//! Lists: sorting, item shape, pagination over a consistent snapshot, 410 on an
//! expired continue token, and resourceVersions that only grow.

mod common;
use common::*;
use kubeseg_fakeapi::FakeApi;
use serde_json::{Value, json};

fn item_names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn five_pods() -> FakeApi {
    let mut api = FakeApi::new();
    for (ns, name) in [
        ("b", "p2"),
        ("a", "p9"),
        ("b", "p1"),
        ("a", "p1"),
        ("c", "p0"),
    ] {
        api = api.object(pod(ns, name));
    }
    api
}

#[test]
fn lists_are_sorted_and_typed_like_the_real_server() {
    let api = five_pods()
        .object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}))
        .object(json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "x", "namespace": "a"}, "spec": {}}))
        .start()
        .expect("start");
    let a = api.addr();
    let all = get(a, "/api/v1/pods", None).json();
    assert_eq!(all["kind"], "PodList");
    assert_eq!(all["apiVersion"], "v1");
    assert_eq!(
        item_names(&all),
        vec!["a/p1", "a/p9", "b/p1", "b/p2", "c/p0"]
    );
    assert_eq!(
        all["metadata"]["resourceVersion"],
        api.resource_version().to_string()
    );
    assert!(all["metadata"].get("continue").is_none());
    // Built-in list items carry no apiVersion or kind; custom resources' do.
    assert!(all["items"][0].get("kind").is_none() && all["items"][0].get("apiVersion").is_none());
    let cnp = get(
        a,
        "/apis/cilium.io/v2/namespaces/a/ciliumnetworkpolicies",
        None,
    )
    .json();
    assert_eq!(cnp["items"][0]["kind"], "CiliumNetworkPolicy");
    assert_eq!(cnp["items"][0]["apiVersion"], "cilium.io/v2");
    // One namespace; and /api/v1/namespaces lists namespaces, not a namespace called that.
    assert_eq!(
        item_names(&get(a, "/api/v1/namespaces/b/pods", None).json()),
        vec!["b/p1", "b/p2"]
    );
    let namespaces = get(a, "/api/v1/namespaces", None).json();
    assert_eq!(namespaces["kind"], "NamespaceList");
    assert_eq!(item_names(&namespaces), vec!["/a"]);
    assert_eq!(
        get(a, "/api/v1/namespaces/a", None).json()["kind"],
        "Namespace"
    );
    // Selectors.
    let web = get(a, "/api/v1/pods?labelSelector=app%3Dp1", None).json();
    assert_eq!(item_names(&web), vec!["a/p1", "b/p1"]);
    let named = get(a, "/api/v1/pods?fieldSelector=metadata.name%3Dp2", None).json();
    assert_eq!(item_names(&named), vec!["b/p2"]);
}

#[test]
fn pages_read_the_first_page_snapshot_despite_writes() {
    let api = five_pods().start().expect("start");
    let a = api.addr();
    let first = get(a, "/api/v1/pods?limit=2", None).json();
    assert_eq!(item_names(&first), vec!["a/p1", "a/p9"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    let snapshot = first["metadata"]["resourceVersion"].clone();
    let token = first["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!token.is_empty());

    // Writes between pages: a new pod that sorts into the next page, a deletion and a change.
    api.apply(pod("b", "p0")).expect("create");
    api.delete("pods", "b", "p2").expect("delete");
    let mut changed = pod("c", "p0");
    changed["metadata"]["labels"]["changed"] = json!("yes");
    api.apply(changed).expect("update");

    let second = get(a, &format!("/api/v1/pods?limit=2&continue={token}"), None).json();
    assert_eq!(item_names(&second), vec!["b/p1", "b/p2"]);
    assert_eq!(second["metadata"]["resourceVersion"], snapshot);
    let token = second["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let third = get(a, &format!("/api/v1/pods?limit=2&continue={token}"), None).json();
    assert_eq!(item_names(&third), vec!["c/p0"]);
    assert!(
        third["items"][0]["metadata"]["labels"]
            .get("changed")
            .is_none(),
        "page 3 shows a later write"
    );
    assert!(third["metadata"].get("continue").is_none_or(|c| c == ""));

    // A fresh list sees the writes.
    let now = get(a, "/api/v1/pods", None).json();
    assert_eq!(
        item_names(&now),
        vec!["a/p1", "a/p9", "b/p0", "b/p1", "c/p0"]
    );
    // An exact list at the old snapshot matches the paged one.
    let exact = get(
        a,
        &format!(
            "/api/v1/pods?resourceVersion={}&resourceVersionMatch=Exact",
            snapshot.as_str().unwrap_or("")
        ),
        None,
    )
    .json();
    assert_eq!(
        item_names(&exact),
        vec!["a/p1", "a/p9", "b/p1", "b/p2", "c/p0"]
    );
}

#[test]
fn a_continue_token_older_than_compaction_is_gone() {
    let api = five_pods().start().expect("start");
    let a = api.addr();
    let first = get(a, "/api/v1/pods?limit=2", None).json();
    let token = first["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    api.apply(pod("z", "late")).expect("write");
    api.compact();
    let r = get(a, &format!("/api/v1/pods?limit=2&continue={token}"), None);
    assert_eq!(r.code, 410);
    let s = r.json();
    assert_eq!(
        (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_u64()),
        (Some("Status"), Some("Expired"), Some(410))
    );
    let message = s["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("continue parameter is too old"),
        "{message}"
    );
    // A token from after the compaction still works, and a forged one is a 400.
    let fresh = get(a, "/api/v1/pods?limit=2", None).json();
    let token = fresh["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        get(a, &format!("/api/v1/pods?limit=2&continue={token}"), None).code,
        200
    );
    assert_eq!(get(a, "/api/v1/pods?limit=2&continue=zz", None).code, 400);
}

#[test]
fn resource_versions_strictly_increase_across_all_writes() {
    let api = FakeApi::new().start().expect("start");
    let a = api.addr();
    let mut last = api.resource_version();
    let mut seen = Vec::new();
    let body = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).to_string()
    };
    for i in 0..5 {
        let created = request(
            a,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            None,
            &body(&format!("c{i}")),
        );
        assert_eq!(created.code, 201);
        seen.push(rv_of(&created.json()));
        let ns = api.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("n{i}")}})).expect("apply");
        seen.push(rv_of(&ns));
        let deleted = request(
            a,
            "DELETE",
            &format!("/api/v1/namespaces/default/configmaps/c{i}"),
            None,
            "",
        );
        assert_eq!(deleted.code, 200);
        seen.push(rv_of(&deleted.json()));
    }
    for rv in seen {
        assert!(rv > last, "{rv} after {last}");
        last = rv;
    }
    assert_eq!(api.resource_version(), last);
    let created = api.get("Namespace", "", "n0").expect("stored");
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[test]
fn writes_over_http_follow_the_api_contracts() {
    let api = FakeApi::new().start().expect("start");
    let a = api.addr();
    let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
    let path = "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies";
    let created = request(a, "POST", path, None, &np.to_string());
    assert_eq!(created.code, 201);
    let created = created.json();
    assert_eq!(created["metadata"]["namespace"], "prod");
    let again = request(a, "POST", path, None, &np.to_string());
    assert_eq!(
        (again.code, again.json()["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    // A replace with a stale resourceVersion conflicts; with the current one it succeeds.
    let mut stale = created.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let r = request(a, "PUT", &format!("{path}/deny"), None, &stale.to_string());
    assert_eq!(
        (r.code, r.json()["reason"].as_str()),
        (409, Some("Conflict"))
    );
    let mut next = created.clone();
    next["spec"]["policyTypes"] = json!(["Ingress"]);
    let r = request(a, "PUT", &format!("{path}/deny"), None, &next.to_string());
    assert_eq!(r.code, 200);
    assert_eq!(r.json()["metadata"]["uid"], created["metadata"]["uid"]);
    // The wrong namespace in the body, or the wrong kind, is a 400.
    let mut other = np.clone();
    other["metadata"]["namespace"] = json!("dev");
    assert_eq!(request(a, "POST", path, None, &other.to_string()).code, 400);
    assert_eq!(
        request(a, "POST", path, None, &pod("prod", "x").to_string()).code,
        400
    );
    // Delete answers 200 with the object; a second delete is 404 NotFound.
    let d = request(a, "DELETE", &format!("{path}/deny"), None, "");
    assert_eq!(
        (d.code, d.json()["kind"].as_str()),
        (200, Some("NetworkPolicy"))
    );
    let d = request(a, "DELETE", &format!("{path}/deny"), None, "");
    assert_eq!(
        (d.code, d.json()["reason"].as_str()),
        (404, Some("NotFound"))
    );
    assert_eq!(
        d.json()["message"],
        "networkpolicies.networking.k8s.io \"deny\" not found"
    );
}

#[test]
fn fixtures_of_unknown_kinds_are_refused() {
    let err = FakeApi::new()
        .fixture_str("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
        .and_then(FakeApi::start)
        .err();
    assert!(err.is_some_and(|e| e.contains("Widget")));
    let ok = FakeApi::new().fixture_str("apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: w, namespace: a}\n").and_then(FakeApi::start);
    let api = ok.expect("v1beta1 is read as v1");
    assert_eq!(
        api.get("AuthorizationPolicy", "a", "w")
            .map(|o| o["apiVersion"].clone()),
        Some(json!("security.istio.io/v1"))
    );
    // Handle::delete takes a group/version/plural path too.
    assert!(
        api.delete("security.istio.io/v1/authorizationpolicies", "a", "w")
            .is_ok()
    );
    assert!(api.get("AuthorizationPolicy", "a", "w").is_none());
}
