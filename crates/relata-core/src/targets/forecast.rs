//! Forecasting (销售预测): for a period, each rep's open and won deals closing in it, added
//! up by forecast category (closed, commit, best case, pipeline) and weighted by
//! probability, next to their won-amount target. A rep may adjust their own figure of a
//! category and a manager override it; each change is kept (the latest counts), and a
//! weekly snapshot of every rep's figures shows how the forecast moved.
//!
//! Deals are counted through the viewer's visibility, like every list: a rep's forecast is
//! their own, a manager's covers the people beneath them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use relata_domain::Value;
use relata_domain::access::{Capability, Operation};
use relata_domain::error::FieldErrorCode as Code;
use relata_domain::meta::Schema;
use relata_domain::opportunity::{FORECAST_CATEGORY, OBJECT as DEAL, PROBABILITY};
use relata_domain::pricing::{self, MONEY_SCALE};
use relata_domain::targets::{
    Assignee, CategoryFigure, FORECAST_CATEGORIES, Metric, Period, PeriodKind, attainment,
    forecast_call,
};
use relata_store::codec::decode;
use relata_store::ddl::{currency_column, table_name};
use relata_store::dialect::{placeholder, placeholders};
use relata_store::{Conn, Sql, SqlValue};

use super::{invalid, manages, my_people};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::money::{Converter, missing_rate};
use crate::visibility::Visibility;

/// The categories a rep or manager may adjust (closed is what was won).
pub const ADJUSTABLE: [&str; 3] = ["commit", "best_case", "pipeline"];

#[derive(Debug, Clone, Serialize)]
pub struct RepForecast {
    pub user_id: Uuid,
    /// Per category: computed, adjusted, overridden.
    pub categories: BTreeMap<String, CategoryFigure>,
    /// Open deals' amounts × probability.
    pub weighted: Decimal,
    /// Closed plus commit, as they stand.
    pub call: Decimal,
    /// The rep's won-amount target for the period, if set.
    pub target: Option<Decimal>,
    /// Closed ÷ target.
    pub attainment: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    pub period: String,
    pub currency: String,
    pub reps: Vec<RepForecast>,
    /// Per category, the standing figures added up.
    pub totals: BTreeMap<String, Decimal>,
    pub weighted: Decimal,
    pub call: Decimal,
    pub target: Option<Decimal>,
    pub attainment: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Adjustment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub period: String,
    pub category: String,
    pub amount: Decimal,
    pub currency: String,
    /// A manager's override (else the rep's own adjustment).
    pub is_override: bool,
    pub note: Option<String>,
    pub by_user: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub taken_on: NaiveDate,
    /// Per category, the standing figures of the people shown, added up.
    pub categories: BTreeMap<String, Decimal>,
}

/// Computed per rep: the categories' amounts and the weighted pipeline.
type Computed = HashMap<Uuid, (BTreeMap<String, Decimal>, Decimal)>;

fn period_of(s: &str) -> Result<Period, CoreError> {
    Period::parse(s).map_err(|m| invalid("period", Code::InvalidOption, m))
}

/// The deals of `people` closing in `period` (through `vis` when given), per rep.
#[allow(clippy::too_many_arguments)]
fn compute(
    conn: &mut dyn Conn,
    schema: &Schema,
    period: &Period,
    people: &[Uuid],
    vis: Option<&Visibility>,
    currency: &str,
    today: NaiveDate,
) -> Result<Computed, CoreError> {
    let deals = schema
        .object(DEAL)
        .ok_or_else(|| CoreError::Internal("the opportunity object is missing".into()))?;
    let (Some(amount_f), Some(prob_f)) = (deals.field("amount"), deals.field(PROBABILITY)) else {
        return Ok(Computed::new());
    };
    let mut out = Computed::new();
    if people.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT t.owner_id, t.{FORECAST_CATEGORY}, t.amount, t.{}, t.{PROBABILITY} FROM {} t WHERE t.deleted_at IS NULL AND t.close_date >= ",
        currency_column("amount"),
        table_name(deals)
    ));
    sql.param(SqlValue::Date(period.start()));
    sql.push(" AND t.close_date < ");
    sql.param(SqlValue::Date(period.end()));
    sql.push(" AND t.owner_id IN (");
    for (i, p) in people.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(SqlValue::Uuid(*p));
    }
    sql.push(")");
    if let Some(vis) = vis {
        vis.push(&mut sql, "t.");
    }
    let rows = conn.query(&sql.text, &sql.params)?;
    let mut converter = Converter::new(schema, currency, today, missing_rate);
    for row in &rows {
        let (Some(owner), Some(category)) = (row[0].as_uuid(), row[1].as_str()) else {
            continue;
        };
        if !FORECAST_CATEGORIES.contains(&category) {
            continue;
        }
        let Ok(Value::Money {
            amount,
            currency: from,
        }) = decode(amount_f, &[row[2].clone(), row[3].clone()])
        else {
            continue;
        };
        let amount = converter.convert(conn, amount, &from)?;
        let probability = match decode(prob_f, &[row[4].clone()]) {
            Ok(Value::Decimal(p)) => p,
            _ => Decimal::ZERO,
        };
        let entry = out.entry(owner).or_default();
        *entry.0.entry(category.to_owned()).or_default() += amount;
        if category != "closed" {
            entry.1 +=
                pricing::round_money(amount * probability / Decimal::ONE_HUNDRED, MONEY_SCALE);
        }
    }
    Ok(out)
}

