//! Calico's policies end to end through the binary, on `tests/calico/shop.yaml`. Every
//! expectation is derived by hand from the manifest (line numbers counted in it) and
//! Calico's documented evaluation (tiers by order, policies by order, first Allow/Deny
//! decides, Pass goes to the next tier, a tier that applies ends with its default, the
//! namespace profile allows after the last tier):
//! - tier `security` (order 100, defaultAction Pass): `security.quarantine` (line 33)
//!   denies ingress from `quarantine == 'true'` pods (shop/evil) to every pod, and its
//!   end passes the rest on;
//! - tier `default`: `allow-mon` (order 500, before the Kubernetes NetworkPolicies)
//!   allows TCP 5432 to db from namespace ops; NetworkPolicy `db` (order 1000) allows
//!   web and api on 5432; `deny-web-db` (no order, after them) denies web, too late for
//!   5432; `api-partners` (order 100) allows TCP `http` (8080) to api from the
//!   GlobalNetworkSet `partners` (203.0.113.0/24); what the tier leaves for db and api
//!   is denied;
//! - web, evil and ops/mon are selected by no `default` policy: the profile allows.

use serde_json::Value;

mod common;
use common::run;

const SHOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/calico/shop.yaml");
const PARTNERS: &str = "203.0.113.0-203.0.113.255[External]";

