//! The formula language of workflow-rule actions ("set field X to a formula over the record and
//! its parents"): `round(amount * 1.13, 2)`, `account_id.industry & " / " & upper(name)`,
//! `if(close_date < today(), "overdue", "open")`.
//!
//! A formula is parsed once ([`parse`]), checked against metadata when the rule is saved
//! ([`Formula::check`]), evaluated against one record ([`Formula::evaluate`]) and its result
//! converted to what the target field stores ([`coerce`]). This module owns the language only:
//! it reads values through [`FormulaEnv`] and never touches a database or the clock.
//!
//! Semantics: numbers are exact decimals (`0.1 + 0.2 = 0.3`); an integer divided by an integer
//! is a decimal. Null propagates through arithmetic, ordering comparisons and functions like
//! SQL, except `coalesce`, `if` (a null condition takes the else branch) and text joining
//! (`&`, `concat`: null is ""). `=` and `!=` treat null as a value, so `x = null` tests for an
//! empty field. `and`/`or` use SQL's three-valued logic. An amount keeps its currency; amounts
//! of two currencies never mix. Errors are values, never panics: a formula is at most
//! [`MAX_SOURCE_CHARS`] long and nests at most [`MAX_DEPTH`] deep, so walking it is bounded.

mod check;
mod coerce;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

pub use check::FormulaType;
pub use coerce::coerce;
pub use parse::parse;

use crate::meta::ObjectDef;
use crate::value::Value;

/// Most characters a formula may have.
pub const MAX_SOURCE_CHARS: usize = 2_000;
/// Deepest nesting of operations, parentheses and calls.
pub const MAX_DEPTH: usize = 64;
/// Most lookups a field path may pass through (`a_id.b_id.c_id.name`).
pub const MAX_HOPS: usize = 3;

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    source: String,
    root: Node,
}

/// Why a formula cannot be parsed, checked or evaluated. `position` is the 1-based character
/// of the formula the problem is at, when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaError {
    pub message: String,
    pub position: Option<usize>,
}

impl FormulaError {
    fn at(position: usize, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            position: Some(position),
        }
    }
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(n) => write!(f, "at character {n}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FormulaError {}

/// What evaluation reads: field values along paths and the time.
pub trait FormulaEnv {
    /// The value at a path; Value::Null when a hop is empty or unknown.
    fn value(&self, path: &[String]) -> Value;
    fn now(&self) -> DateTime<Utc>;
    /// Today in the installation's time zone.
    fn today(&self) -> NaiveDate;
    /// The date of an instant in the installation's time zone: `year(created_at)`,
    /// `days_between(created_at, today())`. UTC unless the installation says otherwise.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.date_naive()
    }
}

impl Formula {
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every field path it reads, e.g. `[["amount"], ["account_id", "industry"]]`, each once,
    /// in order of first appearance.
    pub fn paths(&self) -> Vec<Vec<String>> {
        fn walk(node: &Node, out: &mut Vec<Vec<String>>) {
            match &node.expr {
                Expr::Path(path) if !out.contains(path) => out.push(path.clone()),
                Expr::Lit(_) | Expr::Path(_) => {}
                Expr::Neg(inner) | Expr::Not(inner) => walk(inner, out),
                Expr::Bin(_, l, r) => {
                    walk(l, out);
                    walk(r, out);
                }
                Expr::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// Checks every path against `object`'s metadata (`objects` resolves lookup targets by API
    /// name) and the types of operations where they are known; answers the result type.
    pub fn check(
        &self,
        object: &ObjectDef,
        objects: &dyn Fn(&str) -> Option<ObjectDef>,
    ) -> Result<FormulaType, FormulaError> {
        check::type_of(&self.root, object, objects)
    }

    pub fn evaluate(&self, env: &dyn FormulaEnv) -> Result<Value, FormulaError> {
        eval::eval(&self.root, env)
    }
}

/// One node of the syntax tree, at the 1-based character `pos` of its operator, function name
/// or first token. `height` (at most [`MAX_DEPTH`]) bounds every walk of the tree.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    expr: Expr,
    pos: usize,
    height: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Value),
    Path(Vec<String>),
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `&`
    Join,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Today,
    Now,
    Date,
    AddDays,
    AddMonths,
    DaysBetween,
    Round,
    Abs,
    Min,
    Max,
    Coalesce,
    If,
    Concat,
    Upper,
    Lower,
    Trim,
    Len,
    Text,
    Year,
    Month,
    Day,
}

/// Each function's name and its fewest and most arguments.
const FUNCS: [(Func, &str, usize, usize); 21] = [
    (Func::Today, "today", 0, 0),
    (Func::Now, "now", 0, 0),
    (Func::Date, "date", 1, 1),
    (Func::AddDays, "add_days", 2, 2),
    (Func::AddMonths, "add_months", 2, 2),
    (Func::DaysBetween, "days_between", 2, 2),
    (Func::Round, "round", 1, 2),
    (Func::Abs, "abs", 1, 1),
    (Func::Min, "min", 1, usize::MAX),
    (Func::Max, "max", 1, usize::MAX),
    (Func::Coalesce, "coalesce", 1, usize::MAX),
    (Func::If, "if", 3, 3),
    (Func::Concat, "concat", 1, usize::MAX),
    (Func::Upper, "upper", 1, 1),
    (Func::Lower, "lower", 1, 1),
    (Func::Trim, "trim", 1, 1),
    (Func::Len, "len", 1, 1),
    (Func::Text, "text", 1, 1),
    (Func::Year, "year", 1, 1),
    (Func::Month, "month", 1, 1),
    (Func::Day, "day", 1, 1),
];

impl Func {
    /// Case-insensitive, as spreadsheet users type `TODAY()`.
    fn lookup(name: &str) -> Option<Func> {
        FUNCS
            .iter()
            .find(|f| f.1.eq_ignore_ascii_case(name))
            .map(|f| f.0)
    }

    fn name(self) -> &'static str {
        FUNCS.iter().find(|f| f.0 == self).map_or("?", |f| f.1)
    }

    /// Fewest and most arguments.
    fn arity(self) -> (usize, usize) {
        FUNCS
            .iter()
            .find(|f| f.0 == self)
            .map_or((0, 0), |f| (f.2, f.3))
    }
}
