//! Sales targets (销售目标) per user, team, department or the company, per month, quarter or
//! year, on won amount, won count, payments collected or new customers — with attainment
//! computed live from the records when asked, never stored.
//!
//! Who sees a target: the people it is for (a team's members, a department's people,
//! everyone for the company's) and the managers above them; administrators of users see
//! and set any, a manager sets those of each person beneath them. A target's actual counts
//! every record of its people, whoever asks: a team's number is the team's, shown alike to
//! each member, as a leaderboard is — the records themselves stay behind their own
//! visibility.

mod actuals;
pub mod forecast;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::targets::{Assignee, Metric, Period, attainment};
use relata_store::dialect::{placeholder, placeholders};
use relata_store::{Conn, SqlValue};

use crate::Core;
use crate::access::Snapshot;
use crate::context::Actor;
use crate::error::CoreError;

/// A target as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Target {
    #[serde(default)]
    pub id: Uuid,
    pub assignee: Assignee,
    /// `2026-12`, `2026-Q4` or `2026`.
    pub period: String,
    pub metric: Metric,
    /// Exact decimal: an amount in `currency`, or a count.
    pub target: Decimal,
    /// For amounts: the currency (the roll-up currency when none is given).
    #[serde(default)]
    pub currency: Option<String>,
}

/// A target with how far it has come.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    #[serde(flatten)]
    pub target: Target,
    pub actual: Decimal,
    /// actual ÷ target in percent, to one place.
    pub attainment: Option<Decimal>,
    /// The users it counts.
    pub members: Vec<Uuid>,
}

fn invalid(field: &str, code: Code, message: impl Into<String>) -> CoreError {
    CoreError::Validation(vec![FieldError::new(field, code, message)])
}

