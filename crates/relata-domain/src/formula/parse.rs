//! The lexer and the recursive-descent parser. Precedence, loosest first: `or`, `and`, `not`,
//! comparisons (which do not chain), `&`, `+ -`, `* /`, unary `-`.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::{
    BinOp, Expr, Formula, FormulaError, Func, MAX_DEPTH, MAX_HOPS, MAX_SOURCE_CHARS, Node,
};
use crate::value::{Value, parse_date};

/// Parses a formula. Errors name the 1-based character they are at.
pub fn parse(src: &str) -> Result<Formula, FormulaError> {
    let chars: Vec<char> = src.chars().collect();
    if chars.len() > MAX_SOURCE_CHARS {
        return Err(FormulaError {
            message: format!("a formula has at most {MAX_SOURCE_CHARS} characters"),
            position: None,
        });
    }
    let mut parser = Parser {
        toks: lex(&chars)?,
        at: 0,
        depth: 0,
    };
    let root = parser.expr(0)?;
    match parser.tok() {
        (Tok::End, _) => Ok(Formula {
            source: src.to_owned(),
            root,
        }),
        (tok, pos) => Err(FormulaError::at(
            *pos,
            format!("unexpected {}", tok.describe()),
        )),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Value),
    Str(String),
    Word(String),
    Sym(&'static str),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(_) => "number".to_owned(),
            Tok::Str(_) => "text".to_owned(),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::End => "end of the formula".to_owned(),
        }
    }
}

const SYMBOLS: [&str; 16] = [
    "!=", "<>", "<=", ">=", "+", "-", "*", "/", "&", "=", "<", ">", "(", ")", ",", ".",
];

