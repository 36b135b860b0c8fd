//! Contracts (合同) in the one write path: a new contract's number and approval state; that
//! the deal it comes from is won and the quote accepted; its dates; the moves of its status,
//! including those the approval engine makes; what is fixed while it is in approval or over.
//! And the roll-up of what was paid on contracts to their opportunity and account, each in
//! its own currency through the exchange-rate table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use relata_domain::collection::{
    self, AMOUNT, CONTRACT, END_DATE, NUMBER, PAID, START_DATE, STATUS, TERMINATION_REASON,
};
use relata_domain::error::FieldErrorCode as Code;
use relata_domain::meta::{ObjectDef, Schema};
use relata_domain::pricing;
use relata_domain::{Record, Value, opportunity};
use relata_store::Conn;

use super::line_items::{as_decimal, as_ref, invalid, live, live_where, object_of};
use crate::context::Actor;
use crate::error::CoreError;
use crate::money::Converter;
use crate::numbering;
use crate::org_settings;
use crate::records::companions::Companions;
use crate::records::read::{self, Bin};
use crate::records::write;
use crate::visibility::Visibility;

const APPROVAL: &str = crate::approvals::FIELD;

/// What a contract says: fixed while it is in approval, and once it is over.
const CONTENT: &[&str] = &[
    AMOUNT,
    "account_id",
    "opportunity_id",
    "quote_id",
    START_DATE,
    END_DATE,
];

pub(crate) fn is_contract(object: &ObjectDef) -> bool {
    object.standard && object.name() == CONTRACT
}

pub(crate) fn text<'a>(record: &'a Record, field: &str) -> &'a str {
    match record.get(field) {
        Value::Text(t) => t,
        _ => "",
    }
}

fn value_text<'a>(values: &'a BTreeMap<String, Value>, field: &str) -> Option<&'a str> {
    match values.get(field) {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    }
}

