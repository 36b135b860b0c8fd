//! The compact query-string form, for URLs and people:
//!
//! ```text
//! stage in (proposal, negotiation) and amount gte 100000 and not name contains 'test'
//! (city eq 上海 or city eq 北京) and owner_id is_null false
//! ```
//!
//! Conditions are `field op value`; operators are the JSON ones, and `= != < <= > >=` may stand
//! for `eq ne lt lte gt gte`. Values are numbers, `true`/`false`/`null`, quoted strings ('…' or
//! "…", with the quote doubled to escape it), bare words, or a bracketed list for `in`.
//! `and` binds tighter than `or`; brackets group.
//!
//! About what surrounds a record:
//!
//! ```text
//! has opportunity (amount gt 100000 and is_closed eq false)
//! has_no task via account_id
//! tagged VIP and not in_list 0b9f7c1e-…
//! ```
//!
//! `has`, `has_no`, `tagged` and `in_list` are read as these forms unless an operator follows
//! them (`tagged eq x` is a condition on a field called `tagged`); quote a tag named like an
//! operator.

use serde_json::Value as Json;

use super::{Filter, Op};
use crate::error::{FieldError, FieldErrorCode};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Comma,
}

fn err(msg: impl Into<String>) -> FieldError {
    FieldError::new("filter", FieldErrorCode::InvalidFilter, msg)
}

fn tokenize(input: &str) -> Result<Vec<Token>, FieldError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '\'' | '"' => {
                let quote = c;
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(err("a quoted string is not closed")),
                        Some(ch) if ch == quote => {
                            if chars.peek() == Some(&quote) {
                                chars.next();
                                s.push(quote);
                            } else {
                                break;
                            }
                        }
                        Some(ch) => s.push(ch),
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            '<' | '>' | '=' | '!' => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if "<>=!".contains(ch) {
                        s.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || "(),'\"<>=!".contains(ch) {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                tokens.push(Token::Word(s));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Filter, FieldError> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Filter::Or(items)
        })
    }

    fn and(&mut self) -> Result<Filter, FieldError> {
        let mut items = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Filter::And(items)
        })
    }

    fn unary(&mut self) -> Result<Filter, FieldError> {
        self.depth += 1;
        if self.depth > 32 {
            return Err(err("the filter is nested too deeply"));
        }
        let result = if self.keyword("not") {
            self.pos += 1;
            Ok(Filter::Not(Box::new(self.unary()?)))
        } else if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => Err(err("a '(' is not closed")),
            }
        } else if let Some(kind) = self.surrounding_keyword() {
            self.pos += 1;
            self.surrounding(&kind)
        } else {
            self.condition()
        };
        self.depth -= 1;
        result
    }

    /// `has`, `has_no`, `tagged` or `in_list` when the next token is one of them used as such:
    /// followed by a name that is not an operator.
    fn surrounding_keyword(&self) -> Option<String> {
        let Some(Token::Word(w)) = self.peek() else {
            return None;
        };
        let kw = w.to_ascii_lowercase();
        if !["has", "has_no", "tagged", "in_list"].contains(&kw.as_str()) {
            return None;
        }
        match self.tokens.get(self.pos + 1) {
            Some(Token::Quoted(_)) => Some(kw),
            Some(Token::Word(next)) if !is_operator(next) => Some(kw),
            _ => None,
        }
    }

    fn surrounding(&mut self, kind: &str) -> Result<Filter, FieldError> {
        let name = match self.next() {
            Some(Token::Word(w) | Token::Quoted(w)) => w,
            _ => return Err(err(format!("'{kind}' needs a name after it"))),
        };
        match kind {
            "tagged" => return Ok(Filter::Tagged(name)),
            "in_list" => return Ok(Filter::InList(name)),
            _ => {}
        }
        let via = if self.keyword("via") {
            self.pos += 1;
            match self.next() {
                Some(Token::Word(w)) => Some(w),
                _ => return Err(err("'via' needs a field name after it")),
            }
        } else {
            None
        };
        let filter = if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            match self.next() {
                Some(Token::Close) => inner,
                _ => return Err(err("a '(' is not closed")),
            }
        } else {
            Filter::And(Vec::new())
        };
        Ok(Filter::Related {
            object: name,
            via,
            exists: kind == "has",
            filter: Box::new(filter),
        })
    }

    fn condition(&mut self) -> Result<Filter, FieldError> {
        let field = match self.next() {
            Some(Token::Word(w)) => w,
            Some(other) => return Err(err(format!("expected a field name, found {other:?}"))),
            None => return Err(err("expected a condition, found the end of the filter")),
        };
        let op_text = match self.next() {
            Some(Token::Word(w)) => w,
            _ => {
                return Err(FieldError::new(
                    &field,
                    FieldErrorCode::InvalidOperator,
                    "expected an operator after the field name",
                ));
            }
        };
        let op = match op_text.as_str() {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Lte,
            ">" => Op::Gt,
            ">=" => Op::Gte,
            other => Op::parse(&other.to_ascii_lowercase()).ok_or_else(|| {
                FieldError::new(
                    &field,
                    FieldErrorCode::InvalidOperator,
                    format!("unknown operator '{other}'"),
                )
            })?,
        };
        let value = if op == Op::IsNull {
            match self.peek() {
                Some(Token::Word(w)) if w == "true" || w == "false" => {
                    let v = w == "true";
                    self.pos += 1;
                    Json::Bool(v)
                }
                _ => Json::Bool(true),
            }
        } else if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let mut items = Vec::new();
            loop {
                match self.next() {
                    Some(Token::Close) if items.is_empty() => break,
                    Some(t @ (Token::Word(_) | Token::Quoted(_))) => items.push(scalar(t)),
                    _ => {
                        return Err(FieldError::new(
                            &field,
                            FieldErrorCode::InvalidFilter,
                            "a list must look like (a, b, c)",
                        ));
                    }
                }
                match self.next() {
                    Some(Token::Comma) => continue,
                    Some(Token::Close) => break,
                    _ => {
                        return Err(FieldError::new(
                            &field,
                            FieldErrorCode::InvalidFilter,
                            "a list must look like (a, b, c)",
                        ));
                    }
                }
            }
            Json::Array(items)
        } else {
            match self.next() {
                Some(t @ (Token::Word(_) | Token::Quoted(_))) => scalar(t),
                _ => {
                    return Err(FieldError::new(
                        &field,
                        FieldErrorCode::InvalidFilter,
                        "expected a value",
                    ));
                }
            }
        };
        Ok(Filter::Cond { field, op, value })
    }
}

