//! Contracts and payment collection as services: a contract made from a won deal or an
//! accepted quote, and the daily sweep that marks instalments overdue (their owners are
//! told by the write path) and contracts past their end expired. The rules themselves live
//! in the write path (`records::contracts`, `records::collection`), so the record API,
//! imports and workflow actions obey them alike.

mod report;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_domain::collection::{CONTRACT, CONTRACT_ID, DUE_DATE, END_DATE, PLAN, STATUS};
use relata_domain::pricing::{self, TOTAL};
use relata_domain::{Record, UserId, Value, opportunity};
use relata_store::SqlValue;
use relata_store::ddl::table_name;
use relata_store::dialect::placeholder;

pub use report::{AgeingRow, Receivables, RepCollection};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::read::{self, Bin};
use crate::records::with_companions;
use crate::records::{collection as parts, write};
use crate::visibility::Visibility;

/// Contracts settled per transaction by the sweep.
const BATCH: usize = 200;

/// What a contract is made from.
#[derive(Debug, Clone, Copy)]
pub enum ContractSource {
    Opportunity(Uuid),
    Quote(Uuid),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CollectionSweep {
    /// Contracts whose instalments were settled again because one fell due.
    pub contracts_settled: usize,
    /// Contracts past their end date, now expired.
    pub contracts_expired: usize,
}

fn put(map: &mut Map<String, Json>, field: &str, value: &Value) {
    if !value.is_null() && !map.contains_key(field) {
        map.insert(field.to_owned(), value.to_json());
    }
}

/// A contract's default term: a year from its start, to the day before.
fn year_after(start: NaiveDate) -> NaiveDate {
    start
        .with_year(start.year() + 1)
        .unwrap_or(start + Duration::days(365))
        - Duration::days(1)
}

impl Core {
    /// Creates a contract from a won deal or an accepted quote the actor may see: its
    /// account, deal, quote, signatory, amount (the quote's total, else the deal's amount)
    /// and owner come from it, starting today for a year; `input` may give or override any
    /// field. The write path checks the deal is won and the quote accepted.
    pub async fn contract_from(
        &self,
        actor: &Actor,
        source: ContractSource,
        input: Json,
    ) -> Result<Record, CoreError> {
        let mut values = match input {
            Json::Object(m) => m,
            Json::Null => Map::new(),
            _ => {
                return Err(CoreError::BadRequest {
                    code: "invalid_body",
                    message: "the contract's fields must be a JSON object".into(),
                });
            }
        };
        let (deal_id, quote) = match source {
            ContractSource::Quote(id) => {
                let quote = self.get_record(actor, pricing::QUOTE, id).await?;
                let deal = match quote.get(pricing::OPPORTUNITY_ID) {
                    Value::Ref(d) => Some(*d),
                    _ => None,
                };
                (deal, Some(quote))
            }
            ContractSource::Opportunity(id) => (Some(id), None),
        };
        let deal = match deal_id {
            Some(id) => Some(self.get_record(actor, opportunity::OBJECT, id).await?),
            None => None,
        };
        if let Some(q) = &quote {
            put(&mut values, "quote_id", &q.get("id").clone());
            put(&mut values, "amount", q.get(TOTAL));
            put(&mut values, "contact_id", q.get("contact_id"));
            put(&mut values, "account_id", q.get("account_id"));
            put(&mut values, "terms", q.get("terms"));
        }
        if let Some(d) = &deal {
            put(&mut values, "opportunity_id", &d.get("id").clone());
            put(&mut values, "amount", d.get("amount"));
            put(&mut values, "contact_id", d.get("contact_id"));
            put(&mut values, "account_id", d.get("account_id"));
            put(&mut values, "owner_id", d.get("owner_id"));
            put(&mut values, "name", d.get("name"));
        }
        let today = self.clock.now().date_naive();
        let start = match values.get("start_date").and_then(Json::as_str) {
            Some(s) => s.parse().unwrap_or(today),
            None => today,
        };
        values
            .entry("start_date")
            .or_insert_with(|| json!(start.to_string()));
        values
            .entry("end_date")
            .or_insert_with(|| json!(year_after(start).to_string()));
        self.create_record(actor, CONTRACT, Json::Object(values))
            .await
    }

