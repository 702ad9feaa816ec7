//! Watches: ordered delivery from a resourceVersion, 410 after compaction, bookmarks,
//! timeouts, synthetic ADDED from "0", and streams cut by a fault.

mod common;
use common::*;
use kubeseg_fakeapi::FakeApi;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn a_watch_from_a_resource_version_gets_later_writes_in_order() {
    let api = FakeApi::new()
        .object(pod("a", "old"))
        .start()
        .expect("start");
    let a = api.addr();
    let list = get(a, "/api/v1/pods", None).json();
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // A write between the list and the watch must still arrive (from the history).
    api.apply(pod("a", "between")).expect("write");
    let mut w = Watch::open(a, &format!("/api/v1/pods?watch=1&resourceVersion={from}"));
    assert_eq!(w.code, 200);
    assert!(
        w.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    );
    assert!(wait_for(|| api.watch_count() == 1));
    api.apply(pod("b", "live")).expect("write");
    let mut changed = pod("a", "old");
    changed["metadata"]["labels"]["v"] = json!("2");
    api.apply(changed).expect("write");
    api.delete("Pod", "a", "between").expect("delete");
    // Other kinds and namespaces filtered by the path do not show up.
    api.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "z"}}))
        .expect("write");

    let mut got = Vec::new();
    let mut last = 0;
    for _ in 0..4 {
        let e = w.event();
        let rv = rv_of(&e["object"]);
        assert!(rv > last, "out of order: {rv} after {last}");
        last = rv;
        assert_eq!(e["object"]["kind"], "Pod", "watch objects carry their kind");
        got.push(format!(
            "{} {}",
            e["type"].as_str().unwrap_or(""),
            e["object"]["metadata"]["name"].as_str().unwrap_or("")
        ));
    }
    assert_eq!(
        got,
        vec![
            "ADDED between",
            "ADDED live",
            "MODIFIED old",
            "DELETED between"
        ]
    );

    // A namespaced watch sees only its namespace.
    let mut nsw = Watch::open(
        a,
        &format!("/api/v1/namespaces/b/pods?watch=true&resourceVersion={from}"),
    );
    assert_eq!(nsw.event()["object"]["metadata"]["name"], "live");
}

#[test]
fn a_watch_from_a_compacted_resource_version_gets_one_410_error_event() {
    let api = FakeApi::new().object(pod("a", "x")).start().expect("start");
    let a = api.addr();
    let old = api.resource_version();
    api.apply(pod("a", "y")).expect("write");
    api.compact();
    let mut w = Watch::open(a, &format!("/api/v1/pods?watch=1&resourceVersion={old}"));
    assert_eq!(w.code, 200);
    let e = w.event();
    assert_eq!(e["type"], "ERROR");
    let s = &e["object"];
    assert_eq!(
        (s["kind"].as_str(), s["code"].as_u64(), s["reason"].as_str()),
        (Some("Status"), Some(410), Some("Expired"))
    );
    assert!(
        matches!(w.next(), Next::End),
        "the stream ends after the error"
    );
    // From the current resourceVersion the watch is fine.
    let mut ok = Watch::open(
        a,
        &format!(
            "/api/v1/pods?watch=1&resourceVersion={}&timeoutSeconds=1",
            api.resource_version()
        ),
    );
    assert!(matches!(ok.next(), Next::End));
}

#[test]
fn a_bounded_history_expires_old_resource_versions_by_itself() {
    let api = FakeApi::new().history(3).start().expect("start");
    let a = api.addr();
    let start = api.resource_version();
    for i in 0..5 {
        api.apply(pod("a", &format!("p{i}"))).expect("write");
    }
    let mut w = Watch::open(a, &format!("/api/v1/pods?watch=1&resourceVersion={start}"));
    assert_eq!(w.event()["object"]["code"], 410);
    // Within the history it replays.
    let recent = api.resource_version() - 2;
    let mut w = Watch::open(a, &format!("/api/v1/pods?watch=1&resourceVersion={recent}"));
    assert_eq!(w.event()["object"]["metadata"]["name"], "p3");
}

