//! A deal's line items (商机产品明细), in the one write path: what a line starts with from
//! its price book entry and product (price, name, tax rate, volume discount), its price in
//! the deal's currency, its amounts (`relata_domain::pricing`), and the deal's amount, which
//! follows the sum of its live lines.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::meta::{ObjectDef, Schema};
use relata_domain::pricing::{
    self, DISCOUNT, DISCOUNT_AMOUNT, ENTRY_ID, GROSS, Line, MONEY_SCALE, OPPORTUNITY_ID,
    PRODUCT_ID, QUANTITY, Rate, SUBTOTAL, TAX_AMOUNT, TAX_RATE, TOTAL, Tier, UNIT_PRICE,
};
use relata_domain::{Record, Value, opportunity};
use relata_store::ddl::table_name;
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use crate::context::Actor;
use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::read::{self, Bin};
use crate::records::write;
use crate::visibility::Visibility;

/// The deal's field that follows its lines.
const AMOUNT: &str = "amount";

/// The field that names a line's parent: a deal's products, or a quote's lines.
pub(crate) fn parent_field(object: &ObjectDef) -> Option<&'static str> {
    if !object.standard {
        return None;
    }
    match object.name() {
        pricing::LINE_ITEM => Some(OPPORTUNITY_ID),
        pricing::QUOTE_LINE => Some(pricing::QUOTE_ID),
        _ => None,
    }
}

pub(crate) fn invalid(field: &str, code: Code, message: impl Into<String>) -> CoreError {
    CoreError::Validation(vec![FieldError::new(field, code, message)])
}

pub(crate) fn object_of(
    schema: &Schema,
    name: &str,
) -> Result<std::sync::Arc<ObjectDef>, CoreError> {
    schema
        .object(name)
        .cloned()
        .ok_or_else(|| CoreError::Internal(format!("the {name} object is missing")))
}

/// The live records of `object` where `column` is `value`.
pub(crate) fn live_where(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    column: &str,
    value: Uuid,
) -> Result<Vec<Record>, CoreError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE {column} = {} AND deleted_at IS NULL",
        read::select_list(object, ""),
        table_name(object),
        placeholder(conn.dialect(), 1)
    );
    conn.query(&sql, &[SqlValue::Uuid(value)])?
        .iter()
        .map(|row| read::decode_row(object, row))
        .collect()
}

pub(crate) fn live(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    id: Uuid,
) -> Result<Option<Record>, CoreError> {
    Ok(live_where(conn, object, "id", id)?.into_iter().next())
}

pub(crate) fn as_ref(v: &Value) -> Option<Uuid> {
    match v {
        Value::Ref(u) => Some(*u),
        _ => None,
    }
}

pub(crate) fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) | Value::Money { amount: d, .. } => Some(*d),
        Value::Int(i) => Some(Decimal::from(*i)),
        _ => None,
    }
}

/// Every rate of the exchange-rate table.
pub(crate) fn rates(conn: &mut dyn Conn, schema: &Schema) -> Result<Vec<Rate>, CoreError> {
    let object = object_of(schema, pricing::EXCHANGE_RATE)?;
    let sql = format!(
        "SELECT {} FROM {} WHERE deleted_at IS NULL",
        read::select_list(&object, ""),
        table_name(&object)
    );
    let mut out = Vec::new();
    for row in conn.query(&sql, &[])? {
        let r = read::decode_row(&object, &row)?;
        let (Value::Text(currency), Value::Text(base), Some(per_unit), Value::Date(from)) = (
            r.get("currency"),
            r.get("base_currency"),
            as_decimal(r.get("rate")),
            r.get("effective_from"),
        ) else {
            continue;
        };
        out.push(Rate {
            currency: currency.clone(),
            base: base.clone(),
            per_unit,
            effective_from: *from,
        });
    }
    Ok(out)
}

fn tiers(conn: &mut dyn Conn, schema: &Schema, entry: Uuid) -> Result<Vec<Tier>, CoreError> {
    let object = object_of(schema, pricing::PRICE_TIER)?;
    Ok(live_where(conn, &object, ENTRY_ID, entry)?
        .iter()
        .filter_map(|t| {
            Some(Tier {
                min_quantity: as_decimal(t.get("min_quantity"))?,
                discount_percent: as_decimal(t.get(DISCOUNT))?,
            })
        })
        .collect())
}

