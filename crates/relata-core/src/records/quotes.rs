//! Quotes (报价单) in the one write path: a new quote's number, version, account and
//! validity; its totals from its lines less the header discount; and what a quote that is in
//! approval, approved, sent or replaced refuses — its content changes through a new version
//! instead (`Core::revise_quote`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use relata_domain::error::FieldErrorCode as Code;
use relata_domain::meta::{ObjectDef, Schema};
use relata_domain::pricing::{
    self, DISCOUNT, Line, MONEY_SCALE, OPPORTUNITY_ID, QUANTITY, QuoteLine, SUBTOTAL, TAX_AMOUNT,
    TAX_RATE, TOTAL, UNIT_PRICE,
};
use relata_domain::{Record, Value};
use relata_store::Conn;

use super::line_items::{as_decimal, as_ref, invalid, live, live_where, object_of};
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::read::{self, Bin};
use crate::records::write;
use crate::visibility::Visibility;

pub const STATUS: &str = "status";
pub const APPROVAL: &str = "approval_status";
pub const HEADER: &str = "header_discount_percent";
pub const NUMBER: &str = "quote_number";
pub const VERSION: &str = "quote_version";
pub const SUPERSEDED_AT: &str = "superseded_at";
pub const PREVIOUS: &str = "previous_version_id";
/// How long a new quote is valid when it does not say.
const VALID_DAYS: i64 = 30;

/// Fields that make a quote what it offers: they change only while it is an open draft.
const CONTENT: &[&str] = &[HEADER, "valid_until", "terms", OPPORTUNITY_ID, "contact_id"];

pub(crate) fn is_quote(object: &ObjectDef) -> bool {
    object.standard && object.name() == pricing::QUOTE
}

fn text<'a>(record: &'a Record, field: &str) -> &'a str {
    match record.get(field) {
        Value::Text(t) => t,
        _ => "",
    }
}

/// Why a quote's content cannot change now, if it cannot.
pub fn locked_because(quote: &Record) -> Option<&'static str> {
    if !quote.get(SUPERSEDED_AT).is_null() {
        return Some("replaced by a newer version");
    }
    match (text(quote, APPROVAL), text(quote, STATUS)) {
        ("pending", _) => Some("in approval (recall it first)"),
        (_, "sent") => Some("sent to the customer"),
        (_, "accepted") => Some("accepted"),
        (_, "declined") => Some("declined"),
        ("approved", _) => Some("approved"),
        _ => None,
    }
}

fn revise_hint(why: &str) -> String {
    format!("cannot change: the quote is {why}; revise it to make a new version")
}

/// Refuses a change to the lines of a quote whose content is fixed.
pub(crate) fn check_lines_open(
    conn: &mut dyn Conn,
    schema: &Schema,
    quote: Uuid,
) -> Result<(), CoreError> {
    let quotes = object_of(schema, pricing::QUOTE)?;
    match live(conn, &quotes, quote)?
        .as_ref()
        .and_then(locked_because)
    {
        Some(why) => Err(invalid(pricing::QUOTE_ID, Code::ReadOnly, revise_hint(why))),
        None => Ok(()),
    }
}

/// Completes a quote's write (`before` is `None` for a new one): a new quote's number,
/// version, account, name and validity; the rules of its status; its totals again when the
/// header discount changes.
pub(crate) fn fill(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !is_quote(object) {
        return Ok(());
    }
    let schema = relata_store::meta_sql::load_schema(conn)?;
    if let Some(header) = values.get(HEADER).and_then(as_decimal)
        && !(Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&header)
    {
        return Err(invalid(
            HEADER,
            Code::TooLarge,
            "a discount must be within 0–100 %",
        ));
    }
    let Some(before) = before else {
        return fill_new(conn, object, &schema, values, now);
    };
    if let Some(why) = locked_because(before) {
        if let Some(field) = CONTENT.iter().find(|f| values.contains_key(**f)) {
            return Err(invalid(field, Code::ReadOnly, revise_hint(why)));
        }
        if !before.get(SUPERSEDED_AT).is_null() && values.contains_key(STATUS) {
            return Err(invalid(STATUS, Code::ReadOnly, revise_hint(why)));
        }
    }
    if let Some(Value::Text(to)) = values.get(STATUS) {
        check_status(conn, &schema, before, to, now)?;
    }
    if values.contains_key(HEADER)
        && let Some(id) = before.id()
    {
        let header = values.get(HEADER).and_then(as_decimal).unwrap_or_default();
        values.extend(totals(conn, &schema, id, header)?);
    }
    Ok(())
}

