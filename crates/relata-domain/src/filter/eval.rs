//! In-memory evaluation of a typed filter on one record, with exactly the semantics the SQL
//! compiler produces (see the module doc of `filter`).

use std::cmp::Ordering;

use super::{Op, Operand, TypedFilter};
use crate::record::Record;
use crate::value::Value;

impl TypedFilter {
    /// Whether `record` satisfies the filter. Conditions on related records, tags and lists
    /// need the database and are false here; filters typed for in-memory use (sharing rules,
    /// automation conditions) are typed without them (`type_filter` refuses them).
    pub fn matches(&self, record: &Record) -> bool {
        match self {
            TypedFilter::And(items) => items.iter().all(|f| f.matches(record)),
            TypedFilter::Or(items) => items.iter().any(|f| f.matches(record)),
            TypedFilter::Not(inner) => !inner.matches(record),
            TypedFilter::Cond { field, op, operand } => {
                condition(record.get(field.name()), *op, operand)
            }
            TypedFilter::Related { .. } | TypedFilter::Tagged { .. } | TypedFilter::InList(_) => {
                false
            }
        }
    }
}

fn condition(value: &Value, op: Op, operand: &Operand) -> bool {
    match (op, operand) {
        (Op::IsNull, Operand::Null(want_null)) => value.is_null() == *want_null,
        (Op::Ne, Operand::One(x)) => value.is_null() || value.compare(x) != Some(Ordering::Equal),
        (_, _) if value.is_null() => false,
        (Op::Eq, Operand::One(x)) => value.compare(x) == Some(Ordering::Equal),
        (Op::Lt, Operand::One(x)) => value.compare(x) == Some(Ordering::Less),
        (Op::Lte, Operand::One(x)) => {
            matches!(value.compare(x), Some(Ordering::Less | Ordering::Equal))
        }
        (Op::Gt, Operand::One(x)) => value.compare(x) == Some(Ordering::Greater),
        (Op::Gte, Operand::One(x)) => {
            matches!(value.compare(x), Some(Ordering::Greater | Ordering::Equal))
        }
        (Op::In, Operand::Many(xs)) => xs.iter().any(|x| value.compare(x) == Some(Ordering::Equal)),
        (Op::Contains, Operand::One(Value::Text(x))) => match value {
            Value::Multi(items) => items.contains(x),
            _ => false,
        },
        (Op::Contains, Operand::Text(needle)) => {
            text_of(value).is_some_and(|t| t.to_ascii_lowercase().contains(needle.as_str()))
        }
        (Op::StartsWith, Operand::Text(needle)) => {
            text_of(value).is_some_and(|t| t.to_ascii_lowercase().starts_with(needle.as_str()))
        }
        _ => false,
    }
}

fn text_of(value: &Value) -> Option<&str> {
    match value {
        Value::Text(s) => Some(s),
        _ => None,
    }
}
