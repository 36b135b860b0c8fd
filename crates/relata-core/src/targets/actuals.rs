//! What a target's people achieved in a period, read from the records: deals won (closed in
//! the period), payments received on the contracts they own, accounts they created. Money
//! is converted to the target's currency through the exchange-rate table as of today.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use relata_domain::Value;
use relata_domain::collection::{AMOUNT, CONTRACT, CONTRACT_ID, PAYMENT, PAYMENT_DATE};
use relata_domain::meta::{ObjectDef, Schema};
use relata_domain::opportunity::{OBJECT as DEAL, STAGE, WON};
use relata_domain::targets::{Metric, Period};
use relata_store::codec::decode;
use relata_store::ddl::{currency_column, table_name};
use relata_store::{Conn, Sql, SqlValue};

use crate::error::CoreError;
use crate::money::{Converter, missing_rate};

fn object<'a>(schema: &'a Schema, name: &str) -> Result<&'a ObjectDef, CoreError> {
    schema
        .object(name)
        .map(|o| &**o)
        .ok_or_else(|| CoreError::Internal(format!("the {name} object is missing")))
}

/// ` AND <column> IN (…)` for the people, unless everyone counts.
fn owned_by(sql: &mut Sql, column: &str, people: Option<&[Uuid]>) {
    let Some(people) = people else {
        return;
    };
    if people.is_empty() {
        sql.push(" AND 1 = 0");
        return;
    }
    sql.push(&format!(" AND {column} IN ("));
    for (i, p) in people.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*p));
    }
    sql.push(")");
}

/// Sums money rows (amount, currency) in `currency`.
fn sum_in(
    conn: &mut dyn Conn,
    schema: &Schema,
    field: &relata_domain::meta::FieldDef,
    rows: &[Vec<SqlValue>],
    currency: &str,
    today: NaiveDate,
) -> Result<Decimal, CoreError> {
    let mut converter = Converter::new(schema, currency, today, missing_rate);
    let mut total = Decimal::ZERO;
    for row in rows {
        if let Ok(Value::Money {
            amount,
            currency: from,
        }) = decode(field, &[row[0].clone(), row[1].clone()])
        {
            total += converter.convert(conn, amount, &from)?;
        }
    }
    Ok(total)
}

/// The actual of `metric` for `people` (everyone when `None`) in `period`.
pub(crate) fn actual(
    conn: &mut dyn Conn,
    schema: &Schema,
    metric: Metric,
    people: Option<&[Uuid]>,
    period: &Period,
    currency: &str,
    today: NaiveDate,
) -> Result<Decimal, CoreError> {
    let d = conn.dialect();
    let mut sql = Sql::new(d);
    match metric {
        Metric::WonAmount | Metric::WonCount => {
            let deals = object(schema, DEAL)?;
            let select = if metric == Metric::WonCount {
                "COUNT(*)".to_owned()
            } else {
                format!("t.{AMOUNT}, t.{}", currency_column(AMOUNT))
            };
            sql.push(&format!(
                "SELECT {select} FROM {} t WHERE t.deleted_at IS NULL AND t.{STAGE} = ",
                table_name(deals)
            ));
            sql.param(SqlValue::Text(WON.into()));
            sql.push(" AND t.close_date >= ");
            sql.param(SqlValue::Date(period.start()));
            sql.push(" AND t.close_date < ");
            sql.param(SqlValue::Date(period.end()));
            owned_by(&mut sql, "t.owner_id", people);
            let rows = conn.query(&sql.text, &sql.params)?;
            if metric == Metric::WonCount {
                return Ok(count(&rows));
            }
            let field = deals
                .field(AMOUNT)
                .ok_or_else(|| CoreError::Internal("deal amount missing".into()))?;
            sum_in(conn, schema, field, &rows, currency, today)
        }
        Metric::PaymentsCollected => {
            let payments = object(schema, PAYMENT)?;
            let contracts = object(schema, CONTRACT)?;
            sql.push(&format!(
                "SELECT p.{AMOUNT}, p.{} FROM {} p JOIN {} c ON c.id = p.{CONTRACT_ID} WHERE p.deleted_at IS NULL AND c.deleted_at IS NULL AND p.{PAYMENT_DATE} >= ",
                currency_column(AMOUNT),
                table_name(payments),
                table_name(contracts)
            ));
            sql.param(SqlValue::Date(period.start()));
            sql.push(&format!(" AND p.{PAYMENT_DATE} < "));
            sql.param(SqlValue::Date(period.end()));
            owned_by(&mut sql, "c.owner_id", people);
            let rows = conn.query(&sql.text, &sql.params)?;
            let field = payments
                .field(AMOUNT)
                .ok_or_else(|| CoreError::Internal("payment amount missing".into()))?;
            sum_in(conn, schema, field, &rows, currency, today)
        }
        Metric::NewCustomers => {
            let accounts = object(schema, "account")?;
            let start = period
                .start()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc();
            let end = period
                .end()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc();
            sql.push(&format!(
                "SELECT COUNT(*) FROM {} t WHERE t.deleted_at IS NULL AND t.created_at >= ",
                table_name(accounts)
            ));
            sql.param(SqlValue::Timestamp(start));
            sql.push(" AND t.created_at < ");
            sql.param(SqlValue::Timestamp(end));
            owned_by(&mut sql, "t.owner_id", people);
            Ok(count(&conn.query(&sql.text, &sql.params)?))
        }
    }
}

fn count(rows: &[Vec<SqlValue>]) -> Decimal {
    Decimal::from(rows.first().and_then(|r| r.first()?.as_i64()).unwrap_or(0))
}
