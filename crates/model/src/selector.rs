//! Label selectors (`metav1.LabelSelector`) and label maps.

use std::collections::BTreeMap;

/// Labels of an object, sorted by key.
pub type Labels = BTreeMap<String, String>;

/// A selector operator of `matchExpressions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl Operator {
    /// Parses the Kubernetes spelling.
    pub fn parse(s: &str) -> Option<Operator> {
        match s {
            "In" => Some(Operator::In),
            "NotIn" => Some(Operator::NotIn),
            "Exists" => Some(Operator::Exists),
            "DoesNotExist" => Some(Operator::DoesNotExist),
            _ => None,
        }
    }
}

/// One entry of `matchExpressions`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values (sorted); empty for Exists and DoesNotExist.
    pub values: Vec<String>,
}

/// A label selector: every `matchLabels` entry AND every requirement must hold.
/// The empty selector matches everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Selector {
    /// `matchLabels`, sorted by key.
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`, in input order.
    pub match_expressions: Vec<Requirement>,
}

impl Selector {
    /// Whether the selector is `{}` (matches every object).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy the selector, straight from the API definition.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

impl Selector {
    /// Parses the `kubectl -l` syntax: comma-separated `k=v`, `k==v`, `k!=v`, `k`, `!k`,
    /// `k in (a,b)` and `k notin (a,b)`. The empty string is the empty selector.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut sel = Selector::default();
        let mut rest = text.trim();
        while !rest.is_empty() {
            // One term ends at a comma outside parentheses.
            let mut depth = 0i32;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += i32::from(c == '(') - i32::from(c == ')');
                    c == ',' && depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            sel.push_term(rest[..end].trim())?;
            rest = rest[end..].trim_start_matches(',').trim();
        }
        sel.match_labels.sort();
        Ok(sel)
    }

    fn push_term(&mut self, term: &str) -> Result<(), String> {
        let bad_key = |k: &str| k.is_empty() || k.contains(char::is_whitespace);
        let requirement =
            |key: &str, operator, values: Vec<String>| -> Result<Requirement, String> {
                if bad_key(key) {
                    return Err(format!("invalid label key in `{term}`"));
                }
                let mut values = values;
                values.sort();
                Ok(Requirement {
                    key: key.to_string(),
                    operator,
                    values,
                })
            };
        if let Some(key) = term.strip_prefix('!') {
            let r = requirement(key.trim(), Operator::DoesNotExist, vec![])?;
            self.match_expressions.push(r);
        } else if let Some((key, value)) = term.split_once("!=") {
            let r = requirement(key.trim(), Operator::NotIn, vec![value.trim().to_string()])?;
            self.match_expressions.push(r);
        } else if let Some((key, value)) = term.split_once('=') {
            let key = key.trim();
            let value = value.trim_start_matches('=').trim();
            if bad_key(key) || value.contains(char::is_whitespace) {
                return Err(format!("invalid term `{term}`"));
            }
            self.match_labels.push((key.to_string(), value.to_string()));
        } else if let Some(open) = term.find('(') {
            let head: Vec<&str> = term[..open].split_whitespace().collect();
            let body = term[open + 1..]
                .strip_suffix(')')
                .ok_or_else(|| format!("missing `)` in `{term}`"))?;
            let values: Vec<String> = body
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            let operator = match head.as_slice() {
                [_, "in"] => Operator::In,
                [_, "notin"] => Operator::NotIn,
                _ => {
                    return Err(format!(
                        "expected `key in (...)` or `key notin (...)`, found `{term}`"
                    ));
                }
            };
            if values.is_empty() {
                return Err(format!("no values in `{term}`"));
            }
            let r = requirement(head[0], operator, values)?;
            self.match_expressions.push(r);
        } else {
            let r = requirement(term, Operator::Exists, vec![])?;
            self.match_expressions.push(r);
        }
        Ok(())
    }
}

impl std::fmt::Display for Selector {
    /// Renders like `kubectl`: `app=web,tier in (a,b),!debug`, or `{}` for the empty selector.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("{}");
        }
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.match_expressions {
            parts.push(match r.operator {
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            });
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, operator: Operator, values: &[&str]) -> Selector {
        Selector {
            match_labels: vec![],
            match_expressions: vec![Requirement {
                key: key.into(),
                operator,
                values: values.iter().map(|v| v.to_string()).collect(),
            }],
        }
    }

    #[test]
    fn notin_and_doesnotexist_match_objects_without_the_key() {
        let none = labels(&[]);
        assert!(expr("env", Operator::NotIn, &["prod"]).matches(&none));
        assert!(expr("env", Operator::DoesNotExist, &[]).matches(&none));
        assert!(!expr("env", Operator::In, &["prod"]).matches(&none));
        assert!(!expr("env", Operator::Exists, &[]).matches(&none));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let mut s = expr("tier", Operator::In, &["web", "api"]);
        s.match_labels.push(("app".into(), "shop".into()));
        assert!(s.matches(&labels(&[("app", "shop"), ("tier", "web")])));
        assert!(!s.matches(&labels(&[("app", "shop"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "blog"), ("tier", "web")])));
    }

    #[test]
    fn parses_the_kubectl_syntax() {
        let s = Selector::parse("tier in (db, cache),app=pay,!debug,env!=dev,team").unwrap();
        assert_eq!(
            s.to_string(),
            "app=pay,tier in (cache,db),!debug,env notin (dev),team"
        );
        assert!(s.matches(&labels(&[("app", "pay"), ("tier", "db"), ("team", "x")])));
        assert!(!s.matches(&labels(&[
            ("app", "pay"),
            ("tier", "db"),
            ("team", "x"),
            ("debug", "1")
        ])));
        assert_eq!(Selector::parse("").unwrap(), Selector::default());
        assert_eq!(
            Selector::parse("a==b").unwrap().match_labels,
            vec![("a".into(), "b".into())]
        );
        for bad in ["a in (", "a in ()", "x y", "a foo (b)", "=b"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(Selector::default().matches(&labels(&[("a", "b")])));
        assert!(Selector::default().matches(&labels(&[])));
    }
}
