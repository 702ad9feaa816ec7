//! `kubeseg test`: a ConnectivitySpec checked against the manifests.

use crate::args::{TestArgs, TestFormat};
use crate::{Failure, load_input, options};
use anyhow::Result;
use kubeseg_analyses::assert::check;
use kubeseg_engine::Engine;
use kubeseg_report::diagnostics;
use kubeseg_report::test::{TestFormat as Format, render};
use kubeseg_report::unmodelled::{Shape, add};

/// Reads a ConnectivitySpec; its problems are printed and make an input error.
pub(crate) fn read_spec(path: &str) -> Result<kubeseg_model::spec::ConnectivitySpec> {
    // Reading errors are input errors (exit 2), not output errors: no io::Error source.
    let text = match kubeseg_sources::read_file(path, crate::limits()) {
        Ok(text) => text,
        Err(d) => {
            note_text!(diagnostics::text(&[d]));
            return Err(Failure::Input.into());
        }
    };
    match kubeseg_sources::spec::parse_spec(path, &text) {
        Ok(s) => Ok(s),
        Err(diags) => {
            note_text!(diagnostics::text(&diags));
            note!("{}", diagnostics::summary(&diags));
            Err(Failure::Input.into())
        }
    }
}

/// Runs the assertions; returns the output and whether any failed.
pub fn run(a: &TestArgs) -> Result<(String, bool)> {
    let spec = read_spec(&a.spec)?;
    let loaded = load_input(&a.common)?;
    let mut engine = Engine::new(&loaded.cluster, options(&a.common, &loaded.cluster));
    let outcomes = match check(&mut engine, &spec, &crate::mesh_options(&a.common)) {
        Ok(o) => o,
        Err(errors) => {
            for e in &errors {
                note!("error[invalid-spec]: {}\n  --> {}", e.message, e.location);
            }
            return Err(Failure::Input.into());
        }
    };
    let format = match a.format {
        TestFormat::Text => Format::Text,
        TestFormat::Json => Format::Json,
        TestFormat::Junit => Format::Junit,
        TestFormat::Tap => Format::Tap,
        TestFormat::Sarif => Format::Sarif,
    };
    let failed = outcomes.iter().any(|o| !o.passed);
    let shape = match format {
        Format::Text => Shape::Text,
        Format::Json => Shape::Json,
        Format::Junit => Shape::Junit,
        Format::Tap => Shape::Tap,
        Format::Sarif => Shape::Sarif,
    };
    let out = render(format, &a.spec, &spec.assertions, &outcomes);
    Ok((add(shape, out, &crate::unmodelled(&loaded)), failed))
}
