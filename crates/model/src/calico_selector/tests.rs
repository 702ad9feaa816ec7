use super::{CalicoErrorKind as K, CalicoSelector as S, MAX_DEPTH, MAX_LABEL_LEN};
use crate::selector::Labels;
use proptest::prelude::*;

fn p(s: &str) -> S {
    S::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> (K, usize) {
    match S::parse(s) {
        Ok(sel) => panic!("{s:?} parsed as {sel}"),
        Err(e) => (e.kind, e.offset),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn eq(k: &str, v: &str) -> S {
    S::Eq(k.into(), v.into())
}

fn set(vs: &[&str]) -> super::ValueSet {
    vs.iter().map(|v| v.to_string()).collect()
}

// Design doc section 5, cases 1 to 12.

#[test]
fn case01_and_binds_tighter_than_or() {
    // parser.go parseOrExpression calls parseAndExpression for each `||` operand.
    let want = S::Or(vec![eq("a", "x"), S::And(vec![eq("b", "y"), eq("c", "z")])]);
    assert_eq!(p("a == 'x' || b == 'y' && c == 'z'"), want);
}

#[test]
fn case02_not_binds_to_one_comparison() {
    // parser.go parseOperation wraps only the operation it parsed in a NotNode.
    let want = S::And(vec![S::Not(Box::new(eq("a", "x"))), eq("b", "y")]);
    assert_eq!(p("!a == 'x' && b == 'y'"), want);
}

#[test]
fn case03_negations_toggle() {
    // parser.go parseOperation flips `negated` once per TokNot.
    assert_eq!(p("!!has(a)"), S::Has("a".into()));
    assert_eq!(p("!! ! has(a)"), S::Not(Box::new(S::Has("a".into()))));
}

#[test]
fn case04_ne_matches_missing_label() {
    // ast.go LabelNeValueNode.Evaluate returns true when the label is absent.
    assert!(p("env != 'prod'").matches(&labels(&[])));
    assert!(!p("env != 'prod'").matches(&labels(&[("env", "prod")])));
}

#[test]
fn case05_not_in_matches_missing_and_empty_in_matches_nothing() {
    // ast.go LabelNotInSetNode.Evaluate returns true when absent; StringSet{} holds nothing.
    assert!(p("env not in {'a'}").matches(&labels(&[])));
    assert!(!p("env in {}").matches(&labels(&[])));
    assert!(!p("env in {}").matches(&labels(&[("env", "")])));
}

#[test]
fn case06_substring_operators_false_on_missing() {
    // ast.go Label{Contains,StartsWith,EndsWith}ValueNode.Evaluate return false when absent.
    for s in [
        "env contains 'p'",
        "env starts with 'p'",
        "env ends with 'p'",
    ] {
        assert!(!p(s).matches(&labels(&[])), "{s}");
        assert!(p(s).matches(&labels(&[("env", "p")])), "{s}");
    }
}

#[test]
fn case07_quotes() {
    // tokenizer.go AppendTokens: a string ends at the next identical quote, or errors.
    assert_eq!(p(r#"a == "it's""#), eq("a", "it's"));
    assert_eq!(err("a == 'x"), (K::UnterminatedString, 5));
}

#[test]
fn case08_newline_is_an_error_tab_is_not() {
    // tokenizer.go trimWhitespace skips only ' ' and '\t'; '\n' then fails cutIdentifier.
    assert_eq!(err("a == 'x'\n"), (K::ExpectedLabel, 8));
    assert_eq!(err("a ==\n'x'"), (K::ExpectedLabel, 4));
    assert_eq!(
        p("\ta\t==\t'x'\t&&\thas(b)\t"),
        S::And(vec![eq("a", "x"), S::Has("b".into())])
    );
    // Inside quotes a newline is plain content (strings.Index looks only for the quote).
    assert_eq!(p("a == 'x\ny'"), eq("a", "x\ny"));
}

#[test]
fn case09_has_needs_the_paren_right_after() {
    // tokenizer.go AppendTokens matches the prefix "has(", else lexes the label `has`.
    assert_eq!(err("has (a)"), (K::ExpectedOperator, 4));
    assert_eq!(p("has( a )"), S::Has("a".into()));
    assert_eq!(err("all ()"), (K::ExpectedOperator, 4));
    assert_eq!(p("global( )"), S::Global);
}

#[test]
fn case10_trailing_comma_in_set() {
    // parser.go parseOperation: a non-string after a comma ends the loop, then `}` is
    // checked, so Calico ACCEPTS `{'x',}` (the design doc says it is an error).
    assert_eq!(p("a in {'x',}"), S::In("a".into(), set(&["x"])));
    assert_eq!(err("a in {,}"), (K::ExpectedCloseBrace, 6));
    assert_eq!(err("a in {'x',,}"), (K::ExpectedCloseBrace, 10));
    assert_eq!(err("a in {'x' 'y'}"), (K::ExpectedCloseBrace, 10));
}

#[test]
fn case11_label_characters() {
    // tokenizer.go identifierChar: [a-zA-Z0-9_./-].
    assert_eq!(p("a/b.c-d_e == 'v'"), eq("a/b.c-d_e", "v"));
    assert_eq!(err("a:b == 'v'"), (K::ExpectedOperator, 1));
    assert_eq!(err("has(a:b)"), (K::MissingCloseParen("has("), 5));
}

#[test]
fn case12_empty_selector_is_all() {
    // parser.go parseRoot: a first token of EOF gives AllNode; scoping is the front end's.
    assert_eq!(p(""), S::All);
    assert_eq!(p(" \t "), S::All);
    assert!(p("").matches(&labels(&[("x", "y")])));
}

// Lexing details read from tokenizer.go.

#[test]
fn multi_word_operators_allow_any_spacing() {
    // cutMultiWordPrefixCheckBreak trims optional whitespace between the words.
    assert_eq!(p("a notin {'x'}"), S::NotIn("a".into(), set(&["x"])));
    assert_eq!(p("a not \t in{'x'}"), S::NotIn("a".into(), set(&["x"])));
    assert_eq!(p("a startswith'x'"), S::StartsWith("a".into(), "x".into()));
    assert_eq!(p("a ends  with 'x'"), S::EndsWith("a".into(), "x".into()));
    assert_eq!(p("a contains'x'"), S::Contains("a".into(), "x".into()));
}

#[test]
fn keywords_end_at_a_word_boundary() {
    // isWordBoundary: a label character right after a keyword makes it no keyword.
    assert_eq!(err("a inx {'x'}"), (K::ExpectedOperator, 2));
    assert_eq!(err("a containsx 'x'"), (K::ExpectedOperator, 2));
    assert_eq!(err("a ends with x"), (K::ExpectedOperator, 2));
    // Keywords are labels where no label precedes them.
    assert_eq!(
        p("in == 'x' && contains in {}"),
        S::And(vec![eq("in", "x"), S::In("contains".into(), set(&[]))])
    );
}

#[test]
fn label_length_limit() {
    let ok = "k".repeat(MAX_LABEL_LEN);
    assert_eq!(p(&format!("has({ok})")), S::Has(ok.clone()));
    assert_eq!(err(&format!("{ok}x == 'v'")), (K::LabelTooLong, 0));
    assert_eq!(err(&format!("has( {ok}x)")), (K::LabelTooLong, 5));
}

#[test]
fn calico_bad_selectors_fail() {
    // The `badSelectors` list of Calico's parser_test.go.
    let bad = [
        "b == b",
        "b contains b",
        "b starts with b",
        "b ends with b",
        "'b1' == b",
        "b",
        "a b",
        "!",
        "foo == \"bar\" &",
        "foo == \"bar\" |",
        "foo != ||",
        "foo in {\"\", ||",
        "foo in \"\"",
        "\"FOO",
        "\"FOO'",
        "'FOO",
        "(",
        "(a == \"foo\"",
        ")",
        "()",
        "%",
        "a == \"b\" && %",
        "a == \"b\" || %",
        "a ",
        "has(foo) &&",
    ];
    for s in bad {
        assert!(S::parse(s).is_err(), "{s:?} parsed");
    }
}

#[test]
fn error_positions() {
    assert_eq!(err("a == 'x' b == 'y'"), (K::TrailingContent, 9));
    assert_eq!(err("(a == 'x'"), (K::ExpectedCloseParen, 9));
    assert_eq!(err("a =="), (K::ExpectedString, 4));
    assert_eq!(err("a"), (K::UnexpectedEnd, 1));
    assert_eq!(err("a in 'x'"), (K::ExpectedSet, 5));
    assert_eq!(err("a = 'x'"), (K::ExpectedDoubleEquals, 2));
    assert_eq!(err("has(a) & has(b)"), (K::ExpectedDoubleAmpersand, 7));
    assert_eq!(err("all( x"), (K::MissingCloseParen("all("), 5));
    assert_eq!(err("é == 'x'"), (K::ExpectedLabel, 0));
    // The tokenizer runs first, so a lexical error wins over an earlier syntax error.
    assert_eq!(err(") == 'x' %"), (K::ExpectedLabel, 9));
    let msg = S::parse("a == 'x").unwrap_err().to_string();
    assert_eq!(msg, "unterminated string at byte 5");
}

// Printing: Calico's canonicalisationTests plus our own, then round trips.

#[test]
fn canonical_form() {
    let cases = [
        ("", "all()"),
        (" (all() )", "all()"),
        ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
        (
            "! (a == \"b\"&&! c != \"d\")",
            "!(a == \"b\" && !c != \"d\")",
        ),
        ("a == '\"'", "a == '\"'"),
        ("a startswith '\"'", "a starts with '\"'"),
        ("a endswith \"'\"", "a ends with \"'\""),
        ("a!='\"'", "a != '\"'"),
        (
            "a in {\"z\", \"z\", \"x\", 'a'}",
            "a in {\"a\", \"x\", \"z\"}",
        ),
        ("a not in {}", "a not in {}"),
        (
            "a == 'x' || b == 'y' && c == 'z'",
            "(a == \"x\" || (b == \"y\" && c == \"z\"))",
        ),
        (
            "((a == 'x') && b == 'y') && c == 'z'",
            "((a == \"x\" && b == \"y\") && c == \"z\")",
        ),
        (
            "!global() && a contains ''",
            "(!global() && a contains \"\")",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(p(input).to_string(), want, "{input:?}");
    }
}

#[test]
fn round_trips() {
    let inputs = [
        "",
        "all()",
        "global()",
        "has(a)",
        "!has(a)",
        "a == \"'\"",
        "a != '\"'",
        "a in {'x', \"y'\", '\"'}",
        "a not in {}",
        "!(a == 'x' || !(b in {'1'} && has(c)))",
        "a starts with 'p' && a ends with 's' || a contains ''",
        "((a == 'x'))",
        "!!!(has(a) && has(b)) || !all()",
    ];
    for input in inputs {
        let sel = p(input);
        assert_eq!(p(&sel.to_string()), sel, "{input:?} printed as {sel}");
    }
}

// Evaluation: every operator with the label present (matching or not) and missing.

#[test]
fn evaluation_per_operator() {
    let present = labels(&[("k", "abc")]);
    let other = labels(&[("k", "zzz")]);
    let missing = labels(&[("j", "abc")]);
    // (selector, with k=abc, with k=zzz, without k)
    let cases = [
        ("all()", true, true, true),
        ("global()", true, true, true),
        ("has(k)", true, true, false),
        ("!has(k)", false, false, true),
        ("k == 'abc'", true, false, false),
        ("k != 'abc'", false, true, true),
        ("k contains 'b'", true, false, false),
        ("k starts with 'ab'", true, false, false),
        ("k ends with 'bc'", true, false, false),
        ("k in {'abc', 'x'}", true, false, false),
        ("k not in {'abc', 'x'}", false, true, true),
        ("k in {}", false, false, false),
        ("k not in {}", true, true, true),
        ("!k == 'abc'", false, true, true),
        ("has(k) && k != 'zzz'", true, false, false),
        ("has(j) || k == 'zzz'", false, true, true),
    ];
    for (s, a, b, c) in cases {
        let sel = p(s);
        assert_eq!(
            [
                sel.matches(&present),
                sel.matches(&other),
                sel.matches(&missing)
            ],
            [a, b, c],
            "{s}"
        );
    }
}

// Helpers for the Calico front end.

#[test]
fn and_keys_and_prefix() {
    let sel = p("a == 'x' || b == 'y'").and(p("has(c) && all()"));
    assert_eq!(
        sel.to_string(),
        "((a == \"x\" || b == \"y\") && (has(c) && all()))"
    );
    // The same tree Calico gets from its own string join, `(%s) && %s`.
    assert_eq!(sel, p("(a == 'x' || b == 'y') && (has(c) && all())"));
    assert!(sel.matches(&labels(&[("a", "x"), ("c", "")])));
    assert!(!sel.matches(&labels(&[("a", "x")])));
    let sel = p("b == 'v' && !(a in {} || has(b)) && global()");
    assert_eq!(sel.label_keys().into_iter().collect::<Vec<_>>(), ["a", "b"]);
    assert!(p("all() || global()").label_keys().is_empty());
    let prefixed = p("a == 'x' && !has(b) || all()").with_key_prefix("pcns.");
    assert_eq!(
        prefixed.to_string(),
        "((pcns.a == \"x\" && !has(pcns.b)) || all())"
    );
}

// Hostile input: never a panic, depth bounded.

#[test]
fn odd_inputs_never_panic() {
    let deep = format!("{}has(a){}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(p(&deep), S::Has("a".into()));
    let too_deep = format!("({deep})");
    assert_eq!(err(&too_deep), (K::TooDeep, MAX_DEPTH));
    assert_eq!(err(&"(".repeat(1_000_000)), (K::TooDeep, MAX_DEPTH));
    assert_eq!(err(&"!(".repeat(100_000)), (K::TooDeep, 2 * MAX_DEPTH + 1));
    assert_eq!(
        p(&format!("{}all()", "!".repeat(100_001))),
        S::Not(Box::new(S::All))
    );
    let long_chain = vec!["a == 'x'"; 50_000].join(" && ");
    assert!(matches!(p(&long_chain), S::And(v) if v.len() == 50_000));
    let odd = [
        "\0",
        "'",
        "\"",
        "{",
        "}",
        ",",
        "==",
        "!=",
        "&&",
        "||",
        "!",
        "(",
        ")",
        "a in",
        "a in {",
        "a in {'x'",
        "a not",
        "a not in",
        "a starts",
        "a starts with",
        "has(",
        "has()",
        "has(a",
        "all(",
        "global(x)",
        "é",
        "a == 'é'",
        "a\u{00a0}== 'x'",
        "a == 'x' &&",
        "|| a == 'x'",
        "\r",
        "a\r== 'x'",
        "🙂",
        "has(🙂)",
        "a == '🙂",
        "a in {'x' 'y'}",
        "a in {'x',,'y'}",
    ];
    for s in odd {
        let _ = S::parse(s);
    }
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,64}") {
        let _ = S::parse(&s);
    }

    #[test]
    fn selector_like_strings_never_panic(s in "[a-c !&|()'\"{},=\t]{0,40}|(has\\(|all\\(| in | not in |==|'x'){0,12}") {
        if let Ok(sel) = S::parse(&s) {
            prop_assert_eq!(p(&sel.to_string()), sel);
        }
    }

    #[test]
    fn printed_trees_parse_back(sel in arb_selector()) {
        prop_assert_eq!(p(&sel.to_string()), sel);
    }
}

/// Trees in the shape parsing produces: no `!!`, and `&&`/`||` lists of two or more.
fn arb_selector() -> impl Strategy<Value = S> {
    let key = "[a-zA-Z0-9_./-]{1,6}";
    let value = "[a-z' ]{0,4}|[a-z\" ]{0,4}";
    let leaf = prop_oneof![
        Just(S::All),
        Just(S::Global),
        key.prop_map(S::Has),
        (key, value).prop_map(|(k, v)| S::Eq(k, v)),
        (key, value).prop_map(|(k, v)| S::Ne(k, v)),
        (key, value).prop_map(|(k, v)| S::Contains(k, v)),
        (key, value).prop_map(|(k, v)| S::StartsWith(k, v)),
        (key, value).prop_map(|(k, v)| S::EndsWith(k, v)),
        (key, proptest::collection::btree_set(value, 0..3)).prop_map(|(k, v)| S::In(k, v)),
        (key, proptest::collection::btree_set(value, 0..3)).prop_map(|(k, v)| S::NotIn(k, v)),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_filter_map("no double negation", |x| match x {
                    S::Not(_) => None,
                    x => Some(S::Not(Box::new(x))),
                }),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(S::And),
            proptest::collection::vec(inner, 2..4).prop_map(S::Or),
        ]
    })
}
