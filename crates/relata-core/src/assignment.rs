//! Assignment rules (issue 8): who gets a record — by territory or criteria, round-robin or
//! by load, skipping users who are away or outside the rule's working hours. Administrators
//! with "manage automation" define them; a workflow step (`assign_by_rule`) or a person
//! (`POST /api/v1/assignment_rules/{id}/assign`) applies one to a record. The pick is in
//! `relata_domain::assignment`; here are the rows, the checks and the write.
//!
//! Round-robin turns come from a counter on the rule, moved in the same statement that
//! reads it (`UPDATE … RETURNING`), so two servers assigning at once never take one turn.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::assignment::{AssignmentDef, Strategy, least_loaded, round_robin};
use relata_domain::filter::Filter;
use relata_domain::{FieldError, FieldErrorCode, UserId, Value};
use relata_store::{Conn, Sql, SqlValue};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::json_of;

/// A rule as administrators see it.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentRule {
    pub id: Uuid,
    pub name: String,
    pub object: String,
    pub definition: Json,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an administrator writes.
#[derive(Debug, Clone)]
pub struct AssignmentInput {
    pub name: String,
    pub object: String,
    pub definition: Json,
}

/// Whom a rule gave a record to, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Assigned {
    pub owner_id: Option<Uuid>,
    /// `entry` (with its index), `fallback`, or `nobody`.
    pub by: String,
    pub entry: Option<usize>,
}

/// When a user is away.
#[derive(Debug, Clone, Serialize)]
pub struct Away {
    pub user_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: Option<String>,
}

const COLUMNS: &str = "id, name, object, definition, created_by, created_at, updated_at";

fn decode(r: &[SqlValue]) -> Option<AssignmentRule> {
    Some(AssignmentRule {
        id: r[0].as_uuid()?,
        name: r[1].as_str()?.to_owned(),
        object: r[2].as_str()?.to_owned(),
        definition: json_of(&r[3]),
        created_by: r[4].as_uuid()?,
        created_at: r[5].as_timestamp()?,
        updated_at: r[6].as_timestamp()?,
    })
}

fn load(conn: &mut dyn Conn, id: Option<Uuid>) -> Result<Vec<AssignmentRule>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_assignment_rules"));
    if let Some(id) = id {
        sql.push(" WHERE id = ");
        sql.param(SqlValue::Uuid(id));
    }
    sql.push(" ORDER BY object, name, id");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode(r))
        .collect())
}

