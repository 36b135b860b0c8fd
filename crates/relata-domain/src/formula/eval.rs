//! Evaluation of a parsed formula over the values an environment gives (semantics in the
//! module doc of `formula`). Recursion is bounded by the tree's height.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{BinOp, Expr, FormulaEnv, FormulaError, Func, Node};
use crate::value::{Value, format_datetime, in_year_range, parse_date};

pub(super) fn eval(node: &Node, env: &dyn FormulaEnv) -> Result<Value, FormulaError> {
    let fail = |message: String| FormulaError::at(node.pos, message);
    match &node.expr {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Path(path) => Ok(env.value(path)),
        Expr::Neg(inner) => negate(eval(inner, env)?).map_err(fail),
        Expr::Not(inner) => Ok(truth(inner, env)?.map_or(Value::Null, |b| Value::Bool(!b))),
        Expr::Bin(op @ (BinOp::And | BinOp::Or), l, r) => {
            // `or` is decided by a true operand, `and` by a false one, whatever the other is.
            let decides = *op == BinOp::Or;
            let a = truth(l, env)?;
            if a == Some(decides) {
                return Ok(Value::Bool(decides));
            }
            Ok(match (a, truth(r, env)?) {
                (_, Some(b)) if b == decides => Value::Bool(decides),
                (Some(_), Some(_)) => Value::Bool(!decides),
                _ => Value::Null,
            })
        }
        Expr::Bin(op, l, r) => binary(*op, eval(l, env)?, eval(r, env)?).map_err(fail),
        Expr::Call(func, args) => call(*func, args, env, node.pos),
    }
}

/// A condition's value: true, false or null.
fn truth(node: &Node, env: &dyn FormulaEnv) -> Result<Option<bool>, FormulaError> {
    match eval(node, env)? {
        Value::Bool(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        other => Err(FormulaError::at(
            node.pos,
            format!("expected true or false, found {}", kind(&other)),
        )),
    }
}

fn call(
    func: Func,
    args: &[Node],
    env: &dyn FormulaEnv,
    pos: usize,
) -> Result<Value, FormulaError> {
    // These three evaluate only what they need and give nulls a meaning.
    match (func, args) {
        (Func::Coalesce, _) => {
            for arg in args {
                let v = eval(arg, env)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        (Func::If, [cond, then, otherwise]) => {
            let branch = if truth(cond, env)? == Some(true) {
                then
            } else {
                otherwise
            };
            return eval(branch, env);
        }
        (Func::Concat, _) => {
            let mut text = String::new();
            for arg in args {
                text.push_str(&text_of(&eval(arg, env)?).unwrap_or_default());
            }
            return Ok(Value::Text(text));
        }
        _ => {}
    }
    let values = args
        .iter()
        .map(|a| eval(a, env))
        .collect::<Result<Vec<_>, _>>()?;
    if values.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    apply(func, &values, env).map_err(|message| FormulaError::at(pos, message))
}

/// A function of non-null arguments (`parse` has checked their number).
fn apply(func: Func, args: &[Value], env: &dyn FormulaEnv) -> Result<Value, String> {
    use Value::{Date, Datetime, Decimal as Dec, Int, Money, Text};
    let name = func.name();
    let wrong = |v: &Value| format!("{name}() does not take {}", kind(v));
    Ok(match (func, args) {
        (Func::Today, _) => Date(env.today()),
        (Func::Now, _) => Datetime(env.now()),
        (Func::Date, [x]) => Date(as_date(x, env)?),
        (Func::AddDays, [Date(d), n]) => shift_date(*d, whole(n)?)?,
        (Func::AddDays, [Datetime(t), n]) => shift_datetime(*t, whole(n)?)?,
        (Func::AddMonths, [x, n]) => {
            let n = whole(n)?;
            let months = Months::new(u32::try_from(n.unsigned_abs()).map_err(|_| out_of_range())?);
            let moved = match x {
                Date(d) if n >= 0 => d.checked_add_months(months).map(Date),
                Date(d) => d.checked_sub_months(months).map(Date),
                Datetime(t) if n >= 0 => t.checked_add_months(months).map(Datetime),
                Datetime(t) => t.checked_sub_months(months).map(Datetime),
                other => return Err(wrong(other)),
            };
            moved.filter(in_range).ok_or_else(out_of_range)?
        }
        (Func::DaysBetween, [a, b]) => Int(as_date(b, env)?
            .signed_duration_since(as_date(a, env)?)
            .num_days()),
        (Func::Round, [x, rest @ ..]) => {
            let places = rest.first().map(whole).transpose()?.unwrap_or(0);
            let places = u32::try_from(places)
                .ok()
                .filter(|p| *p <= 28)
                .ok_or("round() takes 0 to 28 places")?;
            let round = |d: &Decimal| {
                d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
            };
            match x {
                Int(n) => Int(*n),
                Dec(d) => Dec(round(d)),
                Money { amount, currency } => Money {
                    amount: round(amount),
                    currency: currency.clone(),
                },
                other => return Err(wrong(other)),
            }
        }
        (Func::Abs, [x]) => match x {
            Int(n) => n.checked_abs().map_or(Dec(Decimal::from(*n).abs()), Int),
            Dec(d) => Dec(d.abs()),
            Money { amount, currency } => Money {
                amount: amount.abs(),
                currency: currency.clone(),
            },
            other => return Err(wrong(other)),
        },
        (Func::Min | Func::Max, [first, rest @ ..]) => {
            let mut best = first;
            for x in rest {
                let o = order(best, x)?;
                if (func == Func::Min && o == Some(Ordering::Greater))
                    || (func == Func::Max && o == Some(Ordering::Less))
                {
                    best = x;
                }
            }
            best.clone()
        }
        (Func::Upper | Func::Lower | Func::Trim | Func::Len, [x]) => {
            let Text(s) = x else {
                return Err(format!("{name}() takes text, not {}: use text(x)", kind(x)));
            };
            match func {
                Func::Upper => Text(s.to_uppercase()),
                Func::Lower => Text(s.to_lowercase()),
                Func::Trim => Text(s.trim().to_owned()),
                _ => Int(i64::try_from(s.chars().count()).unwrap_or(i64::MAX)),
            }
        }
        (Func::Text, [x]) => Text(text_of(x).unwrap_or_default()),
        (Func::Year, [x]) => Int(as_date(x, env)?.year().into()),
        (Func::Month, [x]) => Int(as_date(x, env)?.month().into()),
        (Func::Day, [x]) => Int(as_date(x, env)?.day().into()),
        (_, [x, ..]) => return Err(wrong(x)),
        (_, []) => return Err(format!("{name}() needs arguments")),
    })
}

fn negate(v: Value) -> Result<Value, String> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::Int(n) => n
            .checked_neg()
            .map_or(Value::Decimal(-Decimal::from(n)), Value::Int),
        Value::Decimal(d) => Value::Decimal(-d),
        Value::Money { amount, currency } => Value::Money {
            amount: -amount,
            currency,
        },
        other => return Err(format!("cannot negate {}", kind(&other))),
    })
}