fn fill_new(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    schema: &Schema,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !values.contains_key(NUMBER) {
        // by the installation's quote numbering rule: Q-2026-0007
        let number = crate::numbering::next(
            conn,
            &crate::numbering::QUOTE,
            object,
            NUMBER,
            now.date_naive(),
        )?;
        values.insert(NUMBER.into(), Value::Text(number));
    }
    values.entry(VERSION.into()).or_insert(Value::Int(1));
    values.insert(APPROVAL.into(), Value::Text("none".into()));
    if values
        .get(STATUS)
        .is_some_and(|s| s != &Value::Text("draft".into()))
    {
        return Err(invalid(
            STATUS,
            Code::InvalidTransition,
            "a new quote is a draft",
        ));
    }
    values
        .entry("valid_until".into())
        .or_insert(Value::Date((now + Duration::days(VALID_DAYS)).date_naive()));
    let deals = object_of(schema, relata_domain::opportunity::OBJECT)?;
    let deal = match values.get(OPPORTUNITY_ID).and_then(as_ref) {
        Some(id) => live(conn, &deals, id)?,
        None => None,
    };
    if let Some(deal) = deal {
        if values.get("account_id").is_none_or(Value::is_null) {
            values.insert("account_id".into(), deal.get("account_id").clone());
        }
        if values.get("name").is_none_or(Value::is_null) {
            let number = values.get(NUMBER).map(|n| n.to_json()).unwrap_or_default();
            let name = format!("{} {}", text(&deal, "name"), number.as_str().unwrap_or(""));
            values.insert("name".into(), Value::Text(name.trim().to_owned()));
        }
    }
    Ok(())
}

