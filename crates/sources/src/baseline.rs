//! Reads a baseline file (`apiVersion: kubeseg.io/v1`, `kind: Baseline`), written by
//! `kubeseg audit --write-baseline`: the findings a team accepted. Strict, like a spec.

use crate::decode::ctx::{Ctx, field};
use crate::spec::strict_fields;
use crate::tree::Node;
use kubeseg_model::{BaselineEntry, Diagnostic};
use std::sync::Arc;

const CODE: &str = "invalid-baseline";

/// Parses a baseline; on any problem, every diagnostic found.
pub fn parse_baseline(file: &str, text: &str) -> Result<Vec<BaselineEntry>, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(Arc::from(file), text);
    let Some(docs) = crate::spec::strict_documents(&mut ctx, text, CODE) else {
        return Err(ctx.diagnostics);
    };
    let entries = match docs.as_slice() {
        [doc] => read(&mut ctx, doc),
        _ => {
            let message = format!("a baseline holds one document, found {}", docs.len());
            ctx.error_at(1, 1, CODE, message);
            Vec::new()
        }
    };
    if ctx.diagnostics.is_empty() {
        Ok(entries)
    } else {
        Err(ctx.diagnostics)
    }
}

fn read(ctx: &mut Ctx, doc: &Node) -> Vec<BaselineEntry> {
    let Some(entries) = ctx.map(doc, "the baseline") else {
        return Vec::new();
    };
    strict_fields(
        ctx,
        CODE,
        entries,
        &["apiVersion", "kind", "findings"],
        "the baseline",
    );
    if field(entries, "apiVersion").and_then(Node::as_str) != Some("kubeseg.io/v1") {
        let at = field(entries, "apiVersion").unwrap_or(doc);
        ctx.error(at, CODE, "apiVersion must be kubeseg.io/v1");
    }
    if field(entries, "kind").and_then(Node::as_str) != Some("Baseline") {
        let at = field(entries, "kind").unwrap_or(doc);
        ctx.error(at, CODE, "kind must be Baseline");
    }
    let Some(list) = field(entries, "findings") else {
        ctx.error(
            doc,
            CODE,
            "the baseline has no `findings` (an empty list is `findings: []`)",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in ctx.seq(list, "findings").unwrap_or_default() {
        let Some(fields) = ctx.map(item, "a baseline entry") else {
            continue;
        };
        let known = ["code", "fingerprint", "title", "endpoints"];
        strict_fields(ctx, CODE, fields, &known, "a baseline entry");
        let text = |ctx: &mut Ctx, key: &str| match field(fields, key) {
            Some(n) => ctx.str(n, key).map(str::to_string),
            None => {
                ctx.error(item, CODE, format!("a baseline entry needs `{key}`"));
                None
            }
        };
        let code = text(ctx, "code");
        let fingerprint = text(ctx, "fingerprint");
        let title = text(ctx, "title");
        let mut endpoints = Vec::new();
        match field(fields, "endpoints") {
            Some(list) => {
                for e in ctx.seq(list, "endpoints").unwrap_or_default() {
                    if let Some(s) = ctx.str(e, "an endpoint") {
                        endpoints.push(s.to_string());
                    }
                }
            }
            None => ctx.error(item, CODE, "a baseline entry needs `endpoints`"),
        }
        if let Some(f) = &fingerprint
            && !(f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            let at = field(fields, "fingerprint").unwrap_or(item);
            ctx.error(
                at,
                CODE,
                "a fingerprint is 16 hexadecimal digits, as --write-baseline writes it",
            );
        }
        if let (Some(code), Some(fingerprint), Some(title)) = (code, fingerprint, title) {
            out.push(BaselineEntry {
                code,
                fingerprint: fingerprint.to_ascii_lowercase(),
                title,
                endpoints,
                location: ctx.at(item),
            });
        }
    }
    out
}
