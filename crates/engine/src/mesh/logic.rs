//! Three-valued matching for Istio rules: what the model knows decides, what it does
//! not (a JWT, a header, a remote address) leaves the rule conditional on it.

/// Whether a rule part matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    /// It matches.
    Yes,
    /// It does not.
    No,
    /// It matches if these conditions (as Istio writes them) hold.
    Unknown(Vec<String>),
}

impl Truth {
    /// `a AND b`.
    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::No, _) | (_, Truth::No) => Truth::No,
            (Truth::Yes, t) | (t, Truth::Yes) => t,
            (Truth::Unknown(mut a), Truth::Unknown(b)) => {
                for c in b {
                    if !a.contains(&c) {
                        a.push(c);
                    }
                }
                Truth::Unknown(a)
            }
        }
    }

    /// `a OR b`; of two unknowns the first is kept (either suffices).
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::Yes, _) | (_, Truth::Yes) => Truth::Yes,
            (Truth::No, t) | (t, Truth::No) => t,
            (Truth::Unknown(mut a), Truth::Unknown(b)) => {
                let alt = b.join(" and ");
                let first = a.join(" and ");
                a = vec![format!("({first}) or ({alt})")];
                Truth::Unknown(a)
            }
        }
    }

    /// From a known boolean.
    pub fn of(b: bool) -> Truth {
        if b { Truth::Yes } else { Truth::No }
    }

    /// Whether it may match.
    pub fn possible(&self) -> bool {
        !matches!(self, Truth::No)
    }
}

/// Istio's string match: exact, prefix `abc*`, suffix `*abc`, presence `*` (non-empty).
pub fn string_matches(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return !value.is_empty();
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

/// Whether any pattern matches `value`.
pub fn any_matches(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| string_matches(p, value))
}

/// Host matching is case-insensitive in Istio.
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    patterns
        .iter()
        .any(|p| string_matches(&p.to_ascii_lowercase(), &host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_match_forms() {
        assert!(string_matches("/api", "/api"));
        assert!(!string_matches("/api", "/api/v1"));
        assert!(string_matches("/api/*", "/api/v1"));
        assert!(!string_matches("/api/*", "/ap"));
        assert!(string_matches("*.example.com", "a.example.com"));
        assert!(!string_matches("*.example.com", "example.org"));
        assert!(string_matches("*", "x"));
        assert!(!string_matches("*", ""));
    }

    #[test]
    fn three_valued_logic() {
        let u = Truth::Unknown(vec!["request.auth.principal".into()]);
        assert_eq!(Truth::Yes.and(u.clone()), u);
        assert_eq!(Truth::No.and(u.clone()), Truth::No);
        assert_eq!(Truth::Yes.or(u.clone()), Truth::Yes);
        assert_eq!(Truth::No.or(u.clone()), u);
    }
}
