//! The sales dashboard, first version (销售仪表盘): one pipeline by stage (count, amount,
//! weighted amount) with the conversion from each stage to the next, activities per rep,
//! leads by source, and how old the open deals are. Every figure is computed in the
//! database over exactly the records the viewer may see — the same visibility predicate as
//! every list — so a rep's dashboard is their own and a manager's their team's.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op};
use relata_domain::opportunity::pipeline::{self, PIPELINE, Pipeline};
use relata_domain::opportunity::{OBJECT, PROBABILITY, STAGE};
use relata_domain::{Value, activity, lead};
use relata_store::codec::decode;
use relata_store::ddl::{currency_column, table_name};
use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// The longest period the dashboard looks back over.
pub const MAX_DAYS: u32 = 3650;
/// The age buckets of open deals, in days since they were created: [from, to).
pub const AGES: &[(i64, Option<i64>)] = &[
    (0, Some(30)),
    (30, Some(60)),
    (60, Some(90)),
    (90, Some(180)),
    (180, None),
];

/// Money per currency.
pub type Amounts = Vec<(String, Decimal)>;

#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    pub stage: String,
    pub label: String,
    pub count: i64,
    pub amounts: Amounts,
    /// Each deal's amount times its own probability.
    pub weighted: Amounts,
    /// Deals created in the period that reached this stage (or a later open one, or won).
    pub reached: i64,
    /// Of those that reached the stage before, the share that reached this one (percent).
    pub conversion: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepActivity {
    pub user_id: Uuid,
    pub tasks_done: i64,
    pub calls: i64,
    pub meetings_held: i64,
    pub notes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    pub source: Option<String>,
    pub leads: i64,
    pub converted: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgeRow {
    pub from_days: i64,
    pub to_days: Option<i64>,
    pub count: i64,
    pub amounts: Amounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct SalesDashboard {
    pub pipeline: Pipeline,
    pub since: DateTime<Utc>,
    pub stages: Vec<StageRow>,
    pub activities: Vec<RepActivity>,
    pub lead_sources: Vec<SourceRow>,
    pub ageing: Vec<AgeRow>,
}

fn cond(field: &str, op: Op, value: serde_json::Value) -> Filter {
    Filter::Cond {
        field: field.to_owned(),
        op,
        value,
    }
}

fn add(amounts: &mut Amounts, currency: &str, value: Decimal) {
    match amounts.iter_mut().find(|(c, _)| c == currency) {
        Some((_, total)) => *total += value,
        None => amounts.push((currency.to_owned(), value)),
    }
}

impl Core {
    /// The dashboard of `pipeline` (default: the first active one) over the last `days`.
    pub async fn sales_dashboard(
        &self,
        actor: &Actor,
        pipeline: Option<&str>,
        days: u32,
    ) -> Result<SalesDashboard, CoreError> {
        let pipeline = match pipeline {
            Some(name) => self.pipeline(name)?,
            None => {
                let all = self.pipelines()?.pipelines;
                all.iter()
                    .find(|p| p.active)
                    .or(all.first())
                    .cloned()
                    .ok_or_else(|| CoreError::not_found("pipeline"))?
            }
        };
        let now = self.clock.now();
        let since = now - Duration::days(i64::from(days.clamp(1, MAX_DAYS)));
        let stages = self.stage_rows(actor, &pipeline, since).await?;
        let activities = self.rep_activity(actor, since).await?;
        let lead_sources = self.lead_sources(actor, since).await?;
        let ageing = self.ageing(actor, &pipeline, now).await?;
        Ok(SalesDashboard {
            pipeline,
            since,
            stages,
            activities,
            lead_sources,
            ageing,
        })
    }

    /// The pipeline by stage now, and how far the deals created since `since` got.
    async fn stage_rows(
        &self,
        actor: &Actor,
        pipeline: &Pipeline,
        since: DateTime<Utc>,
    ) -> Result<Vec<StageRow>, CoreError> {
        let object = self.object(OBJECT)?;
        let readable = |f: &str| crate::fields::readable(actor, &object, f);
        if !actor.may(OBJECT, Operation::Read) || !readable(STAGE) || !readable(PIPELINE) {
            return Ok(Vec::new());
        }
        let vis = self.visibility(actor, &object, Operation::Read)?;
        let amount = object
            .field("amount")
            .filter(|f| crate::fields::readable(actor, &object, f.name()))
            .cloned();
        // weighted amounts would tell a hidden probability
        let probability = object
            .field(PROBABILITY)
            .filter(|f| readable(f.name()))
            .cloned();
        let name = pipeline.name.clone();
        let (totals, furthest) = self
            .store
            .read(move |conn| {
                let d = conn.dialect();
                let in_pipeline = |sql: &mut Sql| {
                    sql.push(&format!(
                        " FROM {} t WHERE t.deleted_at IS NULL AND t.{PIPELINE} = ",
                        table_name(&object)
                    ));
                    sql.param(SqlValue::Text(name.clone()));
                    vis.push(sql, "t.");
                };
                // per stage, probability and currency: counts, amounts and (in Rust, exact)
                // the weighted amounts
                let mut totals: BTreeMap<String, (i64, Amounts, Amounts)> = BTreeMap::new();
                let mut sql = Sql::new(d);
                match &amount {
                    Some(a) => sql.push(&format!(
                        "SELECT t.{STAGE}, t.{PROBABILITY}, t.{}, COUNT(*), SUM(t.{})",
                        currency_column(a.name()),
                        a.name()
                    )),
                    None => sql.push(&format!("SELECT t.{STAGE}, NULL, NULL, COUNT(*), NULL")),
                };
                in_pipeline(&mut sql);
                sql.push(" GROUP BY 1, 2, 3");
                for row in conn.query(&sql.text, &sql.params)? {
                    let Some(stage) = row[0].as_str().map(str::to_owned) else {
                        continue;
                    };
                    let entry = totals.entry(stage).or_default();
                    entry.0 += row[3].as_i64().unwrap_or(0);
                    let (Some(a), Some(p)) = (&amount, &probability) else {
                        continue;
                    };
                    if let Value::Money { amount, currency } =
                        decode(a, &[row[4].clone(), row[2].clone()])?
                    {
                        add(&mut entry.1, &currency, amount);
                        if let Value::Decimal(pct) = decode(p, &[row[1].clone()])? {
                            add(
                                &mut entry.2,
                                &currency,
                                (amount * pct / Decimal::ONE_HUNDRED).round_dp(2),
                            );
                        }
                    }
                }
                // the stages each deal created in the period ever entered
                let mut sql = Sql::new(d);
                sql.push("SELECT t.id, t.stage");
                in_pipeline(&mut sql);
                sql.push(" AND t.created_at >= ");
                sql.param(SqlValue::Timestamp(since));
                let deals = conn.query(&sql.text, &sql.params)?;
                let mut entered: HashMap<Uuid, Vec<String>> = HashMap::with_capacity(deals.len());
                for row in &deals {
                    if let (Some(id), Some(stage)) = (row[0].as_uuid(), row[1].as_str()) {
                        entered.entry(id).or_default().push(stage.to_owned());
                    }
                }
                let mut sql = Sql::new(d);
                sql.push(
                    "SELECT h.record_id, h.old_value, h.new_value FROM sys_field_history h WHERE h.object = ",
                );
                sql.param(SqlValue::Text(OBJECT.to_owned()));
                sql.push(" AND h.field = ");
                sql.param(SqlValue::Text(STAGE.to_owned()));
                sql.push(" AND h.record_id IN (SELECT t.id");
                in_pipeline(&mut sql);
                sql.push(" AND t.created_at >= ");
                sql.param(SqlValue::Timestamp(since));
                sql.push(")");
                // a stage left was entered too: the one a deal was created at is in no
                // history row's new value
                let stage = |v: &SqlValue| match v {
                    SqlValue::Text(s) => serde_json::from_str::<String>(s).ok(),
                    SqlValue::Json(j) => j.as_str().map(str::to_owned),
                    _ => None,
                };
                for row in conn.query(&sql.text, &sql.params)? {
                    let Some(id) = row[0].as_uuid() else { continue };
                    let seen = entered.entry(id).or_default();
                    seen.extend(stage(&row[1]));
                    seen.extend(stage(&row[2]));
                }
                Ok::<_, CoreError>((totals, entered))
            })
            .await?;
        // how far each deal got: the latest of the stages it entered, lost not counting
        let order: Vec<&str> = pipeline
            .stages
            .iter()
            .map(|s| s.value.as_str())
            .filter(|s| *s != relata_domain::opportunity::LOST)
            .collect();
        let mut reached = vec![0i64; order.len()];
        for stages in furthest.values() {
            let far = stages
                .iter()
                .filter_map(|s| order.iter().position(|o| o == s))
                .max();
            if let Some(far) = far {
                for r in reached.iter_mut().take(far + 1) {
                    *r += 1;
                }
            }
        }
        let object = self.object(OBJECT)?;
        Ok(pipeline
            .stages
            .iter()
            .map(|s| {
                let (count, amounts, weighted) = totals.get(&s.value).cloned().unwrap_or_default();
                let at = order.iter().position(|o| *o == s.value);
                let reached_here = at.map_or(0, |i| reached[i]);
                let conversion = match at {
                    Some(i) if i > 0 && reached[i - 1] > 0 => Some(
                        (Decimal::from(reached_here) * Decimal::ONE_HUNDRED
                            / Decimal::from(reached[i - 1]))
                        .round_dp(1),
                    ),
                    _ => None,
                };
                StageRow {
                    stage: s.value.clone(),
                    label: pipeline::stage_label(&object, &s.value),
                    count,
                    amounts,
                    weighted,
                    reached: reached_here,
                    conversion,
                }
            })
            .collect())
    }

    /// Activities done since `since` per owner: tasks completed, calls that reached
    /// someone or not, meetings held, notes written.
    async fn rep_activity(
        &self,
        actor: &Actor,
        since: DateTime<Utc>,
    ) -> Result<Vec<RepActivity>, CoreError> {
        let from = json!(since);
        let kinds: [(&str, Filter); 4] = [
            (
                activity::TASK,
                Filter::And(vec![
                    cond(activity::STATUS, Op::Eq, json!(activity::COMPLETED)),
                    // a task records no completion time: its last change stands in
                    cond("updated_at", Op::Gte, from.clone()),
                ]),
            ),
            (
                activity::CALL,
                cond(activity::CALL_AT, Op::Gte, from.clone()),
            ),
            (
                activity::MEETING,
                Filter::And(vec![
                    cond(activity::STATUS, Op::Eq, json!(activity::HELD)),
                    cond(activity::START_AT, Op::Gte, from.clone()),
                ]),
            ),
            (activity::NOTE, cond("created_at", Op::Gte, from)),
        ];
        let mut reps: BTreeMap<Uuid, RepActivity> = BTreeMap::new();
        for (object, filter) in kinds {
            if !actor.may(object, Operation::Read) || self.object(object).is_err() {
                continue;
            }
            // a field of the filter hidden from the viewer leaves that kind out
            let groups = match self
                .aggregate(actor, object, "owner_id", None, Some(filter))
                .await
            {
                Ok((_, groups)) => groups,
                Err(CoreError::Validation(_)) => continue,
                Err(e) => return Err(e),
            };
            for b in groups.buckets {
                let Value::Ref(user) = b.key else { continue };
                let rep = reps.entry(user).or_insert(RepActivity {
                    user_id: user,
                    tasks_done: 0,
                    calls: 0,
                    meetings_held: 0,
                    notes: 0,
                });
                let tally = match object {
                    activity::TASK => &mut rep.tasks_done,
                    activity::CALL => &mut rep.calls,
                    activity::MEETING => &mut rep.meetings_held,
                    _ => &mut rep.notes,
                };
                *tally += b.count;
            }
        }
        let mut out: Vec<RepActivity> = reps.into_values().collect();
        out.sort_by_key(|r| -(r.tasks_done + r.calls + r.meetings_held + r.notes));
        Ok(out)
    }

    /// Leads created since `since` by source, and how many of them were converted.
    async fn lead_sources(
        &self,
        actor: &Actor,
        since: DateTime<Utc>,
    ) -> Result<Vec<SourceRow>, CoreError> {
        let lead_def = self.object(lead::OBJECT)?;
        let readable = |f: &str| crate::fields::readable(actor, &lead_def, f);
        if !actor.may(lead::OBJECT, Operation::Read) || !readable("source") || !readable("status") {
            return Ok(Vec::new());
        }
        let created = cond("created_at", Op::Gte, json!(since));
        let (_, all) = self
            .aggregate(actor, lead::OBJECT, "source", None, Some(created.clone()))
            .await?;
        let converted = Filter::And(vec![created, cond("status", Op::Eq, json!("converted"))]);
        let (_, done) = self
            .aggregate(actor, lead::OBJECT, "source", None, Some(converted))
            .await?;
        Ok(all
            .buckets
            .into_iter()
            .map(|b| SourceRow {
                converted: done
                    .buckets
                    .iter()
                    .find(|d| d.key == b.key)
                    .map_or(0, |d| d.count),
                source: match b.key {
                    Value::Text(s) => Some(s),
                    _ => None,
                },
                leads: b.count,
            })
            .collect())
    }

    /// The open deals of the pipeline by how long ago they were created.
    async fn ageing(
        &self,
        actor: &Actor,
        pipeline: &Pipeline,
        now: DateTime<Utc>,
    ) -> Result<Vec<AgeRow>, CoreError> {
        let object = self.object(OBJECT)?;
        let readable = |f: &str| crate::fields::readable(actor, &object, f);
        if !actor.may(OBJECT, Operation::Read) || !readable(STAGE) || !readable(PIPELINE) {
            return Ok(Vec::new());
        }
        let amount = crate::fields::readable(actor, &object, "amount").then_some("amount");
        let mut rows = Vec::new();
        for (from, to) in AGES {
            let mut parts = vec![
                cond(PIPELINE, Op::Eq, json!(pipeline.name)),
                cond(
                    STAGE,
                    Op::In,
                    json!(pipeline.open_stages().map(|s| &s.value).collect::<Vec<_>>()),
                ),
                cond("created_at", Op::Lte, json!(now - Duration::days(*from))),
            ];
            if let Some(to) = to {
                parts.push(cond("created_at", Op::Gt, json!(now - Duration::days(*to))));
            }
            let (_, groups) = self
                .aggregate(actor, OBJECT, PIPELINE, amount, Some(Filter::And(parts)))
                .await?;
            let bucket = groups.buckets.into_iter().next();
            rows.push(AgeRow {
                from_days: *from,
                to_days: *to,
                count: bucket.as_ref().map_or(0, |b| b.count),
                amounts: bucket.map(|b| b.sums).unwrap_or_default(),
            });
        }
        Ok(rows)
    }
}