fn binary(op: BinOp, l: Value, r: Value) -> Result<Value, String> {
    use BinOp::*;
    Ok(match op {
        Join => Value::Text(text_of(&l).unwrap_or_default() + &text_of(&r).unwrap_or_default()),
        Eq => Value::Bool(equal(&l, &r)?),
        Ne => Value::Bool(!equal(&l, &r)?),
        Lt | Le | Gt | Ge => match order(&l, &r)? {
            None => Value::Null,
            Some(o) => Value::Bool(match op {
                Lt => o.is_lt(),
                Le => o.is_le(),
                Gt => o.is_gt(),
                _ => o.is_ge(),
            }),
        },
        Add | Sub | Mul | Div => arith(op, l, r)?,
        And | Or => return Err("'and' and 'or' are evaluated apart".to_owned()),
    })
}

fn arith(op: BinOp, l: Value, r: Value) -> Result<Value, String> {
    use BinOp::{Add, Div, Sub};
    use Value::{Date, Datetime, Int, Money, Null};
    let cannot = format!("cannot {} {} and {}", verb(op), kind(&l), kind(&r));
    let add_or_sub = matches!(op, Add | Sub);
    let days = |n: &Value| whole(n).map(|d| if op == Sub { d.saturating_neg() } else { d });
    Ok(match (l, r) {
        (Null, _) | (_, Null) => Null,
        (Date(a), Date(b)) if op == Sub => Int(a.signed_duration_since(b).num_days()),
        (Date(d), n) if add_or_sub => shift_date(d, days(&n)?)?,
        (n, Date(d)) if op == Add => shift_date(d, whole(&n)?)?,
        (Datetime(t), n) if add_or_sub => shift_datetime(t, days(&n)?)?,
        (n, Datetime(t)) if op == Add => shift_datetime(t, whole(&n)?)?,
        (Int(a), Int(b)) if op != Div => match int_op(op, a, b) {
            Some(n) => Int(n),
            None => Value::Decimal(dec_op(op, a.into(), b.into())?),
        },
        (
            Money {
                amount: a,
                currency,
            },
            Money {
                amount: b,
                currency: other,
            },
        ) => {
            if currency != other {
                return Err(format!(
                    "cannot {} amounts in {currency} and {other}",
                    verb(op)
                ));
            }
            match op {
                Add | Sub => Money {
                    amount: dec_op(op, a, b)?,
                    currency,
                },
                Div => Value::Decimal(dec_op(op, a, b)?),
                _ => return Err(cannot),
            }
        }
        (Money { amount, currency }, n) => match number(&n) {
            Some(b) => Money {
                amount: dec_op(op, amount, b)?,
                currency,
            },
            None => return Err(cannot),
        },
        (n, Money { amount, currency }) if op != Div => match number(&n) {
            Some(a) => Money {
                amount: dec_op(op, a, amount)?,
                currency,
            },
            None => return Err(cannot),
        },
        (a, b) => match (number(&a), number(&b)) {
            (Some(a), Some(b)) => Value::Decimal(dec_op(op, a, b)?),
            _ => return Err(cannot),
        },
    })
}

