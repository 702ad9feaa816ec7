//! The small expression language of operator descriptions: paths into the custom
//! resource, string templates and conditions.
//!
//! - A path is `name`, `namespace`, or dotted keys from the object (`spec.thanos`) or
//!   from the current list item (`item.port`); a key holding dots is quoted:
//!   `item.config["node.roles"]`.
//! - A template is text with `{path}` holes; `{a|b|'text'}` takes the first path that
//!   is set, else the quoted text.
//! - A condition is a list of clauses that must all hold (or clauses joined by
//!   ` && `); a clause is atoms joined by ` || ` (which binds tighter); an atom is `path` (set and not false, 0 or empty), `!path`,
//!   `path exists`, `path missing` (written at all, an empty list included),
//!   `path == v`, `path != v`, `path > n` or `path contains v`.

use crate::tree::{Node, Value};

/// A path into the custom resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Path(Vec<String>);

/// A string with holes.
#[derive(Clone, Debug, PartialEq)]
pub struct Template(Vec<Piece>);

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Hole(Vec<Path>, Option<String>),
}

/// Clauses that must all hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Condition(Vec<Vec<Atom>>);

#[derive(Clone, Debug, PartialEq)]
enum Atom {
    Set(Path, bool),
    Exists(Path, bool),
    Equals(Path, String, bool),
    Greater(Path, i64),
    Contains(Path, String),
}

/// What expressions are evaluated against.
pub struct Env<'n> {
    /// The custom resource's name.
    pub name: &'n str,
    /// Its namespace.
    pub namespace: &'n str,
    /// The custom resource.
    pub object: &'n Node,
    /// The current `forEach` item.
    pub item: Option<&'n Node>,
}

/// A value a path leads to.
enum Found<'n> {
    Text(String),
    Node(&'n Node),
}

impl Path {
    /// Parses `a.b["c.d"].e`.
    pub fn parse(s: &str) -> Result<Path, String> {
        let mut keys = Vec::new();
        let mut rest = s.trim();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("[\"") {
                let end = r
                    .find("\"]")
                    .ok_or_else(|| format!("unclosed `[\"` in `{s}`"))?;
                keys.push(r[..end].to_string());
                rest = &r[end + 2..];
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!("empty key in path `{s}`"));
                }
                keys.push(rest[..end].to_string());
                rest = &rest[end..];
            }
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        if keys.is_empty() {
            return Err("empty path".into());
        }
        Ok(Path(keys))
    }

    fn find<'n>(&self, env: &Env<'n>) -> Option<Found<'n>> {
        let (first, rest) = self.0.split_first()?;
        let mut node = match first.as_str() {
            "name" if rest.is_empty() => return Some(Found::Text(env.name.to_string())),
            "namespace" if rest.is_empty() => {
                return Some(Found::Text(env.namespace.to_string()));
            }
            "item" => env.item?,
            key => env.object.get(key)?,
        };
        for key in rest {
            node = node.get(key)?;
        }
        (!node.is_null()).then_some(Found::Node(node))
    }

    /// The node the path leads to in the object or item.
    pub fn node<'n>(&self, env: &Env<'n>) -> Option<&'n Node> {
        match self.find(env)? {
            Found::Node(n) => Some(n),
            Found::Text(_) => None,
        }
    }

    /// The scalar the path leads to, as text.
    fn text(&self, env: &Env) -> Option<String> {
        match self.find(env)? {
            Found::Text(t) => Some(t),
            Found::Node(n) => scalar(n),
        }
    }
}

fn scalar(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

impl Template {
    /// Parses `text {path|path|'default'} text`.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{s}`"))?;
            let inner = &rest[open + 1..open + close];
            let mut paths = Vec::new();
            let mut default = None;
            for alt in inner.split('|') {
                let alt = alt.trim();
                if let Some(text) = alt.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')) {
                    default = Some(text.to_string());
                } else if default.is_some() {
                    return Err(format!("the quoted default comes last in `{{{inner}}}`"));
                } else {
                    paths.push(Path::parse(alt)?);
                }
            }
            pieces.push(Piece::Hole(paths, default));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    /// The text, or `None` when a hole has no value and no default.
    pub fn render(&self, env: &Env) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Hole(paths, default) => {
                    let v = paths
                        .iter()
                        .find_map(|p| p.text(env))
                        .or_else(|| default.clone())?;
                    out.push_str(&v);
                }
            }
        }
        Some(out)
    }
}

impl Condition {
    /// Parses the clauses.
    pub fn parse(clauses: &[&str]) -> Result<Condition, String> {
        let mut out = Vec::new();
        for clause in clauses.iter().flat_map(|c| c.split(" && ")) {
            let atoms = clause
                .split(" || ")
                .map(atom)
                .collect::<Result<Vec<_>, _>>()?;
            out.push(atoms);
        }
        Ok(Condition(out))
    }

