//! Istio objects as the API server stores them: the CRDs' enums are case-sensitive
//! (`action: deny` and `mode: strict` are rejected, so kubeseg errs at the line), and
//! one object per kind, namespace and name survives, the last one read.

use kubeseg_model::{AuthzAction, MtlsMode, Severity};
use kubeseg_sources::load_str;

fn errors(text: &str) -> Vec<(String, u32, String)> {
    load_str("t.yaml", text)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            (
                d.code.to_string(),
                d.location.map_or(0, |l| l.line),
                d.message,
            )
        })
        .collect()
}

#[test]
fn a_lowercase_action_is_an_error_at_its_line() {
    let e = errors(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: app}\nspec:\n  action: deny\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].0.as_str(), e[0].1), ("invalid-value", 5));
    assert!(e[0].2.contains("did you mean `DENY`"), "{}", e[0].2);
}

#[test]
fn an_unknown_action_lists_the_accepted_ones() {
    let e = errors(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {action: REJECT}\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].2.contains("CUSTOM, DENY, ALLOW, AUDIT"), "{}", e[0].2);
    assert!(!e[0].2.contains("did you mean"), "{}", e[0].2);
}

#[test]
fn every_action_spelled_as_the_crd_reads() {
    for (spelling, action) in AuthzAction::ALL {
        let l = load_str(
            "t.yaml",
            &format!(
                "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: a}}\nspec: {{action: {spelling}, provider: {{name: x}}}}\n"
            ),
        );
        assert!(!l.has_errors(), "{:?}", l.diagnostics);
        assert_eq!(l.cluster.authorization_policies[0].action, action);
    }
    let l = load_str(
        "t.yaml",
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {}\n",
    );
    assert_eq!(
        l.cluster.authorization_policies[0].action,
        AuthzAction::Allow
    );
}

#[test]
fn a_lowercase_mtls_mode_is_an_error_at_its_line() {
    let e = errors(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  mtls:\n    mode: strict\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].0.as_str(), e[0].1), ("invalid-value", 6));
    assert!(e[0].2.contains("did you mean `STRICT`"), "{}", e[0].2);
}

#[test]
fn port_level_modes_are_typed_and_checked() {
    let l = load_str(
        "t.yaml",
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  selector: {matchLabels: {app: a}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n    9090: {mode: Permissive}\n    http: {mode: STRICT}\n",
    );
    let pa = &l.cluster.peer_authentications[0];
    assert_eq!(pa.mode, Some(MtlsMode::Strict));
    assert_eq!(pa.port_level, vec![(8080, MtlsMode::Disable)]);
    let lines: Vec<u32> = l
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.location.as_ref().unwrap().line)
        .collect();
    assert_eq!(lines, vec![9, 10], "{:?}", l.diagnostics);
}

#[test]
fn the_last_object_of_a_name_wins_and_the_first_is_reported() {
    let l = load_str(
        "t.yaml",
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: app}\nspec: {mtls: {mode: STRICT}}\n---\napiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: app}\nspec: {mtls: {mode: PERMISSIVE}}\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: db}\nspec: {mtls: {mode: STRICT}}\n",
    );
    let modes: Vec<(&str, Option<MtlsMode>)> = l
        .cluster
        .peer_authentications
        .iter()
        .map(|p| (p.namespace.as_str(), p.mode))
        .collect();
    assert_eq!(
        modes,
        vec![
            ("app", Some(MtlsMode::Permissive)),
            ("db", Some(MtlsMode::Strict))
        ]
    );
    let dup: Vec<_> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == "duplicate-object")
        .collect();
    assert_eq!(dup.len(), 1, "{:?}", l.diagnostics);
    assert_eq!(dup[0].severity, Severity::Warning);
    assert_eq!(dup[0].location.as_ref().unwrap().line, 1);
    assert!(
        dup[0].message.contains("again at line 6,"),
        "{}",
        dup[0].message
    );
}

#[test]
fn duplicates_across_files_keep_the_one_read_last() {
    let dir = std::env::temp_dir().join(format!("kubeseg-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let np = |ingress: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db-allow, namespace: prod}}\nspec:\n  podSelector: {{}}\n  ingress: {ingress}\n"
        )
    };
    // Directories are read in sorted order: b.yaml after a.yaml.
    std::fs::write(dir.join("b.yaml"), np("[]")).unwrap();
    std::fs::write(dir.join("a.yaml"), np("[{}]")).unwrap();
    let l = kubeseg_sources::load(&[dir.display().to_string()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(l.cluster.policies.len(), 1);
    assert!(
        l.cluster.policies[0].ingress.is_empty(),
        "b.yaml's policy wins"
    );
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.code == "duplicate-object")
        .unwrap();
    assert!(d.location.as_ref().unwrap().file.ends_with("a.yaml"));
}
