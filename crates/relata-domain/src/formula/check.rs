//! Checking a formula against metadata: its paths exist and go through lookups, and its
//! operations fit the types known before any record is read. `Any` (a null literal, a
//! multi-picklist) is accepted everywhere; evaluation still checks it.

use super::{BinOp, Expr, FormulaError, Func, Node};
use crate::meta::{FieldType, ObjectDef};
use crate::value::Value;

/// The type of a formula's result, for deciding which fields it may be assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormulaType {
    Text,
    /// An integer or a decimal.
    Number,
    /// An amount with its currency.
    Money,
    Date,
    Datetime,
    Boolean,
    Ref,
    /// Not known before evaluation.
    Any,
}

impl FormulaType {
    pub fn of_field(t: FieldType) -> Self {
        match t {
            t if t.is_textual() => Self::Text,
            FieldType::Integer | FieldType::Decimal | FieldType::Percent => Self::Number,
            FieldType::Currency => Self::Money,
            FieldType::Date => Self::Date,
            FieldType::Datetime => Self::Datetime,
            FieldType::Boolean => Self::Boolean,
            FieldType::Lookup | FieldType::UserLookup | FieldType::Id => Self::Ref,
            _ => Self::Any,
        }
    }

    fn of_value(v: &Value) -> Self {
        match v {
            Value::Text(_) => Self::Text,
            Value::Int(_) | Value::Decimal(_) => Self::Number,
            Value::Money { .. } => Self::Money,
            Value::Date(_) => Self::Date,
            Value::Datetime(_) => Self::Datetime,
            Value::Bool(_) => Self::Boolean,
            Value::Ref(_) => Self::Ref,
            Value::Null | Value::Multi(_) => Self::Any,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "a number",
            Self::Money => "an amount",
            Self::Date => "a date",
            Self::Datetime => "a datetime",
            Self::Boolean => "true/false",
            Self::Ref => "a record id",
            Self::Any => "any value",
        }
    }

    /// Whether [`super::coerce`] can turn a result of this type into a value of a `target`
    /// field (it may still refuse a particular value: a picklist value that does not exist,
    /// a decimal with a fraction for an integer field).
    pub fn assignable_to(self, target: FieldType) -> bool {
        use FormulaType::*;
        match target {
            _ if self == Any => true,
            // Every value has a text form.
            t if t.is_textual() => true,
            FieldType::MultiPicklist => self == Text,
            FieldType::Integer | FieldType::Decimal | FieldType::Percent | FieldType::Currency => {
                matches!(self, Number | Money)
            }
            FieldType::Date => matches!(self, Date | Datetime | Text),
            FieldType::Datetime => matches!(self, Datetime | Text),
            FieldType::Boolean => self == Boolean,
            _ => matches!(self, Ref | Text),
        }
    }
}

pub(super) fn type_of(
    node: &Node,
    object: &ObjectDef,
    objects: &dyn Fn(&str) -> Option<ObjectDef>,
) -> Result<FormulaType, FormulaError> {
    use FormulaType::*;
    let fail = |message: String| FormulaError::at(node.pos, message);
    let sub = |n: &Node| type_of(n, object, objects);
    match &node.expr {
        Expr::Lit(v) => Ok(FormulaType::of_value(v)),
        Expr::Path(path) => path_type(path, object, objects).map_err(fail),
        Expr::Neg(inner) => match sub(inner)? {
            t @ (Number | Money | Any) => Ok(t),
            t => Err(fail(format!("cannot negate {}", t.as_str()))),
        },
        Expr::Not(inner) => match sub(inner)? {
            Boolean | Any => Ok(Boolean),
            t => Err(fail(format!("'not' needs true/false, not {}", t.as_str()))),
        },
        Expr::Bin(op, l, r) => binary(*op, sub(l)?, sub(r)?).map_err(fail),
        Expr::Call(func, args) => {
            let types = args.iter().map(sub).collect::<Result<Vec<_>, _>>()?;
            call(*func, &types).map_err(fail)
        }
    }
}