fn adjustments(conn: &mut dyn Conn, period: &str) -> Result<Vec<Adjustment>, CoreError> {
    let rows = conn.query(
        &format!(
            "SELECT id, user_id, period, category, amount, currency, is_override, note, by_user, at FROM sys_forecast_adjustments WHERE period = {} ORDER BY at, id",
            placeholder(conn.dialect(), 1)
        ),
        &[SqlValue::Text(period.to_owned())],
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Adjustment {
                id: r[0].as_uuid()?,
                user_id: r[1].as_uuid()?,
                period: r[2].as_str()?.to_owned(),
                category: r[3].as_str()?.to_owned(),
                amount: r[4].as_str()?.parse().ok()?,
                currency: r[5].as_str()?.to_owned(),
                is_override: r[6].as_bool().unwrap_or(false),
                note: r[7].as_str().map(str::to_owned),
                by_user: r[8].as_uuid()?,
                at: r[9].as_timestamp()?,
            })
        })
        .collect())
}

/// Each rep's figures with the latest adjustment and override applied.
fn assemble(
    people: &[Uuid],
    computed: &Computed,
    adjusted: &[Adjustment],
    targets: &BTreeMap<(String, Metric), super::Target>,
) -> Vec<RepForecast> {
    people
        .iter()
        .map(|user| {
            let (amounts, weighted) = computed.get(user).cloned().unwrap_or_default();
            let mut categories: BTreeMap<String, CategoryFigure> = FORECAST_CATEGORIES
                .iter()
                .map(|c| {
                    let figure = CategoryFigure {
                        computed: amounts.get(*c).copied().unwrap_or_default(),
                        ..Default::default()
                    };
                    ((*c).to_owned(), figure)
                })
                .collect();
            for a in adjusted.iter().filter(|a| a.user_id == *user) {
                if let Some(f) = categories.get_mut(&a.category) {
                    if a.is_override {
                        f.overridden = Some(a.amount);
                    } else {
                        f.adjusted = Some(a.amount);
                    }
                }
            }
            let call = forecast_call(&categories["closed"], &categories["commit"]);
            let target = targets
                .get(&(Assignee::User { id: *user }.key(), Metric::WonAmount))
                .map(|t| t.target);
            RepForecast {
                user_id: *user,
                attainment: target.and_then(|t| attainment(categories["closed"].computed, t)),
                categories,
                weighted,
                call,
                target,
            }
        })
        .collect()
}

impl Core {
    /// The people a forecast shows: a team's members (to its members, their managers and
    /// administrators), or the viewer and those beneath them (administrators of users:
    /// everyone active).
    fn forecast_people(&self, actor: &Actor, team: Option<Uuid>) -> Result<Vec<Uuid>, CoreError> {
        let snapshot = self.access_snapshot();
        let me = actor.user_id.0;
        let admin = actor.access.has(Capability::ManageUsers);
        match team {
            Some(id) => {
                let mut people: Vec<Uuid> = snapshot
                    .teams_of
                    .iter()
                    .filter(|(_, ts)| ts.contains(&id))
                    .map(|(u, _)| *u)
                    .collect();
                people.sort();
                if !admin
                    && !people
                        .iter()
                        .any(|u| *u == me || manages(&snapshot, me, *u))
                {
                    return Err(CoreError::not_found("team"));
                }
                Ok(people)
            }
            None if admin => {
                let mut all: Vec<Uuid> = snapshot
                    .users
                    .iter()
                    .filter(|(_, r)| r.active)
                    .map(|(u, _)| *u)
                    .collect();
                all.sort();
                Ok(all)
            }
            None => Ok(my_people(&snapshot, me)),
        }
    }

