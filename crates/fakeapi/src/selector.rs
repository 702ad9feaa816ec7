//! Label and field selectors, in the forms kubectl and kube-rs send.

use serde_json::Value;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector: label requirements and field requirements, all of which must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

impl Selector {
    /// Parses `labelSelector` and `fieldSelector` query values. Fields other than
    /// metadata.name and metadata.namespace are refused, as the real server refuses
    /// fields a resource does not index.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Option<Self>, String> {
        let labels = parse_reqs(labels.unwrap_or(""))?;
        let fields = parse_reqs(fields.unwrap_or(""))?;
        for f in &fields {
            let (Req::Eq(k, _) | Req::NotEq(k, _)) = f else {
                return Err("field selectors support only =, == and !=".into());
            };
            if k != "metadata.name" && k != "metadata.namespace" {
                return Err(format!("field label not supported: {k}"));
            }
        }
        if labels.is_empty() && fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(Selector { labels, fields }))
    }

    /// Whether an object satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| {
            obj.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
        };
        let field = |k: &str| {
            let v = match k {
                "metadata.name" => obj.pointer("/metadata/name"),
                _ => obj.pointer("/metadata/namespace"),
            };
            Some(v.and_then(Value::as_str).unwrap_or(""))
        };
        self.labels.iter().all(|r| holds(r, label)) && self.fields.iter().all(|r| holds(r, field))
    }
}

fn holds<'a>(r: &Req, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    match r {
        Req::Eq(k, v) => get(k) == Some(v),
        Req::NotEq(k, v) => get(k) != Some(v),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    }
}

fn parse_reqs(s: &str) -> Result<Vec<Req>, String> {
    let mut out = Vec::new();
    for part in split_top(s) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let bad = || format!("unable to parse requirement: {part:?}");
        let req = if let Some(k) = part.strip_prefix('!') {
            Req::NotExists(k.trim().to_string())
        } else if let Some((k, v)) = part.split_once("!=") {
            Req::NotEq(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Req::Eq(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Req::NotIn(k.trim().to_string(), set(rest).ok_or_else(bad)?)
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Req::In(k.trim().to_string(), set(rest).ok_or_else(bad)?)
        } else if part.contains([' ', '(', ')']) {
            return Err(bad());
        } else {
            Req::Exists(part.to_string())
        };
        out.push(req);
    }
    Ok(out)
}

fn set(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_requirements() {
        let pod = json!({"metadata": {"name": "a", "namespace": "n", "labels": {"app": "web", "tier": "x"}}});
        let yes = |l: &str, f: &str| {
            Selector::parse(Some(l), Some(f))
                .ok()
                .flatten()
                .is_none_or(|s| s.matches(&pod))
        };
        assert!(yes("app=web,tier in (x, y)", "metadata.name=a"));
        assert!(!yes("app!=web", ""));
        assert!(!yes("", "metadata.namespace==m"));
        assert!(yes("!missing,app", ""));
        assert!(!yes("tier notin (x)", ""));
        assert!(Selector::parse(None, Some("spec.nodeName=x")).is_err());
    }
}
