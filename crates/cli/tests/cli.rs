//! The binary end to end: bad input gives located diagnostics, exit status 2 and an
//! empty stdout; good input gives answers.

mod common;

fn kubeseg(args: &[&str], stdin: &str) -> std::process::Output {
    common::kubeseg_stdin(args, stdin)
}

fn policy(spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n{spec}"
    )
}

/// Asserts exit 2, nothing on stdout, and every `(code, line)` reported at `-:line:`.
fn rejects(input: &str, expected: &[(&str, u32)]) {
    let out = kubeseg(&["reach", "-"], input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(out.stdout.is_empty(), "stdout must be empty on bad input");
    for (code, line) in expected {
        let needle = format!("error[{code}]");
        let at = stderr
            .find(&needle)
            .unwrap_or_else(|| panic!("missing {needle} in:\n{stderr}"));
        assert!(
            stderr[at..].contains(&format!("--> -:{line}:")),
            "{needle} not at line {line}:\n{stderr}"
        );
    }
}

#[test]
fn yaml_syntax_error() {
    rejects(
        "kind: Pod\nmetadata: {name: [a, b\n",
        &[("syntax-error", 3)],
    );
}

#[test]
fn invalid_cidr() {
    rejects(
        &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0/8\n",
        ),
        &[("invalid-cidr", 11)],
    );
}

#[test]
fn except_outside_cidr() {
    rejects(
        &policy(
            "  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except: [10.1.0.0/24]\n",
        ),
        &[("except-outside-cidr", 12)],
    );
}

#[test]
fn end_port_without_port_and_below_port() {
    rejects(
        &policy(
            "  podSelector: {}\n  ingress:\n  - ports:\n    - endPort: 90\n    - port: 100\n      endPort: 90\n",
        ),
        &[("invalid-port", 10), ("invalid-port", 12)],
    );
}

#[test]
fn named_port_with_end_port() {
    rejects(
        &policy("  podSelector: {}\n  ingress:\n  - ports:\n    - port: http\n      endPort: 90\n"),
        &[("invalid-port", 11)],
    );
}

#[test]
fn unknown_protocol() {
    rejects(
        &policy("  podSelector: {}\n  ingress:\n  - ports:\n    - protocol: ICMP\n"),
        &[("invalid-protocol", 10)],
    );
}

#[test]
fn peer_with_neither_selector_nor_ip_block() {
    rejects(
        &policy("  podSelector: {}\n  ingress:\n  - from:\n    - {}\n"),
        &[("invalid-peer", 10)],
    );
}

#[test]
fn unknown_selector_operator() {
    rejects(
        &policy(
            "  podSelector:\n    matchExpressions:\n    - {key: app, operator: Equals, values: [web]}\n",
        ),
        &[("invalid-selector", 9)],
    );
}

#[test]
fn missing_name() {
    rejects(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  namespace: prod\nspec:\n  podSelector: {}\n",
        &[("missing-name", 4)],
    );
}

#[test]
fn every_problem_of_a_run_is_reported() {
    let two = format!(
        "{}---\n{}",
        policy("  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: bad}\n"),
        policy("  podSelector: {}\n  ingress:\n  - ports:\n    - protocol: ICMP\n")
    );
    rejects(&two, &[("invalid-cidr", 10), ("invalid-protocol", 21)]);
}

#[test]
fn unknown_fields_warn_with_a_location_and_suggestion() {
    let out = kubeseg(&["reach", "-"], &policy("  podselector: {}\n"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning[unknown-field]")
            && stderr.contains("did you mean `podSelector`")
            && stderr.contains("-:7:3"),
        "{stderr}"
    );
}

#[test]
fn empty_input_is_an_error() {
    let out = kubeseg(&["reach", "-"], "# nothing here\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[empty-input]"));
}

#[test]
fn unreadable_path_is_an_error() {
    let out = kubeseg(&["reach", "/nonexistent/kubeseg/input.yaml"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read /nonexistent/kubeseg/input.yaml")
    );
}

#[test]
fn directory_without_manifests_is_an_error() {
    let dir = std::env::temp_dir().join(format!("kubeseg-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not yaml").unwrap();
    let out = kubeseg(&["reach", dir.to_str().unwrap()], "");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[no-manifests]"));
}

#[test]
fn unmodelled_policy_kinds_are_never_silent() {
    // Calico's policies are not modelled yet; Cilium's are, but not under another dataplane.
    let input = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: a}\nspec: {selector: all()}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: default}\nspec: {endpointSelector: {}, ingress: [{}]}\n";
    let out = kubeseg(&["reach", "-", "--cni", "generic"], input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning[unmodelled-policy]") && stderr.contains("-:1:1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("CiliumNetworkPolicy/default/c is not enforced under --cni generic")
            && stderr.contains("-:10:1"),
        "{stderr}"
    );
}

#[test]
fn explain_names_the_allowing_rule() {
    let input = format!(
        "{}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: prod, labels: {{app: web}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: db, namespace: prod, labels: {{app: db}}}}\n",
        policy(
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]\n"
        )
    );
    let out = kubeseg(
        &[
            "explain", "-", "--from", "prod/web", "--to", "prod/db", "--port", "5432",
        ],
        &input,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("prod/web[Pod] => prod/db[Pod] on TCP 5432: ALLOWED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("prod/p ingress[0] (-:9:5): allows TCP 5432"),
        "{stdout}"
    );
    let denied = kubeseg(
        &[
            "explain", "-", "--from", "prod/db", "--to", "prod/db", "--port", "5432",
        ],
        &input,
    );
    let stdout = String::from_utf8_lossy(&denied.stdout);
    assert!(
        stdout.contains("DENIED") && stdout.contains("no peer matches"),
        "{stdout}"
    );
    let unknown = kubeseg(
        &["explain", "-", "--from", "prod/nope", "--to", "prod/db"],
        &input,
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("prod/db[Pod]"));
}
