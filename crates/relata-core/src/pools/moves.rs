//! Records moving in and out of pools: a rep claims one (within the pool's limits) or
//! returns it with a reason; a manager hands one out or puts records in. Each move is an
//! ordinary write of the record (the one write path: its history, change event and the
//! new owner's notification) plus a line of the pool's history. A bulk move answers per
//! record; those refused are left as they were.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::meta::ObjectDef;
use relata_domain::pool::{self, action};
use relata_domain::{Record, Value};
use relata_store::dialect::{placeholder, placeholders};
use relata_store::{Conn, SqlValue};

use super::{Pool, load};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::read::{self, Bin, count};
use crate::records::{notify_owner, with_companions, write};
use crate::visibility::Visibility;

/// Most records one move takes.
pub const MAX_PER_MOVE: usize = 500;

/// What became of one record of a move.
#[derive(Debug, Clone, Serialize)]
pub struct MoveOutcome {
    pub id: Uuid,
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn done(id: Uuid) -> MoveOutcome {
    MoveOutcome {
        id,
        done: true,
        code: None,
        message: None,
    }
}

fn refused(id: Uuid, code: &'static str, message: impl Into<String>) -> MoveOutcome {
    MoveOutcome {
        id,
        done: false,
        code: Some(code),
        message: Some(message.into()),
    }
}

/// One line of a record's pool history.
#[derive(Debug, Clone, Serialize)]
pub struct PoolEvent {
    pub pool_id: Uuid,
    pub action: String,
    pub user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Appends a line to a record's pool history.
#[allow(clippy::too_many_arguments)]
pub(crate) fn log(
    conn: &mut dyn Conn,
    pool_id: Uuid,
    object: &str,
    record: Uuid,
    action: &str,
    user: Option<Uuid>,
    actor: Option<Uuid>,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), CoreError> {
    conn.execute(
        &format!(
            "INSERT INTO sys_pool_events (id, pool_id, object, record_id, action, user_id, actor_id, reason, at) VALUES ({})",
            placeholders(conn.dialect(), 1, 9)
        ),
        &[
            SqlValue::Uuid(relata_domain::ids::uuid_v7_at(at)),
            SqlValue::Uuid(pool_id),
            SqlValue::Text(object.to_owned()),
            SqlValue::Uuid(record),
            SqlValue::Text(action.to_owned()),
            user.map_or(SqlValue::Null, SqlValue::Uuid),
            actor.map_or(SqlValue::Null, SqlValue::Uuid),
            reason.map_or(SqlValue::Null, |r| SqlValue::Text(r.to_owned())),
            SqlValue::Timestamp(at),
        ],
    )?;
    Ok(())
}

fn owner(record: &Record) -> Option<Uuid> {
    match record.get("owner_id") {
        Value::Ref(u) => Some(*u),
        _ => None,
    }
}

fn pool_of_record(record: &Record) -> Option<Uuid> {
    match record.get(pool::POOL_ID) {
        Value::Ref(u) => Some(*u),
        _ => None,
    }
}

fn level_of(object: &ObjectDef, record: &Record) -> Option<String> {
    match record.get(pool::level_field(object.name())) {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

/// Whether `user` already owns as many records of `record`'s level from the pool as its
/// limit allows.
fn over_owned_limit(
    conn: &mut dyn Conn,
    pool: &Pool,
    object: &ObjectDef,
    record: &Record,
    user: Uuid,
) -> Result<Option<String>, CoreError> {
    let level = level_of(object, record);
    let Some(limit) = pool.rules.owned_limit(level.as_deref()) else {
        return Ok(None);
    };
    let d = conn.dialect();
    let level_field = pool::level_field(object.name());
    let mut sql = format!(
        "SELECT COUNT(*) FROM {} WHERE owner_id = {} AND {} = {} AND deleted_at IS NULL",
        relata_store::ddl::table_name(object),
        placeholder(d, 1),
        pool::POOL_ID,
        placeholder(d, 2),
    );
    let mut params = vec![SqlValue::Uuid(user), SqlValue::Uuid(pool.id)];
    match &limit.level {
        Some(l) => {
            sql.push_str(&format!(" AND {level_field} = {}", placeholder(d, 3)));
            params.push(SqlValue::Text(l.clone()));
        }
        None => {
            // the general limit counts the levels no limit of their own names
            let named: Vec<&String> = pool
                .rules
                .max_owned
                .iter()
                .filter_map(|l| l.level.as_ref())
                .collect();
            if !named.is_empty() {
                sql.push_str(&format!(
                    " AND ({level_field} IS NULL OR {level_field} NOT IN ("
                ));
                for (i, l) in named.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&placeholder(d, params.len() + 1));
                    params.push(SqlValue::Text((*l).clone()));
                }
                sql.push_str("))");
            }
        }
    }
    let owned = count(conn, &sql, &params)?;
    Ok((owned >= i64::from(limit.max)).then(|| {
        let of = limit
            .level
            .as_ref()
            .map(|l| format!(" of level {l}"))
            .unwrap_or_default();
        format!("already owns {owned} records{of} from this pool, the most it allows")
    }))
}

/// The start of `now`'s day (UTC): claims per day are counted from there.
fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}

impl Core {
    /// Whether `actor` may put records into `pool` (and hand its records out).
    pub fn may_fill_pool(&self, actor: &Actor, pool: &Pool) -> bool {
        self.can_assign(actor, pool)
    }