#[test]
fn reach_walks_calicos_tiers_around_the_kubernetes_policies() {
    let (out, err, code) = run(&["reach", SHOP]);
    assert_eq!(code, Some(0), "{err}");
    for line in [
        format!("{PARTNERS} => shop/api[Pod] : TCP 8080"),
        "ops/mon[Pod] => shop/db[Pod] : TCP 5432".into(),
        "shop/web[Pod] => shop/db[Pod] : TCP 5432".into(),
        "shop/api[Pod] => shop/db[Pod] : TCP 5432".into(),
        "shop/db[Pod] => shop/web[Pod] : All Connections".into(),
        "ops/mon[Pod] => shop/evil[Pod] : All Connections".into(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in\n{out}");
    }
    for absent in [
        // The quarantine tier's Deny.
        "shop/evil[Pod] => shop/web[Pod]",
        "shop/evil[Pod] => shop/db[Pod]",
        "shop/evil[Pod] => ops/mon[Pod]",
        // The default tier's end for api: only partners on 8080.
        "shop/web[Pod] => shop/api[Pod]",
        "ops/mon[Pod] => shop/api[Pod]",
    ] {
        assert!(!out.contains(absent), "unexpected {absent} in\n{out}");
    }
}

#[test]
fn explain_names_the_deciding_calico_rule_or_tier() {
    let (out, err, code) = run(&[
        "explain",
        SHOP,
        "--from",
        "shop/evil",
        "--to",
        "shop/web",
        "--port",
        "80",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("on TCP 80: DENIED"), "{out}");
    assert!(
        out.contains("TCP 80 decided by [Calico tier security] GlobalNetworkPolicy/security.quarantine, order 10 ingress[0] Deny"),
        "{out}"
    );
    assert!(out.contains("shop.yaml:43:5"), "{out}");
    let (out, _, _) = run(&[
        "explain", SHOP, "--from", "shop/web", "--to", "shop/api", "--port", "8080",
    ]);
    assert!(out.contains("on TCP 8080: DENIED"), "{out}");
    // The quarantine tier passes web on; `default` applies to api and ends with Deny.
    assert!(
        out.contains("[Calico tier security] end of tier (defaultAction): Pass"),
        "{out}"
    );
    assert!(
        out.contains("decided by [Calico tier security] end of tier (defaultAction) Pass → [Calico] tier default applies: Deny"),
        "{out}"
    );
    let (out, _, _) = run(&[
        "explain",
        SHOP,
        "--from",
        "203.0.113.7",
        "--to",
        "shop/api",
        "--port",
        "8080",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], true);
    let steps = v["ingress"]["tiers"].as_array().unwrap();
    let allow = steps
        .iter()
        .find(|s| s["policy"] == "NetworkPolicy/shop/api-partners")
        .expect("the partners rule");
    assert_eq!(allow["tier"], "Calico");
    assert_eq!(allow["action"], "Accept");
    assert_eq!(allow["rule"], "ingress[0]");
    assert!(
        allow["location"]
            .as_str()
            .unwrap()
            .ends_with("shop.yaml:88:5")
    );
}

#[test]
fn test_and_audit_follow_calico() {
    let spec = "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: partners reach the api\n  allow: {from: 203.0.113.7, to: shop/api, port: TCP/8080}\n- name: quarantined pods reach nothing\n  deny: {from: shop/evil, to: shop/web}\n- name: web does not reach the api\n  deny: {from: shop/web, to: shop/api}\n";
    let dir = common::scratch("calico-test", &[("spec.yaml", spec)]);
    let spec = dir.join("spec.yaml").display().to_string();
    let (out, err, code) = run(&["test", "--spec", &spec, SHOP]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("3 passed"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
    let (out, err, code) = run(&["audit", SHOP, "--format", "json"]);
    assert!(code == Some(0) || code == Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let codes = |code: &str| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == code)
            .map(|f| f["endpoints"][0].as_str().unwrap().to_string())
            .collect()
    };
    // The quarantine tier's Deny rule applies to every pod, which the audit counts as
    // restricting ingress, as it does an Admin-tier Deny: no pod is unisolated.
    assert!(codes("KS101").is_empty(), "{out}");
    // But no tier ends in Deny for a whole namespace: no namespace has a default deny.
    assert_eq!(codes("KS103"), ["ops", "shop"], "{out}");
    // A Calico policy of `default` selecting all() in ops, with no rule, is a default
    // deny there (types default to Ingress).
    let text = std::fs::read_to_string(SHOP).unwrap()
        + "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: lock, namespace: ops}\nspec: {selector: all()}\n";
    let dir = common::scratch("calico-audit", &[("m.yaml", &text)]);
    let file = dir.join("m.yaml").display().to_string();
    let (out, _, _) = run(&["audit", &file, "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let ks103: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "KS103")
        .map(|f| f["endpoints"][0].as_str().unwrap())
        .collect();
    assert_eq!(ks103, ["shop"], "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn diff_names_the_calico_policy_that_changes_connections() {
    let text = std::fs::read_to_string(SHOP).unwrap();
    let old = text.replace("  order: 500\n", "  order: 2000\n");
    assert_ne!(old, text);
    let dir = common::scratch("calico-diff", &[("old.yaml", &old)]);
    let old = dir.join("old.yaml").display().to_string();
    let (out, err, code) = run(&["diff", &old, SHOP]);
    assert_eq!(code, Some(0), "{err}");
    // At order 2000 `allow-mon` ran after the Kubernetes policy and before nothing that
    // denies ops: mon reached db on 5432 either way, so nothing changes for it; but the
    // edit is listed.
    assert!(out.contains("NetworkPolicy shop/allow-mon"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn other_dataplanes_leave_calico_out_and_refusals_are_errors() {
    let (out, _, code) = run(&["reach", SHOP, "--cni", "generic"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("shop/web[Pod] => shop/api[Pod] : All Connections"),
        "{out}"
    );
    assert!(
        out.contains("NetworkPolicy/shop/api-partners is not enforced under --cni generic"),
        "{out}"
    );
    // A Calico policy at order 1000 between two Kubernetes policies' names is refused.
    let text = std::fs::read_to_string(SHOP).unwrap().replace(
        "metadata: {name: deny-web-db, namespace: shop}\nspec:\n",
        "metadata: {name: db-0, namespace: shop}\nspec:\n  order: 1000\n",
    ) + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-1, namespace: shop}\nspec: {podSelector: {}}\n";
    let dir = common::scratch("calico-refused", &[("m.yaml", &text)]);
    let file = dir.join("m.yaml").display().to_string();
    let (_, err, code) = run(&["reach", &file]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("error[unsupported-policy]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn audit_evidence_names_the_calico_rule_that_blocks_dns() {
    // `lock` (line 11) puts shop's pods in `default` with a Deny of UDP 53 (its rule at
    // line 17); the tier's end denies the rest, TCP 53 among it.
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec: {containers: [{name: c, image: coredns, ports: [{containerPort: 53, protocol: UDP}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: lock, namespace: shop}\nspec:\n  selector: all()\n  egress:\n  - action: Deny\n    destination: {ports: [53]}\n    protocol: UDP\n";
    let dir = common::scratch("calico-dns", &[("dns.yaml", yaml)]);
    let file = dir.join("dns.yaml").display().to_string();
    let (out, err, code) = run(&["audit", &file, "--format", "json"]);
    assert!(code == Some(0) || code == Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "KS501")
        .expect("DNS is blocked");
    let evidence = &f["evidence"][0];
    assert_eq!(
        evidence["message"],
        "egress[0] of NetworkPolicy/shop/lock denies UDP 53 toward the kube-dns pods in the Calico tier"
    );
    assert_eq!(evidence["location"]["line"], 17);
    assert!(
        f["remediation"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Calico denies DNS"),
        "{f}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `tests/calico/accounts.yaml`, derived by hand: `ledger` (line 29) admits TCP 5432 from
/// pods whose service account is labelled `tier: trusted` (billing only; ghost's account
/// is not declared, so it reads as unlabelled, with a warning); `worker-out` (line 41)
/// selects the pods running as `worker` and lets them reach only pods running as
/// `billing`. Pods no policy selects are open (the namespace profile allows).
#[test]
fn service_accounts_select_by_name_and_labels() {
    let accounts = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/calico/accounts.yaml");
    let (out, err, code) = run(&["reach", accounts]);
    assert_eq!(code, Some(0), "{err}");
    for line in [
        "pay/billing[Pod] => pay/ledger[Pod] : TCP 5432",
        "pay/worker[Pod] => pay/billing[Pod] : All Connections",
        "pay/ghost[Pod] => pay/billing[Pod] : All Connections",
        "pay/ledger[Pod] => pay/worker[Pod] : All Connections",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in\n{out}");
    }
    for absent in [
        "pay/worker[Pod] => pay/ledger[Pod]",
        "pay/ghost[Pod] => pay/ledger[Pod]",
        "pay/worker[Pod] => pay/ghost[Pod]",
    ] {
        assert!(!out.contains(absent), "unexpected {absent} in\n{out}");
    }
    assert!(
        err.contains("calico-service-account-missing")
            && err.contains("ServiceAccount pay/ghost")
            && err.contains("accounts.yaml:24:1"),
        "{err}"
    );
    let (out, err, code) = run(&[
        "explain",
        accounts,
        "--from",
        "pay/billing",
        "--to",
        "pay/ledger",
        "--port",
        "5432",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("on TCP 5432: ALLOWED"), "{out}");
    assert!(out.contains("NetworkPolicy/pay/ledger"), "{out}");
}

/// `tests/calico/services.yaml`, derived by hand: `db-in` (line 32) admits into db only
/// the pods behind Service `web`; `web-out` (line 42) lets web reach only the endpoints
/// of Service `db`, on its target port `pg`, resolved on db's pod to TCP 5432 (not
/// 9187, and not `other`, which has a `pg` port but is not behind the Service); its
/// second rule names Service `cache`, which the input lacks: no endpoints, warned.
#[test]
fn services_match_the_endpoints_of_a_service() {
    let services = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/calico/services.yaml");
    let (out, err, code) = run(&["reach", services]);
    assert_eq!(code, Some(0), "{err}");
    for line in [
        "shop/web[Pod] => shop/db[Pod] : TCP 5432",
        "shop/other[Pod] => shop/web[Pod] : All Connections",
        "shop/db[Pod] => shop/web[Pod] : All Connections",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line} in\n{out}");
    }
    for absent in [
        "shop/web[Pod] => shop/other[Pod]",
        "shop/other[Pod] => shop/db[Pod]",
    ] {
        assert!(!out.contains(absent), "unexpected {absent} in\n{out}");
    }
    assert!(
        err.contains("warning[calico-service-missing]")
            && err.contains("Service shop/cache")
            && err.contains("services.yaml:52:"),
        "{err}"
    );
}