fn text(row: &[SqlValue], i: usize) -> String {
    row.get(i)
        .and_then(SqlValue::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn json_at(row: &[SqlValue], i: usize) -> Json {
    match row.get(i) {
        Some(SqlValue::Json(j)) => j.clone(),
        Some(SqlValue::Text(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Json::Null,
    }
}

const COLUMNS: &str = "id, assignee_detail, period, metric, target, currency";

fn target_of(row: &[SqlValue]) -> Option<Target> {
    Some(Target {
        id: row.first()?.as_uuid()?,
        assignee: serde_json::from_value(json_at(row, 1)).ok()?,
        period: text(row, 2),
        metric: Metric::parse(&text(row, 3))?,
        target: text(row, 4).parse().ok()?,
        currency: row.get(5).and_then(SqlValue::as_str).map(str::to_owned),
    })
}

fn load(conn: &mut dyn Conn, period: Option<&str>) -> Result<Vec<Target>, CoreError> {
    let rows = match period {
        Some(p) => conn.query(
            &format!(
                "SELECT {COLUMNS} FROM sys_sales_targets WHERE period = {} ORDER BY assignee, metric",
                placeholder(conn.dialect(), 1)
            ),
            &[SqlValue::Text(p.to_owned())],
        )?,
        None => conn.query(
            &format!("SELECT {COLUMNS} FROM sys_sales_targets ORDER BY period, assignee, metric"),
            &[],
        )?,
    };
    Ok(rows.iter().filter_map(|r| target_of(r)).collect())
}

/// The users of a department (a text on users).
fn department_members(conn: &mut dyn Conn, name: &str) -> Result<Vec<Uuid>, CoreError> {
    let rows = conn.query(
        &format!(
            "SELECT id FROM sys_users WHERE department = {}",
            placeholder(conn.dialect(), 1)
        ),
        &[SqlValue::Text(name.to_owned())],
    )?;
    Ok(rows.iter().filter_map(|r| r.first()?.as_uuid()).collect())
}

/// The users an assignee stands for; `None` for the company (everyone).
pub(crate) fn members(
    conn: &mut dyn Conn,
    snapshot: &Snapshot,
    assignee: &Assignee,
) -> Result<Option<Vec<Uuid>>, CoreError> {
    Ok(Some(match assignee {
        Assignee::User { id } => vec![*id],
        Assignee::Team { id } => {
            let mut v: Vec<Uuid> = snapshot
                .teams_of
                .iter()
                .filter(|(_, teams)| teams.contains(id))
                .map(|(u, _)| *u)
                .collect();
            v.sort();
            v
        }
        Assignee::Department { name } => department_members(conn, name)?,
        Assignee::Company => return Ok(None),
    }))
}

/// Whether `viewer` manages `user`: `user`'s role lies beneath the viewer's.
pub(crate) fn manages(snapshot: &Snapshot, viewer: Uuid, user: Uuid) -> bool {
    let role = |u: Uuid| snapshot.users.get(&u).and_then(|r| r.role_id);
    match (role(viewer), role(user)) {
        (Some(mine), Some(theirs)) => {
            mine != theirs && snapshot.roles.with_ancestors(theirs).contains(&mine)
        }
        _ => false,
    }
}

/// The viewer and the users they manage.
pub(crate) fn my_people(snapshot: &Snapshot, viewer: Uuid) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = snapshot
        .users
        .iter()
        .filter(|(u, row)| row.active && (**u == viewer || manages(snapshot, viewer, **u)))
        .map(|(u, _)| *u)
        .collect();
    out.sort();
    out
}

fn may_see(actor: &Actor, snapshot: &Snapshot, members: &Option<Vec<Uuid>>) -> bool {
    if actor.access.has(Capability::ManageUsers) {
        return true;
    }
    let me = actor.user_id.0;
    match members {
        None => true,
        Some(m) => m.iter().any(|u| *u == me || manages(snapshot, me, *u)),
    }
}

/// Who sets a target: administrators of users any; a manager those of the people beneath
/// them (one by one: a team's or the company's is the administrators').
fn may_set(actor: &Actor, snapshot: &Snapshot, assignee: &Assignee) -> Result<(), CoreError> {
    if actor.scopes.is_none() && actor.access.has(Capability::ManageUsers) {
        return Ok(());
    }
    match assignee {
        Assignee::User { id } if actor.scopes.is_none() && manages(snapshot, actor.user_id.0, *id) => {
            Ok(())
        }
        _ => Err(CoreError::Forbidden {
            message: "targets are set by administrators of users, and a manager's for the people beneath them"
                .into(),
        }),
    }
}

impl Core {
    /// Sets a target (creating it, or replacing the one of the same assignee, period and
    /// metric): administrators of users, or a manager for someone beneath them.
    pub async fn save_target(&self, actor: &Actor, mut t: Target) -> Result<Target, CoreError> {
        may_set(actor, &self.access_snapshot(), &t.assignee)?;
        let period =
            Period::parse(&t.period).map_err(|m| invalid("period", Code::InvalidOption, m))?;
        t.period = period.to_string();
        if t.target < Decimal::ZERO {
            return Err(invalid("target", Code::TooSmall, "must be 0 or more"));
        }
        if !t.metric.is_money() {
            if !t.target.fract().is_zero() {
                return Err(invalid(
                    "target",
                    Code::TooPrecise,
                    "a count is a whole number",
                ));
            }
            t.currency = None;
        }
        if let Assignee::Department { name } = &t.assignee
            && name.trim().is_empty()
        {
            return Err(invalid("assignee", Code::Required, "name the department"));
        }
        let snapshot = self.access_snapshot();
        match &t.assignee {
            Assignee::User { id } if !snapshot.users.contains_key(id) => {
                return Err(invalid("assignee", Code::LookupNotFound, "no such user"));
            }
            Assignee::Team { id } if !snapshot.teams_of.values().any(|ts| ts.contains(id)) => {
                let exists = self
                    .store
                    .read({
                        let id = *id;
                        move |conn| {
                            Ok::<_, CoreError>(
                                conn.query_one(
                                    &format!(
                                        "SELECT id FROM sys_teams WHERE id = {}",
                                        placeholder(conn.dialect(), 1)
                                    ),
                                    &[SqlValue::Uuid(id)],
                                )?
                                .is_some(),
                            )
                        }
                    })
                    .await?;
                if !exists {
                    return Err(invalid("assignee", Code::LookupNotFound, "no such team"));
                }
            }
            _ => {}
        }
        if t.metric.is_money() && t.currency.is_none() {
            t.currency = Some(
                self.store
                    .read(crate::org_settings::roll_up_currency)
                    .await?,
            );
        }
        let now = self.clock.now();
        let by = actor.user_id.0;
        self.store
            .write(move |conn| {
                let id = upsert(conn, &t, by, now)?;
                Ok::<_, CoreError>(Target { id, ..t })
            })
            .await
    }

    pub async fn delete_target(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let snapshot = self.access_snapshot();
        let actor = actor.clone();
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                let row = conn.query_one(
                    &format!(
                        "SELECT {COLUMNS} FROM sys_sales_targets WHERE id = {}",
                        placeholder(d, 1)
                    ),
                    &[SqlValue::Uuid(id)],
                )?;
                let Some(target) = row.as_deref().and_then(target_of) else {
                    return Err(CoreError::not_found("target"));
                };
                may_set(&actor, &snapshot, &target.assignee)?;
                conn.execute(
                    &format!(
                        "DELETE FROM sys_sales_targets WHERE id = {}",
                        placeholder(d, 1)
                    ),
                    &[SqlValue::Uuid(id)],
                )?;
                Ok(())
            })
            .await
    }

    /// The targets of `period` the actor may see, with their actuals and attainment.
    pub async fn target_progress(
        &self,
        actor: &Actor,
        period: &str,
    ) -> Result<Vec<Progress>, CoreError> {
        let period =
            Period::parse(period).map_err(|m| invalid("period", Code::InvalidOption, m))?;
        let snapshot = self.access_snapshot();
        let today = self.clock.now().date_naive();
        let actor = actor.clone();
        let schema = self.schema();
        self.store
            .read(move |conn| {
                let mut out = Vec::new();
                for t in load(conn, Some(&period.to_string()))? {
                    let members = members(conn, &snapshot, &t.assignee)?;
                    if !may_see(&actor, &snapshot, &members) {
                        continue;
                    }
                    let currency = t.currency.clone().unwrap_or_default();
                    let actual = actuals::actual(
                        conn,
                        &schema,
                        t.metric,
                        members.as_deref(),
                        &period,
                        &currency,
                        today,
                    )?;
                    out.push(Progress {
                        attainment: attainment(actual, t.target),
                        actual,
                        members: members.unwrap_or_default(),
                        target: t,
                    });
                }
                Ok::<_, CoreError>(out)
            })
            .await
    }
}

/// Inserts the target, or updates the one of its assignee, period and metric; its id.
fn upsert(
    conn: &mut dyn Conn,
    t: &Target,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<Uuid, CoreError> {
    let d = conn.dialect();
    let detail =
        serde_json::to_value(&t.assignee).map_err(|e| CoreError::Internal(e.to_string()))?;
    let existing = conn.query_one(
        &format!(
            "SELECT id FROM sys_sales_targets WHERE assignee = {} AND period = {} AND metric = {}",
            placeholder(d, 1),
            placeholder(d, 2),
            placeholder(d, 3)
        ),
        &[
            SqlValue::Text(t.assignee.key()),
            SqlValue::Text(t.period.clone()),
            SqlValue::Text(t.metric.as_str().to_owned()),
        ],
    )?;
    let currency = t
        .currency
        .clone()
        .map(SqlValue::Text)
        .unwrap_or(SqlValue::Null);
    if let Some(id) = existing.as_ref().and_then(|r| r.first()?.as_uuid()) {
        conn.execute(
            &format!(
                "UPDATE sys_sales_targets SET target = {}, currency = {}, updated_at = {} WHERE id = {}",
                placeholder(d, 1),
                placeholder(d, 2),
                placeholder(d, 3),
                placeholder(d, 4)
            ),
            &[
                SqlValue::Text(t.target.to_string()),
                currency,
                SqlValue::Timestamp(now),
                SqlValue::Uuid(id),
            ],
        )?;
        return Ok(id);
    }
    let id = relata_domain::ids::uuid_v7_at(now);
    conn.execute(
        &format!(
            "INSERT INTO sys_sales_targets (id, assignee, assignee_detail, period, metric, target, currency, created_by, created_at, updated_at) VALUES ({})",
            placeholders(d, 1, 10)
        ),
        &[
            SqlValue::Uuid(id),
            SqlValue::Text(t.assignee.key()),
            SqlValue::Json(detail),
            SqlValue::Text(t.period.clone()),
            SqlValue::Text(t.metric.as_str().to_owned()),
            SqlValue::Text(t.target.to_string()),
            currency,
            SqlValue::Uuid(by),
            SqlValue::Timestamp(now),
            SqlValue::Timestamp(now),
        ],
    )?;
    Ok(id)
}

/// Targets by assignee key and metric, for the forecast.
pub(crate) fn by_assignee(
    conn: &mut dyn Conn,
    period: &str,
) -> Result<BTreeMap<(String, Metric), Target>, CoreError> {
    Ok(load(conn, Some(period))?
        .into_iter()
        .map(|t| ((t.assignee.key(), t.metric), t))
        .collect())
}