    /// The forecast of `period` for a team, or for the viewer and those beneath them.
    pub async fn forecast(
        &self,
        actor: &Actor,
        period: &str,
        team: Option<Uuid>,
    ) -> Result<Forecast, CoreError> {
        let period = period_of(period)?;
        let deals = self.object(DEAL)?;
        let vis = self.visibility(actor, &deals, Operation::Read)?;
        let people = self.forecast_people(actor, team)?;
        let schema = self.schema();
        let today = self.clock.now().date_naive();
        self.store
            .read(move |conn| {
                let currency = crate::org_settings::roll_up_currency(conn)?;
                let name = period.to_string();
                let computed = compute(
                    conn,
                    &schema,
                    &period,
                    &people,
                    Some(&vis),
                    &currency,
                    today,
                )?;
                let adjusted = adjustments(conn, &name)?;
                let targets = super::by_assignee(conn, &name)?;
                let reps = assemble(&people, &computed, &adjusted, &targets);
                let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
                for r in &reps {
                    for (c, f) in &r.categories {
                        *totals.entry(c.clone()).or_default() += f.standing();
                    }
                }
                let targeted: Vec<Decimal> = reps.iter().filter_map(|r| r.target).collect();
                let target = (!targeted.is_empty()).then(|| targeted.iter().copied().sum());
                let closed: Decimal = reps.iter().map(|r| r.categories["closed"].computed).sum();
                Ok::<_, CoreError>(Forecast {
                    period: name,
                    currency,
                    weighted: reps.iter().map(|r| r.weighted).sum(),
                    call: reps.iter().map(|r| r.call).sum(),
                    attainment: target.and_then(|t| attainment(closed, t)),
                    target,
                    totals,
                    reps,
                })
            })
            .await
    }

