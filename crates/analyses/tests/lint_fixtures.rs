//! One fixture per lint rule (`tests/lint/*.yaml`), with the lines where the rule must
//! fire written by hand in its header, and cases where it must not:
//!
//! - `# expect: CODE LINE`: for every code named this way, the findings of that code are
//!   exactly at the listed lines.
//! - `# expect-none: CODE`: no finding of that code.
//! - `# pod-cidr: CIDR`, `# service-cidr: CIDR`: lint settings.
//!
//! Each fixture's findings (code, line, title) are also kept as a snapshot beside it
//! (`.snap`; `KUBESEG_BLESS=1` rewrites them after review).

mod common;

use kubeseg_analyses::lint::{LintConfig, lint, registry};
use kubeseg_engine::{Engine, Options};
use kubeseg_model::Cidr;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut config = LintConfig::default();
    let mut expected: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some((key, value)) = line.trim_start_matches('#').trim().split_once(": ") else {
            continue;
        };
        match key {
            "expect" => {
                let (code, at) = value.split_once(' ').ok_or("expect: CODE LINE")?;
                let at: u32 = at
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad line in `{line}`"))?;
                expected.entry(code.to_string()).or_default().insert(at);
            }
            "expect-none" => {
                expected.entry(value.trim().to_string()).or_default();
            }
            "pod-cidr" => config.pod_cidrs.push((
                value.into(),
                Cidr::parse(value).map_err(|e| e.to_string())?.to_set(),
            )),
            "service-cidr" => config.service_cidrs.push((
                value.into(),
                Cidr::parse(value).map_err(|e| e.to_string())?.to_set(),
            )),
            _ => {}
        }
    }
    if expected.is_empty() {
        return Err("the fixture states no expectation".into());
    }
    let loaded = kubeseg_sources::load(&[path.display().to_string()]);
    let mut engine = Engine::new(&loaded.cluster, Options::default());
    let report = lint(&mut engine, &loaded.diagnostics, &loaded.misfiled, &config);
    let mut errors = Vec::new();
    for (code, want) in &expected {
        let got: BTreeSet<u32> = report
            .findings
            .iter()
            .filter(|f| f.rule.code == code)
            .map(|f| f.location.as_ref().map_or(0, |l| l.line))
            .collect();
        if &got != want {
            errors.push(format!("{code}: expected lines {want:?}, got {got:?}"));
        }
    }
    let snapshot: String = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}: {}\n",
                f.rule.code,
                f.location.as_ref().map_or(0, |l| l.line),
                f.severity,
                f.title
            )
        })
        .collect();
    let snap_path = path.with_extension("snap");
    if std::env::var_os("KUBESEG_BLESS").is_some() {
        std::fs::write(&snap_path, &snapshot).map_err(|e| e.to_string())?;
    } else if std::fs::read_to_string(&snap_path).unwrap_or_default() != snapshot {
        errors.push(format!(
            "findings differ from {} (KUBESEG_BLESS=1 rewrites it after review):\n{snapshot}",
            snap_path.display()
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn every_lint_fixture_fires_exactly_where_it_says() {
    let files = common::fixtures("lint");
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        covered.insert(
            name.split('-')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase(),
        );
        if let Err(e) = check(f) {
            failures.push(format!("{}:\n{e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for r in registry() {
        assert!(
            covered.contains(r.code),
            "no fixture for {} {}",
            r.code,
            r.name
        );
    }
}
