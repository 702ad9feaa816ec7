//! Reads a `kubeseg test` spec (`apiVersion: kubeseg.io/v1`, `kind: ConnectivitySpec`).
//! The spec is strict: every problem is an error at its line, all reported at once.

use crate::decode::ctx::{Ctx, field};
use crate::tree::{Node, Value};
use kubeseg_model::spec::{
    Assertion, Check, ConnectivitySpec, Flow, Limit, Matcher, Party, Request,
};
use kubeseg_model::{Cidr, Diagnostic, IpSet, PortSet, Protocol, Selector};
use std::sync::Arc;

const KINDS: &[&str] = &[
    "allow",
    "deny",
    "isolated",
    "only",
    "no-path",
    "max-blast-radius",
];

/// The documents of a strict kubeseg file (spec, baseline, operator catalog): a key
/// written twice is an error with `code`, not a silent choice; `None` when the text is
/// not YAML (the error is in `ctx`).
pub(crate) fn strict_documents(ctx: &mut Ctx, text: &str, code: &'static str) -> Option<Vec<Node>> {
    match crate::yaml::parse_documents(text) {
        Ok((docs, duplicates)) => {
            for d in duplicates {
                let message = format!("`{}` is given twice", d.name);
                ctx.error_at(d.line, d.column, code, message);
            }
            Some(docs)
        }
        Err(e) => {
            ctx.error_at(e.line, e.column, e.code, e.message);
            None
        }
    }
}

/// Parses a spec; on any problem, every diagnostic found.
pub fn parse_spec(file: &str, text: &str) -> Result<ConnectivitySpec, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(Arc::from(file), text);
    let Some(docs) = strict_documents(&mut ctx, text, "invalid-spec") else {
        return Err(ctx.diagnostics);
    };
    let spec = match docs.as_slice() {
        [doc] => read(&mut ctx, doc),
        _ => {
            ctx.error_at(
                1,
                1,
                "invalid-spec",
                format!("a spec file holds one document, found {}", docs.len()),
            );
            None
        }
    };
    match spec {
        Some(s) if ctx.diagnostics.is_empty() => Ok(s),
        _ => Err(ctx.diagnostics),
    }
}

fn read(ctx: &mut Ctx, doc: &Node) -> Option<ConnectivitySpec> {
    let entries = ctx.map(doc, "the spec")?;
    strict(
        ctx,
        entries,
        &["apiVersion", "kind", "assertions"],
        "the spec",
    );
    let api = field(entries, "apiVersion").and_then(Node::as_str);
    if api != Some("kubeseg.io/v1") {
        let at = field(entries, "apiVersion").unwrap_or(doc);
        ctx.error(at, "invalid-spec", "apiVersion must be kubeseg.io/v1");
    }
    if field(entries, "kind").and_then(Node::as_str) != Some("ConnectivitySpec") {
        let at = field(entries, "kind").unwrap_or(doc);
        ctx.error(at, "invalid-spec", "kind must be ConnectivitySpec");
    }
    let mut spec = ConnectivitySpec::default();
    let Some(list) = field(entries, "assertions") else {
        ctx.error(doc, "invalid-spec", "the spec has no `assertions`");
        return None;
    };
    let mut names: Vec<String> = Vec::new();
    for item in ctx.seq(list, "assertions").unwrap_or_default() {
        if let Some(a) = assertion(ctx, item) {
            if names.contains(&a.name) {
                ctx.error(
                    item,
                    "invalid-spec",
                    format!("two assertions are named `{}`", a.name),
                );
            }
            names.push(a.name.clone());
            spec.assertions.push(a);
        }
    }
    Some(spec)
}

/// Unknown fields are errors in a spec (a typo must not weaken an assertion).
fn strict(ctx: &mut Ctx, entries: &[(crate::tree::Key, Node)], known: &[&str], what: &str) {
    strict_fields(ctx, "invalid-spec", entries, known, what);
}

/// Reports every unknown field as an error with `code`, suggesting the closest known one.
pub(crate) fn strict_fields(
    ctx: &mut Ctx,
    code: &'static str,
    entries: &[(crate::tree::Key, Node)],
    known: &[&str],
    what: &str,
) {
    for (key, _) in entries {
        if !known.contains(&key.name.as_str()) {
            let hint = crate::decode::ctx::did_you_mean(&key.name, known)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            ctx.error_at(
                key.line,
                key.column,
                code,
                format!("unknown field `{}` in {what}{hint}", key.name),
            );
        }
    }
}

