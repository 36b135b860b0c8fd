//! Domain values to and from database values, per field type and backend.
//!
//! Choices made once (see docs/adr/0002-storage-encoding.md): ids are UUIDs (BLOB(16) on
//! SQLite, UUID on PostgreSQL); decimals are NUMERIC on PostgreSQL and integers scaled by
//! 10^scale on SQLite, so they stay exact and sort numerically; dates and datetimes are
//! fixed-width ISO text on SQLite (which sorts chronologically) and DATE/TIMESTAMPTZ on
//! PostgreSQL; multi-picklists are JSON arrays.

use rust_decimal::Decimal;

use relata_domain::meta::{FieldDef, FieldType};
use relata_domain::value::{Value, parse_date};

use crate::dialect::Dialect;
use crate::error::StoreError;
use crate::sql_value::SqlValue;

fn scale_factor(scale: u32) -> Decimal {
    Decimal::from_i128_with_scale(10i128.pow(scale), 0)
}

/// Encodes a decimal for a column of `scale` places.
pub fn encode_decimal(d: Decimal, scale: u32, dialect: Dialect) -> SqlValue {
    match dialect {
        Dialect::Postgres => SqlValue::Decimal(d),
        Dialect::Sqlite => {
            let scaled = (d * scale_factor(scale)).trunc();
            SqlValue::Int(i64::try_from(scaled).unwrap_or(if d.is_sign_negative() {
                i64::MIN
            } else {
                i64::MAX
            }))
        }
    }
}

fn decode_decimal(v: &SqlValue, scale: u32) -> Option<Decimal> {
    let mut d = match v {
        SqlValue::Decimal(d) => *d,
        SqlValue::Int(i) => Decimal::from_i128_with_scale(i128::from(*i), scale),
        SqlValue::Text(s) => s.parse().ok()?,
        _ => return None,
    };
    d.rescale(scale);
    Some(d)
}

/// The main-column value of `value` for `field`.
pub fn encode(field: &FieldDef, value: &Value, dialect: Dialect) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Int(i) => SqlValue::Int(*i),
        Value::Decimal(d) | Value::Money { amount: d, .. } => {
            encode_decimal(*d, field.scale(), dialect)
        }
        Value::Bool(b) => SqlValue::Bool(*b),
        Value::Date(d) => SqlValue::Date(*d),
        Value::Datetime(t) => SqlValue::Timestamp(*t),
        Value::Multi(items) => SqlValue::Json(serde_json::json!(items)),
        Value::Ref(u) => SqlValue::Uuid(*u),
    }
}

/// The values of all columns of `field` (two for a currency).
pub fn encode_columns(field: &FieldDef, value: &Value, dialect: Dialect) -> Vec<SqlValue> {
    let main = encode(field, value, dialect);
    if field.field_type == FieldType::Currency {
        let code = match value {
            Value::Money { currency, .. } => SqlValue::Text(currency.clone()),
            _ => SqlValue::Null,
        };
        vec![main, code]
    } else {
        vec![main]
    }
}

/// Number of columns `field` occupies.
pub fn column_count(field: &FieldDef) -> usize {
    if field.field_type == FieldType::Currency {
        2
    } else {
        1
    }
}

/// Decodes the columns of `field` (as many as [`column_count`]).
pub fn decode(field: &FieldDef, cols: &[SqlValue]) -> Result<Value, StoreError> {
    let bad = || {
        StoreError::Internal(format!(
            "unexpected stored value for field {}: {:?}",
            field.name(),
            cols.first()
        ))
    };
    let v = cols.first().ok_or_else(bad)?;
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match field.field_type {
        FieldType::Text
        | FieldType::LongText
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Picklist => Value::Text(v.as_str().ok_or_else(bad)?.to_owned()),
        FieldType::Integer => Value::Int(v.as_i64().ok_or_else(bad)?),
        FieldType::Decimal | FieldType::Percent => {
            Value::Decimal(decode_decimal(v, field.scale()).ok_or_else(bad)?)
        }
        FieldType::Currency => {
            let amount = decode_decimal(v, field.scale()).ok_or_else(bad)?;
            let currency = cols
                .get(1)
                .and_then(SqlValue::as_str)
                .unwrap_or("CNY")
                .to_owned();
            Value::Money { amount, currency }
        }
        FieldType::Date => match v {
            SqlValue::Date(d) => Value::Date(*d),
            SqlValue::Text(s) => Value::Date(parse_date(s).ok_or_else(bad)?),
            _ => return Err(bad()),
        },
        FieldType::Datetime => Value::Datetime(v.as_timestamp().ok_or_else(bad)?),
        FieldType::Boolean => Value::Bool(v.as_bool().ok_or_else(bad)?),
        FieldType::MultiPicklist => {
            let json = match v {
                SqlValue::Json(j) => j.clone(),
                SqlValue::Text(s) => serde_json::from_str(s).map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            let items: Vec<String> = serde_json::from_value(json).map_err(|_| bad())?;
            Value::Multi(items)
        }
        FieldType::Lookup | FieldType::UserLookup | FieldType::Id => {
            Value::Ref(v.as_uuid().ok_or_else(bad)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_decimals_round_trip_exactly() {
        let mut f = FieldDef::new("amount", "Amount", FieldType::Currency);
        f.scale = Some(2);
        let v = Value::Money {
            amount: "1234.50".parse().unwrap(),
            currency: "USD".into(),
        };
        let cols = encode_columns(&f, &v, Dialect::Sqlite);
        assert_eq!(cols[0], SqlValue::Int(123450));
        assert_eq!(decode(&f, &cols).unwrap(), v);
    }
}
