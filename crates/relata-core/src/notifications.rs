//! In-app notifications: a record assigned to someone by someone else, a batch of records
//! transferred to them. Written in the same transaction as the change that causes them, read
//! by the bell in the web UI and `GET /api/v1/me/notifications`. What a notification names is
//! read with the reader's visibility when shown, so it never reveals a record they may not
//! see (after a later share change, for example).

use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// What a notification is about.
pub const ASSIGNED: &str = "record.assigned";
pub const TRANSFERRED: &str = "records.transferred";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub kind: String,
    pub object: Option<String>,
    pub record_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub detail: Json,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read: bool,
}

/// Appends a notification for `user` inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub fn append(
    conn: &mut dyn Conn,
    user: Uuid,
    kind: &str,
    object: Option<&str>,
    record: Option<Uuid>,
    actor: Option<Uuid>,
    detail: Json,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    conn.execute(
        &format!(
            "INSERT INTO sys_notifications (id, user_id, kind, object, record_id, actor_id, detail, created_at) VALUES ({})",
            placeholders(conn.dialect(), 1, 8)
        ),
        &[
            SqlValue::Uuid(relata_domain::ids::uuid_v7_at(at)),
            SqlValue::Uuid(user),
            SqlValue::Text(kind.to_owned()),
            object.map(|o| SqlValue::Text(o.to_owned())).unwrap_or(SqlValue::Null),
            record.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
            actor.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
            SqlValue::Json(detail),
            SqlValue::Timestamp(at),
        ],
    )?;
    Ok(())
}

/// Appends a notification with a given id unless one with that id exists (a job run twice
/// notifies once). Answers whether it was appended.
#[allow(clippy::too_many_arguments)]
pub fn append_once(
    conn: &mut dyn Conn,
    id: Uuid,
    user: Uuid,
    kind: &str,
    object: Option<&str>,
    record: Option<Uuid>,
    detail: Json,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, CoreError> {
    let n = conn.execute(
        &format!(
            "INSERT INTO sys_notifications (id, user_id, kind, object, record_id, actor_id, detail, created_at) VALUES ({}) ON CONFLICT DO NOTHING",
            placeholders(conn.dialect(), 1, 8)
        ),
        &[
            SqlValue::Uuid(id),
            SqlValue::Uuid(user),
            SqlValue::Text(kind.to_owned()),
            object.map(|o| SqlValue::Text(o.to_owned())).unwrap_or(SqlValue::Null),
            record.map(SqlValue::Uuid).unwrap_or(SqlValue::Null),
            SqlValue::Null,
            SqlValue::Json(detail),
            SqlValue::Timestamp(at),
        ],
    )?;
    Ok(n == 1)
}

/// A record now owned by `owner`, given by someone else: tell them.
pub fn assigned(
    conn: &mut dyn Conn,
    writer: &Actor,
    object: &str,
    record: Uuid,
    owner: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    if owner == writer.user_id.0 {
        return Ok(());
    }
    append(
        conn,
        owner,
        ASSIGNED,
        Some(object),
        Some(record),
        Some(writer.user_id.0),
        json!({}),
        at,
    )
}

impl Core {
    /// The actor's notifications, newest first, and how many are unread.
    pub async fn my_notifications(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> Result<(Vec<Notification>, i64), CoreError> {
        let me = actor.user_id.0;
        let limit = limit.clamp(1, 200);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, kind, object, record_id, actor_id, detail, created_at, read_at FROM sys_notifications WHERE user_id = ");
                sql.param(SqlValue::Uuid(me));
                sql.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
                let list = conn
                    .query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| {
                        Some(Notification {
                            id: r[0].as_uuid()?,
                            kind: r[1].as_str()?.to_owned(),
                            object: r[2].as_str().map(str::to_owned),
                            record_id: r[3].as_uuid(),
                            actor_id: r[4].as_uuid(),
                            detail: match &r[5] {
                                SqlValue::Json(j) => j.clone(),
                                SqlValue::Text(s) => serde_json::from_str(s).unwrap_or(Json::Null),
                                _ => Json::Null,
                            },
                            created_at: r[6].as_timestamp()?,
                            read: !r[7].is_null(),
                        })
                    })
                    .collect();
                Ok::<_, CoreError>((list, unread(conn, me)?))
            })
            .await
    }

    /// How many of the actor's notifications are unread (the bell's number).
    pub async fn unread_notifications(&self, actor: &Actor) -> Result<i64, CoreError> {
        let me = actor.user_id.0;
        self.store.read(move |conn| unread(conn, me)).await
    }

    /// Marks all of the actor's notifications read.
    pub async fn mark_notifications_read(&self, actor: &Actor) -> Result<(), CoreError> {
        let (me, now) = (actor.user_id.0, self.clock.now());
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_notifications SET read_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE read_at IS NULL AND user_id = ");
                sql.param(SqlValue::Uuid(me));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }
}

fn unread(conn: &mut dyn Conn, user: Uuid) -> Result<i64, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("SELECT COUNT(*) FROM (SELECT 1 FROM sys_notifications WHERE user_id = ");
    sql.param(SqlValue::Uuid(user));
    sql.push(" AND read_at IS NULL LIMIT 100) unread");
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .and_then(|r| r.first().and_then(SqlValue::as_i64))
        .unwrap_or(0))
}