/// The currency a line under `parent_id` is priced in: a deal's amount's, or a quote's
/// total's (else its deal's).
fn parent_currency(
    conn: &mut dyn Conn,
    schema: &Schema,
    parent: &str,
    parent_id: Uuid,
) -> Result<Option<String>, CoreError> {
    if parent == OPPORTUNITY_ID {
        return deal_currency(conn, schema, parent_id);
    }
    let quotes = object_of(schema, pricing::QUOTE)?;
    let Some(quote) = live(conn, &quotes, parent_id)? else {
        return Ok(None);
    };
    if let Value::Money { currency, .. } = quote.get(TOTAL) {
        return Ok(Some(currency.clone()));
    }
    match as_ref(quote.get(OPPORTUNITY_ID)) {
        Some(deal) => deal_currency(conn, schema, deal),
        None => Ok(None),
    }
}

/// The currency of a deal's amount, when it has one.
fn deal_currency(
    conn: &mut dyn Conn,
    schema: &Schema,
    deal: Uuid,
) -> Result<Option<String>, CoreError> {
    let object = object_of(schema, opportunity::OBJECT)?;
    Ok(
        live(conn, &object, deal)?.and_then(|d| match d.get(AMOUNT) {
            Value::Money { currency, .. } => Some(currency.clone()),
            _ => None,
        }),
    )
}

