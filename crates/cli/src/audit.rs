//! `kubeseg audit` and `kubeseg rules`: flags to [`AuditConfig`], findings filtered and rendered.

use crate::args::{AuditArgs, AuditFormat, ColorArg, RulesArgs, RulesFormat, SeverityArg};
use crate::{load_input, options};
use anyhow::{Context, Result, bail};
use kubeseg_analyses::audit::{AuditConfig, audit};
use kubeseg_analyses::registry::{AUDIT_RULES, all_rules, find_in};
use kubeseg_analyses::{Finding, Severity};
use kubeseg_engine::Engine;
use kubeseg_model::{Cidr, IpSet, Selector};
use kubeseg_report::audit::{AuditFormat as Format, render};
use std::io::IsTerminal;

/// Runs the audit; returns the output and whether `--fail-on` was reached.
pub fn run(a: &AuditArgs) -> Result<(String, bool)> {
    let only = codes(&a.only).context("--only")?;
    let skip = codes(&a.skip).context("--skip")?;
    let mut config = AuditConfig {
        assume_compromised: a.assume_compromised.clone(),
        max_cut: a.max_cut,
        protocols: (!a.protocols.is_empty()).then(|| {
            a.protocols
                .iter()
                .fold(kubeseg_model::PortSet::empty(), |set, p| {
                    set.union(&kubeseg_model::PortSet::all_of(p.protocol()))
                })
        }),
        mesh: crate::mesh_options(&a.common),
        spec: a.spec.as_deref().map(crate::test::read_spec).transpose()?,
        ..Default::default()
    };
    for s in &a.crown_jewel {
        let sel = Selector::parse(s)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--crown-jewel {s}"))?;
        config.crown_jewels.push((s.clone(), sel));
    }
    for s in &a.apiserver {
        let (set, port) = apiserver(s).with_context(|| format!("--apiserver {s}"))?;
        config.apiserver.push((s.clone(), set, port));
    }
    for s in &a.node_cidr {
        let set = addresses(s).with_context(|| format!("--node-cidr {s}"))?;
        config.node_cidrs.push((s.clone(), set));
    }
    let timings = std::env::var_os("KUBESEG_TIMINGS").is_some();
    let start = std::time::Instant::now();
    let lap = |what: &str| {
        if timings {
            note!("timing: {what} {:?} rss {}", start.elapsed(), crate::rss());
        }
    };
    let loaded = load_input(&a.common)?;
    config.options = options(&a.common, &loaded.cluster);
    lap("load");
    let mut engine = Engine::new(&loaded.cluster, config.options);
    lap("compile");
    let mut report = audit(&mut engine, &config)?;
    lap("audit");
    // Objects that change connectivity but that kubeseg does not model are named in
    // every format, not only on stderr: a clean report must not look complete.
    for m in crate::unmodelled(&loaded) {
        report
            .notes
            .push(format!("not modelled, the findings ignore it: {m}"));
    }
    if timings {
        for (what, d) in &report.timings {
            note!("timing:   {what} {d:?}");
        }
    }
    accept(a, &loaded.cluster, &mut report, &only, &skip)?;
    let findings = select(&report.findings, &only, &skip);
    let fail = a.fail_on.is_some_and(|t| {
        findings
            .iter()
            .any(|f| f.suppression.is_none() && f.severity >= threshold(t))
    });
    let format = match a.format {
        AuditFormat::Html => {
            let excerpts = excerpts(&findings);
            lap("excerpts");
            let layers = crate::request_layers(&loaded.cluster);
            let out =
                kubeseg_report::html::audit(&mut engine, &report, &findings, &excerpts, layers)?;
            lap("render");
            return Ok((out, fail));
        }
        AuditFormat::Json => {
            // Streamed: the document can be larger than the model it describes.
            use std::io::Write as _;
            let stdout = crate::visible::Visible::new(std::io::stdout().lock());
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
            kubeseg_report::audit::write_json(&mut out, &engine, &report, &findings)?;
            out.flush()?;
            out.get_mut().finish()?;
            lap("render");
            return Ok((String::new(), fail));
        }
        AuditFormat::Text => Format::Text,
        AuditFormat::Sarif => Format::Sarif,
        AuditFormat::Md => Format::Md,
    };
    let color = use_color(a.color);
    let out = render(format, &engine, &report, &findings, color);
    lap("render");
    Ok((out, fail))
}

/// The YAML each finding cites, read from the input files (a file that cannot be read
/// again, such as stdin, just has no excerpt).
fn excerpts(findings: &[&Finding]) -> kubeseg_report::html::Excerpts {
    use kubeseg_report::html::{SourceText, cited_locations, excerpt_key};
    let mut by_file: std::collections::BTreeMap<&str, Vec<&kubeseg_model::Location>> =
        Default::default();
    for l in cited_locations(findings) {
        by_file.entry(&l.file).or_default().push(l);
    }
    let mut out = kubeseg_report::html::Excerpts::new();
    for (file, locations) in by_file {
        let Some(text) = (file != "-")
            .then(|| kubeseg_sources::read_file(file, crate::limits()).ok())
            .flatten()
        else {
            continue;
        };
        let source = SourceText::new(&text);
        for l in locations {
            if let Some(x) = source.excerpt(l.line) {
                out.insert(excerpt_key(l), x);
            }
        }
    }
    out
}