/// Completes a contract's write (`before` is `None` for a new one).
pub(crate) fn fill(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !is_contract(object) {
        return Ok(());
    }
    let schema = relata_store::meta_sql::load_schema(conn)?;
    match before {
        None => fill_new(conn, object, &schema, values, now)?,
        Some(before) => fill_change(conn, &schema, before, values, now)?,
    }
    check_dates(before, values)?;
    check_sources(conn, &schema, before, values)?;
    if values.contains_key(AMOUNT) {
        let paid = before.map(|b| b.get(PAID).clone()).unwrap_or(Value::Null);
        values.extend(balances(values.get(AMOUNT), &paid));
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
    if values.get(NUMBER).is_none_or(Value::is_null) {
        let number = numbering::next(conn, &numbering::CONTRACT, object, NUMBER, now.date_naive())?;
        values.insert(NUMBER.into(), Value::Text(number));
    }
    values.insert(APPROVAL.into(), Value::Text("none".into()));
    if let Some(Value::Money { currency, .. }) = values.get(AMOUNT).cloned() {
        for field in [collection::PLANNED, PAID, collection::INVOICED] {
            values.insert(field.into(), money(Decimal::ZERO, &currency));
        }
    }
    match value_text(values, STATUS).unwrap_or("draft") {
        "draft" => {}
        "active" => {
            let record = Record {
                values: values.clone(),
            };
            if let Some(process) =
                crate::approvals::process_for(conn, schema, CONTRACT, &record, now)?
            {
                return Err(invalid(
                    STATUS,
                    Code::InvalidTransition,
                    format!("needs approval first ({})", process.name),
                ));
            }
        }
        other => {
            return Err(invalid(
                STATUS,
                Code::InvalidTransition,
                format!("a new contract is a draft or active, not {other}"),
            ));
        }
    }
    Ok(())
}

/// A change to an existing contract: the approval engine's moves of its status, a
/// person's moves, and what may not change now.
fn fill_change(
    conn: &mut dyn Conn,
    schema: &Schema,
    before: &Record,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let from = text(before, STATUS);
    // the approval engine writes approval_status; the status follows it
    if let Some(approval) = value_text(values, APPROVAL).map(str::to_owned)
        && approval != text(before, APPROVAL)
    {
        let to = match approval.as_str() {
            "pending" => "in_approval",
            "approved" => "active",
            _ => "draft",
        };
        if from == "draft" || from == "in_approval" {
            values.insert(STATUS.into(), Value::Text(to.into()));
        }
        return Ok(());
    }
    let locked = match from {
        "in_approval" => Some("in approval (recall it first)"),
        "expired" => Some("expired"),
        "terminated" => Some("terminated"),
        _ => None,
    };
    if let Some(why) = locked
        && let Some(field) = CONTENT.iter().find(|f| values.contains_key(**f))
    {
        return Err(invalid(
            field,
            Code::ReadOnly,
            format!("cannot change: the contract is {why}"),
        ));
    }
    let Some(to) = value_text(values, STATUS).map(str::to_owned) else {
        return Ok(());
    };
    if to == from {
        return Ok(());
    }
    collection::check_transition(from, &to)
        .map_err(|m| invalid(STATUS, Code::InvalidTransition, m))?;
    if to == "terminated" {
        let reason = values
            .get(TERMINATION_REASON)
            .unwrap_or(before.get(TERMINATION_REASON));
        if reason.is_null() || reason == &Value::Text(String::new()) {
            return Err(invalid(
                TERMINATION_REASON,
                Code::Required,
                "say why the contract is terminated",
            ));
        }
    }
    if to == "active" && from == "draft" {
        match text(before, APPROVAL) {
            "approved" => {}
            "rejected" => {
                return Err(invalid(
                    STATUS,
                    Code::InvalidTransition,
                    "the contract's approval was rejected",
                ));
            }
            _ => {
                let mut merged = before.clone();
                for (k, v) in values.iter() {
                    merged.set(k, v.clone());
                }
                if let Some(process) =
                    crate::approvals::process_for(conn, schema, CONTRACT, &merged, now)?
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

fn check_dates(before: Option<&Record>, values: &BTreeMap<String, Value>) -> Result<(), CoreError> {
    let get = |f: &str| {
        values
            .get(f)
            .or_else(|| before.map(|b| b.get(f)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    if let (Value::Date(start), Value::Date(end)) = (get(START_DATE), get(END_DATE))
        && end < start
    {
        return Err(invalid(
            END_DATE,
            Code::TooSmall,
            format!("the contract ends ({end}) before it starts ({start})"),
        ));
    }
    Ok(())
}

/// A contract's deal must be won, and its quote accepted and for that deal; the account
/// comes from them when the contract does not name it.
fn check_sources(
    conn: &mut dyn Conn,
    schema: &Schema,
    before: Option<&Record>,
    values: &mut BTreeMap<String, Value>,
) -> Result<(), CoreError> {
    if let Some(quote_id) = values.get("quote_id").and_then(as_ref) {
        let quotes = object_of(schema, pricing::QUOTE)?;
        let quote = live(conn, &quotes, quote_id)?
            .ok_or_else(|| invalid("quote_id", Code::LookupNotFound, "no such quote"))?;
        if text(&quote, super::quotes::STATUS) != "accepted" {
            return Err(invalid(
                "quote_id",
                Code::InvalidTransition,
                "a contract comes from an accepted quote",
            ));
        }
        let deal = quote.get(pricing::OPPORTUNITY_ID).clone();
        let named = values
            .get("opportunity_id")
            .or_else(|| before.map(|b| b.get("opportunity_id")));
        match named {
            Some(v) if !v.is_null() && v != &deal => {
                return Err(invalid(
                    "quote_id",
                    Code::InvalidOption,
                    "the quote is for another opportunity",
                ));
            }
            _ => {
                values.insert("opportunity_id".into(), deal);
            }
        }
    }
    if let Some(deal_id) = values.get("opportunity_id").and_then(as_ref) {
        let deals = object_of(schema, opportunity::OBJECT)?;
        let deal = live(conn, &deals, deal_id)?.ok_or_else(|| {
            invalid(
                "opportunity_id",
                Code::LookupNotFound,
                "no such opportunity",
            )
        })?;
        if text(&deal, opportunity::STAGE) != opportunity::WON {
            return Err(invalid(
                "opportunity_id",
                Code::InvalidTransition,
                "a contract comes from a won opportunity",
            ));
        }
        let account = deal.get("account_id").clone();
        let current = values
            .get("account_id")
            .or_else(|| before.map(|b| b.get("account_id")));
        if current.is_none_or(Value::is_null) && !account.is_null() {
            values.insert("account_id".into(), account);
        }
    }
    Ok(())
}

fn money(amount: Decimal, currency: &str) -> Value {
    Value::Money {
        amount,
        currency: currency.to_owned(),
    }
}

/// A contract's outstanding and overpaid amounts from its amount and what is paid.
pub(crate) fn balances(amount: Option<&Value>, paid: &Value) -> BTreeMap<String, Value> {
    let Some(Value::Money { amount, currency }) = amount else {
        return BTreeMap::new();
    };
    let paid = as_decimal(paid).unwrap_or_default();
    BTreeMap::from([
        (
            collection::OUTSTANDING.to_owned(),
            money((*amount - paid).max(Decimal::ZERO), currency),
        ),
        (
            collection::OVERPAID.to_owned(),
            money((paid - *amount).max(Decimal::ZERO), currency),
        ),
    ])
}

/// After a contract was written, deleted or restored: when what it has paid, or whose it
/// is, changed, the paid totals of its deals and accounts (before and after) again.
#[allow(clippy::too_many_arguments)]
pub(crate) fn after_write(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    actor: &Actor,
    now: DateTime<Utc>,
    before: Option<&Record>,
    after: &Record,
) -> Result<(), CoreError> {
    if !is_contract(object) {
        return Ok(());
    }
    let moved = |f: &str| before.is_none_or(|b| b.get(f) != after.get(f));
    if !(moved(PAID) || moved("account_id") || moved("opportunity_id")) {
        return Ok(());
    }
    if before.is_none() && as_decimal(after.get(PAID)).unwrap_or_default().is_zero() {
        return Ok(()); // a new contract has paid nothing yet
    }
    let schema = relata_store::meta_sql::load_schema(conn)?;
    for (field, parent) in [
        ("opportunity_id", opportunity::OBJECT),
        ("account_id", "account"),
    ] {
        let mut ids: Vec<Uuid> = [before, Some(after)]
            .into_iter()
            .flatten()
            .filter_map(|r| as_ref(r.get(field)))
            .collect();
        ids.dedup();
        for id in ids {
            roll_up(conn, side, &schema, actor, now, field, parent, id)?;
        }
    }
    Ok(())
}

/// Record `id` of `parent` takes the sum paid on its live contracts, in the deal's currency
/// (an opportunity) or the installation's roll-up currency (an account).
#[allow(clippy::too_many_arguments)]
fn roll_up(
    conn: &mut dyn Conn,
    side: &mut Companions,
    schema: &Schema,
    actor: &Actor,
    now: DateTime<Utc>,
    field: &str,
    parent: &str,
    id: Uuid,
) -> Result<(), CoreError> {
    let parents = object_of(schema, parent)?;
    if parents.field(PAID).is_none() {
        return Ok(());
    }
    let Some(record) = read::get_for_update(conn, &parents, id, &Visibility::All, Bin::Live)?
    else {
        return Ok(());
    };
    let currency = match (parent, record.get(AMOUNT)) {
        ("account", _) => org_settings::roll_up_currency(conn)?,
        (_, Value::Money { currency, .. }) => currency.clone(),
        _ => org_settings::roll_up_currency(conn)?,
    };
    let contracts = object_of(schema, CONTRACT)?;
    let mut converter = Converter::new(schema, &currency, now.date_naive(), |m| {
        invalid(
            AMOUNT,
            Code::InvalidCurrency,
            format!("{m}: add one to the exchange-rate table"),
        )
    });
    let mut total = Decimal::ZERO;
    for contract in live_where(conn, &contracts, field, id)? {
        if let Value::Money {
            amount,
            currency: from,
        } = contract.get(PAID)
        {
            total += converter.convert(conn, *amount, from)?;
        }
    }
    let changes = BTreeMap::from([(PAID.to_owned(), money(total, &currency))]);
    write::update(conn, side, &parents, actor, now, record, changes)?;
    Ok(())
}