    /// Settles again every contract with an instalment that has fallen due unpaid (so it
    /// turns overdue and its owner is told), and expires active contracts past their end.
    pub async fn sweep_collection(&self) -> Result<CollectionSweep, CoreError> {
        let now = self.clock.now();
        let today = now.date_naive();
        let schema = self.schema();
        let (Some(plans), Some(contracts)) = (schema.object(PLAN), schema.object(CONTRACT)) else {
            return Ok(CollectionSweep::default());
        };
        let plans_table = table_name(plans).to_string();
        let contracts_table = table_name(contracts).to_string();
        let due: Vec<Uuid> = self
            .store
            .read(move |conn| {
                let sql = format!(
                    "SELECT DISTINCT {CONTRACT_ID} FROM {plans_table} WHERE deleted_at IS NULL AND {STATUS} IN ('planned', 'partially_paid') AND {DUE_DATE} < {}",
                    placeholder(conn.dialect(), 1)
                );
                let rows = conn.query(&sql, &[SqlValue::Date(today)])?;
                Ok::<_, CoreError>(rows.iter().filter_map(|r| r.first()?.as_uuid()).collect())
            })
            .await?;
        let mut report = CollectionSweep::default();
        for batch in due.chunks(BATCH) {
            let batch = batch.to_vec();
            let schema = schema.clone();
            report.contracts_settled += self
                .store
                .write(move |conn| {
                    with_companions(conn, |conn, side| {
                        for id in &batch {
                            let owner = owner_of(conn, &schema, *id)?;
                            let actor = Actor::system(UserId(owner));
                            parts::settle(conn, side, &schema, &actor, now, *id)?;
                        }
                        Ok(batch.len())
                    })
                })
                .await?;
        }
        let ended: Vec<Uuid> = self
            .store
            .read(move |conn| {
                let sql = format!(
                    "SELECT id FROM {contracts_table} WHERE deleted_at IS NULL AND {STATUS} = 'active' AND {END_DATE} < {}",
                    placeholder(conn.dialect(), 1)
                );
                let rows = conn.query(&sql, &[SqlValue::Date(today)])?;
                Ok::<_, CoreError>(rows.iter().filter_map(|r| r.first()?.as_uuid()).collect())
            })
            .await?;
        let contracts = self.object(CONTRACT)?;
        for batch in ended.chunks(BATCH) {
            let (batch, contracts) = (batch.to_vec(), contracts.clone());
            report.contracts_expired += self
                .store
                .write(move |conn| {
                    with_companions(conn, |conn, side| {
                        let mut n = 0;
                        for id in batch {
                            let Some(c) = read::get_for_update(
                                conn,
                                &contracts,
                                id,
                                &Visibility::All,
                                Bin::Live,
                            )?
                            else {
                                continue;
                            };
                            if !matches!(c.get(STATUS), Value::Text(s) if s == "active") {
                                continue;
                            }
                            let owner = match c.get("owner_id") {
                                Value::Ref(u) => *u,
                                _ => Uuid::nil(),
                            };
                            let actor = Actor::system(UserId(owner));
                            let changes = [(STATUS.to_owned(), Value::Text("expired".into()))]
                                .into_iter()
                                .collect();
                            write::update(conn, side, &contracts, &actor, now, c, changes)?;
                            n += 1;
                        }
                        Ok(n)
                    })
                })
                .await?;
        }
        if report.contracts_settled + report.contracts_expired > 0 {
            tracing::info!(
                settled = report.contracts_settled,
                expired = report.contracts_expired,
                "collection swept"
            );
        }
        Ok(report)
    }
}

fn owner_of(
    conn: &mut dyn relata_store::Conn,
    schema: &relata_domain::meta::Schema,
    contract: Uuid,
) -> Result<Uuid, CoreError> {
    let contracts = schema
        .object(CONTRACT)
        .ok_or_else(|| CoreError::Internal("the contract object is missing".into()))?;
    let record = read::get_for_update(conn, contracts, contract, &Visibility::All, Bin::Live)?;
    Ok(match record.as_ref().map(|r| r.get("owner_id")) {
        Some(Value::Ref(u)) => *u,
        _ => Uuid::nil(),
    })
}