/// Completes a line item's write: `values` are the fields written (all of them for a new
/// line, `before` being `None`), to which this adds what follows from them — product,
/// price, name, tax rate and volume discount from a newly chosen entry or product, the price
/// converted into the deal's currency, and the computed amounts. Refuses a line that cannot
/// be priced, naming the field.
pub(crate) fn fill(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<String, Value>,
    today: NaiveDate,
) -> Result<(), CoreError> {
    let Some(parent) = parent_field(object) else {
        return Ok(());
    };
    let schema = relata_store::meta_sql::load_schema(conn)?;
    let was = |f: &str| before.map_or(Value::Null, |b| b.get(f).clone());
    let now_of = |values: &BTreeMap<String, Value>, f: &str| {
        values.get(f).cloned().unwrap_or_else(|| was(f))
    };
    // a quote that is in approval, approved, sent or replaced keeps its lines
    for quote in [as_ref(&was(parent)), values.get(parent).and_then(as_ref)] {
        if let (Some(quote), pricing::QUOTE_ID) = (quote, parent) {
            super::quotes::check_lines_open(conn, &schema, quote)?;
        }
    }
    let inputs = [
        ENTRY_ID, PRODUCT_ID, QUANTITY, UNIT_PRICE, DISCOUNT, TAX_RATE, parent,
    ];
    if before.is_some() && !inputs.iter().any(|f| values.contains_key(*f)) {
        return Ok(()); // a description or owner changed: the amounts stand
    }

    // a newly chosen price book entry brings its product, price and volume discount
    let mut entry_tiers = Vec::new();
    if let Some(entry_id) = values.get(ENTRY_ID).and_then(as_ref) {
        let entries = object_of(&schema, pricing::PRICE_BOOK_ENTRY)?;
        if let Some(entry) = live(conn, &entries, entry_id)? {
            if entry.get("active") == &Value::Bool(false) {
                return Err(invalid(
                    ENTRY_ID,
                    Code::InvalidOption,
                    "this price book entry is inactive",
                ));
            }
            match (now_of(values, PRODUCT_ID), entry.get(PRODUCT_ID)) {
                (Value::Null, p) => {
                    values.insert(PRODUCT_ID.into(), p.clone());
                }
                (p, q) if &p != q && values.contains_key(PRODUCT_ID) => {
                    return Err(invalid(
                        PRODUCT_ID,
                        Code::InvalidOption,
                        "is not the product of the chosen price book entry",
                    ));
                }
                _ => {
                    values.insert(PRODUCT_ID.into(), entry.get(PRODUCT_ID).clone());
                }
            }
            if !values.contains_key(UNIT_PRICE) {
                values.insert(UNIT_PRICE.into(), entry.get(UNIT_PRICE).clone());
            }
            entry_tiers = tiers(conn, &schema, entry_id)?;
        }
    } else if let Some(entry_id) = as_ref(&was(ENTRY_ID)) {
        entry_tiers = tiers(conn, &schema, entry_id)?;
    }

    // a newly chosen product brings its name and its tax category's rate
    if let Some(product_id) = values.get(PRODUCT_ID).and_then(as_ref)
        && before.is_none_or(|b| b.get(PRODUCT_ID) != &Value::Ref(product_id))
    {
        let products = object_of(&schema, "product")?;
        if let Some(product) = live(conn, &products, product_id)? {
            if !values.contains_key("name") {
                values.insert("name".into(), product.get("name").clone());
            }
            if !values.contains_key(TAX_RATE)
                && let Some(tax_id) = as_ref(product.get("tax_category_id"))
            {
                let taxes = object_of(&schema, pricing::TAX_CATEGORY)?;
                if let Some(rate) = live(conn, &taxes, tax_id)?.map(|t| t.get("rate").clone()) {
                    values.insert(TAX_RATE.into(), rate);
                }
            }
        }
    }

    // the volume discount follows the quantity unless someone set the discount by hand
    let quantity = as_decimal(&now_of(values, QUANTITY));
    if !entry_tiers.is_empty()
        && !values.contains_key(DISCOUNT)
        && let Some(q) = quantity
    {
        let tiered_before = as_decimal(&was(QUANTITY))
            .map(|q| pricing::tier_discount(&entry_tiers, q).unwrap_or_default());
        let by_hand = before.is_some()
            && as_decimal(&was(DISCOUNT)).unwrap_or_default() != tiered_before.unwrap_or_default();
        if !by_hand {
            let mut d = pricing::tier_discount(&entry_tiers, q).unwrap_or_default();
            d.rescale(2); // as a percent is stored
            values.insert(DISCOUNT.into(), Value::Decimal(d));
        }
    }

    // the price in the deal's currency
    let Value::Money {
        amount: mut price,
        mut currency,
    } = now_of(values, UNIT_PRICE)
    else {
        return Err(invalid(
            UNIT_PRICE,
            Code::Required,
            "is required (or choose a price book entry, which gives it)",
        ));
    };
    if let Some(parent_id) = as_ref(&now_of(values, parent))
        && let Some(deal_currency) = parent_currency(conn, &schema, parent, parent_id)?
        && deal_currency != currency
    {
        let rates = rates(conn, &schema)?;
        // to the cent, as a price is stored: the amounts are computed from what is kept
        price = pricing::convert(price, &currency, &deal_currency, today, &rates, MONEY_SCALE)
            .map_err(|e| {
                invalid(
                    UNIT_PRICE,
                    Code::InvalidCurrency,
                    format!(
                        "{e}: the deal is in {deal_currency}; add the rate under Exchange rates"
                    ),
                )
            })?;
        currency = deal_currency;
        values.insert(
            UNIT_PRICE.into(),
            Value::Money {
                amount: price,
                currency: currency.clone(),
            },
        );
    }
    if now_of(values, "name").is_null() {
        return Err(invalid(
            "name",
            Code::Required,
            "is required (or choose a product)",
        ));
    }

    let line = Line {
        quantity: quantity.unwrap_or(Decimal::ONE),
        unit_price: price,
        discount_percent: as_decimal(&now_of(values, DISCOUNT)).unwrap_or_default(),
        tax_rate: as_decimal(&now_of(values, TAX_RATE)).unwrap_or_default(),
    };
    let errors = pricing::check_line(&line);
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    let amounts = line
        .amounts(MONEY_SCALE)
        .ok_or_else(|| invalid(QUANTITY, Code::TooLarge, "the line's amount is too large"))?;
    for (field, amount) in [
        (GROSS, amounts.gross),
        (DISCOUNT_AMOUNT, amounts.discount),
        (SUBTOTAL, amounts.subtotal),
        (TAX_AMOUNT, amounts.tax),
        (TOTAL, amounts.total),
    ] {
        values.insert(
            field.into(),
            Value::Money {
                amount,
                currency: currency.clone(),
            },
        );
    }
    Ok(())
}

