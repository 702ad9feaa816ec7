//! Readers for network-config-analyzer's test data (`../shared/conformance/nca-calico`):
//! manifests into JSON documents, the pods they hold, scheme files, and the expected
//! connectivity maps written as firewall rules.
#![allow(dead_code)]

pub mod relation;

use kubeseg_model::{PortSet, Protocol};

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Every document of a YAML or JSON file, as JSON values.
pub fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (docs, _) = kubeseg_sources::yaml::parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    docs.iter()
        .map(kubeseg_fakeapi::fixture::to_json)
        .filter(|v| !v.is_null())
        .collect()
}

/// Calls `f` on every object of `docs`, lists' items included.
pub fn for_each_object(docs: &mut [Value], f: &mut dyn FnMut(&mut Value)) {
    for d in docs {
        if let Some(items) = d.get_mut("items").and_then(Value::as_array_mut) {
            for_each_object(items, f);
        } else {
            f(d);
        }
    }
}

/// A pod of the test cluster, as the analyzer names it: by its own name or its owner's.
#[derive(Clone, Debug)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub owner: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl Pod {
    /// kubeseg's id of the pod once its ownerReferences are dropped.
    pub fn id(&self) -> String {
        format!("{}/{}[Pod]", self.namespace, self.name)
    }
}

/// The pods of `docs`.
pub fn pods(docs: &[Value]) -> Vec<Pod> {
    let mut docs = docs.to_vec();
    let mut out = Vec::new();
    for_each_object(&mut docs, &mut |o| {
        if o["kind"] != "Pod" {
            return;
        }
        let m = &o["metadata"];
        let labels = m["labels"]
            .as_object()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Pod {
            namespace: m["namespace"].as_str().unwrap_or("default").to_string(),
            name: m["name"].as_str().unwrap().to_string(),
            owner: m["ownerReferences"][0]["name"].as_str().map(String::from),
            labels,
        });
    });
    out
}

/// An end of an expected rule: pods, or IPv4 ranges (IPv6 is left out on both sides).
#[derive(Clone, Debug)]
pub enum End {
    Pods(Vec<usize>),
    Net(Vec<(u32, u32)>),
}

/// One firewall rule: source, destination, connections.
#[derive(Clone, Debug)]
pub struct Rule {
    pub src: End,
    pub dst: End,
    pub conn: PortSet,
}

/// The connectivity map of `config` in an expected-output file, as rules over `pods`.
pub fn fw_rules(text: &str, config: &str, pods: &[Pod]) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let mut inside = false;
    let mut found = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("final fw rules for query:") || line.contains(", final fw rules") {
            if line.contains(", final fw rules") {
                return Err("a map split by protocol (a mesh layer)".into());
            }
            inside = line.ends_with(&format!("config: {config}:"));
            found |= inside;
            continue;
        }
        if !inside || line.is_empty() {
            continue;
        }
        rules.push(rule(line, pods).map_err(|e| format!("`{line}`: {e}"))?);
    }
    if !found {
        return Err(format!("no map for config `{config}`"));
    }
    Ok(rules)
}

fn rule(line: &str, pods: &[Pod]) -> Result<Rule, String> {
    let (ends, conn) = line.split_once(" conn: ").ok_or("no conn")?;
    let at = ends
        .find(" dst_ns: ")
        .or_else(|| ends.find(" dst: "))
        .ok_or("no destination")?;
    Ok(Rule {
        src: end(ends[..at].trim(), "src", pods)?,
        dst: end(ends[at..].trim(), "dst", pods)?,
        conn: connections(conn.trim())?,
    })
}