/// A quote goes draft → sent (approved first when a process asks for it) → accepted or
/// declined.
fn check_status(
    conn: &mut dyn Conn,
    schema: &Schema,
    before: &Record,
    to: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let from = text(before, STATUS);
    if from == to {
        return Ok(());
    }
    let allowed = matches!(
        (from, to),
        ("draft", "sent") | ("sent", "accepted") | ("sent", "declined")
    );
    if !allowed {
        return Err(invalid(
            STATUS,
            Code::InvalidTransition,
            format!("a quote goes draft → sent → accepted or declined, not {from} → {to}"),
        ));
    }
    if to == "sent" {
        match text(before, APPROVAL) {
            "pending" => {
                return Err(invalid(
                    STATUS,
                    Code::InvalidTransition,
                    "the quote is in approval",
                ));
            }
            "rejected" => {
                return Err(invalid(
                    STATUS,
                    Code::InvalidTransition,
                    "the quote's approval was rejected; revise it",
                ));
            }
            "approved" => {}
            _ => {
                if let Some(process) =
                    crate::approvals::process_for(conn, schema, pricing::QUOTE, before, now)?
                {
                    return Err(invalid(
                        STATUS,
                        Code::InvalidTransition,
                        format!("needs approval first ({})", process.name),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The computed fields of quote `id` with `header` percent off its live lines.
fn totals(
    conn: &mut dyn Conn,
    schema: &Schema,
    id: Uuid,
    header: Decimal,
) -> Result<BTreeMap<String, Value>, CoreError> {
    let lines_object = object_of(schema, pricing::QUOTE_LINE)?;
    let lines = live_where(conn, &lines_object, pricing::QUOTE_ID, id)?;
    let mut currency = None;
    let mut priced = Vec::new();
    for l in &lines {
        let Value::Money {
            amount,
            currency: c,
        } = l.get(UNIT_PRICE)
        else {
            continue;
        };
        currency.get_or_insert_with(|| c.clone());
        let line = Line {
            quantity: as_decimal(l.get(QUANTITY)).unwrap_or(Decimal::ONE),
            unit_price: *amount,
            discount_percent: as_decimal(l.get(DISCOUNT)).unwrap_or_default(),
            tax_rate: as_decimal(l.get(TAX_RATE)).unwrap_or_default(),
        };
        let amounts = line
            .amounts(MONEY_SCALE)
            .ok_or_else(|| invalid(QUANTITY, Code::TooLarge, "the quote's amount is too large"))?;
        priced.push(QuoteLine { line, amounts });
    }
    let Some(currency) = currency else {
        return Ok(BTreeMap::new());
    };
    let t = pricing::quote_totals(&priced, header, MONEY_SCALE)
        .ok_or_else(|| invalid(HEADER, Code::TooLarge, "the quote's amount is too large"))?;
    let money = |amount| Value::Money {
        amount,
        currency: currency.clone(),
    };
    Ok(BTreeMap::from([
        (SUBTOTAL.to_owned(), money(t.subtotal)),
        (
            "header_discount_amount".to_owned(),
            money(t.header_discount),
        ),
        (TAX_AMOUNT.to_owned(), money(t.tax)),
        (TOTAL.to_owned(), money(t.total)),
        (
            "discount_percent_total".to_owned(),
            Value::Decimal(t.discount_percent),
        ),
    ]))
}

/// After a quote's line changed: the quote's totals again, through the write path.
pub(crate) fn total(
    conn: &mut dyn Conn,
    side: &mut Companions,
    schema: &Schema,
    actor: &Actor,
    now: DateTime<Utc>,
    quote: Uuid,
) -> Result<(), CoreError> {
    let quotes = object_of(schema, pricing::QUOTE)?;
    let Some(record) = read::get_for_update(conn, &quotes, quote, &Visibility::All, Bin::Live)?
    else {
        return Ok(());
    };
    let header = as_decimal(record.get(HEADER)).unwrap_or_default();
    let changes = totals(conn, schema, quote, header)?;
    write::update(conn, side, &quotes, actor, now, record, changes)?;
    Ok(())
}

/// What a quote's change brings with it: accepted, its lines become its deal's products
/// (the header discount folded into each line's discount, so the deal comes to the quote's
/// total to the cent), replacing the deal's earlier ones.
pub(crate) fn after_update(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    before: &Record,
    after: &Record,
) -> Result<(), CoreError> {
    if !is_quote(object) || text(after, STATUS) != "accepted" || text(before, STATUS) == "accepted"
    {
        return Ok(());
    }
    let (Some(quote), Some(deal)) = (after.id(), as_ref(after.get(OPPORTUNITY_ID))) else {
        return Ok(());
    };
    let schema = relata_store::meta_sql::load_schema(conn)?;
    let deal_lines = object_of(&schema, pricing::LINE_ITEM)?;
    for old in live_where(conn, &deal_lines, OPPORTUNITY_ID, deal)? {
        write::set_deleted(conn, side, &deal_lines, actor, now, &old, true)?;
    }
    let header = as_decimal(after.get(HEADER)).unwrap_or_default();
    let quote_lines = object_of(&schema, pricing::QUOTE_LINE)?;
    for line in live_where(conn, &quote_lines, pricing::QUOTE_ID, quote)? {
        let mut values: BTreeMap<String, Value> = [
            "name",
            pricing::PRODUCT_ID,
            pricing::ENTRY_ID,
            QUANTITY,
            UNIT_PRICE,
            TAX_RATE,
            "description",
        ]
        .iter()
        .map(|f| ((*f).to_owned(), line.get(f).clone()))
        .collect();
        // the entry's tiers must not re-price the line: its discount is given
        let discount = as_decimal(line.get(DISCOUNT)).unwrap_or_default();
        let combined = pricing::combined_discount(discount, header)
            .ok_or_else(|| invalid(DISCOUNT, Code::TooLarge, "the discount is too large"))?;
        values.insert(DISCOUNT.into(), Value::Decimal(combined));
        values.insert(OPPORTUNITY_ID.into(), Value::Ref(deal));
        write::insert(conn, side, &deal_lines, actor, now, values)?;
    }
    Ok(())
}
