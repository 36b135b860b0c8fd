//! Pools (公海) of leads and accounts: setting them up (metadata administrators), and who
//! belongs to which (`relata_domain::pool` has the rules themselves). Moving records in and
//! out is in `moves`, the daily reclaim and its warnings in `sweep`.
//!
//! Members of a pool — users, teams, roles — see its unowned records through the read
//! visibility (`visibility.rs`) and may claim them; members marked `can_assign` (and
//! administrators of metadata) also hand them out and put records into the pool.

mod moves;
mod sweep;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::pool::{self, PoolRules};
use relata_store::dialect::placeholders;
use relata_store::{Conn, SqlValue};

pub use moves::{MAX_PER_MOVE, MoveOutcome, PoolEvent};
pub use sweep::SweepReport;

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::json_of;

/// Who belongs to a pool: a user, a team, a role, or a role and those under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub kind: String,
    pub id: Uuid,
    /// May hand the pool's records out and put records into it.
    #[serde(default)]
    pub can_assign: bool,
}

const MEMBER_KINDS: [&str; 4] = ["user", "team", "role", "role_and_subordinates"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    pub name: String,
    pub object: String,
    #[serde(default)]
    pub rules: PoolRules,
    /// Governs the object's owned records that came from no pool.
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    pub id: Uuid,
    pub name: String,
    pub object: String,
    pub rules: PoolRules,
    pub is_default: bool,
    pub members: Vec<Member>,
    pub created_by: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "id, name, object, rules, is_default, created_by, created_at, updated_at";

fn pool_of(row: &[SqlValue]) -> Result<Pool, CoreError> {
    let bad = || CoreError::Internal("a pool row is malformed".into());
    Ok(Pool {
        id: row[0].as_uuid().ok_or_else(bad)?,
        name: row[1].as_str().unwrap_or_default().to_owned(),
        object: row[2].as_str().unwrap_or_default().to_owned(),
        rules: serde_json::from_value(json_of(&row[3])).map_err(|_| bad())?,
        is_default: row[4].as_bool().unwrap_or(false),
        members: Vec::new(),
        created_by: row[5].as_uuid().ok_or_else(bad)?,
        created_at: row[6].as_timestamp().ok_or_else(bad)?,
        updated_at: row[7].as_timestamp().ok_or_else(bad)?,
    })
}

/// Every pool (or the one `id`) with its members.
pub(crate) fn load(conn: &mut dyn Conn, id: Option<Uuid>) -> Result<Vec<Pool>, CoreError> {
    let d = conn.dialect();
    let (filter, params) = match id {
        Some(id) => (
            format!(" WHERE id = {}", relata_store::dialect::placeholder(d, 1)),
            vec![SqlValue::Uuid(id)],
        ),
        None => (String::new(), Vec::new()),
    };
    let mut pools = conn
        .query(
            &format!("SELECT {COLUMNS} FROM sys_pools{filter} ORDER BY name, id"),
            &params,
        )?
        .iter()
        .map(|r| pool_of(r))
        .collect::<Result<Vec<_>, _>>()?;
    let members = conn.query(
        "SELECT pool_id, principal_kind, principal_id, can_assign FROM sys_pool_members ORDER BY principal_kind, principal_id",
        &[],
    )?;
    for row in members {
        let (Some(pool_id), Some(kind), Some(id)) =
            (row[0].as_uuid(), row[1].as_str(), row[2].as_uuid())
        else {
            continue;
        };
        if let Some(p) = pools.iter_mut().find(|p| p.id == pool_id) {
            p.members.push(Member {
                kind: kind.to_owned(),
                id,
                can_assign: row[3].as_bool().unwrap_or(false),
            });
        }
    }
    Ok(pools)
}

impl Pool {
    /// Whether `actor` is one of the pool's members (`assigning`: one who may hand out).
    pub fn admits(&self, actor: &Actor, assigning: bool) -> bool {
        self.members.iter().any(|m| {
            (!assigning || m.can_assign)
                && actor
                    .access
                    .principals
                    .iter()
                    .any(|(kind, ids)| *kind == m.kind && ids.contains(&m.id))
        })
    }
}

impl Core {
    fn check_pool(&self, input: &PoolInput) -> Result<(), CoreError> {
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            errors.push(FieldError::new(
                "name",
                Code::Required,
                "a name of 1 to 120 characters",
            ));
        }
        if !pool::OBJECTS.contains(&input.object.as_str()) {
            errors.push(FieldError::new(
                "object",
                Code::InvalidOption,
                "pools hold leads or accounts",
            ));
        } else {
            let object = self.object(&input.object)?;
            errors.extend(input.rules.problems(&object).into_iter().map(|mut e| {
                e.field = format!("rules.{}", e.field);
                e
            }));
        }
        for (i, m) in input.members.iter().enumerate() {
            if !MEMBER_KINDS.contains(&m.kind.as_str()) {
                errors.push(FieldError::new(
                    format!("members.{i}.kind"),
                    Code::InvalidOption,
                    "must be user, team, role or role_and_subordinates",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(errors))
        }
    }

    /// The pools the actor may claim from (all of them for administrators of metadata).
    pub async fn pools(&self, actor: &Actor) -> Result<Vec<Pool>, CoreError> {
        let all = self.store.read(|conn| load(conn, None)).await?;
        let admin = actor.require_capability(Capability::ManageMetadata).is_ok();
        Ok(all
            .into_iter()
            .filter(|p| admin || p.admits(actor, false))
            .collect())
    }

    /// One pool the actor belongs to (or administers).
    pub async fn pool(&self, actor: &Actor, id: Uuid) -> Result<Pool, CoreError> {
        let pool = self
            .store
            .read(move |conn| load(conn, Some(id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found(format!("pool {id}")))?;
        if actor.require_capability(Capability::ManageMetadata).is_ok() || pool.admits(actor, false)
        {
            Ok(pool)
        } else {
            Err(CoreError::not_found(format!("pool {id}")))
        }
    }

    /// Creates (`id` None) or replaces a pool.
    pub async fn save_pool(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
        input: PoolInput,
    ) -> Result<Pool, CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        self.check_pool(&input)?;
        let now = self.clock.now();
        let by = actor.user_id.0;
        let who = crate::audit::Who::from(actor);
        let saved = self
            .store
            .write(move |conn| -> Result<Uuid, CoreError> {
                let d = conn.dialect();
                let rules = serde_json::to_value(&input.rules)
                    .map_err(|e| CoreError::Internal(e.to_string()))?;
                let id = match id {
                    Some(id) => {
                        let existing = load(conn, Some(id))?;
                        let Some(old) = existing.first() else {
                            return Err(CoreError::not_found(format!("pool {id}")));
                        };
                        if old.object != input.object {
                            return Err(CoreError::Validation(vec![FieldError::new(
                                "object",
                                Code::ReadOnly,
                                "a pool keeps the object it was made for",
                            )]));
                        }
                        conn.execute(
                            &format!(
                                "UPDATE sys_pools SET name = {}, rules = {}, is_default = {}, updated_at = {} WHERE id = {}",
                                relata_store::dialect::placeholder(d, 1),
                                relata_store::dialect::placeholder(d, 2),
                                relata_store::dialect::placeholder(d, 3),
                                relata_store::dialect::placeholder(d, 4),
                                relata_store::dialect::placeholder(d, 5),
                            ),
                            &[
                                SqlValue::Text(input.name.trim().to_owned()),
                                SqlValue::Json(rules),
                                SqlValue::Bool(input.is_default),
                                SqlValue::Timestamp(now),
                                SqlValue::Uuid(id),
                            ],
                        )?;
                        id
                    }
                    None => {
                        let id = relata_domain::ids::uuid_v7_at(now);
                        conn.execute(
                            &format!("INSERT INTO sys_pools ({COLUMNS}) VALUES ({})", placeholders(d, 1, 8)),
                            &[
                                SqlValue::Uuid(id),
                                SqlValue::Text(input.name.trim().to_owned()),
                                SqlValue::Text(input.object.clone()),
                                SqlValue::Json(rules),
                                SqlValue::Bool(input.is_default),
                                SqlValue::Uuid(by),
                                SqlValue::Timestamp(now),
                                SqlValue::Timestamp(now),
                            ],
                        )?;
                        id
                    }
                };
                if input.is_default {
                    // one default pool per object
                    conn.execute(
                        &format!(
                            "UPDATE sys_pools SET is_default = {} WHERE object = {} AND id <> {}",
                            relata_store::dialect::placeholder(d, 1),
                            relata_store::dialect::placeholder(d, 2),
                            relata_store::dialect::placeholder(d, 3),
                        ),
                        &[SqlValue::Bool(false), SqlValue::Text(input.object.clone()), SqlValue::Uuid(id)],
                    )?;
                }
                conn.execute(
                    &format!(
                        "DELETE FROM sys_pool_members WHERE pool_id = {}",
                        relata_store::dialect::placeholder(d, 1)
                    ),
                    &[SqlValue::Uuid(id)],
                )?;
                let mut seen = std::collections::BTreeSet::new();
                for m in &input.members {
                    if !seen.insert((m.kind.clone(), m.id)) {
                        continue;
                    }
                    conn.execute(
                        &format!(
                            "INSERT INTO sys_pool_members (pool_id, principal_kind, principal_id, can_assign) VALUES ({})",
                            placeholders(d, 1, 4)
                        ),
                        &[
                            SqlValue::Uuid(id),
                            SqlValue::Text(m.kind.clone()),
                            SqlValue::Uuid(m.id),
                            SqlValue::Bool(m.can_assign),
                        ],
                    )?;
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "pool.save",
                    None,
                    serde_json::json!({"pool": id, "name": input.name, "object": input.object}),
                )?;
                Ok(id)
            })
            .await?;
        self.pool(actor, saved).await
    }

    /// Deletes an empty pool. One that holds records is refused: they would belong nowhere.
    pub async fn delete_pool(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        actor.require_capability(Capability::ManageMetadata)?;
        let pool = self.pool(actor, id).await?;
        let object = self.object(&pool.object)?;
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                let d = conn.dialect();
                let p = relata_store::dialect::placeholder(d, 1);
                let held = conn.query_one(
                    &format!(
                        "SELECT COUNT(*) FROM {} WHERE {} = {p} AND owner_id IS NULL AND deleted_at IS NULL",
                        relata_store::ddl::table_name(&object),
                        pool::POOL_ID
                    ),
                    &[SqlValue::Uuid(id)],
                )?;
                let n = held.and_then(|r| r.first().and_then(SqlValue::as_i64)).unwrap_or(0);
                if n > 0 {
                    return Err(CoreError::Conflict {
                        code: "pool_not_empty",
                        message: format!("the pool still holds {n} records; assign or move them first"),
                    });
                }
                for table in ["sys_pool_members WHERE pool_id", "sys_pools WHERE id"] {
                    conn.execute(&format!("DELETE FROM {table} = {p}"), &[SqlValue::Uuid(id)])?;
                }
                Ok(())
            })
            .await
    }
}

/// A pool's JSON as the API answers it.
pub fn pool_json(pool: &Pool) -> Json {
    serde_json::to_value(pool).unwrap_or(Json::Null)
}
