//! Receivables (应收) as of today: what is outstanding on instalments in ageing buckets, and
//! the collection rate per rep — of what fell due, how much came in. Computed in the
//! database over exactly the instalments the viewer may see (those of contracts they see).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use relata_domain::Value;
use relata_domain::access::Operation;
use relata_domain::collection::{
    AGEING_BUCKETS, AMOUNT, CONTRACT, CONTRACT_ID, DUE_DATE, OUTSTANDING, PAID, PLAN,
    ageing_bucket, collection_rate,
};
use relata_store::codec::decode;
use relata_store::ddl::{currency_column, table_name};
use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

#[derive(Debug, Clone, Serialize)]
pub struct AgeingRow {
    /// `current`, `1_30`, `31_60`, `61_90`, `over_90`.
    pub bucket: String,
    pub instalments: i64,
    /// Outstanding per currency, as exact decimal strings.
    pub outstanding: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepCollection {
    pub owner_id: Uuid,
    pub currency: String,
    /// What fell due in the period.
    pub due: Decimal,
    /// What of it was paid.
    pub collected: Decimal,
    /// collected ÷ due, in percent to two places.
    pub rate: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Receivables {
    pub as_of: NaiveDate,
    pub ageing: Vec<AgeingRow>,
    pub reps: Vec<RepCollection>,
}

fn money(
    row: &[SqlValue],
    field: &relata_domain::meta::FieldDef,
    at: usize,
) -> Option<(Decimal, String)> {
    match decode(field, &[row[at].clone(), row[at + 1].clone()]).ok()? {
        Value::Money { amount, currency } => Some((amount, currency)),
        _ => None,
    }
}

impl Core {
    /// Receivables as of today; the collection rate counts instalments due from `since`
    /// (all, when none) to today.
    pub async fn receivables(
        &self,
        actor: &Actor,
        since: Option<NaiveDate>,
    ) -> Result<Receivables, CoreError> {
        let today = self.clock.now().date_naive();
        let plans = self.object(PLAN)?;
        let contracts = self.object(CONTRACT)?;
        let vis = self.visibility(actor, &plans, Operation::Read)?;
        let readable = [AMOUNT, PAID, OUTSTANDING, DUE_DATE]
            .iter()
            .all(|f| crate::fields::readable(actor, &plans, f));
        let mut out = Receivables {
            as_of: today,
            ageing: AGEING_BUCKETS
                .iter()
                .map(|(b, _)| AgeingRow {
                    bucket: (*b).to_owned(),
                    instalments: 0,
                    outstanding: BTreeMap::new(),
                })
                .collect(),
            reps: Vec::new(),
        };
        if !readable {
            return Ok(out);
        }
        let field = |name: &str| plans.field(name).cloned();
        let (Some(due_f), Some(amount_f), Some(paid_f), Some(outstanding_f)) = (
            field(DUE_DATE),
            field(AMOUNT),
            field(PAID),
            field(OUTSTANDING),
        ) else {
            return Ok(out);
        };
        let plans_table = table_name(&plans).to_string();
        let contracts_table = table_name(&contracts).to_string();
        let rows = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT t.{DUE_DATE}, c.owner_id, t.{a}, t.{ac}, t.{p}, t.{pc}, t.{o}, t.{oc} FROM {plans_table} t JOIN {contracts_table} c ON c.id = t.{CONTRACT_ID} WHERE t.deleted_at IS NULL AND c.deleted_at IS NULL",
                    a = AMOUNT,
                    ac = currency_column(AMOUNT),
                    p = PAID,
                    pc = currency_column(PAID),
                    o = OUTSTANDING,
                    oc = currency_column(OUTSTANDING),
                ));
                vis.push(&mut sql, "t.");
                Ok::<_, CoreError>(conn.query(&sql.text, &sql.params)?)
            })
            .await?;
        let mut reps: BTreeMap<(Uuid, String), (Decimal, Decimal)> = BTreeMap::new();
        for row in &rows {
            let Ok(Value::Date(due)) = decode(&due_f, &[row[0].clone()]) else {
                continue;
            };
            if let Some((left, currency)) = money(row, &outstanding_f, 6)
                && left > Decimal::ZERO
            {
                let bucket = ageing_bucket(due, today);
                if let Some(b) = out.ageing.iter_mut().find(|b| b.bucket == bucket) {
                    b.instalments += 1;
                    *b.outstanding.entry(currency).or_default() += left;
                }
            }
            if due > today || since.is_some_and(|s| due < s) {
                continue;
            }
            let (Some(owner), Some((amount, currency))) =
                (row[1].as_uuid(), money(row, &amount_f, 2))
            else {
                continue;
            };
            let paid = money(row, &paid_f, 4).map(|(p, _)| p).unwrap_or_default();
            let entry = reps.entry((owner, currency)).or_default();
            entry.0 += amount;
            entry.1 += paid;
        }
        out.reps = reps
            .into_iter()
            .map(|((owner_id, currency), (due, collected))| RepCollection {
                owner_id,
                currency,
                due,
                collected,
                rate: collection_rate(collected, due),
            })
            .collect();
        Ok(out)
    }
}