fn assertion(ctx: &mut Ctx, item: &Node) -> Option<Assertion> {
    let entries = ctx.map(item, "an assertion")?;
    let mut known = vec!["name"];
    known.extend(KINDS);
    strict(ctx, entries, &known, "an assertion");
    let name = match field(entries, "name") {
        Some(n) => ctx.str(n, "name")?.to_string(),
        None => {
            ctx.error(item, "invalid-spec", "an assertion needs a `name`");
            return None;
        }
    };
    let present: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| field(entries, k).is_some())
        .collect();
    let [kind] = present.as_slice() else {
        ctx.error(
            item,
            "invalid-spec",
            format!(
                "assertion `{name}` needs exactly one of {}",
                KINDS.join(", ")
            ),
        );
        return None;
    };
    let body = field(entries, kind)?;
    let fields = ctx.map(body, kind)?;
    let check = match *kind {
        "allow" | "deny" | "only" | "no-path" => {
            let allowed: &[&str] = if *kind == "no-path" {
                &["from", "to"]
            } else {
                &["from", "to", "port", "request"]
            };
            strict(ctx, fields, allowed, kind);
            let from = parties(ctx, fields, "from", body)?;
            let to = parties(ctx, fields, "to", body)?;
            let (ports, ports_text) = match field(fields, "port") {
                None => (None, None),
                Some(p) => {
                    let (set, text) = port_set(ctx, p)?;
                    (Some(set), Some(text))
                }
            };
            let request = match field(fields, "request") {
                None => None,
                Some(r) => Some(request(ctx, r)?),
            };
            let flow = Flow {
                from,
                to,
                ports,
                ports_text,
                request,
            };
            match *kind {
                "allow" => Check::Allow(flow),
                "deny" => Check::Deny(flow),
                "only" => Check::Only(flow),
                _ => Check::NoPath(flow),
            }
        }
        "isolated" => {
            strict(ctx, fields, &["namespace", "except"], kind);
            let namespace = match field(fields, "namespace") {
                Some(n) => ctx.str(n, "namespace")?.to_string(),
                None => {
                    ctx.error(body, "invalid-spec", "`isolated` needs a `namespace`");
                    return None;
                }
            };
            let mut except = Vec::new();
            for e in field(fields, "except")
                .map(|n| ctx.seq(n, "except").unwrap_or_default())
                .unwrap_or_default()
            {
                except.push(ctx.str(e, "except")?.to_string());
            }
            Check::Isolated { namespace, except }
        }
        _ => {
            strict(ctx, fields, &["from", "max"], kind);
            let from = parties(ctx, fields, "from", body)?;
            let max = match field(fields, "max").map(|n| (&n.value, n)) {
                Some((Value::Int(i), _)) if *i >= 0 => Limit::Count(*i as usize),
                Some((Value::Str(s), n)) => match s
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<f64>().ok())
                {
                    Some(p) if (0.0..=100.0).contains(&p) => Limit::Percent(p),
                    _ => {
                        ctx.error(
                            n,
                            "invalid-spec",
                            format!(
                                "`max` must be a count or a percentage like `10%`, found `{s}`"
                            ),
                        );
                        return None;
                    }
                },
                Some((_, n)) => {
                    ctx.error(
                        n,
                        "invalid-spec",
                        "`max` must be a count or a percentage like `10%`",
                    );
                    return None;
                }
                None => {
                    ctx.error(body, "invalid-spec", "`max-blast-radius` needs `max`");
                    return None;
                }
            };
            Check::MaxBlastRadius { from, max }
        }
    };
    Some(Assertion {
        name,
        location: ctx.at(item),
        check,
    })
}

