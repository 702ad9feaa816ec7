//! Operator-managed workloads (issue 14, item 1). Every expectation below was derived
//! by hand from the operator's source as cited in `operators.yaml` (names, labels,
//! service accounts, ports), not from kubeseg's output.

use kubeseg_model::{Labels, Protocol, Workload};
use kubeseg_sources::operators::{Catalog, parse_catalog};
use kubeseg_sources::{LoadOptions, load_str};

fn workload<'c>(w: &'c [Workload], id: &str) -> &'c Workload {
    w.iter().find(|w| w.id() == id).unwrap_or_else(|| {
        panic!(
            "{id} not in {:?}",
            w.iter().map(Workload::id).collect::<Vec<_>>()
        )
    })
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The first pod's ports by number.
fn ports(w: &Workload) -> Vec<(Option<&str>, u16, Protocol)> {
    let mut out: Vec<_> = w.pods[0]
        .ports
        .iter()
        .map(|p| (p.name.as_deref(), p.port, p.protocol))
        .collect();
    out.sort_by_key(|p| (p.1, p.2, p.0));
    out
}

#[test]
fn the_built_in_catalog_is_valid() {
    let text = include_str!("../operators.yaml");
    let catalog = parse_catalog("operators.yaml", text).unwrap_or_else(|d| panic!("{d:#?}"));
    let kinds: Vec<String> = catalog
        .operators
        .iter()
        .map(|o| format!("{}/{}", o.api_group, o.kind))
        .collect();
    for k in [
        "monitoring.coreos.com/Prometheus",
        "monitoring.coreos.com/Alertmanager",
        "monitoring.coreos.com/ThanosRuler",
        "postgresql.cnpg.io/Cluster",
        "kafka.strimzi.io/Kafka",
        "elasticsearch.k8s.elastic.co/Elasticsearch",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    assert!(catalog.operators.iter().all(|o| !o.source.is_empty()));
}

#[test]
fn prometheus_pods_carry_the_operators_labels_over_pod_metadata() {
    let loaded = load_str(
        "p.yaml",
        r#"
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
spec:
  version: 2.54.1
  serviceAccountName: prometheus-k8s
  podMetadata:
    labels: {app.kubernetes.io/component: prometheus, prometheus: overridden, app.kubernetes.io/version: 9.9.9}
  thanos: {version: v0.36.0}
---
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: main, namespace: monitoring}
spec: {replicas: 3, portName: http-web}
---
apiVersion: monitoring.coreos.com/v1
kind: ThanosRuler
metadata: {name: default, namespace: monitoring}
spec:
  version: v0.36.0
  listenLocal: true
  podMetadata: {labels: {app.kubernetes.io/version: from-pod-metadata, team: obs}}
"#,
    );
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let w = &loaded.cluster.workloads;
    let p = workload(w, "monitoring/prometheus-k8s[StatefulSet]");
    // podMetadata's version beats the operator's version label; the selector labels
    // (`prometheus: k8s`) beat podMetadata.
    assert_eq!(
        p.pods[0].labels,
        labels(&[
            ("app.kubernetes.io/component", "prometheus"),
            ("app.kubernetes.io/instance", "k8s"),
            ("app.kubernetes.io/managed-by", "prometheus-operator"),
            ("app.kubernetes.io/name", "prometheus"),
            ("app.kubernetes.io/version", "9.9.9"),
            ("operator.prometheus.io/name", "k8s"),
            ("operator.prometheus.io/shard", "0"),
            ("prometheus", "k8s"),
        ])
    );
    assert_eq!(p.pods[0].service_account.as_deref(), Some("prometheus-k8s"));
    assert_eq!(
        ports(p),
        vec![
            (Some("reloader-web"), 8080, Protocol::Tcp),
            (Some("web"), 9090, Protocol::Tcp),
            (Some("grpc"), 10901, Protocol::Tcp),
            (Some("http"), 10902, Protocol::Tcp),
        ]
    );
    let a = workload(w, "monitoring/alertmanager-main[StatefulSet]");
    assert_eq!(a.pods[0].labels["alertmanager"], "main");
    assert_eq!(
        a.pods[0].service_account, None,
        "no serviceAccountName: the namespace's default"
    );
    assert_eq!(
        ports(a),
        vec![
            (Some("reloader-web"), 8080, Protocol::Tcp),
            (Some("http-web"), 9093, Protocol::Tcp),
            (Some("mesh-tcp"), 9094, Protocol::Tcp),
            (Some("mesh-udp"), 9094, Protocol::Udp),
        ]
    );
    // ThanosRuler sets its version label last; listenLocal drops the web port.
    let t = workload(w, "monitoring/thanos-ruler-default[StatefulSet]");
    assert_eq!(t.pods[0].labels["app.kubernetes.io/version"], "v0.36.0");
    assert_eq!(t.pods[0].labels["team"], "obs");
    assert_eq!(ports(t), vec![(Some("grpc"), 10901, Protocol::Tcp)]);
}

