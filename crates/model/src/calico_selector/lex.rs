//! The tokenizer, following Calico's `tokenizer.AppendTokens`: the whole input is
//! tokenized before parsing, so a lexical error anywhere wins over a syntax error.

use super::{CalicoErrorKind as Kind, CalicoSelectorError as Error, MAX_LABEL_LEN};

/// One token; label and string tokens borrow their text from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    Label(&'a str),
    Str(&'a str),
    Has(&'a str),
    All,
    Global,
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Not,
    LParen,
    RParen,
    And,
    Or,
    Eof,
}

/// A token and the byte offset where it starts.
pub(super) type Spanned<'a> = (Tok<'a>, usize);

/// Tokenizes `input`; the last token is always `Eof`.
pub(super) fn tokenize(input: &str) -> Result<Vec<Spanned<'_>>, Error> {
    let b = input.as_bytes();
    let mut toks: Vec<Spanned<'_>> = Vec::new();
    let mut pos = 0;
    loop {
        pos = skip_ws(b, pos);
        let Some(&c) = b.get(pos) else {
            toks.push((Tok::Eof, pos));
            return Ok(toks);
        };
        let after_label = matches!(toks.last(), Some((Tok::Label(_), _)));
        let next = b.get(pos + 1).copied();
        let (tok, end) = match c {
            b'(' => (Tok::LParen, pos + 1),
            b')' => (Tok::RParen, pos + 1),
            b'{' => (Tok::LBrace, pos + 1),
            b'}' => (Tok::RBrace, pos + 1),
            b',' => (Tok::Comma, pos + 1),
            b'"' | b'\'' => {
                // No escapes: the string ends at the next identical quote.
                let Some(len) = b[pos + 1..].iter().position(|&q| q == c) else {
                    return Err(Error::new(pos, Kind::UnterminatedString));
                };
                (Tok::Str(&input[pos + 1..pos + 1 + len]), pos + len + 2)
            }
            b'=' if next == Some(b'=') => (Tok::Eq, pos + 2),
            b'=' => return Err(Error::new(pos, Kind::ExpectedDoubleEquals)),
            b'!' if next == Some(b'=') => (Tok::Ne, pos + 2),
            b'!' => (Tok::Not, pos + 1),
            b'&' if next == Some(b'&') => (Tok::And, pos + 2),
            b'&' => return Err(Error::new(pos, Kind::ExpectedDoubleAmpersand)),
            b'|' if next == Some(b'|') => (Tok::Or, pos + 2),
            b'|' => return Err(Error::new(pos, Kind::ExpectedDoublePipe)),
            // Right after a label only an operator may follow, so words are keywords here.
            _ if after_label => operator(b, pos)?,
            _ if b[pos..].starts_with(b"has(") => {
                let start = skip_ws(b, pos + 4);
                let end = cut_identifier(b, start)?;
                let close = skip_ws(b, end);
                if b.get(close) != Some(&b')') {
                    return Err(Error::new(close, Kind::MissingCloseParen("has(")));
                }
                (Tok::Has(&input[start..end]), close + 1)
            }
            _ if b[pos..].starts_with(b"all(") => empty_call(b, pos, "all(", Tok::All)?,
            _ if b[pos..].starts_with(b"global(") => empty_call(b, pos, "global(", Tok::Global)?,
            _ => {
                let end = cut_identifier(b, pos)?;
                (Tok::Label(&input[pos..end]), end)
            }
        };
        toks.push((tok, pos));
        pos = end;
    }
}

/// Skips spaces and tabs only (Calico's `trimWhitespace`): a newline is not whitespace.
fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while matches!(b.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}

/// The label characters of Calico's `identifierChar`.
fn identifier_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')
}

/// A keyword ends where no label character follows (`isWordBoundary`).
fn word_boundary(b: &[u8], pos: usize) -> bool {
    b.get(pos).is_none_or(|&c| !identifier_char(c))
}

/// Returns the end of the label starting at `pos` (`cutIdentifier`).
fn cut_identifier(b: &[u8], pos: usize) -> Result<usize, Error> {
    let len = b[pos..].iter().take_while(|&&c| identifier_char(c)).count();
    match len {
        0 => Err(Error::new(pos, Kind::ExpectedLabel)),
        n if n > MAX_LABEL_LEN => Err(Error::new(pos, Kind::LabelTooLong)),
        n => Ok(pos + n),
    }
}

/// Lexes `all()` or `global()`: space is allowed inside the parentheses, not before.
fn empty_call<'a>(
    b: &[u8],
    pos: usize,
    word: &'static str,
    tok: Tok<'a>,
) -> Result<(Tok<'a>, usize), Error> {
    let close = skip_ws(b, pos + word.len());
    if b.get(close) != Some(&b')') {
        return Err(Error::new(close, Kind::MissingCloseParen(word)));
    }
    Ok((tok, close + 1))
}

/// Lexes the operator after a label, in Calico's order of attempts.
fn operator<'a>(b: &[u8], pos: usize) -> Result<(Tok<'a>, usize), Error> {
    if let Some(end) = keyword(b, pos, "contains") {
        return Ok((Tok::Contains, end));
    }
    let words: [(&[&str], Tok<'a>); 3] = [
        (&["starts", "with"], Tok::StartsWith),
        (&["ends", "with"], Tok::EndsWith),
        (&["not", "in"], Tok::NotIn),
    ];
    for (words, tok) in words {
        if let Some(end) = keywords(b, pos, words) {
            return Ok((tok, end));
        }
    }
    if let Some(end) = keyword(b, pos, "in") {
        return Ok((Tok::In, end));
    }
    Err(Error::new(pos, Kind::ExpectedOperator))
}

/// Matches one keyword followed by a word boundary (`cutPrefixCheckBreak`).
fn keyword(b: &[u8], pos: usize, word: &str) -> Option<usize> {
    let end = pos + word.len();
    (b[pos..].starts_with(word.as_bytes()) && word_boundary(b, end)).then_some(end)
}

/// Matches keywords separated by optional spaces and tabs, with a word boundary after
/// the trailing whitespace (`cutMultiWordPrefixCheckBreak`): `notin` is accepted too.
fn keywords(b: &[u8], pos: usize, words: &[&str]) -> Option<usize> {
    let mut end = pos;
    for word in words {
        if !b[end..].starts_with(word.as_bytes()) {
            return None;
        }
        end = skip_ws(b, end + word.len());
    }
    word_boundary(b, end).then_some(end)
}
