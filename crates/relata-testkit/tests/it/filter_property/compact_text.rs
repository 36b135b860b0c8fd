//! Writes a filter in the compact query-string form, choosing at random among the spellings
//! the parser must accept: keyword and operator case, symbolic operators, quoting styles,
//! redundant brackets, and any whitespace (full-width space included).

use relata_domain::filter::{Filter, Op};
use serde_json::Value as Json;

/// A tiny deterministic source of choices (xorshift), seeded by the property test.
pub struct Choices(u64);

impl Choices {
    pub fn new(seed: u64) -> Self {
        Choices(seed | 1)
    }

    fn pick(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn one_of<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.pick(options.len())]
    }

    fn space(&mut self) -> &'static str {
        self.one_of(&[" ", " ", " ", "  ", "\t", "\n", "\u{3000}"])
    }

    fn keyword(&mut self, kw: &str) -> String {
        match self.pick(3) {
            0 => kw.to_owned(),
            1 => kw.to_ascii_uppercase(),
            _ => {
                let mut c = kw.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        }
    }
}

pub fn render(filter: &Filter, c: &mut Choices) -> String {
    match filter {
        Filter::And(items) => join(items, "and", c),
        Filter::Or(items) => join(items, "or", c),
        Filter::Not(inner) => {
            let kw = c.keyword("not");
            let sp = c.space();
            format!("{kw}{sp}{}", operand(inner, c))
        }
        Filter::Cond { field, op, value } => condition(field, *op, value, c),
        // the property compares SQL with the in-memory evaluator, which answers own fields only
        other => unreachable!("the generator makes no {other:?}"),
    }
}

fn join(items: &[Filter], kw: &str, c: &mut Choices) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            let (a, k, b) = (c.space(), c.keyword(kw), c.space());
            out.push_str(&format!("{a}{k}{b}"));
        }
        out.push_str(&operand(item, c));
    }
    out
}

/// A sub-filter in operand position: composites always bracketed (so nesting survives),
/// conditions sometimes.
fn operand(filter: &Filter, c: &mut Choices) -> String {
    let bracket = match filter {
        Filter::And(_) | Filter::Or(_) => true,
        _ => c.pick(4) == 0,
    };
    let inner = render(filter, c);
    if bracket {
        let (a, b) = (c.one_of(&["", " ", "\u{3000}"]), c.one_of(&["", " ", "\n"]));
        format!("({a}{inner}{b})")
    } else {
        inner
    }
}

fn condition(field: &str, op: Op, value: &Json, c: &mut Choices) -> String {
    let symbol = match op {
        Op::Eq => Some(c.one_of(&["=", "=="])),
        Op::Ne => Some(c.one_of(&["!=", "<>"])),
        Op::Lt => Some("<"),
        Op::Lte => Some("<="),
        Op::Gt => Some(">"),
        Op::Gte => Some(">="),
        _ => None,
    };
    let op_text = match symbol {
        Some(s) if c.pick(2) == 0 => s.to_owned(),
        _ => c.keyword(op.as_str()),
    };
    if op == Op::IsNull {
        // The JSON form also takes `null` for "is null"; the compact form writes it `true`
        // or leaves it out.
        let is_null = value.as_bool().unwrap_or(true);
        return if is_null && c.pick(2) == 0 {
            format!("{field}{}{op_text}", c.space())
        } else {
            format!("{field}{}{op_text}{}{is_null}", c.space(), c.space())
        };
    }
    // Symbols may touch the field and the value; words need a space.
    let glue = |c: &mut Choices| {
        if symbol.is_some_and(|s| s == op_text) && c.pick(2) == 0 {
            ""
        } else {
            c.space()
        }
    };
    let (a, b) = (glue(c), glue(c));
    let value = value_text(value, c);
    format!("{field}{a}{op_text}{b}{value}")
}

fn value_text(value: &Json, c: &mut Choices) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => string_text(s, c),
        Json::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| value_text(i, c)).collect();
            let sep = c.one_of(&[",", ", ", " , "]);
            format!("({})", parts.join(sep))
        }
        Json::Object(_) => panic!("objects have no compact form"),
    }
}

/// Whether `s` reads back as this same string when written without quotes.
fn can_be_bare(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|ch| ch.is_whitespace() || "(),'\"<>=!".contains(ch))
        && !["true", "false", "null"].contains(&s)
        && s.parse::<i64>().is_err()
}

fn string_text(s: &str, c: &mut Choices) -> String {
    if can_be_bare(s) && c.pick(2) == 0 {
        return s.to_owned();
    }
    let quote = if c.pick(2) == 0 { '\'' } else { '"' };
    let escaped = s.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{escaped}{quote}")
}
