//! The recursive-descent parser, following Calico's `parser.go` (`parseRoot`,
//! `parseOrExpression`, `parseAndExpression`, `parseOperation`).

use super::lex::{Spanned, Tok, tokenize};
use super::{CalicoErrorKind as Kind, CalicoSelector as Sel, CalicoSelectorError as Error};
use super::{MAX_DEPTH, ValueSet};

/// Parses a whole selector; the empty selector is `all()` (`parseRoot`).
pub(super) fn parse(input: &str) -> Result<Sel, Error> {
    let toks = tokenize(input)?;
    if toks[0].0 == Tok::Eof {
        return Ok(Sel::All);
    }
    let mut p = Parser { toks, at: 0 };
    let sel = p.or(0)?;
    match p.peek() {
        Tok::Eof => Ok(sel),
        _ => Err(p.error(Kind::TrailingContent)),
    }
}

struct Parser<'a> {
    toks: Vec<Spanned<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    /// The current token; the trailing `Eof` is never consumed, so this cannot run out.
    fn peek(&self) -> Tok<'a> {
        self.toks[self.at].0
    }

    fn error(&self, kind: Kind) -> Error {
        Error::new(self.toks[self.at].1, kind)
    }

    /// `or := and ("||" and)*`, kept as a flat list as Calico does.
    fn or(&mut self, depth: usize) -> Result<Sel, Error> {
        let mut terms = vec![self.and(depth)?];
        while self.peek() == Tok::Or {
            self.at += 1;
            terms.push(self.and(depth)?);
        }
        Ok(one_or_many(terms, Sel::Or))
    }

    /// `and := op ("&&" op)*`, kept as a flat list as Calico does.
    fn and(&mut self, depth: usize) -> Result<Sel, Error> {
        let mut terms = vec![self.operation(depth)?];
        while self.peek() == Tok::And {
            self.at += 1;
            terms.push(self.operation(depth)?);
        }
        Ok(one_or_many(terms, Sel::And))
    }

    /// `op := "!"* atom`: every `!` toggles one negation.
    fn operation(&mut self, depth: usize) -> Result<Sel, Error> {
        let mut negated = false;
        while self.peek() == Tok::Not {
            negated = !negated;
            self.at += 1;
        }
        let sel = self.atom(depth)?;
        Ok(if negated {
            Sel::Not(Box::new(sel))
        } else {
            sel
        })
    }

    fn atom(&mut self, depth: usize) -> Result<Sel, Error> {
        let tok = self.peek();
        self.at += 1;
        match tok {
            Tok::Has(key) => Ok(Sel::Has(key.to_string())),
            Tok::All => Ok(Sel::All),
            Tok::Global => Ok(Sel::Global),
            Tok::Label(key) => self.comparison(key),
            Tok::LParen => {
                // Only parentheses nest, so bounding them bounds the recursion.
                if depth >= MAX_DEPTH {
                    self.at -= 1;
                    return Err(self.error(Kind::TooDeep));
                }
                let sel = self.or(depth + 1)?;
                if self.peek() != Tok::RParen {
                    return Err(self.error(Kind::ExpectedCloseParen));
                }
                self.at += 1;
                Ok(sel)
            }
            _ => {
                self.at -= 1;
                Err(self.error(Kind::UnexpectedToken))
            }
        }
    }

    /// The rest of `label <op> <string>` or `label [not] in {...}`, the label consumed.
    fn comparison(&mut self, key: &str) -> Result<Sel, Error> {
        // Calico wants an operator and one more token before looking at either.
        if self.toks.len() - self.at < 2 {
            return Err(self.error(Kind::UnexpectedEnd));
        }
        let op = self.peek();
        self.at += 1;
        let key = key.to_string();
        let value = |p: &mut Self| match p.peek() {
            Tok::Str(v) => {
                p.at += 1;
                Ok(v.to_string())
            }
            _ => Err(p.error(Kind::ExpectedString)),
        };
        match op {
            Tok::Eq => Ok(Sel::Eq(key, value(self)?)),
            Tok::Ne => Ok(Sel::Ne(key, value(self)?)),
            Tok::Contains => Ok(Sel::Contains(key, value(self)?)),
            Tok::StartsWith => Ok(Sel::StartsWith(key, value(self)?)),
            Tok::EndsWith => Ok(Sel::EndsWith(key, value(self)?)),
            Tok::In => Ok(Sel::In(key, self.set()?)),
            Tok::NotIn => Ok(Sel::NotIn(key, self.set()?)),
            _ => {
                self.at -= 1;
                Err(self.error(Kind::ExpectedOperator))
            }
        }
    }

    /// `{ [string ("," string)* [","]] }`: as in Calico, a trailing comma is accepted.
    fn set(&mut self) -> Result<ValueSet, Error> {
        if self.peek() != Tok::LBrace {
            return Err(self.error(Kind::ExpectedSet));
        }
        self.at += 1;
        let mut values = ValueSet::new();
        while let Tok::Str(v) = self.peek() {
            values.insert(v.to_string());
            self.at += 1;
            if self.peek() != Tok::Comma {
                break;
            }
            self.at += 1;
        }
        if self.peek() != Tok::RBrace {
            return Err(self.error(Kind::ExpectedCloseBrace));
        }
        self.at += 1;
        Ok(values)
    }
}

/// One term stands alone; several form the list node, as in Calico.
fn one_or_many(mut terms: Vec<Sel>, list: fn(Vec<Sel>) -> Sel) -> Sel {
    match terms.len() {
        1 => terms.swap_remove(0),
        _ => list(terms),
    }
}
