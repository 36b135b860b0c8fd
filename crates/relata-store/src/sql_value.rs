//! The values that cross the driver boundary, one enum for both backends. Encoding of domain
//! values into these (scaled decimals on SQLite, native numerics on PostgreSQL, …) lives in
//! `codec.rs`; this module only moves them in and out of the drivers.

use std::error::Error;

use chrono::{DateTime, NaiveDate, Utc};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
    Uuid(Uuid),
    Decimal(Decimal),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    Json(serde_json::Value),
}

impl SqlValue {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            SqlValue::Bool(b) => Some(i64::from(*b)),
            SqlValue::Decimal(d) => i64::try_from(*d).ok(),
            SqlValue::Real(r) => Some(*r as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn into_string(self) -> Option<String> {
        match self {
            SqlValue::Text(s) => Some(s),
            SqlValue::Json(j) => Some(j.to_string()),
            _ => None,
        }
    }

    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            SqlValue::Uuid(u) => Some(*u),
            SqlValue::Blob(b) => Uuid::from_slice(b).ok(),
            SqlValue::Text(s) => Uuid::parse_str(s).ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SqlValue::Bool(b) => Some(*b),
            SqlValue::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    pub fn as_timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            SqlValue::Timestamp(t) => Some(*t),
            SqlValue::Text(s) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            SqlValue::Real(r) => ToSqlOutput::Owned(Value::Real(*r)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            SqlValue::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
            SqlValue::Uuid(u) => ToSqlOutput::Borrowed(ValueRef::Blob(u.as_bytes())),
            // Decimals are scaled to integers by the codec before they get here; a bare
            // decimal (e.g. a computed aggregate) travels as text to stay exact.
            SqlValue::Decimal(d) => ToSqlOutput::Owned(Value::Text(d.to_string())),
            SqlValue::Date(d) => ToSqlOutput::Owned(Value::Text(d.format("%Y-%m-%d").to_string())),
            SqlValue::Timestamp(t) => {
                ToSqlOutput::Owned(Value::Text(relata_domain::value::format_datetime(t)))
            }
            SqlValue::Json(j) => ToSqlOutput::Owned(Value::Text(j.to_string())),
        })
    }
}

pub(crate) fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> SqlValue {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(r) => SqlValue::Real(r),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::NUMERIC => Decimal::from(*i).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            SqlValue::Real(r) => r.to_sql(ty, out),
            SqlValue::Text(s) => match *ty {
                Type::JSONB | Type::JSON => serde_json::Value::String(s.clone()).to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
            SqlValue::Blob(b) => match *ty {
                Type::UUID => Uuid::from_slice(b)?.to_sql(ty, out),
                _ => b.as_slice().to_sql(ty, out),
            },
            SqlValue::Bool(b) => b.to_sql(ty, out),
            SqlValue::Uuid(u) => u.to_sql(ty, out),
            SqlValue::Decimal(d) => d.to_sql(ty, out),
            SqlValue::Date(d) => d.to_sql(ty, out),
            SqlValue::Timestamp(t) => t.to_sql(ty, out),
            SqlValue::Json(j) => match *ty {
                Type::TEXT | Type::VARCHAR => j.to_string().as_str().to_sql(ty, out),
                _ => j.to_sql(ty, out),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // The SQL we generate binds each value to a column of the matching type; `to_sql`
        // converts between the few pairs that differ (e.g. i64 into INT4).
        true
    }

    to_sql_checked!();
}

pub(crate) fn from_pg(row: &postgres::Row, i: usize) -> Result<SqlValue, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(SqlValue::Null, SqlValue::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(SqlValue::Null, |v| SqlValue::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(SqlValue::Null, |v| SqlValue::Int(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(SqlValue::Null, SqlValue::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map_or(SqlValue::Null, |v| SqlValue::Real(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(SqlValue::Null, SqlValue::Bool),
        Type::UUID => row
            .try_get::<_, Option<Uuid>>(i)?
            .map_or(SqlValue::Null, SqlValue::Uuid),
        Type::NUMERIC => row
            .try_get::<_, Option<Decimal>>(i)?
            .map_or(SqlValue::Null, SqlValue::Decimal),
        Type::DATE => row
            .try_get::<_, Option<NaiveDate>>(i)?
            .map_or(SqlValue::Null, SqlValue::Date),
        Type::TIMESTAMPTZ => row
            .try_get::<_, Option<DateTime<Utc>>>(i)?
            .map_or(SqlValue::Null, SqlValue::Timestamp),
        Type::JSONB | Type::JSON => row
            .try_get::<_, Option<serde_json::Value>>(i)?
            .map_or(SqlValue::Null, SqlValue::Json),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(SqlValue::Null, SqlValue::Blob),
        // void (e.g. pg_advisory_xact_lock) and types we never select come back as NULL
        Type::VOID => SqlValue::Null,
        _ => row
            .try_get::<_, Option<String>>(i)
            .ok()
            .flatten()
            .map_or(SqlValue::Null, SqlValue::Text),
    })
}