    /// Whether every clause holds.
    pub fn holds(&self, env: &Env) -> bool {
        self.0
            .iter()
            .all(|clause| clause.iter().any(|a| a.holds(env)))
    }
}

fn atom(s: &str) -> Result<Atom, String> {
    let s = s.trim();
    for (op, negate) in [(" == ", false), (" != ", true)] {
        if let Some((p, v)) = s.split_once(op) {
            return Ok(Atom::Equals(Path::parse(p)?, unquote(v), negate));
        }
    }
    if let Some((p, v)) = s.split_once(" > ") {
        let n = v
            .trim()
            .parse()
            .map_err(|_| format!("`{v}` is not a whole number in `{s}`"))?;
        return Ok(Atom::Greater(Path::parse(p)?, n));
    }
    if let Some((p, v)) = s.split_once(" contains ") {
        return Ok(Atom::Contains(Path::parse(p)?, unquote(v)));
    }
    if let Some(p) = s.strip_suffix(" exists") {
        return Ok(Atom::Exists(Path::parse(p)?, false));
    }
    if let Some(p) = s.strip_suffix(" missing") {
        return Ok(Atom::Exists(Path::parse(p)?, true));
    }
    match s.strip_prefix('!') {
        Some(p) => Ok(Atom::Set(Path::parse(p)?, true)),
        None => Ok(Atom::Set(Path::parse(s)?, false)),
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .unwrap_or(v)
        .to_string()
}

impl Atom {
    fn holds(&self, env: &Env) -> bool {
        match self {
            Atom::Set(p, negate) => {
                let set = match p.find(env) {
                    None => false,
                    Some(Found::Text(t)) => !t.is_empty(),
                    Some(Found::Node(n)) => match &n.value {
                        Value::Bool(b) => *b,
                        Value::Int(i) => *i != 0,
                        Value::Str(s) => !s.is_empty(),
                        Value::Seq(s) => !s.is_empty(),
                        Value::Map(m) => !m.is_empty(),
                        Value::Float(f) => *f != 0.0,
                        Value::Null => false,
                    },
                };
                set != *negate
            }
            Atom::Exists(p, negate) => p.find(env).is_some() != *negate,
            Atom::Equals(p, v, negate) => (p.text(env).as_deref() == Some(v)) != *negate,
            Atom::Greater(p, n) => p
                .text(env)
                .and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Atom::Contains(p, v) => p.node(env).is_some_and(|n| match &n.value {
                Value::Seq(items) => items.iter().any(|i| scalar(i).as_deref() == Some(v)),
                _ => false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Node {
        crate::yaml::parse_documents(yaml).unwrap().0.remove(0)
    }

    #[test]
    fn templates_take_the_first_value_that_is_set() {
        let obj = doc("spec: {portName: metrics, count: 3, config: {node.roles: [master]}}\n");
        let env = Env {
            name: "k8s",
            namespace: "mon",
            object: &obj,
            item: None,
        };
        let t = |s: &str| Template::parse(s).unwrap().render(&env);
        assert_eq!(t("prometheus-{name}").as_deref(), Some("prometheus-k8s"));
        assert_eq!(t("{spec.portName|'web'}").as_deref(), Some("metrics"));
        assert_eq!(t("{spec.missing|'web'}").as_deref(), Some("web"));
        assert_eq!(t("{spec.missing|name}").as_deref(), Some("k8s"));
        assert_eq!(t("{spec.missing}"), None);
        assert_eq!(t("{spec.count}").as_deref(), Some("3"));
        let c = |s: &[&str]| Condition::parse(s).unwrap().holds(&env);
        assert!(c(&["spec.count > 2"]));
        assert!(!c(&["spec.count > 3"]));
        assert!(c(&["spec.config[\"node.roles\"] contains master"]));
        assert!(!c(&["spec.config[\"node.roles\"] contains data"]));
        assert!(c(&["spec.config[\"node.roles\"] exists"]));
        assert!(c(&["spec.config.node.roles missing"]));
        assert!(c(&["!spec.thanos"]));
        assert!(c(&["spec.thanos || spec.portName == metrics"]));
        assert!(c(&["spec.count > 2 && spec.portName == metrics"]));
        assert!(!c(&["spec.count > 2 && spec.portName == web"]));
        assert!(!c(&["spec.thanos || spec.portName != metrics"]));
        assert!(
            c(&["spec.missing != x"]),
            "a missing value differs from every value"
        );
        assert!(!c(&["spec.missing == x"]));
        assert!(Template::parse("{unclosed").is_err());
        assert!(Path::parse("a..b").is_err());
    }
}