    fn can_assign(&self, actor: &Actor, pool: &Pool) -> bool {
        actor.require_capability(Capability::ManageMetadata).is_ok() || pool.admits(actor, true)
    }

    fn check_size(ids: &[Uuid]) -> Result<(), CoreError> {
        if ids.is_empty() || ids.len() > MAX_PER_MOVE {
            return Err(CoreError::BadRequest {
                code: "bad_ids",
                message: format!("name 1 to {MAX_PER_MOVE} records"),
            });
        }
        Ok(())
    }

    /// The actor claims records of the pool for themselves, each within the pool's limits.
    pub async fn claim_from_pool(
        &self,
        actor: &Actor,
        pool_id: Uuid,
        ids: Vec<Uuid>,
    ) -> Result<Vec<MoveOutcome>, CoreError> {
        Self::check_size(&ids)?;
        let pool = self.pool(actor, pool_id).await?;
        if !pool.admits(actor, false) && !self.can_assign(actor, &pool) {
            return Err(CoreError::Forbidden {
                message: "only the pool's members claim from it".into(),
            });
        }
        let object = self.object(&pool.object)?;
        actor.require(object.name(), Operation::Edit)?;
        let (writer, now) = (actor.clone(), self.clock.now());
        self.store
            .write(move |conn| {
                with_companions(conn, |conn, side| {
                    let d = conn.dialect();
                    let mut claims_today = count(
                        conn,
                        &format!(
                            "SELECT COUNT(*) FROM sys_pool_events WHERE user_id = {} AND action = {} AND pool_id = {} AND at >= {}",
                            placeholder(d, 1), placeholder(d, 2), placeholder(d, 3), placeholder(d, 4)
                        ),
                        &[
                            SqlValue::Uuid(writer.user_id.0),
                            SqlValue::Text(action::CLAIMED.into()),
                            SqlValue::Uuid(pool.id),
                            SqlValue::Timestamp(day_start(now)),
                        ],
                    )?;
                    let mut out = Vec::with_capacity(ids.len());
                    for id in ids {
                        let Some(record) = pooled(conn, &object, &pool, id)? else {
                            out.push(refused(id, "not_in_pool", "the record is not in this pool"));
                            continue;
                        };
                        if let Some(max) = pool.rules.max_claims_per_day
                            && claims_today >= i64::from(max)
                        {
                            out.push(refused(
                                id,
                                "daily_claim_limit",
                                format!("{claims_today} claims today already; the pool allows {max} a day"),
                            ));
                            continue;
                        }
                        if let Some(days) = pool.rules.reclaim_cooldown_days
                            && let Some(since) = released_within(conn, object.name(), id, writer.user_id.0, now - Duration::days(days.into()))?
                        {
                            out.push(refused(
                                id,
                                "cooldown",
                                format!(
                                    "you released it on {}; it may be claimed again by you {days} days after that",
                                    since.date_naive()
                                ),
                            ));
                            continue;
                        }
                        if let Some(why) = over_owned_limit(conn, &pool, &object, &record, writer.user_id.0)? {
                            out.push(refused(id, "owned_limit", format!("you {why}")));
                            continue;
                        }
                        give(conn, side, &object, &writer, now, record, Some(writer.user_id.0), pool.id)?;
                        log(conn, pool.id, object.name(), id, action::CLAIMED, Some(writer.user_id.0), Some(writer.user_id.0), None, now)?;
                        claims_today += 1;
                        out.push(done(id));
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// A manager of the pool hands records of it to `to`, within the pool's owned limit.
    pub async fn assign_from_pool(
        &self,
        actor: &Actor,
        pool_id: Uuid,
        ids: Vec<Uuid>,
        to: Uuid,
    ) -> Result<Vec<MoveOutcome>, CoreError> {
        Self::check_size(&ids)?;
        let pool = self.pool(actor, pool_id).await?;
        if !self.can_assign(actor, &pool) {
            return Err(CoreError::Forbidden {
                message: "only the pool's managers hand its records out".into(),
            });
        }
        self.check_active_user("user_id", to).await?;
        let object = self.object(&pool.object)?;
        let (writer, now) = (actor.clone(), self.clock.now());
        self.store
            .write(move |conn| {
                with_companions(conn, |conn, side| {
                    let mut out = Vec::with_capacity(ids.len());
                    for id in ids {
                        let Some(record) = pooled(conn, &object, &pool, id)? else {
                            out.push(refused(id, "not_in_pool", "the record is not in this pool"));
                            continue;
                        };
                        if let Some(why) = over_owned_limit(conn, &pool, &object, &record, to)? {
                            out.push(refused(id, "owned_limit", format!("the user {why}")));
                            continue;
                        }
                        give(conn, side, &object, &writer, now, record, Some(to), pool.id)?;
                        log(
                            conn,
                            pool.id,
                            object.name(),
                            id,
                            action::ASSIGNED,
                            Some(to),
                            Some(writer.user_id.0),
                            None,
                            now,
                        )?;
                        out.push(done(id));
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// Owners give records back to their pool (the one they came from, else the object's
    /// default pool), saying why.
    pub async fn return_to_pool(
        &self,
        actor: &Actor,
        object: &str,
        ids: Vec<Uuid>,
        reason: &str,
    ) -> Result<Vec<MoveOutcome>, CoreError> {
        Self::check_size(&ids)?;
        let reason = reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(CoreError::Validation(vec![
                relata_domain::error::FieldError::new(
                    "reason",
                    relata_domain::error::FieldErrorCode::Required,
                    "say why the records go back (up to 500 characters)",
                ),
            ]));
        }
        let object = self.pool_object(object)?;
        let vis = self.visibility(actor, &object, Operation::Edit)?;
        let (writer, now) = (actor.clone(), self.clock.now());
        self.store
            .write(move |conn| {
                let pools = load(conn, None)?;
                with_companions(conn, |conn, side| {
                    let mut out = Vec::with_capacity(ids.len());
                    for id in ids {
                        let Some(record) = read::get_for_update(conn, &object, id, &vis, Bin::Live)? else {
                            out.push(refused(id, "not_found", "no such record you may edit"));
                            continue;
                        };
                        let Some(from) = owner(&record) else {
                            out.push(refused(id, "already_in_pool", "the record is in a pool already"));
                            continue;
                        };
                        let home = pool_of_record(&record)
                            .filter(|p| pools.iter().any(|pool| pool.id == *p))
                            .or_else(|| pools.iter().find(|p| p.is_default && p.object == object.name()).map(|p| p.id));
                        let Some(home) = home else {
                            out.push(refused(id, "no_pool", "the record came from no pool and there is no default pool to return it to"));
                            continue;
                        };
                        release(conn, side, &object, &writer, now, record, home)?;
                        log(conn, home, object.name(), id, action::RETURNED, Some(from), Some(writer.user_id.0), Some(&reason), now)?;
                        out.push(done(id));
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// A manager of the pool puts records into it: new leads from marketing, or records
    /// taken from their owners.
    pub async fn add_to_pool(
        &self,
        actor: &Actor,
        pool_id: Uuid,
        ids: Vec<Uuid>,
    ) -> Result<Vec<MoveOutcome>, CoreError> {
        Self::check_size(&ids)?;
        let pool = self.pool(actor, pool_id).await?;
        if !self.can_assign(actor, &pool) {
            return Err(CoreError::Forbidden {
                message: "only the pool's managers put records into it".into(),
            });
        }
        let object = self.object(&pool.object)?;
        let vis = self.visibility(actor, &object, Operation::Edit)?;
        let (writer, now) = (actor.clone(), self.clock.now());
        self.store
            .write(move |conn| {
                with_companions(conn, |conn, side| {
                    let mut out = Vec::with_capacity(ids.len());
                    for id in ids {
                        let Some(record) =
                            read::get_for_update(conn, &object, id, &vis, Bin::Live)?
                        else {
                            out.push(refused(id, "not_found", "no such record you may edit"));
                            continue;
                        };
                        let Some(from) = owner(&record) else {
                            out.push(refused(
                                id,
                                "already_in_pool",
                                "the record is in a pool already",
                            ));
                            continue;
                        };
                        release(conn, side, &object, &writer, now, record, pool.id)?;
                        log(
                            conn,
                            pool.id,
                            object.name(),
                            id,
                            action::ADDED,
                            Some(from),
                            Some(writer.user_id.0),
                            None,
                            now,
                        )?;
                        out.push(done(id));
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// Who held a record when, and why it moved, oldest first.
    pub async fn pool_history(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<Vec<PoolEvent>, CoreError> {
        let object = self.pool_object(object)?;
        self.get_record(actor, object.name(), id).await?;
        let name = object.name().to_owned();
        self.store
            .read(move |conn| {
                let d = conn.dialect();
                let rows = conn.query(
                    &format!(
                        "SELECT pool_id, action, user_id, actor_id, reason, at FROM sys_pool_events WHERE object = {} AND record_id = {} ORDER BY at, id",
                        placeholder(d, 1),
                        placeholder(d, 2)
                    ),
                    &[SqlValue::Text(name), SqlValue::Uuid(id)],
                )?;
                Ok(rows
                    .iter()
                    .filter_map(|r| {
                        Some(PoolEvent {
                            pool_id: r[0].as_uuid()?,
                            action: r[1].as_str()?.to_owned(),
                            user_id: r[2].as_uuid(),
                            actor_id: r[3].as_uuid(),
                            reason: r[4].as_str().map(str::to_owned),
                            at: r[5].as_timestamp()?,
                        })
                    })
                    .collect())
            })
            .await
    }

    fn pool_object(&self, object: &str) -> Result<Arc<ObjectDef>, CoreError> {
        if !pool::OBJECTS.contains(&object) {
            return Err(CoreError::not_found(format!("pools of {object}")));
        }
        self.object(object)
    }

    async fn check_active_user(&self, field: &str, user: Uuid) -> Result<(), CoreError> {
        let active = self
            .store
            .read(move |conn| {
                let sql = format!(
                    "SELECT 1 FROM sys_users WHERE id = {} AND active = {}",
                    placeholder(conn.dialect(), 1),
                    placeholder(conn.dialect(), 2)
                );
                Ok::<_, CoreError>(
                    conn.query_one(&sql, &[SqlValue::Uuid(user), SqlValue::Bool(true)])?
                        .is_some(),
                )
            })
            .await?;
        if active {
            Ok(())
        } else {
            Err(CoreError::Validation(vec![
                relata_domain::error::FieldError::new(
                    field,
                    relata_domain::error::FieldErrorCode::LookupNotFound,
                    format!("no active user with id {user}"),
                ),
            ]))
        }
    }
}

/// The live record `id` if it lies unowned in `pool`, locked for this transaction.
fn pooled(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    pool: &Pool,
    id: Uuid,
) -> Result<Option<Record>, CoreError> {
    let record = read::get_for_update(conn, object, id, &Visibility::All, Bin::Live)?;
    Ok(record.filter(|r| owner(r).is_none() && pool_of_record(r) == Some(pool.id)))
}

/// When `user` last gave `record` back or lost it to a pool, if after `since`.
fn released_within(
    conn: &mut dyn Conn,
    object: &str,
    record: Uuid,
    user: Uuid,
    since: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, CoreError> {
    let d = conn.dialect();
    let row = conn.query_one(
        &format!(
            "SELECT MAX(at) FROM sys_pool_events WHERE object = {} AND record_id = {} AND user_id = {} AND action IN ('{}', '{}', '{}') AND at > {}",
            placeholder(d, 1),
            placeholder(d, 2),
            placeholder(d, 3),
            action::RETURNED,
            action::RECLAIMED,
            action::ADDED,
            placeholder(d, 4),
        ),
        &[
            SqlValue::Text(object.to_owned()),
            SqlValue::Uuid(record),
            SqlValue::Uuid(user),
            SqlValue::Timestamp(since),
        ],
    )?;
    Ok(row.and_then(|r| r.first().and_then(SqlValue::as_timestamp)))
}

/// Gives a pooled record to `to`; it keeps its pool as its home.
#[allow(clippy::too_many_arguments)]
fn give(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    writer: &Actor,
    now: DateTime<Utc>,
    record: Record,
    to: Option<Uuid>,
    pool_id: Uuid,
) -> Result<Record, CoreError> {
    let changes = BTreeMap::from([
        ("owner_id".to_owned(), to.map_or(Value::Null, Value::Ref)),
        (pool::POOL_ID.to_owned(), Value::Ref(pool_id)),
    ]);
    let record = write::update(conn, side, object, writer, now, record, changes)?;
    notify_owner(conn, writer, object, &record, None, now)?;
    Ok(record)
}

/// Puts a record into `pool_id`, unowned.
pub(crate) fn release(
    conn: &mut dyn Conn,
    side: &mut Companions,
    object: &ObjectDef,
    writer: &Actor,
    now: DateTime<Utc>,
    record: Record,
    pool_id: Uuid,
) -> Result<Record, CoreError> {
    let changes = BTreeMap::from([
        ("owner_id".to_owned(), Value::Null),
        (pool::POOL_ID.to_owned(), Value::Ref(pool_id)),
        (pool::OWNED_SINCE.to_owned(), Value::Null),
        (pool::WARNED_AT.to_owned(), Value::Null),
    ]);
    write::update(conn, side, object, writer, now, record, changes)
}