/// The tokens of `chars`, each with its 1-based position; always ends with `End`.
fn lex(chars: &[char]) -> Result<Vec<(Tok, usize)>, FormulaError> {
    let mut out = Vec::new();
    let mut i = 0;
    let is = |i: usize, f: fn(&char) -> bool| chars.get(i).is_some_and(f);
    while let Some(&c) = chars.get(i) {
        let pos = i + 1;
        let start = i;
        let tok = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c.is_ascii_digit() {
            while is(i, char::is_ascii_digit) {
                i += 1;
            }
            let dot = chars.get(i) == Some(&'.') && is(i + 1, char::is_ascii_digit);
            if dot {
                i += 1;
                while is(i, char::is_ascii_digit) {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let int = if dot { None } else { text.parse().ok() };
            match int {
                Some(n) => Tok::Num(Value::Int(n)),
                None => Tok::Num(Value::Decimal(Decimal::from_str(&text).map_err(|_| {
                    FormulaError::at(pos, format!("the number {text} is too large"))
                })?)),
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while is(i, |c| c.is_ascii_alphanumeric() || *c == '_') {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(FormulaError::at(pos, "this text has no closing quote")),
                    Some(&q) if q == c => break,
                    Some('\\') => {
                        text.push(match chars.get(i + 1) {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some(&e @ ('\\' | '"' | '\'')) => e,
                            _ => {
                                return Err(FormulaError::at(
                                    i + 1,
                                    r#"unknown escape: use \\, \", \', \n or \t"#,
                                ));
                            }
                        });
                        i += 2;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            i += 1;
            Tok::Str(text)
        } else {
            let rest = &chars[i..];
            let sym = SYMBOLS.into_iter().find(|s| {
                s.chars().count() <= rest.len() && s.chars().zip(rest).all(|(a, b)| a == *b)
            });
            let Some(sym) = sym else {
                return Err(FormulaError::at(pos, format!("unexpected character '{c}'")));
            };
            i += sym.len();
            Tok::Sym(if sym == "<>" { "!=" } else { sym })
        };
        out.push((tok, pos));
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    /// Current nesting of parentheses, calls and prefix operators.
    depth: usize,
}

/// The binary operators of each precedence level (see the module doc).
fn level_ops(level: u8) -> &'static [(&'static str, BinOp)] {
    match level {
        0 => &[("or", BinOp::Or)],
        1 => &[("and", BinOp::And)],
        3 => &[
            ("=", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("<", BinOp::Lt),
            ("<=", BinOp::Le),
            (">", BinOp::Gt),
            (">=", BinOp::Ge),
        ],
        4 => &[("&", BinOp::Join)],
        5 => &[("+", BinOp::Add), ("-", BinOp::Sub)],
        6 => &[("*", BinOp::Mul), ("/", BinOp::Div)],
        _ => &[],
    }
}

impl Parser {
    fn tok(&self) -> &(Tok, usize) {
        // `lex` always ends the list with `End`, and `bump` never moves past it.
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> (Tok, usize) {
        let tok = self.tok().clone();
        if tok.0 != Tok::End {
            self.at += 1;
        }
        tok
    }

    /// Whether the next token is `text` (a symbol, or a keyword in any case).
    fn next_is(&self, text: &str) -> bool {
        match &self.tok().0 {
            Tok::Sym(s) => *s == text,
            Tok::Word(w) => w.eq_ignore_ascii_case(text),
            _ => false,
        }
    }

    fn expect(&mut self, sym: &'static str) -> Result<(), FormulaError> {
        let (tok, pos) = self.bump();
        if tok == Tok::Sym(sym) {
            Ok(())
        } else {
            Err(FormulaError::at(
                pos,
                format!("expected '{sym}', found {}", tok.describe()),
            ))
        }
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Node, FormulaError>,
    ) -> Result<Node, FormulaError> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep(self.tok().1));
        }
        self.depth += 1;
        let node = f(self);
        self.depth -= 1;
        node
    }

    fn binop(&self, level: u8) -> Option<BinOp> {
        level_ops(level)
            .iter()
            .find(|(text, _)| self.next_is(text))
            .map(|(_, op)| *op)
    }

    fn expr(&mut self, level: u8) -> Result<Node, FormulaError> {
        let pos = self.tok().1;
        match level {
            2 if self.next_is("not") => {
                self.bump();
                let inner = self.nested(|p| p.expr(2))?;
                node(Expr::Not(Box::new(inner)), pos)
            }
            7 if self.next_is("-") => {
                self.bump();
                let inner = self.nested(|p| p.expr(7))?;
                node(Expr::Neg(Box::new(inner)), pos)
            }
            7 => self.primary(),
            _ => {
                let mut left = self.expr(level + 1)?;
                while let Some(op) = self.binop(level) {
                    let (_, pos) = self.bump();
                    let right = self.expr(level + 1)?;
                    left = node(Expr::Bin(op, Box::new(left), Box::new(right)), pos)?;
                    if level == 3 && self.binop(3).is_some() {
                        return Err(FormulaError::at(
                            self.tok().1,
                            "comparisons do not chain: join them with 'and'",
                        ));
                    }
                }
                Ok(left)
            }
        }
    }

    fn primary(&mut self) -> Result<Node, FormulaError> {
        let (tok, pos) = self.bump();
        let word = match tok {
            Tok::Num(v) => return node(Expr::Lit(v), pos),
            Tok::Str(s) => return node(Expr::Lit(Value::Text(s)), pos),
            Tok::Sym("(") => {
                let inner = self.nested(|p| p.expr(0))?;
                self.expect(")")?;
                return Ok(inner);
            }
            Tok::Word(w) => w,
            other => {
                return Err(FormulaError::at(
                    pos,
                    format!("expected a value, found {}", other.describe()),
                ));
            }
        };
        if self.next_is("(") {
            return self.call(&word, pos);
        }
        match word.to_ascii_lowercase().as_str() {
            "true" => return node(Expr::Lit(Value::Bool(true)), pos),
            "false" => return node(Expr::Lit(Value::Bool(false)), pos),
            "null" => return node(Expr::Lit(Value::Null), pos),
            kw @ ("and" | "or" | "not") => {
                return Err(FormulaError::at(
                    pos,
                    format!("expected a value, found '{kw}'"),
                ));
            }
            _ => {}
        }
        let mut path = vec![field_name(word, pos)?];
        while self.next_is(".") {
            self.bump();
            match self.bump() {
                (Tok::Word(w), at) => path.push(field_name(w, at)?),
                (other, at) => {
                    return Err(FormulaError::at(
                        at,
                        format!(
                            "expected a field name after '.', found {}",
                            other.describe()
                        ),
                    ));
                }
            }
            if path.len() > MAX_HOPS + 1 {
                return Err(FormulaError::at(
                    pos,
                    format!("a field path goes through at most {MAX_HOPS} lookups"),
                ));
            }
        }
        node(Expr::Path(path), pos)
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Node, FormulaError> {
        let func = Func::lookup(name)
            .ok_or_else(|| FormulaError::at(pos, format!("there is no function '{name}'")))?;
        self.expect("(")?;
        let mut args = Vec::new();
        if !self.next_is(")") {
            loop {
                args.push(self.nested(|p| p.expr(0))?);
                if !self.next_is(",") {
                    break;
                }
                self.bump();
            }
        }
        self.expect(")")?;
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let wanted = match (min, max) {
                (n, m) if n == m => format!("{n}"),
                (n, usize::MAX) => format!("at least {n}"),
                (n, m) => format!("{n} to {m}"),
            };
            return Err(FormulaError::at(
                pos,
                format!(
                    "{}() takes {wanted} argument(s), not {}",
                    func.name(),
                    args.len()
                ),
            ));
        }
        // A literal date is checked now rather than when the rule first runs.
        if let (Func::Date, [arg]) = (func, args.as_slice())
            && let Expr::Lit(Value::Text(text)) = &arg.expr
        {
            let date = parse_date(text).ok_or_else(|| {
                FormulaError::at(arg.pos, format!("'{text}' is not a date (YYYY-MM-DD)"))
            })?;
            return node(Expr::Lit(Value::Date(date)), pos);
        }
        node(Expr::Call(func, args), pos)
    }
}

fn field_name(word: String, pos: usize) -> Result<String, FormulaError> {
    // The lexer already keeps words to ASCII letters, digits and `_`, never a digit first.
    if word.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(FormulaError::at(
            pos,
            format!("'{word}' is not a field name: field names are lower case"),
        ));
    }
    Ok(word)
}

fn too_deep(pos: usize) -> FormulaError {
    FormulaError::at(
        pos,
        format!("the formula nests more than {MAX_DEPTH} levels deep"),
    )
}

/// A node, refused when it would make the tree deeper than [`MAX_DEPTH`].
fn node(expr: Expr, pos: usize) -> Result<Node, FormulaError> {
    let below = match &expr {
        Expr::Lit(_) | Expr::Path(_) => 0,
        Expr::Neg(inner) | Expr::Not(inner) => inner.height,
        Expr::Bin(_, l, r) => l.height.max(r.height),
        Expr::Call(_, args) => args.iter().map(|a| a.height).max().unwrap_or(0),
    };
    if below >= MAX_DEPTH {
        return Err(too_deep(pos));
    }
    Ok(Node {
        expr,
        pos,
        height: below + 1,
    })
}
