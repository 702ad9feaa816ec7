//! One fixture per finding code (`tests/fixtures/*.yaml`), each with cases that must
//! fire and cases that must not. The expectations are written by hand in the fixture's
//! header comments:
//!
//! - `# expect: CODE FIRST-ENDPOINT [SEVERITY]`: for every code named this way, the
//!   findings of that code are exactly the listed ones (by first endpoint).
//! - `# expect-none: CODE`: no finding of that code.
//! - `# expect-verified-fix: CODE`: its findings carry a generated policy that the
//!   audit checked by recomputing reachability.
//! - `# apiserver: CIDR`, `# node-cidr: CIDR`, `# assume-compromised: ns/name`,
//!   `# crown-jewel: SELECTOR`: audit settings.

mod common;

use kubeseg_analyses::audit::{AuditConfig, audit};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::{Cidr, IpSet, Selector, Severity as DiagSeverity};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Expected = BTreeMap<String, BTreeSet<(String, Option<String>)>>;

fn parse_header(text: &str, config: &mut AuditConfig, verified: &mut Vec<String>) -> Expected {
    let mut expected = Expected::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let value = value.trim();
        match key {
            "expect" => {
                let (code, rest) = value.split_once(' ').expect("expect: CODE ENDPOINT");
                let (endpoint, severity) = match rest.rsplit_once(' ') {
                    Some((e, s)) if kubeseg_analyses::Severity::parse(s).is_some() => {
                        (e.to_string(), Some(s.to_string()))
                    }
                    _ => (rest.to_string(), None),
                };
                expected
                    .entry(code.to_string())
                    .or_default()
                    .insert((endpoint, severity));
            }
            "expect-verified-fix" => {
                verified.push(value.to_string());
            }
            "expect-none" => {
                expected.entry(value.to_string()).or_default();
            }
            "apiserver" => config.apiserver.push((value.into(), set(value), None)),
            "node-cidr" => config.node_cidrs.push((value.into(), set(value))),
            "assume-compromised" => config.assume_compromised.push(value.into()),
            "crown-jewel" => config
                .crown_jewels
                .push((value.into(), Selector::parse(value).expect("selector"))),
            _ => {}
        }
    }
    expected
}

fn set(s: &str) -> IpSet {
    match s.parse() {
        Ok(ip) => IpSet::single(ip),
        Err(_) => Cidr::parse(s).expect("cidr").to_set(),
    }
}

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut config = AuditConfig {
        max_cut: 100,
        options: Options::default(),
        ..Default::default()
    };
    let mut verified = Vec::new();
    let expected = parse_header(&text, &mut config, &mut verified);
    if expected.is_empty() {
        return Err("the fixture states no expectation".into());
    }
    let loaded = kubeseg_sources::load(&[path.display().to_string()]);
    let problems: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity != DiagSeverity::Info)
        .collect();
    if !problems.is_empty() {
        return Err(format!("the fixture does not load cleanly: {problems:?}"));
    }
    let mut engine = Engine::new(&loaded.cluster, config.options);
    let report = audit(&mut engine, &config).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    for (code, want) in &expected {
        let got: BTreeSet<(String, Option<String>)> = report
            .findings
            .iter()
            .filter(|f| f.rule.code == code)
            .map(|f| {
                (
                    f.endpoints.first().cloned().unwrap_or_default(),
                    Some(f.severity.as_str().to_string()),
                )
            })
            .collect();
        // A severity is only compared where the fixture states one.
        let got_cmp: BTreeSet<(String, Option<String>)> = got
            .iter()
            .map(|(e, s)| {
                let stated = want.iter().any(|(we, ws)| we == e && ws.is_some());
                (e.clone(), if stated { s.clone() } else { None })
            })
            .collect();
        if &got_cmp != want {
            errors.push(format!("{code}: expected {want:?}, got {got:?}"));
        }
    }
    for code in &verified {
        let fixes: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.rule.code == code)
            .collect();
        let ok = !fixes.is_empty()
            && fixes.iter().all(|f| {
                f.remediation.yaml.is_some()
                    && f.remediation
                        .text
                        .contains("exactly the listed connections disappear")
            });
        if !ok {
            let got: Vec<_> = fixes.iter().map(|f| &f.remediation).collect();
            errors.push(format!(
                "{code}: expected a generated, verified fix, got {got:?}"
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn every_fixture_fires_exactly_where_it_says() {
    let files = common::fixtures("fixtures");
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with("# expect")) {
            if let Some(code) = line.split(": ").nth(1).and_then(|v| v.split(' ').next()) {
                covered.insert(code.to_string());
            }
        }
        if let Err(e) = check(f) {
            failures.push(format!("{}:\n{e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every audit code has a fixture.
    for r in kubeseg_analyses::registry::AUDIT_RULES {
        assert!(
            covered.contains(r.code),
            "no fixture for {} {}",
            r.code,
            r.name
        );
    }
}