#[test]
fn a_cnpg_cluster_owns_a_primary_and_replicas() {
    let text = |instances: u32| {
        format!(
            "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {{name: pg, namespace: db}}\nspec:\n  instances: {instances}\n  inheritedMetadata: {{labels: {{team: data}}}}\n"
        )
    };
    let three = load_str("c.yaml", &text(3));
    assert!(three.diagnostics.is_empty(), "{:#?}", three.diagnostics);
    let w = workload(&three.cluster.workloads, "db/pg[Cluster]");
    let names: Vec<&str> = w.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["pg-1", "pg-2"]);
    assert_eq!(w.pods[0].labels["cnpg.io/instanceRole"], "primary");
    assert_eq!(w.pods[0].labels["role"], "primary");
    assert_eq!(w.pods[1].labels["cnpg.io/instanceRole"], "replica");
    assert_eq!(w.pods[1].labels["cnpg.io/instanceName"], "pg-2");
    for p in &w.pods {
        assert_eq!(p.labels["cnpg.io/cluster"], "pg");
        assert_eq!(p.labels["cnpg.io/podRole"], "instance");
        assert_eq!(p.labels["team"], "data");
        // The operator creates a ServiceAccount named after the cluster.
        assert_eq!(p.service_account.as_deref(), Some("pg"));
    }
    assert_eq!(
        ports(w),
        vec![
            (Some("postgresql"), 5432, Protocol::Tcp),
            (Some("status"), 8000, Protocol::Tcp),
            (Some("metrics"), 9187, Protocol::Tcp),
        ]
    );
    let one = load_str("c.yaml", &text(1));
    assert_eq!(
        workload(&one.cluster.workloads, "db/pg[Cluster]")
            .pods
            .len(),
        1
    );
}

