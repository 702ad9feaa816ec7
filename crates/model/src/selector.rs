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
    fn empty_selector_matches_everything() {
        assert!(Selector::default().matches(&labels(&[("a", "b")])));
        assert!(Selector::default().matches(&labels(&[])));
    }
}
