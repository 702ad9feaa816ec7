//! Authentication (token, client certificates over TLS) and RBAC refusals.

mod common;
use common::*;
use kubeseg_fakeapi::{FakeApi, KubeconfigStyle};

#[test]
fn a_missing_or_wrong_token_is_401() {
    let api = FakeApi::new()
        .token("s3cret")
        .object(pod("a", "p"))
        .start()
        .expect("start");
    let a = api.addr();
    for token in [None, Some("wrong")] {
        let r = get(a, "/api/v1/pods", token);
        assert_eq!(r.code, 401, "{token:?}");
        let s = r.json();
        assert_eq!(
            (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_u64()),
            (Some("Status"), Some("Unauthorized"), Some(401))
        );
    }
    assert_eq!(get(a, "/api/v1/pods", Some("s3cret")).code, 200);
    // /version is public, as with the real server's public-info-viewer role.
    assert_eq!(get(a, "/version", None).code, 200);
    assert_eq!(get(a, "/version", Some("wrong")).code, 401);
}

#[test]
fn a_forbidden_resource_is_403_with_the_real_message() {
    let api = FakeApi::new()
        .token("t")
        .user("alice")
        .forbid("pods")
        .forbid("networkpolicies.projectcalico.org")
        .start()
        .expect("start");
    let a = api.addr();
    let r = get(a, "/api/v1/pods", Some("t"));
    assert_eq!(r.code, 403);
    let s = r.json();
    assert_eq!(
        (
            s["kind"].as_str(),
            s["status"].as_str(),
            s["reason"].as_str()
        ),
        (Some("Status"), Some("Failure"), Some("Forbidden"))
    );
    assert_eq!(
        s["message"],
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    assert_eq!(s["details"]["kind"], "pods");
    let w = get(a, "/api/v1/namespaces/prod/pods?watch=1", Some("t")).json();
    assert_eq!(
        w["message"],
        "pods is forbidden: User \"alice\" cannot watch resource \"pods\" in API group \"\" in the namespace \"prod\""
    );
    let one = get(a, "/api/v1/namespaces/prod/pods/web", Some("t")).json();
    assert_eq!(
        one["message"],
        "pods \"web\" is forbidden: User \"alice\" cannot get resource \"pods\" in API group \"\" in the namespace \"prod\""
    );
    let calico = get(a, "/apis/projectcalico.org/v3/networkpolicies", Some("t")).json();
    assert_eq!(
        calico["message"],
        "networkpolicies.projectcalico.org is forbidden: User \"alice\" cannot list resource \"networkpolicies\" in API group \"projectcalico.org\" at the cluster scope"
    );
    // The Kubernetes NetworkPolicy of the same plural is not forbidden.
    assert_eq!(
        get(a, "/apis/networking.k8s.io/v1/networkpolicies", Some("t")).code,
        200
    );
    api.set_forbidden("pods", false);
    assert_eq!(get(a, "/api/v1/pods", Some("t")).code, 200);
}

#[test]
fn tls_serves_with_the_ca_and_authenticates_client_certificates() {
    let api = FakeApi::new().token("t").tls().start().expect("start");
    assert!(api.url().starts_with("https://127.0.0.1:"));
    let ca = api.ca_pem().expect("ca");
    let a = api.addr();
    // The token over TLS.
    let mut s = connect_tls(a, &ca, None).expect("handshake");
    assert_eq!(
        send(
            &mut *s,
            "GET",
            "/api/v1/pods",
            &[("Authorization", "Bearer t")],
            ""
        )
        .expect("get")
        .code,
        200
    );
    assert_eq!(
        send(&mut *s, "GET", "/api/v1/pods", &[], "")
            .expect("get")
            .code,
        401
    );
    // A minted client certificate instead of the token; its CN is the user.
    let cert = api.client_cert("bob", &["dev"]).expect("mint");
    api.set_forbidden("services", true);
    let mut s = connect_tls(a, &ca, Some((&cert.cert_pem, &cert.key_pem))).expect("handshake");
    assert_eq!(
        send(&mut *s, "GET", "/api/v1/pods", &[], "")
            .expect("get")
            .code,
        200
    );
    let r = send(&mut *s, "GET", "/api/v1/services", &[], "")
        .expect("get")
        .json();
    assert!(
        r["message"]
            .as_str()
            .is_some_and(|m| m.contains("User \"bob\"")),
        "{r}"
    );
    // A client that does not trust the CA fails the handshake.
    let other = FakeApi::new().tls().start().expect("start");
    assert!(connect_tls(a, &other.ca_pem().unwrap_or_default(), None).is_err());
}

#[test]
fn required_client_certificates_refuse_handshakes_without_one() {
    let api = FakeApi::new().require_client_cert().start().expect("start");
    let ca = api.ca_pem().expect("ca");
    let refused =
        connect_tls(api.addr(), &ca, None).and_then(|mut s| send(&mut *s, "GET", "/api", &[], ""));
    assert!(refused.is_err());
    let cert = api.client_cert("carol", &[]).expect("mint");
    let mut s =
        connect_tls(api.addr(), &ca, Some((&cert.cert_pem, &cert.key_pem))).expect("handshake");
    assert_eq!(
        send(&mut *s, "GET", "/api", &[], "").expect("get").code,
        200
    );
}

#[test]
fn kubeconfigs_name_the_server_and_the_chosen_credentials() {
    let api = FakeApi::new().token("tok").tls().start().expect("start");
    let token = api.kubeconfig(KubeconfigStyle::Token).expect("kubeconfig");
    assert!(token.contains(&format!("server: {}", api.url())));
    assert!(token.contains("certificate-authority-data: ") && token.contains("token: tok"));
    assert!(token.contains("current-context: fakeapi"));
    let certs = api
        .kubeconfig(KubeconfigStyle::ClientCert)
        .expect("kubeconfig");
    assert!(
        certs.contains("client-certificate-data: ")
            && certs.contains("client-key-data: ")
            && !certs.contains("token:")
    );
    let insecure = api
        .kubeconfig(KubeconfigStyle::Insecure)
        .expect("kubeconfig");
    assert!(
        insecure.contains("insecure-skip-tls-verify: true")
            && !insecure.contains("certificate-authority-data")
    );
    // It parses as YAML with kubeseg's own reader.
    let docs = kubeseg_fakeapi::fixture::parse(&certs).expect("yaml");
    assert_eq!(docs[0]["users"][0]["name"], "fakeapi-user");
}
