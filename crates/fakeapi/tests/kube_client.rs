//! The real client against the double: kube-rs lists through pages, runs discovery
//! (plain and aggregated), and keeps a watcher in step through writes, cut streams and
//! a compaction, over TLS with the CA from a generated kubeconfig.

mod common;
use common::pod;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Config, Discovery, ResourceExt};
use kubeseg_fakeapi::{FakeApi, Handle, KubeconfigStyle};
use std::collections::BTreeSet;
use std::time::Duration;

async fn client(api: &Handle, style: KubeconfigStyle) -> Client {
    let text = api.kubeconfig(style).expect("kubeconfig");
    let kubeconfig = Kubeconfig::from_yaml(&text).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn seven_pods(api: FakeApi) -> FakeApi {
    (0..7).fold(api, |api, i| {
        api.object(pod(if i % 2 == 0 { "a" } else { "b" }, &format!("p{i}")))
    })
}

/// The next watcher event, skipping errors (the watcher recovers from them on the
/// next poll), within 10 s.
async fn next<S: futures::Stream<Item = watcher::Result<Event<Pod>>> + Unpin>(
    s: &mut S,
) -> Event<Pod> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.next()).await {
            Ok(Some(Ok(e))) => return e,
            Ok(Some(Err(_))) => continue,
            Ok(None) => panic!("watcher ended"),
            Err(_) => panic!("no watcher event within 10 s"),
        }
    }
}

/// Reads events until an initial listing completes; returns the names it listed.
async fn until_init_done<S: futures::Stream<Item = watcher::Result<Event<Pod>>> + Unpin>(
    s: &mut S,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    loop {
        match next(s).await {
            Event::Init => names.clear(),
            Event::InitApply(p) => {
                names.insert(p.name_any());
            }
            Event::InitDone => return names,
            other => panic!("unexpected {other:?} during the initial list"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_lists_pages_discovers_and_watches_over_tls() {
    let api = seven_pods(
        FakeApi::new()
            .token("t0k")
            .tls()
            .bookmark_interval(Duration::from_millis(200)),
    )
    .start()
    .expect("start");
    let client = client(&api, KubeconfigStyle::Token).await;
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");

    // Pagination by hand: three pages of three.
    let pods: Api<Pod> = Api::all(client.clone());
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(3);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = pods.list(&lp).await.expect("list");
        pages += 1;
        names.extend(page.items.iter().map(ResourceExt::name_any));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, vec!["p0", "p2", "p4", "p6", "p1", "p3", "p5"]);

    // Discovery, plain and aggregated.
    let plain = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(plain.has_group("cilium.io") && plain.has_group("policy.networking.k8s.io"));
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    assert!(aggregated.has_group("projectcalico.org"));
    let (ar, caps) = aggregated
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "cilium.io",
            "v2",
            "CiliumClusterwideNetworkPolicy",
        ))
        .expect("resolved");
    assert_eq!(ar.plural, "ciliumclusterwidenetworkpolicies");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);

    // A watcher with pages of two: the initial list, then live writes.
    let cfg = watcher::Config::default().page_size(2);
    let mut events = watcher::watcher(pods.clone(), cfg).boxed();
    assert_eq!(until_init_done(&mut events).await.len(), 7);
    let created = Api::<Pod>::namespaced(client.clone(), "a")
        .create(
            &PostParams::default(),
            &serde_json::from_value(pod("a", "new")).expect("pod"),
        )
        .await
        .expect("create");
    assert!(created.resource_version().is_some());
    match next(&mut events).await {
        Event::Apply(p) => assert_eq!(p.name_any(), "new"),
        other => panic!("{other:?}"),
    }
    Api::<Pod>::namespaced(client.clone(), "b")
        .delete("p1", &DeleteParams::default())
        .await
        .expect("delete");
    match next(&mut events).await {
        Event::Delete(p) => assert_eq!(p.name_any(), "p1"),
        other => panic!("{other:?}"),
    }

    // A cut stream: the watcher re-watches from its last resourceVersion and misses nothing.
    api.close_watches();
    api.apply(pod("b", "after-cut")).expect("write");
    match next(&mut events).await {
        Event::Apply(p) => assert_eq!(p.name_any(), "after-cut"),
        other => panic!("{other:?}"),
    }

    // A compaction while the stream is down: the re-watch gets 410 and the watcher relists.
    api.close_watches();
    api.apply(pod("b", "during-gap")).expect("write");
    api.compact();
    let relisted = until_init_done(&mut events).await;
    assert!(
        relisted.contains("during-gap") && !relisted.contains("p1"),
        "{relisted:?}"
    );
    assert!(
        api.requests()
            .iter()
            .any(|r| r.contains("allowWatchBookmarks=true"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_authenticates_with_a_client_certificate_and_sees_403_and_404() {
    let api = FakeApi::new()
        .require_client_cert()
        .forbid("networkpolicies")
        .without_group("cilium.io")
        .start()
        .expect("start");
    let client = client(&api, KubeconfigStyle::ClientCert).await;
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "prod"}})).expect("ns"),
    )
    .await
    .expect("create");
    assert_eq!(
        ns.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    let err = Api::<NetworkPolicy>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert!(
                s.message
                    .contains("User \"kubeseg-test\" cannot list resource \"networkpolicies\""),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let plain = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(!plain.has_group("cilium.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_accepts_insecure_skip_tls_verify() {
    let api = FakeApi::new()
        .token("x")
        .tls()
        .object(pod("a", "p"))
        .start()
        .expect("start");
    let client = client(&api, KubeconfigStyle::Insecure).await;
    let pods: Api<Pod> = Api::namespaced(client, "a");
    assert_eq!(pods.get("p").await.expect("get").name_any(), "p");
}