/// `src: 0.0.0.0/0,::/0` or `src_ns: [a,b] src_pods: [expr]` (likewise `dst`).
fn end(s: &str, side: &str, pods: &[Pod]) -> Result<End, String> {
    if let Some(nets) = s.strip_prefix(&format!("{side}: ")) {
        let mut ranges = Vec::new();
        for n in nets.split(',').filter(|n| !n.contains(':')) {
            ranges.push(v4(n)?);
        }
        return Ok(End::Net(ranges));
    }
    let rest = s
        .strip_prefix(&format!("{side}_ns: ["))
        .ok_or_else(|| format!("unknown end `{s}`"))?;
    let (ns, rest) = rest.split_once("] ").ok_or("unclosed namespaces")?;
    let namespaces: Vec<&str> = ns.split(',').collect();
    let sel = rest
        .strip_prefix(&format!("{side}_pods: ["))
        .and_then(|r| r.strip_suffix(']'))
        .ok_or("no pods")?;
    let expr = Expr::parse(sel)?;
    Ok(End::Pods(
        (0..pods.len())
            .filter(|&i| namespaces.contains(&pods[i].namespace.as_str()) && expr.matches(&pods[i]))
            .collect(),
    ))
}

fn v4(s: &str) -> Result<(u32, u32), String> {
    let ip = |x: &str| {
        x.parse::<std::net::Ipv4Addr>()
            .map(u32::from)
            .map_err(|_| format!("bad address `{x}`"))
    };
    if let Some((a, len)) = s.split_once('/') {
        let len: u32 = len.parse().map_err(|_| format!("bad prefix `{s}`"))?;
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let lo = ip(a)? & mask;
        return Ok((lo, lo | !mask));
    }
    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
    Ok((ip(lo)?, ip(hi)?))
}

/// `All connections`, or `{protocols:TCP,UDP,dst_ports:80,90-99}`; anything else
/// (methods, paths, ICMP) is not a port set. The maps are compared on their TCP, UDP and
/// SCTP projection: the analyzer's ICMP output is not read here (its ICMP testcases,
/// 13-14, are excluded by the data set's README), so `All connections` is every TCP, UDP
/// and SCTP port and kubeseg's `ICMP`/`ICMPv6` keys are left out (`nca_calico.rs`).
pub fn connections(s: &str) -> Result<PortSet, String> {
    if s == "All connections" {
        return Ok(PortSet::all_ported());
    }
    // The analyzer's complement form (`All but {protocols:TCP}`), as it prints live.
    if let Some(rest) = s.strip_prefix("All but ") {
        return Ok(PortSet::all_ported().difference(&connections(rest)?));
    }
    // Several sets at once (`{protocols:UDP,dst_ports:53},{protocols:TCP}`).
    if let Some((first, rest)) = s.split_once("},{") {
        return Ok(connections(&format!("{first}}}"))?.union(&connections(&format!("{{{rest}"))?));
    }
    let body = s
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| format!("unknown connections `{s}`"))?;
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    for token in body.split(',').map(str::trim) {
        match token.split_once(':') {
            Some((k, v)) => fields.push((k.to_string(), vec![v.to_string()])),
            None => fields
                .last_mut()
                .ok_or("a value before any key")?
                .1
                .push(token.to_string()),
        }
    }
    let mut protocols = vec![Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
    let mut ports: Option<Vec<(u16, u16)>> = None;
    for (k, vs) in fields {
        match k.as_str() {
            "protocols" => {
                protocols = vs
                    .iter()
                    .map(|p| Protocol::parse(p).ok_or_else(|| format!("protocol `{p}`")))
                    .collect::<Result<_, _>>()?
            }
            "dst_ports" => {
                ports = Some(
                    vs.iter()
                        .map(|r| {
                            let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                            Ok((
                                lo.parse().map_err(|_| format!("port `{r}`"))?,
                                hi.parse().map_err(|_| format!("port `{r}`"))?,
                            ))
                        })
                        .collect::<Result<_, String>>()?,
                )
            }
            other => return Err(format!("unsupported connection property `{other}`")),
        }
    }
    let mut set = PortSet::empty();
    for p in protocols {
        for &(lo, hi) in ports.as_deref().unwrap_or(&[(1, 65535)]) {
            set = set.union(&PortSet::range(p, lo, hi));
        }
    }
    Ok(set)
}

