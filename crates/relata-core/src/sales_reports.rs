//! Reports of the money side (issue 10, item 8), over exactly the records the viewer may
//! see: revenue won by month, by rep and by product; the product mix by category; and
//! collection against plan by month (what fell due on payment plans, what came in). Amounts
//! are converted to the roll-up currency through the exchange-rate table as of today;
//! receivables by ageing bucket are `Core::receivables`.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use relata_domain::Value;
use relata_domain::access::Operation;
use relata_domain::collection::{AMOUNT, DUE_DATE, PAYMENT, PAYMENT_DATE, PLAN};
use relata_domain::meta::{FieldDef, ObjectDef, Schema};
use relata_domain::opportunity::{OBJECT as DEAL, STAGE, WON};
use relata_domain::pricing::{self, LINE_ITEM, OPPORTUNITY_ID, PRODUCT_ID, QUANTITY, SUBTOTAL};
use relata_store::codec::decode;
use relata_store::ddl::{currency_column, table_name};
use relata_store::{Conn, Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::{CoreError, ErrorClass};
use crate::money::{Converter, missing_rate};
use crate::visibility::Visibility;

/// The longest a report may span.
pub const MAX_DAYS: i64 = 3 * 366;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Won {
    pub amount: Decimal,
    pub deals: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProductRow {
    pub product_id: Uuid,
    pub name: String,
    pub category_id: Option<Uuid>,
    pub quantity: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone, Serialize)]
pub struct MixRow {
    /// None: products without a category.
    pub category_id: Option<Uuid>,
    pub name: String,
    pub amount: Decimal,
    /// Of all products' amount, in percent to one place.
    pub share: Option<Decimal>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CollectionMonth {
    pub planned: Decimal,
    pub collected: Decimal,
    pub rate: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SalesReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currency: String,
    /// `2026-12` → won that month.
    pub won_by_month: BTreeMap<String, Won>,
    pub won_by_rep: BTreeMap<Uuid, Won>,
    /// Products on won deals, by amount (largest first).
    pub won_by_product: Vec<ProductRow>,
    pub product_mix: Vec<MixRow>,
    pub collection_by_month: BTreeMap<String, CollectionMonth>,
}

fn month(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// The read's connection, and amounts converted to the report's currency.
struct Money<'a> {
    conn: &'a mut dyn Conn,
    schema: &'a Schema,
    converter: Converter<'a>,
}

impl Money<'_> {
    /// `cols` (amount, currency) of a money field, in the report's currency.
    fn of(&mut self, field: &FieldDef, cols: &[SqlValue]) -> Result<Option<Decimal>, CoreError> {
        let Ok(Value::Money { amount, currency }) = decode(field, cols) else {
            return Ok(None);
        };
        self.converter
            .convert(self.conn, amount, &currency)
            .map(Some)
    }
}

fn field<'a>(object: &'a ObjectDef, name: &str) -> Result<&'a FieldDef, CoreError> {
    object
        .field(name)
        .ok_or_else(|| CoreError::Internal(format!("{}.{name} is missing", object.name())))
}

fn date_of(field: &FieldDef, v: &SqlValue) -> Option<NaiveDate> {
    match decode(field, std::slice::from_ref(v)) {
        Ok(Value::Date(d)) => Some(d),
        _ => None,
    }
}

fn share(part: Decimal, whole: Decimal) -> Option<Decimal> {
    relata_domain::targets::attainment(part, whole)
}

