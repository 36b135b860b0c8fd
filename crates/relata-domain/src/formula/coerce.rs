//! Turning a formula's result into what a field stores.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value as Json, json};

use super::FormulaError;
use super::eval::{amount, kind, text_of};
use crate::meta::{FieldDef, FieldType};
use crate::value::{ParseContext, Value};

/// Converts an evaluated value to what a field of `field`'s type stores: anything to text for
/// text-like fields and picklists, numbers between integer and decimal (an amount gives its
/// number), a number to money in `default_currency`, a datetime to its date (in UTC).
/// Decimals are rounded half away from zero to the field's scale: a computed `amount * 0.13`
/// should fit, not be refused. The result then passes the field's own validation (picklist
/// values, lengths, ranges, email format…), so a formula can store nothing a client could not.
pub fn coerce(
    value: Value,
    field: &FieldDef,
    default_currency: &str,
) -> Result<Value, FormulaError> {
    let refuse = |message: String| FormulaError {
        message: format!("cannot set '{}': {message}", field.name()),
        position: None,
    };
    let rounded = |d: Decimal| {
        let d = d.round_dp_with_strategy(field.scale(), RoundingStrategy::MidpointAwayFromZero);
        Json::String(d.to_string())
    };
    let json = match (field.field_type, &value, amount(&value)) {
        (_, Value::Null, _) => return Ok(Value::Null),
        (t, v, _) if t.is_textual() => Json::String(text_of(v).unwrap_or_default()),
        (FieldType::MultiPicklist, Value::Multi(items), _) => json!(items),
        (FieldType::MultiPicklist, Value::Text(s), _) => json!([s]),
        (FieldType::Integer, _, Some(d)) => match d.fract().is_zero().then(|| d.to_i64()) {
            Some(Some(n)) => json!(n),
            _ => {
                return Err(refuse(format!(
                    "{d} is not a whole number: use round(x, 0)"
                )));
            }
        },
        (FieldType::Decimal | FieldType::Percent, _, Some(d)) => rounded(d),
        (FieldType::Currency, Value::Money { currency, .. }, Some(d)) => {
            json!({"amount": rounded(d), "currency": currency})
        }
        (FieldType::Currency, _, Some(d)) => {
            json!({"amount": rounded(d), "currency": default_currency})
        }
        (FieldType::Date, Value::Datetime(t), _) => {
            Json::String(t.date_naive().format("%Y-%m-%d").to_string())
        }
        (FieldType::Date, Value::Date(_) | Value::Text(_), _)
        | (FieldType::Datetime, Value::Datetime(_) | Value::Text(_), _)
        | (
            FieldType::Lookup | FieldType::UserLookup | FieldType::Id,
            Value::Ref(_) | Value::Text(_),
            _,
        ) => Json::String(text_of(&value).unwrap_or_default()),
        (FieldType::Boolean, Value::Bool(b), _) => Json::Bool(*b),
        (t, v, _) => {
            return Err(refuse(format!(
                "a {} field cannot hold {}",
                t.as_str(),
                kind(v)
            )));
        }
    };
    let ctx = ParseContext {
        default_currency: default_currency.to_owned(),
    };
    Value::parse(field, &json, &ctx).map_err(|e| refuse(e.message))
}