/// The sum of a deal's live lines in `currency` (lines priced in another are converted), or
/// `None` when it has none.
fn lines_total(
    conn: &mut dyn Conn,
    schema: &Schema,
    deal: Uuid,
    currency: Option<&str>,
    today: NaiveDate,
) -> Result<Option<Value>, CoreError> {
    let object = object_of(schema, pricing::LINE_ITEM)?;
    let lines = live_where(conn, &object, OPPORTUNITY_ID, deal)?;
    let totals: Vec<(Decimal, String)> = lines
        .iter()
        .filter_map(|l| match l.get(TOTAL) {
            Value::Money { amount, currency } => Some((*amount, currency.clone())),
            _ => None,
        })
        .collect();
    let Some(first) = totals.first() else {
        return Ok(None);
    };
    let currency = currency.unwrap_or(&first.1).to_owned();
    let mut rates = None;
    let mut sum = Decimal::ZERO;
    for (amount, from) in &totals {
        let amount = if *from == currency {
            *amount
        } else {
            let rates = match &mut rates {
                Some(r) => r,
                None => rates.insert(self::rates(conn, schema)?),
            };
            pricing::convert(*amount, from, &currency, today, rates, MONEY_SCALE)
                .map_err(|e| invalid(AMOUNT, Code::InvalidCurrency, e))?
        };
        sum += amount;
    }
    Ok(Some(Value::Money {
        amount: sum,
        currency,
    }))
}

/// After a line was written, deleted or restored: each deal it was or is on takes the sum
/// of its live lines as its amount, through the write path (history, change event). A deal
/// whose last line went keeps the amount it had.
#[allow(clippy::too_many_arguments)]
pub(crate) fn roll_up(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<(), CoreError> {
    let Some(parent) = parent_field(object) else {
        return Ok(());
    };
    let mut deals: Vec<Uuid> = [before, after]
        .into_iter()
        .flatten()
        .filter_map(|r| as_ref(r.get(parent)))
        .collect();
    deals.dedup();
    let schema = relata_store::meta_sql::load_schema(conn)?;
    if parent == pricing::QUOTE_ID {
        for quote in deals {
            super::quotes::total(conn, side, &schema, actor, now, quote)?;
        }
        return Ok(());
    }
    let deals_object = object_of(&schema, opportunity::OBJECT)?;
    for deal in deals {
        let Some(record) =
            read::get_for_update(conn, &deals_object, deal, &Visibility::All, Bin::Live)?
        else {
            continue;
        };
        let currency = match record.get(AMOUNT) {
            Value::Money { currency, .. } => Some(currency.clone()),
            _ => None,
        };
        let Some(total) = lines_total(conn, &schema, deal, currency.as_deref(), now.date_naive())?
        else {
            continue;
        };
        let changes = BTreeMap::from([(AMOUNT.to_owned(), total)]);
        write::update(conn, side, &deals_object, actor, now, record, changes)?;
    }
    Ok(())
}

/// A deal with line items has the amount they sum to: a write giving it another is
/// refused (edit the lines instead).
pub(crate) fn check_deal_amount(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    current: &Record,
    changes: &BTreeMap<String, Value>,
    today: NaiveDate,
) -> Result<(), CoreError> {
    if !(object.standard && object.name() == opportunity::OBJECT) {
        return Ok(());
    }
    let (Some(given), Some(deal)) = (changes.get(AMOUNT), current.id()) else {
        return Ok(());
    };
    // most deals have no lines: one indexed probe, before any metadata is read (an import
    // of deals updates amounts row after row)
    let probe = format!(
        "SELECT 1 FROM {} WHERE {OPPORTUNITY_ID} = {} AND deleted_at IS NULL LIMIT 1",
        pricing::LINE_ITEM,
        placeholder(conn.dialect(), 1)
    );
    if conn.query_one(&probe, &[SqlValue::Uuid(deal)])?.is_none() {
        return Ok(());
    }
    let schema = relata_store::meta_sql::load_schema(conn)?;
    let currency = match given {
        Value::Money { currency, .. } => Some(currency.as_str()),
        _ => None,
    };
    match lines_total(conn, &schema, deal, currency, today)? {
        Some(total) if &total != given => Err(invalid(
            AMOUNT,
            Code::ReadOnly,
            format!(
                "follows the deal's products ({}); change them instead",
                total.to_json()
            ),
        )),
        _ => Ok(()),
    }
}