/// `request: {method, path, host}`: what the mesh is asked about.
fn request(ctx: &mut Ctx, n: &Node) -> Option<Request> {
    let entries = ctx.map(n, "request")?;
    for (k, _) in entries {
        if matches!(
            k.name.as_str(),
            "principal" | "sourceNamespace" | "namespace"
        ) {
            ctx.error_at(k.line, k.column, "invalid-spec", format!("`{}` is not a request field: the mesh identity and namespace are those of the source workload, chosen with `from`", k.name));
        }
    }
    strict(
        ctx,
        entries,
        &[
            "method",
            "path",
            "host",
            "principal",
            "sourceNamespace",
            "namespace",
        ],
        "request",
    );
    let mut out = Request::default();
    for (key, slot) in [
        ("method", &mut out.method),
        ("path", &mut out.path),
        ("host", &mut out.host),
    ] {
        if let Some(v) = field(entries, key) {
            *slot = Some(ctx.str(v, key)?.to_string());
        }
    }
    if out == Request::default() {
        ctx.error(
            n,
            "invalid-spec",
            "`request` needs at least one of method, path, host",
        );
        return None;
    }
    Some(out)
}

fn parties(
    ctx: &mut Ctx,
    fields: &[(crate::tree::Key, Node)],
    key: &str,
    body: &Node,
) -> Option<Vec<Party>> {
    let Some(node) = field(fields, key) else {
        ctx.error(body, "invalid-spec", format!("`{key}` is required"));
        return None;
    };
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for n in items {
        out.push(party(ctx, n)?);
    }
    if out.is_empty() {
        ctx.error(node, "invalid-spec", format!("`{key}` lists nothing"));
        return None;
    }
    Some(out)
}

fn party(ctx: &mut Ctx, n: &Node) -> Option<Party> {
    let location = ctx.at(n);
    if let Some(entries) = n.as_map() {
        strict(ctx, entries, &["selector", "namespace"], "an endpoint");
        let namespace = match field(entries, "namespace") {
            Some(x) => Some(ctx.str(x, "namespace")?.to_string()),
            None => None,
        };
        return match field(entries, "selector") {
            Some(s) => {
                let text = ctx.str(s, "selector")?.to_string();
                match Selector::parse(&text) {
                    Ok(selector) => Some(Party {
                        text: format!(
                            "{}{text}",
                            namespace
                                .as_ref()
                                .map(|n| format!("{n}/"))
                                .unwrap_or_default()
                        ),
                        matcher: Matcher::Selector {
                            namespace,
                            selector,
                        },
                        location,
                    }),
                    Err(e) => {
                        ctx.error(s, "invalid-spec", format!("invalid selector `{text}`: {e}"));
                        None
                    }
                }
            }
            None => match namespace {
                Some(ns) => Some(Party {
                    text: format!("{ns}/*"),
                    matcher: Matcher::Namespace(ns),
                    location,
                }),
                None => {
                    ctx.error(
                        n,
                        "invalid-spec",
                        "an endpoint mapping needs `selector` or `namespace`",
                    );
                    None
                }
            },
        };
    }
    let text = ctx.str(n, "an endpoint")?.to_string();
    let matcher = if text == "*" {
        Matcher::All
    } else if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        Matcher::Addresses(IpSet::single(ip))
    } else if let Ok(c) = Cidr::parse(&text) {
        Matcher::Addresses(c.to_set())
    } else if let Some((ns, rest)) = text.split_once('/') {
        if ns.is_empty() || rest.is_empty() {
            ctx.error(
                n,
                "invalid-spec",
                format!("`{text}` is not `namespace/name`, `namespace/*`, `*` or a CIDR"),
            );
            return None;
        }
        if rest == "*" {
            Matcher::Namespace(ns.to_string())
        } else if let Some((name, kind)) = rest.strip_suffix(']').and_then(|r| r.split_once('[')) {
            Matcher::Workload {
                namespace: ns.into(),
                name: name.into(),
                kind: Some(kind.into()),
            }
        } else {
            Matcher::Workload {
                namespace: ns.into(),
                name: rest.into(),
                kind: None,
            }
        }
    } else {
        ctx.error(
            n,
            "invalid-spec",
            format!(
                "`{text}` is not `namespace/name`, `namespace/*`, `*`, an IP address or a CIDR"
            ),
        );
        return None;
    };
    Some(Party {
        text,
        matcher,
        location,
    })
}