fn verb(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "subtract",
        BinOp::Mul => "multiply",
        _ => "divide",
    }
}

fn int_op(op: BinOp, a: i64, b: i64) -> Option<i64> {
    match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        _ => None,
    }
}

fn dec_op(op: BinOp, a: Decimal, b: Decimal) -> Result<Decimal, String> {
    if op == BinOp::Div && b.is_zero() {
        return Err("division by zero".to_owned());
    }
    match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        _ => a.checked_div(b),
    }
    .ok_or_else(|| "the result is too large".to_owned())
}

/// `=` and `!=`: null equals null only; amounts of two currencies are never equal.
fn equal(l: &Value, r: &Value) -> Result<bool, String> {
    Ok(match (l, r) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Money { currency: a, .. }, Value::Money { currency: b, .. }) if a != b => false,
        (Value::Multi(a), Value::Multi(b)) => a == b,
        _ => order(l, r)? == Some(Ordering::Equal),
    })
}

/// The order of two values, `None` when either is null. Numbers and amounts compare by amount;
/// text by bytes, as the databases do.
fn order(l: &Value, r: &Value) -> Result<Option<Ordering>, String> {
    use Value::*;
    Ok(Some(match (l, r) {
        (Null, _) | (_, Null) => return Ok(None),
        (Money { currency: a, .. }, Money { currency: b, .. }) if a != b => {
            return Err(format!("cannot compare amounts in {a} and {b}"));
        }
        (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Date(a), Date(b)) => a.cmp(b),
        (Datetime(a), Datetime(b)) => a.cmp(b),
        (Bool(a), Bool(b)) => a.cmp(b),
        (Ref(a), Ref(b)) => a.cmp(b),
        _ => match (amount(l), amount(r)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => return Err(format!("cannot compare {} with {}", kind(l), kind(r))),
        },
    }))
}

fn number(v: &Value) -> Option<Decimal> {
    match v {
        Value::Int(n) => Some((*n).into()),
        Value::Decimal(d) => Some(*d),
        _ => None,
    }
}

/// A number or the amount of money.
pub(super) fn amount(v: &Value) -> Option<Decimal> {
    match v {
        Value::Money { amount, .. } => Some(*amount),
        other => number(other),
    }
}

/// A whole number of days or months.
fn whole(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(n) => Ok(*n),
        Value::Decimal(d) if d.fract().is_zero() => d.to_i64().ok_or_else(out_of_range),
        other => Err(format!("expected a whole number, found {}", kind(other))),
    }
}

fn as_date(v: &Value, env: &dyn FormulaEnv) -> Result<NaiveDate, String> {
    match v {
        Value::Date(d) => Ok(*d),
        Value::Datetime(t) => Ok(env.local_date(*t)),
        Value::Text(s) => parse_date(s).ok_or_else(|| format!("'{s}' is not a date (YYYY-MM-DD)")),
        other => Err(format!("expected a date, found {}", kind(other))),
    }
}

fn shift_date(d: NaiveDate, days: i64) -> Result<Value, String> {
    TimeDelta::try_days(days)
        .and_then(|delta| d.checked_add_signed(delta))
        .map(Value::Date)
        .filter(in_range)
        .ok_or_else(out_of_range)
}

fn shift_datetime(t: DateTime<Utc>, days: i64) -> Result<Value, String> {
    TimeDelta::try_days(days)
        .and_then(|delta| t.checked_add_signed(delta))
        .map(Value::Datetime)
        .filter(in_range)
        .ok_or_else(out_of_range)
}

fn in_range(v: &Value) -> bool {
    match v {
        Value::Date(d) => in_year_range(*d),
        Value::Datetime(t) => in_year_range(t.date_naive()),
        _ => true,
    }
}

fn out_of_range() -> String {
    "the date falls outside the years 0001 to 9999".to_owned()
}

/// The text form `&`, `concat` and `text` use; `None` for null.
pub(super) fn text_of(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Text(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Money { amount, currency } => format!("{amount} {currency}"),
        Value::Bool(b) => b.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Datetime(t) => format_datetime(t),
        Value::Multi(items) => items.join(";"),
        Value::Ref(id) => id.to_string(),
    })
}

/// What a value is, for messages.
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Text(_) => "text",
        Value::Int(_) | Value::Decimal(_) => "a number",
        Value::Money { .. } => "an amount",
        Value::Bool(_) => "true/false",
        Value::Date(_) => "a date",
        Value::Datetime(_) => "a datetime",
        Value::Multi(_) => "a multi-picklist value",
        Value::Ref(_) => "a record id",
    }
}
