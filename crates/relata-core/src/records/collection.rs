//! Payment collection (回款) in the one write path: instalments of a payment plan, payments
//! and invoices, each in its contract's currency. Whenever one of them changes (created,
//! edited, deleted, restored) the contract is settled again: its payments are allocated to
//! its instalments afresh (`collection::allocate`), each instalment takes its paid and
//! outstanding amounts and status, and the contract its planned, paid, outstanding and
//! invoiced totals — which roll on to its deal and account (`contracts::after_write`).
//! An instalment that becomes overdue tells the contract's owner, once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use relata_domain::collection::{
    self, AMOUNT, CONTRACT, CONTRACT_ID, DUE_DATE, INVOICE, INVOICED, Instalment, OUTSTANDING,
    Overpayment, PAID, PAYMENT, PLAN, PLAN_ID, PLANNED, Receipt, STATUS,
};
use relata_domain::error::FieldErrorCode as Code;
use relata_domain::meta::{ObjectDef, Schema};
use relata_domain::{Record, Value};
use relata_store::Conn;

use super::contracts::{balances, text};
use super::line_items::{as_decimal, as_ref, invalid, live, live_where, object_of};
use crate::context::Actor;
use crate::error::CoreError;
use crate::org_settings;
use crate::records::companions::Companions;
use crate::records::read::{self, Bin};
use crate::records::write;
use crate::visibility::Visibility;

/// The notification kind of an overdue instalment.
pub const OVERDUE_KIND: &str = "payment_overdue";

fn is_part(object: &ObjectDef) -> bool {
    object.standard && matches!(object.name(), PLAN | PAYMENT | INVOICE)
}

fn money(amount: Decimal, currency: &str) -> Value {
    Value::Money {
        amount,
        currency: currency.to_owned(),
    }
}

fn amount_of(v: &Value) -> Option<(Decimal, &str)> {
    match v {
        Value::Money { amount, currency } => Some((*amount, currency)),
        _ => None,
    }
}

/// The fields whose change settles the contract again: not an instalment's computed
/// amounts and status (the settling's own writes), but an invoice's status (a void invoice
/// is not invoiced).
fn drivers(object: &ObjectDef) -> &'static [&'static str] {
    match object.name() {
        PLAN => &[AMOUNT, CONTRACT_ID, DUE_DATE],
        PAYMENT => &[AMOUNT, CONTRACT_ID, PLAN_ID],
        _ => &[AMOUNT, CONTRACT_ID, STATUS],
    }
}

