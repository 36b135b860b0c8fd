//! Contracts and payment collection in the demo: a contract for each of the first won
//! deals, a plan of three instalments (30 %, 40 %, 30 %, three months apart from the
//! start), and payments — every first instalment paid, some second ones in part — so a
//! newcomer finds paid, partly paid and overdue instalments, receivables in several ageing
//! buckets, and accounts made VIP by the workflow rule once their payments pass its mark.

use chrono::{Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value as Json, json};

use relata_core::records::ListRequest;
use relata_domain::{Value, opportunity};

use super::Loader;
use crate::commands::core_error;

/// How many won deals get a contract.
const MOST: usize = 40;

struct Won {
    id: String,
    name: String,
    account: String,
    owner: String,
    amount: Decimal,
    currency: String,
    closed: NaiveDate,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(t) => Some(t.clone()),
        Value::Ref(u) => Some(u.to_string()),
        _ => None,
    }
}

fn won_deals(loader: &Loader) -> anyhow::Result<Vec<Won>> {
    let filter = relata_domain::filter::compact::parse(&format!(
        "{} eq {}",
        opportunity::STAGE,
        opportunity::WON
    ))
    .map_err(|e| anyhow::anyhow!("demo filter: {}", e.message))?;
    let request = ListRequest {
        filter: Some(filter),
        sort: Some("close_date".into()),
        limit: Some(MOST),
        ..Default::default()
    };
    let (_, page) = loader
        .rt
        .block_on(
            loader
                .core
                .list_records(&loader.actor, opportunity::OBJECT, request),
        )
        .map_err(core_error)?;
    Ok(page
        .records
        .iter()
        .filter_map(|d| {
            let Value::Money { amount, currency } = d.get("amount") else {
                return None;
            };
            let Value::Date(closed) = d.get("close_date") else {
                return None;
            };
            Some(Won {
                id: text(d.get("id"))?,
                name: text(d.get("name"))?,
                account: text(d.get("account_id"))?,
                owner: text(d.get("owner_id"))?,
                amount: *amount,
                currency: currency.clone(),
                closed: *closed,
            })
        })
        .collect())
}

fn money(amount: Decimal, currency: &str) -> Json {
    json!({"amount": amount.to_string(), "currency": currency})
}

fn share(amount: Decimal, percent: u32) -> Decimal {
    (amount * Decimal::from(percent) / Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Creates the contracts, plans and payments; answers how many contracts.
pub fn create(loader: &Loader) -> anyhow::Result<usize> {
    let deals = won_deals(loader)?;
    let contracts = loader.create("contract", deals.len(), |i| {
        let d = &deals[i];
        json!({"name": d.name, "account_id": d.account, "opportunity_id": d.id,
               "owner_id": d.owner, "status": "active",
               "amount": money(d.amount, &d.currency),
               "start_date": d.closed.to_string(), "signed_date": d.closed.to_string(),
               "end_date": (d.closed + Duration::days(364)).to_string()})
    })?;
    let instalments: Vec<(usize, Decimal, NaiveDate)> = deals
        .iter()
        .enumerate()
        .flat_map(|(k, d)| {
            let (a, b) = (share(d.amount, 30), share(d.amount, 40));
            [
                (k, a, d.closed),
                (k, b, d.closed + Duration::days(90)),
                (k, d.amount - a - b, d.closed + Duration::days(180)),
            ]
        })
        .collect();
    loader.create("payment_plan", instalments.len(), |i| {
        let (k, amount, due) = instalments[i];
        json!({"contract_id": contracts[k], "amount": money(amount, &deals[k].currency),
               "due_date": due.to_string()})
    })?;
    // the first instalment paid on its day; every third contract half its second
    let payments: Vec<(usize, Decimal, NaiveDate)> = deals
        .iter()
        .enumerate()
        .flat_map(|(k, d)| {
            let first = (k, share(d.amount, 30), d.closed + Duration::days(3));
            let second =
                (k % 3 == 0).then(|| (k, share(d.amount, 20), d.closed + Duration::days(95)));
            std::iter::once(first).chain(second)
        })
        .collect();
    let today = loader.core.clock.now().date_naive();
    let payments: Vec<_> = payments.into_iter().filter(|p| p.2 <= today).collect();
    let methods = ["bank_transfer", "acceptance_bill", "wechat_pay"];
    loader.create("payment", payments.len(), |i| {
        let (k, amount, on) = payments[i];
        json!({"contract_id": contracts[k], "amount": money(amount, &deals[k].currency),
               "payment_date": on.to_string(), "method": methods[i % methods.len()]})
    })?;
    // instalments whose day has passed unpaid turn overdue now, not at the first sweep
    loader
        .rt
        .block_on(loader.core.sweep_collection())
        .map_err(core_error)?;
    Ok(contracts.len())
}