fn path_type(
    path: &[String],
    object: &ObjectDef,
    objects: &dyn Fn(&str) -> Option<ObjectDef>,
) -> Result<FormulaType, String> {
    let mut current = object.clone();
    let mut segments = path.iter().peekable();
    while let Some(name) = segments.next() {
        let field = current
            .field(name)
            .ok_or_else(|| format!("'{}' has no field '{name}'", current.name()))?;
        let Some(next) = segments.peek() else {
            return Ok(FormulaType::of_field(field.field_type));
        };
        current = match (field.field_type, &field.target) {
            (FieldType::Lookup, Some(target)) => objects(target.as_str())
                .ok_or_else(|| format!("'{name}' looks up '{target}', which does not exist"))?,
            (FieldType::UserLookup, _) => {
                return Err(format!(
                    "'{name}' is a user lookup; a path cannot go through it"
                ));
            }
            _ => {
                return Err(format!(
                    "'{name}' is not a lookup, so '{name}.{next}' reads nothing"
                ));
            }
        };
    }
    Ok(FormulaType::Any)
}

fn comparable(l: FormulaType, r: FormulaType) -> bool {
    use FormulaType::*;
    let numeric = |t| matches!(t, Number | Money);
    l == r || l == Any || r == Any || (numeric(l) && numeric(r))
}

fn binary(op: BinOp, l: FormulaType, r: FormulaType) -> Result<FormulaType, String> {
    use BinOp::*;
    use FormulaType::*;
    Ok(match (op, l, r) {
        (Join, _, _) => Text,
        (Eq | Ne | Lt | Le | Gt | Ge, _, _) if comparable(l, r) => Boolean,
        (Eq | Ne | Lt | Le | Gt | Ge, _, _) => {
            return Err(format!("cannot compare {} with {}", l.as_str(), r.as_str()));
        }
        (And | Or, Boolean | Any, Boolean | Any) => Boolean,
        (And | Or, _, _) => {
            return Err(format!(
                "'and' and 'or' need true/false, not {} and {}",
                l.as_str(),
                r.as_str()
            ));
        }
        (_, Any, _) | (_, _, Any) => Any,
        (_, Number, Number) => Number,
        (Add | Sub, Money, Number | Money) | (Add | Sub | Mul, Number, Money) => Money,
        (Mul | Div, Money, Number) => Money,
        (Div, Money, Money) => Number,
        (Sub, Date, Date) => Number,
        (Add | Sub, Date, Number) | (Add, Number, Date) => Date,
        (Add | Sub, Datetime, Number) | (Add, Number, Datetime) => Datetime,
        _ => {
            return Err(format!(
                "cannot combine {} and {} this way",
                l.as_str(),
                r.as_str()
            ));
        }
    })
}

fn call(func: Func, args: &[FormulaType]) -> Result<FormulaType, String> {
    use FormulaType::*;
    let want = |i: usize, ok: &[FormulaType]| {
        let t = args.get(i).copied().unwrap_or(Any);
        if t == Any || ok.contains(&t) {
            Ok(t)
        } else {
            let names: Vec<&str> = ok.iter().map(FormulaType::as_str).collect();
            Err(format!(
                "argument {} of {}() must be {}, not {}",
                i + 1,
                func.name(),
                names.join(" or "),
                t.as_str()
            ))
        }
    };
    const DATES: &[FormulaType] = &[Date, Datetime, Text];
    Ok(match func {
        Func::Today => Date,
        Func::Now => Datetime,
        Func::Date => {
            want(0, DATES)?;
            Date
        }
        Func::AddDays | Func::AddMonths => {
            want(1, &[Number])?;
            want(0, &[Date, Datetime])?
        }
        Func::DaysBetween => {
            want(0, DATES)?;
            want(1, DATES)?;
            Number
        }
        Func::Round | Func::Abs => {
            want(1, &[Number])?;
            want(0, &[Number, Money])?
        }
        Func::Min | Func::Max | Func::Coalesce => unify(func, args)?,
        Func::If => {
            want(0, &[Boolean])?;
            unify(func, args.get(1..).unwrap_or_default())?
        }
        Func::Concat | Func::Text => Text,
        Func::Upper | Func::Lower | Func::Trim => want(0, &[Text]).map(|_| Text)?,
        Func::Len => want(0, &[Text]).map(|_| Number)?,
        Func::Year | Func::Month | Func::Day => want(0, DATES).map(|_| Number)?,
    })
}

/// The one type of several values that may each be the result (numbers and amounts mix).
fn unify(func: Func, types: &[FormulaType]) -> Result<FormulaType, String> {
    use FormulaType::*;
    let mut all = Any;
    for &t in types {
        all = match (all, t) {
            (a, Any) => a,
            (Any, t) => t,
            (a, t) if a == t => a,
            (Number | Money, Number | Money) => Money,
            (a, t) => {
                return Err(format!(
                    "{}() mixes {} and {}",
                    func.name(),
                    a.as_str(),
                    t.as_str()
                ));
            }
        };
    }
    Ok(all)
}