/// Completes the write of an instalment, payment or invoice (`before` is `None` for a new
/// one): it names a live contract, is in that contract's currency, and does not take the
/// contract past its amount (a payment may, when overpayments are recorded).
pub(crate) fn fill(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if !is_part(object) {
        return Ok(());
    }
    if before.is_some() && !drivers(object).iter().any(|f| values.contains_key(*f)) {
        return Ok(());
    }
    let schema = relata_store::meta_sql::load_schema(conn)?;
    let get = |f: &str| {
        values
            .get(f)
            .or_else(|| before.map(|b| b.get(f)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let contract_id = as_ref(&get(CONTRACT_ID))
        .ok_or_else(|| invalid(CONTRACT_ID, Code::Required, "is required"))?;
    let contracts = object_of(&schema, CONTRACT)?;
    let contract = live(conn, &contracts, contract_id)?
        .ok_or_else(|| invalid(CONTRACT_ID, Code::LookupNotFound, "no such contract"))?;
    let Some((contract_amount, currency)) = amount_of(contract.get(AMOUNT)) else {
        return Err(invalid(
            CONTRACT_ID,
            Code::Required,
            "the contract has no amount",
        ));
    };
    let currency = currency.to_owned();
    let amount = get(AMOUNT);
    let Some((amount, given)) = amount_of(&amount) else {
        return Err(invalid(AMOUNT, Code::Required, "is required"));
    };
    if given != currency {
        return Err(invalid(
            AMOUNT,
            Code::InvalidCurrency,
            format!("must be in the contract's currency, {currency}"),
        ));
    }
    if amount <= Decimal::ZERO {
        return Err(invalid(AMOUNT, Code::TooSmall, "must be more than 0"));
    }
    let own = before.and_then(Record::id);
    match object.name() {
        PLAN => {
            let others = sum_others(conn, &schema, PLAN, contract_id, own, |_| true)?;
            if others + amount > contract_amount {
                return Err(invalid(
                    AMOUNT,
                    Code::TooLarge,
                    format!(
                        "the plan's instalments would come to {} {currency}, more than the contract's {contract_amount}",
                        others + amount
                    ),
                ));
            }
            if before.is_none() {
                fill_new_instalment(conn, &schema, &contract, values, now)?;
            }
        }
        PAYMENT => {
            let status = text(&contract, STATUS);
            if matches!(status, "draft" | "in_approval") {
                return Err(invalid(
                    CONTRACT_ID,
                    Code::InvalidTransition,
                    format!("the contract is {status}: payments are recorded once it is active"),
                ));
            }
            if let Some(plan) = as_ref(&get(PLAN_ID)) {
                let plans = object_of(&schema, PLAN)?;
                let on = live(conn, &plans, plan)?.map(|p| p.get(CONTRACT_ID).clone());
                if on != Some(Value::Ref(contract_id)) {
                    return Err(invalid(
                        PLAN_ID,
                        Code::InvalidOption,
                        "is not an instalment of this payment's contract",
                    ));
                }
            }
            let others = sum_others(conn, &schema, PAYMENT, contract_id, own, |_| true)?;
            let outstanding = (contract_amount - others).max(Decimal::ZERO);
            if amount > outstanding && org_settings::overpayment(conn)? == Overpayment::Refuse {
                return Err(invalid(
                    AMOUNT,
                    Code::TooLarge,
                    format!(
                        "is more than the {outstanding} {currency} the contract {} still owes",
                        text(&contract, collection::NUMBER)
                    ),
                ));
            }
            if before.is_none() && get("name").is_null() {
                let name = format!(
                    "{} {}",
                    text(&contract, collection::NUMBER),
                    get(collection::PAYMENT_DATE)
                        .to_json()
                        .as_str()
                        .unwrap_or("")
                );
                values.insert("name".into(), Value::Text(name.trim().to_owned()));
            }
        }
        _ => {
            let billed = |r: &Record| text(r, STATUS) != "void";
            let others = sum_others(conn, &schema, INVOICE, contract_id, own, billed)?;
            let voided = matches!(get(STATUS), Value::Text(s) if s == "void");
            if before.is_none() && get("name").is_null() {
                let name = text(&contract, collection::NUMBER).to_owned();
                values.insert("name".into(), Value::Text(name));
            }
            if !voided && others + amount > contract_amount {
                return Err(invalid(
                    AMOUNT,
                    Code::TooLarge,
                    format!(
                        "invoices would come to {} {currency}, more than the contract's {contract_amount}",
                        others + amount
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The sum of the contract's other live records of `object` that `counts`.
fn sum_others(
    conn: &mut dyn Conn,
    schema: &Schema,
    object: &str,
    contract: Uuid,
    own: Option<Uuid>,
    counts: impl Fn(&Record) -> bool,
) -> Result<Decimal, CoreError> {
    let object = object_of(schema, object)?;
    Ok(live_where(conn, &object, CONTRACT_ID, contract)?
        .iter()
        .filter(|r| r.id() != own && counts(r))
        .filter_map(|r| as_decimal(r.get(AMOUNT)))
        .sum())
}

/// A new instalment's number (the next of its contract) and name, and its balances.
fn fill_new_instalment(
    conn: &mut dyn Conn,
    schema: &Schema,
    contract: &Record,
    values: &mut BTreeMap<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let plans = object_of(schema, PLAN)?;
    let contract_id = contract.id().unwrap_or_default();
    let last = live_where(conn, &plans, CONTRACT_ID, contract_id)?
        .iter()
        .filter_map(|p| match p.get("instalment_number") {
            Value::Int(n) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let number = last + 1;
    values.insert("instalment_number".into(), Value::Int(number));
    if values.get("name").is_none_or(Value::is_null) {
        let name = format!("{} #{number}", text(contract, collection::NUMBER));
        values.insert("name".into(), Value::Text(name.trim().to_owned()));
    }
    if let (Some(Value::Money { amount, currency }), Some(Value::Date(due))) =
        (values.get(AMOUNT).cloned(), values.get(DUE_DATE).cloned())
    {
        values.insert(PAID.into(), money(Decimal::ZERO, &currency));
        values.insert(OUTSTANDING.into(), money(amount, &currency));
        let status = collection::instalment_status(amount, Decimal::ZERO, due, now.date_naive());
        values.insert(STATUS.into(), Value::Text(status.into()));
    }
    Ok(())
}

/// After an instalment, payment or invoice was written, deleted or restored: its contract
/// (and the one it was on, if it moved) is settled again.
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
    if !is_part(object) {
        return Ok(());
    }
    if let Some(b) = before
        && !drivers(object).iter().any(|f| b.get(f) != after.get(f))
    {
        return Ok(());
    }
    let mut contracts: Vec<Uuid> = [before, Some(after)]
        .into_iter()
        .flatten()
        .filter_map(|r| as_ref(r.get(CONTRACT_ID)))
        .collect();
    contracts.dedup();
    let schema = relata_store::meta_sql::load_schema(conn)?;
    for contract in contracts {
        settle(conn, side, &schema, actor, now, contract)?;
    }
    Ok(())
}

/// Allocates contract `id`'s payments to its instalments again, and writes whatever of the
/// instalments' and the contract's amounts and statuses changed. An instalment that turns
/// overdue tells the contract's owner.
pub(crate) fn settle(
    conn: &mut dyn Conn,
    side: &mut Companions,
    schema: &Schema,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(), CoreError> {
    let contracts = object_of(schema, CONTRACT)?;
    let Some(contract) = read::get_for_update(conn, &contracts, id, &Visibility::All, Bin::Live)?
    else {
        return Ok(());
    };
    let Some((_, currency)) = amount_of(contract.get(AMOUNT)) else {
        return Ok(());
    };
    let currency = currency.to_owned();
    let plans_object = object_of(schema, PLAN)?;
    let plans = live_where(conn, &plans_object, CONTRACT_ID, id)?;
    let payments = live_where(conn, &*object_of(schema, PAYMENT)?, CONTRACT_ID, id)?;
    let invoices = live_where(conn, &*object_of(schema, INVOICE)?, CONTRACT_ID, id)?;
    let instalments: Vec<Instalment> = plans
        .iter()
        .filter_map(|p| {
            Some(Instalment {
                id: p.id()?,
                due: match p.get(DUE_DATE) {
                    Value::Date(d) => *d,
                    _ => return None,
                },
                number: match p.get("instalment_number") {
                    Value::Int(n) => *n,
                    _ => 0,
                },
                amount: as_decimal(p.get(AMOUNT))?,
            })
        })
        .collect();
    let receipts: Vec<Receipt> = payments
        .iter()
        .filter_map(|p| {
            Some(Receipt {
                amount: as_decimal(p.get(AMOUNT))?,
                instalment: as_ref(p.get(PLAN_ID)),
            })
        })
        .collect();
    let allocation = collection::allocate(&instalments, &receipts);
    let today = now.date_naive();
    for plan in plans {
        let Some(i) = instalments.iter().find(|i| Some(i.id) == plan.id()) else {
            continue;
        };
        let paid = allocation.paid.get(&i.id).copied().unwrap_or_default();
        let status = collection::instalment_status(i.amount, paid, i.due, today);
        // every status an instalment gets is given here: its turn to overdue is told here
        let turned_overdue = status == "overdue" && text(&plan, STATUS) != "overdue";
        let changes = BTreeMap::from([
            (PAID.to_owned(), money(paid, &currency)),
            (OUTSTANDING.to_owned(), money(i.amount - paid, &currency)),
            (STATUS.to_owned(), Value::Text(status.into())),
        ]);
        let plan = write::update(conn, side, &plans_object, actor, now, plan, changes)?;
        if turned_overdue {
            alert_overdue(conn, &contract, &plan, now)?;
        }
    }
    let sum = |records: &[Record], counts: &dyn Fn(&Record) -> bool| -> Decimal {
        records
            .iter()
            .filter(|r| counts(r))
            .filter_map(|r| as_decimal(r.get(AMOUNT)))
            .sum()
    };
    let paid = money(sum(&payments, &|_| true), &currency);
    let mut changes = balances(Some(contract.get(AMOUNT)), &paid);
    changes.insert(PAID.into(), paid);
    changes.insert(
        PLANNED.into(),
        money(instalments.iter().map(|i| i.amount).sum(), &currency),
    );
    changes.insert(
        INVOICED.into(),
        money(
            sum(&invoices, &|r: &Record| text(r, STATUS) != "void"),
            &currency,
        ),
    );
    write::update(conn, side, &contracts, actor, now, contract, changes)?;
    Ok(())
}

/// Tells the owner of an overdue instalment's contract, once per instalment and due date.
fn alert_overdue(
    conn: &mut dyn Conn,
    contract: &Record,
    plan: &Record,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let (Some(plan_id), Some(contract_id), Some(owner)) =
        (plan.id(), contract.id(), as_ref(contract.get("owner_id")))
    else {
        return Ok(());
    };
    let due = plan.get(DUE_DATE).to_json();
    let id = crate::jobs::derived_id(&format!("{OVERDUE_KIND}:{plan_id}:{due}"));
    crate::notifications::append_once(
        conn,
        id,
        owner,
        OVERDUE_KIND,
        Some(PLAN),
        Some(plan_id),
        json!({
            "name": plan.get("name").to_json(),
            "contract": contract.get(collection::NUMBER).to_json(),
            "contract_id": contract_id,
            "due_date": due,
            "outstanding": plan.get(OUTSTANDING).to_json(),
        }),
        now,
    )?;
    Ok(())
}