fn is_operator(word: &str) -> bool {
    ["=", "==", "!=", "<>", "<", "<=", ">", ">="].contains(&word)
        || Op::parse(&word.to_ascii_lowercase()).is_some()
}

fn scalar(token: Token) -> Json {
    match token {
        Token::Quoted(s) => Json::String(s),
        Token::Word(w) => match w.as_str() {
            "true" => Json::Bool(true),
            "false" => Json::Bool(false),
            "null" => Json::Null,
            _ => match w.parse::<i64>() {
                Ok(i) => Json::from(i),
                Err(_) => Json::String(w),
            },
        },
        _ => Json::Null,
    }
}

/// Parses the compact form.
pub fn parse(input: &str) -> Result<Filter, FieldError> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Ok(Filter::And(Vec::new()));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let f = p.or()?;
    if p.pos != p.tokens.len() {
        return Err(err(format!(
            "unexpected text after the end of the filter at token {}",
            p.pos + 1
        )));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(field: &str, op: Op, value: Json) -> Filter {
        Filter::Cond {
            field: field.into(),
            op,
            value,
        }
    }

    #[test]
    fn precedence_and_lists() {
        let f = parse(
            "stage in (proposal, 'nego tiation') and amount >= 100000 or not name contains 'it''s'",
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::Or(vec![
                Filter::And(vec![
                    cond("stage", Op::In, json!(["proposal", "nego tiation"])),
                    cond("amount", Op::Gte, json!(100000)),
                ]),
                Filter::Not(Box::new(cond("name", Op::Contains, json!("it's")))),
            ])
        );
    }

    #[test]
    fn chinese_values_and_is_null() {
        let f = parse("(city eq 上海 or city eq 北京) and owner_id is_null false").unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Or(vec![
                    cond("city", Op::Eq, json!("上海")),
                    cond("city", Op::Eq, json!("北京"))
                ]),
                cond("owner_id", Op::IsNull, json!(false)),
            ])
        );
    }

    #[test]
    fn related_records_tags_and_lists() {
        let f = parse(
            "has opportunity (amount gt 100000 and stage ne closed_lost) and has_no task via account_id \
             and tagged '重点 客户' and not in_list abc",
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Related {
                    object: "opportunity".into(),
                    via: None,
                    exists: true,
                    filter: Box::new(Filter::And(vec![
                        cond("amount", Op::Gt, json!(100000)),
                        cond("stage", Op::Ne, json!("closed_lost")),
                    ])),
                },
                Filter::Related {
                    object: "task".into(),
                    via: Some("account_id".into()),
                    exists: false,
                    filter: Box::new(Filter::And(vec![])),
                },
                Filter::Tagged("重点 客户".into()),
                Filter::Not(Box::new(Filter::InList("abc".into()))),
            ])
        );
        // a field that happens to be called like a keyword is still a field
        assert_eq!(
            parse("tagged eq x").unwrap(),
            cond("tagged", Op::Eq, json!("x"))
        );
        assert_eq!(parse("has >= 3").unwrap(), cond("has", Op::Gte, json!(3)));
        assert!(parse("has opportunity (amount gt 1").is_err());
        assert!(parse("has opportunity via").is_err());
    }

    #[test]
    fn errors() {
        assert!(parse("name").is_err());
        assert!(parse("name eq").is_err());
        assert!(parse("(name eq a").is_err());
        assert!(parse("name eq 'a").is_err());
        assert_eq!(
            parse("name like a").unwrap_err().code,
            FieldErrorCode::InvalidOperator
        );
        assert!(parse("name eq a b").is_err());
    }
}