/// `PROTO/N`, `PROTO/N-M` or `PROTO` (for ICMP and ICMPv6 `PROTO/TYPE` or
/// `PROTO/TYPE/CODE`), or a list of them.
fn port_set(ctx: &mut Ctx, n: &Node) -> Option<(PortSet, String)> {
    let items: Vec<&Node> = match &n.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![n],
    };
    let mut set = PortSet::empty();
    let mut texts = Vec::new();
    for item in items {
        let text = ctx.str(item, "port")?.to_string();
        let (proto, range) = match text.split_once('/') {
            Some((p, r)) => (p, Some(r)),
            None => (text.as_str(), None),
        };
        let protocol = match proto.to_ascii_uppercase().as_str() {
            "ICMP" => Some(Protocol::Icmp),
            "ICMPV6" => Some(Protocol::IcmpV6),
            other => Protocol::parse(other),
        };
        let Some(protocol) = protocol else {
            ctx.error(
                item,
                "invalid-spec",
                format!("`{text}`: the protocol must be TCP, UDP, SCTP, ICMP or ICMPv6"),
            );
            return None;
        };
        let part = match range {
            None => PortSet::all_of(protocol),
            // ICMP/TYPE (every code) or ICMP/TYPE/CODE.
            Some(r) if protocol.is_icmp() => {
                let (t, c) = match r.split_once('/') {
                    Some((t, c)) => (t, Some(c)),
                    None => (r, None),
                };
                match (t.parse::<u8>(), c.map(str::parse::<u8>)) {
                    (Ok(t), None) => {
                        let (lo, hi) = kubeseg_model::icmp_type(t);
                        PortSet::range(protocol, lo, hi)
                    }
                    (Ok(t), Some(Ok(c))) => {
                        let m = kubeseg_model::icmp_message(t, c);
                        PortSet::range(protocol, m, m)
                    }
                    _ => {
                        ctx.error(
                            item,
                            "invalid-spec",
                            format!("`{text}`: expected {proto}/TYPE or {proto}/TYPE/CODE, each 0 to 255"),
                        );
                        return None;
                    }
                }
            }
            Some(r) => {
                let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                match (lo.parse::<u16>(), hi.parse::<u16>()) {
                    (Ok(lo), Ok(hi)) if lo >= 1 && lo <= hi => PortSet::range(protocol, lo, hi),
                    _ => {
                        ctx.error(
                            item,
                            "invalid-spec",
                            format!(
                                "`{text}`: expected PROTO/N or PROTO/N-M with 1 <= N <= M <= 65535"
                            ),
                        );
                        return None;
                    }
                }
            }
        };
        set = set.union(&part);
        texts.push(text);
    }
    Some((set, texts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimal_form_reads_as_written() {
        let spec = parse_spec(
            "spec.yaml",
            "apiVersion: kubeseg.io/v1\nkind: ConnectivitySpec\nassertions:\n- name: public cannot reach the database\n  deny: {from: public/*, to: shop/postgres, port: TCP/5432}\n- name: api reaches the database\n  allow: {from: shop/orders-api, to: shop/postgres, port: TCP/5432}\n",
        )
        .unwrap();
        assert_eq!(spec.assertions.len(), 2);
        assert_eq!(spec.assertions[1].location.line, 6);
        let Check::Deny(flow) = &spec.assertions[0].check else {
            panic!("deny")
        };
        assert!(matches!(&flow.from[0].matcher, Matcher::Namespace(ns) if ns == "public"));
        assert!(
            matches!(&flow.to[0].matcher, Matcher::Workload { name, .. } if name == "postgres")
        );
        assert!(
            flow.ports.as_ref().is_some_and(
                |p| p.contains(Protocol::Tcp, 5432) && !p.contains(Protocol::Tcp, 5433)
            )
        );
    }

    #[test]
    fn every_problem_is_reported_at_its_line() {
        let errs = parse_spec(
            "spec.yaml",
            "apiVersion: kubeseg.io/v2\nkind: ConnectivitySpec\nassertions:\n- name: a\n  deny: {from: x, to: shop/db, prot: TCP/5432}\n- name: b\n  allow: {from: a/b, to: a/c, port: HTTP/80}\n- deny: {from: a/b, to: a/c}\n",
        )
        .unwrap_err();
        let lines: Vec<u32> = errs
            .iter()
            .filter_map(|d| d.location.as_ref().map(|l| l.line))
            .collect();
        assert_eq!(lines, vec![1, 5, 5, 7, 8], "{errs:?}");
    }
}