impl Core {
    /// The report of `from` (inclusive) to `to` (exclusive).
    pub async fn sales_report(
        &self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<SalesReport, CoreError> {
        if to <= from || (to - from).num_days() > MAX_DAYS {
            return Err(CoreError::BadRequest {
                code: "invalid_parameter",
                message: format!("from must come before to, at most {MAX_DAYS} days apart"),
            });
        }
        let deals = self.object(DEAL)?;
        let deal_vis = self.visibility(actor, &deals, Operation::Read)?;
        let lines = self.object(LINE_ITEM)?;
        let lines_readable = actor.may(LINE_ITEM, Operation::Read);
        let products = self.object("product")?;
        let plans = self.object(PLAN)?;
        let payments = self.object(PAYMENT)?;
        // collection needs both: an installation that hides payments from someone shows none
        let collection_vis = match (
            self.visibility(actor, &plans, Operation::Read),
            self.visibility(actor, &payments, Operation::Read),
        ) {
            (Ok(a), Ok(b)) => Some((a, b)),
            (Err(e), _) | (_, Err(e)) if e.class() == ErrorClass::Forbidden => None,
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let schema = self.schema();
        let today = self.clock.now().date_naive();
        self.store
            .read(move |conn| {
                let currency = crate::org_settings::roll_up_currency(conn)?;
                let mut money = Money {
                    conn,
                    schema: &schema,
                    converter: Converter::new(&schema, &currency, today, missing_rate),
                };
                let mut report = SalesReport {
                    from,
                    to,
                    currency,
                    won_by_month: BTreeMap::new(),
                    won_by_rep: BTreeMap::new(),
                    won_by_product: Vec::new(),
                    product_mix: Vec::new(),
                    collection_by_month: BTreeMap::new(),
                };
                won(&mut money, &deals, &deal_vis, from, to, &mut report)?;
                if lines_readable {
                    by_product(
                        &mut money,
                        &deals,
                        &deal_vis,
                        &lines,
                        &products,
                        from,
                        to,
                        &mut report,
                    )?;
                }
                if let Some((plan_vis, pay_vis)) = &collection_vis {
                    collection(
                        &mut money,
                        &plans,
                        plan_vis,
                        &payments,
                        pay_vis,
                        from,
                        to,
                        &mut report,
                    )?;
                }
                Ok::<_, CoreError>(report)
            })
            .await
    }
}

fn won_where(sql: &mut Sql, deals: &ObjectDef, vis: &Visibility, from: NaiveDate, to: NaiveDate) {
    sql.push(&format!(
        " FROM {} t WHERE t.deleted_at IS NULL AND t.{STAGE} = ",
        table_name(deals)
    ));
    sql.param(SqlValue::Text(WON.into()));
    sql.push(" AND t.close_date >= ");
    sql.param(SqlValue::Date(from));
    sql.push(" AND t.close_date < ");
    sql.param(SqlValue::Date(to));
    vis.push(sql, "t.");
}

fn won(
    money: &mut Money<'_>,
    deals: &ObjectDef,
    vis: &Visibility,
    from: NaiveDate,
    to: NaiveDate,
    report: &mut SalesReport,
) -> Result<(), CoreError> {
    let (amount_f, close_f) = (field(deals, "amount")?, field(deals, "close_date")?);
    let mut sql = Sql::new(money.conn.dialect());
    sql.push(&format!(
        "SELECT t.owner_id, t.close_date, t.amount, t.{}",
        currency_column("amount")
    ));
    won_where(&mut sql, deals, vis, from, to);
    for row in money.conn.query(&sql.text, &sql.params)? {
        let (Some(owner), Some(day)) = (row[0].as_uuid(), date_of(close_f, &row[1])) else {
            continue;
        };
        let amount = money.of(amount_f, &row[2..4])?.unwrap_or_default();
        for w in [
            report.won_by_month.entry(month(day)).or_default(),
            report.won_by_rep.entry(owner).or_default(),
        ] {
            w.amount += amount;
            w.deals += 1;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn by_product(
    money: &mut Money<'_>,
    deals: &ObjectDef,
    vis: &Visibility,
    lines: &ObjectDef,
    products: &ObjectDef,
    from: NaiveDate,
    to: NaiveDate,
    report: &mut SalesReport,
) -> Result<(), CoreError> {
    let (qty_f, subtotal_f) = (field(lines, QUANTITY)?, field(lines, SUBTOTAL)?);
    let mut sql = Sql::new(money.conn.dialect());
    sql.push(&format!(
        "SELECT l.{PRODUCT_ID}, l.{QUANTITY}, l.{SUBTOTAL}, l.{}, p.name, p.category_id FROM {} l JOIN {} p ON p.id = l.{PRODUCT_ID} JOIN {} t2 ON t2.id = l.{OPPORTUNITY_ID} WHERE l.deleted_at IS NULL AND t2.id IN (SELECT t.id",
        currency_column(SUBTOTAL),
        table_name(lines),
        table_name(products),
        table_name(deals),
    ));
    won_where(&mut sql, deals, vis, from, to);
    sql.push(")");
    let mut by: BTreeMap<Uuid, ProductRow> = BTreeMap::new();
    for row in money.conn.query(&sql.text, &sql.params)? {
        let Some(product) = row[0].as_uuid() else {
            continue;
        };
        let quantity = match decode(qty_f, std::slice::from_ref(&row[1])) {
            Ok(Value::Decimal(q)) => q,
            _ => Decimal::ZERO,
        };
        let amount = money.of(subtotal_f, &row[2..4])?.unwrap_or_default();
        let entry = by.entry(product).or_insert_with(|| ProductRow {
            product_id: product,
            name: row[4].as_str().unwrap_or_default().to_owned(),
            category_id: row[5].as_uuid(),
            quantity: Decimal::ZERO,
            amount: Decimal::ZERO,
        });
        entry.quantity += quantity;
        entry.amount += amount;
    }
    let mut rows: Vec<ProductRow> = by.into_values().collect();
    rows.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.name.cmp(&b.name)));
    let total: Decimal = rows.iter().map(|r| r.amount).sum();
    let mut mix: BTreeMap<Option<Uuid>, Decimal> = BTreeMap::new();
    for r in &rows {
        *mix.entry(r.category_id).or_default() += r.amount;
    }
    let names = category_names(money, mix.keys().flatten().copied().collect())?;
    let mut mix: Vec<MixRow> = mix
        .into_iter()
        .map(|(category_id, amount)| MixRow {
            name: category_id
                .and_then(|c| names.get(&c).cloned())
                .unwrap_or_default(),
            category_id,
            share: share(amount, total),
            amount,
        })
        .collect();
    mix.sort_by_key(|m| std::cmp::Reverse(m.amount));
    report.won_by_product = rows;
    report.product_mix = mix;
    Ok(())
}

fn category_names(
    money: &mut Money<'_>,
    ids: Vec<Uuid>,
) -> Result<BTreeMap<Uuid, String>, CoreError> {
    let Some(categories) = money.schema.object(pricing::PRODUCT_CATEGORY) else {
        return Ok(BTreeMap::new());
    };
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut sql = Sql::new(money.conn.dialect());
    sql.push(&format!(
        "SELECT id, name FROM {} WHERE id IN (",
        table_name(categories)
    ));
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*id));
    }
    sql.push(")");
    Ok(money
        .conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| Some((r[0].as_uuid()?, r[1].as_str()?.to_owned())))
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn collection(
    money: &mut Money<'_>,
    plans: &ObjectDef,
    plan_vis: &Visibility,
    payments: &ObjectDef,
    pay_vis: &Visibility,
    from: NaiveDate,
    to: NaiveDate,
    report: &mut SalesReport,
) -> Result<(), CoreError> {
    for (object, vis, date, planned) in [
        (plans, plan_vis, DUE_DATE, true),
        (payments, pay_vis, PAYMENT_DATE, false),
    ] {
        let (amount_f, date_f) = (field(object, AMOUNT)?, field(object, date)?);
        let mut sql = Sql::new(money.conn.dialect());
        sql.push(&format!(
            "SELECT t.{date}, t.{AMOUNT}, t.{} FROM {} t WHERE t.deleted_at IS NULL AND t.{date} >= ",
            currency_column(AMOUNT),
            table_name(object)
        ));
        sql.param(SqlValue::Date(from));
        sql.push(&format!(" AND t.{date} < "));
        sql.param(SqlValue::Date(to));
        vis.push(&mut sql, "t.");
        for row in money.conn.query(&sql.text, &sql.params)? {
            let Some(day) = date_of(date_f, &row[0]) else {
                continue;
            };
            let amount = money.of(amount_f, &row[1..3])?.unwrap_or_default();
            let m = report.collection_by_month.entry(month(day)).or_default();
            if planned {
                m.planned += amount;
            } else {
                m.collected += amount;
            }
        }
    }
    for m in report.collection_by_month.values_mut() {
        m.rate = relata_domain::collection::collection_rate(m.collected, m.planned);
    }
    Ok(())
}