    /// Adjusts `user`'s figure of `category` for `period`: their own adjustment when the
    /// actor is that rep, an override when the actor manages them (or administers users).
    pub async fn adjust_forecast(
        &self,
        actor: &Actor,
        user: Uuid,
        period: &str,
        category: &str,
        amount: Decimal,
        note: Option<String>,
    ) -> Result<Adjustment, CoreError> {
        let period = period_of(period)?.to_string();
        if !ADJUSTABLE.contains(&category) {
            return Err(invalid(
                "category",
                Code::InvalidOption,
                "must be commit, best_case or pipeline (closed is what was won)",
            ));
        }
        if amount < Decimal::ZERO {
            return Err(invalid("amount", Code::TooSmall, "must be 0 or more"));
        }
        let snapshot = self.access_snapshot();
        let me = actor.user_id.0;
        let is_override = if user == me {
            false
        } else if manages(&snapshot, me, user) || actor.access.has(Capability::ManageUsers) {
            true
        } else {
            return Err(CoreError::Forbidden {
                message:
                    "only the rep, their managers or an administrator of users adjust a forecast"
                        .into(),
            });
        };
        if !snapshot.users.contains_key(&user) {
            return Err(invalid("user_id", Code::LookupNotFound, "no such user"));
        }
        let now = self.clock.now();
        let category = category.to_owned();
        self.store
            .write(move |conn| {
                let currency = crate::org_settings::roll_up_currency(conn)?;
                let a = Adjustment {
                    id: relata_domain::ids::uuid_v7_at(now),
                    user_id: user,
                    period,
                    category,
                    amount,
                    currency,
                    is_override,
                    note,
                    by_user: me,
                    at: now,
                };
                conn.execute(
                    &format!(
                        "INSERT INTO sys_forecast_adjustments (id, user_id, period, category, amount, currency, is_override, note, by_user, at) VALUES ({})",
                        placeholders(conn.dialect(), 1, 10)
                    ),
                    &[
                        SqlValue::Uuid(a.id),
                        SqlValue::Uuid(a.user_id),
                        SqlValue::Text(a.period.clone()),
                        SqlValue::Text(a.category.clone()),
                        SqlValue::Text(a.amount.to_string()),
                        SqlValue::Text(a.currency.clone()),
                        SqlValue::Bool(a.is_override),
                        a.note.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null),
                        SqlValue::Uuid(a.by_user),
                        SqlValue::Timestamp(a.at),
                    ],
                )?;
                Ok::<_, CoreError>(a)
            })
            .await
    }

    /// Every adjustment and override of `user`'s forecast for `period`, oldest first.
    pub async fn forecast_history(
        &self,
        actor: &Actor,
        user: Uuid,
        period: &str,
    ) -> Result<Vec<Adjustment>, CoreError> {
        let period = period_of(period)?.to_string();
        if !self.forecast_people(actor, None)?.contains(&user) {
            return Err(CoreError::not_found("user"));
        }
        self.store
            .read(move |conn| {
                Ok::<_, CoreError>(
                    adjustments(conn, &period)?
                        .into_iter()
                        .filter(|a| a.user_id == user)
                        .collect(),
                )
            })
            .await
    }

    /// Keeps this week's figures of every active rep for the current month and quarter
    /// (the weekly `forecast.snapshot` job); taken again the same day, they replace it.
    pub async fn snapshot_forecasts(&self) -> Result<usize, CoreError> {
        let today = self.clock.now().date_naive();
        let schema = self.schema();
        let snapshot = self.access_snapshot();
        let people: Vec<Uuid> = snapshot
            .users
            .iter()
            .filter(|(_, r)| r.active)
            .map(|(u, _)| *u)
            .collect();
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let currency = crate::org_settings::roll_up_currency(conn)?;
                let mut n = 0;
                for kind in [PeriodKind::Month, PeriodKind::Quarter] {
                    let period = Period::containing(kind, today);
                    let name = period.to_string();
                    let computed = compute(conn, &schema, &period, &people, None, &currency, today)?;
                    let adjusted = adjustments(conn, &name)?;
                    let reps = assemble(&people, &computed, &adjusted, &BTreeMap::new());
                    let d = conn.dialect();
                    conn.execute(
                        &format!(
                            "DELETE FROM sys_forecast_snapshots WHERE taken_on = {} AND period = {}",
                            placeholder(d, 1),
                            placeholder(d, 2)
                        ),
                        &[SqlValue::Text(today.to_string()), SqlValue::Text(name.clone())],
                    )?;
                    for r in reps.iter().filter(|r| {
                        r.weighted > Decimal::ZERO
                            || r.categories.values().any(|f| f.standing() > Decimal::ZERO)
                    }) {
                        for (category, f) in &r.categories {
                            conn.execute(
                                &format!(
                                    "INSERT INTO sys_forecast_snapshots (id, taken_on, period, user_id, category, computed, standing, weighted, currency) VALUES ({})",
                                    placeholders(d, 1, 9)
                                ),
                                &[
                                    SqlValue::Uuid(relata_domain::ids::uuid_v7_at(now)),
                                    SqlValue::Text(today.to_string()),
                                    SqlValue::Text(name.clone()),
                                    SqlValue::Uuid(r.user_id),
                                    SqlValue::Text(category.clone()),
                                    SqlValue::Text(f.computed.to_string()),
                                    SqlValue::Text(f.standing().to_string()),
                                    SqlValue::Text(r.weighted.to_string()),
                                    SqlValue::Text(currency.clone()),
                                ],
                            )?;
                            n += 1;
                        }
                    }
                }
                Ok::<_, CoreError>(n)
            })
            .await
    }

    /// How the forecast of `period` moved, week by week, for the people the viewer's
    /// forecast shows (or a team's).
    pub async fn forecast_trend(
        &self,
        actor: &Actor,
        period: &str,
        team: Option<Uuid>,
    ) -> Result<Vec<TrendPoint>, CoreError> {
        let period = period_of(period)?.to_string();
        let people = self.forecast_people(actor, team)?;
        self.store
            .read(move |conn| {
                let rows = conn.query(
                    &format!(
                        "SELECT taken_on, user_id, category, standing FROM sys_forecast_snapshots WHERE period = {} ORDER BY taken_on",
                        placeholder(conn.dialect(), 1)
                    ),
                    &[SqlValue::Text(period)],
                )?;
                let mut points: BTreeMap<NaiveDate, BTreeMap<String, Decimal>> = BTreeMap::new();
                for r in &rows {
                    let (Some(day), Some(user), Some(category), Some(amount)) = (
                        r[0].as_str().and_then(|s| s.parse::<NaiveDate>().ok()),
                        r[1].as_uuid(),
                        r[2].as_str(),
                        r[3].as_str().and_then(|s| s.parse::<Decimal>().ok()),
                    ) else {
                        continue;
                    };
                    if !people.contains(&user) {
                        continue;
                    }
                    *points
                        .entry(day)
                        .or_default()
                        .entry(category.to_owned())
                        .or_default() += amount;
                }
                Ok::<_, CoreError>(
                    points
                        .into_iter()
                        .map(|(taken_on, categories)| TrendPoint {
                            taken_on,
                            categories,
                        })
                        .collect(),
                )
            })
            .await
    }
}