/// The analyzer's pod expressions: `*`, a pod or owner name, `has(k)`, `!has(k)`,
/// `k=v`, `k!=v` (the label is present with another value: the analyzer writes
/// `!has(k) or (has(k) and k!=v)` for the other reading), `k in (a,b)`,
/// `k not in (a,b)`, joined by `and`, `or`, parentheses, and top-level commas (or).
#[derive(Debug)]
pub enum Expr {
    All,
    Name(String),
    Has(String, bool),
    Eq(String, String, bool),
    In(String, Vec<String>, bool),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    pub fn parse(s: &str) -> Result<Expr, String> {
        let tokens = tokenize(s);
        let mut pos = 0;
        let e = or(&tokens, &mut pos)?;
        if pos != tokens.len() {
            return Err(format!("trailing `{}` in `{s}`", tokens[pos..].join(" ")));
        }
        Ok(e)
    }

    pub fn matches(&self, pod: &Pod) -> bool {
        let get = |k: &String| pod.labels.get(k);
        match self {
            Expr::All => true,
            Expr::Name(n) => &pod.name == n || pod.owner.as_ref() == Some(n),
            Expr::Has(k, yes) => get(k).is_some() == *yes,
            Expr::Eq(k, v, yes) => get(k).is_some_and(|x| (x == v) == *yes),
            Expr::In(k, vs, yes) => match get(k) {
                Some(x) => vs.contains(x) == *yes,
                None => !*yes,
            },
            Expr::And(es) => es.iter().all(|e| e.matches(pod)),
            Expr::Or(es) => es.iter().any(|e| e.matches(pod)),
        }
    }
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' | ',' | ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if c != ' ' {
                    out.push(c.to_string());
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn or(t: &[String], pos: &mut usize) -> Result<Expr, String> {
    let mut es = vec![and(t, pos)?];
    while matches!(t.get(*pos).map(String::as_str), Some("or" | ",")) {
        *pos += 1;
        es.push(and(t, pos)?);
    }
    Ok(if es.len() == 1 {
        es.pop().unwrap()
    } else {
        Expr::Or(es)
    })
}

fn and(t: &[String], pos: &mut usize) -> Result<Expr, String> {
    let mut es = vec![atom(t, pos)?];
    while t.get(*pos).map(String::as_str) == Some("and") {
        *pos += 1;
        es.push(atom(t, pos)?);
    }
    Ok(if es.len() == 1 {
        es.pop().unwrap()
    } else {
        Expr::And(es)
    })
}

fn expect(t: &[String], pos: &mut usize, what: &str) -> Result<(), String> {
    if t.get(*pos).map(String::as_str) == Some(what) {
        *pos += 1;
        Ok(())
    } else {
        Err(format!("expected `{what}` at token {pos}"))
    }
}

fn atom(t: &[String], pos: &mut usize) -> Result<Expr, String> {
    let tok = t.get(*pos).ok_or("unexpected end")?.clone();
    *pos += 1;
    match tok.as_str() {
        "*" => return Ok(Expr::All),
        "(" => {
            let e = or(t, pos)?;
            expect(t, pos, ")")?;
            return Ok(e);
        }
        "has" | "!has" => {
            expect(t, pos, "(")?;
            let k = t.get(*pos).ok_or("has() without key")?.clone();
            *pos += 1;
            expect(t, pos, ")")?;
            return Ok(Expr::Has(k, tok == "has"));
        }
        _ => {}
    }
    if let Some((k, v)) = tok.split_once("!=") {
        return Ok(Expr::Eq(k.into(), v.into(), false));
    }
    if let Some((k, v)) = tok.split_once('=') {
        return Ok(Expr::Eq(k.into(), v.into(), true));
    }
    let negated = t.get(*pos).map(String::as_str) == Some("not");
    let is_in = t.get(*pos + usize::from(negated)).map(String::as_str) == Some("in");
    if !is_in {
        return Ok(Expr::Name(tok));
    }
    *pos += 1 + usize::from(negated);
    expect(t, pos, "(")?;
    let mut vs = Vec::new();
    loop {
        match t.get(*pos).map(String::as_str) {
            Some(")") => {
                *pos += 1;
                break;
            }
            Some(",") => *pos += 1,
            Some(v) => {
                vs.push(v.to_string());
                *pos += 1;
            }
            None => return Err("unclosed `in (`".into()),
        }
    }
    Ok(Expr::In(tok, vs, !negated))
}