impl Core {
    pub async fn assignment_rules(&self, actor: &Actor) -> Result<Vec<AssignmentRule>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store.read(|conn| load(conn, None)).await
    }

    pub async fn assignment_rule(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<AssignmentRule, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| load(conn, Some(id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("assignment rule"))
    }

    /// Creates (`id` None) or replaces a rule, checked: the object exists, each entry's
    /// condition types on it, every user named is active, the hours make sense.
    pub async fn save_assignment_rule(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
        input: AssignmentInput,
    ) -> Result<AssignmentRule, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        if let Some(id) = id {
            let stored = self.assignment_rule(actor, id).await?;
            if stored.object != input.object {
                // its conditions and open records are about the object it was made for
                return Err(CoreError::field(FieldError::new(
                    "object",
                    FieldErrorCode::InvalidOption,
                    format!(
                        "a rule's object cannot change (this one is for {}); create a new rule",
                        stored.object
                    ),
                )));
            }
        }
        let def = self.check_assignment_rule(actor, &input)?;
        let stored = serde_json::to_value(&def)
            .map_err(|e| CoreError::Internal(format!("a definition that does not encode: {e}")))?;
        let now = self.clock.now();
        let id = id.unwrap_or_else(|| relata_domain::ids::uuid_v7_at(now));
        let (who, by) = (crate::audit::Who::from(actor), actor.user_id.0);
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("INSERT INTO sys_assignment_rules (id, name, object, definition, counter, created_by, created_at, updated_at) VALUES (");
                sql.param(SqlValue::Uuid(id));
                for v in [
                    SqlValue::Text(input.name.trim().to_owned()),
                    SqlValue::Text(input.object.clone()),
                    SqlValue::Json(stored.clone()),
                    SqlValue::Int(0),
                    SqlValue::Uuid(by),
                    SqlValue::Timestamp(now),
                    SqlValue::Timestamp(now),
                ] {
                    sql.push(", ");
                    sql.param(v);
                }
                sql.push(") ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition = excluded.definition, updated_at = excluded.updated_at");
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(conn, &who, now, "assignment_rule.save", None, json!({"rule_id": id.to_string(), "name": input.name, "object": input.object}))?;
                Ok::<_, CoreError>(())
            })
            .await?;
        self.assignment_rule(actor, id).await
    }

    /// Checks a rule without saving it: every problem, named by where it is
    /// (`entries[1].condition`, `working_hours.days`).
    pub fn check_assignment_rule(
        &self,
        actor: &Actor,
        input: &AssignmentInput,
    ) -> Result<AssignmentDef, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::InvalidOption,
                "a rule needs a name of 1-100 characters",
            ));
        }
        let object = self.object(&input.object).map_err(|_| {
            CoreError::field(FieldError::new(
                "object",
                FieldErrorCode::InvalidOption,
                format!("no object {:?}", input.object),
            ))
        })?;
        let def = AssignmentDef::parse(&input.definition).map_err(CoreError::field)?;
        errors.extend(def.check_shape());
        let conditions = def
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.condition
                    .as_ref()
                    .map(|c| (format!("entries[{i}].condition"), c))
            })
            .chain(
                def.open_condition
                    .as_ref()
                    .map(|c| ("open_condition".to_owned(), c)),
            );
        for (at, c) in conditions {
            if let Err(e) = crate::filter_scope::record_condition(self, actor, &object, c) {
                errors.push(FieldError::new(at, e.code, e.message));
            }
        }
        for user in def.users() {
            if self.access_of(UserId(user)).is_err() {
                errors.push(FieldError::new(
                    "entries",
                    FieldErrorCode::InvalidOption,
                    format!("no active user {user}"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(def)
        } else {
            Err(CoreError::Validation(errors))
        }
    }

    pub async fn delete_assignment_rule(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let rule = self.assignment_rule(actor, id).await?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_assignment_rules WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "assignment_rule.delete",
                    None,
                    json!({"rule_id": id.to_string(), "name": rule.name}),
                )?;
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// Gives the record an owner by the rule, as `actor` (who must be allowed to change
    /// the record's owner). A record no entry takes, with nobody available and no fallback,
    /// keeps its owner.
    pub async fn assign_by_rule(
        &self,
        actor: &Actor,
        rule_id: Uuid,
        record_id: Uuid,
    ) -> Result<Assigned, CoreError> {
        let rule = self
            .store
            .read(move |conn| load(conn, Some(rule_id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("assignment rule"))?;
        let def = AssignmentDef::parse(&rule.definition).map_err(CoreError::field)?;
        let object = self.object(&rule.object)?;
        let record = self.get_record(actor, object.name(), record_id).await?;
        let mut entry = None;
        for (i, e) in def.entries.iter().enumerate() {
            if self.condition_holds(actor, &object, e.condition.as_ref(), &record)? {
                entry = Some(i);
                break;
            }
        }
        let now = self.clock.now();
        let away = self.away_now(now).await?;
        let open_hours = def.working_hours.as_ref().is_none_or(|h| h.open_at(now));
        let available =
            |u: &Uuid| open_hours && !away.contains(u) && self.access_of(UserId(*u)).is_ok();
        let picked = match entry {
            None => None,
            Some(i) => {
                let members = &def.entries[i].users;
                match def.strategy {
                    Strategy::RoundRobin => {
                        let counter = self.take_turn(rule_id).await?;
                        round_robin(members, counter, &available)
                    }
                    Strategy::LoadBalanced => {
                        let open = self
                            .open_counts(actor, object.name(), members, def.open_condition.as_ref())
                            .await?;
                        least_loaded(members, &open, &available)
                    }
                }
            }
        };
        let (owner, by) = match (picked, def.fallback_user) {
            (Some(u), _) => (Some(u), "entry"),
            (None, Some(f)) => (Some(f), "fallback"),
            (None, None) => (None, "nobody"),
        };
        if let Some(owner) = owner
            && record.get("owner_id") != &Value::Ref(owner)
        {
            self.update_record(
                actor,
                object.name(),
                record_id,
                json!({"owner_id": owner.to_string()}),
                None,
            )
            .await?;
        }
        Ok(Assigned {
            owner_id: owner,
            by: by.into(),
            entry,
        })
    }

    /// The rule's next turn (0, 1, 2, …), taken in one statement.
    async fn take_turn(&self, rule: Uuid) -> Result<u64, CoreError> {
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_assignment_rules SET counter = counter + 1 WHERE id = ");
                sql.param(SqlValue::Uuid(rule));
                sql.push(" RETURNING counter");
                let n = conn
                    .query_one(&sql.text, &sql.params)?
                    .and_then(|r| r[0].as_i64())
                    .unwrap_or(1);
                Ok::<_, CoreError>((n - 1).max(0) as u64)
            })
            .await
    }

    /// Open records of `object` each member owns (by the rule's open condition): one
    /// grouped count over the members' records.
    async fn open_counts(
        &self,
        actor: &Actor,
        object: &str,
        members: &[Uuid],
        open: Option<&Json>,
    ) -> Result<HashMap<Uuid, i64>, CoreError> {
        let ids: Vec<String> = members.iter().map(Uuid::to_string).collect();
        let owned =
            relata_domain::filter::compact::parse(&format!("owner_id in ({})", ids.join(", ")))
                .map_err(CoreError::field)?;
        let filter = match open.map(crate::filter_scope::parse_condition).transpose() {
            Ok(Some(o)) => Filter::And(vec![owned, o]),
            Ok(None) => owned,
            Err(e) => return Err(CoreError::field(e)),
        };
        let (_, groups) = self
            .aggregate(actor, object, "owner_id", None, Some(filter))
            .await?;
        Ok(groups
            .buckets
            .into_iter()
            .filter_map(|b| match b.key {
                Value::Ref(u) => Some((u, b.count)),
                _ => None,
            })
            .collect())
    }

    /// Users away at `now`.
    async fn away_now(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, CoreError> {
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT user_id FROM sys_user_away WHERE starts_at <= ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" AND ends_at > ");
                sql.param(SqlValue::Timestamp(now));
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| r[0].as_uuid())
                        .collect(),
                )
            })
            .await
    }

    /// Marks a user away (out of office) from `starts_at` until `ends_at`: assignment rules
    /// pass them by meanwhile. A user sets their own; user administrators anyone's.
    pub async fn set_away(
        &self,
        actor: &Actor,
        user: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        note: Option<String>,
    ) -> Result<Away, CoreError> {
        if user != actor.user_id.0 {
            actor.require_capability(Capability::ManageUsers)?;
        }
        if ends_at <= starts_at {
            return Err(CoreError::field(FieldError::new(
                "ends_at",
                FieldErrorCode::InvalidOption,
                "the end must come after the start",
            )));
        }
        self.access_of(UserId(user))
            .map_err(|_| CoreError::not_found(format!("user {user}")))?;
        let now = self.clock.now();
        let n = note.clone();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("INSERT INTO sys_user_away (user_id, starts_at, ends_at, note, updated_at) VALUES (");
                sql.param(SqlValue::Uuid(user));
                for v in [
                    SqlValue::Timestamp(starts_at),
                    SqlValue::Timestamp(ends_at),
                    n.map(SqlValue::Text).unwrap_or(SqlValue::Null),
                    SqlValue::Timestamp(now),
                ] {
                    sql.push(", ");
                    sql.param(v);
                }
                sql.push(") ON CONFLICT (user_id) DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, note = excluded.note, updated_at = excluded.updated_at");
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(Away {
            user_id: user,
            starts_at,
            ends_at,
            note,
        })
    }

    /// Ends a user's time away.
    pub async fn clear_away(&self, actor: &Actor, user: Uuid) -> Result<(), CoreError> {
        if user != actor.user_id.0 {
            actor.require_capability(Capability::ManageUsers)?;
        }
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_user_away WHERE user_id = ");
                sql.param(SqlValue::Uuid(user));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }
}