#[test]
fn strimzi_names_listener_ports_as_the_operator_does() {
    let loaded = load_str(
        "k.yaml",
        r#"
apiVersion: kafka.strimzi.io/v1beta2
kind: Kafka
metadata: {name: events, namespace: kafka, labels: {team: streams}}
spec:
  kafka:
    replicas: 3
    listeners:
    - {name: plain, port: 9092, type: internal, tls: false}
    - {name: tls, port: 9093, type: internal, tls: true}
    - {name: external, port: 9094, type: nodeport, tls: false}
    - {name: repl2, port: 9095, type: internal, tls: false}
  zookeeper: {replicas: 3}
"#,
    );
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let w = &loaded.cluster.workloads;
    let b = workload(w, "kafka/events-kafka[StrimziPodSet]");
    assert_eq!(b.pods[0].service_account.as_deref(), Some("events-kafka"));
    assert_eq!(b.pods[0].labels["strimzi.io/name"], "events-kafka");
    assert_eq!(b.pods[0].labels["strimzi.io/kind"], "Kafka");
    assert_eq!(b.pods[0].labels["team"], "streams");
    assert_eq!(
        ports(b),
        vec![
            (Some("tcp-kafkaagent"), 8443, Protocol::Tcp),
            (Some("tcp-ctrlplane"), 9090, Protocol::Tcp),
            (Some("tcp-replication"), 9091, Protocol::Tcp),
            (Some("tcp-clients"), 9092, Protocol::Tcp),
            (Some("tcp-clientstls"), 9093, Protocol::Tcp),
            (Some("tcp-external"), 9094, Protocol::Tcp),
            (Some("tcp-repl2"), 9095, Protocol::Tcp),
        ]
    );
    let z = workload(w, "kafka/events-zookeeper[StrimziPodSet]");
    assert_eq!(z.pods[0].labels["strimzi.io/kind"], "Kafka");
    assert_eq!(
        z.pods[0].service_account.as_deref(),
        Some("events-zookeeper")
    );
    // No entityOperator in the spec: no entity-operator Deployment.
    assert!(!w.iter().any(|w| w.name == "events-entity-operator"));
    // With node pools the brokers are the pools' (NAME-POOL-N), which kubeseg does not
    // expand: no made-up NAME-kafka, and the KafkaNodePool is a visible gap.
    let pools = load_str(
        "k.yaml",
        "apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata: {name: events, namespace: kafka, annotations: {strimzi.io/node-pools: enabled, strimzi.io/kraft: enabled}}\nspec: {kafka: {listeners: [{name: plain, port: 9092, type: internal, tls: false}]}}\n---\napiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaNodePool\nmetadata: {name: brokers, namespace: kafka, labels: {strimzi.io/cluster: events}}\nspec: {replicas: 3, roles: [broker]}\n",
    );
    assert!(pools.cluster.workloads.is_empty());
    let codes: Vec<&str> = pools.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unexpanded-workload"], "{:#?}", pools.diagnostics);
}

#[test]
fn eck_role_labels_follow_node_roles_and_the_pod_template_wins() {
    let loaded = load_str(
        "e.yaml",
        r#"
apiVersion: elasticsearch.k8s.elastic.co/v1
kind: Elasticsearch
metadata: {name: logs, namespace: elastic}
spec:
  version: 8.15.0
  nodeSets:
  - name: master
    count: 3
    config: {node.roles: [master]}
  - name: coord
    count: 1
    config: {node.roles: []}
  - name: nested
    count: 1
    config: {node: {roles: [data]}}
  - name: any
    count: 2
    podTemplate:
      metadata: {labels: {tier: hot, common.k8s.elastic.co/type: custom}}
      spec: {serviceAccountName: es-any}
"#,
    );
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let w = &loaded.cluster.workloads;
    let m = &workload(w, "elastic/logs-es-master[StatefulSet]").pods[0];
    assert_eq!(m.labels["elasticsearch.k8s.elastic.co/node-master"], "true");
    assert_eq!(m.labels["elasticsearch.k8s.elastic.co/node-data"], "false");
    assert_eq!(
        m.labels["elasticsearch.k8s.elastic.co/statefulset-name"],
        "logs-es-master"
    );
    assert_eq!(m.service_account, None);
    // An empty list: a coordinating-only node, no role (ECK's Roles != nil).
    let c = &workload(w, "elastic/logs-es-coord[StatefulSet]").pods[0];
    assert_eq!(
        c.labels["elasticsearch.k8s.elastic.co/node-master"],
        "false"
    );
    assert_eq!(c.labels["elasticsearch.k8s.elastic.co/node-data"], "false");
    // The nested form is the same setting.
    let n = &workload(w, "elastic/logs-es-nested[StatefulSet]").pods[0];
    assert_eq!(n.labels["elasticsearch.k8s.elastic.co/node-data"], "true");
    assert_eq!(
        n.labels["elasticsearch.k8s.elastic.co/node-master"],
        "false"
    );
    // No roles: every role but voting_only.
    let a = workload(w, "elastic/logs-es-any[StatefulSet]");
    let l = &a.pods[0].labels;
    assert_eq!(l["elasticsearch.k8s.elastic.co/node-data"], "true");
    assert_eq!(l["elasticsearch.k8s.elastic.co/node-master"], "true");
    assert_eq!(l["elasticsearch.k8s.elastic.co/node-voting_only"], "false");
    assert_eq!(l["tier"], "hot");
    assert_eq!(
        l["common.k8s.elastic.co/type"], "custom",
        "the user's podTemplate label wins"
    );
    assert_eq!(a.pods[0].service_account.as_deref(), Some("es-any"));
    assert_eq!(
        ports(a),
        vec![
            (Some("https"), 9200, Protocol::Tcp),
            (Some("transport"), 9300, Protocol::Tcp)
        ]
    );
}

#[test]
fn an_elasticsearch_without_node_sets_is_a_warning_not_silence() {
    let loaded = load_str(
        "e.yaml",
        "apiVersion: elasticsearch.k8s.elastic.co/v1\nkind: Elasticsearch\nmetadata: {name: logs, namespace: elastic}\nspec: {version: 8.15.0}\n",
    );
    assert!(loaded.cluster.workloads.is_empty());
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unexpanded-workload"], "{:#?}", loaded.diagnostics);
}

#[test]
fn an_undescribed_custom_resource_that_makes_pods_is_a_warning() {
    let loaded = load_str(
        "u.yaml",
        "apiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata: {name: mq, namespace: q}\nspec: {replicas: 3}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: q}\nspec: {secretName: s}\n",
    );
    let warnings: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.code == "unexpanded-workload")
        .collect();
    assert_eq!(warnings.len(), 1, "{:#?}", loaded.diagnostics);
    assert!(warnings[0].message.contains("RabbitmqCluster"));
    assert_eq!(warnings[0].location.as_ref().unwrap().line, 1);
    assert!(loaded.cluster.workloads.is_empty());
}

#[test]
fn users_describe_more_operators_in_a_file() {
    let catalog = r#"
apiVersion: kubeseg.io/v1
kind: OperatorCatalog
operators:
- apiGroup: example.com
  kind: Widget
  source: our widget operator, cmd/main.go
  workloads:
  - kind: Deployment
    name: "widget-{name}"
    labels:
    - set: {app: widget, widget: "{name}"}
    serviceAccount: "{spec.account|'widgets'}"
    ports:
    - {name: api, port: "{spec.port|'8080'}"}
"#;
    let user = parse_catalog("ops.yaml", catalog).unwrap_or_else(|d| panic!("{d:#?}"));
    let options = LoadOptions {
        operators: Some(Catalog::with_user(user)),
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("kubeseg-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("w.yaml");
    std::fs::write(&file, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: blue, namespace: shop}\nspec: {port: 9000}\n").unwrap();
    let loaded = kubeseg_sources::load_opts(&[file.display().to_string()], &options);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let w = workload(&loaded.cluster.workloads, "shop/widget-blue[Deployment]");
    assert_eq!(
        w.pods[0].labels,
        labels(&[("app", "widget"), ("widget", "blue")])
    );
    assert_eq!(w.pods[0].service_account.as_deref(), Some("widgets"));
    assert_eq!(ports(w), vec![(Some("api"), 9000, Protocol::Tcp)]);
}

#[test]
fn a_bad_catalog_is_an_error_at_its_line() {
    let bad = "apiVersion: kubeseg.io/v1\nkind: OperatorCatalog\noperators:\n- apiGroup: example.com\n  kind: Widget\n  source: x\n  workloads:\n  - kind: Deployment\n    name: \"w-{name\"\n    lables: []\n";
    let d = parse_catalog("bad.yaml", bad).unwrap_err();
    let at: Vec<(u32, &str)> = d
        .iter()
        .map(|d| (d.location.as_ref().unwrap().line, d.message.as_str()))
        .collect();
    assert!(
        at.iter().any(|(l, m)| *l == 9 && m.contains("unclosed")),
        "{at:?}"
    );
    assert!(
        at.iter()
            .any(|(l, m)| *l == 10 && m.contains("unknown field `lables`") && m.contains("labels")),
        "{at:?}"
    );
}

#[test]
fn real_objects_in_a_live_export_replace_the_expanded_ones() {
    // After a failover pg-2 is the primary; the export's pods are the truth, wherever
    // they come in the input, and the expanded primary pg-1 must not replace them.
    let pod = |name: &str, role: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: db\n  labels: {{cnpg.io/cluster: pg, cnpg.io/instanceRole: {role}}}\n  ownerReferences: [{{apiVersion: postgresql.cnpg.io/v1, kind: Cluster, name: pg, uid: u, controller: true}}]\nspec: {{containers: [{{name: postgres, image: pg}}]}}\n---\n"
        )
    };
    let cr = "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: pg, namespace: db}\nspec: {instances: 2}\n---\n";
    for text in [
        format!("{}{}{cr}", pod("pg-1", "replica"), pod("pg-2", "primary")),
        format!("{cr}{}{}", pod("pg-1", "replica"), pod("pg-2", "primary")),
    ] {
        let loaded = load_str("live.yaml", &text);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let w = workload(&loaded.cluster.workloads, "db/pg[Cluster]");
        let roles: Vec<(&str, &str)> = w
            .pods
            .iter()
            .map(|p| (p.name.as_str(), p.labels["cnpg.io/instanceRole"].as_str()))
            .collect();
        assert_eq!(roles, [("pg-1", "replica"), ("pg-2", "primary")]);
    }
    // A real StatefulSet of the same name replaces the expanded one, in either order.
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: prometheus-k8s, namespace: monitoring}\nspec:\n  selector: {matchLabels: {app: real}}\n  template:\n    metadata: {labels: {app: real}}\n    spec: {containers: [{name: c, image: i}]}\n---\n";
    let prom = "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s, namespace: monitoring}\nspec: {}\n---\n";
    for text in [format!("{sts}{prom}"), format!("{prom}{sts}")] {
        let loaded = load_str("live.yaml", &text);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let w = workload(
            &loaded.cluster.workloads,
            "monitoring/prometheus-k8s[StatefulSet]",
        );
        assert_eq!(w.pods[0].labels, labels(&[("app", "real")]));
    }
}
