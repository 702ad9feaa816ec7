//! Operator-managed workloads on a corpus of public-shaped manifests (issue 14,
//! item 1): kube-prometheus, CloudNativePG, Strimzi and ECK, written fresh in
//! `tests/corpus/` after each project's examples. The policies there select the pods
//! the operators create; before kubeseg modelled those pods, the audit said they
//! select nothing. The connections below were derived by hand from each file's
//! policies and the operators' labels and ports (see `operators.yaml`).

mod common;

use common::kubeseg;
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

fn stdout(args: &[&str]) -> String {
    let out = kubeseg(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn file(name: &str) -> String {
    format!("{CORPUS}/{name}")
}

/// Namespaces the corpus refers to but does not hold (the operators' own, kube-dns's).
const ABSENT: &[&str] = &["cnpg-system", "elastic-system", "kube-system"];

#[test]
fn no_policy_selects_nothing_and_no_peer_misses_an_operator_pod() {
    for name in [
        "kube-prometheus.yaml",
        "cnpg.yaml",
        "strimzi.yaml",
        "eck.yaml",
    ] {
        let audit: Value =
            serde_json::from_str(&stdout(&["audit", &file(name), "--format", "json", "-q"]))
                .unwrap();
        for f in audit["findings"].as_array().unwrap() {
            let title = f["title"].as_str().unwrap();
            assert_ne!(f["code"], "KS601", "{name}: {title}");
            if f["code"] == "KS602" {
                assert!(
                    ABSENT.iter().any(|ns| title.contains(ns)),
                    "{name}: {title}"
                );
            }
        }
        let lint: Value =
            serde_json::from_str(&stdout(&["lint", &file(name), "--format", "json"])).unwrap();
        for f in lint["findings"].as_array().unwrap() {
            let title = f["title"].as_str().unwrap();
            // Selectors may miss only what the corpus does not hold; named ports resolve.
            if f["code"] == "KL107" {
                let at = f["location"]["line"].as_u64().unwrap() as usize;
                let text = std::fs::read_to_string(file(name)).unwrap();
                let line = text.lines().nth(at - 1).unwrap_or("");
                let near: String = text.lines().skip(at - 1).take(4).collect();
                assert!(
                    ABSENT
                        .iter()
                        .any(|ns| near.contains(ns) || line.contains(ns)),
                    "{name}: {title}"
                );
            }
            assert_ne!(f["code"], "KL105", "{name}: {title}");
            assert_ne!(f["code"], "KL115", "{name}: {title}");
        }
    }
}

#[test]
fn the_operators_pods_are_reached_as_their_policies_say() {
    let reach = |name: &str| stdout(&["reach", &file(name), "-q"]);
    let prom = reach("kube-prometheus.yaml");
    for line in [
        // grafana's egress allows prometheus k8s on 9090; prometheus admits grafana there.
        "monitoring/grafana[Deployment] => monitoring/prometheus-k8s[StatefulSet] : TCP 9090",
        // Alertmanager admits prometheus on 9093 (web) and 8080 (reloader).
        "monitoring/prometheus-k8s[StatefulSet] => monitoring/alertmanager-main[StatefulSet] : TCP 8080,9093",
    ] {
        assert!(prom.lines().any(|l| l == line), "{line}\n{prom}");
    }
    // Nothing else reaches prometheus: the policy names only prometheus and grafana.
    assert!(
        !prom
            .lines()
            .any(|l| l.contains("=> monitoring/prometheus-k8s[StatefulSet]")
                && !l.starts_with("monitoring/grafana[Deployment]")),
        "{prom}"
    );
    let pg = reach("cnpg.yaml");
    assert!(
        pg.lines()
            .any(|l| l == "db/app[Deployment] => db/pg[Cluster] : TCP 5432"),
        "{pg}"
    );
    let kafka = reach("strimzi.yaml");
    // `strimzi.io/kind: Kafka` is on the brokers, ZooKeeper and the entity operator
    // alike (Strimzi's Labels.generateDefaultLabels), so the policy admits the
    // producer to all three: a finding for the user, modelled as the operator does it.
    for w in [
        "events-kafka[StrimziPodSet]",
        "events-zookeeper[StrimziPodSet]",
        "events-entity-operator[Deployment]",
    ] {
        let line = format!("kafka/producer[Deployment] => kafka/{w} : TCP 9092-9093");
        assert!(kafka.lines().any(|l| l == line), "{line}\n{kafka}");
    }
    let es = reach("eck.yaml");
    for w in ["logs-es-data", "logs-es-master"] {
        let line =
            format!("elastic/log-shipper[Deployment] => elastic/{w}[StatefulSet] : TCP 9200");
        assert!(es.lines().any(|l| l == line), "{line}\n{es}");
    }
}

#[test]
fn users_add_operators_with_a_flag_and_a_bad_file_stops_the_run() {
    let dir = std::env::temp_dir().join(format!("kubeseg-operators-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ops = dir.join("ops.yaml");
    std::fs::write(&ops, "apiVersion: kubeseg.io/v1\nkind: OperatorCatalog\noperators:\n- apiGroup: example.com\n  kind: Widget\n  source: our operator\n  workloads:\n  - kind: Deployment\n    name: \"widget-{name}\"\n    labels: [{set: {app: widget}}]\n    ports: [{port: 8080}]\n").unwrap();
    let input = dir.join("in.yaml");
    std::fs::write(&input, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: blue, namespace: shop}\nspec: {replicas: 2}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: shop}\nspec: {containers: [{name: c, image: i}]}\n").unwrap();
    let input = input.display().to_string();
    // Without the description, the Widget is a visible gap.
    let out = kubeseg(&["reach", &input]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning[unexpanded-workload]") && err.contains("Widget"),
        "{err}"
    );
    let with = stdout(&["reach", &input, "--operators", ops.to_str().unwrap(), "-q"]);
    assert!(
        with.contains("shop/client[Pod] => shop/widget-blue[Deployment] : All Connections"),
        "{with}"
    );
    std::fs::write(&ops, "apiVersion: kubeseg.io/v1\nkind: OperatorCatalog\noperators: [{apiGroup: x.io, kind: Gadget, workloads: []}]\n").unwrap();
    let out = kubeseg(&["reach", &input, "--operators", ops.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ops.yaml:3:") && err.contains("`source` is required"),
        "{err}"
    );
}