/// Marks the findings the team accepted: `kubeseg.io/ignore` annotations, then the
/// `--baseline` file. `--write-baseline` first writes the findings reported now
/// (those no annotation accepts) and then reads them back as the baseline.
fn accept(
    a: &AuditArgs,
    cluster: &kubeseg_model::Cluster,
    report: &mut kubeseg_analyses::AuditReport,
    only: &[&str],
    skip: &[&str],
) -> Result<()> {
    let notes = kubeseg_analyses::suppress::apply(&mut report.findings, &cluster.ignores, None);
    report.notes.extend(notes);
    let path = match (&a.write_baseline, &a.baseline) {
        (Some(out), _) => {
            let open: Vec<&Finding> = select(&report.findings, only, skip)
                .into_iter()
                .filter(|f| f.suppression.is_none())
                .collect();
            std::fs::write(out, kubeseg_report::audit::baseline(&open))
                .with_context(|| format!("--write-baseline {out}"))?;
            note!("wrote {} finding(s) to the baseline {out}", open.len());
            out
        }
        (None, Some(path)) => path,
        (None, None) => return Ok(()),
    };
    let text = kubeseg_sources::read_file(path, crate::limits())
        .map_err(|d| anyhow::anyhow!("--baseline {path}: {}", d.message))?;
    let entries = match kubeseg_sources::baseline::parse_baseline(path, &text) {
        Ok(entries) => entries,
        Err(diagnostics) => {
            note_text!(kubeseg_report::diagnostics::text(&diagnostics));
            return Err(crate::Failure::Input.into());
        }
    };
    let notes = kubeseg_analyses::suppress::apply(
        &mut report.findings,
        &[],
        Some((path.as_str(), &entries)),
    );
    report.notes.extend(notes);
    Ok(())
}

/// The findings `--only` and `--skip` keep.
pub(crate) fn select<'f>(
    findings: &'f [Finding],
    only: &[&str],
    skip: &[&str],
) -> Vec<&'f Finding> {
    findings
        .iter()
        .filter(|f| only.is_empty() || only.contains(&f.rule.code))
        .filter(|f| !skip.contains(&f.rule.code))
        .collect()
}

/// Codes or names → codes; unknown ones are an error.
fn codes(list: &[String]) -> Result<Vec<&'static str>> {
    codes_in(AUDIT_RULES, list)
}

/// Codes or names among `rules` → codes; unknown ones are an error.
pub(crate) fn codes_in(
    rules: &[&'static kubeseg_analyses::Rule],
    list: &[String],
) -> Result<Vec<&'static str>> {
    list.iter()
        .map(|c| match find_in(rules, c.trim()) {
            Some(r) => Ok(r.code),
            None => bail!("unknown finding code `{c}` (`kubeseg rules` lists them)"),
        })
        .collect()
}

/// The severity a `--fail-on` names.
pub(crate) fn threshold(t: SeverityArg) -> Severity {
    match t {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}

/// Whether to colour text on stdout.
pub(crate) fn use_color(c: ColorArg) -> bool {
    match c {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    }
}

/// A CIDR or a single address.
pub(crate) fn addresses(s: &str) -> Result<IpSet> {
    crate::select::parse_addresses(s).ok_or_else(|| {
        let why = Cidr::parse(s)
            .err()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        anyhow::anyhow!("`{s}` is not an IP address or CIDR{why}")
    })
}

/// `CIDR`, `IP`, `IP:PORT`, `CIDR:PORT`, `[IPv6]:PORT`.
fn apiserver(s: &str) -> Result<(IpSet, Option<u16>)> {
    let port = |p: &str| -> Result<u16> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("`{p}` is not a port (1-65535)"),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']').context("missing `]`")?;
        let p = match tail.strip_prefix(':') {
            Some(p) => Some(port(p)?),
            None if tail.is_empty() => None,
            None => bail!("unexpected `{tail}` after `]`"),
        };
        return Ok((addresses(addr)?, p));
    }
    if let Ok(set) = addresses(s) {
        return Ok((set, None));
    }
    // The port follows the last colon: after the prefix length, or after an IPv4 address.
    if let Some((addr, p)) = s.rsplit_once(':')
        && (addr.contains('/') || !addr.contains(':'))
    {
        return Ok((addresses(addr)?, Some(port(p)?)));
    }
    bail!("expected CIDR[:PORT], IP[:PORT] or [IPv6]:PORT")
}

/// `kubeseg rules [CODE]`.
pub fn rules(a: &RulesArgs) -> Result<String> {
    if a.format == RulesFormat::Md {
        return Ok(kubeseg_report::audit::rules_markdown());
    }
    let mut out = String::new();
    match &a.code {
        None => {
            for r in all_rules() {
                out.push_str(&format!(
                    "{} {:<36} {:<8} {}\n",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    r.summary
                ));
            }
        }
        Some(c) => {
            let Some(r) = find_in(&all_rules(), c) else {
                bail!("unknown finding code `{c}` (`kubeseg rules` lists them)");
            };
            out.push_str(&kubeseg_report::audit::rule_text(r));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_apiserver_forms() {
        assert_eq!(apiserver("10.0.0.1").unwrap().1, None);
        assert_eq!(apiserver("10.0.0.1:6443").unwrap().1, Some(6443));
        assert_eq!(apiserver("10.0.0.0/24:443").unwrap().1, Some(443));
        assert_eq!(apiserver("fd00::/64").unwrap().1, None);
        assert_eq!(apiserver("fd00::/64:6443").unwrap().1, Some(6443));
        assert_eq!(apiserver("[fd00::1]:6443").unwrap().1, Some(6443));
        assert!(
            apiserver("fd00::1")
                .unwrap()
                .0
                .contains("fd00::1".parse().unwrap())
        );
        for bad in [
            "10.0.0.1:0",
            "10.0.0.1:x",
            "nonsense",
            "[fd00::1",
            "10.0.0.0/33",
        ] {
            assert!(apiserver(bad).is_err(), "{bad}");
        }
    }
}