#[test]
fn bookmarks_arrive_when_allowed_and_only_then() {
    let api = FakeApi::new()
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .expect("start");
    let a = api.addr();
    let rv = api.resource_version();
    let mut w = Watch::open(
        a,
        &format!(
            "/apis/cilium.io/v2/ciliumnetworkpolicies?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
        ),
    );
    let b = w.event();
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(b["object"]["kind"], "CiliumNetworkPolicy");
    assert_eq!(b["object"]["apiVersion"], "cilium.io/v2");
    assert_eq!(rv_of(&b["object"]), rv);
    assert!(b["object"].get("spec").is_none());
    // A later bookmark reports a later resourceVersion, even for writes of other kinds.
    api.apply(pod("a", "x")).expect("write");
    let later = loop {
        let e = w.event();
        if rv_of(&e["object"]) > rv {
            break e;
        }
    };
    assert_eq!(later["type"], "BOOKMARK");
    assert_eq!(rv_of(&later["object"]), api.resource_version());

    let mut quiet = Watch::open(
        a,
        &format!(
            "/api/v1/pods?watch=1&resourceVersion={}&timeoutSeconds=1",
            api.resource_version()
        ),
    );
    assert!(
        matches!(quiet.next(), Next::End),
        "no bookmark without allowWatchBookmarks"
    );
}

#[test]
fn timeout_seconds_ends_the_stream_cleanly() {
    let api = FakeApi::new().start().expect("start");
    let started = Instant::now();
    let mut w = Watch::open(
        api.addr(),
        "/api/v1/pods?watch=1&resourceVersion=1&timeoutSeconds=1",
    );
    assert!(matches!(w.next(), Next::End));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(wait_for(|| api.watch_count() == 0));
}

#[test]
fn a_watch_from_zero_or_empty_starts_with_synthetic_added_events() {
    let api = FakeApi::new()
        .object(pod("a", "p1"))
        .object(pod("b", "p2"))
        .start()
        .expect("start");
    for rv in ["0", ""] {
        let mut w = Watch::open(
            api.addr(),
            &format!("/api/v1/pods?watch=1&resourceVersion={rv}"),
        );
        let names: Vec<_> = (0..2)
            .map(|_| w.event())
            .map(|e| (e["type"].clone(), e["object"]["metadata"]["name"].clone()))
            .collect();
        assert_eq!(
            names,
            vec![(json!("ADDED"), json!("p1")), (json!("ADDED"), json!("p2"))]
        );
    }
    // sendInitialEvents: the same, then a bookmark that marks the end of the initial events.
    let mut w = Watch::open(
        api.addr(),
        "/api/v1/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    );
    w.event();
    w.event();
    let end = w.event();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    let bad = Watch::open(api.addr(), "/api/v1/pods?watch=1&sendInitialEvents=true");
    assert_eq!(bad.code, 422);
}

#[test]
fn a_label_selector_turns_changes_into_additions_and_deletions() {
    let api = FakeApi::new().object(pod("a", "p")).start().expect("start");
    let rv = api.resource_version();
    let mut w = Watch::open(
        api.addr(),
        &format!("/api/v1/pods?watch=1&resourceVersion={rv}&labelSelector=role%3Ddb"),
    );
    let mut p = pod("a", "p");
    p["metadata"]["labels"]["role"] = json!("db");
    api.apply(p).expect("write");
    api.apply(pod("a", "p")).expect("write");
    assert_eq!(w.event()["type"], "ADDED");
    assert_eq!(w.event()["type"], "DELETED");
}

#[test]
fn close_watches_cuts_streams_without_the_last_chunk() {
    let api = FakeApi::new().start().expect("start");
    let mut w = Watch::open(api.addr(), "/api/v1/pods?watch=1&resourceVersion=1");
    assert!(wait_for(|| api.watch_count() == 1));
    api.close_watches();
    assert!(matches!(w.next(), Next::Broken));
    assert_eq!(api.watch_count(), 0);
}

#[test]
fn a_client_that_hangs_up_loses_its_watch_at_once() {
    let api = FakeApi::new().start().expect("start");
    let w = Watch::open(api.addr(), "/api/v1/pods?watch=1&resourceVersion=1");
    assert!(wait_for(|| api.watch_count() == 1));
    drop(w);
    assert!(
        wait_for(|| api.watch_count() == 0),
        "the server still holds the watch"
    );
    // Watches say Connection: close, since their socket is read for hang-ups.
    let w = Watch::open(
        api.addr(),
        "/api/v1/pods?watch=1&resourceVersion=1&timeoutSeconds=0",
    );
    assert!(
        w.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && v == "close")
    );
}
