//! Checks an untyped filter against an object's fields and types its operands.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::relative::{Resolved, resolve_date, resolve_datetime};
use super::{Filter, Op, Operand, TypedFilter};
use crate::error::{FieldError, FieldErrorCode as Code};
use crate::meta::{FieldDef, FieldType, ObjectDef};
use crate::value::{ParseContext, Value};

/// Most values an `in` list may hold.
pub const MAX_IN_VALUES: usize = 1000;

/// Which operators a field type takes.
pub fn allowed_ops(t: FieldType) -> &'static [Op] {
    use Op::*;
    match t {
        FieldType::Text
        | FieldType::LongText
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Picklist => &[Eq, Ne, Lt, Lte, Gt, Gte, In, Contains, StartsWith, IsNull],
        FieldType::Integer
        | FieldType::Decimal
        | FieldType::Currency
        | FieldType::Percent
        | FieldType::Date
        | FieldType::Datetime => &[Eq, Ne, Lt, Lte, Gt, Gte, In, IsNull],
        FieldType::Boolean => &[Eq, Ne, IsNull],
        FieldType::MultiPicklist => &[Contains, IsNull],
        FieldType::Lookup | FieldType::UserLookup | FieldType::Id => &[Eq, Ne, In, IsNull],
    }
}

/// Types `filter` against `object`. `now` resolves relative dates; `visible` says whether the
/// caller may see a field (filtering on a hidden field is refused, so counts cannot leak it).
pub fn type_filter(
    filter: &Filter,
    object: &ObjectDef,
    now: DateTime<Utc>,
    visible: &dyn Fn(&FieldDef) -> bool,
) -> Result<TypedFilter, FieldError> {
    Ok(match filter {
        Filter::And(items) => TypedFilter::And(
            items
                .iter()
                .map(|f| type_filter(f, object, now, visible))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Or(items) => TypedFilter::Or(
            items
                .iter()
                .map(|f| type_filter(f, object, now, visible))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Not(inner) => TypedFilter::Not(Box::new(type_filter(inner, object, now, visible)?)),
        Filter::Cond { field, op, value } => {
            let def = object.field(field).filter(|f| visible(f)).ok_or_else(|| {
                FieldError::new(
                    field,
                    Code::UnknownField,
                    format!("'{}' has no field '{field}'", object.name()),
                )
            })?;
            if !allowed_ops(def.field_type).contains(op) {
                let names: Vec<&str> = allowed_ops(def.field_type).iter().map(Op::as_str).collect();
                return Err(FieldError::new(
                    field,
                    Code::InvalidOperator,
                    format!(
                        "operator '{}' does not apply to a {} field; use one of {}",
                        op.as_str(),
                        def.field_type.as_str(),
                        names.join(", ")
                    ),
                ));
            }
            let operand = type_operand(def, *op, value, now)?;
            TypedFilter::Cond {
                field: def.clone(),
                op: *op,
                operand,
            }
        }
    })
}

fn type_operand(
    def: &FieldDef,
    op: Op,
    value: &Json,
    now: DateTime<Utc>,
) -> Result<Operand, FieldError> {
    let name = def.name();
    match op {
        Op::IsNull => match value {
            Json::Bool(b) => Ok(Operand::Null(*b)),
            Json::Null => Ok(Operand::Null(true)),
            _ => Err(FieldError::new(
                name,
                Code::WrongType,
                "is_null takes true or false",
            )),
        },
        Op::Contains | Op::StartsWith if def.field_type != FieldType::MultiPicklist => {
            match value {
                Json::String(s) if s.contains('\0') => Err(FieldError::new(
                    name,
                    Code::WrongType,
                    "must not contain the NUL character (U+0000)",
                )),
                Json::String(s) => Ok(Operand::Text(s.to_ascii_lowercase())),
                Json::Number(n) => Ok(Operand::Text(n.to_string())),
                _ => Err(FieldError::new(
                    name,
                    Code::WrongType,
                    format!("{} takes a string", op.as_str()),
                )),
            }
        }
        Op::In => {
            let Json::Array(items) = value else {
                return Err(FieldError::new(
                    name,
                    Code::WrongType,
                    "in takes an array of values",
                ));
            };
            if items.len() > MAX_IN_VALUES {
                return Err(FieldError::new(
                    name,
                    Code::TooLarge,
                    format!("in takes at most {MAX_IN_VALUES} values"),
                ));
            }
            let values = items
                .iter()
                .map(|v| scalar(def, v, now))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|v| !v.is_null())
                .collect();
            Ok(Operand::Many(values))
        }
        _ => {
            let v = scalar(def, value, now)?;
            if v.is_null() {
                return Err(FieldError::new(
                    name,
                    Code::WrongType,
                    format!(
                        "{} needs a value; to find empty fields use is_null",
                        op.as_str()
                    ),
                ));
            }
            Ok(Operand::One(v))
        }
    }
}

/// A single operand value: parsed like input, but without the input-only rules (range,
/// length, inactive picklist values), and with relative dates.
fn scalar(def: &FieldDef, value: &Json, now: DateTime<Utc>) -> Result<Value, FieldError> {
    if let Json::String(s) = value {
        let out_of_range = |code| {
            FieldError::new(
                def.name(),
                code,
                format!("'{s}' falls outside the years 0001-9999"),
            )
        };
        match def.field_type {
            FieldType::Date => match resolve_date(s, now) {
                Resolved::At(d) => return Ok(Value::Date(d)),
                Resolved::OutOfRange => return Err(out_of_range(Code::InvalidDate)),
                Resolved::NotRelative => {}
            },
            FieldType::Datetime => match resolve_datetime(s, now) {
                Resolved::At(t) => return Ok(Value::Datetime(t)),
                Resolved::OutOfRange => return Err(out_of_range(Code::InvalidDatetime)),
                Resolved::NotRelative => {}
            },
            FieldType::MultiPicklist => {
                return if def.picklist_value(s).is_some() {
                    Ok(Value::Text(s.clone()))
                } else {
                    Err(FieldError::new(
                        def.name(),
                        Code::UnknownPicklistValue,
                        format!("'{s}' is not a value of this field"),
                    ))
                };
            }
            FieldType::Picklist if def.picklist_value(s).is_some() => {
                return Ok(Value::Text(s.clone()));
            }
            _ => {}
        }
    }
    let relaxed = FieldDef {
        max_length: None,
        min: None,
        max: None,
        pattern: None,
        ..def.clone()
    };
    let v = Value::parse(&relaxed, value, &ParseContext::default())?;
    // A currency operand compares amounts only.
    Ok(match v {
        Value::Money { amount, .. } => Value::Decimal(amount),
        other => other,
    })
}
